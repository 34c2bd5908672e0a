//! The kvmfi tools an experiment drives, always through their own command
//! lines: kernel tools by `arm`, `off` and `events --json`; injectors by
//! their fault command, `status --json` and `recover ID`.

use crate::remote::NodeRef;
use kvmfi::error::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

/// How a tool's fault is applied and undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolClass {
    /// A kernel module tool: `arm` prints the experiment id, `off` undoes,
    /// the module's lease is the backstop.
    Module,
    /// A journaled user-space injector: the command applies, `recover ID`
    /// undoes each fault it journaled.
    Injector,
}

const MODULE_TOOLS: &[&str] = &[
    "vfs-read-fi",
    "vfs-write-fi",
    "kvm-ioctl-fi",
    "kvm-version-fi",
    "vcpu-state-fi",
    "dirty-log-fi",
    "memslot-fi",
    "cpu-reg-main",
    "mm-fault-fi",
    "kswapd-fi",
    "tlb-flush-fi",
    "func-fail-fi",
];
const INJECTORS: &[&str] = &["hadoop_injector", "cloudstack_injector", "kfail-fi", "disk-fi"];
/// Journaled tools that scope by task as the kernel tools do (`arm`,
/// --pid/--tgid): the kernel's fault framework.
const TASK_SCOPED_INJECTORS: &[&str] = &["kfail-fi"];
/// Journaled tools with a lease of their own (--duration).
const LEASED_INJECTORS: &[&str] = &["kfail-fi", "disk-fi"];

/// True when `name`'s fault is applied by `arm` with a scope of the file's
/// `scope = {...}` (else its target is in its args).
pub fn scoped(name: &str) -> bool {
    MODULE_TOOLS.contains(&name) || TASK_SCOPED_INJECTORS.contains(&name)
}

/// True when `name` takes a lease (--duration): the step's duration plus
/// a grace, the backstop when the run is killed.
pub fn leased(name: &str) -> bool {
    MODULE_TOOLS.contains(&name) || LEASED_INJECTORS.contains(&name)
}

/// The class of tool `name`, None when it is not one an experiment drives.
pub fn class_of(name: &str) -> Option<ToolClass> {
    if MODULE_TOOLS.contains(&name) {
        Some(ToolClass::Module)
    } else if INJECTORS.contains(&name) {
        Some(ToolClass::Injector)
    } else {
        None
    }
}

/// Every tool an experiment file may name.
pub fn names() -> Vec<&'static str> {
    MODULE_TOOLS.iter().chain(INJECTORS).copied().collect()
}

/// The program to run for `tool`: `$KVMFI_BIN_DIR/tool`, else next to
/// this binary, else found in PATH.
pub fn program(tool: &str) -> PathBuf {
    if let Some(d) = std::env::var_os("KVMFI_BIN_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join(tool);
    }
    if let Some(p) = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join(tool))).filter(|p| p.exists()) {
        return p;
    }
    PathBuf::from(tool)
}

/// The error whose exit status is `code` (kvmfi's codes, see
/// `kvmfi::error`), so that a run stopped by a tool's failure exits as the
/// tool did; any other code is a plain failure (1).
pub fn exit_error(code: Option<i32>, msg: impl std::fmt::Display) -> Error {
    match code {
        Some(2) => Error::usage(msg),
        Some(3) => Error::permission(msg),
        Some(4) => Error::unsupported(msg),
        Some(5) => Error::not_found(msg),
        // kvmfi-halt: this host or a node was halted.
        Some(6) => Error::Halted(msg.to_string()),
        _ => Error::failed(msg),
    }
}

/// What a finished command said: the shared runner's output and its argv.
#[derive(Debug)]
pub struct Output {
    pub argv: Vec<String>,
    pub out: kvmfi::exec::Output,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.out.ok()
    }
    pub fn stdout(&self) -> &str {
        &self.out.stdout
    }
    /// The exit status (None when killed or timed out).
    pub fn code(&self) -> Option<i32> {
        self.out.code
    }
    /// One line saying why it failed.
    pub fn why(&self) -> String {
        let how = match (self.out.timed_out, self.out.code) {
            (true, _) => "timed out".to_string(),
            (_, Some(c)) => format!("exited with {c}"),
            _ => "was killed".to_string(),
        };
        format!("`{}` {how}: {}", self.argv.join(" "), self.out.first_error_line())
    }
}

