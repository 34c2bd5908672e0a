//! CPU and memory stress on a node: a detached helper (this program,
//! tagged) busy-loops threads or holds locked memory until it ends or the
//! fault is undone; on this node, or on another over ssh.

use crate::nodes::on_node;
use crate::Env;
use kvmfi::injector::stress;
use kvmfi::Result;

/// `cpu-stress TGT SEC [THREADS]` (`None`: the `-local` form, here).
pub fn cpu(env: &Env, tgt: Option<&str>, secs: u64, threads: Option<u32>) -> Result<()> {
    let ctx = &env.ctx;
    let Some(tgt) = tgt else { return ctx.inject(|id| stress::cpu_stress(id, "local", secs, threads)) };
    let mut args = vec!["cpu-stress-local".to_string(), secs.to_string()];
    args.extend(threads.map(|t| t.to_string()));
    on_node(env, tgt, "cpu-stress", args, Some(vec!["cpu-stress-clear-local".into()]), |target| {
        ctx.inject(|id| stress::cpu_stress(id, target, secs, threads))
    })
}

/// `mem-stress TGT MB` (`None`: the `-local` form, here).
pub fn mem(env: &Env, tgt: Option<&str>, mb: u64) -> Result<()> {
    let ctx = &env.ctx;
    let Some(tgt) = tgt else { return ctx.inject(|id| stress::mem_stress(id, "local", mb)) };
    let args = vec!["mem-stress-local".into(), mb.to_string()];
    on_node(env, tgt, "mem-stress", args, Some(vec!["mem-stress-clear-local".into()]), |target| {
        ctx.inject(|id| stress::mem_stress(id, target, mb))
    })
}
