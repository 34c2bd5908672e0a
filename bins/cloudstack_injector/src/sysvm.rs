//! CloudStack's system VMs through virsh (honouring the type: s-N-VM,
//! v-N-VM, r-N-VM): listed with the daemons, destroyed (recover starts them
//! again), suspended and resumed.

use crate::Comp;
use clap::ValueEnum;
use kvmfi::exec;
use kvmfi::injector::Ctx;
use kvmfi::journal::{Fault, Step};
use kvmfi::run::out;
use kvmfi::{Error, Result};
use std::time::Duration;

/// System VM types and their libvirt domain names (`s-12-VM`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sysvm {
    /// Secondary storage VM: s-N-VM
    Ssvm,
    /// Console proxy VM: v-N-VM
    Cpvm,
    /// Virtual router: r-N-VM
    Vr,
}

impl Sysvm {
    /// The type of a component.
    pub fn of(c: Comp) -> Sysvm {
        match c {
            Comp::Cpvm => Sysvm::Cpvm,
            Comp::Vr => Sysvm::Vr,
            _ => Sysvm::Ssvm,
        }
    }
    /// The short name.
    pub fn name(self) -> &'static str {
        match self {
            Sysvm::Ssvm => "ssvm",
            Sysvm::Cpvm => "cpvm",
            Sysvm::Vr => "vr",
        }
    }
    /// True when `domain` is a system VM of this type: PREFIX-N-VM.
    pub fn owns(self, domain: &str) -> bool {
        let prefix = match self {
            Sysvm::Ssvm => "s-",
            Sysvm::Cpvm => "v-",
            Sysvm::Vr => "r-",
        };
        domain
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix("-VM"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }
}

/// The virsh connection.
pub struct Virsh {
    pub uri: Option<String>,
}

/// What to do to a system VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmOp {
    Crash,
    Hang,
    Resume,
}

impl Virsh {
    fn argv(&self, words: &[&str]) -> Result<Vec<String>> {
        let v = exec::require_tool("virsh", "apt-get install libvirt-clients")?;
        let mut a = vec![v.to_string_lossy().into_owned()];
        if let Some(u) = &self.uri {
            a.extend(["-c".into(), u.clone()]);
        }
        a.extend(words.iter().map(|w| w.to_string()));
        Ok(a)
    }
    fn run(&self, words: &[&str]) -> Result<String> {
        Ok(exec::run_ok(&self.argv(words)?, None, Duration::from_secs(60))?.stdout)
    }
    /// Every domain with its state (`running`, `paused`, `shut off`, ...).
    fn domains(&self) -> Result<Vec<(String, String)>> {
        let names = self.run(&["list", "--all", "--name"])?;
        let mut v = Vec::new();
        for n in names.lines().map(str::trim).filter(|n| !n.is_empty()) {
            let st = self.run(&["domstate", n]).map(|s| s.trim().to_string()).unwrap_or_else(|_| "unknown".into());
            v.push((n.to_string(), st));
        }
        Ok(v)
    }
}

/// `list`: the system VMs as extra rows (component, pid of their qemu or
/// -, state, domain). Silent when virsh is missing or fails.
pub fn list_sysvms(v: &Virsh, json: bool) -> Result<()> {
    if exec::which("virsh", &[]).is_none() {
        return Ok(());
    }
    let Ok(doms) = v.domains() else { return Ok(()) };
    for (d, st) in doms {
        let Some(t) = [Sysvm::Ssvm, Sysvm::Cpvm, Sysvm::Vr].into_iter().find(|t| t.owns(&d)) else { continue };
        let pid = kvmfi::procs::all()
            .into_iter()
            .find(|p| p.comm.starts_with("qemu") && p.cmdline.iter().any(|a| a.contains(&format!("guest={d},")) || a.ends_with(&format!("guest={d}")) || *a == d))
            .map(|p| p.pid.to_string())
            .unwrap_or_else(|| "-".into());
        let state = st.replace(' ', "-");
        if json {
            let pid_json = if pid == "-" { "null".to_string() } else { pid.clone() };
            let esc = |x: &str| x.replace('\\', "\\\\").replace('"', "\\\"");
            out(format!(
                "{{\"component\":\"{}\",\"pid\":{pid_json},\"state\":\"{}\",\"main_class\":\"{}\"}}",
                t.name(),
                esc(&state),
                esc(&d)
            ))?;
        } else {
            out(format!("{}\t{pid}\t{state}\t{d}", t.name()))?;
        }
    }
    Ok(())
}

