//! What every kernel tool does the same way: load its module on demand,
//! arm, disarm, report status, unload. A tool supplies its [`ModuleSpec`]
//! and fills the module-specific part of the request.

use crate::kernel::abi::{self, Arm, Status};
use crate::kernel::cli::{Bounds, Held, Scope};
use crate::kernel::device::Device;
use crate::error::{require_root, Error, Result};
use crate::kernel::symbols::{self, ModuleSpec};
use crate::kernel::{kallsyms, kmod};
use crate::run;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

/// Where the module comes from; shared by `arm` of every kernel tool.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Module")]
pub struct ModuleOpts {
    /// Use this module file instead of searching for it
    #[arg(long, value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// Probe this kernel function instead of the first candidate this kernel has
    #[arg(long, value_name = "FUNCTION")]
    pub symbol: Option<String>,
}

/// Opens the module's device, loading the module first when needed.
pub fn ensure_loaded(spec: &ModuleSpec, opts: &ModuleOpts) -> Result<Device> {
    let name = kmod::kernel_name(spec.module);
    if kmod::is_loaded(spec.module) {
        if opts.symbol.is_some() {
            return Err(Error::usage(format!(
                "--symbol: {name} is already loaded with its own symbol; run `{} unload` first",
                spec.tool
            )));
        }
        return Device::open(&name);
    }
    let symbols = chosen_symbols(spec, opts.symbol.as_deref())?;
    let params: Vec<(String, String)> = spec.hooks.iter().map(|h| h.param.to_string()).zip(symbols).collect();
    let path = kmod::find(spec.module, opts.module.as_deref())?;
    kmod::load(&path, &params)?;
    Device::open(&name)
}

/// The function each of `spec`'s hooks probes on this kernel: the first
/// candidate it has, or for the first hook `symbol` when given (which this
/// kernel must have).
pub fn chosen_symbols(spec: &ModuleSpec, symbol: Option<&str>) -> Result<Vec<String>> {
    let per_hook: Vec<Vec<String>> = spec.hooks.iter().map(|h| symbols::candidates(spec, h)).collect();
    let all: Vec<&str> = per_hook.iter().flatten().map(String::as_str).collect();
    let wanted: Vec<&str> = all.iter().copied().chain(symbol).collect();
    let present = kallsyms::present(&wanted)?;
    if let Some(s) = symbol {
        if !present.contains(s) {
            return Err(Error::unsupported(format!(
                "--symbol {s}: this kernel has no function of that name in /proc/kallsyms \
                 (the default candidates for this tool are: {})",
                all.join(", ")
            )));
        }
    }
    let choose = |(i, (hook, cands)): (usize, (&symbols::HookSpec, &Vec<String>))| match (symbol, i) {
        (Some(s), 0) => Ok(s.to_string()),
        _ => kallsyms::choose(hook.role, &cands.iter().map(String::as_str).collect::<Vec<_>>(), &present),
    };
    spec.hooks.iter().zip(&per_hook).enumerate().map(choose).collect()
}

/// Builds the request from scope and bounds, lets the tool fill its own
/// fields, arms it, and prints the experiment id on stdout.
pub fn arm(
    spec: &ModuleSpec,
    opts: &ModuleOpts,
    scope: &Scope,
    bounds: &Bounds,
    extra_scope: bool,
    fill: impl FnOnce(&mut Arm, &mut Held) -> Result<()>,
) -> Result<()> {
    let mut req = Arm::default();
    let mut held = Held::default();
    scope.apply(&mut req, &mut held, extra_scope)?;
    bounds.apply(&mut req);
    fill(&mut req, &mut held)?;
    require_root(spec.tool)?;
    let dev = ensure_loaded(spec, opts)?;
    let id = dev.arm(&mut req)?;
    drop(held);
    run::out(format!("{id:016x}"))
}

/// The subcommands every kernel tool has besides its own `arm`; flatten it
/// into a tool's subcommand enum with `#[command(flatten)]`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum CommonCmd {
    /// Disarm the fault at once
    Off,
    /// Show state and counters (hits, matched, injected, remaining, time left)
    Status {
        /// One JSON object instead of `key value` lines
        #[arg(long)]
        json: bool,
    },
    /// Print the recorded injection events (time, experiment, pid, comm, value)
    Events(EventsOpts),
    /// Disarm and remove the module
    Unload,
}

