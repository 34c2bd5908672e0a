//! Commands: one program run with its argv (and stdin), or run only while
//! another one's output says it is needed.

use crate::error::Result;
use crate::host::exec;
use std::time::Duration;

/// Time limit for a command run by a step.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

pub fn describe_run(argv: &[String], stdin: Option<&str>) -> String {
    match stdin {
        None => exec::display_argv(argv),
        Some(s) => format!("{} <<'EOF'\n{}EOF", exec::display_argv(argv), s),
    }
}

/// Runs `argv`; a non-zero exit is the error.
pub fn run(argv: &[String], stdin: Option<&str>) -> Result<()> {
    exec::run_ok(argv, stdin, STEP_TIMEOUT).map(|_| ())
}

pub fn describe_run_if(check: &[String], has: &str, argv: &[String]) -> String {
    format!("{} | grep -q {} && {}", exec::display_argv(check), exec::shell_quote(has), exec::display_argv(argv))
}

/// Runs `argv` only if the output of `check` contains `has`.
pub fn run_if(check: &[String], has: &str, argv: &[String]) -> Result<()> {
    let out = exec::run(check, None, STEP_TIMEOUT)?;
    if out.stdout.contains(has) {
        exec::run_ok(argv, None, STEP_TIMEOUT)?;
    }
    Ok(())
}
