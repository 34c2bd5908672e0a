//! The options every kernel tool shares: scope (who is hit) and bounds (how
//! often and for how long), spelled the same in every tool, with the kernel
//! fault_attr vocabulary (probability, interval, times, space).

use crate::kernel::abi::{self, Arm};
use crate::error::{Error, Result};
use crate::units;
use clap::Args;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

/// Who is hit. Every given filter must match; none means every process.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Scope (all given filters must match)")]
pub struct Scope {
    /// Only this thread (thread id as in /proc/PID/task)
    #[arg(long, value_name = "TID", value_parser = clap::value_parser!(i32).range(1..))]
    pub pid: Option<i32>,
    /// Only the threads of this process (a VMM's pid, say)
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub tgid: Option<i32>,
    /// Only tasks with this command name (as in /proc/PID/comm, at most 15 characters)
    #[arg(long, value_name = "NAME", value_parser = parse_comm)]
    pub comm: Option<String>,
    /// Only tasks in this cgroup v2 directory or below it
    #[arg(long, value_name = "DIR")]
    pub cgroup: Option<PathBuf>,
    /// Act on every process when no filter is given (dangerous on a real host)
    #[arg(long)]
    pub yes: bool,
}

/// How often and for how long. Evaluated after the scope, in this order:
/// times, space, interval, probability.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Bounds")]
pub struct Bounds {
    /// Percent of matching calls that fail (0 to 100)
    #[arg(long, value_name = "PCT", default_value = "100", value_parser = units::parse_percent)]
    pub probability: u32,
    /// Fail only every N-th matching call
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub interval: u32,
    /// Number of faults to inject, then disarm by itself (-1 = unlimited)
    #[arg(long, value_name = "N", default_value_t = -1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..))]
    pub times: i64,
    /// Let this many bytes through before failing (e.g. 64k)
    #[arg(long, value_name = "SIZE", value_parser = units::parse_size)]
    pub space: Option<u64>,
    /// Lease: disarm by itself after this long (500ms, 30s, 5m, 2h; 0 = until off or rmmod)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = units::parse_duration)]
    pub duration: Duration,
    /// Kernel log per injection: 0 none, 1 one line (rate-limited), 2 with a stack trace
    #[arg(long, value_name = "LEVEL", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=2))]
    pub verbose: u32,
    /// Replace a fault that is already armed instead of refusing
    #[arg(long)]
    pub replace: bool,
}

/// A number as the tools' options spell it: decimal or `0x`/`0X` hex,
/// surrounding blanks ignored (options that allow `_` separators remove
/// them first).
pub fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

fn parse_comm(text: &str) -> std::result::Result<String, String> {
    if text.is_empty() || text.len() >= abi::COMM_LEN {
        Err(format!("'{text}': a command name has 1 to {} characters", abi::COMM_LEN - 1))
    } else {
        Ok(text.to_string())
    }
}

/// Files opened for a request; they must stay open until the arm ioctl returns.
#[derive(Default)]
pub struct Held {
    files: Vec<File>,
}

impl Held {
    /// Opens `path` (O_PATH) and returns the fd to put into the request.
    pub fn open_path(&mut self, path: &std::path::Path, what: &str) -> Result<i32> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(path)
            .map_err(|e| Error::usage(format!("{what} {}: {e}", path.display())))?;
        let fd = file.as_raw_fd();
        self.files.push(file);
        Ok(fd)
    }
}

impl Scope {
    /// True when no filter narrows the fault.
    pub fn is_global(&self) -> bool {
        self.pid.is_none() && self.tgid.is_none() && self.comm.is_none() && self.cgroup.is_none()
    }

    /// Fills the request's scope fields; `extra_scope` says whether the tool
    /// narrows the fault by other means (a path, an ioctl command, ...).
    pub fn apply(&self, req: &mut Arm, held: &mut Held, extra_scope: bool) -> Result<()> {
        if self.is_global() && !extra_scope && !self.yes {
            return Err(Error::usage(
                "no scope given: this would hit every process on the host; add --pid, --tgid, --comm or --cgroup \
                 (or --yes to really act on all processes)",
            ));
        }
        // A target that is gone is said before anything is loaded or armed.
        for (opt, id) in [("--pid", self.pid), ("--tgid", self.tgid)] {
            if let Some(id) = id {
                if !std::path::Path::new(&format!("/proc/{id}")).exists() {
                    return Err(Error::not_found(format!("{opt} {id}: no such process")));
                }
            }
        }
        if let Some(pid) = self.pid {
            req.filter |= abi::FILTER_PID;
            req.pid = pid;
        }
        if let Some(tgid) = self.tgid {
            req.filter |= abi::FILTER_TGID;
            req.tgid = tgid;
        }
        if let Some(comm) = &self.comm {
            req.filter |= abi::FILTER_COMM;
            abi::set_c_str(&mut req.comm, comm);
        }
        if let Some(dir) = &self.cgroup {
            if !dir.join("cgroup.procs").exists() {
                return Err(Error::usage(format!(
                    "--cgroup {}: not a cgroup v2 directory (expected cgroup.procs inside)",
                    dir.display()
                )));
            }
            let file = File::open(dir).map_err(|e| Error::usage(format!("--cgroup {}: {e}", dir.display())))?;
            req.filter |= abi::FILTER_CGROUP;
            req.cgroup_fd = file.as_raw_fd();
            held.files.push(file);
        }
        Ok(())
    }
}

impl Bounds {
    /// Fills the request's bound fields.
    pub fn apply(&self, req: &mut Arm) {
        req.probability = self.probability;
        req.interval = self.interval;
        req.times = self.times;
        req.space = self.space.unwrap_or(0);
        req.duration_ms = self.duration.as_millis().min(u64::MAX as u128) as u64;
        req.verbose = self.verbose;
        if self.replace {
            req.flags |= abi::ARM_REPLACE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_u64;

    #[test]
    fn numbers_are_decimal_or_hex() {
        assert_eq!(parse_u64(" 0x1F "), Some(31));
        assert_eq!(parse_u64("0X10"), Some(16));
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64("1_000"), None);
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64("0x"), None);
    }
}
