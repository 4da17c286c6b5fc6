//! Map mode over several hosts (`--hosts`): where each task runs. `local` is
//! this machine's engine (with `-j` slots); every other host is a `HostLink`
//! whose slots count once its hello is answered. A task goes to the least busy
//! host with a free slot; a host that goes down fails only the tasks it was
//! running (the driver retries them elsewhere within `--retries`), and is
//! reconnected after a back-off if it had been up (one that never answered is
//! misconfigured, and stays down).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::engine::Command;
use crate::remote::link::HELLO_WITHIN;
use crate::remote::{HostLink, HostSpec, News, Slots, route};
use crate::spec::JobSpec;

enum State {
    Connecting,
    Up { slots: usize },
    Down { error: String },
}

/// Reconnections of a lost host in a row, at most; then it stays down.
const RECONNECTS: u32 = 5;
/// The first back-off; it doubles with each attempt in a row.
const BACKOFF: Duration = Duration::from_secs(1);

struct Remote {
    spec: HostSpec,
    link: Option<HostLink>,
    state: State,
    running: usize,
    /// Its hello was answered once: a loss is then worth reconnecting.
    was_up: bool,
    /// Reconnection attempts since it was last up.
    attempts: u32,
    /// When to reconnect, while down.
    retry_at: Option<Instant>,
    /// While connecting: when the hello is overdue and the host is given up.
    hello_by: Option<Instant>,
}

/// The pool's hosts and which worker runs where.
pub struct Hosts {
    /// `local`'s slots, when it is in the pool.
    local: Option<usize>,
    local_running: usize,
    remotes: Vec<Remote>,
    /// Worker name → `None` (local) or the index of its remote.
    placed: HashMap<String, Option<usize>>,
    news: mpsc::UnboundedReceiver<News>,
    /// Remote workers and their links, for `proctor ctl` (`remote::route`).
    table: route::Table,
    /// The run is over: links are closed on purpose, and their end is no news.
    closing: bool,
    /// For the links of reconnections.
    tx: mpsc::UnboundedSender<News>,
}

/// What became of a host's news for the driver.
pub enum Update {
    /// Pass this event on as the engine's own.
    Event(crate::engine::Event),
    /// The host went down: these workers are lost; `error` says why.
    Lost {
        host: String,
        error: String,
        workers: Vec<String>,
    },
    Nothing,
}

impl Hosts {
    /// Starts a link to every remote host (`None` entries are `local`).
    pub fn start(hosts: Vec<Option<HostSpec>>, local_slots: usize) -> Hosts {
        let (tx, news) = mpsc::unbounded_channel();
        let mut local = None;
        let mut remotes = Vec::new();
        for host in hosts {
            let Some(spec) = host else {
                local = Some(local_slots);
                continue;
            };
            let hello_by = Some(Instant::now() + HELLO_WITHIN);
            // A link that cannot even start is reported like any other loss (its
            // `Down` news is handled first), so the user always learns why.
            let link = match HostLink::start(&spec, tx.clone()) {
                Ok(link) => Some(link),
                Err(e) => {
                    let _ = tx.send(News::Down {
                        host: spec.name.clone(),
                        error: format!("cannot run ssh: {e}"),
                    });
                    None
                }
            };
            let state = State::Connecting;
            remotes.push(Remote {
                spec,
                link,
                state,
                running: 0,
                was_up: false,
                attempts: 0,
                retry_at: None,
                hello_by,
            });
        }
        Hosts {
            local,
            local_running: 0,
            remotes,
            placed: HashMap::new(),
            news,
            table: route::Table::default(),
            closing: false,
            tx,
        }
    }

    /// Ends every link (nothing more will run): each agent stops and exits.
    pub fn close_all(&mut self) {
        self.closing = true;
        for r in &mut self.remotes {
            r.link = None;
        }
    }

    /// Remote workers by name, kept current as they start and end.
    pub fn table(&self) -> route::Table {
        self.table.clone()
    }

    fn unlist(&self, worker: &str) {
        if let Ok(mut t) = self.table.lock() {
            t.remove(worker);
        }
    }

    /// Every slot of every host that is up; none until each host has answered
    /// (up or down), so the first tasks spread over all of them.
    pub fn capacity(&self) -> usize {
        if self
            .remotes
            .iter()
            .any(|r| !r.was_up && matches!(r.state, State::Connecting))
        {
            return 0;
        }
        let remote: usize = self
            .remotes
            .iter()
            .map(|r| match r.state {
                State::Up { slots } => slots,
                _ => 0,
            })
            .sum();
        self.local.unwrap_or(0) + remote
    }

    /// When no host is or can become usable: why, for the tasks that cannot run.
    pub fn none_usable(&self) -> Option<String> {
        if self.local.is_some()
            || self
                .remotes
                .iter()
                .any(|r| !matches!(r.state, State::Down { .. }) || r.retry_at.is_some())
        {
            return None;
        }
        let why: Vec<String> = self
            .remotes
            .iter()
            .map(|r| match &r.state {
                State::Down { error } => format!("host {}: {error}", r.spec.name),
                _ => String::new(),
            })
            .collect();
        Some(format!("no host can run tasks: {}", why.join("; ")))
    }

