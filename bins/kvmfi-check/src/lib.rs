//! kvmfi-check: which faults will work on the host in front of you.
//!
//! For every kernel tool: its hook candidates, the one this kernel has,
//! whether the module registers its probes (by loading it), and whether the
//! hook fires on a harmless trigger (through a tracefs kprobe event, so the
//! check does not depend on any tool's own arguments). Plus the kernel facts
//! that decide whether modules and network faults can work at all.

mod triggers;

use clap::{Arg, ArgAction, Command};
use kvmfi::symbols::{self, ModuleSpec};
use kvmfi::tool::{self, ModuleOpts};
use kvmfi::{kallsyms, kmod, run, Error, Result};
use serde::Serialize;
use std::path::Path;

/// The clap definition, for the man page and completion generators.
pub fn command() -> Command {
    Command::new("kvmfi-check")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Tell which kvmfi faults will work on this host")
        .long_about(
            "Tell which kvmfi faults will work on this host.\n\n\
             For every kernel tool (or the TOOLs named): the hook candidates in order of preference, \
             the one this kernel has (from /proc/kallsyms), whether the module registers its probes \
             (the module is loaded and unloaded again; a module already loaded is left alone), and, \
             where a harmless trigger exists, whether the hook fires: a read or write of a temporary \
             file, a new thread, a fresh page, or a throw-away KVM VM when /dev/kvm is there. Firing is \
             observed through a temporary tracefs kprobe event. Then the kernel facts that matter: \
             kprobes, module loading, signature enforcement, lockdown, kernel headers, /dev/kvm, \
             nftables, tc and netem. KVMFI_CANDIDATES overrides a hook's candidates \
             (TOOL.PARAM=fn1,fn2;...), as it does for every tool.",
        )
        .arg(Arg::new("tools").value_name("TOOL").num_args(0..).help("Only these tools (binary or module names, e.g. kvm-tlb-fi for tlb-flush-fi kvm); exit 4 if one cannot work"))
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("One JSON object instead of the table"))
        .arg(Arg::new("no-load").long("no-load").action(ArgAction::SetTrue).help("Do not load modules (only look the hooks up)"))
        .arg(Arg::new("no-trigger").long("no-trigger").action(ArgAction::SetTrue).help("Do not run triggers (registering is still checked)"))
        .after_long_help(
            "EXIT STATUS: 0 every tool asked about can work (with no TOOL: the report was made); \
             4 a tool asked about cannot work here; 2 usage error (unknown tool); 3 the checks that load modules need root.\n\
             FILES: /proc/kallsyms, /sys/kernel/tracing/kprobe_events (temporary event group kvmfi_check), \
             /sys/module/module/parameters/sig_enforce, /sys/kernel/security/lockdown.\n\
             EXAMPLES:\n  kvmfi-check\n  kvmfi-check --json | jq '.tools[] | select(.works | not) | .tool'\n  kvmfi-check vfs-read-fi kvm-ioctl-fi",
        )
}

