//! `proctor ctl` for remote workers: in map mode with `--hosts` the control
//! socket's requests pass through here. A command naming workers that run on
//! another host goes over that host's link (the same control line); everything
//! else reaches this machine's engine unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::link::LinkWriter;
use crate::engine::{Command, Request, WorkerId};

/// Remote workers by name, and the link of the host each runs on.
pub type Table = Arc<Mutex<HashMap<String, LinkWriter>>>;

/// A request channel for the socket that routes by worker: returns its sender.
pub fn start(
    table: Table,
    engine: mpsc::UnboundedSender<Request>,
) -> std::io::Result<mpsc::UnboundedSender<Request>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    std::thread::Builder::new()
        .name("proctor-route".into())
        .spawn(move || {
            while let Some(request) = rx.blocking_recv() {
                route(request, &table, &engine);
            }
        })?;
    Ok(tx)
}

fn route(request: Request, table: &Table, engine: &mpsc::UnboundedSender<Request>) {
    let Some(Command::Named { names, command }) = &request.command else {
        let _ = engine.send(request);
        return;
    };
    let mut local = Vec::new();
    let mut remote: Vec<(LinkWriter, Vec<String>)> = Vec::new();
    if let Ok(table) = table.lock() {
        for name in names {
            match table.get(name) {
                Some(writer) => match remote.iter_mut().find(|(w, _)| w.same_link(writer)) {
                    Some((_, names)) => names.push(name.clone()),
                    None => remote.push((writer.clone(), vec![name.clone()])),
                },
                None => local.push(name.clone()),
            }
        }
    }
    let mut errors = Vec::new();
    for (writer, names) in remote {
        let ids = (0..names.len() as u32).map(WorkerId).collect();
        let command = (**command).clone().for_workers(ids);
        let line = crate::control::to_line(&command, &|id| names.get(id.0 as usize).cloned());
        match line.map(|line| writer.send(line)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!(
                "cannot reach the host of {}: {e}",
                names.join(", ")
            )),
            Err(e) => errors.push(e),
        }
    }
    if local.is_empty() {
        let answer = if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        };
        let _ = request.reply.send(answer);
        return;
    }
    let command = Command::Named {
        names: local,
        command: command.clone(),
    };
    let _ = engine.send(Request {
        command: Some(command),
        reply: request.reply,
    });
}
