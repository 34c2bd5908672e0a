//! Network faults towards a peer: netem delay, loss, reorder and heartbeat
//! delay on a band of kvmfi's own root qdisc (one netem fault per peer at a
//! time), `delay-show`, and `isolate` (DROP rules, like `network`).

use crate::{Env, TOOL};
use clap::Args;
use kvmfi::exec;
use kvmfi::injector::{netem, remote};
use kvmfi::journal::{self, Fault, Step};
use kvmfi::netfault::Target;
use kvmfi::run::out;
use kvmfi::{Error, Result};

/// The kinds that put a netem band on a device.
const NETEM_KINDS: &[&str] = &["delay", "loss", "reorder", "heartbeat"];

/// Network device choice for netem faults.
#[derive(Args, Debug, Clone, Default)]
pub struct NetOpts {
    /// Network device (default: the one the route to TGT leaves by, from 'ip route get')
    #[arg(long, value_name = "DEV")]
    pub dev: Option<String>,
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

fn pct_arg(v: f64) -> String {
    format!("{v}%")
}

/// `delay TGT MS [JITTER]`.
pub fn delay(env: &Env, tgt: &str, ms: u32, jitter: Option<u32>, net: &NetOpts) -> Result<()> {
    let mut args = vec!["delay".to_string(), format!("{ms}ms")];
    if let Some(j) = jitter {
        args.push(format!("{j}ms"));
    }
    let desc = format!("delay {ms}ms{}", jitter.map(|j| format!(" ±{j}ms")).unwrap_or_default());
    netem_fault(env, "delay", tgt, net, None, args, desc)
}

/// `loss TGT PCT`.
pub fn loss(env: &Env, tgt: &str, pct: f64, net: &NetOpts) -> Result<()> {
    netem_fault(env, "loss", tgt, net, None, vec!["loss".into(), pct_arg(pct)], format!("lose {pct}%"))
}

/// `reorder TGT PCT [CORR]`.
pub fn reorder(env: &Env, tgt: &str, pct: f64, corr: Option<f64>, reorder_delay: u32, net: &NetOpts) -> Result<()> {
    let mut args = vec!["delay".to_string(), format!("{reorder_delay}ms"), "reorder".into(), pct_arg(pct)];
    if let Some(c) = corr {
        args.push(pct_arg(c));
    }
    let desc = format!("reorder {pct}%{} (others delayed {reorder_delay}ms)", corr.map(|c| format!(" corr {c}%")).unwrap_or_default());
    netem_fault(env, "reorder", tgt, net, None, args, desc)
}

/// `heartbeat TGT MS`: delay of TCP to the heartbeat ports only.
pub fn heartbeat(env: &Env, tgt: &str, ms: u32, ports: &[u16], net: &NetOpts) -> Result<()> {
    if ports.is_empty() || ports.contains(&0) {
        return Err(Error::usage("--ports needs ports from 1 to 65535"));
    }
    let desc = format!("delay {ms}ms of TCP to ports {}", ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","));
    netem_fault(env, "heartbeat", tgt, net, Some(ports), vec!["delay".into(), format!("{ms}ms")], desc)
}

/// `isolate TGT [PORT]`: DROP all traffic to and from TGT (or TCP PORT).
pub fn isolate(env: &Env, tgt: &str, port: Option<u16>) -> Result<()> {
    let r = remote::resolve(tgt, env.conf)?;
    let (target, t, desc) = match port {
        None => (r.ip.to_string(), Target::Host(r.ip), format!("drop all traffic to and from {} ({})", r.ip, r.name)),
        Some(p) => (
            format!("{}/tcp/{p}", r.ip),
            Target::HostTcpPort(r.ip, p),
            format!("drop TCP port {p} to and from {} ({})", r.ip, r.name),
        ),
    };
    env.ctx.block("isolate", &target, t, desc)
}

#[allow(clippy::too_many_arguments)]
fn netem_fault(
    env: &Env,
    kind: &str,
    tgt: &str,
    net: &NetOpts,
    ports: Option<&[u16]>,
    args: Vec<String>,
    desc: String,
) -> Result<()> {
    let ctx = &env.ctx;
    let r = remote::resolve(tgt, env.conf)?;
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

/// `delay-show`: the netem faults in force, then kvmfi's qdiscs on each
/// device they use.
pub fn delay_show() -> Result<()> {
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
