//! kfail-fi: the kernel's own fault-injection framework (failslab,
//! fail_page_alloc, fail_make_request, fail_function), driven through its
//! debugfs knobs with the scope and bound options of every kvmfi tool (see
//! `man kfail-fi`). Every knob is read before it is changed and the old
//! values are journaled before the new ones are written, so `off` and
//! `recover` put them back exactly, even after the tool was killed.

use clap::{ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use kvmfi::cli::Bounds;
use kvmfi::journal::{self, Fault, Journal, Step};
use kvmfi::{errno, procs, Error, Result};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TOOL: &str = "kfail-fi";
/// Where debugfs is (and is mounted when it is not).
pub const DEBUGFS: &str = "/sys/kernel/debug";
/// TEST ONLY: a directory standing in for debugfs (plain files; nothing is
/// mounted), so the journaling and restoring can be tested on any kernel.
pub const DEBUGFS_ENV: &str = "KVMFI_TEST_DEBUGFS";

/// The debugfs root in use.
fn debugfs() -> PathBuf {
    std::env::var_os(DEBUGFS_ENV).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| DEBUGFS.into())
}
/// The fault_attr knobs of every facility (lib/fault-inject.c) that the
/// tool sets; `verbose_ratelimit_*` and the stack-trace filter are left alone.
const ATTR_KNOBS: &[&str] = &["probability", "interval", "times", "space", "verbose", "task-filter"];

/// One of the kernel's fault-injection facilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
pub enum Facility {
    /// Slab allocations (kmalloc, kmem_cache_alloc) fail: CONFIG_FAILSLAB
    #[value(name = "failslab")]
    Failslab,
    /// Page allocations fail: CONFIG_FAIL_PAGE_ALLOC
    #[value(name = "fail_page_alloc", alias = "fail-page-alloc")]
    FailPageAlloc,
    /// Block I/O of chosen devices fails with EIO: CONFIG_FAIL_MAKE_REQUEST
    #[value(name = "fail_make_request", alias = "fail-make-request")]
    FailMakeRequest,
    /// Functions of the kernel's error-injection allow-list return an error: CONFIG_FAIL_FUNCTION
    #[value(name = "fail_function", alias = "fail-function")]
    FailFunction,
}

/// Every facility, in the order `status` shows them.
pub const ALL: [Facility; 4] =
    [Facility::Failslab, Facility::FailPageAlloc, Facility::FailMakeRequest, Facility::FailFunction];

impl Facility {
    /// Its debugfs directory name.
    pub fn name(self) -> &'static str {
        match self {
            Facility::Failslab => "failslab",
            Facility::FailPageAlloc => "fail_page_alloc",
            Facility::FailMakeRequest => "fail_make_request",
            Facility::FailFunction => "fail_function",
        }
    }

    fn config(self) -> &'static str {
        match self {
            Facility::Failslab => "CONFIG_FAILSLAB",
            Facility::FailPageAlloc => "CONFIG_FAIL_PAGE_ALLOC",
            Facility::FailMakeRequest => "CONFIG_FAIL_MAKE_REQUEST",
            Facility::FailFunction => "CONFIG_FAIL_FUNCTION",
        }
    }

    /// Its debugfs directory.
    pub fn dir(self) -> PathBuf {
        debugfs().join(self.name())
    }

    /// The knobs `status` shows: the fault_attr ones and the facility's own.
    fn knobs(self) -> Vec<&'static str> {
        let own: &[&str] = match self {
            Facility::Failslab => &["ignore-gfp-wait", "cache-filter"],
            Facility::FailPageAlloc => &["ignore-gfp-wait", "ignore-gfp-highmem", "min-order"],
            _ => &[],
        };
        ATTR_KNOBS.iter().chain(own).copied().collect()
    }
}

