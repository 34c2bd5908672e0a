//! Traffic control as kvmfi uses it: its own root qdisc (handle `4b46:`),
//! a prio qdisc of 16 bands whose bands 4..16 each carry one fault's netem
//! and u32 filters; a root qdisc kvmfi did not create is never replaced.

use super::exec::{self, argv};
use super::firewall::TOOL_TIMEOUT;
use crate::error::{Error, Result};

/// The handle of kvmfi's root qdisc ("KF").
pub const QDISC_HANDLE: &str = "4b46:";
/// The first and last band a fault may take.
pub const FIRST_BAND: u32 = 4;
pub const LAST_BAND: u32 = 16;

/// Root qdiscs a host has by default; anything else belongs to someone.
pub const DEFAULT_QDISCS: &[&str] = &["noqueue", "pfifo_fast", "fq_codel", "mq", "fq", "pfifo", "cake"];

/// The root qdisc of `dev`: (kind, handle), e.g. ("noqueue", "0:").
pub fn root_qdisc(tc: &str, dev: &str) -> Result<(String, String)> {
    let out = exec::run(&argv([tc, "qdisc", "show", "dev", dev, "root"]), None, TOOL_TIMEOUT)?;
    if !out.ok() {
        return Err(Error::usage(format!(
            "no network device '{dev}' ({}); pick one from 'ip link'",
            out.first_error_line()
        )));
    }
    let line = out.stdout.lines().next().unwrap_or("");
    let mut w = line.split_whitespace();
    let _ = w.next(); // "qdisc"
    let kind = w.next().unwrap_or("noqueue").to_string();
    let handle = w.next().unwrap_or("0:").to_string();
    Ok((kind, handle))
}

/// The filter preference of a band's filters of protocol `proto`: the
/// kernel keeps one protocol per preference, so IPv4 and IPv6 differ.
pub fn filter_prio(band: u32, proto: &str) -> u32 {
    band * 2 + u32::from(proto == "ipv6")
}

/// The netem qdisc handle of band `band` (4b54: for band 4, ...).
pub fn band_handle(band: u32) -> String {
    format!("{:x}:", 0x4b50 + band)
}

/// Whether the root of `dev` may carry kvmfi's prio: ours already, or a
/// default one. Errors name the foreign qdisc.
pub fn root_ok(tc: &str, dev: &str) -> Result<bool> {
    let (kind, handle) = root_qdisc(tc, dev)?;
    if handle == QDISC_HANDLE {
        return Ok(true);
    }
    if !DEFAULT_QDISCS.contains(&kind.as_str()) {
        return Err(Error::failed(format!(
            "{dev} has a root qdisc '{kind} {handle}' that kvmfi did not create; it will not replace it"
        )));
    }
    Ok(false)
}

/// Gives `dev` kvmfi's root prio qdisc (16 bands) unless it has it.
pub fn ensure_root(tc: &str, dev: &str) -> Result<()> {
    if root_ok(tc, dev)? {
        return Ok(());
    }
    exec::run_ok(
        &argv([tc, "qdisc", "add", "dev", dev, "root", "handle", QDISC_HANDLE, "prio", "bands", "16", "priomap",
            "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"]),
        None,
        TOOL_TIMEOUT,
    )?;
    Ok(())
}

/// Removes band `band` of kvmfi's root on `dev` (its filters and netem),
/// then the root once no band is left. Idempotent.
pub fn delete_band(tc: &str, dev: &str, band: u32) -> Result<()> {
    match root_qdisc(tc, dev) {
        Ok((_, h)) if h == QDISC_HANDLE => {}
        // Not ours any more, or the device is gone: nothing of ours is left.
        _ => return Ok(()),
    }
    for proto in ["ip", "ipv6"] {
        let p = filter_prio(band, proto).to_string();
        let _ = exec::run(&argv([tc, "filter", "del", "dev", dev, "parent", QDISC_HANDLE, "protocol", proto, "prio", &p]), None, TOOL_TIMEOUT)?;
    }
    let parent = format!("{QDISC_HANDLE}{band}");
    let show = exec::run(&argv([tc, "qdisc", "show", "dev", dev]), None, TOOL_TIMEOUT)?;
    let has_child = |text: &str, p: &str| text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().windows(2).any(|w| w[0] == "parent" && w[1] == p));
    if has_child(&show.stdout, &parent) {
        exec::run_ok(&argv([tc, "qdisc", "del", "dev", dev, "parent", &parent]), None, TOOL_TIMEOUT)?;
    }
    let show = exec::run(&argv([tc, "qdisc", "show", "dev", dev]), None, TOOL_TIMEOUT)?;
    let any_band = (FIRST_BAND..=LAST_BAND).any(|x| has_child(&show.stdout, &format!("{QDISC_HANDLE}{x}")));
    let filters = exec::run(&argv([tc, "filter", "show", "dev", dev, "parent", QDISC_HANDLE]), None, TOOL_TIMEOUT)?;
    if !any_band && filters.stdout.trim().is_empty() {
        tc_delete_root(tc, dev, QDISC_HANDLE)?;
    }
    Ok(())
}

/// `delay-show`: kvmfi's qdiscs and filters on `dev` as tc shows them.
pub fn show(tc: &str, dev: &str) -> Result<String> {
    let q = exec::run(&argv([tc, "qdisc", "show", "dev", dev]), None, TOOL_TIMEOUT)?;
    let lines: Vec<&str> = q.stdout.lines().filter(|l| l.contains(QDISC_HANDLE) || l.contains("netem")).collect();
    Ok(lines.join("\n"))
}

/// Deletes the root qdisc of `dev` only if it
/// is still kvmfi's (handle `handle`). Idempotent.
pub fn tc_delete_root(tc: &str, dev: &str, handle: &str) -> Result<()> {
    match root_qdisc(tc, dev) {
        Ok((_, h)) if h == handle => {
            exec::run_ok(&argv([tc, "qdisc", "del", "dev", dev, "root"]), None, TOOL_TIMEOUT)?;
            Ok(())
        }
        // Another qdisc, or the device is gone: nothing of ours to remove.
        _ => Ok(()),
    }
}

/// The device of the default route (for `api-delay` without `--dev`).
pub fn default_route_dev() -> Option<String> {
    let ip = exec::which("ip", &[])?;
    let out = exec::run(&argv([ip.to_string_lossy().as_ref(), "route", "show", "default"]), None, TOOL_TIMEOUT).ok()?;
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    words.windows(2).find(|w| w[0] == "dev").map(|w| w[1].to_string())
}
