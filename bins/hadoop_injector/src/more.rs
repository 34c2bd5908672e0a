//! The original tool's later commands: netem faults towards a peer
//! (delay, loss, reorder, heartbeat), isolate, node stressors and fills,
//! MapReduce task kills, I/O throttling, and their `*-local` forms, which
//! the master runs on another node over ssh.

use super::{Cmd, Comp, HealthAction, TOOL};
use clap::{Args, ValueEnum};
use kvmfi::injector::remote::{self, Resolved, Ssh};
use kvmfi::injector::stress;
use kvmfi::injector::{netem, Component, Ctx};
use kvmfi::journal::{self, Fault, Step};
use kvmfi::netfault::Target;
use kvmfi::procs::Matcher;
use kvmfi::run::out;
use kvmfi::{exec, Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The kinds that put a netem band on a device.
const NETEM_KINDS: &[&str] = &["delay", "loss", "reorder", "heartbeat"];

/// Network device choice for netem faults.
#[derive(Args, Debug, Clone, Default)]
pub struct NetOpts {
    /// Network device (default: the one the route to TGT leaves by, from 'ip route get')
    #[arg(long, value_name = "DEV")]
    pub dev: Option<String>,
}

/// Where a fill file goes and what must stay free.
#[derive(Args, Debug, Clone)]
pub struct FillOpts {
    /// Directory of the fill file (disk-fill default: $TMPDIR, else /tmp;
    /// hdfs-disk default: the first dfs.datanode.data.dir, from 'hdfs getconf')
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Megabytes that must stay free on that file system
    #[arg(long, value_name = "MB", default_value_t = 64)]
    pub keep_free: u64,
}

/// io-slow settings.
#[derive(Args, Debug, Clone)]
pub struct IoOpts {
    /// Bytes per second each of reads and writes may use (io.max rbps/wbps)
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576, value_parser = clap::value_parser!(u64).range(4096..))]
    pub rate: u64,
    /// Block device MAJ:MIN to throttle (default: the disk holding --path)
    #[arg(long, value_name = "MAJ:MIN")]
    pub device: Option<String>,
    /// A directory on the disk to throttle (default: the first dfs.datanode.data.dir)
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// The daemon whose I/O is throttled
    #[arg(long, value_enum, default_value = "dn")]
    pub component: Comp,
    /// Where cgroup v2 is mounted
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/cgroup")]
    pub cgroup_root: PathBuf,
}

/// How the master reaches other nodes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Other nodes (ssh)")]
pub struct SshOpts {
    /// ssh login name on other nodes (default: ssh's own choice)
    #[arg(long, value_name = "USER", global = true)]
    pub ssh_user: Option<String>,
    /// ssh port (default: the node's in cluster.conf, else ssh's own)
    #[arg(long, value_name = "PORT", global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub ssh_port: Option<u16>,
    /// ssh identity file
    #[arg(long, value_name = "FILE", global = true)]
    pub ssh_key: Option<PathBuf>,
    /// The injector's command on the other nodes
    #[arg(long, value_name = "PATH", global = true, default_value = TOOL)]
    pub remote_injector: String,
}

/// on / off.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    /// Apply the fault
    On,
    /// Undo it
    Off,
}

/// Launcher facts the commands need.
pub struct Launch {
    pub home: Option<PathBuf>,
    pub timeout: Duration,
}

/// A percentage above 0 and at most 100.
pub fn parse_pct(text: &str) -> std::result::Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 100.0 => Ok(v),
        _ => Err(format!("'{text}' is not a percentage above 0 and at most 100")),
    }
}

/// A percentage from 0 to 100.
pub fn parse_pct0(text: &str) -> std::result::Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("'{text}' is not a percentage from 0 to 100")),
    }
}

/// MapReduce task attempts: YarnChild with an attempt id holding `marker`.
pub fn task_component(name: &str, marker: &str) -> Component {
    Component {
        name: name.into(),
        matchers: vec![Matcher::JavaMainArg("org.apache.hadoop.mapred.YarnChild".into(), marker.into())],
        restart_command: None,
    }
}