/// Runs `tool args` with a time limit, output captured: here, or on
/// `node` (found in its PATH there).
pub fn run(node: Option<&NodeRef>, tool: &str, args: &[String], timeout: Duration) -> Result<Output> {
    if let Some(n) = node {
        let mut argv = vec![tool.to_string()];
        argv.extend(args.iter().cloned());
        let out = n.run(&argv, timeout)?;
        // 127: the remote shell did not find it.
        if out.code == Some(127) {
            return Err(Error::unsupported(format!("{tool} is not installed on node {} (not in its PATH)", n.name)));
        }
        argv[0] = format!("{tool}@{}", n.name);
        return Ok(Output { argv, out });
    }
    let prog = program(tool);
    let mut full = vec![prog.display().to_string()];
    full.extend(args.iter().cloned());
    let out = kvmfi::exec::run(&full, None, timeout).map_err(|e| match e {
        Error::Unsupported(_) => Error::unsupported(format!(
            "{tool} is not installed ({} not found); install kvmfi or set KVMFI_BIN_DIR",
            prog.display()
        )),
        e => e,
    })?;
    let mut argv = vec![tool.to_string()];
    argv.extend(args.iter().cloned());
    Ok(Output { argv, out })
}

/// One journal entry as `status --json` prints it (undo steps as plain JSON:
/// a node's tool may know steps this build does not).
pub type JournalEntry = kvmfi::journal::store::Entry<serde_json::Value>;

/// The faults of `tool` in force, from its `status --json`.
pub fn journal_entries(node: Option<&NodeRef>, tool: &str) -> Result<Vec<JournalEntry>> {
    let out = run(node, tool, &["status".into(), "--json".into()], Duration::from_secs(60))?;
    if !out.ok() {
        return Err(Error::failed(out.why()));
    }
    Ok(out.stdout().lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// The largest fault id handed out so far as far as `status` shows
/// (faults newer than it, of this tool, are ours).
pub fn journal_high_water(node: Option<&NodeRef>, tool: &str) -> Result<u64> {
    Ok(journal_entries(node, tool)?.iter().map(|e| e.id).max().unwrap_or(0))
}

/// A kernel tool's `status --json` (the fields we use).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ModuleStatus {
    pub state: String,
    pub experiment: Option<String>,
    #[serde(default)]
    pub injected: u64,
}

/// A kernel tool's current status.
pub fn module_status(node: Option<&NodeRef>, tool: &str) -> Result<ModuleStatus> {
    let out = run(node, tool, &["status".into(), "--json".into()], Duration::from_secs(30))?;
    if !out.ok() {
        return Err(Error::failed(out.why()));
    }
    serde_json::from_str(out.stdout().trim()).map_err(|e| Error::failed(format!("{tool} status --json: {e}")))
}

/// A kernel event as `events --json` prints it, with its wall-clock time.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct KernelEvent {
    #[serde(flatten)]
    pub event: kvmfi::tool::EventReport,
    /// Unix time in ms (from CLOCK_BOOTTIME at the time of reading).
    #[serde(default)]
    pub unix_ms: u64,
}

/// The events a kernel tool recorded for experiment `id`, with wall-clock
/// times (the module stamps CLOCK_BOOTTIME).
pub fn kernel_events(node: Option<&NodeRef>, tool: &str, id: &str) -> Result<Vec<KernelEvent>> {
    let out = run(node, tool, &["events".into(), "--json".into(), "--experiment".into(), id.into()], Duration::from_secs(30))?;
    if !out.ok() {
        return Err(Error::failed(out.why()));
    }
    let (boot, real) = match node {
        Some(n) => n.clocks()?,
        None => (clock_ns(libc::CLOCK_BOOTTIME), clock_ns(libc::CLOCK_REALTIME)),
    };
    Ok(out
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<KernelEvent>(l).ok())
        .map(|mut e| {
            e.unix_ms = (real.saturating_sub(boot.saturating_sub(e.event.time_ns))) / 1_000_000;
            e
        })
        .collect())
}

/// Reads a clock in nanoseconds.
pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Unix time now, in ms.
pub fn now_ms() -> u64 {
    clock_ns(libc::CLOCK_REALTIME) / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tools_exit_status_is_the_runs_exit_status() {
        for code in 1..=6 {
            let e = exit_error(Some(code), "`x` exited");
            assert_eq!((i32::from(e.code()), e.to_string()), (code, "`x` exited".to_string()));
        }
        assert_eq!(exit_error(None, "killed").code(), 1, "killed or timed out");
        assert_eq!(exit_error(Some(130), "interrupted").code(), 1);
    }
}
