//! The driver with `--hosts`: how many tasks the pool takes, what a host's news
//! means for the tasks on it, and stopping the remote ones with the local ones.

use super::Driver;
use crate::engine::{Command, Event, EventKind};
use crate::map::attempt::Ending;
use crate::map::hosts::Update;
use crate::map::outbox::Outbox;
use crate::remote::News;

/// Plain output prints bytes; a remote worker's output comes as lines.
fn as_bytes(event: Event) -> Event {
    match event.kind {
        EventKind::Output {
            worker,
            stream,
            line,
        } => {
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            Event {
                kind: EventKind::Bytes {
                    worker: worker.to_string(),
                    stream,
                    bytes,
                },
                ..event
            }
        }
        _ => event,
    }
}

impl Driver {
    /// Tasks that may run at once: `-j`, or every up host's slots.
    pub(super) fn capacity(&self) -> usize {
        match &self.hosts {
            Some(hosts) => hosts.capacity(),
            None => self.settings.max_parallel,
        }
    }

    /// Stops every worker: this machine's through the engine, the hosts' through
    /// their links.
    pub(super) fn stop_all(&mut self) {
        if let Some(hosts) = &mut self.hosts {
            hosts.stop_all();
        }
        let _ = self.commands.send(Command::StopAll);
    }

    /// A host's news; `None` (a reconnection started) only wakes the loop.
    pub(super) async fn on_news(&mut self, news: Option<News>, out: &mut Outbox) {
        let (Some(hosts), Some(news)) = (&mut self.hosts, news) else {
            return;
        };
        match hosts.on_news(news) {
            Update::Event(event) => {
                let event = if self.settings.plain {
                    as_bytes(event)
                } else {
                    event
                };
                self.on_event(event, out).await;
            }
            Update::Lost {
                host,
                error,
                workers,
            } => {
                let message = format!("host {host} is down: {error}");
                if !self.settings.plain {
                    // Plain output's printer says errors itself.
                    self.notes.say(message.clone());
                }
                out.send(Event::now(EventKind::Error { message })).await;
                for worker in workers {
                    let ending = Ending::failed(format!("lost with host {host}: {error}"));
                    self.attempt_ended(&worker, ending, out).await;
                }
            }
            Update::Nothing => {}
        }
    }

    /// With no host left to run them, waiting tasks fail (with the hosts'
    /// errors) instead of waiting forever.
    pub(super) async fn fail_unplaceable(&mut self, out: &mut Outbox) {
        let Some(why) = self.hosts.as_ref().and_then(|h| h.none_usable()) else {
            return;
        };
        while let Some(attempt) = self.pending.pop_front() {
            self.finish(attempt, Ending::rejected(why.clone()), out)
                .await;
        }
    }
}
