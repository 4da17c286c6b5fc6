//! Keys → actions. One table drives the dispatcher, the footer and the help overlay,
//! so what the help says is what the keys do. Actions that send an engine `Command`
//! take their description from `Command::desc`.

use std::borrow::Cow;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::engine::{Command, JoinTarget, WorkerId};
use crate::spec::{JobSpec, Program};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Mark,
    ClearMarks,
    Filter,
    SignalMenu,
    Terminate,
    Kill,
    PauseResume,
    Restart,
    Cancel,
    Join,
    JoinAll,
    ReapZombies,
    Launch,
    MoreParallel,
    FewerParallel,
    PauseQueue,
    CycleSort,
    SortMenu,
    ReverseSort,
    TreeFigures,
    SwitchFocus,
    MergedLogs,
    Follow,
    WrapLines,
    Timestamps,
    ScrollLeft,
    ScrollRight,
    ProcessTree,
    Dependencies,
    ProcUp,
    ProcDown,
    ProcSignal,
    Search,
    NextMatch,
    PrevMatch,
    ClearSearch,
    Mouse,
    Help,
    Suspend,
    Quit,
}

/// Where a binding applies; the dispatcher tries the narrowest context first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Workers,
    Logs,
    /// Logs focused with a search active.
    Search,
    /// The process tree panel is open.
    Tree,
    Global,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Workers => "Workers table",
            Context::Logs => "Logs",
            Context::Search => "Log search",
            Context::Tree => "Process tree",
            Context::Global => "Anywhere",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    pub action: Action,
    /// A short label for the footer; `None` keeps the binding out of the footer.
    pub footer: Option<&'static str>,
}

const fn bind(
    context: Context,
    keys: &'static [Key],
    action: Action,
    footer: Option<&'static str>,
) -> Binding {
    Binding {
        context,
        keys,
        action,
        footer,
    }
}

use Action as A;
use Context as C;

const NAV_UP: &[Key] = &[code(KeyCode::Up)];
const NAV_DOWN: &[Key] = &[code(KeyCode::Down)];
const PAGE_UP: &[Key] = &[code(KeyCode::PageUp)];
const PAGE_DOWN: &[Key] = &[code(KeyCode::PageDown)];
const HOME: &[Key] = &[code(KeyCode::Home)];
const END: &[Key] = &[code(KeyCode::End)];