    /// Launches `job` on the least busy host with a free slot (busy: the share
    /// of its slots in use; `local` first on a tie); returns the host's name, or
    /// `None` when no host has a free slot now.
    pub fn launch(
        &mut self,
        job: JobSpec,
        local: &mpsc::UnboundedSender<Command>,
    ) -> Option<String> {
        let mut candidates: Vec<(f64, Option<usize>)> = Vec::new();
        if let Some(slots) = self.local.filter(|s| self.local_running < *s) {
            candidates.push((self.local_running as f64 / slots as f64, None));
        }
        for (i, r) in self.remotes.iter().enumerate() {
            if let State::Up { slots } = r.state
                && r.running < slots
                && r.link.is_some()
            {
                candidates.push((r.running as f64 / slots as f64, Some(i)));
            }
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, at) in candidates {
            let Some(i) = at else {
                self.local_running += 1;
                self.placed.insert(job.name.clone(), None);
                let _ = local.send(Command::Launch(Box::new(job)));
                return Some(crate::remote::LOCAL.into());
            };
            let r = &mut self.remotes[i];
            let mut remote_job = job.clone();
            if let Some(dir) = &r.spec.workdir {
                remote_job.cwd = Some(dir.into());
            }
            let Some(link) = r.link.as_mut() else {
                continue;
            };
            if link.launch(&remote_job).is_ok() {
                if let Ok(mut t) = self.table.lock() {
                    t.insert(job.name.clone(), link.writer());
                }
                r.running += 1;
                self.placed.insert(job.name.clone(), Some(i));
                return Some(r.spec.name.clone());
            }
        }
        None
    }

    /// A worker ended (or was lost): its slot is free again.
    pub fn ended(&mut self, worker: &str) {
        self.unlist(worker);
        match self.placed.remove(worker) {
            Some(None) => self.local_running = self.local_running.saturating_sub(1),
            Some(Some(i)) => {
                if let Some(r) = self.remotes.get_mut(i) {
                    r.running = r.running.saturating_sub(1);
                }
            }
            None => {}
        }
    }

    /// Stops every remote worker now (the engine stops the local ones).
    pub fn stop_all(&mut self) {
        for r in &mut self.remotes {
            if let Some(link) = r.link.as_mut() {
                let _ = link.send(serde_json::json!({"cmd": "stop-all"}));
            }
        }
    }

    /// The next news of any host, or `None` when a lost host was reconnected
    /// (its hello is news to come). A host whose hello is overdue is news too:
    /// its link is ended and it goes down like any other.
    pub async fn next(&mut self) -> Option<News> {
        let due = self
            .remotes
            .iter()
            .flat_map(|r| [r.retry_at, r.hello_by.filter(|_| r.connecting())])
            .flatten()
            .min();
        tokio::select! {
            news = self.news.recv() => Some(news?),
            () = sleep_until(due) => {
                if let Some(down) = self.overdue() {
                    return Some(down);
                }
                self.reconnect_due();
                None
            }
        }
    }

    /// The first host whose hello is overdue, given up: its `Down` news.
    fn overdue(&mut self) -> Option<News> {
        let now = Instant::now();
        let r = self
            .remotes
            .iter_mut()
            .find(|r| r.connecting() && r.hello_by.is_some_and(|at| at <= now))?;
        r.hello_by = None;
        if let Some(link) = r.link.take() {
            link.abandon();
        }
        Some(News::Down {
            host: r.spec.name.clone(),
            error: format!(
                "no answer from `{} agent --stdio` within {}s of starting ssh \
                 (the connection or the remote command hangs): check `ssh {} true`",
                r.spec.proctor,
                HELLO_WITHIN.as_secs(),
                r.spec.ssh
            ),
        })
    }

    fn reconnect_due(&mut self) {
        let now = Instant::now();
        for r in &mut self.remotes {
            if r.retry_at.is_none_or(|at| at > now) || self.closing {
                continue;
            }
            r.retry_at = None;
            r.hello_by = Some(Instant::now() + HELLO_WITHIN);
            match HostLink::start(&r.spec, self.tx.clone()) {
                Ok(link) => {
                    r.link = Some(link);
                    r.state = State::Connecting;
                }
                Err(e) => {
                    r.state = State::Down {
                        error: format!("cannot run ssh: {e}"),
                    };
                }
            }
        }
    }

    /// Applies a host's news to the pool.
    pub fn on_news(&mut self, news: News) -> Update {
        match news {
            News::Event(event) => Update::Event(event),
            News::Up { host, cpus } => {
                if let Some(r) = self.remotes.iter_mut().find(|r| r.spec.name == host) {
                    let slots = match r.spec.slots {
                        Slots::Fixed(n) => n,
                        Slots::Auto => cpus,
                    };
                    r.state = State::Up { slots };
                    r.hello_by = None;
                    r.was_up = true;
                    r.attempts = 0;
                }
                Update::Nothing
            }
            News::Down { .. } if self.closing => Update::Nothing,
            News::Down { host, error } => {
                let Some(i) = self.remotes.iter().position(|r| r.spec.name == host) else {
                    return Update::Nothing;
                };
                let r = &mut self.remotes[i];
                if matches!(r.state, State::Down { .. }) {
                    // The end of a link already given up (its hello was overdue).
                    return Update::Nothing;
                }
                let mut error = error;
                if r.was_up && r.attempts < RECONNECTS {
                    let wait = BACKOFF * 2u32.pow(r.attempts);
                    r.attempts += 1;
                    r.retry_at = Some(Instant::now() + wait);
                    error.push_str(&format!(
                        "; reconnecting in {}s (attempt {} of {RECONNECTS})",
                        wait.as_secs(),
                        r.attempts
                    ));
                }
                r.state = State::Down {
                    error: error.clone(),
                };
                r.running = 0;
                r.link = None;
                let workers: Vec<String> = self
                    .placed
                    .iter()
                    .filter(|(_, at)| **at == Some(i))
                    .map(|(w, _)| w.clone())
                    .collect();
                for w in &workers {
                    self.placed.remove(w);
                    self.unlist(w);
                }
                Update::Lost {
                    host,
                    error,
                    workers,
                }
            }
        }
    }
}

impl Remote {
    fn connecting(&self) -> bool {
        matches!(self.state, State::Connecting)
    }
}

/// Sleeps until `at`; forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