/// One hook of one tool, as checked.
#[derive(Serialize, Debug, Clone)]
pub struct HookReport {
    pub role: String,
    pub candidates: Vec<String>,
    /// The candidate this kernel has, if any.
    pub function: Option<String>,
    /// "yes", "no: why", or "not checked: why".
    pub registers: String,
    pub fires: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct ToolReport {
    pub tool: String,
    pub module: String,
    pub hooks: Vec<HookReport>,
    pub works: bool,
}

#[derive(Serialize, Debug)]
pub struct Report {
    pub kernel: String,
    pub arch: String,
    pub facts: Vec<(String, String)>,
    pub tools: Vec<ToolReport>,
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn have(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
        .unwrap_or(false)
}

fn facts(release: &str) -> Vec<(String, String)> {
    let mut f = Vec::new();
    let kprobes = if Path::new("/sys/kernel/debug/kprobes").exists() || Path::new("/sys/kernel/tracing/kprobe_events").exists() {
        "on".to_string()
    } else {
        match kallsyms::present(&["register_kprobe"]) {
            Ok(s) if !s.is_empty() => "on".into(),
            _ => "off (CONFIG_KPROBES): no kernel tool can work".into(),
        }
    };
    f.push(("kprobes".into(), kprobes));
    f.push((
        "module loading".into(),
        match read_trim("/proc/sys/kernel/modules_disabled").as_deref() {
            Some("1") => "disabled (kernel.modules_disabled=1): no kernel tool can work".into(),
            _ => "allowed".into(),
        },
    ));
    f.push((
        "signature enforcement".into(),
        match read_trim("/sys/module/module/parameters/sig_enforce").as_deref() {
            Some("Y") => "on: unsigned kvmfi modules will be refused (sign them)".into(),
            _ => "off".into(),
        },
    ));
    f.push((
        "lockdown".into(),
        match read_trim("/sys/kernel/security/lockdown") {
            Some(l) if !l.contains("[none]") => format!("{l}: module loading may be refused"),
            Some(_) => "none".into(),
            None => "none (no lockdown LSM)".into(),
        },
    ));
    let build = format!("/lib/modules/{release}/build");
    f.push((
        "kernel headers".into(),
        if Path::new(&build).join("Makefile").exists() {
            format!("installed ({build})")
        } else {
            format!("missing: apt-get install linux-headers-{release} (needed to build the modules)")
        },
    ));
    f.push(("/dev/kvm".into(), if Path::new("/dev/kvm").exists() { "present".into() } else { "absent: KVM tools cannot work".into() }));
    f.push(("nftables".into(), if have("nft") { "nft found".into() } else if have("iptables") { "nft missing, iptables found (fallback)".into() } else { "missing: apt-get install nftables".into() }));
    f.push(("tc".into(), if have("tc") { "found".into() } else { "missing: apt-get install iproute2".into() }));
    let netem = Path::new("/sys/module/sch_netem").exists()
        || ["kernel/net/sched/sch_netem.ko", "kernel/net/sched/sch_netem.ko.xz", "kernel/net/sched/sch_netem.ko.zst"]
            .iter()
            .any(|p| Path::new(&format!("/lib/modules/{release}/{p}")).exists());
    f.push(("netem".into(), if netem { "available".into() } else { "missing (sch_netem): delay and loss faults cannot work".into() }));
    f
}

/// A temporary kprobe event in tracefs; removed on drop.
struct TraceProbe {
    dir: &'static str,
    name: String,
}

impl TraceProbe {
    fn new(symbol: &str, n: usize) -> std::result::Result<TraceProbe, String> {
        let dir = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .into_iter()
            .find(|d| Path::new(d).join("kprobe_events").exists())
            .ok_or("tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)")?;
        let name = format!("chk{}_{n}", std::process::id());
        append(&format!("{dir}/kprobe_events"), &format!("p:kvmfi_check/{name} {symbol}"))?;
        let p = TraceProbe { dir, name };
        std::fs::write(format!("{}/events/kvmfi_check/{}/enable", p.dir, p.name), "1").map_err(|e| e.to_string())?;
        Ok(p)
    }

    fn hits(&self) -> std::result::Result<u64, String> {
        let text = std::fs::read_to_string(format!("{}/kprobe_profile", self.dir)).map_err(|e| e.to_string())?;
        text.lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                let name = it.next()?;
                (name == self.name || name.ends_with(&format!("/{}", self.name))).then(|| it.next()?.parse().ok())?
            })
            .ok_or_else(|| "the event has no profile line".to_string())
    }
}

impl Drop for TraceProbe {
    fn drop(&mut self) {
        let _ = std::fs::write(format!("{}/events/kvmfi_check/{}/enable", self.dir, self.name), "0");
        let _ = append(&format!("{}/kprobe_events", self.dir), &format!("-:kvmfi_check/{}", self.name));
    }
}

fn append(path: &str, line: &str) -> std::result::Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()))
        .map_err(|e| format!("{path}: {e}"))
}