/// sysvm-crash / sysvm-hang / sysvm-resume TYPE, and crash|hang|resume of
/// the ssvm, cpvm and vr components: only domains of that TYPE.
pub fn sysvm(ctx: &Ctx, v: &Virsh, t: Sysvm, op: VmOp) -> Result<()> {
    let doms: Vec<(String, String)> = v.domains()?.into_iter().filter(|(d, _)| t.owns(d)).collect();
    let target = t.name().to_string();
    match op {
        VmOp::Crash | VmOp::Hang => {
            let live: Vec<&String> = doms.iter().filter(|(_, s)| s == "running" || s == "paused").map(|(d, _)| d).collect();
            let live: Vec<&String> = if op == VmOp::Hang {
                doms.iter().filter(|(_, s)| s == "running").map(|(d, _)| d).collect()
            } else {
                live
            };
            if live.is_empty() {
                return Err(Error::not_found(format!(
                    "no {} system VM ({}) is running on this host",
                    t.name(),
                    match t {
                        Sysvm::Ssvm => "s-N-VM",
                        Sysvm::Cpvm => "v-N-VM",
                        Sysvm::Vr => "r-N-VM",
                    }
                )));
            }
            let kind = if op == VmOp::Crash { "sysvm-crash" } else { "sysvm-hang" };
            let mut apply = Vec::new();
            let mut undo = Vec::new();
            for d in &live {
                if op == VmOp::Crash {
                    apply.push(Step::Run { argv: v.argv(&["destroy", d])?, stdin: None });
                    undo.push(Step::RunIf { check: v.argv(&["domstate", d])?, has: "shut off".into(), argv: v.argv(&["start", d])? });
                } else {
                    apply.push(Step::Run { argv: v.argv(&["suspend", d])?, stdin: None });
                    undo.push(Step::RunIf { check: v.argv(&["domstate", d])?, has: "paused".into(), argv: v.argv(&["resume", d])? });
                }
            }
            let names: Vec<&str> = live.iter().map(|d| d.as_str()).collect();
            ctx.inject(|_| {
                Ok(Fault {
                    kind: kind.into(),
                    target: target.clone(),
                    desc: format!("virsh {} {}", if op == VmOp::Crash { "destroy" } else { "suspend" }, names.join(" ")),
                    apply,
                    undo,
                })
            })
        }
        VmOp::Resume => {
            let n = ctx.undo_where(|e| e.kind == "sysvm-hang" && e.target == target)?;
            // What the undo left paused (not ours, or paused by hand).
            let doms: Vec<(String, String)> = if n > 0 && !ctx.dry_run {
                v.domains()?.into_iter().filter(|(d, _)| t.owns(d)).collect()
            } else {
                doms
            };
            for (d, _) in doms.iter().filter(|(_, s)| s == "paused") {
                if ctx.dry_run {
                    out(exec::display_argv(&v.argv(&["resume", d])?))?;
                } else {
                    ctx.require_root()?;
                    v.run(&["resume", d])?;
                    out(format!("-\tresumed\t{target}\tvirsh resume {d}"))?;
                }
            }
            if n == 0 && doms.is_empty() {
                return Err(Error::not_found(format!("no {} system VM is defined on this host", t.name())));
            }
            Ok(())
        }
    }
}
