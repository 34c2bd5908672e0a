//! The fault journal: every change a kvmfi tool makes to a host is written
//! to disk, with the steps that undo it, BEFORE it is applied, so that
//! `recover` can put the host back even after the tool was killed mid-way.
//!
//! # Layout
//! The directory is `$KVMFI_STATE_DIR`, else `/var/lib/kvmfi/journal`
//! (mode 0700; the journal may hold a daemon's environment):
//! - `journal.jsonl`: one JSON record per line, appended and fsync'ed:
//!   `begin` (id, tool, kind, target, description, undo steps) before the
//!   change, `applied` after it, `undone` once its undo steps all ran.
//!   A torn last line (power loss, kill -9 mid-write) is ignored.
//! - `lock`: every tool holds an exclusive flock on it while it reads or
//!   changes the journal, so concurrent invocations are serialized.
//! - `seq`: the last fault id handed out (ids are never reused).
//! - `logs/`: output of daemons that `recover` started again.
//!
//! A fault is *in force* from its `begin` until its `undone` record: one
//! that began but never reported `applied` (the tool died) is in force too,
//! since the change may have happened. Undo steps are idempotent (a SIGCONT
//! goes only to the same process, a rule is deleted only if it is still
//! there), so running them for a change that never happened is harmless and
//! a second `recover` is a no-op. When nothing is in force any more the
//! journal file is emptied.

use crate::error::{Error, Result};
use crate::exec;
use crate::mounts;
use crate::netfault;
use crate::procs::{self, Signalled, Snapshot};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Default journal directory.
pub const DEFAULT_DIR: &str = "/var/lib/kvmfi/journal";
/// Environment variable that overrides [`DEFAULT_DIR`].
pub const DIR_ENV: &str = "KVMFI_STATE_DIR";
/// TEST ONLY: when set to `1`, a tool kills itself with SIGKILL right after
/// applying a change and before recording that it did, to prove `recover`.
pub const TEST_DIE_ENV: &str = "KVMFI_TEST_DIE_AFTER_APPLY";
/// How long a tool waits for another one holding the lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);
/// Time limit for a command run by a step.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The journal directory in force.
pub fn dir() -> PathBuf {
    std::env::var_os(DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| DEFAULT_DIR.into())
}

