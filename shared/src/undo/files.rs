//! Files and file systems: a file written or removed, a fill file that
//! takes disk space, a kernel knob written in place, a mount point made
//! read-only or read-write.

use super::action::Phase;
use crate::error::{Error, Result};
use crate::host::{exec, files, mounts, procs};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

pub fn describe_write_file(path: &str, content: Option<&str>) -> String {
    match content {
        Some(c) => format!("printf '%s' {} > {}", exec::shell_quote(c), exec::shell_quote(path)),
        None => format!("rm -f {}", exec::shell_quote(path)),
    }
}

/// Writes `content` to `path` durably (mode 0644), or removes `path`.
pub fn write_file(path: &str, content: Option<&str>) -> Result<()> {
    match content {
        Some(c) => files::write_file_durably(Path::new(path), c.as_bytes(), 0o644),
        None => match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(format!("removing {path}"), e)),
            _ => Ok(()),
        },
    }
}

pub fn describe_fill_file(path: &str, bytes: u64) -> String {
    format!("fallocate -l {bytes} {}  # a new file", exec::shell_quote(path))
}

/// Creates `path` (which must not exist) holding `bytes` of allocated space.
pub fn fill_file(path: &str, bytes: u64) -> Result<()> {
    files::fill_file(Path::new(path), bytes)
}

pub fn describe_write_knob(path: &str, value: &str, pid: Option<(i32, u64)>) -> String {
    format!(
        "echo {} > {}{}",
        exec::shell_quote(value),
        exec::shell_quote(path),
        pid.map(|(p, t)| format!("  # only if task {p} still has start time {t}")).unwrap_or_default()
    )
}

/// One write(2) of `value` into the existing file `path`, while task `pid`
/// (if given) is still the same; as an undo, a knob or task that is gone is
/// already undone.
pub fn write_knob(path: &str, value: &str, pid: Option<(i32, u64)>, phase: Phase) -> Result<()> {
    let same_task = || pid.map_or(true, |(p, t)| procs::read(p).is_some_and(|x| x.starttime == t && x.state != 'Z'));
    if !same_task() {
        return match phase {
            Phase::Undo => Ok(()),
            Phase::Apply => Err(Error::not_found(format!("task {} is gone ({path})", pid.map_or(0, |p| p.0)))),
        };
    }
    // O_TRUNC as a shell's `>` does: ignored by kernel knobs, needed by a plain file.
    let res = OpenOptions::new().write(true).truncate(true).open(path).and_then(|mut f| f.write_all(value.as_bytes()));
    match res {
        Ok(()) => Ok(()),
        Err(e) if phase == Phase::Undo && matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH)) => Ok(()),
        // The task may have exited between the check and the write.
        Err(_) if phase == Phase::Undo && !same_task() => Ok(()),
        Err(e) => Err(Error::io(format!("writing '{}' to {path}", value.trim_end()), e)),
    }
}

pub fn describe_mount_readonly(path: &str, readonly: bool) -> String {
    format!("mount -o remount,bind,{} {}  # this mount point only", if readonly { "ro" } else { "rw" }, exec::shell_quote(path))
}

/// Sets or clears the read-only flag of mount point `path` (this mount only).
pub fn mount_readonly(path: &str, readonly: bool) -> Result<()> {
    mounts::set_readonly(Path::new(path), readonly)
}
