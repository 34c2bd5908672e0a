//! Stress faults: bounded CPU and memory stressors and fill files
//! (journaled, killed or deleted by `recover`), and the detached helpers
//! behind them, run as `TOOL --kvmfi-helper cpu|mem|hold ...`.

use crate::error::{Error, Result};
use crate::host::files::free_bytes;
use crate::host::firewall;
use crate::host::procs::mem_available;
use crate::journal::{self, Fault};
use crate::undo::processes::tag_arg;
use crate::undo::Step;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// argv[1] that makes a tool run one of its detached helpers.
pub const HELPER_ARG: &str = "--kvmfi-helper";

/// Most threads a cpu-stress may start (per CPU).
pub const MAX_THREADS_PER_CPU: u32 = 8;
/// Longest cpu-stress.
pub const MAX_SECONDS: u64 = 86_400;

/// This executable, for helpers to start again as themselves.
fn self_exe() -> Result<String> {
    std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| Error::io("finding this program", e))
}

/// Number of CPUs online.
pub fn cpus() -> u32 {
    std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1)
}

/// The tag of fault `id`'s helper: `kvmfi-ID-INODE`, the inode of the
/// journal directory, so two journals on one host never share a tag.
pub fn helper_tag(id: u64) -> String {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(journal::dir()).map(|m| m.ino()).unwrap_or(0);
    format!("{}-{ino}", firewall::tag(id))
}

/// A cpu-stress of `secs` seconds on `threads` busy threads; the undo
/// kills it. `target` names it in the journal.
pub fn cpu_stress(id: u64, target: &str, secs: u64, threads: Option<u32>) -> Result<Fault> {
    let n = cpus();
    let threads = threads.unwrap_or(n);
    if threads == 0 || threads > n * MAX_THREADS_PER_CPU {
        return Err(Error::usage(format!("THREADS must be 1 to {} (8 per CPU, {n} CPUs)", n * MAX_THREADS_PER_CPU)));
    }
    if secs == 0 || secs > MAX_SECONDS {
        return Err(Error::usage(format!("SECONDS must be 1 to {MAX_SECONDS}")));
    }
    let desc = format!("{threads} busy threads for {secs}s (they end by themselves; recover kills them sooner)");
    helper_fault(id, "cpu-stress", target, desc, &["cpu".into(), secs.to_string(), threads.to_string()])
}

/// A mem-stress holding `mb` MiB of touched, locked memory until undone.
/// Refused when more than 90% of MemAvailable would be taken.
pub fn mem_stress(id: u64, target: &str, mb: u64) -> Result<Fault> {
    let avail = mem_available()?;
    let want = mb.checked_mul(1 << 20).ok_or_else(|| Error::usage("MB is too large"))?;
    if mb == 0 || want > avail / 10 * 9 {
        return Err(Error::failed(format!(
            "{mb} MB is more than 90% of the memory available now ({} MB); give less",
            avail >> 20
        )));
    }
    let desc = format!("{mb} MB of memory held (touched and locked) until mem-stress-clear");
    helper_fault(id, "mem-stress", target, desc, &["mem".into(), mb.to_string()])
}

/// The fault of a detached helper `TOOL --kvmfi-helper ARGS --kvmfi-tag=T`
/// of fault `id`: started (waiting for its `ready`), killed by its tag.
fn helper_fault(id: u64, kind: &str, target: &str, desc: String, args: &[String]) -> Result<Fault> {
    let tag = helper_tag(id);
    let mut argv = vec![self_exe()?, HELPER_ARG.into()];
    argv.extend(args.iter().cloned());
    argv.push(tag_arg(&tag));
    Ok(Fault {
        kind: kind.into(),
        target: target.into(),
        desc,
        apply: vec![Step::Spawn { argv, tag: tag.clone() }],
        undo: vec![Step::KillTagged { tag }],
    })
}