/// SIGKILL of MapReduce task JVMs (map, reduce, am): YARN runs the
/// attempts again, so nothing is restarted by recover.
pub fn kill_tasks(ctx: &Ctx, c: &Component) -> Result<()> {
    let ps = c.processes();
    if ps.is_empty() {
        return Err(Error::not_found(format!("no '{}' task is running on this node (looked for {})", c.name, c.describe())));
    }
    ctx.inject(|_| {
        Ok(Fault {
            kind: format!("crash-{}", c.name),
            target: c.name.clone(),
            desc: format!(
                "SIGKILL pid {} (YARN re-runs the attempts; recover restarts nothing)",
                ps.iter().map(|p| p.pid.to_string()).collect::<Vec<_>>().join(",")
            ),
            apply: ps
                .iter()
                .map(|p| Step::Signal {
                    pid: p.pid,
                    starttime: p.starttime,
                    signal: "KILL".into(),
                    what: format!("{} {}", c.name, p.cmdline.iter().find(|a| a.starts_with("attempt_")).cloned().unwrap_or_default()),
                })
                .collect(),
            undo: Vec::new(),
        })
    })
}

/// Everything [`super::run`] hands over.
pub fn run(ctx: &Ctx, table: &[Component], l: &Launch, conf: Option<&Path>, ssh: &SshOpts, cmd: Cmd) -> Result<()> {
    let comp = |name: &str| table.iter().find(|t| t.name == name).expect("in the table");
    let s = Ssh { user: ssh.ssh_user.clone(), port: ssh.ssh_port, key: ssh.ssh_key.clone(), remote_tool: ssh.remote_injector.clone() };
    let num = |v: f64| format!("{v}%");
    match cmd {
        Cmd::Delay { tgt, ms, jitter, net } => {
            let mut args = vec!["delay".to_string(), format!("{ms}ms")];
            if let Some(j) = jitter {
                args.push(format!("{j}ms"));
            }
            let desc = format!("delay {ms}ms{}", jitter.map(|j| format!(" ±{j}ms")).unwrap_or_default());
            netem_fault(ctx, conf, "delay", &tgt, &net, None, args, desc)
        }
        Cmd::Loss { tgt, pct, net } => netem_fault(ctx, conf, "loss", &tgt, &net, None, vec!["loss".into(), num(pct)], format!("lose {pct}%")),
        Cmd::Reorder { tgt, pct, corr, reorder_delay, net } => {
            let mut args = vec!["delay".to_string(), format!("{reorder_delay}ms"), "reorder".into(), num(pct)];
            if let Some(c) = corr {
                args.push(num(c));
            }
            let desc = format!("reorder {pct}%{} (others delayed {reorder_delay}ms)", corr.map(|c| format!(" corr {c}%")).unwrap_or_default());
            netem_fault(ctx, conf, "reorder", &tgt, &net, None, args, desc)
        }
        Cmd::Heartbeat { tgt, ms, ports, net } => {
            if ports.is_empty() || ports.contains(&0) {
                return Err(Error::usage("--ports needs ports from 1 to 65535"));
            }
            let desc = format!("delay {ms}ms of TCP to ports {}", ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","));
            netem_fault(ctx, conf, "heartbeat", &tgt, &net, Some(&ports), vec!["delay".into(), format!("{ms}ms")], desc)
        }
        Cmd::DelayClear { tgt } => clear(ctx, conf, "delay", tgt.as_deref()),
        Cmd::LossClear { tgt } => clear(ctx, conf, "loss", tgt.as_deref()),
        Cmd::ReorderClear { tgt } => clear(ctx, conf, "reorder", tgt.as_deref()),
        Cmd::HeartbeatClear { tgt } => clear(ctx, conf, "heartbeat", tgt.as_deref()),
        Cmd::IsolateClear { tgt } => clear(ctx, conf, "isolate", tgt.as_deref()),
        Cmd::DelayShow => delay_show(),
        Cmd::Isolate { tgt, port } => {
            let r = remote::resolve(&tgt, conf)?;
            let (target, t, desc) = match port {
                None => (r.ip.to_string(), Target::Host(r.ip), format!("drop all traffic to and from {} ({})", r.ip, r.name)),
                Some(p) => (
                    format!("{}/tcp/{p}", r.ip),
                    Target::HostTcpPort(r.ip, p),
                    format!("drop TCP port {p} to and from {} ({})", r.ip, r.name),
                ),
            };
            ctx.block("isolate", &target, t, desc)
        }
        Cmd::CpuStress { tgt, secs, threads } => {
            let mut args = vec!["cpu-stress-local".to_string(), secs.to_string()];
            args.extend(threads.map(|t| t.to_string()));
            on_node(ctx, conf, &s, &tgt, "cpu-stress", args, Some(vec!["cpu-stress-clear-local".into()]), |target| {
                ctx.inject(|id| stress::cpu_stress(id, target, secs, threads))
            })
        }
        Cmd::CpuStressLocal { secs, threads } => ctx.inject(|id| stress::cpu_stress(id, "local", secs, threads)),
        Cmd::CpuStressClear { tgt } => clear(ctx, conf, "cpu-stress", tgt.as_deref()),
        Cmd::CpuStressClearLocal => clear_local(ctx, "cpu-stress"),
        Cmd::MemStress { tgt, mb } => on_node(
            ctx,
            conf,
            &s,
            &tgt,
            "mem-stress",
            vec!["mem-stress-local".into(), mb.to_string()],
            Some(vec!["mem-stress-clear-local".into()]),
            |target| ctx.inject(|id| stress::mem_stress(id, target, mb)),
        ),
        Cmd::MemStressLocal { mb } => ctx.inject(|id| stress::mem_stress(id, "local", mb)),
        Cmd::MemStressClear { tgt } => clear(ctx, conf, "mem-stress", tgt.as_deref()),
        Cmd::MemStressClearLocal => clear_local(ctx, "mem-stress"),
        Cmd::DiskFill { tgt, mb, fill } => {
            let args = with_fill(vec!["disk-fill-local".into(), mb.to_string()], &fill);
            on_node(ctx, conf, &s, &tgt, "disk-fill", args, Some(vec!["disk-fill-clear-local".into()]), |target| {
                disk_fill(ctx, "disk-fill", target, &fill_dir(&fill, None)?, mb, fill.keep_free)
            })
        }
        Cmd::DiskFillLocal { mb, fill } => disk_fill(ctx, "disk-fill", "local", &fill_dir(&fill, None)?, mb, fill.keep_free),
        Cmd::HdfsDisk { tgt, mb, fill } => {
            let args = with_fill(vec!["hdfs-disk-local".into(), mb.to_string()], &fill);
            on_node(ctx, conf, &s, &tgt, "hdfs-disk", args, Some(vec!["disk-fill-clear-local".into()]), |target| {
                disk_fill(ctx, "hdfs-disk", target, &fill_dir(&fill, Some(l))?, mb, fill.keep_free)
            })
        }
        Cmd::HdfsDiskLocal { mb, fill } => disk_fill(ctx, "hdfs-disk", "local", &fill_dir(&fill, Some(l))?, mb, fill.keep_free),
        Cmd::DiskFillClear { tgt } => {
            clear_quiet(ctx, conf, "hdfs-disk", tgt.as_deref())?;
            clear(ctx, conf, "disk-fill", tgt.as_deref())
        }
        Cmd::DiskFillClearLocal => {
            ctx.undo_where(|e| e.kind == "hdfs-disk")?;
            clear_local(ctx, "disk-fill")
        }
        Cmd::CrashMap { slave } => on_node(ctx, conf, &s, &slave, "crash-map", vec!["crash-map-local".into()], None, |_| {
            kill_tasks(ctx, comp("map"))
        }),
        Cmd::CrashReduce { slave } => on_node(ctx, conf, &s, &slave, "crash-reduce", vec!["crash-reduce-local".into()], None, |_| {
            kill_tasks(ctx, comp("reduce"))
        }),
        Cmd::CrashMapLocal => kill_tasks(ctx, comp("map")),
        Cmd::CrashReduceLocal => kill_tasks(ctx, comp("reduce")),
        Cmd::YarnUnhealthy { slave, state, marker } => {
            let m = marker.display().to_string();
            let on = vec!["yarn-unhealthy-local".to_string(), "on".into(), "--marker".into(), m.clone()];
            let off = vec!["yarn-unhealthy-local".to_string(), "off".into(), "--marker".into(), m];
            match state {
                OnOff::On => on_node(ctx, conf, &s, &slave, "yarn-unhealthy", on, Some(off), |_| {
                    super::yarn_health(ctx, HealthAction::Fail, &marker)
                }),
                OnOff::Off => off_node(ctx, conf, &s, &slave, "yarn-unhealthy", off, || {
                    super::yarn_health(ctx, HealthAction::Ok, &marker)
                }),
            }
        }
        Cmd::YarnUnhealthyLocal { state, marker } => super::yarn_health(
            ctx,
            if state == OnOff::On { HealthAction::Fail } else { HealthAction::Ok },
            &marker,
        ),
        Cmd::IoSlow { tgt, state, io } => {
            let mut args = vec!["io-slow-local".to_string(), if state == OnOff::On { "on".into() } else { "off".into() }];
            args.extend(["--rate".into(), io.rate.to_string(), "--component".into(), comp_name(io.component).into()]);
            if let Some(d) = &io.device {
                args.extend(["--device".into(), d.clone()]);
            }
            if let Some(p) = &io.path {
                args.extend(["--path".into(), p.display().to_string()]);
            }
            let mut off = args.clone();
            off[1] = "off".into();
            match state {
                OnOff::On => on_node(ctx, conf, &s, &tgt, "io-slow", args, Some(off), |target| io_slow_on(ctx, table, l, &io, target)),
                OnOff::Off => off_node(ctx, conf, &s, &tgt, "io-slow", off, || io_slow_off(ctx)),
            }
        }
        Cmd::IoSlowLocal { state: OnOff::On, io } => io_slow_on(ctx, table, l, &io, "local"),
        Cmd::IoSlowLocal { state: OnOff::Off, .. } => io_slow_off(ctx),
        other => Err(Error::failed(format!("internal: {other:?} is not handled"))),
    }
}

