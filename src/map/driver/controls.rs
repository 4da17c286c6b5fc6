//! The terminal UI's commands on their way to the engine: the driver notes the
//! ones that end the run before passing them on.

use tokio::sync::mpsc;

use super::{Driver, Stop};
use crate::engine::{Command, JoinTarget};
use crate::map::outbox::Outbox;

impl Driver {
    /// A command from the terminal UI, passed on to the engine. Those that close
    /// the engine's queue (quit, join all) also end the run here: no task starts
    /// or is retried after them, so the engine never has to refuse a launch.
    pub(super) async fn on_command(&mut self, command: Command, out: &mut Outbox) {
        let closes_queue = matches!(
            command,
            Command::StopAll
                | Command::CloseQueue
                | Command::Join {
                    target: JoinTarget::All,
                    ..
                }
        );
        if closes_queue {
            self.queue_closed = true;
            // Only tasks that will now never run make the run incomplete; those
            // running end as they end (terminated ones fail).
            if self.takes_tasks() || !self.pending.is_empty() {
                self.stop(Stop::Asked, out).await;
            }
        }
        if matches!(command, Command::StopAll)
            && let Some(hosts) = &mut self.hosts
        {
            hosts.stop_all();
        }
        // If the engine is gone its event stream ends too, which ends the run.
        let _ = self.commands.send(command);
    }
}

pub(super) async fn recv_command(
    controls: &mut Option<mpsc::UnboundedReceiver<Command>>,
) -> Option<Command> {
    match controls {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::super::{Driver, Records, Settings};
    use crate::engine::{Command, Event, EventKind};
    use crate::map::notes::Notes;
    use crate::map::source::{Item, Task, Total};
    use crate::map::template::Template;

    fn exited(worker: &str, code: i32) -> Event {
        Event::now(EventKind::Exited {
            worker: worker.into(),
            pid: 1,
            code,
            signal: None,
            runtime_s: 0.1,
            timed_out: false,
            stuck_terminated: false,
            restarts: 0,
        })
    }

    fn launched(command: Option<Command>) -> Option<String> {
        match command {
            Some(Command::Launch(job)) => Some(job.name),
            _ => None,
        }
    }

    /// Quit from the UI: the waiting tasks are dropped, a terminated task is not
    /// retried, the engine gets the StopAll, and the run is not ok.
    #[tokio::test]
    async fn quitting_drops_waiting_tasks_and_retries_none() {
        let words: Vec<String> = ["true"].iter().map(|s| s.to_string()).collect();
        let settings = Settings {
            template: Template::parse(&words, false, None).unwrap(),
            timeout: None,
            spool: None,
            delay: None,
            retries: 2,
            halt: None,
            keep_order: false,
            forward_output: false,
            plain: false,
            tags: None,
            window: 64,
            max_parallel: 2,
        };
        let records = Records {
            resume: Default::default(),
            joblog: None,
        };
        let total = Total::known(4);
        let (to_engine, mut engine) = mpsc::unbounded_channel();
        let driver = Driver::new(settings, records, total, to_engine, Notes::held());
        let (tasks_tx, tasks) = mpsc::channel(8);
        for number in 1..=4 {
            let task = Task::single(number, number.to_string().into_bytes());
            tasks_tx.send(Item::Task(task)).await.unwrap();
        }
        drop(tasks_tx);
        let (events_tx, mut events) = crate::engine::outbound::channel();
        let (printer, mut printed) = crate::engine::outbound::channel();
        let (ui, controls) = mpsc::unbounded_channel();
        let run = tokio::spawn(async move {
            driver
                .run(&mut events, tasks, printer, Some(controls))
                .await
        });
        assert_eq!(launched(engine.recv().await).as_deref(), Some("task-1"));
        assert_eq!(launched(engine.recv().await).as_deref(), Some("task-2"));
        ui.send(Command::StopAll).unwrap();
        assert_eq!(engine.recv().await, Some(Command::StopAll));
        assert!(events_tx.send_batch(vec![exited("task-1", -15), exited("task-2", 0)]));
        drop(events_tx);
        let finish = run.await.unwrap();
        assert!(!finish.ok, "tasks 3 and 4 never ran");
        let mut more = Vec::new();
        while let Ok(command) = engine.try_recv() {
            more.push(command);
        }
        assert!(more.is_empty(), "nothing after the stop: {more:?}");
        let mut tasks_ended = Vec::new();
        while let Some(event) = printed.try_recv() {
            if let EventKind::Task(record) = event.kind {
                tasks_ended.push((record.task, record.exit_code, record.retries));
            }
        }
        assert_eq!(tasks_ended, [(1, Some(-15), 0), (2, Some(0), 0)]);
    }
}
