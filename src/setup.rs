//! Turning command-line arguments and workload files into jobs and engine settings.

use std::path::Path;

use crate::cli::{CommonArgs, OutputMode, RunArgs};
use crate::engine::{EngineConfig, Policy};
use crate::spec::{self, JobSpec, SpecError};

/// Jobs plus engine settings, ready to start.
#[derive(Debug)]
pub struct Plan {
    pub jobs: Vec<JobSpec>,
    pub config: EngineConfig,
}

/// Builds the plan of a plain run: the workload file's jobs, then the COMMANDs.
pub fn plan_run(args: &RunArgs) -> Result<Plan, SpecError> {
    check_common(&args.common).map_err(SpecError::new)?;
    let mut jobs = Vec::new();
    let mut file_parallel = None;
    let mut file_grace = None;
    if let Some(path) = &args.file {
        let workload = spec::load_file(path)?;
        file_parallel = workload.max_parallel;
        file_grace = Some(workload.stop_grace);
        jobs = workload.jobs;
    }
    let mut cli_jobs = Vec::new();
    for line in &args.commands {
        cli_jobs.push(spec::job_from_cli(line, args.shell)?);
    }
    name_cli_jobs(&jobs, &mut cli_jobs)?;
    jobs.extend(cli_jobs);
    let config = engine_config(&args.common, file_parallel, file_grace);
    Ok(Plan { jobs, config })
}

/// Names given as `NAME=COMMAND` must be new; names derived from COMMANDs get
/// `-2`, `-3`… so they collide with nothing.
fn name_cli_jobs(file_jobs: &[JobSpec], cli_jobs: &mut [JobSpec]) -> Result<(), SpecError> {
    let mut taken: std::collections::HashSet<String> =
        file_jobs.iter().map(|j| j.name.clone()).collect();
    for job in cli_jobs.iter().filter(|j| j.explicit_name) {
        if !taken.insert(job.name.clone()) {
            return Err(SpecError::new(format!(
                "duplicate job name '{}': expected a name no other job has",
                job.name
            )));
        }
    }
    for job in cli_jobs.iter_mut().filter(|j| !j.explicit_name) {
        let base = job.name.clone();
        let mut n = 2;
        while !taken.insert(job.name.clone()) {
            job.name = format!("{base}-{n}");
            n += 1;
        }
    }
    Ok(())
}

/// Checks the shared flags that name paths, so a bad one starts nothing:
/// `--log-dir` must be an existing directory proctor may create files in.
pub fn check_common(common: &CommonArgs) -> Result<(), String> {
    if let Some(dir) = &common.log_dir {
        check_log_dir(dir)?;
    }
    Ok(())
}

fn check_log_dir(dir: &Path) -> Result<(), String> {
    use nix::unistd::{AccessFlags, access};
    let shown = dir.display();
    let fix = "give an existing directory you can write to (mkdir -p it first)";
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(format!("--log-dir '{shown}' is not a directory: {fix}")),
        Err(e) => return Err(format!("--log-dir '{shown}': {e}: {fix}")),
    }
    access(dir, AccessFlags::W_OK | AccessFlags::X_OK)
        .map_err(|e| format!("--log-dir '{shown}' is not writable ({e}): {fix}"))
}

/// Engine settings from the shared flags; flags win over the workload file.
pub fn engine_config(
    common: &CommonArgs,
    file_parallel: Option<usize>,
    file_grace: Option<std::time::Duration>,
) -> EngineConfig {
    let max_parallel = common.max_parallel.or(file_parallel).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let policy = Policy {
        max_parallel,
        stop_grace: common
            .stop_grace
            .or(file_grace)
            .unwrap_or(Policy::default().stop_grace),
        stuck_after: common.stuck_after,
        stuck_cpu_pct: common.stuck_cpu,
        sample_events: common.sample_events,
        stop_order: match common.stop_order {
            crate::cli::StopOrderArg::Dependencies => crate::spec::deps::StopOrder::Dependencies,
            crate::cli::StopOrderArg::Parallel => crate::spec::deps::StopOrder::Parallel,
        },
        ..Policy::default()
    };
    EngineConfig {
        policy,
        ring_lines: common.ring_lines as usize,
        output_budget: common.output_memory as usize * 1024 * 1024,
        log_dir: common.log_dir.clone(),
        output_events: common.output == OutputMode::Events,
        raw_output: false,
        sample_interval: common.interval,
        close_queue: common.control.is_none(),
    }
}