fn comp_name(c: Comp) -> &'static str {
    c.name()
}

fn with_fill(mut args: Vec<String>, f: &FillOpts) -> Vec<String> {
    if let Some(d) = &f.dir {
        args.extend(["--dir".into(), d.display().to_string()]);
    }
    args.extend(["--keep-free".into(), f.keep_free.to_string()]);
    args
}

/// The directory of a fill: --dir, else (hdfs-disk) the DataNode's data
/// directory from `hdfs getconf`, else $TMPDIR or /tmp.
fn fill_dir(f: &FillOpts, hdfs: Option<&Launch>) -> Result<PathBuf> {
    if let Some(d) = &f.dir {
        return Ok(d.clone());
    }
    match hdfs {
        None => Ok(std::env::temp_dir()),
        Some(l) => datanode_dir(l),
    }
}

/// The first dfs.datanode.data.dir, as `hdfs getconf` reports it.
fn datanode_dir(l: &Launch) -> Result<PathBuf> {
    let extra: Vec<PathBuf> = l.home.iter().map(|h| h.join("bin")).collect();
    let hdfs = exec::which("hdfs", &extra).ok_or_else(|| {
        Error::unsupported("the 'hdfs' launcher is neither on PATH nor in $HADOOP_HOME/bin; give --dir, or set HADOOP_HOME")
    })?;
    let out = exec::run_ok(
        &exec::argv([hdfs.to_string_lossy().as_ref(), "getconf", "-confKey", "dfs.datanode.data.dir"]),
        None,
        l.timeout,
    )?;
    let first = out.stdout.lines().map(str::trim).find(|x| !x.is_empty()).unwrap_or("").split(',').next().unwrap_or("").trim().to_string();
    // "[DISK]file:///data/dn" -> /data/dn
    let first = first.rsplit(']').next().unwrap_or("").to_string();
    let path = first.strip_prefix("file://").unwrap_or(&first).to_string();
    if path.is_empty() || !Path::new(&path).is_dir() {
        return Err(Error::failed(format!("dfs.datanode.data.dir '{path}' is not a directory here; give --dir")));
    }
    Ok(PathBuf::from(path))
}