#[derive(Parser, Debug)]
#[command(version, propagate_version = true, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Arm a facility for a scoped target; prints the fault id
    Arm(Box<ArmArgs>),
    /// Put back every knob kfail-fi changed (all its faults, newest first)
    Off,
    /// Like off (or only fault ID); also after kfail-fi was killed mid-way
    Recover {
        /// Only this fault (as `status` lists it)
        id: Option<u64>,
    },
    /// Show the knobs of every facility, the tasks and devices marked make-it-fail, and kfail-fi's faults in force
    Status {
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// (internal) the lease: undo fault ID after a while
    #[command(hide = true)]
    Lease {
        #[arg(long)]
        id: u64,
        #[arg(long, value_name = "MS")]
        after_ms: u64,
        #[arg(long = "kvmfi-tag", value_name = "TAG")]
        tag: String,
    },
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("result").args(["errno", "retval"])))]
struct ArmArgs {
    /// The facility to arm
    #[arg(value_enum)]
    facility: Facility,
    /// fail_function: a function of the kernel's allow-list (/sys/kernel/debug/error_injection/list); repeatable
    #[arg(long, value_name = "FUNCTION", help_heading = "Fault")]
    function: Vec<String>,
    /// fail_function: return this error (default ENOMEM for ERRNO functions): a name or a number
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, help_heading = "Fault")]
    errno: Option<i32>,
    /// fail_function: return this exact value (checked by the kernel against the function's type)
    #[arg(long, value_name = "N", allow_negative_numbers = true, help_heading = "Fault")]
    retval: Option<i64>,
    /// fail_make_request: a block device or partition (as in /sys/class/block); repeatable, required
    #[arg(long, value_name = "NAME", help_heading = "Fault")]
    device: Vec<String>,
    /// failslab, fail_page_alloc: leave allocations that may sleep alone (the kernel's default; kfail-fi
    /// otherwise fails them too, which is what most of a task's allocations are)
    #[arg(long, help_heading = "Fault")]
    ignore_gfp_wait: bool,
    /// fail_page_alloc: leave allocations that may come from highmem alone (the kernel's default; kfail-fi
    /// otherwise fails them too: user pages, page cache and tmpfs pages all carry __GFP_HIGHMEM, even on 64-bit)
    #[arg(long, help_heading = "Fault")]
    ignore_gfp_highmem: bool,
    /// fail_page_alloc: fail only allocations of this order and above (kernel default 1)
    #[arg(long, value_name = "ORDER", default_value_t = 0, help_heading = "Fault")]
    min_order: u32,
    /// Only this thread (sets /proc/TID/make-it-fail and the task filter); repeatable
    #[arg(long, value_name = "TID", value_parser = clap::value_parser!(i32).range(1..), help_heading = "Scope")]
    pid: Vec<i32>,
    /// Every thread of this process (each thread's make-it-fail; threads and children created later inherit
    /// it from their creator); repeatable
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..), help_heading = "Scope")]
    tgid: Vec<i32>,
    /// Act on every task (task filter off) when no --pid or --tgid is given
    #[arg(long, help_heading = "Scope")]
    yes: bool,
    #[command(flatten)]
    bounds: Bounds,
    /// Print the knob writes and their undo, change nothing
    #[arg(long)]
    dry_run: bool,
}

