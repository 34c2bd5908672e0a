//! kvmfi-halt: the operator's stop button. Sets the halt flag first (so
//! nothing new is armed meanwhile), stops running experiments, disarms
//! every loaded kvmfi module and legacy /proc knob, undoes every journaled
//! fault of every tool and closes killed experiment runs. Idempotent; needs no network for the
//! local host; `--cluster` does the same on every node of cluster.conf.

use clap::Parser;
use kvmfi::device::Device;
use kvmfi::error::{require_root, Error, Result};
use kvmfi::halt::{self, Halt};
use kvmfi::journal::{self, Journal};
use kvmfi::run::out;
use kvmfi::{kmod, symbols};
use std::path::{Path, PathBuf};
use std::time::Duration;

const AFTER_HELP: &str = "\
EXIT STATUS: 0 success (halted, released, or status shown); 1 something could not be undone (said on stderr; run kvmfi-halt again); 2 usage error; 3 needs root; with --cluster, 1 when any node failed.

FILES: /var/lib/kvmfi/halt, the halt flag ($KVMFI_HALT_FILE overrides): JSON with since (unix time), by and reason. While it exists every kvmfi tool refuses to arm a kernel fault or to apply a journaled change, with exit status 6; undoing (off, recover) still works. It is kept across reboots on purpose: a halted host stays halted until someone releases it, even if the incident rebooted it and a timer starts experiments at boot. /var/lib/kvmfi/journal ($KVMFI_STATE_DIR): the journal every tool writes; halting undoes all of it, like `recover --all`.

WHAT IS UNDONE: every kvmfi module that is loaded is disarmed through its /dev/kvmfi device; every legacy /proc/<module>/signal knob is set to 0; every journaled fault of every tool (Hadoop and CloudStack injectors, disk-fi, kfail-fi, network, stress and daemon faults) is undone, newest first; running kvmfi-experiment processes get SIGTERM and roll back their own faults. The modules stay loaded (rmmod them if you want).

EXAMPLES:
  kvmfi-halt --reason 'payments latency alarm'
  kvmfi-halt --status
  kvmfi-halt --cluster -c /etc/kvmfi/cluster.conf --reason 'game day over'
  kvmfi-halt --release";

/// Stop every kvmfi fault on this host (or cluster) and refuse new ones until released
///
/// Disarms every kvmfi kernel fault (each loaded module, legacy /proc knobs too), undoes every journaled user-space fault of every tool (as `recover --all` does), stops running kvmfi-experiment runs (they roll back), and sets a halt flag that makes every kvmfi tool refuse to arm until `kvmfi-halt --release`. Safe to run again and again, with or without an experiment running; the local host needs no network.
#[derive(Parser, Debug)]
#[command(name = "kvmfi-halt", version, after_long_help = AFTER_HELP)]
pub struct Cli {
    /// Why (shown by --status and in every refused tool's error)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Remove the halt flag: tools may arm again (nothing else changes)
    #[arg(long, conflicts_with_all = ["status", "reason"])]
    pub release: bool,
    /// Say whether kvmfi is halted (since when, by whom, why) and what is still in force
    #[arg(long, conflicts_with = "reason")]
    pub status: bool,
    /// --status as one JSON object
    #[arg(long, requires = "status")]
    pub json: bool,
    /// Do the same on every node of cluster.conf, all at once: kvmfi-halt run on each over ssh (batch mode)
    #[arg(long)]
    pub cluster: bool,
    /// The cluster file (default: $KVMFI_CLUSTER_CONF, ./cluster.conf, /etc/kvmfi/cluster.conf)
    #[arg(short = 'c', long, value_name = "FILE", requires = "cluster")]
    pub config: Option<PathBuf>,
    /// Remote account (--cluster)
    #[arg(short = 'u', long, value_name = "USER", default_value = "root")]
    pub user: String,
    /// Private key to log in with (repeatable; default: ssh's own; --cluster)
    #[arg(short = 'i', long, value_name = "KEY")]
    pub identity: Vec<PathBuf>,
    /// Check host keys against this known_hosts file (default: accept any, as cluster_controller; --cluster)
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Limit for connecting to a node (--cluster)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = positive)]
    pub connect_timeout: Duration,
    /// kvmfi-halt on the nodes (--cluster)
    #[arg(long, value_name = "PATH", default_value = "kvmfi-halt")]
    pub remote_halt: String,
}