/// One change to the host or one undo of it. Each step is idempotent when
/// run as an undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Send `signal` (KILL, STOP, CONT...) to `pid` if it is still the
    /// process that started at `starttime`.
    Signal { pid: i32, starttime: u64, signal: String, what: String },
    /// Start a daemon again as it was started, unless a process with the
    /// same command line already runs.
    Restart { snapshot: Snapshot, what: String },
    /// Run a command (argv[0] an absolute path), feeding `stdin`.
    Run {
        argv: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stdin: Option<String>,
    },
    /// Write `content` to `path` (mode 0644), or remove it when `None`.
    WriteFile { path: String, content: Option<String> },
    /// Delete the nftables rules commented `tag` from table `inet kvmfi`
    /// (and the table once no kvmfi rule is left).
    NftDeleteTagged { nft: String, tag: String },
    /// Create iptables chain KVMFI and its jumps from INPUT and OUTPUT.
    IptEnsureChain { bin: String },
    /// Delete the iptables rules commented `tag` from chain KVMFI (and the
    /// chain and its jumps once it is empty).
    IptDeleteTagged { bin: String, tag: String },
    /// Delete the root qdisc of `dev` if its handle is still `handle`.
    TcDeleteRoot { tc: String, dev: String, handle: String },
    /// Make mount point `path` read-only or read-write (per-mount flag).
    MountReadonly { path: String, readonly: bool },
    /// Run `steps` inside the network namespace they were applied in
    /// (identified by the inode of /proc/self/ns/net; `name` is its
    /// /run/netns name if it had one). A namespace that is gone took its
    /// rules and qdiscs with it: nothing is left to undo.
    InNetns { inode: u64, name: Option<String>, steps: Vec<Step> },
    /// Run `steps` only in the mount namespace they were applied in;
    /// from another one the undo fails (and stays in the journal).
    InMountNs { inode: u64, steps: Vec<Step> },
    /// Give `dev` kvmfi's root prio qdisc (handle 4b46:, 16 bands) unless
    /// it already has it; refused when the root is someone else's.
    TcEnsureRoot { tc: String, dev: String },
    /// Remove one fault's band from kvmfi's root qdisc on `dev`: its
    /// filters (preferences 2*band and 2*band+1) and its netem qdisc; then the root qdisc
    /// itself once no band is left. Idempotent.
    TcDeleteBand { tc: String, dev: String, band: u32 },
    /// Start `argv` detached (own session, output to logs/TAG.log) and wait
    /// until it prints `ready` on stdout; `tag` is in its argv, so
    /// [`Step::KillTagged`] finds it again even after the tool was killed.
    Spawn { argv: Vec<String>, tag: String },
    /// SIGKILL every process whose argv holds `--kvmfi-tag=TAG` (and wait
    /// for it to be gone). Idempotent.
    KillTagged { tag: String },
    /// Create `path` (must not exist) holding `bytes` bytes of allocated
    /// space (fallocate, else zeros written).
    FillFile { path: String, bytes: u64 },
    /// Run `argv` only if the output of `check` contains `has` (e.g. start
    /// a domain only while `virsh domstate` says "shut off").
    RunIf { check: Vec<String>, has: String, argv: Vec<String> },
    /// Move the processes (pid + start time) listed into cgroup v2 `to`
    /// (those gone are skipped), then remove cgroup `remove` if given and
    /// empty. Idempotent.
    CgroupMove { procs: Vec<(i32, u64)>, to: String, remove: Option<String> },
    /// Enable `controller` in the parent's cgroup.subtree_control, create
    /// cgroup v2 directory `dir` and write each (file, value) in it.
    CgroupSetup { dir: String, controller: String, settings: Vec<(String, String)> },
    /// Write `value` into the existing kernel knob file `path` (debugfs,
    /// /proc, /sys: no temporary file, no create). With `pid`, only while
    /// that task (thread id) still has start time `starttime`. As an undo,
    /// a knob or task that is gone (ENOENT, ESRCH) is already undone.
    WriteKnob {
        path: String,
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<(i32, u64)>,
    },
    /// Create device-mapper device `name` with `table` (lines `START LEN
    /// TYPE PARAMS`), after binding `loop_file` to /dev/loop`loop_nr` (with
    /// autoclear) when given; then send `messages` to its target.
    DmCreate {
        name: String,
        table: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loop_file: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loop_nr: Option<u32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        messages: Vec<String>,
    },
    /// Remove device-mapper device `name` if it exists. One still open (a
    /// file system, a VM) is never removed: its table becomes `linear`
    /// (the fault ends, its user carries on) and the step fails, so the
    /// fault stays in the journal. `deadline`: Unix time at which the
    /// fault's lease ends (0 = none). Idempotent.
    DmRemove { name: String, linear: String, deadline: u64 },
    /// Detach /dev/loop`loop_nr` if it is still bound to `file` (same
    /// st_dev `dev` and inode `ino`). Idempotent.
    LoopDetach { loop_nr: u32, file: String, dev: u64, ino: u64 },
}

/// The inode of this process's namespace of `kind` (`net`, `mnt`).
pub fn ns_inode(kind: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    // thread-self: setns() moves only the calling thread.
    fs::metadata(format!("/proc/thread-self/ns/{kind}")).ok().map(|m| m.ino())
}

/// Wraps undo steps so that they run in the current network namespace.
pub fn in_this_netns(steps: Vec<Step>) -> Vec<Step> {
    match ns_inode("net") {
        Some(inode) => vec![Step::InNetns { inode, name: netns_named(inode).map(|p| p.display().to_string()), steps }],
        None => steps,
    }
}

/// Wraps undo steps so that they run in the current mount namespace.
pub fn in_this_mountns(steps: Vec<Step>) -> Vec<Step> {
    match ns_inode("mnt") {
        Some(inode) => vec![Step::InMountNs { inode, steps }],
        None => steps,
    }
}

/// The /run/netns entry (`ip netns` name) of the network namespace with
/// this inode, if it has one.
fn netns_named(inode: u64) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| fs::metadata(p).map(|m| m.ino() == inode).unwrap_or(false))
}

