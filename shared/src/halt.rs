//! The halt flag: while the file exists, every kvmfi tool refuses to arm a
//! kernel fault or apply a journaled change (exit 6); undoing stays allowed.
//! `kvmfi-halt` sets it, `kvmfi-halt --release` removes it.
//!
//! It lives in `/var/lib/kvmfi/halt` (`$KVMFI_HALT_FILE` overrides), not in
//! /run: an operator who pressed the stop button expects it to hold until
//! released, also across the reboot the incident may bring; a timer that
//! starts experiments after boot must not quietly start injecting again.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Default location of the flag.
pub const DEFAULT_FILE: &str = "/var/lib/kvmfi/halt";
/// Environment variable that overrides [`DEFAULT_FILE`].
pub const FILE_ENV: &str = "KVMFI_HALT_FILE";

/// Who halted, when and why (the flag file's JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Halt {
    /// Unix time the halt was set.
    pub since: u64,
    /// User (and host) that set it.
    pub by: String,
    pub reason: String,
}

/// The flag file in force.
pub fn path() -> PathBuf {
    std::env::var_os(FILE_ENV).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| DEFAULT_FILE.into())
}

/// The halt in force, if any. A flag file that cannot be parsed still
/// halts (better refuse than inject).
pub fn current() -> Option<Halt> {
    let p = path();
    match std::fs::read_to_string(&p) {
        Ok(text) => Some(serde_json::from_str(&text).unwrap_or(Halt { since: 0, by: "?".into(), reason: "(unreadable flag)".into() })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        // Unreadable for another reason (permissions): halted as well.
        Err(_) => Some(Halt { since: 0, by: "?".into(), reason: format!("(cannot read {})", p.display()) }),
    }
}

/// Fails with [`Error::Halted`] while kvmfi is halted: called where every
/// kernel fault is armed and where every journaled change is applied.
pub fn refuse_if_halted() -> Result<()> {
    match current() {
        None => Ok(()),
        Some(h) => Err(Error::Halted(format!(
            "kvmfi is halted (since unix time {}, by {}: {}); nothing was armed. See `kvmfi-halt --status`; `kvmfi-halt --release` allows faults again",
            h.since, h.by, h.reason
        ))),
    }
}