/// The clap definition, for the man page and completion generators.
pub fn command() -> clap::Command {
    Cli::command()
        .name(TOOL)
        .bin_name(TOOL)
        .about("Drive the kernel's own fault-injection framework for a scoped target, restoring it afterwards")
        .long_about(
            "Drive the kernel's own fault-injection framework (Documentation/fault-injection) through its debugfs \
             knobs: failslab (slab allocations fail), fail_page_alloc (page allocations fail), fail_make_request \
             (block I/O of chosen devices fails with EIO) and fail_function (functions of the kernel's \
             error-injection allow-list return an error), with the scope and bound options of every kvmfi tool.\n\n\
             Scope: --pid and --tgid write 1 to /proc/TID/make-it-fail of the target's threads and turn the \
             facility's task-filter on, so only they are hit (children and threads they create later inherit the \
             mark). Without them --yes is needed and every task is hit. Bounds map to the facility's knobs: \
             --probability to probability, --interval, --times, --space, --verbose (0, 1, 2 as the kernel \
             reads them); --duration is a lease kept by a detached helper that undoes the fault when it ends.\n\n\
             Restoring: every knob (and make-it-fail mark, and device mark, and fail_function entry) is read \
             before it is changed; the old values are journaled (fsync'ed, like every kvmfi user-space fault) \
             before the new ones are written. `off` and `recover` write them back exactly, newest fault first, \
             even after kfail-fi was killed (kill -9). debugfs is mounted on /sys/kernel/debug when it is not.\n\n\
             The framework exists only in kernels built with CONFIG_FAULT_INJECTION_DEBUG_FS and the facility's \
             option (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAIL_MAKE_REQUEST, CONFIG_FAIL_FUNCTION); \
             Debian's kernels have none of them: kfail-fi then says so and exits 4. func-fail-fi injects \
             function errors without the framework, vfs-read-fi and vfs-write-fi I/O errors.",
        )
        .after_long_help(
            "EXIT STATUS: 0 success; 1 failed at run time; 2 usage error (nothing changed); 3 needs root; \
             4 unsupported (the kernel lacks the facility); 5 target (task, device) not found.\n\
             FILES: /sys/kernel/debug/{failslab,fail_page_alloc,fail_make_request,fail_function}/; \
             /sys/kernel/debug/error_injection/list; /proc/TID/make-it-fail; /sys/class/block/DEV/make-it-fail; \
             the journal in $KVMFI_STATE_DIR or /var/lib/kvmfi/journal.\n\
             EXAMPLES:\n  kfail-fi arm failslab --tgid 4242 --times 10 --duration 1m\n  \
             kfail-fi arm fail_page_alloc --tgid 4242 --probability 5 --min-order 0\n  \
             kfail-fi arm fail_make_request --device loop0 --yes --probability 10\n  \
             kfail-fi arm fail_function --function __x64_sys_mkdir --errno EACCES --tgid 4242\n  \
             kfail-fi status\n  kfail-fi off",
        )
}

/// Runs the tool with the given arguments.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<()> {
    let Some(matches) = kvmfi::cliparse::parse(command(), args)? else { return Ok(()) };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.cmd {
        Cmd::Arm(a) => arm(&a),
        Cmd::Off => undo_all("off"),
        Cmd::Recover { id: None } => undo_all("recover"),
        Cmd::Recover { id: Some(id) } => {
            kvmfi::error::require_root("kfail-fi recover")?;
            let mut j = Journal::open(TOOL)?;
            let e = j.undo(id)?;
            kvmfi::run::out(format!("undone {} {} {}", e.id, e.kind, e.target))
        }
        Cmd::Status { json } => status(json),
        Cmd::Lease { id, after_ms, tag: _ } => lease(id, after_ms),
    }
}

/// Reads a knob, without its trailing newline.
fn read_knob(path: &Path) -> Result<String> {
    fs::read_to_string(path)
        .map(|s| s.trim_end_matches('\n').to_string())
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

/// Makes sure debugfs is mounted (mounts it when it is not; needs root).
pub fn ensure_debugfs() -> Result<()> {
    if debugfs() != Path::new(DEBUGFS) {
        return Ok(());
    }
    let mounted = kvmfi::mounts::all()?.iter().any(|m| m.fstype == "debugfs" && m.mount_point == DEBUGFS);
    if mounted {
        return Ok(());
    }
    kvmfi::error::require_root("mounting debugfs")?;
    nix::mount::mount(Some("debugfs"), DEBUGFS, Some("debugfs"), nix::mount::MsFlags::empty(), None::<&str>)
        .map_err(|e| Error::io(format!("mounting debugfs on {DEBUGFS}"), e.into()))
}

/// Fails with exit 4 when the kernel lacks `f`.
fn require(f: Facility) -> Result<()> {
    ensure_debugfs()?;
    if f.dir().is_dir() {
        return Ok(());
    }
    Err(Error::unsupported(format!(
        "this kernel has no {} (it was built without {} or CONFIG_FAULT_INJECTION_DEBUG_FS; Debian's kernels are): \
         use func-fail-fi for function errors, vfs-read-fi/vfs-write-fi for I/O errors",
        f.dir().display(),
        f.config()
    )))
}

/// The change being built: apply steps in order, undo steps in reverse.
#[derive(Default)]
struct Plan {
    apply: Vec<Step>,
    undo: Vec<Step>,
}

impl Plan {
    /// Sets knob `path` to `value`, its current value journaled for undo.
    fn knob(&mut self, path: &Path, value: &str, pid: Option<(i32, u64)>) -> Result<()> {
        let old = read_knob(path)?;
        self.set(path, value, &old, pid);
        Ok(())
    }

    fn set(&mut self, path: &Path, value: &str, old: &str, pid: Option<(i32, u64)>) {
        let path = path.display().to_string();
        self.apply.push(Step::WriteKnob { path: path.clone(), value: value.to_string(), pid });
        self.undo.insert(0, Step::WriteKnob { path, value: old.to_string(), pid });
    }
}

/// One entry of /sys/kernel/debug/error_injection/list: function and type
/// (ERRNO, NULL, TRUE, ERRNO_NULL).
fn allow_list() -> Result<Vec<(String, String)>> {
    let path = debugfs().join("error_injection/list");
    Ok(parse_allow_list(&read_knob(&path)?))
}

fn parse_allow_list(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next().unwrap_or("").to_string()))
        })
        .collect()
}