fn check_fires(symbol: &str, n: usize) -> String {
    let Some((what, trigger)) = triggers::for_symbol(symbol) else {
        return "not checked: no harmless trigger (it needs a real workload, e.g. memory pressure or a running guest)".into();
    };
    let probe = match TraceProbe::new(symbol, n) {
        Ok(p) => p,
        Err(e) => return format!("not checked: {e}"),
    };
    if let Err(e) = trigger() {
        return format!("not checked: {what} failed: {e}");
    }
    match probe.hits() {
        Ok(0) => format!("no: {what} did not reach {symbol} (inlined into its caller on this kernel?)"),
        Ok(h) => format!("yes ({h} hits on {what})"),
        Err(e) => format!("not checked: {e}"),
    }
}

fn check_tool(name: &str, spec: &ModuleSpec, load: bool, trigger: bool, n: &mut usize) -> Result<ToolReport> {
    let per_hook: Vec<Vec<String>> = spec.hooks.iter().map(|h| symbols::candidates(spec, h)).collect();
    let all: Vec<&str> = per_hook.iter().flatten().map(String::as_str).collect();
    let present = kallsyms::present(&all)?;
    let mut hooks: Vec<HookReport> = spec
        .hooks
        .iter()
        .zip(&per_hook)
        .map(|(h, cands)| HookReport {
            role: h.role.into(),
            candidates: cands.clone(),
            function: cands.iter().find(|c| present.contains(c.as_str())).cloned(),
            registers: "not checked".into(),
            fires: "not checked".into(),
        })
        .collect();
    let all_present = hooks.iter().all(|h| h.function.is_some());
    let kprobes_on = Path::new("/sys/kernel/debug/kprobes").exists()
        || Path::new("/sys/kernel/tracing/kprobe_events").exists()
        || kallsyms::present(&["register_kprobe"]).map(|s| !s.is_empty()).unwrap_or(false);
    let registers = if !all_present {
        "no: a hook has none of its candidates".to_string()
    } else if !kprobes_on {
        "no: this kernel has no kprobes (CONFIG_KPROBES)".into()
    } else if !load {
        "not checked (--no-load)".into()
    } else if kmod::is_loaded(spec.module) {
        "yes (module already loaded)".into()
    } else {
        match tool::ensure_loaded(spec, &ModuleOpts::default()) {
            Ok(dev) => {
                // The device must be closed before the module can go.
                drop(dev);
                match kmod::unload(spec.module) {
                    Ok(_) => "yes".into(),
                    Err(e) => format!("yes (but could not unload it again: {e})"),
                }
            }
            Err(e) => format!("no: {e}"),
        }
    };
    for h in &mut hooks {
        h.registers = registers.clone();
        if let Some(f) = &h.function {
            if trigger {
                *n += 1;
                h.fires = check_fires(f, *n);
            } else {
                h.fires = "not checked (--no-trigger)".into();
            }
        } else {
            h.fires = "no: absent".into();
        }
    }
    // A hook that does not fire is covered when another hook of the tool
    // fires on one of its own candidates (memslot-fi probes both region
    // functions because arm64 6.12 calls the outer one).
    // Both directions: the other hook fires on one of this hook's candidates,
    // or this hook's function is one of the firing hook's candidates.
    let fired: Vec<(String, Vec<String>)> = hooks
        .iter()
        .filter(|h| h.fires.starts_with("yes"))
        .filter_map(|h| h.function.clone().map(|f| (f, h.candidates.clone())))
        .collect();
    for h in &mut hooks {
        if !h.fires.starts_with("no:") {
            continue;
        }
        let own = h.function.clone().unwrap_or_default();
        if let Some((f, _)) = fired.iter().find(|(f, cands)| *f != own && (h.candidates.contains(f) || cands.contains(&own))) {
            h.fires = format!("covered: {own} does not fire here, {f} (an alternative for the same calls) does");
        }
    }
    // "not checked" is not a failure: only a definite "no:" is.
    let works = all_present
        && !registers.starts_with("no:")
        && hooks.iter().all(|h| !h.fires.starts_with("no:"));
    Ok(ToolReport { tool: name.into(), module: spec.module.into(), hooks, works })
}

