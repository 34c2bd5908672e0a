//! Processes from /proc: discovery by Java main class or command name,
//! signals that only reach the process that was meant (pid + start time),
//! and the snapshot (argv, cwd, environment, uid) that lets a crashed daemon
//! be started again.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// One process as seen in /proc.
#[derive(Debug, Clone, Serialize)]
pub struct Proc {
    pub pid: i32,
    /// Field 22 of /proc/PID/stat (clock ticks after boot): with the pid it
    /// names one process for good, even after the pid is reused.
    pub starttime: u64,
    /// The one-letter state of /proc/PID/stat (R, S, D, T, t, Z, ...).
    pub state: char,
    pub comm: String,
    pub cmdline: Vec<String>,
    pub uid: u32,
    pub gid: u32,
}

impl Proc {
    /// A word for the state: running, sleeping, disk-wait, stopped, zombie...
    pub fn state_name(&self) -> &'static str {
        match self.state {
            'R' => "running",
            'S' => "sleeping",
            'D' => "disk-wait",
            'T' => "stopped",
            't' => "traced",
            'Z' => "zombie",
            'X' | 'x' => "dead",
            'I' => "idle",
            'P' => "parked",
            'W' => "waking",
            _ => "unknown",
        }
    }

    /// The Java main class (or `-jar` file, or `module/class`) when this is a JVM.
    pub fn java_main(&self) -> Option<String> {
        java_main_class(&self.cmdline)
    }
}

/// Parses `(starttime, state, comm)` out of the text of /proc/PID/stat.
pub fn parse_stat(text: &str) -> Option<(u64, char, String)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    // After the state (field 3) comes field 4; starttime is field 22.
    let starttime = rest.nth(18)?.parse().ok()?;
    Some((starttime, state, comm))
}

/// Reads one process; `None` when it is gone (or unreadable).
pub fn read(pid: i32) -> Option<Proc> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let (starttime, state, comm) = parse_stat(&fs::read_to_string(base.join("stat")).ok()?)?;
    let raw = fs::read(base.join("cmdline")).unwrap_or_default();
    let cmdline = split_nul(&raw);
    let status = fs::read_to_string(base.join("status")).unwrap_or_default();
    let id_of = |key: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().nth(1)) // real, EFFECTIVE, saved, fs
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(Proc { pid, starttime, state, comm, cmdline, uid: id_of("Uid:"), gid: id_of("Gid:") })
}

fn split_nul(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Every process on the host, sorted by pid.
pub fn all() -> Vec<Proc> {
    let mut v: Vec<Proc> = fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter_map(read)
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|p| p.pid);
    v
}

/// Java options that take their value as the next word.
const JAVA_OPTS_WITH_VALUE: &[&str] = &[
    "-cp",
    "-classpath",
    "--class-path",
    "-p",
    "--module-path",
    "--upgrade-module-path",
    "--add-modules",
    "--limit-modules",
    "--add-opens",
    "--add-exports",
    "--add-reads",
    "--patch-module",
    "--enable-native-access",
];

