//! Network faults: a peer blocked (`network IP [PORT]`), the agent cut off
//! from the management server, live migration ports dropped (all DROP rules
//! of kvmfi's own table), and the API's answers delayed (netem on a band of
//! kvmfi's root qdisc).

use crate::TOOL;
use kvmfi::exec;
use kvmfi::injector::{netem, Ctx};
use kvmfi::journal::Fault;
use kvmfi::netfault::{self, Target};
use kvmfi::{Error, Result};
use std::net::IpAddr;

/// `network IP [PORT]`.
pub fn block(ctx: &Ctx, ip: IpAddr, port: Option<u16>) -> Result<()> {
    match port {
        None => ctx.block("network", &ip.to_string(), Target::Host(ip), format!("drop all traffic to and from {ip}")),
        Some(p) => ctx.block("network", &format!("{ip}/tcp/{p}"), Target::HostTcpPort(ip, p), format!("drop TCP port {p} to and from {ip}")),
    }
}

/// `network-clear IP`: the blocks of IP, with or without a port.
pub fn block_clear(ctx: &Ctx, ip: IpAddr) -> Result<()> {
    let ip = ip.to_string();
    let n = ctx.undo_where(|e| e.kind == "network" && (e.target == ip || e.target.starts_with(&format!("{ip}/"))))?;
    if n == 0 {
        eprintln!("{TOOL}: no network fault on {ip} is in force; nothing changed");
    }
    Ok(())
}

/// `agent-disconnect [IP] [--port P]`.
pub fn agent_disconnect(ctx: &Ctx, ip: Option<IpAddr>, port: u16) -> Result<()> {
    match ip {
        None => ctx.block(
            "agent-disconnect",
            &format!("tcp/{port}"),
            Target::TcpPort(port),
            format!("drop TCP to and from port {port} (agent <-> management server)"),
        ),
        Some(ip) => ctx.block(
            "agent-disconnect",
            &format!("{ip}/tcp/{port}"),
            Target::HostTcpPort(ip, port),
            format!("drop TCP port {port} to and from {ip} (agent <-> management server)"),
        ),
    }
}

/// `agent-reconnect [IP] [--port P]`: without IP, every disconnect of the port.
pub fn agent_reconnect(ctx: &Ctx, ip: Option<IpAddr>, port: u16) -> Result<()> {
    match ip {
        None => {
            let n = ctx.undo_where(|e| e.kind == "agent-disconnect" && e.target.ends_with(&format!("tcp/{port}")))?;
            if n == 0 {
                eprintln!("{TOOL}: no agent-disconnect fault on port {port} is in force; nothing changed");
            }
            Ok(())
        }
        Some(ip) => ctx.clear("agent-disconnect", &format!("{ip}/tcp/{port}")),
    }
}

/// `vm-migrate-fail [--ports LO-HI]`.
pub fn vm_migrate_fail(ctx: &Ctx, (lo, hi): (u16, u16)) -> Result<()> {
    ctx.block(
        "vm-migrate-fail",
        &format!("tcp/{lo}-{hi}"),
        Target::TcpPortRange(lo, hi),
        format!("drop TCP to and from ports {lo}-{hi} (libvirt live migration data)"),
    )
}

/// `vm-op-clear`.
pub fn vm_op_clear(ctx: &Ctx) -> Result<()> {
    let n = ctx.undo_where(|e| e.kind == "vm-migrate-fail")?;
    if n == 0 {
        eprintln!("{TOOL}: no VM operation fault is in force; nothing changed");
    }
    Ok(())
}

/// `api-delay MS`.
pub fn api_delay(ctx: &Ctx, ms: u32, dev: Option<String>, port: u16) -> Result<()> {
    let dev = match dev {
        Some(d) => netem::check_dev(&d)?,
        None => netfault::default_route_dev()
            .ok_or_else(|| Error::usage("there is no default route to take the device from; give --dev DEV"))?,
    };
    ctx.require_root()?;
    let tc = exec::require_tool("tc", "apt-get install iproute2")?;
    let tc = tc.to_string_lossy().into_owned();
    // A band of kvmfi's root qdisc of its own: other netem faults on the
    // same device (hadoop_injector delay ...) stay as they are.
    ctx.inject_once(|e| e.kind == "api-delay", |_| {
        let matches = [netem::Match::SrcPort(port)];
        let (apply, undo, band) = netem::plan(&tc, &dev, &matches, &["delay".into(), format!("{ms}ms")])?;
        Ok(Fault {
            kind: "api-delay".into(),
            target: "*".into(),
            desc: format!("delay traffic from port {port} on {dev} by {ms}ms (netem, band {band})"),
            apply,
            undo,
        })
    })
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