/// The value written to fail_function/<f>/retval (the kernel parses it as
/// an unsigned 64-bit number; a negative errno is its two's complement).
fn retval_text(v: i64) -> String {
    format!("{:#x}", v as u64)
}

/// fail_function/<f>/retval reads as bare hex ("%llx"): make it writable.
fn retval_restore(read: &str) -> String {
    let t = read.trim();
    if t.starts_with("0x") {
        t.to_string()
    } else {
        format!("0x{t}")
    }
}

/// The tasks of the scope: (tid, start time), each checked to exist.
fn scope_tasks(a: &ArmArgs) -> Result<Vec<(i32, u64)>> {
    let mut out: Vec<(i32, u64)> = Vec::new();
    let mut add = |tid: i32, what: &str| -> Result<()> {
        let p = procs::read(tid).ok_or_else(|| Error::not_found(format!("{what}: no task {tid}")))?;
        if !out.iter().any(|(t, _)| *t == tid) {
            out.push((tid, p.starttime));
        }
        Ok(())
    };
    for &tid in &a.pid {
        add(tid, "--pid")?;
    }
    for &pid in &a.tgid {
        let dir = format!("/proc/{pid}/task");
        let rd = fs::read_dir(&dir).map_err(|_| Error::not_found(format!("--tgid: no process {pid}")))?;
        let mut tids: Vec<i32> = rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
        tids.sort_unstable();
        for tid in tids {
            // A thread may end while we look: only the process must exist.
            if let Err(e) = add(tid, "--tgid") {
                if tid == pid {
                    return Err(e);
                }
            }
        }
    }
    Ok(out)
}

