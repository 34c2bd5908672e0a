//! Processes: a signal to one exact process (pid and start time, so a
//! reused pid is never hit), a daemon started again as it was, and detached
//! helpers (stressors, held sessions) started and killed by their tag.

use super::action::Phase;
use crate::error::{Error, Result};
use crate::host::exec;
use crate::host::procs::{self, Signalled, Snapshot};
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long [`super::Step::Spawn`] waits for its helper's `ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The argv word that marks a detached helper of fault `tag`.
pub fn tag_arg(tag: &str) -> String {
    format!("--kvmfi-tag={tag}")
}

pub fn describe_signal(pid: i32, starttime: u64, signal: &str, what: &str) -> String {
    format!("kill -{signal} {pid}  # {what}, only if /proc/{pid}/stat starttime is still {starttime}")
}

/// Sends `signal` to `pid` if it is still the same process. Gone: an error
/// when applying, already done when undoing.
pub fn signal(pid: i32, starttime: u64, signal: &str, what: &str, phase: Phase) -> Result<()> {
    let sig = procs::signal_number(signal).ok_or_else(|| Error::failed(format!("unknown signal '{signal}' in the journal")))?;
    match procs::signal_if_same(pid, starttime, sig)? {
        Signalled::Sent => Ok(()),
        Signalled::Gone if phase == Phase::Undo => Ok(()),
        Signalled::Gone => Err(Error::not_found(format!("{what} (pid {pid}) exited before SIG{signal}"))),
    }
}

pub fn describe_restart(snapshot: &Snapshot, what: &str) -> String {
    format!(
        "start again unless running: (cd {} && {})  # {what}, uid {} gid {}, {} environment variables",
        exec::shell_quote(&snapshot.cwd),
        exec::display_argv(&snapshot.argv),
        snapshot.uid,
        snapshot.gid,
        snapshot.env.len()
    )
}

/// Starts the daemon of `snapshot` again (output to logs/WHAT.log) unless
/// a process with its command line runs.
pub fn restart(snapshot: &Snapshot, what: &str, state_dir: &Path) -> Result<()> {
    if procs::running_with_argv(&snapshot.argv) {
        return Ok(());
    }
    let logs = logs_dir(state_dir)?;
    let name: String = what.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let pid = procs::spawn_detached(snapshot, &logs.join(format!("{name}.log")))?;
    eprintln!("started {what} again as pid {pid} (output in {}/{name}.log)", logs.display());
    Ok(())
}

/// The journal's `logs/` directory (mode 0700), created if missing.
fn logs_dir(state_dir: &Path) -> Result<PathBuf> {
    let logs = state_dir.join("logs");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&logs)
        .map_err(|e| Error::io(format!("creating {}", logs.display()), e))?;
    Ok(logs)
}

pub fn describe_spawn(argv: &[String], tag: &str) -> String {
    format!("setsid {} &  # detached, waits for 'ready'; tag {tag}", exec::display_argv(argv))
}

pub fn describe_kill_tagged(tag: &str) -> String {
    format!("kill -KILL <pids whose argv holds {}>", tag_arg(tag))
}

/// Starts `argv` detached in its own session (stdin /dev/null, stderr to
/// `logs/TAG.log`), and waits for its first stdout line: `ready` is
/// success; anything else (or EOF, or [`READY_TIMEOUT`]) kills it and is
/// the error. Returns its pid.
pub fn spawn_ready(argv: &[String], tag: &str, state_dir: &Path) -> Result<i32> {
    let (prog, args) = argv.split_first().ok_or_else(|| Error::failed("empty helper command"))?;
    let logs = logs_dir(state_dir)?;
    let log = logs.join(format!("{tag}.log"));
    let logf = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(logf);
    // SAFETY: setsid is async-signal-safe; it only detaches from our session.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::io(format!("starting {prog}"), e))?;
    let pid = child.id() as i32;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(READY_TIMEOUT).unwrap_or_default();
    if line.trim() == "ready" {
        // Reaped by init once it ends; we never wait for it.
        std::mem::forget(child);
        return Ok(pid);
    }
    let _ = child.kill();
    let _ = child.wait();
    let why = if line.trim().is_empty() {
        fs::read_to_string(&log)
            .ok()
            .and_then(|t| t.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_string))
            .unwrap_or_else(|| "it ended without saying ready".into())
    } else {
        line.trim().to_string()
    };
    Err(Error::failed(format!("{}: {why}", Path::new(prog).file_name().map(|n| n.to_string_lossy()).unwrap_or_default())))
}

/// Live processes whose argv holds `--kvmfi-tag=TAG`.
/// The caller itself is never among them: a helper that undoes its own
/// fault (a lease running out) must not kill itself half-way.
pub fn tagged(tag: &str) -> Vec<procs::Proc> {
    let want = tag_arg(tag);
    let me = std::process::id() as i32;
    procs::all()
        .into_iter()
        .filter(|p| p.pid != me && p.state != 'Z' && p.cmdline.contains(&want))
        .collect()
}

/// SIGKILLs the helpers of `tag` and waits (5 s) until they are gone.
pub fn kill_tagged(tag: &str) -> Result<()> {
    for p in tagged(tag) {
        procs::signal_if_same(p.pid, p.starttime, libc::SIGKILL)?;
    }
    let start = Instant::now();
    while !tagged(tag).is_empty() {
        if start.elapsed() > Duration::from_secs(5) {
            return Err(Error::failed(format!("the helper of {tag} does not die")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
