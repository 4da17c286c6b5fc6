//! `depends_on`, `ready` and `health` in a job object, and the checks that need
//! every job at once (unknown names, cycles, `condition: ready` without a probe).
//!
//! Those checks run after the file is read; a problem is then reported by reading
//! the file again with the problem planted at its entry (see [`Planted`]), so it
//! gets the same file:line:column and field path as every other error.

use std::time::Duration;

use serde::de::{self, MapAccess, SeqAccess};

use super::kinds::{choice, not_empty, text};
use super::value::{Expect, Found, Visit, quote, unknown_field, wrong};
use crate::spec::JobSpec;
use crate::spec::deps::{Condition, Dependency, Health, Instances, OnUnhealthy, Probe, ProbeCheck};

/// A problem found once every job was read: entry `dep` of `jobs[job].depends_on`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Planted {
    pub job: usize,
    pub dep: usize,
    pub message: String,
}

const CONDITIONS: &[(&str, Condition)] = &[
    ("started", Condition::Started),
    ("ready", Condition::Ready),
    ("succeeded", Condition::Succeeded),
    ("exited", Condition::Exited),
];

const INSTANCES: &[(&str, Instances)] = &[("all", Instances::All), ("any", Instances::Any)];

const ON_UNHEALTHY: &[(&str, OnUnhealthy)] = &[
    ("restart", OnUnhealthy::Restart),
    ("terminate", OnUnhealthy::Terminate),
    ("none", OnUnhealthy::None),
];

/// `depends_on`: a list of job names, or an object of names to conditions.
/// `plant` is the problem to report at entry `.0`, if any.
pub(super) struct DependsOn<'a> {
    pub plant: Option<(usize, &'a str)>,
}

impl<'de> Expect<'de> for DependsOn<'_> {
    type Value = Vec<Dependency>;

    fn expected(&self) -> String {
        "a list of job names such as [\"db\"] or an object such as \
         {\"db\": {\"condition\": \"ready\"}}"
            .into()
    }

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut deps = Vec::new();
        loop {
            let index = deps.len();
            let plant = self.plant.filter(|(at, _)| *at == index).map(|(_, m)| m);
            let name = seq.next_element_seed(Visit(text("a job name", |v: &str| {
                if let Some(message) = plant {
                    return Err(message.to_string());
                }
                not_empty(v, "a job name").map(|()| v.to_string())
            })))?;
            let Some(job) = name else { break };
            deps.push(Dependency {
                job,
                condition: Condition::Succeeded,
                instances: Instances::All,
            });
        }
        Ok(deps)
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut deps: Vec<Dependency> = Vec::new();
        while let Some(job) = map.next_key::<String>()? {
            not_empty(&job, "a job name").map_err(de::Error::custom)?;
            if deps.iter().any(|d| d.job == job) {
                return Err(de::Error::custom(format!(
                    "job {} is given twice: expected each dependency once",
                    quote(&job)
                )));
            }
            let plant = self
                .plant
                .filter(|(at, _)| *at == deps.len())
                .map(|(_, m)| m);
            let (condition, instances) = map.next_value_seed(Visit(DepSettings { plant }))?;
            deps.push(Dependency {
                job,
                condition,
                instances,
            });
        }
        Ok(deps)
    }
}

/// One entry's value in the object form: `{"condition": …, "instances": …}`.
struct DepSettings<'a> {
    plant: Option<&'a str>,
}

impl<'de> Expect<'de> for DepSettings<'_> {
    type Value = (Condition, Instances);

    fn expected(&self) -> String {
        "an object such as {\"condition\": \"started\", \"instances\": \"all\"}".into()
    }

    fn text<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if let Some(message) = self.plant {
            return Err(E::custom(message));
        }
        // `{"db": "ready"}` reads naturally; take it as the condition.
        let condition = (choice("a condition", CONDITIONS).check)(v).map_err(E::custom)?;
        Ok((condition, Instances::All))
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if let Some(message) = self.plant {
            return Err(de::Error::custom(message));
        }
        let mut condition = Condition::Succeeded;
        let mut instances = Instances::All;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "condition" => {
                    condition = map.next_value_seed(Visit(choice("a condition", CONDITIONS)))?;
                }
                "instances" => {
                    instances = map.next_value_seed(Visit(choice("'all' or 'any'", INSTANCES)))?;
                }
                _ => {
                    return Err(de::Error::custom(unknown_field(
                        &key,
                        &["condition", "instances"],
                    )));
                }
            }
        }
        Ok((condition, instances))
    }
}

