//! Disk faults on a node: fill files (`disk-fill` anywhere, `hdfs-disk` in
//! the DataNode's data directory) and `io-slow`, a daemon moved into a
//! cgroup v2 whose io.max throttles its disk; each on this node or on
//! another over ssh (their `*-local` forms run there).

use crate::daemons::{datanode_dir, Launchers};
use crate::nodes::{clear, clear_local, clear_quiet, off_node, on_node, OnOff};
use crate::{Comp, Env};
use clap::Args;
use kvmfi::injector::stress;
use kvmfi::journal::{Fault, Step};
use kvmfi::{Error, Result};
use std::path::{Path, PathBuf};

/// disk-fill and hdfs-disk: the node, the size, the fill options.
#[derive(Args, Debug, Clone)]
pub struct NodeFill {
    /// The node
    #[arg(value_name = "TGT")]
    pub tgt: String,
    /// Megabytes; refused if less than --keep-free would stay free
    #[arg(value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=1_073_741_824))]
    pub mb: u64,
    #[command(flatten)]
    pub fill: FillOpts,
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

/// `disk-fill TGT MB` (`local`: the `disk-fill-local` form run here).
pub fn disk_fill(env: &Env, tgt: Option<&str>, mb: u64, fill: &FillOpts) -> Result<()> {
    match tgt {
        None => fill_here(env, "disk-fill", "local", &fill_dir(fill, None)?, mb, fill.keep_free),
        Some(tgt) => {
            let args = with_fill(vec!["disk-fill-local".into(), mb.to_string()], fill);
            on_node(env, tgt, "disk-fill", args, Some(vec!["disk-fill-clear-local".into()]), |target| {
                fill_here(env, "disk-fill", target, &fill_dir(fill, None)?, mb, fill.keep_free)
            })
        }
    }
}

/// `hdfs-disk TGT MB` (`local`: the `hdfs-disk-local` form run here).
pub fn hdfs_disk(env: &Env, tgt: Option<&str>, mb: u64, fill: &FillOpts) -> Result<()> {
    let l = &env.launchers;
    match tgt {
        None => fill_here(env, "hdfs-disk", "local", &fill_dir(fill, Some(l))?, mb, fill.keep_free),
        Some(tgt) => {
            let args = with_fill(vec!["hdfs-disk-local".into(), mb.to_string()], fill);
            on_node(env, tgt, "hdfs-disk", args, Some(vec!["disk-fill-clear-local".into()]), |target| {
                fill_here(env, "hdfs-disk", target, &fill_dir(fill, Some(l))?, mb, fill.keep_free)
            })
        }
    }
}

/// `disk-fill-clear [TGT]`: the fill files of disk-fill and hdfs-disk.
pub fn disk_fill_clear(env: &Env, tgt: Option<&str>) -> Result<()> {
    clear_quiet(env, "hdfs-disk", tgt)?;
    clear(env, "disk-fill", tgt)
}

/// `disk-fill-clear-local`.
pub fn disk_fill_clear_local(env: &Env) -> Result<()> {
    env.ctx.undo_where(|e| e.kind == "hdfs-disk")?;
    clear_local(&env.ctx, "disk-fill")
}

/// `io-slow TGT on|off`.
pub fn io_slow(env: &Env, tgt: &str, state: OnOff, io: &IoOpts) -> Result<()> {
    let mut args = vec!["io-slow-local".to_string(), if state == OnOff::On { "on".into() } else { "off".into() }];
    args.extend(["--rate".into(), io.rate.to_string(), "--component".into(), io.component.name().into()]);
    if let Some(d) = &io.device {
        args.extend(["--device".into(), d.clone()]);
    }
    if let Some(p) = &io.path {
        args.extend(["--path".into(), p.display().to_string()]);
    }
    let mut off = args.clone();
    off[1] = "off".into();
    match state {
        OnOff::On => on_node(env, tgt, "io-slow", args, Some(off), |target| io_slow_on(env, io, target)),
        OnOff::Off => off_node(env, tgt, "io-slow", off, || clear_local(&env.ctx, "io-slow")),
    }
}

/// `io-slow-local on|off`.
pub fn io_slow_local(env: &Env, state: OnOff, io: &IoOpts) -> Result<()> {
    match state {
        OnOff::On => io_slow_on(env, io, "local"),
        OnOff::Off => clear_local(&env.ctx, "io-slow"),
    }
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
fn fill_dir(f: &FillOpts, hdfs: Option<&Launchers>) -> Result<PathBuf> {
    if let Some(d) = &f.dir {
        return Ok(d.clone());
    }
    match hdfs {
        None => Ok(std::env::temp_dir()),
        Some(l) => datanode_dir(l),
    }
}

fn fill_here(env: &Env, kind: &str, target: &str, dir: &Path, mb: u64, keep: u64) -> Result<()> {
    env.ctx.require_root()?;
    env.ctx.inject(|id| stress::fill(id, kind, target, dir, mb, keep))
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

fn io_slow_on(env: &Env, io: &IoOpts, target: &str) -> Result<()> {
    let ctx = &env.ctx;
    let c = env.comp(io.component.name());
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
                None => datanode_dir(&env.launchers)?,
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