/// A fill file of `mb` MiB in directory `dir` (named kvmfi-fill-ID);
/// refused unless `keep_mb` MiB stay free afterwards. The undo deletes it.
pub fn fill(id: u64, kind: &str, target: &str, dir: &Path, mb: u64, keep_mb: u64) -> Result<Fault> {
    if !dir.is_dir() {
        return Err(Error::usage(format!("{} is not a directory", dir.display())));
    }
    let free = free_bytes(dir)?;
    let want = mb.checked_mul(1 << 20).ok_or_else(|| Error::usage("MB is too large"))?;
    let keep = keep_mb.saturating_mul(1 << 20);
    if mb == 0 || want.saturating_add(keep) > free {
        return Err(Error::failed(format!(
            "{} has {} MB free; {mb} MB would leave less than the {keep_mb} MB kept free (--keep-free)",
            dir.display(),
            free >> 20
        )));
    }
    let path = dir.join(format!("kvmfi-fill-{id}"));
    if path.exists() {
        return Err(Error::failed(format!("{} already exists", path.display())));
    }
    let p = path.display().to_string();
    Ok(Fault {
        kind: kind.into(),
        target: target.into(),
        desc: format!("{p}: {mb} MB allocated ({} MB were free)", free >> 20),
        apply: vec![Step::FillFile { path: p.clone(), bytes: want }],
        undo: vec![Step::WriteFile { path: p, content: None }],
    })
}

/// Runs a helper: `cpu SECS THREADS`, `mem MB`, `hold --script S --until
/// MARK -- PROG ARGS...`. Each prints `ready` once in place.
pub fn helper_main(args: &[String]) -> Result<()> {
    let ready = || -> Result<()> {
        let mut o = std::io::stdout().lock();
        writeln!(o, "ready").and_then(|_| o.flush()).map_err(|e| Error::io("writing ready", e))
    };
    let num = |i: usize| -> Result<u64> {
        args.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| Error::usage("bad helper arguments"))
    };
    match args.first().map(String::as_str) {
        Some("cpu") => {
            let (secs, threads) = (num(1)?, num(2)?);
            let end = Instant::now() + Duration::from_secs(secs);
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    std::thread::spawn(move || {
                        let mut x: u64 = 1;
                        while Instant::now() < end {
                            for _ in 0..100_000 {
                                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                            }
                        }
                    })
                })
                .collect();
            ready()?;
            hs.into_iter().for_each(|h| {
                let _ = h.join();
            });
            Ok(())
        }
        Some("mem") => {
            let bytes = (num(1)? as usize) << 20;
            // SAFETY: a fresh private anonymous mapping that we only write to.
            let p = unsafe {
                libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
            };
            if p == libc::MAP_FAILED {
                return Err(Error::io("allocating memory", std::io::Error::last_os_error()));
            }
            // Locked if allowed (root), so the pressure cannot be swapped away.
            // SAFETY: p..p+bytes is the mapping made above.
            unsafe { libc::mlock(p, bytes) };
            let page = 4096;
            for off in (0..bytes).step_by(page) {
                // SAFETY: off < bytes, inside the writable mapping.
                unsafe { *(p as *mut u8).add(off) = 1 };
            }
            ready()?;
            loop {
                // SAFETY: pause just sleeps until a signal.
                unsafe { libc::pause() };
            }
        }
        Some("hold") => hold(&args[1..]),
        _ => Err(Error::usage("unknown helper")),
    }
}

/// `hold --script S --until MARK -- PROG ARGS...`: starts PROG (killed when
/// we die), writes S to its stdin and keeps stdin open; once MARK shows on
/// its stdout, says ready and stays until PROG ends or we are killed.
fn hold(args: &[String]) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let get = |k: &str| args.windows(2).find(|w| w[0] == k).map(|w| w[1].clone());
    let script = get("--script").ok_or_else(|| Error::usage("hold: --script missing"))?;
    let mark = get("--until").ok_or_else(|| Error::usage("hold: --until missing"))?;
    let dd = args.iter().position(|a| a == "--").ok_or_else(|| Error::usage("hold: -- missing"))?;
    let prog = &args[dd + 1..];
    let (p, rest) = prog.split_first().ok_or_else(|| Error::usage("hold: no program"))?;
    let mut cmd = std::process::Command::new(p);
    cmd.args(rest).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    // SAFETY: prctl is async-signal-safe; the child dies with us.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::io(format!("starting {p}"), e))?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(script.as_bytes()).and_then(|_| stdin.flush()).map_err(|e| Error::io("writing the script", e))?;
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).map_err(|e| Error::io("reading the helper's output", e))?;
        if n == 0 {
            let st = child.wait().map_err(|e| Error::io("waiting", e))?;
            return Err(Error::failed(format!("{p} ended ({st}) before '{mark}'")));
        }
        if line.trim() == mark {
            break;
        }
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    // Keep stdin open (the session stays) until the program ends.
    let st = child.wait().map_err(|e| Error::io("waiting", e))?;
    drop(stdin);
    Err(Error::failed(format!("{p} ended ({st})")))
}