/// Every key binding, in help order.
pub const BINDINGS: &[Binding] = &[
    bind(C::Workers, NAV_UP, A::Up, Some("select")),
    bind(C::Workers, NAV_DOWN, A::Down, None),
    bind(C::Workers, PAGE_UP, A::PageUp, None),
    bind(C::Workers, PAGE_DOWN, A::PageDown, None),
    bind(C::Workers, HOME, A::Home, None),
    bind(C::Workers, END, A::End, None),
    bind(C::Workers, &[ch('/')], A::Filter, Some("filter")),
    bind(C::Logs, NAV_UP, A::Up, Some("scroll")),
    bind(C::Logs, NAV_DOWN, A::Down, None),
    bind(C::Logs, PAGE_UP, A::PageUp, None),
    bind(C::Logs, PAGE_DOWN, A::PageDown, None),
    bind(C::Logs, HOME, A::Home, None),
    bind(C::Logs, END, A::End, None),
    bind(C::Logs, &[code(KeyCode::Left)], A::ScrollLeft, None),
    bind(C::Logs, &[code(KeyCode::Right)], A::ScrollRight, None),
    bind(C::Logs, &[ch('/')], A::Search, Some("search")),
    bind(C::Search, &[ch('n')], A::NextMatch, Some("next")),
    bind(C::Search, &[ch('N')], A::PrevMatch, Some("prev")),
    bind(
        C::Search,
        &[code(KeyCode::Esc)],
        A::ClearSearch,
        Some("end search"),
    ),
    bind(C::Tree, NAV_UP, A::ProcUp, Some("choose")),
    bind(C::Tree, NAV_DOWN, A::ProcDown, None),
    bind(
        C::Tree,
        &[ch('k'), code(KeyCode::F(9))],
        A::ProcSignal,
        Some("signal it"),
    ),
    bind(
        C::Tree,
        &[code(KeyCode::Esc)],
        A::ProcessTree,
        Some("close tree"),
    ),
    bind(C::Global, &[code(KeyCode::F(3))], A::Search, None),
    bind(C::Global, &[code(KeyCode::F(4))], A::Filter, None),
    bind(C::Global, &[ch(' ')], A::Mark, Some("mark")),
    bind(
        C::Global,
        &[ch('k'), code(KeyCode::F(9))],
        A::SignalMenu,
        Some("signal"),
    ),
    bind(C::Global, &[ch('t')], A::Terminate, Some("term")),
    bind(C::Global, &[ch('K')], A::Kill, Some("kill")),
    bind(C::Global, &[ch('p')], A::PauseResume, Some("pause")),
    bind(C::Global, &[ch('r')], A::Restart, Some("restart")),
    bind(C::Global, &[ch('x')], A::Cancel, None),
    bind(C::Global, &[ch('j')], A::Join, Some("join")),
    bind(C::Global, &[ch('J')], A::JoinAll, Some("join all")),
    bind(C::Global, &[ch('z')], A::ReapZombies, None),
    bind(C::Global, &[ch('n')], A::Launch, Some("launch")),
    bind(C::Global, &[ch('+'), ch('=')], A::MoreParallel, None),
    bind(C::Global, &[ch('-')], A::FewerParallel, None),
    bind(C::Global, &[ch('P')], A::PauseQueue, None),
    bind(C::Global, &[ch('s')], A::CycleSort, Some("sort")),
    bind(C::Global, &[code(KeyCode::F(6))], A::SortMenu, None),
    bind(C::Global, &[ch('S')], A::ReverseSort, None),
    bind(C::Global, &[ch('c')], A::TreeFigures, None),
    bind(
        C::Global,
        &[code(KeyCode::Tab), code(KeyCode::BackTab)],
        A::SwitchFocus,
        Some("focus"),
    ),
    bind(
        C::Global,
        &[ch('T'), code(KeyCode::F(5))],
        A::ProcessTree,
        Some("tree"),
    ),
    bind(C::Global, &[ch('D')], A::Dependencies, None),
    bind(C::Global, &[ch('a')], A::MergedLogs, None),
    bind(C::Global, &[ch('f')], A::Follow, None),
    bind(C::Global, &[ch('w')], A::WrapLines, None),
    bind(C::Global, &[ch('d')], A::Timestamps, None),
    bind(C::Global, &[code(KeyCode::Esc)], A::ClearMarks, None),
    bind(C::Global, &[ch('m')], A::Mouse, None),
    bind(
        C::Global,
        &[ch('?'), code(KeyCode::F(1))],
        A::Help,
        Some("help"),
    ),
    bind(C::Global, &[ctrl('z')], A::Suspend, None),
    bind(
        C::Global,
        &[ch('q'), code(KeyCode::F(10)), ctrl('c')],
        A::Quit,
        Some("quit"),
    ),
];