/// A file naming the network namespace with this inode: a /run/netns
/// entry, else /proc/PID/ns/net of a process in it.
fn netns_path(inode: u64) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let named = fs::read_dir("/run/netns").into_iter().flatten().filter_map(|e| e.ok()).map(|e| e.path());
    let procs = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .map(|e| e.path().join("ns/net"));
    named.chain(procs).find(|p| fs::metadata(p).map(|m| m.ino() == inode).unwrap_or(false))
}

fn run_steps(steps: &[Step], phase: Phase, state_dir: &Path) -> Result<()> {
    steps.iter().try_for_each(|s| s.execute(phase, state_dir))
}

/// Whether a step runs to make a change or to undo one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Apply,
    Undo,
}

impl Step {
    /// The exact command or change, as `--dry-run` and `status` print it.
    pub fn describe(&self) -> String {
        match self {
            Step::Signal { pid, starttime, signal, what } => {
                format!("kill -{signal} {pid}  # {what}, only if /proc/{pid}/stat starttime is still {starttime}")
            }
            Step::Restart { snapshot, what } => format!(
                "start again unless running: (cd {} && {})  # {what}, uid {} gid {}, {} environment variables",
                exec::shell_quote(&snapshot.cwd),
                exec::display_argv(&snapshot.argv),
                snapshot.uid,
                snapshot.gid,
                snapshot.env.len()
            ),
            Step::Run { argv, stdin: None } => exec::display_argv(argv),
            Step::Run { argv, stdin: Some(s) } => {
                format!("{} <<'EOF'\n{}EOF", exec::display_argv(argv), s)
            }
            Step::WriteFile { path, content: Some(c) } => {
                format!("printf '%s' {} > {}", exec::shell_quote(c), exec::shell_quote(path))
            }
            Step::WriteFile { path, content: None } => format!("rm -f {}", exec::shell_quote(path)),
            Step::NftDeleteTagged { nft, tag } => format!(
                "{nft} delete rule inet {} <chain> handle <h>  # each rule commented \"{tag}\"; then the table if no kvmfi rule is left",
                netfault::NFT_TABLE
            ),
            Step::IptEnsureChain { bin } => format!(
                "{bin} -N {c}; {bin} -I INPUT 1 -j {c}; {bin} -I OUTPUT 1 -j {c}  # each only if missing",
                c = netfault::IPT_CHAIN
            ),
            Step::IptDeleteTagged { bin, tag } => format!(
                "{bin} -D {} <rule>  # each rule commented {tag}; then the jumps and the chain if empty",
                netfault::IPT_CHAIN
            ),
            Step::TcDeleteRoot { tc, dev, handle } => {
                format!("{tc} qdisc del dev {dev} root  # only if the root qdisc is still {handle}")
            }
            Step::MountReadonly { path, readonly } => format!(
                "mount -o remount,bind,{} {}  # this mount point only",
                if *readonly { "ro" } else { "rw" },
                exec::shell_quote(path)
            ),
            Step::InNetns { inode, name, steps } => format!(
                "in network namespace {} (inode {inode}): {}",
                name.as_deref().unwrap_or("-"),
                steps.iter().map(Step::describe).collect::<Vec<_>>().join("; ")
            ),
            Step::InMountNs { inode, steps } => format!(
                "in mount namespace inode {inode}: {}",
                steps.iter().map(Step::describe).collect::<Vec<_>>().join("; ")
            ),
            s @ (Step::DmCreate { .. } | Step::DmRemove { .. } | Step::LoopDetach { .. }) => crate::blockdev::describe_step(s),
            Step::WriteKnob { path, value, pid } => format!(
                "echo {} > {}{}",
                exec::shell_quote(value),
                exec::shell_quote(path),
                pid.map(|(p, t)| format!("  # only if task {p} still has start time {t}")).unwrap_or_default()
            ),
            other => crate::injector::steps::describe(other),
        }
    }