/// Builds the fault for `a`, reading every knob it changes.
fn plan(a: &ArmArgs, id: u64) -> Result<Fault> {
    let f = a.facility;
    let dir = f.dir();
    let mut p = Plan::default();
    let tasks = scope_tasks(a)?;
    if tasks.is_empty() && !a.yes {
        return Err(Error::usage(
            "no scope given: this would hit every task on the host; add --pid or --tgid (or --yes to really act on all)",
        ));
    }
    let b = &a.bounds;
    let times = i32::try_from(b.times).map_err(|_| Error::usage("--times: at most 2147483647"))?;
    let space = i32::try_from(b.space.unwrap_or(0)).map_err(|_| Error::usage("--space: at most 2147483647 bytes"))?;
    let mut target = Vec::new();
    // Disarmed while it is set up (the undo of the last step, probability,
    // puts the old value back); facility specifics next, then the scope,
    // then the attr, probability last: that arms it.
    let prob = dir.join("probability");
    p.apply.push(Step::WriteKnob { path: prob.display().to_string(), value: "0".into(), pid: None });
    match f {
        Facility::Failslab | Facility::FailPageAlloc => {
            p.knob(&dir.join("ignore-gfp-wait"), if a.ignore_gfp_wait { "Y" } else { "N" }, None)?;
            if f == Facility::FailPageAlloc {
                p.knob(&dir.join("ignore-gfp-highmem"), if a.ignore_gfp_highmem { "Y" } else { "N" }, None)?;
                p.knob(&dir.join("min-order"), &a.min_order.to_string(), None)?;
            }
        }
        Facility::FailMakeRequest => {
            if a.device.is_empty() {
                return Err(Error::usage("fail_make_request needs --device NAME (the block devices whose I/O fails)"));
            }
            for d in &a.device {
                let knob = Path::new("/sys/class/block").join(d).join("make-it-fail");
                if !knob.exists() {
                    return Err(Error::not_found(format!("--device {d}: no {}", knob.display())));
                }
                p.knob(&knob, "1", None)?;
                target.push(d.clone());
            }
        }
        Facility::FailFunction => {
            if a.function.is_empty() {
                return Err(Error::usage("fail_function needs --function NAME (see /sys/kernel/debug/error_injection/list)"));
            }
            let allowed = allow_list()?;
            let inject = dir.join("inject");
            let present = read_knob(&inject)?;
            for func in &a.function {
                let Some((_, kind)) = allowed.iter().find(|(n, _)| n == func) else {
                    return Err(Error::usage(format!(
                        "{func} is not on this kernel's error-injection allow-list ({DEBUGFS}/error_injection/list); \
                         func-fail-fi can make any probe-able function fail"
                    )));
                };
                let value = match (a.retval, a.errno) {
                    (Some(v), _) => v,
                    (None, Some(e)) => -i64::from(e),
                    (None, None) if kind.contains("ERRNO") => -i64::from(libc::ENOMEM),
                    (None, None) if kind == "TRUE" => 1,
                    (None, None) => 0,
                };
                let retval = dir.join(func).join("retval");
                if present.lines().any(|l| l.trim() == func) {
                    // Someone's entry: keep it, change its value, put it back.
                    let old = retval_restore(&read_knob(&retval)?);
                    p.set(&retval, &retval_text(value), &old, None);
                } else {
                    let path = inject.display().to_string();
                    p.apply.push(Step::WriteKnob { path: path.clone(), value: func.clone(), pid: None });
                    p.apply.push(Step::WriteKnob {
                        path: retval.display().to_string(),
                        value: retval_text(value),
                        pid: None,
                    });
                    p.undo.insert(0, Step::WriteKnob { path, value: format!("!{func}"), pid: None });
                }
                target.push(format!("{func}={value}"));
            }
        }
    }
    for &(tid, start) in &tasks {
        p.knob(Path::new(&format!("/proc/{tid}/make-it-fail")), "1", Some((tid, start)))?;
    }
    if !tasks.is_empty() {
        target.push(format!("tasks {}", tasks.iter().map(|t| t.0.to_string()).collect::<Vec<_>>().join(",")));
    } else {
        target.push("every task".into());
    }
    p.knob(&dir.join("task-filter"), if tasks.is_empty() { "N" } else { "Y" }, None)?;
    p.knob(&dir.join("verbose"), &b.verbose.to_string(), None)?;
    p.knob(&dir.join("space"), &space.to_string(), None)?;
    p.knob(&dir.join("times"), &times.to_string(), None)?;
    p.knob(&dir.join("interval"), &b.interval.to_string(), None)?;
    // Probability last when arming, and when undoing: first 0 (no task
    // still marked can be hit while the rest is put back), the old value
    // last of all.
    let old_prob = read_knob(&prob)?;
    p.apply.push(Step::WriteKnob { path: prob.display().to_string(), value: b.probability.to_string(), pid: None });
    p.undo.insert(0, Step::WriteKnob { path: prob.display().to_string(), value: "0".into(), pid: None });
    p.undo.push(Step::WriteKnob { path: prob.display().to_string(), value: old_prob, pid: None });
    if !b.duration.is_zero() {
        let tag = format!("kfail-fi-{id}");
        let exe = std::env::current_exe().map_err(|e| Error::io("finding kfail-fi's own path", e))?;
        p.apply.push(Step::Spawn {
            argv: vec![
                exe.display().to_string(),
                "lease".into(),
                "--id".into(),
                id.to_string(),
                "--after-ms".into(),
                b.duration.as_millis().to_string(),
                kvmfi::injector::steps::tag_arg(&tag),
            ],
            tag: tag.clone(),
        });
        p.undo.insert(0, Step::KillTagged { tag });
    }
    let desc = format!(
        "{} probability {}% interval {} times {} space {}{}",
        f.name(),
        b.probability,
        b.interval,
        times,
        space,
        if b.duration.is_zero() { String::new() } else { format!(" for {:?}", b.duration) }
    );
    Ok(Fault { kind: f.name().into(), target: target.join(" "), desc, apply: p.apply, undo: p.undo })
}