impl Action {
    /// What the action does, for the help overlay.
    pub fn help(self) -> Cow<'static, str> {
        let none = Vec::new;
        let text = match self {
            A::Up | A::Down => "move up / down",
            A::PageUp | A::PageDown => "one page up / down",
            A::Home | A::End => "first / last (End in the logs: follow)",
            A::Mark => "mark / unmark; actions apply to marked workers",
            A::ClearMarks => "clear marks and the filter",
            A::Filter => "filter by name or command (substring)",
            A::SignalMenu => {
                let desc = Command::Signal {
                    workers: none(),
                    signal: 0,
                    group: false,
                }
                .desc();
                return format!("{desc}: every signal, to process or group").into();
            }
            A::Terminate => return Command::Terminate(none()).desc().into(),
            A::Kill => return Command::Kill(none()).desc().into(),
            A::PauseResume => {
                let (p, r) = (
                    Command::Pause(none()).desc(),
                    Command::Resume(none()).desc(),
                );
                return format!("{p} / {r}").into();
            }
            A::Restart => return Command::Restart(none()).desc().into(),
            A::ReapZombies => {
                let desc = Command::ReapZombies(WorkerId(0)).desc();
                return format!(
                    "{desc}: SIGCHLD to their parents; if they stay, offer to terminate the parents"
                )
                .into();
            }
            A::Cancel => return Command::Cancel(none()).desc().into(),
            A::Join => {
                let desc = join_desc(JoinTarget::Worker(WorkerId(0)));
                return format!("{desc}, show its exit code").into();
            }
            A::JoinAll => {
                let desc = join_desc(JoinTarget::All);
                return format!("{desc} for every worker; closes the queue").into();
            }
            A::Launch => {
                let job = JobSpec::new("", Program::Argv(Vec::new()));
                let desc = Command::Launch(Box::new(job)).desc();
                return format!("{desc}: command line, count, env, shell").into();
            }
            A::MoreParallel => return format!("{} +1", Command::SetMaxParallel(0).desc()).into(),
            A::FewerParallel => return format!("{} -1", Command::SetMaxParallel(0).desc()).into(),
            A::PauseQueue => {
                let (p, r) = (Command::PauseQueue.desc(), Command::ResumeQueue.desc());
                return format!("{p} / {r}").into();
            }
            A::CycleSort => "sort: CPU, memory, runtime, launch order (short cycle)",
            A::SortMenu => "sort menu: pick any column (launch, name, state, CPU, memory, time)",
            A::ReverseSort => "reverse the sort order",
            A::TreeFigures => "CPU% and MEM: whole process tree (⊕, default) / own process",
            A::SwitchFocus => "focus: workers table / logs",
            A::MergedLogs => "logs: selected worker / all workers merged",
            A::Follow => "logs: follow new output",
            A::WrapLines => "logs: wrap long lines / cut them (←→ scroll sideways)",
            A::Timestamps => "logs: show when each line arrived (local time)",
            A::ProcessTree => {
                "process tree of the selected worker: PID, state, CPU, memory, command (live)"
            }
            A::Dependencies => "dependencies: jobs in start order, edges, states",
            A::ProcUp | A::ProcDown => "choose a process",
            A::ProcSignal => {
                let desc = Command::SignalDescendant {
                    worker: WorkerId(0),
                    pid: 0,
                    start: None,
                    signal: 0,
                }
                .desc();
                return format!("{desc} (checked by start time)").into();
            }
            A::ScrollLeft | A::ScrollRight => "scroll sideways (when lines are cut, w)",
            A::Search => "search the log (regex; lowercase ignores case)",
            A::NextMatch => "next match (newer)",
            A::PrevMatch => "previous match (older)",
            A::ClearSearch => "end the search",
            A::Mouse => "mouse capture on / off (off: terminal selects text)",
            A::Help => "this help",
            A::Suspend => "suspend proctor (resume with fg)",
            A::Quit => "quit (asks first, then stops every worker)",
        };
        text.into()
    }

    /// The action works on a worker (or its log), so it does nothing on an empty
    /// pool; the footer leaves it out there.
    pub fn needs_a_worker(self) -> bool {
        !matches!(
            self,
            A::Launch
                | A::MoreParallel
                | A::FewerParallel
                | A::PauseQueue
                | A::SwitchFocus
                | A::Mouse
                | A::Help
                | A::Suspend
                | A::Quit
        )
    }

    /// Why the action is off in map mode, if it is: there the work is the tasks
    /// alone, run and accounted for by the map driver.
    pub fn off_in_map(self) -> Option<&'static str> {
        let why = match self {
            A::Launch => "map mode launches no jobs: the tasks come from the input",
            A::JoinAll => "the map run ends by itself once every task finished (q stops it)",
            A::Restart => "map mode restarts no task: t terminates one, --retries runs it again",
            A::Cancel => "map mode cancels no task: P pauses the queue, q stops the run",
            A::Dependencies => "map mode's tasks depend on nothing",
            _ => return None,
        };
        Some(why)
    }
}

fn join_desc(target: JoinTarget) -> &'static str {
    Command::Join {
        target,
        timeout: None,
    }
    .desc()
}

impl Key {
    fn matches(&self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        self.code == key.code && self.ctrl == ctrl
    }