fn disk_fill(ctx: &Ctx, kind: &str, target: &str, dir: &Path, mb: u64, keep: u64) -> Result<()> {
    ctx.require_root()?;
    ctx.inject(|id| stress::fill(id, kind, target, dir, mb, keep))
}

/// Runs `local` when TGT is this node; otherwise `TOOL ARGS` on TGT over
/// ssh, journaled here with `TOOL UNDO` over ssh as its undo (not
/// journaled when there is nothing to undo).
#[allow(clippy::too_many_arguments)]
fn on_node(
    ctx: &Ctx,
    conf: Option<&Path>,
    s: &Ssh,
    tgt: &str,
    kind: &str,
    args: Vec<String>,
    undo: Option<Vec<String>>,
    local: impl FnOnce(&str) -> Result<()>,
) -> Result<()> {
    let r = remote::resolve(tgt, conf)?;
    if remote::is_local(r.ip) {
        return local(&r.ip.to_string());
    }
    let apply = s.argv(&r, &args)?;
    match undo {
        None => remote_now(ctx, &apply),
        Some(u) => {
            let undo = s.argv(&r, &u)?;
            let ip = r.ip.to_string();
            ctx.inject_once(|e| e.kind == kind && e.target == ip, |_| {
                Ok(Fault {
                    kind: kind.into(),
                    target: ip.clone(),
                    desc: format!("on {} over ssh: {}", r.name, args.join(" ")),
                    apply: vec![Step::Run { argv: apply.clone(), stdin: None }],
                    undo: vec![Step::Run { argv: undo, stdin: None }],
                })
            })
        }
    }
}

