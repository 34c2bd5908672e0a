//! The shared `main`: every binary's `main.rs` is one call to [`main`].
//!
//! It prints `tool: message` for errors, maps them to the documented exit
//! codes, and treats a closed output pipe as success so that tools compose
//! with `head`, `grep -q` and friends.

use crate::error::Error;
use std::io::Write;
use std::process::ExitCode;

/// Runs a tool body and converts its outcome into an exit code. Messages
/// name the program as invoked (a legacy link says its own name).
pub fn main(tool: &str, body: impl FnOnce() -> Result<(), Error>) -> ExitCode {
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let invoked = std::env::args_os()
                .next()
                .and_then(|a| std::path::Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| tool.to_string());
            let _ = writeln!(std::io::stderr(), "{invoked}: {e}");
            ExitCode::from(e.code())
        }
    }
}

/// Writes one line to stdout; a closed pipe surfaces as a broken-pipe error
/// (which [`main`] turns into success) instead of a panic as `println!` does.
pub fn out(line: impl std::fmt::Display) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").map_err(|e| Error::io("writing to standard output", e))
}

/// Prints a value as one line of JSON.
pub fn out_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::failed(format!("cannot encode JSON: {e}")))?;
    out(text)
}