impl CommonCmd {
    /// Runs `off`, `status`, `events` or `unload` for `spec`.
    pub fn run(self, spec: &ModuleSpec) -> Result<()> {
        match self {
            CommonCmd::Off => off(spec),
            CommonCmd::Status { json } => status(spec, json),
            CommonCmd::Events(opts) => events(spec, &opts),
            CommonCmd::Unload => unload(spec),
        }
    }
}

/// Disarms; a module that is not loaded has nothing armed.
pub fn off(spec: &ModuleSpec) -> Result<()> {
    require_root(spec.tool)?;
    if !kmod::is_loaded(spec.module) {
        return Ok(());
    }
    Device::open(&kmod::kernel_name(spec.module))?.disarm()
}

/// For a tool whose function is chosen at each `arm` (func-fail-fi):
/// unloads `spec`'s module when it is loaded for another function than
/// `symbol`, refusing while a fault is armed there unless `replace`.
pub fn unload_if_other_symbol(spec: &ModuleSpec, symbol: &str, replace: bool) -> Result<()> {
    let loaded_symbol = || kmod::param(spec.module, spec.hooks[0].param);
    if !kmod::is_loaded(spec.module) || loaded_symbol().as_deref() == Some(symbol) {
        return Ok(());
    }
    let armed = read_status(spec)?.is_some_and(|s| s.state == abi::STATE_ARMED);
    if armed && !replace {
        return Err(Error::failed(format!(
            "{tool} is armed on {}; disarm it with `{tool} off` or pass --replace",
            loaded_symbol().unwrap_or_default(),
            tool = spec.tool
        )));
    }
    unload(spec)
}

/// Disarms and removes the module.
pub fn unload(spec: &ModuleSpec) -> Result<()> {
    require_root(spec.tool)?;
    if !kmod::is_loaded(spec.module) {
        return Ok(());
    }
    if let Ok(dev) = Device::open(&kmod::kernel_name(spec.module)) {
        dev.disarm()?;
    }
    kmod::unload(spec.module).map(|_| ())
}

/// The `events` subcommand's options, shared by every kernel tool.
#[derive(Args, Debug, Clone, Default)]
pub struct EventsOpts {
    /// Keep reading and print new events as they happen (until interrupted)
    #[arg(long)]
    pub follow: bool,
    /// One JSON object per line (for jq and log shippers)
    #[arg(long)]
    pub json: bool,
    /// Only events of this experiment id (as printed by `arm`)
    #[arg(long, value_name = "ID")]
    pub experiment: Option<String>,
}

/// One event as printed by `events --json` (and read back by kvmfi-experiment).
#[derive(Serialize, serde::Deserialize, Debug, Clone)]
pub struct EventReport {
    pub seq: u64,
    pub time_ns: u64,
    pub experiment: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub pid: i32,
    pub tgid: i32,
    pub comm: String,
    pub hook: u32,
    pub what: String,
    pub value: i64,
    pub detail: [u64; 2],
}

