//! Control from anywhere: every proctor listens on a private Unix socket, and
//! `proctor ctl` (or any program speaking the protocol) commands and watches it.
//! The server is one more front end: it sends the engine `Command`s and reads its
//! Events and Snapshots, nothing else.

pub mod args;
pub mod attach;
pub mod client;
pub mod detach;
pub mod instance;
pub mod protocol;
pub mod server;

use crate::engine::EngineHandle;

/// Claims an instance name and tells workers where the socket is
/// (`PROCTOR_SOCKET`). Call before any thread starts. With no `--name`, a problem
/// with the runtime directory is a warning and proctor runs without a socket;
/// with one, it is an error (the user asked for a name).
pub fn claim(name: Option<&str>) -> Result<Option<instance::Instance>, String> {
    let instance = match instance::claim(name) {
        Ok(i) => i,
        Err(e) if name.is_some() => return Err(e),
        Err(e) => {
            eprintln!("proctor: no control socket: {e}");
            return Ok(None);
        }
    };
    // SAFETY: called from main before any other thread exists, so nothing reads
    // the environment concurrently.
    unsafe { std::env::set_var("PROCTOR_SOCKET", &instance.socket) };
    Ok(Some(instance))
}

/// Serves the claimed instance's socket for `engine`.
pub fn serve(
    instance: Option<instance::Instance>,
    engine: &EngineHandle,
) -> Result<Option<server::Server>, String> {
    serve_routed(instance, engine, engine.requests.clone())
}

/// `serve`, with the socket's requests going to `requests` (map mode's router
/// for remote workers) instead of straight to the engine.
pub fn serve_routed(
    instance: Option<instance::Instance>,
    engine: &EngineHandle,
    requests: tokio::sync::mpsc::UnboundedSender<crate::engine::Request>,
) -> Result<Option<server::Server>, String> {
    let Some(instance) = instance else {
        return Ok(None);
    };
    let link = server::Link {
        requests,
        snapshot: engine.snapshot.clone(),
        store: engine.store.clone(),
        tap: engine.tap.clone(),
    };
    server::start(instance, link)
        .map(Some)
        .map_err(|e| format!("cannot listen on the control socket: {e}"))
}