/// The main class of a `java` command line: the first word after the
/// options (`-jar F` gives `F`, `-m mod/cls` gives `mod/cls`). `None` when
/// argv[0] is not a java launcher.
pub fn java_main_class(argv: &[String]) -> Option<String> {
    let launcher = Path::new(argv.first()?).file_name()?.to_str()?;
    if launcher != "java" && launcher != "jsvc" {
        return None;
    }
    let mut it = argv.iter().skip(1);
    while let Some(word) = it.next() {
        if word == "-jar" || word == "-m" || word == "--module" {
            return it.next().cloned();
        }
        if JAVA_OPTS_WITH_VALUE.contains(&word.as_str()) {
            it.next();
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        return Some(word.clone());
    }
    None
}

/// How a daemon is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "kebab-case")]
pub enum Matcher {
    /// A JVM whose main class is exactly this (so NameNode never matches
    /// SecondaryNameNode).
    JavaMain(String),
    /// A process whose command name (/proc/PID/comm) or argv[0] basename is
    /// one of these, e.g. `mariadbd`, `mysqld`, `nfsd`.
    Command(Vec<String>),
    /// A JVM with this exact main class and an argument after it that
    /// contains this text (MapReduce task attempts: `YarnChild ...
    /// attempt_..._m_...` is a map, `_r_` a reduce).
    JavaMainArg(String, String),
}

impl Matcher {
    /// True when `p` is this daemon. Zombies never match.
    pub fn matches(&self, p: &Proc) -> bool {
        if p.state == 'Z' {
            return false;
        }
        match self {
            Matcher::JavaMain(class) => p.java_main().as_deref() == Some(class.as_str()),
            Matcher::JavaMainArg(class, text) => {
                p.java_main().as_deref() == Some(class.as_str())
                    && p.cmdline.iter().skip_while(|a| *a != class).skip(1).any(|a| a.contains(text.as_str()))
            }
            Matcher::Command(names) => {
                let argv0 = p
                    .cmdline
                    .first()
                    .and_then(|a| Path::new(a).file_name())
                    .and_then(|n| n.to_str())
                    .unwrap_or("");
                names.iter().any(|n| n == &p.comm || n == argv0)
            }
        }
    }

    /// What is matched, for messages and `list`.
    pub fn describe(&self) -> String {
        match self {
            Matcher::JavaMain(c) => c.clone(),
            Matcher::Command(n) => n.join("|"),
            Matcher::JavaMainArg(c, t) => format!("{c} with an argument holding {t}"),
        }
    }
}

/// Processes matched by `m`, skipping this process itself.
pub fn find(m: &Matcher) -> Vec<Proc> {
    let me = std::process::id() as i32;
    all().into_iter().filter(|p| p.pid != me && m.matches(p)).collect()
}

/// Signal numbers by the names the journal stores.
pub fn signal_number(name: &str) -> Option<i32> {
    Some(match name.trim_start_matches("SIG") {
        "KILL" => libc::SIGKILL,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "TERM" => libc::SIGTERM,
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        _ => return None,
    })
}

/// Outcome of [`signal_if_same`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signalled {
    Sent,
    /// The pid is gone or now belongs to another process: nothing was sent.
    Gone,
}

/// Sends `sig` to `pid` only if it is still the process that started at
/// `starttime`. A pidfd pins the process between the check and the signal,
/// so a reused pid can never be hit.
pub fn signal_if_same(pid: i32, starttime: u64, sig: i32) -> Result<Signalled> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ESRCH) => Ok(Signalled::Gone),
            Some(libc::ENOSYS) => signal_racy(pid, starttime, sig),
            _ => Err(Error::io(format!("opening pid {pid}"), err)),
        };
    }
    let result = match read(pid) {
        Some(p) if p.starttime == starttime => {
            // SAFETY: fd is a pidfd we own; a null siginfo means "as kill(2)".
            let r = unsafe {
                libc::syscall(libc::SYS_pidfd_send_signal, fd, sig, std::ptr::null::<libc::siginfo_t>(), 0)
            };
            if r == 0 {
                Ok(Signalled::Sent)
            } else {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::ESRCH) {
                    Ok(Signalled::Gone)
                } else {
                    Err(Error::io(format!("signalling pid {pid}"), err))
                }
            }
        }
        _ => Ok(Signalled::Gone),
    };
    // SAFETY: fd was returned by pidfd_open above and is closed once.
    unsafe { libc::close(fd) };
    result
}

/// Fallback for kernels without pidfd (before 5.3): check, then kill(2).
fn signal_racy(pid: i32, starttime: u64, sig: i32) -> Result<Signalled> {
    match read(pid) {
        Some(p) if p.starttime == starttime => {
            // SAFETY: kill(2) with a plain pid and signal number.
            if unsafe { libc::kill(pid, sig) } == 0 {
                Ok(Signalled::Sent)
            } else {
                Err(Error::io(format!("signalling pid {pid}"), std::io::Error::last_os_error()))
            }
        }
        _ => Ok(Signalled::Gone),
    }
}