impl EventReport {
    fn new(e: &abi::Event) -> Self {
        EventReport {
            seq: e.seq,
            time_ns: e.time_ns,
            experiment: format!("{:016x}", e.experiment_id),
            kind: abi::event_type(e.r#type).into(),
            pid: e.pid,
            tgid: e.tgid,
            comm: abi::c_str(&e.comm),
            hook: e.hook,
            what: abi::c_str(&e.what),
            value: e.value,
            detail: e.detail,
        }
    }

    fn line(&self) -> String {
        format!(
            "{}.{:09} exp={} {} pid={} tgid={} comm={} what={} value={} detail={},{}",
            self.time_ns / 1_000_000_000,
            self.time_ns % 1_000_000_000,
            self.experiment,
            self.kind,
            self.pid,
            self.tgid,
            self.comm,
            self.what,
            self.value,
            self.detail[0],
            self.detail[1]
        )
    }
}

/// Prints the module's recorded events (the last 1024), then with `--follow`
/// polls for new ones every 100 ms. Lost events are reported on stderr.
pub fn events(spec: &ModuleSpec, opts: &EventsOpts) -> Result<()> {
    require_root(spec.tool)?;
    let experiment = match &opts.experiment {
        Some(id) => Some(u64::from_str_radix(id.trim_start_matches("0x"), 16).map_err(|_| {
            Error::usage(format!("--experiment {id}: not an experiment id (16 hex digits, as printed by `arm`)"))
        })?),
        None => None,
    };
    if !kmod::is_loaded(spec.module) {
        return if opts.follow {
            Err(Error::not_found(format!("{} is not loaded: arm a fault first", kmod::kernel_name(spec.module))))
        } else {
            Ok(())
        };
    }
    let dev = Device::open(&kmod::kernel_name(spec.module))?;
    let mut seq = 0;
    loop {
        let (batch, next, lost) = dev.events(seq)?;
        if lost > 0 {
            eprintln!("{}: {lost} event(s) lost (overwritten before they were read)", spec.tool);
        }
        for e in batch.iter().filter(|e| experiment.is_none_or(|id| e.experiment_id == id)) {
            let r = EventReport::new(e);
            if opts.json {
                run::out_json(&r)?;
            } else {
                run::out(r.line())?;
            }
        }
        let caught_up = next == seq || batch.is_empty();
        seq = next;
        if caught_up {
            if !opts.follow {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Status as printed by `status --json`: one object, stable field names.
#[derive(Serialize, Debug)]
pub struct StatusReport {
    pub tool: String,
    pub module: String,
    pub loaded: bool,
    pub state: String,
    pub experiment: Option<String>,
    pub symbol: Option<String>,
    pub hits: u64,
    pub matched: u64,
    pub injected: u64,
    pub remaining: i64,
    pub time_left_ms: u64,
    pub nmissed: u64,
    pub last_end: String,
}

impl StatusReport {
    pub fn from_status(spec: &ModuleSpec, st: Option<&Status>) -> Self {
        let base = StatusReport {
            tool: spec.tool.into(),
            module: kmod::kernel_name(spec.module),
            loaded: st.is_some(),
            state: "not-loaded".into(),
            experiment: None,
            symbol: None,
            hits: 0,
            matched: 0,
            injected: 0,
            remaining: 0,
            time_left_ms: 0,
            nmissed: 0,
            last_end: "-".into(),
        };
        let Some(st) = st else { return base };
        StatusReport {
            state: if st.state == abi::STATE_ARMED { "armed" } else { "disarmed" }.into(),
            experiment: (st.experiment_id != 0).then(|| format!("{:016x}", st.experiment_id)),
            symbol: Some(abi::c_str(&st.symbol)),
            hits: st.hits,
            matched: st.matched,
            injected: st.injected,
            remaining: st.remaining,
            time_left_ms: st.time_left_ms,
            nmissed: st.nmissed,
            last_end: abi::end_reason(st.last_end).into(),
            ..base
        }
    }
}

/// Reads the module's status (None when the module is not loaded).
pub fn read_status(spec: &ModuleSpec) -> Result<Option<Status>> {
    if !kmod::is_loaded(spec.module) {
        return Ok(None);
    }
    require_root(spec.tool)?;
    Device::open(&kmod::kernel_name(spec.module))?.status().map(Some)
}

/// Prints status: `key value` lines for people and `grep`/`awk`, or JSON.
pub fn status(spec: &ModuleSpec, json: bool) -> Result<()> {
    status_with(spec, json, &[])
}

/// Prints status followed by the module's own `counters` (as `key-name
/// value` lines, or as extra JSON fields named as given).
pub fn status_with(spec: &ModuleSpec, json: bool, counters: &[(&str, u64)]) -> Result<()> {
    let st = read_status(spec)?;
    let r = StatusReport::from_status(spec, st.as_ref());
    if json {
        if counters.is_empty() {
            return run::out_json(&r);
        }
        let mut value = serde_json::to_value(&r).map_err(|e| Error::failed(format!("status as JSON: {e}")))?;
        if let Some(obj) = value.as_object_mut() {
            for (name, v) in counters {
                obj.insert(name.to_string(), (*v).into());
            }
        }
        return run::out_json(&value);
    }
    let dash = || "-".to_string();
    let lines = [
        ("module", r.module.clone()),
        ("state", r.state.clone()),
        ("experiment", r.experiment.clone().unwrap_or_else(dash)),
        ("symbol", r.symbol.clone().unwrap_or_else(dash)),
        ("hits", r.hits.to_string()),
        ("matched", r.matched.to_string()),
        ("injected", r.injected.to_string()),
        ("remaining", if r.remaining < 0 { "unlimited".into() } else { r.remaining.to_string() }),
        ("time-left-ms", r.time_left_ms.to_string()),
        ("nmissed", r.nmissed.to_string()),
        ("last-end", r.last_end.clone()),
    ];
    for (k, v) in lines {
        run::out(format!("{k:<12} {v}"))?;
    }
    for (name, v) in counters {
        run::out(format!("{:<12} {v}", name.replace('_', "-")))?;
    }
    Ok(())
}