/// The `off` of an on/off command: undoes what is journaled here for TGT;
/// when nothing is, runs `OFF` on TGT (or `local` here) all the same.
fn off_node(ctx: &Ctx, conf: Option<&Path>, s: &Ssh, tgt: &str, kind: &str, off: Vec<String>, local: impl FnOnce() -> Result<()>) -> Result<()> {
    let r = remote::resolve(tgt, conf)?;
    if remote::is_local(r.ip) {
        return local();
    }
    let ip = r.ip.to_string();
    if ctx.undo_where(|e| e.kind == kind && e.target == ip)? == 0 {
        remote_now(ctx, &s.argv(&r, &off)?)?;
    }
    Ok(())
}

fn remote_now(ctx: &Ctx, argv: &[String]) -> Result<()> {
    if ctx.dry_run {
        return out(exec::display_argv(argv));
    }
    let o = exec::run_ok(argv, None, Duration::from_secs(120))?;
    for line in o.stdout.lines() {
        out(line)?;
    }
    Ok(())
}

fn netem_fault(
    ctx: &Ctx,
    conf: Option<&Path>,
    kind: &str,
    tgt: &str,
    net: &NetOpts,
    ports: Option<&[u16]>,
    args: Vec<String>,
    desc: String,
) -> Result<()> {
    let r: Resolved = remote::resolve(tgt, conf)?;
    let dev = match &net.dev {
        Some(d) => netem::check_dev(d)?,
        None => netem::route_dev(r.ip)?,
    };
    ctx.require_root()?;
    let tc = exec::require_tool("tc", "apt-get install iproute2")?.to_string_lossy().into_owned();
    let ip = r.ip.to_string();
    if let Some(e) = journal::read_entries(&journal::dir())
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.tool == TOOL && e.target == ip && NETEM_KINDS.contains(&e.kind.as_str()) && e.kind != kind)
    {
        return Err(Error::failed(format!(
            "fault {} ({} {ip}) already shapes the traffic to {ip}; clear it first ({}-clear {tgt})",
            e.id, e.kind, e.kind
        )));
    }
    let matches: Vec<netem::Match> = match ports {
        None => vec![netem::Match::Dst(r.ip)],
        Some(ps) => ps.iter().map(|p| netem::Match::DstPort(r.ip, *p)).collect(),
    };
    ctx.inject_once(|e| e.kind == kind && e.target == ip, |_| {
        let (apply, undo, band) = netem::plan(&tc, &dev, &matches, &args)?;
        Ok(Fault {
            kind: kind.into(),
            target: ip.clone(),
            desc: format!("{desc} to {ip} ({}) on {dev}: netem {} (band {band})", r.name, args.join(" ")),
            apply,
            undo,
        })
    })
}