fn arm(a: &ArmArgs) -> Result<()> {
    if a.facility != Facility::FailFunction && (!a.function.is_empty() || a.errno.is_some() || a.retval.is_some()) {
        return Err(Error::usage("--function, --errno and --retval are for fail_function"));
    }
    if a.facility != Facility::FailMakeRequest && !a.device.is_empty() {
        return Err(Error::usage("--device is for fail_make_request"));
    }
    if a.facility != Facility::FailPageAlloc && a.ignore_gfp_highmem {
        return Err(Error::usage("--ignore-gfp-highmem is for fail_page_alloc"));
    }
    kvmfi::error::require_root("kfail-fi arm")?;
    require(a.facility)?;
    let mut j = Journal::open(TOOL)?;
    let armed: Vec<u64> = j.mine(false)?.iter().filter(|e| e.kind == a.facility.name()).map(|e| e.id).collect();
    if !armed.is_empty() {
        if !a.bounds.replace {
            return Err(Error::failed(format!(
                "{} is armed by kfail-fi already (fault {}); `kfail-fi off` first, or pass --replace",
                a.facility.name(),
                armed.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
            )));
        }
        if !a.dry_run {
            for id in armed.iter().rev() {
                j.undo(*id)?;
            }
        }
    }
    let id = j.next_id()?;
    let fault = plan(a, id)?;
    if a.dry_run {
        return fault.print_dry_run();
    }
    let id = j.apply(id, fault)?;
    if !a.pid.is_empty() || !a.tgid.is_empty() {
        for other in others_armed_for_marked(a.facility) {
            eprintln!(
                "{TOOL}: note: {other}: the tasks marked now (make-it-fail is one mark for every facility) are hit by it too"
            );
        }
    }
    kvmfi::run::out(id)
}

/// The other facilities that fail marked tasks as they are set now (task
/// filter on, probability and times not 0; fail_make_request: a device
/// marked too): one line each, for a note.
fn others_armed_for_marked(f: Facility) -> Vec<String> {
    ALL.iter()
        .filter(|&&o| o != f && o.dir().is_dir())
        .filter_map(|&o| {
            let k = |n: &str| read_knob(&o.dir().join(n)).unwrap_or_default();
            let (prob, times, filter) = (k("probability"), k("times"), k("task-filter"));
            let devices = o != Facility::FailMakeRequest || !facility_status(o).devices.is_empty();
            let armed = !prob.is_empty() && prob != "0" && times != "0" && filter == "Y" && devices;
            armed.then(|| format!("{} is armed (probability {prob}, interval {}, times {times})", o.name(), k("interval")))
        })
        .collect()
}

fn undo_all(what: &str) -> Result<()> {
    kvmfi::error::require_root(&format!("kfail-fi {what}"))?;
    let mut j = Journal::open(TOOL)?;
    let done = j.undo_where(|e| e.tool == TOOL)?;
    if done.is_empty() {
        return kvmfi::run::out("nothing in force");
    }
    for e in done {
        kvmfi::run::out(format!("undone {} {} {}", e.id, e.kind, e.target))?;
    }
    Ok(())
}

fn lease(id: u64, after_ms: u64) -> Result<()> {
    kvmfi::run::out("ready")?;
    std::thread::sleep(Duration::from_millis(after_ms));
    let mut j = Journal::open(TOOL)?;
    if j.entries()?.iter().any(|e| e.id == id) {
        j.undo(id)?;
        eprintln!("kfail-fi: lease of fault {id} ended: knobs restored");
    }
    Ok(())
}

/// One facility as `status` shows it.
#[derive(Serialize)]
struct FacilityStatus {
    facility: &'static str,
    present: bool,
    knobs: Vec<(String, String)>,
    /// fail_function: (function, retval as the kernel prints it)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    functions: Vec<(String, String)>,
    /// fail_make_request: devices with make-it-fail set
    #[serde(skip_serializing_if = "Vec::is_empty")]
    devices: Vec<String>,
}

