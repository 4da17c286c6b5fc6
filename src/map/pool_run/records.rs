//! `map --pool`'s bookkeeping beside the results: the joblog (one `TaskRecord`
//! line per task, the same format as map mode's, so `--resume` reads it the same
//! way), the tasks `--resume` skips, and the `--halt` rule.

use std::collections::HashMap;
use std::path::Path;

use super::super::halt::{HaltRule, When};
use super::super::joblog::{Joblog, Succeeded, input_fields};
use crate::engine::event::{PoolResult, TaskRecord, unix_now};

/// What `--halt` asks once it is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// Start no new task; let those handed out finish.
    Soon,
    /// Stop everything now.
    Now,
}

pub struct Records {
    joblog: Option<Joblog>,
    resume: Succeeded,
    halt: Option<HaltRule>,
    /// Tasks handed to the pool: their input and when.
    open: HashMap<u64, (Vec<u8>, f64)>,
    pub failed: u64,
    /// Of `failed`, those cancelled before they ran to the end.
    pub cancelled: u64,
    pub finished: u64,
    pub skipped: u64,
    pub halted: Option<String>,
}

impl Records {
    /// Opens the joblog (and reads it first for `--resume`); parses `--halt`.
    pub fn open(
        joblog: Option<&Path>,
        resume: bool,
        halt: Option<&str>,
    ) -> Result<Records, String> {
        if resume && joblog.is_none() {
            return Err(
                "--resume needs --joblog FILE: the joblog says which tasks succeeded".into(),
            );
        }
        let succeeded = match (joblog, resume) {
            (Some(path), true) => Succeeded::read(path)?,
            _ => Succeeded::default(),
        };
        Ok(Records {
            joblog: joblog.map(|p| Joblog::open(p, resume)).transpose()?,
            resume: succeeded,
            halt: halt.map(HaltRule::parse).transpose()?.flatten(),
            open: HashMap::new(),
            failed: 0,
            cancelled: 0,
            finished: 0,
            skipped: 0,
            halted: None,
        })
    }

    /// True when `--resume` found this task done in an earlier run.
    pub fn done_before(&mut self, number: u64, input: &[u8]) -> bool {
        let done = self.resume.contains(number, input);
        self.skipped += u64::from(done);
        done
    }

    pub fn submitted(&mut self, number: u64, input: Vec<u8>) {
        self.open.insert(number, (input, unix_now()));
    }

    /// Notes a result: the joblog line, the counts, and whether `--halt` is met
    /// (only the first time).
    pub fn finished(&mut self, seq: u64, result: &PoolResult) -> Result<Option<Halt>, String> {
        let (input, start) = self.open.remove(&seq).unwrap_or_default();
        self.finished += 1;
        if !result.ok {
            self.failed += 1;
        }
        if result.status == "cancelled" {
            self.cancelled += 1;
        }
        if let Some(log) = &mut self.joblog {
            let (text, hex) = input_fields(&input);
            log.append(&TaskRecord {
                task: seq,
                input: text,
                input_hex: hex,
                worker: result.worker.clone(),
                pid: None,
                start: Some(start),
                runtime_s: (unix_now() - start).max(0.0),
                // A pool task has no exit code of its own: 0 done, 1 failed,
                // none when cancelled (so `--resume` runs it again).
                exit_code: match result.status {
                    "done" => Some(0),
                    "failed" => Some(1),
                    _ => None,
                },
                signal: None,
                timed_out: false,
                retries: result.attempts.saturating_sub(1),
                output_bytes: 0,
                error: result.error.clone(),
                host: None,
            })?;
        }
        let Some(rule) = self.halt else {
            return Ok(None);
        };
        if self.halted.is_some() || !rule.is_met(self.failed, self.finished) {
            return Ok(None);
        }
        self.halted = Some(rule.to_string());
        Ok(Some(match rule.when {
            When::Now => Halt::Now,
            When::Soon => Halt::Soon,
        }))
    }
}