fn positive(s: &str) -> std::result::Result<Duration, String> {
    match kvmfi::units::parse_duration(s)? {
        d if d.is_zero() => Err(format!("'{s}' must be more than 0")),
        d => Ok(d),
    }
}

/// The clap definition (for man pages and completions).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Parses `args` and acts.
pub fn run(args: impl kvmfi::cliparse::Argv) -> Result<()> {
    let Some(cli) = kvmfi::cliparse::parse_plain::<Cli>(args)? else { return Ok(()) };
    if cli.cluster {
        return cluster(&cli);
    }
    if cli.status {
        return status(cli.json);
    }
    require_root("kvmfi-halt")?;
    if cli.release {
        return release();
    }
    halt_here(cli.reason.as_deref().unwrap_or("no reason given"))
}

/// Who is running this: `user@host`.
fn who() -> String {
    let user = std::env::var("SUDO_USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map(|u| u.name))
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default();
    format!("{user}@{host}")
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Halts this host: flag, experiments, modules, legacy knobs, journal.
fn halt_here(reason: &str) -> Result<()> {
    let flag = halt::path();
    match halt::current() {
        Some(h) => out(format!("already halted since unix time {} by {} ({}); undoing whatever is in force again", h.since, h.by, h.reason))?,
        None => {
            let h = Halt { since: now(), by: who(), reason: reason.to_string() };
            if let Some(dir) = flag.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            }
            let text = serde_json::to_string(&h).map_err(|e| Error::failed(format!("encoding the flag: {e}")))?;
            journal::write_file_durably(&flag, format!("{text}\n").as_bytes(), 0o644)?;
            out(format!("halted: {} set; every kvmfi tool refuses to arm until `kvmfi-halt --release`", flag.display()))?;
        }
    }
    let mut errors = Vec::new();
    let stopped = stop_experiments();
    if stopped > 0 {
        out(format!("sent SIGTERM to {stopped} running kvmfi-experiment run(s): they roll back"))?;
    }
    for (module, res) in disarm_modules() {
        match res {
            Ok(()) => out(format!("disarmed module {module}"))?,
            Err(e) => errors.push(format!("module {module}: {e}")),
        }
    }
    for (knob, res) in legacy_off() {
        match res {
            Ok(()) => out(format!("wrote 0 to {knob}"))?,
            Err(e) => errors.push(e.to_string()),
        }
    }
    match undo_journal() {
        Ok(n) => out(format!("journal: {n} fault(s) undone"))?,
        Err(e) => errors.push(format!("journal: {e}")),
    }
    // Give stopped runs a moment to undo their faults, then undo again
    // whatever they journaled meanwhile.
    if stopped > 0 {
        wait_experiments_gone(Duration::from_secs(30));
        if let Ok(n) = undo_journal() {
            if n > 0 {
                out(format!("journal: {n} more fault(s) undone"))?;
            }
        }
    }
    // Runs killed earlier left kvmfi-experiment's own journal behind: its
    // recover closes them (their faults are undone by now).
    if let Some(exp) = experiment_binary() {
        match kvmfi::exec::run(&[exp.display().to_string(), "recover".into()], None, Duration::from_secs(300)) {
            Ok(o) if o.ok() => o.stdout.lines().try_for_each(|l| out(format!("kvmfi-experiment recover: {l}")))?,
            Ok(o) => errors.push(format!("kvmfi-experiment recover: {}", o.first_error_line())),
            Err(e) => errors.push(format!("kvmfi-experiment recover: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::failed(format!("halted, but not everything was undone: {}; run kvmfi-halt again", errors.join("; "))))
    }
}

/// kvmfi-experiment next to this binary, else in PATH, if installed.
fn experiment_binary() -> Option<PathBuf> {
    let next = std::env::current_exe().ok()?.parent()?.join("kvmfi-experiment");
    if next.exists() {
        return Some(next);
    }
    kvmfi::exec::which("kvmfi-experiment", &[])
}

/// Pids of running kvmfi-experiment processes (not this one).
fn experiment_pids() -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| p != me)
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).ok().is_some_and(|c| {
                let argv0 = c.split(|b| *b == 0).next().unwrap_or(&[]);
                Path::new(std::str::from_utf8(argv0).unwrap_or("")).file_name().is_some_and(|n| n == "kvmfi-experiment")
                    && c.split(|b| *b == 0).nth(1) == Some(b"run")
            })
        })
        .collect()
}