fn facility_status(f: Facility) -> FacilityStatus {
    let dir = f.dir();
    let present = dir.is_dir();
    let mut s = FacilityStatus { facility: f.name(), present, knobs: vec![], functions: vec![], devices: vec![] };
    if !present {
        return s;
    }
    for k in f.knobs() {
        if let Ok(v) = read_knob(&dir.join(k)) {
            s.knobs.push((k.to_string(), v));
        }
    }
    if f == Facility::FailFunction {
        for func in read_knob(&dir.join("inject")).unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()) {
            let v = read_knob(&dir.join(func).join("retval")).unwrap_or_default();
            s.functions.push((func.to_string(), retval_restore(&v)));
        }
    }
    if f == Facility::FailMakeRequest {
        let mut devs: Vec<String> = fs::read_dir("/sys/class/block")
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| read_knob(&e.path().join("make-it-fail")).is_ok_and(|v| v.trim() == "1"))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        devs.sort();
        s.devices = devs;
    }
    s
}

/// Threads with make-it-fail set: (tid, comm).
fn marked_tasks() -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for p in fs::read_dir("/proc").into_iter().flatten().filter_map(|e| e.ok()) {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
        for t in fs::read_dir(p.path().join("task")).into_iter().flatten().filter_map(|e| e.ok()) {
            if read_knob(&t.path().join("make-it-fail")).is_ok_and(|v| v.trim() == "1") {
                let tid = t.file_name().to_string_lossy().parse().unwrap_or(pid);
                let comm = read_knob(&t.path().join("comm")).unwrap_or_default();
                out.push((tid, comm));
            }
        }
    }
    out
}

fn status(json: bool) -> Result<()> {
    kvmfi::error::require_root("kfail-fi status")?;
    ensure_debugfs()?;
    for f in ALL {
        let s = facility_status(f);
        if json {
            kvmfi::run::out_json(&s)?;
            continue;
        }
        if !s.present {
            kvmfi::run::out(format!("{} present=no (kernel built without {})", s.facility, f.config()))?;
            continue;
        }
        let mut line = format!("{} present=yes", s.facility);
        for (k, v) in &s.knobs {
            line.push_str(&format!(" {k}={v}"));
        }
        if f == Facility::FailFunction {
            let list: Vec<String> = s.functions.iter().map(|(n, v)| format!("{n}:{v}")).collect();
            line.push_str(&format!(" inject={}", if list.is_empty() { "-".into() } else { list.join(",") }));
        }
        if f == Facility::FailMakeRequest {
            line.push_str(&format!(" devices={}", if s.devices.is_empty() { "-".into() } else { s.devices.join(",") }));
        }
        kvmfi::run::out(line)?;
    }
    let tasks = marked_tasks();
    if json {
        #[derive(Serialize)]
        struct Marked<'a> {
            make_it_fail: &'a [(i32, String)],
        }
        kvmfi::run::out_json(&Marked { make_it_fail: &tasks })?;
    } else {
        let list: Vec<String> = tasks.iter().map(|(t, c)| format!("{t}:{c}")).collect();
        kvmfi::run::out(format!("make-it-fail tasks={}", if list.is_empty() { "-".into() } else { list.join(",") }))?;
    }
    let entries: Vec<_> = journal::read_entries(&journal::dir())?.into_iter().filter(|e| e.tool == TOOL).collect();
    journal::print_entries(&entries, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retval_round_trip() {
        assert_eq!(retval_text(-12), "0xfffffffffffffff4");
        assert_eq!(retval_text(0), "0x0");
        assert_eq!(retval_restore("fffffffffffffff4"), "0xfffffffffffffff4");
        assert_eq!(retval_restore("0x1\n"), "0x1");
    }

    #[test]
    fn allow_list_lines() {
        let l = parse_allow_list("should_failslab\tERRNO\n__x64_sys_mkdir\tERRNO\nfoo\tNULL\n");
        assert_eq!(l[1], ("__x64_sys_mkdir".to_string(), "ERRNO".to_string()));
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn cli_parses() {
        command().debug_assert();
        let m = command().try_get_matches_from([
            "kfail-fi", "arm", "fail_page_alloc", "--tgid", "1", "--probability", "5", "--min-order", "0",
        ]);
        assert!(m.is_ok(), "{m:?}");
        let m = command().try_get_matches_from(["kfail-fi", "arm", "fail_function", "--errno", "EIO", "--retval", "1"]);
        assert!(m.is_err());
    }
}
