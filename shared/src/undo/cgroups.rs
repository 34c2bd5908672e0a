//! cgroups (v2): a cgroup made with its controller enabled and its limits
//! written, and processes moved into it and back out.

use super::action::Phase;
use crate::error::{Error, Result};
use crate::host::exec;
use crate::host::procs;
use std::fs;
use std::path::Path;

pub fn describe_move(procs: &[(i32, u64)], to: &str, remove: Option<&str>) -> String {
    format!(
        "echo PID > {}/cgroup.procs for pid {}{}",
        exec::shell_quote(to),
        procs.iter().map(|p| p.0.to_string()).collect::<Vec<_>>().join(","),
        remove.map(|r| format!("; rmdir {}", exec::shell_quote(r))).unwrap_or_default()
    )
}

/// Moves the processes listed (pid, start time) into cgroup `to`, then
/// removes cgroup `remove` if given. One gone is an error only when applying.
pub fn move_procs(list: &[(i32, u64)], to: &str, remove: Option<&str>, phase: Phase) -> Result<()> {
    for (pid, start) in list {
        match procs::read(*pid) {
            Some(p) if p.starttime == *start && p.state != 'Z' => {
                let f = Path::new(to).join("cgroup.procs");
                if let Err(e) = fs::write(&f, pid.to_string()) {
                    // The process may have exited in between.
                    if procs::read(*pid).is_some_and(|p| p.starttime == *start) {
                        return Err(Error::io(format!("moving pid {pid} to {}", f.display()), e));
                    }
                }
            }
            _ if phase == Phase::Apply => return Err(Error::not_found(format!("pid {pid} exited before it could be moved"))),
            _ => {}
        }
    }
    if let Some(r) = remove {
        match fs::remove_dir(r) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(format!("removing cgroup {r}"), e)),
            _ => {}
        }
    }
    Ok(())
}

pub fn describe_setup(dir: &str, controller: &str, settings: &[(String, String)]) -> String {
    let d = exec::shell_quote(dir);
    let sets: Vec<String> = settings.iter().map(|(f, v)| format!("echo {} > {d}/{f}", exec::shell_quote(v))).collect();
    format!("echo +{controller} > {d}/../cgroup.subtree_control; mkdir -p {d}; {}", sets.join("; "))
}

/// Enables `controller` in the parent, creates cgroup `dir` and writes
/// each (file, value) in it.
pub fn setup(dir: &str, controller: &str, settings: &[(String, String)]) -> Result<()> {
    let d = Path::new(dir);
    let parent = d.parent().ok_or_else(|| Error::failed(format!("{dir} has no parent cgroup")))?;
    let ctl = parent.join("cgroup.subtree_control");
    let on = fs::read_to_string(&ctl).unwrap_or_default();
    if !on.split_whitespace().any(|c| c == controller) {
        fs::write(&ctl, format!("+{controller}")).map_err(|e| Error::io(format!("enabling {controller} in {}", ctl.display()), e))?;
    }
    match fs::create_dir(d) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(Error::io(format!("creating cgroup {dir}"), e)),
        _ => {}
    }
    for (f, v) in settings {
        fs::write(d.join(f), v).map_err(|e| Error::io(format!("writing '{v}' to {dir}/{f}"), e))?;
    }
    Ok(())
}