/// Everything needed to start a daemon again the way it was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The executable (/proc/PID/exe), or argv[0] when that is unreadable.
    pub exe: String,
    pub argv: Vec<String>,
    pub cwd: String,
    pub env: Vec<(String, String)>,
    pub uid: u32,
    pub gid: u32,
}

/// Records how `p` was started. Needs root for other users' processes.
pub fn snapshot(p: &Proc) -> Result<Snapshot> {
    let base = PathBuf::from(format!("/proc/{}", p.pid));
    let exe = fs::read_link(base.join("exe"))
        .ok()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|e| !e.ends_with(" (deleted)"))
        .or_else(|| p.cmdline.first().cloned())
        .ok_or_else(|| Error::failed(format!("pid {} has no command line (a kernel thread?)", p.pid)))?;
    let cwd = fs::read_link(base.join("cwd"))
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".into());
    let raw = fs::read(base.join("environ"))
        .map_err(|e| Error::io(format!("reading the environment of pid {}", p.pid), e))?;
    let env = split_nul(&raw)
        .into_iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    Ok(Snapshot { exe, argv: p.cmdline.clone(), cwd, env, uid: p.uid, gid: p.gid })
}

/// True when a live process runs exactly this command line.
pub fn running_with_argv(argv: &[String]) -> bool {
    all().iter().any(|p| p.state != 'Z' && p.cmdline == argv)
}

/// Starts `s` again in its own session, detached, stdin from /dev/null and
/// output appended to `log`. Returns the new pid.
pub fn spawn_detached(s: &Snapshot, log: &Path) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let (argv0, rest) = s.argv.split_first().ok_or_else(|| Error::failed("empty argv"))?;
    let logf = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
    let logf2 = logf.try_clone().map_err(|e| Error::io("duplicating log fd", e))?;
    let mut cmd = std::process::Command::new(&s.exe);
    cmd.arg0(argv0)
        .args(rest)
        .env_clear()
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .current_dir(if Path::new(&s.cwd).is_dir() { s.cwd.as_str() } else { "/" })
        .stdin(std::process::Stdio::null())
        .stdout(logf)
        .stderr(logf2)
        .gid(s.gid)
        .uid(s.uid);
    // SAFETY: setsid is async-signal-safe; it only detaches from our session.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| Error::io(format!("starting {}", s.exe), e))?;
    Ok(child.id() as i32)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn main_class() {
        let nn = v(&["/usr/bin/java", "-Dproc_namenode", "-Xmx1g", "-cp", "/a:/b", "org.apache.hadoop.hdfs.server.namenode.NameNode"]);
        assert_eq!(java_main_class(&nn).unwrap(), "org.apache.hadoop.hdfs.server.namenode.NameNode");
        let snn = v(&["java", "-classpath", "x", "org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode", "-x"]);
        assert_eq!(java_main_class(&snn).unwrap(), "org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode");
        assert_eq!(java_main_class(&v(&["java", "-jar", "a.jar", "Main"])).unwrap(), "a.jar");
        assert_eq!(java_main_class(&v(&["python3", "Main"])), None);
        let m = Matcher::JavaMain("org.apache.hadoop.hdfs.server.namenode.NameNode".into());
        let p = Proc { pid: 1, starttime: 1, state: 'S', comm: "java".into(), cmdline: snn, uid: 0, gid: 0 };
        assert!(!m.matches(&p));
    }

    #[test]
    fn stat_parsing() {
        let t = "42 (a (b) c) T 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 19 20";
        assert_eq!(parse_stat(t).unwrap(), (777, 'T', "a (b) c".into()));
        let me = read(std::process::id() as i32).unwrap();
        assert!(me.starttime > 0);
    }
}