fn stop_experiments() -> usize {
    let pids = experiment_pids();
    for p in &pids {
        // SAFETY: kill(2) with a pid read from /proc; a gone pid gives ESRCH.
        unsafe { libc::kill(*p, libc::SIGTERM) };
    }
    pids.len()
}

fn wait_experiments_gone(limit: Duration) {
    let end = std::time::Instant::now() + limit;
    while !experiment_pids().is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The control devices of every loaded kvmfi module.
fn loaded_modules() -> Vec<String> {
    let mut names: Vec<String> = symbols::ALL
        .iter()
        .chain(std::iter::once(&symbols::FUNC_FAIL))
        .chain(symbols::SUBCOMMAND_MODULES.iter().map(|(_, s)| *s))
        .filter(|s| kmod::is_loaded(s.module))
        .map(|s| kmod::kernel_name(s.module))
        .collect();
    for e in std::fs::read_dir("/dev/kvmfi").into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

fn disarm_modules() -> Vec<(String, Result<()>)> {
    loaded_modules().into_iter().map(|m| (m.clone(), Device::open(&m).and_then(|d| d.disarm()))).collect()
}

/// The original modules' /proc directories; `echo 0 > signal` disarms each.
const LEGACY_DIRS: &[&str] = &[
    "cpu-general-fi",
    "file-read-fi",
    "file-write-fi",
    "pt-load-fi",
    "pt-update-fi",
    "memory-manage-fi",
    "kswapd-fi",
    "resource",
    "kvm-state-fi",
    "kvm-version-fi",
    "vm-migration-fi",
];

fn legacy_off() -> Vec<(String, Result<()>)> {
    LEGACY_DIRS
        .iter()
        .map(|d| Path::new("/proc").join(d).join("signal"))
        .filter(|p| p.exists())
        .map(|p| {
            let r = std::fs::write(&p, "0\n").map_err(|e| Error::io(format!("writing 0 to {}", p.display()), e));
            (p.display().to_string(), r)
        })
        .collect()
}

/// Undoes every fault in the journal, of every tool (`recover --all`).
fn undo_journal() -> Result<usize> {
    let mut j = Journal::open("kvmfi-halt")?;
    Ok(j.undo_where(|_| true)?.len())
}

fn release() -> Result<()> {
    let flag = halt::path();
    match halt::current() {
        None => out("not halted; nothing to release"),
        Some(h) => {
            std::fs::remove_file(&flag).map_err(|e| Error::io(format!("removing {}", flag.display()), e))?;
            out(format!("released (was halted since unix time {} by {}: {}); tools may arm again", h.since, h.by, h.reason))
        }
    }
}

#[derive(serde::Serialize)]
struct Status {
    halted: bool,
    flag: String,
    since: Option<u64>,
    by: Option<String>,
    reason: Option<String>,
    /// Modules loaded and armed now.
    armed: Vec<String>,
    /// Journaled faults in force now.
    journal: usize,
}

fn status(json: bool) -> Result<()> {
    let h = halt::current();
    let armed: Vec<String> = loaded_modules()
        .into_iter()
        .filter(|m| Device::open(m).and_then(|d| d.status()).is_ok_and(|s| s.state == kvmfi::abi::STATE_ARMED))
        .collect();
    let journal = journal::read_entries(&journal::dir()).map(|e| e.len()).unwrap_or(0);
    let st = Status {
        halted: h.is_some(),
        flag: halt::path().display().to_string(),
        since: h.as_ref().map(|h| h.since),
        by: h.as_ref().map(|h| h.by.clone()),
        reason: h.as_ref().map(|h| h.reason.clone()),
        armed,
        journal,
    };
    if json {
        return kvmfi::run::out_json(&st);
    }
    match &h {
        Some(h) => out(format!("halted since unix time {} by {}: {}", h.since, h.by, h.reason))?,
        None => out("not halted")?,
    }
    out(format!(
        "in force: {} armed module(s){}, {} journaled fault(s)",
        st.armed.len(),
        if st.armed.is_empty() { String::new() } else { format!(" ({})", st.armed.join(", ")) },
        st.journal
    ))
}

/// The cluster file: `explicit`, else $KVMFI_CLUSTER_CONF, ./cluster.conf,
/// /etc/kvmfi/cluster.conf (as cluster_controller looks for it).
fn cluster_conf(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("KVMFI_CLUSTER_CONF").filter(|v| !v.is_empty()) {
        return Ok(p.into());
    }
    ["cluster.conf", "/etc/kvmfi/cluster.conf"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| Error::usage("--cluster: no cluster.conf found; pass -c FILE or set KVMFI_CLUSTER_CONF"))
}

/// Runs kvmfi-halt (with the same action) on every node of cluster.conf,
/// all at once, each over `ssh` in batch mode.
fn cluster(cli: &Cli) -> Result<()> {
    let conf = cluster_conf(cli.config.as_deref())?;
    let nodes = kvmfi::clusterconf::load(&conf)?;
    let ssh = kvmfi::exec::require_tool("ssh", "apt-get install openssh-client")?;
    let mut words = vec![cli.remote_halt.clone()];
    if cli.release {
        words.push("--release".into());
    } else if cli.status {
        words.push("--status".into());
    } else {
        words.push("--reason".into());
        words.push(cli.reason.clone().unwrap_or_else(|| format!("halted from {} with --cluster", who())));
    }
    let remote = kvmfi::exec::display_argv(&words);
    let timeout = cli.connect_timeout + Duration::from_secs(120);
    let results: Vec<(String, Result<kvmfi::exec::Output>)> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|n| {
                let mut argv = vec![
                    ssh.display().to_string(),
                    "-o".into(),
                    "BatchMode=yes".into(),
                    "-o".into(),
                    format!("ConnectTimeout={}", cli.connect_timeout.as_secs().max(1)),
                    "-o".into(),
                    format!("StrictHostKeyChecking={}", if cli.known_hosts.is_some() { "yes" } else { "no" }),
                    "-o".into(),
                    format!("UserKnownHostsFile={}", cli.known_hosts.as_deref().unwrap_or(Path::new("/dev/null")).display()),
                    "-o".into(),
                    "LogLevel=ERROR".into(),
                    "-p".into(),
                    n.port.to_string(),
                    "-l".into(),
                    cli.user.clone(),
                ];
                for k in &cli.identity {
                    argv.extend(["-i".into(), k.display().to_string()]);
                }
                argv.extend([n.address.clone(), remote.clone()]);
                let label = format!("{} ({}:{})", n.name, n.address, n.port);
                s.spawn(move || (label, kvmfi::exec::run(&argv, None, timeout)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| ("?".into(), Err(Error::failed("thread panicked"))))).collect()
    });
    let mut failed = Vec::new();
    for (label, res) in &results {
        let ok = matches!(res, Ok(o) if o.ok());
        out(format!("== {label} {}", if ok { "ok" } else { "FAILED" }))?;
        match res {
            Ok(o) => {
                for l in o.stdout.lines().chain(o.stderr.lines()) {
                    out(format!("   {l}"))?;
                }
            }
            Err(e) => out(format!("   {e}"))?,
        }
        if !ok {
            failed.push(label.clone());
        }
    }
    if failed.is_empty() {
        out(format!("{} node(s) of {}: done", results.len(), conf.display()))
    } else {
        Err(Error::failed(format!("{} of {} node(s) failed: {}", failed.len(), results.len(), failed.join(", "))))
    }
}
