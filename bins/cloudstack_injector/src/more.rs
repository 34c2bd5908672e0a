//! The original tool's later commands: system VMs through virsh (honouring
//! the type), network blocks of a peer, a database lock that really holds,
//! unmounting and filling primary storage, stressors, and VM migration
//! failures.

use super::{Cmd, Comp, TOOL};
use clap::ValueEnum;
use kvmfi::injector::stress;
use kvmfi::injector::steps::tag_arg;
use kvmfi::injector::Ctx;
use kvmfi::journal::{self, Fault, Step};
use kvmfi::netfault::Target;
use kvmfi::run::out;
use kvmfi::sqldb::{self, Db};
use kvmfi::{exec, mounts, Error, Result};
use std::path::{Path, PathBuf};
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

/// `LO-HI` port range.
pub fn parse_range(text: &str) -> std::result::Result<(u16, u16), String> {
    let bad = || format!("'{text}' is not a port range LO-HI (1 to 65535)");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// The remaining commands.
pub fn run(ctx: &Ctx, cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Network { ip, port: None } => ctx.block("network", &ip.to_string(), Target::Host(ip), format!("drop all traffic to and from {ip}")),
        Cmd::Network { ip, port: Some(p) } => ctx.block(
            "network",
            &format!("{ip}/tcp/{p}"),
            Target::HostTcpPort(ip, p),
            format!("drop TCP port {p} to and from {ip}"),
        ),
        Cmd::NetworkClear { ip } => {
            let ip = ip.to_string();
            let n = ctx.undo_where(|e| e.kind == "network" && (e.target == ip || e.target.starts_with(&format!("{ip}/"))))?;
            if n == 0 {
                eprintln!("{TOOL}: no network fault on {ip} is in force; nothing changed");
            }
            Ok(())
        }
        Cmd::DbLock { db_name, table, db } => db_lock(ctx, &db_name, &table, &db),
        Cmd::DbUnlock => ctx.clear("db-lock", "cloud-db"),
        Cmd::StorageUmount { mp } => storage_umount(ctx, &mp),
        Cmd::StorageFill { mp, size, keep_free } => storage_fill(ctx, &mp, size, keep_free),
        Cmd::StorageClean { mp } => {
            let target = canonical(&mp)?.display().to_string();
            ctx.clear("storage-fill", &target)
        }
        Cmd::CpuStress { secs, threads } => ctx.inject(|id| stress::cpu_stress(id, "local", secs, threads)),
        Cmd::CpuStressClear => ctx.clear("cpu-stress", "local"),
        Cmd::MemStress { mb } => ctx.inject(|id| stress::mem_stress(id, "local", mb)),
        Cmd::MemStressClear => ctx.clear("mem-stress", "local"),
        Cmd::VmMigrateFail { ports: (lo, hi) } => ctx.block(
            "vm-migrate-fail",
            &format!("tcp/{lo}-{hi}"),
            Target::TcpPortRange(lo, hi),
            format!("drop TCP to and from ports {lo}-{hi} (libvirt live migration data)"),
        ),
        Cmd::VmOpClear => {
            let n = ctx.undo_where(|e| e.kind == "vm-migrate-fail")?;
            if n == 0 {
                eprintln!("{TOOL}: no VM operation fault is in force; nothing changed");
            }
            Ok(())
        }
        other => Err(Error::failed(format!("internal: {other:?} is not handled"))),
    }
}

fn canonical(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).map_err(|e| Error::usage(format!("{}: {e}; give the primary storage mount point", path.display())))
}

/// db-lock: a detached helper keeps a client session open that holds
/// `LOCK TABLES db.table WRITE`; the undo kills it, which ends the session
/// and so the lock.
fn db_lock(ctx: &Ctx, name: &str, table: &str, o: &sqldb::DbOpts) -> Result<()> {
    ctx.require_root()?;
    let db = Db::new(o)?;
    let found = db.query(&format!(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {} AND table_name = {}",
        sqldb::quote(name),
        sqldb::quote(table)
    ))?;
    if found.first().and_then(|r| r.first()).map(|v| v.trim()) != Some("1") {
        return Err(Error::not_found(format!("the database has no table {name}.{table}; give --db-name and --table")));
    }
    let mut client = db.argv("");
    client.truncate(client.len() - 2); // without "-e ''": statements come on stdin
    client.push("--unbuffered".into());
    client.push(name.into());
    let exe = std::env::current_exe().map_err(|e| Error::io("finding this program", e))?.to_string_lossy().into_owned();
    ctx.inject_once(|e| e.kind == "db-lock", |id| {
        let tag = stress::helper_tag(id);
        let mut argv = vec![
            exe.clone(),
            stress::HELPER_ARG.into(),
            "hold".into(),
            "--script".into(),
            format!("LOCK TABLES `{name}`.`{table}` WRITE;\nSELECT 'kvmfi-locked';\n"),
            "--until".into(),
            "kvmfi-locked".into(),
            tag_arg(&tag),
            "--".into(),
        ];
        argv.extend(client.iter().cloned());
        Ok(Fault {
            kind: "db-lock".into(),
            target: "cloud-db".into(),
            desc: format!("LOCK TABLES {name}.{table} WRITE, held by a session that stays open until db-unlock"),
            apply: vec![Step::Spawn { argv, tag: tag.clone() }],
            undo: vec![Step::KillTagged { tag }],
        })
    })
}