/// A probe duration: seconds as a number, or a string such as "250ms" or "2s".
struct Span;

impl<'de> Expect<'de> for Span {
    type Value = Duration;

    fn expected(&self) -> String {
        "a duration such as \"250ms\", \"2s\" or a number of seconds, at most 3600s".into()
    }
    fn int<E: de::Error>(self, v: i128) -> Result<Duration, E> {
        self.float(v as f64)
    }
    fn float<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        if (0.0..=3600.0).contains(&v) {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(E::custom(format!(
                "'{v}' is out of range: expected {}",
                self.expected()
            )))
        }
    }
    fn text<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        let d = crate::sample::parse_duration(v)
            .map_err(|e| E::custom(format!("{e}: expected {}", self.expected())))?;
        if d > Duration::from_secs(3600) {
            return Err(E::custom(format!(
                "{} is out of range: expected {}",
                quote(v),
                self.expected()
            )));
        }
        Ok(d)
    }
}

/// `ready` (`health: false`) or `health` (`health: true`): one check and its timing.
pub(super) struct ProbeKind {
    pub health: bool,
}

const CHECKS: &[&str] = &["exec", "tcp", "http", "log"];
const TIMING: &[&str] = &["initial_delay", "interval", "timeout"];

impl ProbeKind {
    pub(super) fn fields(&self) -> Vec<&'static str> {
        let extra: &[&str] = if self.health {
            &["failure_threshold", "on_unhealthy"]
        } else {
            &["deadline"]
        };
        CHECKS.iter().chain(TIMING).chain(extra).copied().collect()
    }
}

impl<'de> Expect<'de> for ProbeKind {
    type Value = Health;

    fn expected(&self) -> String {
        "a probe object with one of exec, tcp, http or log, such as \
         {\"tcp\": \"127.0.0.1:5432\"}"
            .into()
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Health, A::Error> {
        let mut check = None;
        let mut timing: Vec<(&str, Duration)> = Vec::new();
        let mut failure_threshold = 3;
        let mut on_unhealthy = OnUnhealthy::None;
        let fields = self.fields();
        while let Some(key) = map.next_key::<String>()? {
            let Some(field) = fields.iter().find(|f| **f == key).copied() else {
                return Err(de::Error::custom(unknown_field(&key, &fields)));
            };
            if CHECKS.contains(&field) && check.is_some() {
                return Err(de::Error::custom(
                    "more than one check: expected exactly one of exec, tcp, http or log",
                ));
            }
            match field {
                "exec" => {
                    let argv = map.next_value_seed(Visit(super::job::Cmd))?;
                    check = Some(ProbeCheck::Exec(argv));
                }
                "tcp" => {
                    check = Some(ProbeCheck::Tcp(map.next_value_seed(Visit(text(
                        "an address such as \"127.0.0.1:5432\"",
                        tcp_address,
                    )))?))
                }
                "http" => {
                    check = Some(ProbeCheck::Http(map.next_value_seed(Visit(text(
                        "a URL such as \"http://127.0.0.1:8080/health\"",
                        http_url,
                    )))?))
                }
                "log" => {
                    check = Some(ProbeCheck::Log(
                        map.next_value_seed(Visit(text("a regular expression", log_regex)))?,
                    ))
                }
                "failure_threshold" => {
                    let kind = super::kinds::Whole { lo: 1, hi: 1000 };
                    failure_threshold = map.next_value_seed(Visit(kind))?;
                }
                "on_unhealthy" => {
                    let kind = choice("an on_unhealthy action", ON_UNHEALTHY);
                    on_unhealthy = map.next_value_seed(Visit(kind))?;
                }
                timing_field => timing.push((timing_field, map.next_value_seed(Visit(Span))?)),
            }
        }
        let check = check
            .ok_or_else(|| de::Error::custom("no check: expected one of exec, tcp, http or log"))?;
        let mut probe = if self.health {
            Probe::health(check)
        } else {
            Probe::ready(check)
        };
        for (field, d) in timing {
            match field {
                "initial_delay" => probe.initial_delay = d,
                "interval" => probe.interval = d,
                "timeout" => probe.timeout = d,
                _ => probe.deadline = d,
            }
        }
        if probe.interval.is_zero() || probe.timeout.is_zero() {
            return Err(de::Error::custom(
                "'interval' and 'timeout' must be above zero",
            ));
        }
        Ok(Health {
            probe,
            failure_threshold,
            on_unhealthy,
        })
    }

    fn text<E: de::Error>(self, v: &str) -> Result<Health, E> {
        Err(wrong(Found::Text(v), &self.expected()))
    }
}

fn tcp_address(v: &str) -> Result<String, String> {
    let ok = v
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!(
            "{} is not host:port: expected an address such as \"127.0.0.1:5432\"",
            quote(v)
        ))
    }
}

