//! Undo steps: every kind of change a kvmfi tool makes to a host, as the
//! journal records it, one area per file. Each area file owns how its steps
//! are shown (`describe_*`) and carried out; [`Step`] lists every variant,
//! grouped by area, and its two matches below name each one, so a step
//! without an executor does not compile.
//!
//! The JSON of a step is `{"step":"kebab-case-name", fields...}`: the names
//! and fields here are the journal's on-disk format (journals written by
//! older versions must still recover, see shared/tests/old_journals.rs).
//!
//! To add a step: a variant in its area's group below, its `describe_*` and
//! executor in the area's file, and one arm in each match.

pub mod action;
pub mod block;
pub mod cgroups;
pub mod commands;
pub mod files;
pub mod firewall;
pub mod namespaces;
pub mod processes;
pub mod tc;

pub use action::{Action, Phase};
pub use commands::STEP_TIMEOUT;

use crate::error::Result;
use crate::host::ns::{netns_named, ns_inode};
use crate::host::procs::Snapshot;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One change to the host or one undo of it. Each step is idempotent when
/// run as an undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    // --- processes ---------------------------------------------------------
    /// Send `signal` (KILL, STOP, CONT...) to `pid` if it is still the
    /// process that started at `starttime`.
    Signal { pid: i32, starttime: u64, signal: String, what: String },
    /// Start a daemon again as it was started, unless a process with the
    /// same command line already runs.
    Restart { snapshot: Snapshot, what: String },
    /// Start `argv` detached (own session, output to logs/TAG.log) and wait
    /// until it prints `ready` on stdout; `tag` is in its argv, so
    /// [`Step::KillTagged`] finds it again even after the tool was killed.
    Spawn { argv: Vec<String>, tag: String },
    /// SIGKILL every process whose argv holds `--kvmfi-tag=TAG` (and wait
    /// for it to be gone). Idempotent.
    KillTagged { tag: String },

    // --- commands ----------------------------------------------------------
    /// Run a command (argv[0] an absolute path), feeding `stdin`.
    Run {
        argv: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stdin: Option<String>,
    },
    /// Run `argv` only if the output of `check` contains `has` (e.g. start
    /// a domain only while `virsh domstate` says "shut off").
    RunIf { check: Vec<String>, has: String, argv: Vec<String> },

    // --- files and file systems --------------------------------------------
    /// Write `content` to `path` (mode 0644), or remove it when `None`.
    WriteFile { path: String, content: Option<String> },
    /// Create `path` (must not exist) holding `bytes` bytes of allocated
    /// space (fallocate, else zeros written).
    FillFile { path: String, bytes: u64 },
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
    /// Make mount point `path` read-only or read-write (per-mount flag).
    MountReadonly { path: String, readonly: bool },

    // --- firewall ----------------------------------------------------------
    /// Delete the nftables rules commented `tag` from table `inet kvmfi`
    /// (and the table once no kvmfi rule is left).
    NftDeleteTagged { nft: String, tag: String },
    /// Create iptables chain KVMFI and its jumps from INPUT and OUTPUT.
    IptEnsureChain { bin: String },
    /// Delete the iptables rules commented `tag` from chain KVMFI (and the
    /// chain and its jumps once it is empty).
    IptDeleteTagged { bin: String, tag: String },

    // --- traffic control ---------------------------------------------------
    /// Delete the root qdisc of `dev` if its handle is still `handle`.
    TcDeleteRoot { tc: String, dev: String, handle: String },
    /// Give `dev` kvmfi's root prio qdisc (handle 4b46:, 16 bands) unless
    /// it already has it; refused when the root is someone else's.
    TcEnsureRoot { tc: String, dev: String },
    /// Remove one fault's band from kvmfi's root qdisc on `dev`: its
    /// filters (preferences 2*band and 2*band+1) and its netem qdisc; then the root qdisc
    /// itself once no band is left. Idempotent.
    TcDeleteBand { tc: String, dev: String, band: u32 },

    // --- block devices -----------------------------------------------------
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

    // --- cgroups -----------------------------------------------------------
    /// Move the processes (pid + start time) listed into cgroup v2 `to`
    /// (those gone are skipped), then remove cgroup `remove` if given and
    /// empty. Idempotent.
    CgroupMove { procs: Vec<(i32, u64)>, to: String, remove: Option<String> },
    /// Enable `controller` in the parent's cgroup.subtree_control, create
    /// cgroup v2 directory `dir` and write each (file, value) in it.
    CgroupSetup { dir: String, controller: String, settings: Vec<(String, String)> },

    // --- namespaces --------------------------------------------------------
    /// Run `steps` inside the network namespace they were applied in
    /// (identified by the inode of /proc/self/ns/net; `name` is its
    /// /run/netns name if it had one). A namespace that is gone took its
    /// rules and qdiscs with it: nothing is left to undo.
    InNetns { inode: u64, name: Option<String>, steps: Vec<Step> },
    /// Run `steps` only in the mount namespace they were applied in;
    /// from another one the undo fails (and stays in the journal).
    InMountNs { inode: u64, steps: Vec<Step> },
}