    /// How the key is written in the footer and the help: `q`, `F10`, `Ctrl-C`, `↑`.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Enter => "Enter".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }
}

/// The action bound to `key` in the first of `contexts` that binds it.
pub fn lookup(key: &KeyEvent, contexts: &[Context]) -> Option<Action> {
    contexts.iter().find_map(|&context| {
        BINDINGS
            .iter()
            .filter(|b| b.context == context)
            .find(|b| b.keys.iter().any(|k| k.matches(key)))
            .map(|b| b.action)
    })
}

/// Every key of a binding, joined: `k, F9`.
pub fn keys_label(keys: &[Key]) -> String {
    keys.iter().map(Key::label).collect::<Vec<_>>().join(", ")
}

/// Footer entries for these contexts and the actions `shown` accepts: (key,
/// label), in table order, except that help and quit come last: the footer keeps
/// them in view on narrow screens.
pub fn footer(contexts: &[Context], shown: impl Fn(Action) -> bool) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let mut last = Vec::new();
    for (i, &context) in contexts.iter().enumerate() {
        for b in BINDINGS
            .iter()
            .filter(|b| b.context == context && shown(b.action))
        {
            let Some(label) = b.footer else { continue };
            // A narrower context's binding of the same key wins: show only that.
            let shadowed = BINDINGS.iter().any(|n| {
                contexts[..i].contains(&n.context)
                    && b.keys.first().is_some_and(|k| n.keys.contains(k))
            });
            if shadowed {
                continue;
            }
            let key = match b.action {
                A::Up | A::ProcUp => "↑↓".to_string(),
                _ => b.keys.first().map(Key::label).unwrap_or_default(),
            };
            if matches!(b.action, A::Help | A::Quit) {
                last.push((key, label));
            } else {
                out.push((key, label));
            }
        }
    }
    out.extend(last);
    out
}

/// How many trailing footer entries must always show (help and quit).
pub const FOOTER_PINNED: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn narrow_contexts_win() {
        let n = key(KeyCode::Char('n'), KeyModifiers::NONE);
        assert_eq!(lookup(&n, &[C::Workers, C::Global]), Some(A::Launch));
        assert_eq!(
            lookup(&n, &[C::Search, C::Logs, C::Global]),
            Some(A::NextMatch)
        );
        let slash = key(KeyCode::Char('/'), KeyModifiers::NONE);
        assert_eq!(lookup(&slash, &[C::Logs, C::Global]), Some(A::Search));
        assert_eq!(lookup(&slash, &[C::Workers, C::Global]), Some(A::Filter));
    }

    #[test]
    fn shifted_letters_and_control_keys() {
        let big_k = key(KeyCode::Char('K'), KeyModifiers::SHIFT);
        assert_eq!(lookup(&big_k, &[C::Global]), Some(A::Kill));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(&ctrl_c, &[C::Global]), Some(A::Quit));
        let plain_c = key(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_ne!(lookup(&plain_c, &[C::Global]), Some(A::Quit));
        assert_eq!(ctrl('z').label(), "Ctrl-Z");
    }

    #[test]
    fn the_footer_shows_a_key_once_with_its_narrowest_meaning() {
        let entries = footer(&[C::Search, C::Logs, C::Global], |_| true);
        let n: Vec<&str> = entries
            .iter()
            .filter(|(k, _)| k == "n")
            .map(|(_, l)| *l)
            .collect();
        assert_eq!(n, ["next"]);
        let entries = footer(&[C::Workers, C::Global], |_| true);
        assert!(entries.iter().any(|(k, l)| k == "n" && *l == "launch"));
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                if a.context == b.context {
                    for k in a.keys {
                        assert!(!b.keys.contains(k), "{} bound twice", k.label());
                    }
                }
            }
        }
    }

    #[test]
    fn the_readme_lists_every_key() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## The terminal UI")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap_or("");
        for b in BINDINGS {
            let Some(key) = b.keys.first() else { continue };
            let label = key.label();
            let written = [format!("`{label}`"), label.clone()];
            assert!(
                written.iter().any(|w| section.contains(w.as_str())),
                "README's terminal UI section does not name {label} ({:?})",
                b.action
            );
        }
    }
}