/// An `http://` URL on this machine: probes never reach other hosts.
fn http_url(v: &str) -> Result<String, String> {
    let Some(rest) = v.strip_prefix("http://") else {
        return Err(format!(
            "{} is not an http:// URL: expected e.g. \"http://127.0.0.1:8080/health\"",
            quote(v)
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || port.parse::<u16>().is_ok() => host,
        _ => authority,
    };
    let local = matches!(host, "127.0.0.1" | "localhost" | "[::1]")
        || host.starts_with("127.") && host.parse::<std::net::Ipv4Addr>().is_ok();
    if local {
        Ok(v.to_string())
    } else {
        Err(format!(
            "{} is not a local address: http probes only reach 127.0.0.1, localhost or [::1]",
            quote(v)
        ))
    }
}

fn log_regex(v: &str) -> Result<String, String> {
    regex::Regex::new(v)
        .map(|_| v.to_string())
        .map_err(|e| format!("{} is not a valid regular expression: {e}", quote(v)))
}

/// Checks every job's `depends_on` against the others: the first problem found.
pub(super) fn check_graph(jobs: &[JobSpec]) -> Option<Planted> {
    let index_of = |name: &str| jobs.iter().position(|j| j.name == name);
    for (i, job) in jobs.iter().enumerate() {
        for (d, dep) in job.depends_on.iter().enumerate() {
            let plant = |message: String| Planted {
                job: i,
                dep: d,
                message,
            };
            let Some(target) = index_of(&dep.job) else {
                let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
                return Some(plant(format!(
                    "{}: no job has this name{}",
                    quote(&dep.job),
                    suggest(&dep.job, &names)
                )));
            };
            if dep.condition == Condition::Ready && jobs[target].ready.is_none() {
                return Some(plant(format!(
                    "condition 'ready' on {}, which has no 'ready' probe: add one to \
                     it, or use 'started'",
                    quote(&dep.job)
                )));
            }
        }
    }
    find_cycle(jobs)
}

fn suggest(name: &str, names: &[&str]) -> String {
    let message = unknown_field(name, names);
    match message.find(" (did you mean") {
        Some(at) => format!("; expected one of {}{}", names.join(", "), &message[at..]),
        None => format!("; expected one of {}", names.join(", ")),
    }
}

/// The first cycle, as `a -> b -> a`, planted at the edge that closes it.
fn find_cycle(jobs: &[JobSpec]) -> Option<Planted> {
    // 0 = unseen, 1 = on the current path, 2 = done.
    let mut mark = vec![0u8; jobs.len()];
    for start in 0..jobs.len() {
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        if mark[start] != 0 {
            continue;
        }
        mark[start] = 1;
        while let Some(&(job, next)) = path.last() {
            let Some(dep) = jobs[job].depends_on.get(next) else {
                mark[job] = 2;
                path.pop();
                continue;
            };
            if let Some(last) = path.last_mut() {
                last.1 += 1;
            }
            let Some(target) = jobs.iter().position(|j| j.name == dep.job) else {
                continue;
            };
            match mark[target] {
                0 => {
                    mark[target] = 1;
                    path.push((target, 0));
                }
                1 => {
                    let from = path.iter().position(|(j, _)| *j == target).unwrap_or(0);
                    let mut names: Vec<&str> = path[from..]
                        .iter()
                        .map(|(j, _)| jobs[*j].name.as_str())
                        .collect();
                    names.push(&jobs[target].name);
                    return Some(Planted {
                        job,
                        dep: next,
                        message: format!("dependency cycle: {}", names.join(" -> ")),
                    });
                }
                _ => {}
            }
        }
    }
    None
}