impl Action for Step {
    fn describe(&self) -> String {
        use Step::*;
        match self {
            Signal { pid, starttime, signal, what } => processes::describe_signal(*pid, *starttime, signal, what),
            Restart { snapshot, what } => processes::describe_restart(snapshot, what),
            Spawn { argv, tag } => processes::describe_spawn(argv, tag),
            KillTagged { tag } => processes::describe_kill_tagged(tag),
            Run { argv, stdin } => commands::describe_run(argv, stdin.as_deref()),
            RunIf { check, has, argv } => commands::describe_run_if(check, has, argv),
            WriteFile { path, content } => files::describe_write_file(path, content.as_deref()),
            FillFile { path, bytes } => files::describe_fill_file(path, *bytes),
            WriteKnob { path, value, pid } => files::describe_write_knob(path, value, *pid),
            MountReadonly { path, readonly } => files::describe_mount_readonly(path, *readonly),
            NftDeleteTagged { nft, tag } => firewall::describe_nft_delete_tagged(nft, tag),
            IptEnsureChain { bin } => firewall::describe_ipt_ensure_chain(bin),
            IptDeleteTagged { bin, tag } => firewall::describe_ipt_delete_tagged(bin, tag),
            TcDeleteRoot { tc, dev, handle } => tc::describe_delete_root(tc, dev, handle),
            TcEnsureRoot { tc, dev } => tc::describe_ensure_root(tc, dev),
            TcDeleteBand { tc, dev, band } => tc::describe_delete_band(tc, dev, *band),
            DmCreate { name, table, loop_file, loop_nr, messages } => {
                block::describe_dm_create(name, table, loop_file.as_deref(), *loop_nr, messages)
            }
            DmRemove { name, linear, deadline } => block::describe_dm_remove(name, linear, *deadline),
            LoopDetach { loop_nr, file, dev, ino } => block::describe_loop_detach(*loop_nr, file, *dev, *ino),
            CgroupMove { procs, to, remove } => cgroups::describe_move(procs, to, remove.as_deref()),
            CgroupSetup { dir, controller, settings } => cgroups::describe_setup(dir, controller, settings),
            InNetns { inode, name, steps } => namespaces::describe_in_netns(*inode, name.as_deref(), steps),
            InMountNs { inode, steps } => namespaces::describe_in_mount_ns(*inode, steps),
        }
    }

    /// In [`Phase::Apply`] a signal to a process that is gone is an error
    /// (exit 5); in [`Phase::Undo`] it is already done.
    fn execute(&self, phase: Phase, state_dir: &Path) -> Result<()> {
        use Step::*;
        match self {
            Signal { pid, starttime, signal, what } => processes::signal(*pid, *starttime, signal, what, phase),
            Restart { snapshot, what } => processes::restart(snapshot, what, state_dir),
            Spawn { argv, tag } => processes::spawn_ready(argv, tag, state_dir).map(|_| ()),
            KillTagged { tag } => processes::kill_tagged(tag),
            Run { argv, stdin } => commands::run(argv, stdin.as_deref()),
            RunIf { check, has, argv } => commands::run_if(check, has, argv),
            WriteFile { path, content } => files::write_file(path, content.as_deref()),
            FillFile { path, bytes } => files::fill_file(path, *bytes),
            WriteKnob { path, value, pid } => files::write_knob(path, value, *pid, phase),
            MountReadonly { path, readonly } => files::mount_readonly(path, *readonly),
            NftDeleteTagged { nft, tag } => firewall::nft_delete_tagged(nft, tag),
            IptEnsureChain { bin } => firewall::ipt_ensure_chain(bin, state_dir),
            IptDeleteTagged { bin, tag } => firewall::ipt_delete_tagged(bin, tag, state_dir),
            TcDeleteRoot { tc, dev, handle } => tc::delete_root(tc, dev, handle),
            TcEnsureRoot { tc, dev } => tc::ensure_root(tc, dev),
            TcDeleteBand { tc, dev, band } => tc::delete_band(tc, dev, *band),
            DmCreate { name, table, loop_file, loop_nr, messages } => {
                block::dm_create(name, table, loop_file.as_deref(), *loop_nr, messages)
            }
            DmRemove { name, linear, deadline: _ } => block::dm_remove(name, linear),
            LoopDetach { loop_nr, file: _, dev, ino } => block::loop_detach(*loop_nr, *dev, *ino),
            CgroupMove { procs, to, remove } => cgroups::move_procs(procs, to, remove.as_deref(), phase),
            CgroupSetup { dir, controller, settings } => cgroups::setup(dir, controller, settings),
            InNetns { inode, name, steps } => namespaces::in_netns(*inode, name.as_deref(), steps, phase, state_dir),
            InMountNs { inode, steps } => namespaces::in_mount_ns(*inode, steps, phase, state_dir),
        }
    }
}

impl Step {
    /// The exact command or change, as `--dry-run` and `status` print it.
    pub fn describe(&self) -> String {
        Action::describe(self)
    }

    /// Carries the step out (see [`Action::execute`]).
    pub fn execute(&self, phase: Phase, state_dir: &Path) -> Result<()> {
        Action::execute(self, phase, state_dir)
    }
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