/// Runs the check with the given arguments.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<()> {
    let Some(m) = kvmfi::cliparse::parse(command(), args)? else { return Ok(()) };
    let names: Vec<String> = m.get_many::<String>("tools").map(|v| v.cloned().collect()).unwrap_or_default();
    // (display name, spec): each tool's own module, then the modules its subcommands reach
    let specs: Vec<(String, &ModuleSpec)> = if names.is_empty() {
        symbols::ALL
            .iter()
            .map(|s| (s.tool.to_string(), s))
            .chain(symbols::SUBCOMMAND_MODULES.iter().map(|(sub, s)| (format!("{} {sub}", s.tool), *s)))
            .collect()
    } else {
        names
            .iter()
            .map(|n| {
                if let Some(s) = symbols::lookup(n) {
                    return Ok((s.tool.to_string(), s));
                }
                if let Some((sub, s)) = symbols::lookup_subcommand_module(n) {
                    return Ok((format!("{} {sub}", s.tool), s));
                }
                let mut known: Vec<String> = symbols::ALL.iter().map(|s| s.tool.to_string()).collect();
                known.extend(symbols::SUBCOMMAND_MODULES.iter().map(|(_, s)| s.module.to_string()));
                Err(Error::usage(format!("unknown tool '{n}'; known: {}", known.join(", "))))
            })
            .collect::<Result<_>>()?
    };
    let root = nix::unistd::geteuid().is_root();
    let load = !m.get_flag("no-load") && root;
    let trigger = !m.get_flag("no-trigger") && root;
    let uts = nix::sys::utsname::uname().map_err(|e| Error::failed(format!("uname: {e}")))?;
    let release = uts.release().to_string_lossy().into_owned();
    let mut n = 0;
    let tools = specs.iter().map(|(name, s)| check_tool(name, s, load, trigger, &mut n)).collect::<Result<Vec<_>>>()?;
    let report = Report { kernel: release.clone(), arch: uts.machine().to_string_lossy().into_owned(), facts: facts(&release), tools };
    if m.get_flag("json") {
        run::out_json(&report)?;
    } else {
        print_table(&report, root)?;
    }
    if !names.is_empty() && report.tools.iter().any(|t| !t.works) {
        return Err(Error::unsupported(format!(
            "cannot work here: {}",
            report.tools.iter().filter(|t| !t.works).map(|t| t.tool.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

fn print_table(r: &Report, root: bool) -> Result<()> {
    run::out(format!("kernel {} ({})", r.kernel, r.arch))?;
    for (k, v) in &r.facts {
        run::out(format!("  {k:<22} {v}"))?;
    }
    if !root {
        run::out("  (not root: modules were not loaded and hooks not triggered; run as root for the full check)")?;
    }
    run::out("")?;
    run::out(format!("{:<17} {:<16} {:<28} {:<28} {:<10} FIRES", "TOOL", "MODULE", "HOOK", "FUNCTION", "REGISTERS"))?;
    for t in &r.tools {
        for (i, h) in t.hooks.iter().enumerate() {
            let (tool, module) = if i == 0 { (t.tool.as_str(), t.module.as_str()) } else { ("", "") };
            let function = h.function.clone().unwrap_or_else(|| format!("absent (tried {})", h.candidates.join(", ")));
            let reg = if h.registers.starts_with("yes") { "yes" } else if h.registers.starts_with("no:") { "no" } else { "-" };
            run::out(format!("{tool:<17} {module:<16} {:<28} {function:<28} {reg:<10} {}", h.role, h.fires))?;
            if h.registers.starts_with("no:") && i == 0 {
                // The full reason (with every path searched) is in --json.
                let short = h.registers.split(" (looked in").next().unwrap_or(&h.registers);
                run::out(format!("{:<17} {short}", ""))?;
            }
        }
    }
    Ok(())
}
