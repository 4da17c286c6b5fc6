//! proctor: a terminal process launcher and monitor.
//!
//! The engine (`engine`) owns every worker; front ends (`headless`, `tui`) send it
//! `Command`s and render its `Event`s and `Snapshot`s. See DESIGN.md.

pub mod agent;
pub mod cli;
pub mod contain;
pub mod control;
pub mod ctl;
pub mod engine;
pub mod headless;
pub mod json_safe;
pub mod map;
pub mod remote;
pub mod sample;
pub mod setup;
pub mod signals;
pub mod spec;
pub mod tui;