/// Undoes this tool's faults of `kind` (for TGT when given: its address,
/// or its address with a port).
fn clear(ctx: &Ctx, conf: Option<&Path>, kind: &str, tgt: Option<&str>) -> Result<()> {
    if clear_quiet(ctx, conf, kind, tgt)? == 0 {
        eprintln!("{TOOL}: no {kind} fault{} is in force; nothing changed", tgt.map(|t| format!(" on {t}")).unwrap_or_default());
    }
    Ok(())
}

fn clear_quiet(ctx: &Ctx, conf: Option<&Path>, kind: &str, tgt: Option<&str>) -> Result<usize> {
    // (the address, and whether it is this node: then the faults of the
    // *-local forms, journaled as "local", are its faults too)
    let ip = match tgt {
        Some(t) => {
            let r = remote::resolve(t, conf)?;
            Some((r.ip.to_string(), remote::is_local(r.ip)))
        }
        None => None,
    };
    ctx.undo_where(|e| {
        e.kind == kind
            && ip.as_ref().map_or(true, |(ip, here)| {
                e.target == *ip || e.target.starts_with(&format!("{ip}/")) || (*here && e.target == "local")
            })
    })
}

fn clear_local(ctx: &Ctx, kind: &str) -> Result<()> {
    if ctx.undo_where(|e| e.kind == kind)? == 0 {
        eprintln!("{TOOL}: no {kind} fault is in force here; nothing changed");
    }
    Ok(())
}

/// `delay-show`: the netem faults in force, then kvmfi's qdiscs on each
/// device they use.
fn delay_show() -> Result<()> {
    let entries: Vec<journal::Entry> = journal::read_entries(&journal::dir())?
        .into_iter()
        .filter(|e| e.tool == TOOL && NETEM_KINDS.contains(&e.kind.as_str()))
        .collect();
    journal::print_entries(&entries, false)?;
    let mut devs: Vec<String> = Vec::new();
    fn walk(s: &Step, devs: &mut Vec<String>) {
        match s {
            Step::TcDeleteBand { dev, .. } if !devs.contains(dev) => devs.push(dev.clone()),
            Step::InNetns { steps, .. } => steps.iter().for_each(|s| walk(s, devs)),
            _ => {}
        }
    }
    entries.iter().flat_map(|e| e.undo.iter()).for_each(|s| walk(s, &mut devs));
    if let Some(tc) = exec::which("tc", &[]) {
        for d in devs {
            for line in kvmfi::host::tc::show(&tc.to_string_lossy(), &d)?.lines() {
                out(format!("{d}\t{line}"))?;
            }
        }
    }
    Ok(())
}

