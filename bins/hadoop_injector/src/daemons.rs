//! The Hadoop daemons through their own launchers (`hdfs`, `yarn`, from PATH
//! or $HADOOP_HOME/bin): HDFS safe mode, the NodeManager's health marker,
//! the YARN refresh, and where the DataNode keeps its data. Crash, hang and
//! resume of a daemon are the shared injector's ([`kvmfi::injector::Ctx`]).

use crate::nodes::{off_node, on_node, OnOff};
use crate::{Env, HealthAction, SafeAction, TOOL};
use kvmfi::exec;
use kvmfi::injector::Ctx;
use kvmfi::journal::{Fault, Step};
use kvmfi::run::out;
use kvmfi::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the cluster's own launchers are.
pub struct Launchers {
    pub home: Option<PathBuf>,
    pub timeout: Duration,
}

impl Launchers {
    /// `hdfs` or `yarn`: PATH first, then `$HADOOP_HOME/bin`; exit 4 if neither.
    pub fn find(&self, name: &str) -> Result<String> {
        let extra: Vec<PathBuf> = self.home.iter().map(|h| h.join("bin")).collect();
        exec::which(name, &extra).map(|p| p.to_string_lossy().into_owned()).ok_or_else(|| {
            Error::unsupported(format!(
                "the '{name}' launcher is neither on PATH nor in $HADOOP_HOME/bin; put Hadoop's bin/ on PATH or set HADOOP_HOME (or --hadoop-home)"
            ))
        })
    }
}

/// The first dfs.datanode.data.dir, as `hdfs getconf` reports it.
pub fn datanode_dir(l: &Launchers) -> Result<PathBuf> {
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

pub fn hdfs_safe(ctx: &Ctx, l: &Launchers, action: SafeAction) -> Result<()> {
    let hdfs = l.find("hdfs")?;
    let cmd = |what: &str| exec::argv([hdfs.as_str(), "dfsadmin", "-safemode", what]);
    match action {
        SafeAction::Enter => {
            ctx.require_root()?;
            if !ctx.dry_run {
                let get = exec::run_ok(&cmd("get"), None, l.timeout)?;
                if get.stdout.contains("Safe mode is ON") {
                    eprintln!("{TOOL}: HDFS is already in safe mode; nothing changed (and 'leave' is not journaled)");
                    return Ok(());
                }
            }
            ctx.inject(|_| {
                Ok(Fault {
                    kind: "hdfs-safe".into(),
                    target: "hdfs".into(),
                    desc: "HDFS safe mode entered".into(),
                    apply: vec![Step::Run { argv: cmd("enter"), stdin: None }],
                    undo: vec![Step::Run { argv: cmd("leave"), stdin: None }],
                })
            })
        }
        SafeAction::Leave => {
            let n = ctx.undo_where(|e| e.kind == "hdfs-safe")?;
            if n == 0 {
                // Not ours, but asked for: leave safe mode as the original did.
                if ctx.dry_run {
                    return out(exec::display_argv(&cmd("leave")));
                }
                ctx.require_root()?;
                exec::run_ok(&cmd("leave"), None, l.timeout)?;
                out("-\tleft\thdfs-safe\thdfs")?;
            }
            Ok(())
        }
    }
}

pub fn yarn_health(ctx: &Ctx, action: HealthAction, marker: &Path) -> Result<()> {
    let target = marker.display().to_string();
    let current = std::fs::read_to_string(marker).ok();
    let failing = current.as_deref().is_some_and(|c| c.trim_start().starts_with("ERROR"));
    match action {
        HealthAction::Check => {
            // YARN's health checker: a line starting with ERROR means unhealthy.
            if failing {
                out(format!("ERROR kvmfi: NodeManager marked unhealthy by {TOOL} (marker {target})"))
            } else {
                out("OK")
            }
        }
        HealthAction::Fail => {
            if !marker.parent().is_some_and(|p| p.as_os_str().is_empty() || p.is_dir()) {
                return Err(Error::usage(format!(
                    "the directory of marker {target} does not exist; create it or pick another --marker"
                )));
            }
            if failing && !ctx.dry_run {
                eprintln!("{TOOL}: marker {target} already says ERROR; nothing changed");
                return Ok(());
            }
            ctx.inject(|_| {
                Ok(Fault {
                    kind: "yarn-health".into(),
                    target: target.clone(),
                    desc: format!("NodeManager health marker {target} set to ERROR"),
                    apply: vec![Step::WriteFile { path: target.clone(), content: Some("ERROR\n".into()) }],
                    undo: vec![Step::WriteFile { path: target.clone(), content: current.clone() }],
                })
            })
        }
        HealthAction::Ok => {
            let n = ctx.undo_where(|e| e.kind == "yarn-health" && e.target == target)?;
            if n == 0 {
                eprintln!("{TOOL}: no yarn-health fault on {target} is in force; nothing changed");
            }
            Ok(())
        }
    }
}

pub fn yarn_refresh(ctx: &Ctx, l: &Launchers) -> Result<()> {
    let yarn = l.find("yarn")?;
    ctx.require_root()?;
    for what in ["-refreshNodes", "-refreshQueues"] {
        let argv = exec::argv([yarn.as_str(), "rmadmin", what]);
        if ctx.dry_run {
            out(exec::display_argv(&argv))?;
        } else {
            exec::run_ok(&argv, None, l.timeout)?;
            out(format!("-\tdone\tyarn-refresh\t{}", exec::display_argv(&argv)))?;
        }
    }
    Ok(())
}

/// `yarn-unhealthy SLAVE on|off`: yarn-health fail|ok on that node.
pub fn yarn_unhealthy(env: &Env, slave: &str, state: OnOff, marker: &Path) -> Result<()> {
    let m = marker.display().to_string();
    let on = vec!["yarn-unhealthy-local".to_string(), "on".into(), "--marker".into(), m.clone()];
    let off = vec!["yarn-unhealthy-local".to_string(), "off".into(), "--marker".into(), m];
    match state {
        OnOff::On => on_node(env, slave, "yarn-unhealthy", on, Some(off), |_| yarn_health(&env.ctx, HealthAction::Fail, marker)),
        OnOff::Off => off_node(env, slave, "yarn-unhealthy", off, || yarn_health(&env.ctx, HealthAction::Ok, marker)),
    }
}

/// `yarn-unhealthy-local on|off`.
pub fn yarn_unhealthy_local(ctx: &Ctx, state: OnOff, marker: &Path) -> Result<()> {
    yarn_health(ctx, if state == OnOff::On { HealthAction::Fail } else { HealthAction::Ok }, marker)
}
