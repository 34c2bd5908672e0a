//! The journal steps added for the original tools' remaining commands
//! (netem bands, detached helpers, fill files, conditional commands,
//! cgroup moves): how each is shown and carried out. The variants live in
//! [`crate::journal::Step`]; this file keeps their code beside the
//! injectors that use them.

use crate::error::{Error, Result};
use crate::exec;
use crate::journal::{Phase, Step};
use crate::procs;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The argv word that marks a detached helper of fault `tag`.
pub fn tag_arg(tag: &str) -> String {
    format!("--kvmfi-tag={tag}")
}

/// How long [`Step::Spawn`] waits for its helper's `ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// `describe` for the variants of this file.
pub fn describe(step: &Step) -> String {
    match step {
        Step::TcEnsureRoot { tc, dev } => format!(
            "{tc} qdisc add dev {dev} root handle {} prio bands 16 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1  # unless it is there; refused over a foreign root qdisc",
            crate::netfault::QDISC_HANDLE
        ),
        Step::TcDeleteBand { tc, dev, band } => format!(
            "{tc} filter del dev {dev} parent {h} prio {}; {tc} filter del dev {dev} parent {h} prio {}; {tc} qdisc del dev {dev} parent {h}{band}  # then the root qdisc if no band is left",
            super::netem::filter_prio(*band, "ip"),
            super::netem::filter_prio(*band, "ipv6"),
            h = crate::netfault::QDISC_HANDLE
        ),
        Step::Spawn { argv, tag } => format!("setsid {} &  # detached, waits for 'ready'; tag {tag}", exec::display_argv(argv)),
        Step::KillTagged { tag } => format!("kill -KILL <pids whose argv holds {}>", tag_arg(tag)),
        Step::FillFile { path, bytes } => format!("fallocate -l {bytes} {}  # a new file", exec::shell_quote(path)),
        Step::RunIf { check, has, argv } => format!(
            "{} | grep -q {} && {}",
            exec::display_argv(check),
            exec::shell_quote(has),
            exec::display_argv(argv)
        ),
        Step::CgroupMove { procs, to, remove } => format!(
            "echo PID > {}/cgroup.procs for pid {}{}",
            exec::shell_quote(to),
            procs.iter().map(|p| p.0.to_string()).collect::<Vec<_>>().join(","),
            remove.as_ref().map(|r| format!("; rmdir {}", exec::shell_quote(r))).unwrap_or_default()
        ),
        Step::CgroupSetup { dir, controller, settings } => {
            let d = exec::shell_quote(dir);
            let sets: Vec<String> = settings.iter().map(|(f, v)| format!("echo {} > {d}/{f}", exec::shell_quote(v))).collect();
            format!("echo +{controller} > {d}/../cgroup.subtree_control; mkdir -p {d}; {}", sets.join("; "))
        }
        other => format!("{other:?}"),
    }
}

/// `execute` for the variants of this file.
pub fn execute(step: &Step, phase: Phase, state_dir: &Path) -> Result<()> {
    match step {
        Step::TcEnsureRoot { tc, dev } => super::netem::ensure_root(tc, dev),
        Step::TcDeleteBand { tc, dev, band } => super::netem::delete_band(tc, dev, *band),
        Step::Spawn { argv, tag } => spawn_ready(argv, tag, state_dir).map(|_| ()),
        Step::KillTagged { tag } => kill_tagged(tag),
        Step::FillFile { path, bytes } => fill_file(Path::new(path), *bytes),
        Step::RunIf { check, has, argv } => {
            let out = exec::run(check, None, crate::journal::STEP_TIMEOUT)?;
            if out.stdout.contains(has.as_str()) {
                exec::run_ok(argv, None, crate::journal::STEP_TIMEOUT)?;
            }
            Ok(())
        }
        Step::CgroupMove { procs: list, to, remove } => {
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
                    _ if phase == Phase::Apply => {
                        return Err(Error::not_found(format!("pid {pid} exited before it could be moved")))
                    }
                    _ => {}
                }
            }
            if let Some(r) = remove {
                match fs::remove_dir(r) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::io(format!("removing cgroup {r}"), e))
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        Step::CgroupSetup { dir, controller, settings } => {
            let d = Path::new(dir);
            let parent = d.parent().ok_or_else(|| Error::failed(format!("{dir} has no parent cgroup")))?;
            let ctl = parent.join("cgroup.subtree_control");
            let on = fs::read_to_string(&ctl).unwrap_or_default();
            if !on.split_whitespace().any(|c| c == controller) {
                fs::write(&ctl, format!("+{controller}")).map_err(|e| Error::io(format!("enabling {controller} in {}", ctl.display()), e))?;
            }
            match fs::create_dir(d) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::io(format!("creating cgroup {dir}"), e))
                }
                _ => {}
            }
            for (f, v) in settings {
                fs::write(d.join(f), v).map_err(|e| Error::io(format!("writing '{v}' to {dir}/{f}"), e))?;
            }
            Ok(())
        }
        other => Err(Error::failed(format!("step {other:?} has no executor"))),
    }
}

/// Starts `argv` detached in its own session (stdin /dev/null, stderr to
/// `logs/TAG.log`), and waits for its first stdout line: `ready` is
/// success; anything else (or EOF, or [`READY_TIMEOUT`]) kills it and is
/// the error. Returns its pid.
pub fn spawn_ready(argv: &[String], tag: &str, state_dir: &Path) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let (prog, args) = argv.split_first().ok_or_else(|| Error::failed("empty helper command"))?;
    let logs = state_dir.join("logs");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&logs)
        .map_err(|e| Error::io(format!("creating {}", logs.display()), e))?;
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

/// Creates `path` (which must not exist) with `bytes` of allocated space.
pub fn fill_file(path: &Path, bytes: u64) -> Result<()> {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    let result = (|| -> Result<()> {
        // SAFETY: fallocate on a file descriptor we own.
        let r = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, bytes as libc::off_t) };
        if r != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EOPNOTSUPP) {
                return Err(Error::io(format!("allocating {bytes} bytes for {}", path.display()), err));
            }
            let chunk = vec![0u8; 1 << 20];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                f.write_all(&chunk[..n]).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
                left -= n as u64;
            }
        }
        f.sync_all().map_err(|e| Error::io(format!("syncing {}", path.display()), e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// Free bytes on the file system holding `dir` for this writer (root
/// counts the reserved blocks).
pub fn free_bytes(dir: &Path) -> Result<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|_| Error::usage("path has a NUL byte"))?;
    // SAFETY: statvfs is plain old data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs fills the struct we pass; the path is NUL-terminated.
    let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    crate::error::cvt(r, format!("statvfs {}", dir.display()))?;
    // root may also use the blocks reserved for it (ext4's 5%).
    // SAFETY: geteuid has no preconditions.
    let blocks = if unsafe { libc::geteuid() } == 0 { st.f_bfree } else { st.f_bavail };
    Ok(blocks as u64 * st.f_frsize as u64)
}

/// MemAvailable from /proc/meminfo, in bytes.
pub fn mem_available() -> Result<u64> {
    let text = fs::read_to_string("/proc/meminfo").map_err(|e| Error::io("reading /proc/meminfo", e))?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| Error::failed("no MemAvailable in /proc/meminfo"))
}