/// The whole disk (MAJ:MIN) holding `dir`, for io.max.
fn disk_of(dir: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?.dev();
    // Linux dev_t encoding (glibc's major()/minor()).
    let maj = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let min = (dev & 0xff) | ((dev >> 12) & !0xff);
    let sys = PathBuf::from(format!("/sys/dev/block/{maj}:{min}"));
    if !sys.exists() {
        return Err(Error::failed(format!("{} is not on a block device ({maj}:{min}); give --device MAJ:MIN", dir.display())));
    }
    if sys.join("partition").exists() {
        let whole = std::fs::read_to_string(sys.join("../dev")).map_err(|e| Error::io("reading the disk of a partition", e))?;
        return Ok(whole.trim().to_string());
    }
    Ok(format!("{maj}:{min}"))
}

fn io_slow_on(ctx: &Ctx, table: &[Component], l: &Launch, io: &IoOpts, target: &str) -> Result<()> {
    let c = table.iter().find(|t| t.name == io.component.name()).expect("in the table");
    let ps = c.processes();
    if ps.is_empty() {
        return Err(Error::not_found(format!("no '{}' daemon is running on this node (looked for {})", c.name, c.describe())));
    }
    let root = &io.cgroup_root;
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).map_err(|_| {
        Error::unsupported(format!("{} is not a cgroup v2 mount; io-slow needs cgroup v2 (give --cgroup-root)", root.display()))
    })?;
    if !controllers.split_whitespace().any(|c| c == "io") {
        return Err(Error::unsupported(format!("the io controller is not available in {}", root.display())));
    }
    let device = match &io.device {
        Some(d) if d.split_once(':').is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok()) => d.clone(),
        Some(d) => return Err(Error::usage(format!("--device '{d}': write MAJ:MIN, e.g. 8:0"))),
        None => {
            let dir = match &io.path {
                Some(p) => p.clone(),
                None => datanode_dir(l)?,
            };
            disk_of(&dir)?
        }
    };
    // Where each process is now: the undo moves it back there.
    let mut back: Vec<(String, Vec<(i32, u64)>)> = Vec::new();
    for p in &ps {
        let cg = std::fs::read_to_string(format!("/proc/{}/cgroup", p.pid)).unwrap_or_default();
        let rel = cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("/").trim().to_string();
        let dir = root.join(rel.trim_start_matches('/')).display().to_string();
        match back.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, v)) => v.push((p.pid, p.starttime)),
            None => back.push((dir, vec![(p.pid, p.starttime)])),
        }
    }
    let rate = io.rate;
    ctx.inject_once(|e| e.kind == "io-slow", |id| {
        let dir = root.join(format!("kvmfi-io-{id}")).display().to_string();
        let all: Vec<(i32, u64)> = ps.iter().map(|p| (p.pid, p.starttime)).collect();
        let mut undo: Vec<Step> = Vec::new();
        for (i, (to, list)) in back.iter().enumerate() {
            let last = i + 1 == back.len();
            undo.push(Step::CgroupMove { procs: list.clone(), to: to.clone(), remove: last.then(|| dir.clone()) });
        }
        Ok(Fault {
            kind: "io-slow".into(),
            target: target.into(),
            desc: format!("{} pid {} in cgroup {dir}: io.max {device} rbps={rate} wbps={rate}", c.name,
                all.iter().map(|p| p.0.to_string()).collect::<Vec<_>>().join(",")),
            apply: vec![
                Step::CgroupSetup {
                    dir: dir.clone(),
                    controller: "io".into(),
                    settings: vec![("io.max".into(), format!("{device} rbps={rate} wbps={rate}"))],
                },
                Step::CgroupMove { procs: all, to: dir.clone(), remove: None },
            ],
            undo,
        })
    })
}

fn io_slow_off(ctx: &Ctx) -> Result<()> {
    if ctx.undo_where(|e| e.kind == "io-slow")? == 0 {
        eprintln!("{TOOL}: no io-slow fault is in force here; nothing changed");
    }
    Ok(())
}