    /// Carries the step out. In [`Phase::Apply`] a signal to a process that
    /// is gone is an error (exit 5); in [`Phase::Undo`] it is already done.
    pub fn execute(&self, phase: Phase, state_dir: &Path) -> Result<()> {
        match self {
            Step::Signal { pid, starttime, signal, what } => {
                let sig = procs::signal_number(signal)
                    .ok_or_else(|| Error::failed(format!("unknown signal '{signal}' in the journal")))?;
                match procs::signal_if_same(*pid, *starttime, sig)? {
                    Signalled::Sent => Ok(()),
                    Signalled::Gone if phase == Phase::Undo => Ok(()),
                    Signalled::Gone => Err(Error::not_found(format!("{what} (pid {pid}) exited before SIG{signal}"))),
                }
            }
            Step::Restart { snapshot, what } => {
                if procs::running_with_argv(&snapshot.argv) {
                    return Ok(());
                }
                let logs = state_dir.join("logs");
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&logs)
                    .map_err(|e| Error::io(format!("creating {}", logs.display()), e))?;
                let name: String = what.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
                let pid = procs::spawn_detached(snapshot, &logs.join(format!("{name}.log")))?;
                eprintln!("started {what} again as pid {pid} (output in {}/{name}.log)", logs.display());
                Ok(())
            }
            Step::Run { argv, stdin } => exec::run_ok(argv, stdin.as_deref(), STEP_TIMEOUT).map(|_| ()),
            Step::WriteFile { path, content } => match content {
                Some(c) => write_file_durably(Path::new(path), c.as_bytes(), 0o644),
                None => match fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(format!("removing {path}"), e)),
                    _ => Ok(()),
                },
            },
            Step::NftDeleteTagged { nft, tag } => netfault::nft_delete_tagged(nft, tag),
            Step::IptEnsureChain { bin } => netfault::ipt_ensure_chain(bin, state_dir),
            Step::IptDeleteTagged { bin, tag } => netfault::ipt_delete_tagged(bin, tag, state_dir),
            Step::TcDeleteRoot { tc, dev, handle } => netfault::tc_delete_root(tc, dev, handle),
            Step::MountReadonly { path, readonly } => mounts::set_readonly(Path::new(path), *readonly),
            Step::InNetns { inode, name, steps } => {
                if ns_inode("net") == Some(*inode) {
                    return run_steps(steps, phase, state_dir);
                }
                let found = name
                    .as_ref()
                    .map(PathBuf::from)
                    .filter(|p| {
                        use std::os::unix::fs::MetadataExt;
                        fs::metadata(p).map(|m| m.ino() == *inode).unwrap_or(false)
                    })
                    .or_else(|| netns_path(*inode));
                let Some(path) = found else {
                    eprintln!("note: network namespace {inode} is gone, and its rules with it");
                    return Ok(());
                };
                let steps = steps.clone();
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
            Step::InMountNs { inode, steps } => {
                if ns_inode("mnt") == Some(*inode) {
                    run_steps(steps, phase, state_dir)
                } else {
                    Err(Error::failed(format!(
                        "this was changed in mount namespace {inode}; run recover from inside it"
                    )))
                }
            }
            s @ (Step::DmCreate { .. } | Step::DmRemove { .. } | Step::LoopDetach { .. }) => crate::blockdev::execute_step(s),
            Step::WriteKnob { path, value, pid } => write_knob(path, value, *pid, phase),
            other => crate::injector::steps::execute(other, phase, state_dir),
        }
    }
}

/// [`Step::WriteKnob`]: one write(2) of `value` into an existing file.
fn write_knob(path: &str, value: &str, pid: Option<(i32, u64)>, phase: Phase) -> Result<()> {
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

/// Writes `data` to `path` through a temporary file, fsync and rename.
pub fn write_file_durably(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("kvmfi-tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    f.write_all(data).and_then(|_| f.sync_all()).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("replacing {}", path.display()), e))?;
    Ok(())
}

/// A change to make: what it is, how to make it, how to undo it.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The command that made it, e.g. `hang`, `network`, `db-limit`.
    pub kind: String,
    /// What it targets, e.g. `nn`, `10.0.0.12`, `cloud@%`.
    pub target: String,
    /// One line for people.
    pub desc: String,
    pub apply: Vec<Step>,
    /// Run in this order to undo.
    pub undo: Vec<Step>,
}

impl Fault {
    /// Prints what would be done, for `--dry-run`: the apply steps, then
    /// the undo steps as comments.
    pub fn print_dry_run(&self) -> Result<()> {
        crate::run::out(format!("# {} {}: {}", self.kind, self.target, self.desc))?;
        for s in &self.apply {
            crate::run::out(s.describe())?;
        }
        for s in &self.undo {
            crate::run::out(format!("# undo: {}", s.describe()))?;
        }
        Ok(())
    }
}

/// One line of the journal file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    op: String,
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    desc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    undo: Option<Vec<Step>>,
}

