//! Pieces the original tools' remaining commands share: bounded stressors
//! and fill files (journaled, killed or deleted by `recover`), the detached
//! helpers behind them (run as `TOOL --kvmfi-helper ...`), node names
//! (cluster.conf, /etc/hosts), and running a `*-local` command on another
//! node over ssh.

use super::steps::tag_arg;
use crate::error::{Error, Result};
use crate::exec;
use crate::journal::{Fault, Step};
use crate::netfault;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
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
    let ino = std::fs::metadata(crate::journal::dir()).map(|m| m.ino()).unwrap_or(0);
    format!("{}-{ino}", netfault::tag(id))
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
    let tag = helper_tag(id);
    let argv = vec![self_exe()?, HELPER_ARG.into(), "cpu".into(), secs.to_string(), threads.to_string(), tag_arg(&tag)];
    Ok(Fault {
        kind: "cpu-stress".into(),
        target: target.into(),
        desc: format!("{threads} busy threads for {secs}s (they end by themselves; recover kills them sooner)"),
        apply: vec![Step::Spawn { argv, tag: tag.clone() }],
        undo: vec![Step::KillTagged { tag }],
    })
}

/// A mem-stress holding `mb` MiB of touched, locked memory until undone.
/// Refused when more than 90% of MemAvailable would be taken.
pub fn mem_stress(id: u64, target: &str, mb: u64) -> Result<Fault> {
    let avail = super::steps::mem_available()?;
    let want = mb.checked_mul(1 << 20).ok_or_else(|| Error::usage("MB is too large"))?;
    if mb == 0 || want > avail / 10 * 9 {
        return Err(Error::failed(format!(
            "{mb} MB is more than 90% of the memory available now ({} MB); give less",
            avail >> 20
        )));
    }
    let tag = helper_tag(id);
    let argv = vec![self_exe()?, HELPER_ARG.into(), "mem".into(), mb.to_string(), tag_arg(&tag)];
    Ok(Fault {
        kind: "mem-stress".into(),
        target: target.into(),
        desc: format!("{mb} MB of memory held (touched and locked) until mem-stress-clear"),
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
    let free = super::steps::free_bytes(dir)?;
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

/// Where the cluster facts come from: `--cluster-conf`, else
/// `$KVMFI_CLUSTER_CONF`, else ./cluster.conf when it exists (the
/// original's default path).
pub fn cluster_conf_path(opt: Option<&Path>) -> Option<PathBuf> {
    opt.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("KVMFI_CLUSTER_CONF").filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("cluster.conf")).filter(|p| p.is_file()))
}

/// A node named on the command line: its address, and its ssh port when
/// cluster.conf gives one.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub name: String,
    pub ip: IpAddr,
    pub ssh_port: Option<u16>,
}

/// Resolves TGT: an address as is; a name through cluster.conf (the
/// shared parser, [`crate::clusterconf`]) when there is one, then the
/// system resolver (/etc/hosts). A cluster.conf address may be a host name.
pub fn resolve(tgt: &str, conf: Option<&Path>) -> Result<Resolved> {
    let nodes = conf_nodes(conf)?;
    if let Ok(ip) = netfault::parse_ip(tgt) {
        let port = nodes.iter().find(|n| n.address.parse::<IpAddr>().ok() == Some(ip)).map(|n| n.port);
        return Ok(Resolved { name: tgt.into(), ip, ssh_port: port });
    }
    if tgt.is_empty() || tgt.len() > 253 || !tgt.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        return Err(Error::usage(format!("'{tgt}' is neither an IP address nor a node name")));
    }
    if let Some(n) = nodes.iter().find(|n| n.name == tgt) {
        let ip = lookup(&n.address)
            .ok_or_else(|| Error::usage(format!("node '{tgt}': cannot resolve its address '{}'", n.address)))?;
        return Ok(Resolved { name: tgt.into(), ip, ssh_port: Some(n.port) });
    }
    let ip = lookup(tgt).ok_or_else(|| {
        Error::usage(format!("unknown node '{tgt}': not in cluster.conf nor /etc/hosts; give its address"))
    })?;
    Ok(Resolved { name: tgt.into(), ip, ssh_port: None })
}

/// An address, or a host name through the system resolver (IPv4 first
/// when the name has both, as localhost has).
fn lookup(host: &str) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    let addrs: Vec<IpAddr> = (host, 0).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default();
    addrs.iter().find(|a| a.is_ipv4()).or_else(|| addrs.first()).copied()
}

fn conf_nodes(conf: Option<&Path>) -> Result<Vec<crate::clusterconf::Node>> {
    match cluster_conf_path(conf) {
        Some(p) => crate::clusterconf::load(&p),
        None => Ok(Vec::new()),
    }
}

/// True when `ip` is an address of this host (it can be bound here).
pub fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// How to reach other nodes.
#[derive(Debug, Clone, Default)]
pub struct Ssh {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub key: Option<PathBuf>,
    /// The injector's path on the other nodes.
    pub remote_tool: String,
}

impl Ssh {
    /// `ssh ... HOST TOOL ARGS`: batch mode (never a password prompt), a
    /// connect timeout, the node's port from cluster.conf unless given.
    pub fn argv(&self, node: &Resolved, args: &[String]) -> Result<Vec<String>> {
        let ssh = exec::require_tool("ssh", "apt-get install openssh-client")?;
        let mut a = vec![ssh.to_string_lossy().into_owned(), "-o".into(), "BatchMode=yes".into(), "-o".into(),
            "ConnectTimeout=10".into()];
        if let Some(p) = self.port.or(node.ssh_port) {
            a.extend(["-p".into(), p.to_string()]);
        }
        if let Some(k) = &self.key {
            a.extend(["-i".into(), k.display().to_string()]);
        }
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.clone()]);
        }
        a.push(node.ip.to_string());
        let mut remote = vec![self.remote_tool.clone()];
        remote.extend(args.iter().cloned());
        a.push(exec::display_argv(&remote));
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let d = std::env::temp_dir().join(format!("kvmfi-cc-{}", std::process::id()));
        std::fs::write(&d, "# c\nmaster,127.0.0.1,22,NameNode\nslave1, localhost ,2221,DataNode # x\n").unwrap();
        let r = resolve("slave1", Some(&d)).unwrap();
        assert_eq!((r.ip.to_string(), r.ssh_port), ("127.0.0.1".to_string(), Some(2221)));
        assert_eq!(resolve("127.0.0.1", Some(&d)).unwrap().ssh_port, Some(22));
        assert!(resolve("bad/name", Some(&d)).is_err());
        assert!(is_local("127.0.0.1".parse().unwrap()));
        let _ = std::fs::remove_file(d);
    }
}