/// The mountinfo line of mount point `mp`: (root, super options).
fn mount_extra(mp: &str) -> Result<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| Error::io("reading /proc/self/mountinfo", e))?;
    let mut found = None;
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.get(4).map(|m| m.replace("\\040", " ")) == Some(mp.to_string()) {
            found = Some((l.get(3).unwrap_or(&"/").to_string(), r.get(2).unwrap_or(&"").to_string()));
        }
    }
    found.ok_or_else(|| Error::usage(format!("{mp} is not a mount point")))
}

/// storage-umount: `umount MP`; the undo mounts the same source again with
/// the same type and options (unless something is mounted there by then).
fn storage_umount(ctx: &Ctx, mp: &Path) -> Result<()> {
    let path = canonical(mp)?;
    let target = path.display().to_string();
    let m = mounts::at(&path)?.ok_or_else(|| Error::usage(format!("{target} is not a mount point")))?;
    let (root, sup) = mount_extra(&target)?;
    const NO_SOURCE: &[&str] = &["tmpfs", "ramfs", "devtmpfs", "proc", "sysfs", "overlay", "cgroup2", "devpts", "mqueue"];
    if NO_SOURCE.contains(&m.fstype.as_str()) {
        return Err(Error::failed(format!(
            "{target} is a {} mount: unmounting it would lose its content for good; kvmfi only unmounts what it can mount again",
            m.fstype
        )));
    }
    if root != "/" && !m.fstype.starts_with("nfs") {
        return Err(Error::failed(format!("{target} is a bind mount of {root}; kvmfi could not mount it again the same way")));
    }
    let umount = exec::require_tool("umount", "apt-get install mount")?.to_string_lossy().into_owned();
    let mount = exec::require_tool("mount", "apt-get install mount")?.to_string_lossy().into_owned();
    let mountpoint = exec::require_tool("mountpoint", "apt-get install util-linux")?.to_string_lossy().into_owned();
    let mut opts: Vec<String> = m.options.clone();
    for o in sup.split(',').filter(|o| !o.is_empty() && *o != "rw" && *o != "ro") {
        if !opts.iter().any(|x| x == o) {
            opts.push(o.to_string());
        }
    }
    ctx.require_root()?;
    let opts = opts.join(",");
    ctx.inject_once(|e| e.kind == "storage-umount" && e.target == target, |_| {
        Ok(Fault {
            kind: "storage-umount".into(),
            target: target.clone(),
            desc: format!("unmounted {target} ({} {} -o {opts})", m.fstype, m.source),
            apply: vec![Step::Run { argv: exec::argv([umount.as_str(), target.as_str()]), stdin: None }],
            undo: journal::in_this_mountns(vec![Step::RunIf {
                check: exec::argv([mountpoint.as_str(), target.as_str()]),
                has: "is not a mountpoint".into(),
                argv: exec::argv([mount.as_str(), "-t", m.fstype.as_str(), "-o", opts.as_str(), m.source.as_str(), target.as_str()]),
            }]),
        })
    })
}

fn storage_fill(ctx: &Ctx, mp: &Path, size: Option<u64>, keep_free: u64) -> Result<()> {
    let path = canonical(mp)?;
    if !path.is_dir() {
        return Err(Error::usage(format!("{} is not a directory", path.display())));
    }
    let target = path.display().to_string();
    let mb = match size {
        Some(s) => s,
        None => {
            let free = kvmfi::host::files::free_bytes(&path)? >> 20;
            if free <= keep_free {
                return Err(Error::failed(format!("{target} has only {free} MB free; nothing to fill")));
            }
            free - keep_free
        }
    };
    ctx.require_root()?;
    ctx.inject_once(|e| e.kind == "storage-fill" && e.target == target, |id| {
        stress::fill(id, "storage-fill", &target, &path, mb, keep_free)
    })
}