/// A fault in force, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: u64,
    pub tool: String,
    pub kind: String,
    pub target: String,
    /// `applied`, or `pending` when the tool died before confirming.
    pub state: String,
    /// Unix time of the change.
    pub since: u64,
    pub desc: String,
    pub undo: Vec<Step>,
}

/// Reads the faults in force from `dir`'s journal, oldest first. Needs no
/// lock: a torn or half-written last line is skipped.
pub fn read_entries(dir: &Path) -> Result<Vec<Entry>> {
    let path = dir.join("journal.jsonl");
    let text = match fs::read(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let mut entries: Vec<Entry> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: Record = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(_) => {
                // A torn line is expected only last; anywhere else say so.
                if n + 1 != lines.len() {
                    eprintln!("warning: ignoring damaged line {} of {}", n + 1, path.display());
                }
                continue;
            }
        };
        match rec.op.as_str() {
            "begin" => entries.push(Entry {
                id: rec.id,
                tool: rec.tool.unwrap_or_default(),
                kind: rec.kind.unwrap_or_default(),
                target: rec.target.unwrap_or_default(),
                state: "pending".into(),
                since: rec.time.unwrap_or(0),
                desc: rec.desc.unwrap_or_default(),
                undo: rec.undo.unwrap_or_default(),
            }),
            "applied" => {
                if let Some(e) = entries.iter_mut().find(|e| e.id == rec.id) {
                    e.state = "applied".into();
                }
            }
            "undone" => entries.retain(|e| e.id != rec.id),
            _ => {}
        }
    }
    Ok(entries)
}

/// The journal opened for changes: holds the lock until dropped.
pub struct Journal {
    dir: PathBuf,
    tool: String,
    file: File,
    _lock: File,
}

impl Journal {
    /// Opens (creating) the journal in [`dir()`] for `tool` and takes the
    /// lock, waiting up to [`LOCK_WAIT`] for another tool to finish.
    pub fn open(tool: &str) -> Result<Journal> {
        Self::open_in(&dir(), tool)
    }

