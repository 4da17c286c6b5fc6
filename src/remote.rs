//! Workers on other hosts: each host is one `ssh -T … PROCTOR agent --stdio`
//! link (`link.rs`) carrying all of that host's work over the control protocol,
//! so no connection is opened per job and sshd's session limits never bite.
//! This file says which hosts there are (`--hosts`, `--hosts-file`).

pub mod link;
mod news;
pub mod route;

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

pub use link::{HostLink, News};

/// The name of this machine in a host list.
pub const LOCAL: &str = "local";

/// How many tasks a host runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slots {
    Fixed(usize),
    /// What the agent's hello says: its logical CPUs.
    Auto,
}

/// One host of the pool, as a hosts file or `--hosts` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub name: String,
    /// The ssh destination (`user@host`, or a `Host` of the user's ssh config).
    pub ssh: String,
    /// More ssh options (`-p 2222`, `-i KEY`, `-F CONFIG`), before the destination.
    pub ssh_args: Vec<String>,
    pub slots: Slots,
    /// The remote command that starts proctor (a path, or words for the remote shell).
    pub proctor: String,
    /// Where remote workers start (their `cwd`), else the login directory.
    pub workdir: Option<String>,
}

impl HostSpec {
    /// A host known only by its ssh destination: every setting at its default.
    pub fn named(name: &str) -> HostSpec {
        HostSpec {
            name: name.into(),
            ssh: name.into(),
            ssh_args: Vec::new(),
            slots: Slots::Auto,
            proctor: "proctor".into(),
            workdir: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    name: String,
    ssh: Option<String>,
    #[serde(default)]
    ssh_args: Vec<String>,
    slots: Option<Value>,
    proctor: Option<String>,
    workdir: Option<String>,
}

/// The hosts a run uses. `names` (`-S a,b,local`) picks from the `file`'s hosts;
/// a name the file lacks is an ssh destination with default settings. Without
/// `names`, every host in the file. `None` entries in the result are `local`.
pub fn plan(names: Option<&str>, file: Option<&Path>) -> Result<Vec<Option<HostSpec>>, String> {
    let known = match file {
        Some(path) => read_file(path)?,
        None => Vec::new(),
    };
    // A name given twice in the file is ambiguous whichever hosts `-S` picks.
    let mut names_in_file = std::collections::HashSet::new();
    if let Some(twice) = known
        .iter()
        .find(|h| !names_in_file.insert(h.name.as_str()))
    {
        return Err(format!(
            "the hosts file names '{}' twice: name each host once",
            twice.name.escape_debug()
        ));
    }
    let picked: Vec<String> = match names {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        None => known.iter().map(|h| h.name.clone()).collect(),
    };
    if picked.iter().any(String::is_empty) {
        return Err(format!(
            "--hosts '{}' has an empty name: give NAME,NAME,... (`local` is this machine)",
            names.unwrap_or_default()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut hosts = Vec::new();
    for name in picked {
        if !seen.insert(name.clone()) {
            return Err(format!("host '{name}' is named twice: name each host once"));
        }
        if name == LOCAL && !known.iter().any(|h| h.name == LOCAL) {
            hosts.push(None);
            continue;
        }
        let spec = known
            .iter()
            .find(|h| h.name == name)
            .cloned()
            .unwrap_or_else(|| HostSpec::named(&name));
        hosts.push(Some(spec));
    }
    if hosts.is_empty() {
        return Err("the hosts file names no host: give at least one".into());
    }
    for spec in hosts.iter().flatten() {
        check_destination(spec)?;
    }
    Ok(hosts)
}

/// ssh gets the destination after `--`, so it can never become an option; one
/// that starts with `-` or holds blanks or control characters is still no host,
/// and is refused here rather than failing at connection time.
fn check_destination(spec: &HostSpec) -> Result<(), String> {
    let dest = &spec.ssh;
    if dest.is_empty()
        || dest.starts_with('-')
        || dest.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "host '{}': '{}' cannot be an ssh destination (empty, starting with '-', or \
             holding blanks): give user@host or a Host of your ssh config; ssh options go \
             in the hosts file's \"ssh_args\"",
            spec.name.escape_debug(),
            dest.escape_debug()
        ));
    }
    Ok(())
}

/// A hosts file: a JSON list of hosts, or `{"hosts": [...]}` as in a workload.
fn read_file(path: &Path) -> Result<Vec<HostSpec>, String> {
    let shown = path.display();
    // Bounded, and devices refused: `--hosts-file /dev/zero` must not fill memory.
    let bytes = crate::spec::read_limited(path, "hosts file")
        .map_err(|e| format!("cannot read hosts file '{shown}': {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("hosts file '{shown}': not UTF-8: give a JSON text file"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("hosts file '{shown}': not JSON: {e}"))?;
    let list = match value {
        Value::Object(mut map) if map.contains_key("hosts") => {
            map.remove("hosts").unwrap_or_default()
        }
        other => other,
    };
    let entries: Vec<HostEntry> = serde_json::from_value(list).map_err(|e| {
        format!(
            "hosts file '{shown}': {e}: expected a list of {{\"name\", \"ssh\", \"ssh_args\", \
             \"slots\", \"proctor\", \"workdir\"}} objects"
        )
    })?;
    let mut hosts = Vec::new();
    for e in entries {
        hosts.push(entry(e).map_err(|m| format!("hosts file '{shown}': {m}"))?);
    }
    Ok(hosts)
}

fn entry(e: HostEntry) -> Result<HostSpec, String> {
    let name = e.name;
    if name.is_empty() || name == "any" || name.contains(',') {
        return Err(format!(
            "host name '{name}' cannot be used: give a non-empty name without commas, other than 'any'"
        ));
    }
    if name == LOCAL {
        return Err("'local' is this machine and takes no settings: leave it out of the file and name it in --hosts".into());
    }
    let slots = match &e.slots {
        None => Slots::Auto,
        Some(Value::String(s)) if s == "auto" => Slots::Auto,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=4096) => Slots::Fixed(n as usize),
            _ => {
                return Err(format!(
                    "host '{name}': slots {v} is not 1..=4096 or \"auto\""
                ));
            }
        },
    };
    Ok(HostSpec {
        ssh: e.ssh.unwrap_or_else(|| name.clone()),
        name,
        ssh_args: e.ssh_args,
        slots,
        proctor: e.proctor.unwrap_or_else(|| "proctor".into()),
        workdir: e.workdir,
    })
}
