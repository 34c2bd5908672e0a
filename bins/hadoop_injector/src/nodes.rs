//! Other nodes and the undo of a kind of fault: a node fault runs here when
//! TGT is this node, else as `hadoop_injector CMD-local ...` on TGT over ssh,
//! journaled here with the ssh command that undoes it; `*-clear` undoes
//! this tool's faults of one kind (for TGT, or all).

use crate::{Env, TOOL};
use clap::{Args, ValueEnum};
use kvmfi::exec;
use kvmfi::injector::remote::{self, Ssh};
use kvmfi::injector::Ctx;
use kvmfi::journal::{Fault, Step};
use kvmfi::run::out;
use kvmfi::Result;
use std::path::PathBuf;
use std::time::Duration;

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

impl SshOpts {
    /// The ssh settings these options give.
    pub fn ssh(&self) -> Ssh {
        Ssh { user: self.ssh_user.clone(), port: self.ssh_port, key: self.ssh_key.clone(), remote_tool: self.remote_injector.clone() }
    }
}

/// on / off.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    /// Apply the fault
    On,
    /// Undo it
    Off,
}

/// Runs `local` when TGT is this node; otherwise `TOOL ARGS` on TGT over
/// ssh, journaled here with `TOOL UNDO` over ssh as its undo (not
/// journaled when there is nothing to undo).
pub fn on_node(
    env: &Env,
    tgt: &str,
    kind: &str,
    args: Vec<String>,
    undo: Option<Vec<String>>,
    local: impl FnOnce(&str) -> Result<()>,
) -> Result<()> {
    let (ctx, s) = (&env.ctx, &env.ssh);
    let r = remote::resolve(tgt, env.conf)?;
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
pub fn off_node(env: &Env, tgt: &str, kind: &str, off: Vec<String>, local: impl FnOnce() -> Result<()>) -> Result<()> {
    let (ctx, s) = (&env.ctx, &env.ssh);
    let r = remote::resolve(tgt, env.conf)?;
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

/// Undoes this tool's faults of `kind` (for TGT when given: its address,
/// or its address with a port).
pub fn clear(env: &Env, kind: &str, tgt: Option<&str>) -> Result<()> {
    if clear_quiet(env, kind, tgt)? == 0 {
        eprintln!("{TOOL}: no {kind} fault{} is in force; nothing changed", tgt.map(|t| format!(" on {t}")).unwrap_or_default());
    }
    Ok(())
}

pub fn clear_quiet(env: &Env, kind: &str, tgt: Option<&str>) -> Result<usize> {
    // (the address, and whether it is this node: then the faults of the
    // *-local forms, journaled as "local", are its faults too)
    let ip = match tgt {
        Some(t) => {
            let r = remote::resolve(t, env.conf)?;
            Some((r.ip.to_string(), remote::is_local(r.ip)))
        }
        None => None,
    };
    env.ctx.undo_where(|e| {
        e.kind == kind
            && ip.as_ref().map_or(true, |(ip, here)| {
                e.target == *ip || e.target.starts_with(&format!("{ip}/")) || (*here && e.target == "local")
            })
    })
}

pub fn clear_local(ctx: &Ctx, kind: &str) -> Result<()> {
    if ctx.undo_where(|e| e.kind == kind)? == 0 {
        eprintln!("{TOOL}: no {kind} fault is in force here; nothing changed");
    }
    Ok(())
}