    /// Like [`Journal::open`] with an explicit directory.
    pub fn open_in(dir: &Path, tool: &str) -> Result<Journal> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating journal directory {}", dir.display()), e))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("lock"))
            .map_err(|e| Error::io(format!("opening {}/lock", dir.display()), e))?;
        let start = Instant::now();
        loop {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a file descriptor we own.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(Error::io(format!("locking {}/lock", dir.display()), err));
            }
            if start.elapsed() > LOCK_WAIT {
                return Err(Error::failed(format!(
                    "another kvmfi tool has held {}/lock for {}s; wait for it or check 'status'",
                    dir.display(),
                    LOCK_WAIT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let path = dir.join("journal.jsonl");
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        if !existed {
            sync_dir(dir)?;
        }
        // A torn last line is a record whose write never returned: a torn
        // `begin` means its steps never ran. Cut it off rather than end it
        // with a newline, which would leave a damaged line in the middle
        // that every later reader warns about.
        let data = fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let whole = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if whole != data.len() {
            file.set_len(whole as u64)
                .and_then(|_| file.sync_data())
                .map_err(|e| Error::io(format!("repairing {}", path.display()), e))?;
        }
        let mut journal = Journal { dir: dir.to_path_buf(), tool: tool.to_string(), file, _lock: lock };
        // Nothing in force: start from an empty file, so damage left by an
        // older version or a crash does not outlive the next change.
        if whole != 0 {
            journal.compact()?;
        }
        Ok(journal)
    }

    /// The directory of this journal.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Faults in force, oldest first (all tools).
    pub fn entries(&self) -> Result<Vec<Entry>> {
        read_entries(&self.dir)
    }

    /// Hands out the next fault id (never reused, fsync'ed).
    pub fn next_id(&mut self) -> Result<u64> {
        let seq = self.dir.join("seq");
        let last: u64 = fs::read_to_string(&seq).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        let max_in_file = self.entries()?.iter().map(|e| e.id).max().unwrap_or(0);
        let id = last.max(max_in_file) + 1;
        write_file_durably(&seq, format!("{id}\n").as_bytes(), 0o600)?;
        Ok(id)
    }

    fn append(&mut self, rec: &Record) -> Result<()> {
        let mut line = serde_json::to_string(rec).map_err(|e| Error::failed(format!("encoding journal record: {e}")))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(format!("writing {}/journal.jsonl", self.dir.display()), e))
    }

    fn simple(op: &str, id: u64) -> Record {
        Record { op: op.into(), id, tool: None, time: None, kind: None, target: None, desc: None, undo: None }
    }

    /// Journals `fault` (fsync'ed), then applies it. If a step fails, what
    /// was done is undone and the error returned. Returns the fault id.
    /// `id` must come from [`Journal::next_id`] (the steps may carry it).
    pub fn apply(&mut self, id: u64, fault: Fault) -> Result<u64> {
        self.append(&Record {
            op: "begin".into(),
            id,
            tool: Some(self.tool.clone()),
            time: Some(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)),
            kind: Some(fault.kind.clone()),
            target: Some(fault.target.clone()),
            desc: Some(fault.desc.clone()),
            undo: Some(fault.undo.clone()),
        })?;
        for step in &fault.apply {
            if let Err(err) = step.execute(Phase::Apply, &self.dir) {
                return match self.run_undo(id, &fault.undo) {
                    Ok(()) => Err(err),
                    Err(undo_err) => Err(Error::failed(format!(
                        "{err}; undoing it failed too ({undo_err}): fault {id} stays in the journal, run 'recover {id}'"
                    ))),
                };
            }
        }
        if std::env::var(TEST_DIE_ENV).as_deref() == Ok("1") {
            // SAFETY: kill(2) of our own pid: the test hook dies like kill -9.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        self.append(&Self::simple("applied", id))?;
        Ok(id)
    }

    /// Runs `undo` steps (all of them, even after a failure) and records
    /// the fault as undone when every step succeeded.
    fn run_undo(&mut self, id: u64, undo: &[Step]) -> Result<()> {
        let mut errors = Vec::new();
        for step in undo {
            if let Err(e) = step.execute(Phase::Undo, &self.dir) {
                errors.push(e.to_string());
            }
        }
        if !errors.is_empty() {
            return Err(Error::failed(format!("undoing fault {id}: {}", errors.join("; "))));
        }
        self.append(&Self::simple("undone", id))?;
        self.compact()
    }

    /// Undoes one fault in force by id (of any tool).
    pub fn undo(&mut self, id: u64) -> Result<Entry> {
        let entry = self
            .entries()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::not_found(format!("no fault {id} is in force; see 'status'")))?;
        self.run_undo(id, &entry.undo)?;
        Ok(entry)
    }

    /// Undoes, newest first, every fault in force that `keep` selects.
    /// Goes on after a failure; returns the undone entries, or an error
    /// naming those that could not be undone.
    pub fn undo_where(&mut self, keep: impl Fn(&Entry) -> bool) -> Result<Vec<Entry>> {
        let mut todo: Vec<Entry> = self.entries()?.into_iter().filter(|e| keep(e)).collect();
        todo.reverse();
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for e in todo {
            match self.run_undo(e.id, &e.undo) {
                Ok(()) => done.push(e),
                Err(err) => errors.push(err.to_string()),
            }
        }
        if errors.is_empty() {
            Ok(done)
        } else {
            Err(Error::failed(format!(
                "{} undone, {} still in force: {}",
                done.len(),
                errors.len(),
                errors.join("; ")
            )))
        }
    }

    /// Faults of this tool (or of every tool with `all_tools`) in force.
    pub fn mine(&self, all_tools: bool) -> Result<Vec<Entry>> {
        Ok(self.entries()?.into_iter().filter(|e| all_tools || e.tool == self.tool).collect())
    }

    /// The tool this journal was opened for.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// Empties the journal file once nothing is in force.
    fn compact(&mut self) -> Result<()> {
        if self.entries()?.is_empty() {
            self.file
                .set_len(0)
                .and_then(|_| self.file.sync_all())
                .map_err(|e| Error::io("emptying the journal", e))?;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}

/// Prints entries for `status`: tab-separated `id tool kind target state
/// since desc`, or one JSON object per line.
pub fn print_entries(entries: &[Entry], json: bool) -> Result<()> {
    for e in entries {
        if json {
            crate::run::out_json(e)?;
        } else {
            crate::run::out(format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                e.id,
                e.tool,
                e.kind,
                e.target,
                e.state,
                e.since,
                e.desc.replace(['\t', '\n'], " ")
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kvmfi-journal-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn file_fault(path: &Path) -> Fault {
        Fault {
            kind: "write".into(),
            target: path.display().to_string(),
            desc: "test".into(),
            apply: vec![Step::WriteFile { path: path.display().to_string(), content: Some("ERROR\n".into()) }],
            undo: vec![Step::WriteFile { path: path.display().to_string(), content: None }],
        }
    }

    #[test]
    fn apply_undo_compact() {
        let d = tmpdir("a");
        let marker = d.with_extension("marker");
        let mut j = Journal::open_in(&d, "t").unwrap();
        let id = j.next_id().unwrap();
        j.apply(id, file_fault(&marker)).unwrap();
        assert_eq!(fs::read_to_string(&marker).unwrap(), "ERROR\n");
        let e = j.entries().unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].state, "applied");
        assert_eq!(j.undo_where(|_| true).unwrap().len(), 1);
        assert!(!marker.exists());
        assert!(j.entries().unwrap().is_empty());
        assert_eq!(fs::metadata(d.join("journal.jsonl")).unwrap().len(), 0);
        // A second recover is a no-op; ids are never reused.
        assert!(j.undo_where(|_| true).unwrap().is_empty());
        assert_eq!(j.next_id().unwrap(), id + 1);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn torn_line_and_pending() {
        let d = tmpdir("b");
        fs::create_dir_all(&d).unwrap();
        let marker = d.join("m");
        let undo = serde_json::to_string(&vec![Step::WriteFile { path: marker.display().to_string(), content: None }]).unwrap();
        fs::write(
            d.join("journal.jsonl"),
            format!("{{\"op\":\"begin\",\"id\":4,\"tool\":\"t\",\"kind\":\"k\",\"undo\":{undo}}}\n{{\"op\":\"app"),
        )
        .unwrap();
        fs::write(&marker, "x").unwrap();
        let mut j = Journal::open_in(&d, "t").unwrap();
        let e = j.entries().unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].state, "pending");
        // The next record must not be glued onto the torn line.
        let id = j.next_id().unwrap();
        assert_eq!(id, 5);
        j.apply(id, file_fault(&d.join("n"))).unwrap();
        assert_eq!(j.entries().unwrap().len(), 2);
        let undone = j.undo_where(|_| true).unwrap();
        assert_eq!(undone.iter().map(|e| e.id).collect::<Vec<_>>(), vec![5, 4]);
        assert!(!marker.exists());
        let _ = fs::remove_dir_all(&d);
    }

    /// CI seed 251995913: a torn line in an empty journal, "repaired" with a
    /// newline, then torn again, left a damaged first line that made every
    /// later `recover` warn. The torn tail is cut off and an idle journal
    /// emptied, so a second recover stays silent.
    #[test]
    fn torn_tail_is_cut_not_kept() {
        let d = tmpdir("d");
        fs::create_dir_all(&d).unwrap();
        let path = d.join("journal.jsonl");
        fs::write(&path, "{\"op\":\"beg").unwrap();
        drop(Journal::open_in(&d, "t").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        fs::write(&path, "{\"op\":\"beg\n{\"op\"").unwrap();
        drop(Journal::open_in(&d, "t").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn failed_apply_rolls_back() {
        let d = tmpdir("c");
        let marker = d.with_extension("m2");
        let mut j = Journal::open_in(&d, "t").unwrap();
        let id = j.next_id().unwrap();
        let mut f = file_fault(&marker);
        f.apply.push(Step::Run { argv: vec!["/bin/false".into()], stdin: None });
        assert!(j.apply(id, f).is_err());
        assert!(!marker.exists());
        assert!(j.entries().unwrap().is_empty());
        let _ = fs::remove_dir_all(&d);
    }
}
