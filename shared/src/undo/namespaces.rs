//! Namespaces: steps run in the network namespace they were applied in
//! (entered with setns on a thread of its own), or only from the mount
//! namespace they were applied in. Generic over the step type, so this file
//! needs nothing of the enum that holds these variants.

use super::action::{Action, Phase};
use crate::error::{Error, Result};
use crate::host::ns::{netns_path, ns_inode};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

fn run_steps<S: Action>(steps: &[S], phase: Phase, state_dir: &Path) -> Result<()> {
    steps.iter().try_for_each(|s| s.execute(phase, state_dir))
}

fn describe_all<S: Action>(steps: &[S]) -> String {
    steps.iter().map(S::describe).collect::<Vec<_>>().join("; ")
}

pub fn describe_in_netns<S: Action>(inode: u64, name: Option<&str>, steps: &[S]) -> String {
    format!("in network namespace {} (inode {inode}): {}", name.unwrap_or("-"), describe_all(steps))
}

/// Runs `steps` in network namespace `inode` (found by its /run/netns
/// `name`, else through a process in it); one that is gone took what the
/// steps would undo with it.
pub fn in_netns<S: Action + Send + 'static>(inode: u64, name: Option<&str>, steps: &[S], phase: Phase, state_dir: &Path) -> Result<()> {
    if ns_inode("net") == Some(inode) {
        return run_steps(steps, phase, state_dir);
    }
    let found = name
        .map(PathBuf::from)
        .filter(|p| {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(p).map(|m| m.ino() == inode).unwrap_or(false)
        })
        .or_else(|| netns_path(inode));
    let Some(path) = found else {
        eprintln!("note: network namespace {inode} is gone, and its rules with it");
        return Ok(());
    };
    let steps = steps.to_vec();
    let dir = state_dir.to_path_buf();
    // setns changes only the calling thread: do it on a fresh
    // one, whose children (nft, tc) are then born inside.
    std::thread::spawn(move || -> Result<()> {
        use std::os::fd::AsRawFd;
        let f = File::open(&path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        // SAFETY: setns with an fd we own, on this thread only.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        crate::error::cvt(r, format!("entering network namespace {}", path.display()))?;
        run_steps(&steps, phase, &dir)
    })
    .join()
    .map_err(|_| Error::failed("undo thread panicked"))?
}

pub fn describe_in_mount_ns<S: Action>(inode: u64, steps: &[S]) -> String {
    format!("in mount namespace inode {inode}: {}", describe_all(steps))
}

/// Runs `steps` only from mount namespace `inode`; from another one, fails.
pub fn in_mount_ns<S: Action>(inode: u64, steps: &[S], phase: Phase, state_dir: &Path) -> Result<()> {
    if ns_inode("mnt") == Some(inode) {
        run_steps(steps, phase, state_dir)
    } else {
        Err(Error::failed(format!("this was changed in mount namespace {inode}; run recover from inside it")))
    }
}
