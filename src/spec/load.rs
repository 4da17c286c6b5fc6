//! Reading and validating workload files (placeholder: replaced by the full loader).

use std::path::Path;

use super::{JobSpec, Program, Workload};

/// A workload error a user can act on: where, which field, what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

/// Parses a workload file's text; `origin` names it in error messages.
pub fn parse_workload(_text: &str, origin: &str) -> Result<Workload, SpecError> {
    Err(SpecError {
        message: format!("{origin}: workload files are not supported yet"),
    })
}

/// Reads and parses a workload file.
pub fn load_file(path: &Path) -> Result<Workload, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError {
        message: format!("{}: cannot read workload file: {e}", path.display()),
    })?;
    parse_workload(&text, &path.display().to_string())
}

/// One job from a positional command line (`--shell` makes it a shell script).
pub fn job_from_cli(cmdline: &str, shell: bool) -> Result<JobSpec, SpecError> {
    let program = if shell {
        Program::Shell(cmdline.to_string())
    } else {
        let words = super::split_words(cmdline).map_err(|message| SpecError { message })?;
        if words.is_empty() {
            return Err(SpecError {
                message: "empty command: give a program to run".into(),
            });
        }
        Program::Argv(words)
    };
    Ok(JobSpec::new(super::default_name(&program), program))
}
