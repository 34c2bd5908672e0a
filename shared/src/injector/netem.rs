//! netem faults that share one kvmfi root qdisc per device: a prio qdisc
//! (handle `4b46:`, 16 bands; bands 1-3 carry all other traffic exactly as
//! pfifo_fast would) where each fault gets a band of its own (4..16) with
//! a netem qdisc and u32 filters of preference 2*band (IPv4) and
//! 2*band+1 (IPv6). Undoing a fault
//! removes its filters and its netem only; the root goes with the last band.
//! A root qdisc kvmfi did not create is never replaced.

use crate::error::{Error, Result};
use crate::exec::{self, argv};
use crate::journal::{self, Step};
use crate::netfault::{self, QDISC_HANDLE, TOOL_TIMEOUT};
use std::net::IpAddr;

/// The first and last band a fault may take.
pub const FIRST_BAND: u32 = 4;
pub const LAST_BAND: u32 = 16;

/// Which packets a band catches (leaving this node on the device).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Everything to this address.
    Dst(IpAddr),
    /// TCP/UDP to this address with this destination port.
    DstPort(IpAddr, u16),
    /// Everything from this source port (the answers of a local server).
    SrcPort(u16),
}

impl Match {
    /// u32 selectors: (protocol, match words) for each filter to add.
    fn selectors(&self) -> Vec<(&'static str, Vec<String>)> {
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        match *self {
            Match::Dst(IpAddr::V4(a)) => vec![("ip", words(&format!("match ip dst {a}/32")))],
            Match::Dst(IpAddr::V6(a)) => vec![("ipv6", words(&format!("match ip6 dst {a}/128")))],
            Match::DstPort(IpAddr::V4(a), p) => {
                vec![("ip", words(&format!("match ip dst {a}/32 match ip dport {p} 0xffff")))]
            }
            Match::DstPort(IpAddr::V6(a), p) => {
                vec![("ipv6", words(&format!("match ip6 dst {a}/128 match ip6 dport {p} 0xffff")))]
            }
            Match::SrcPort(p) => vec![
                ("ip", words(&format!("match ip sport {p} 0xffff"))),
                ("ipv6", words(&format!("match ip6 sport {p} 0xffff"))),
            ],
        }
    }
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

/// The device the route to `ip` leaves by (`ip route get`).
pub fn route_dev(ip: IpAddr) -> Result<String> {
    let bin = exec::which("ip", &[])
        .ok_or_else(|| Error::unsupported("'ip' not found on PATH; install iproute2"))?;
    let out = exec::run(&argv([bin.to_string_lossy().as_ref(), "route", "get", &ip.to_string()]), None, TOOL_TIMEOUT)?;
    if !out.ok() {
        return Err(Error::failed(format!("no route to {ip}: {}", out.first_error_line())));
    }
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "dev")
        .map(|w| w[1].to_string())
        .ok_or_else(|| Error::failed(format!("cannot tell the device of the route to {ip}; give --dev")))
}

/// Checks a device name given with --dev.
pub fn check_dev(d: &str) -> Result<String> {
    if !d.is_empty() && d.len() < 16 && !d.contains(['/', ' ', '\t']) {
        Ok(d.to_string())
    } else {
        Err(Error::usage(format!("'{d}' is not a network device name; see 'ip link'")))
    }
}

/// Bands of kvmfi's root on `dev` in use: seen in `tc qdisc show`, or
/// named by a fault still in the journal (its undo would remove them).
fn used_bands(tc: &str, dev: &str) -> Result<Vec<u32>> {
    let out = exec::run(&argv([tc, "qdisc", "show", "dev", dev]), None, TOOL_TIMEOUT)?;
    let mut used: Vec<u32> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| *x == "parent")?;
            w.get(i + 1)?.strip_prefix(QDISC_HANDLE)?.parse().ok()
        })
        .collect();
    fn walk(s: &Step, dev: &str, used: &mut Vec<u32>) {
        match s {
            Step::TcDeleteBand { dev: d, band, .. } if d == dev => used.push(*band),
            Step::InNetns { steps, .. } | Step::InMountNs { steps, .. } => steps.iter().for_each(|s| walk(s, dev, used)),
            _ => {}
        }
    }
    for e in journal::read_entries(&journal::dir()).unwrap_or_default() {
        e.undo.iter().for_each(|s| walk(s, dev, &mut used));
    }
    Ok(used)
}

/// Whether the root of `dev` may carry kvmfi's prio: ours already, or a
/// default one. Errors name the foreign qdisc.
fn root_ok(tc: &str, dev: &str) -> Result<bool> {
    let (kind, handle) = netfault::root_qdisc(tc, dev)?;
    if handle == QDISC_HANDLE {
        return Ok(true);
    }
    const DEFAULT_QDISCS: &[&str] = &["noqueue", "pfifo_fast", "fq_codel", "mq", "fq", "pfifo", "cake"];
    if !DEFAULT_QDISCS.contains(&kind.as_str()) {
        return Err(Error::failed(format!(
            "{dev} has a root qdisc '{kind} {handle}' that kvmfi did not create; it will not replace it"
        )));
    }
    Ok(false)
}

/// Steps that give one fault a band on `dev`: packets of `m` go through
/// `netem ARGS`. Returns (apply, undo, band). The undo is wrapped to run in
/// this network namespace.
pub fn plan(tc: &str, dev: &str, matches: &[Match], netem_args: &[String]) -> Result<(Vec<Step>, Vec<Step>, u32)> {
    root_ok(tc, dev)?;
    let used = used_bands(tc, dev)?;
    let band = (FIRST_BAND..=LAST_BAND).find(|b| !used.contains(b)).ok_or_else(|| {
        Error::failed(format!("{dev} already carries {} kvmfi netem faults; clear one first", LAST_BAND - FIRST_BAND + 1))
    })?;
    let parent = format!("{QDISC_HANDLE}{band}");
    let mut apply = vec![Step::TcEnsureRoot { tc: tc.into(), dev: dev.into() }];
    let mut q = argv([tc, "qdisc", "add", "dev", dev, "parent", &parent, "handle", &band_handle(band), "netem"]);
    q.extend(netem_args.iter().cloned());
    apply.push(Step::Run { argv: q, stdin: None });
    for m in matches {
        for (proto, words) in m.selectors() {
            let mut f = argv([tc, "filter", "add", "dev", dev, "parent", QDISC_HANDLE, "protocol", proto, "prio",
                &filter_prio(band, proto).to_string(), "u32"]);
            f.extend(words);
            f.extend(argv(["flowid", &parent]));
            apply.push(Step::Run { argv: f, stdin: None });
        }
    }
    let undo = journal::in_this_netns(vec![Step::TcDeleteBand { tc: tc.into(), dev: dev.into(), band }]);
    Ok((apply, undo, band))
}

/// [`Step::TcEnsureRoot`].
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

/// [`Step::TcDeleteBand`]: idempotent.
pub fn delete_band(tc: &str, dev: &str, band: u32) -> Result<()> {
    match netfault::root_qdisc(tc, dev) {
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
        netfault::tc_delete_root(tc, dev, QDISC_HANDLE)?;
    }
    Ok(())
}

/// `delay-show`: kvmfi's qdiscs and filters on `dev` as tc shows them.
pub fn show(tc: &str, dev: &str) -> Result<String> {
    let q = exec::run(&argv([tc, "qdisc", "show", "dev", dev]), None, TOOL_TIMEOUT)?;
    let lines: Vec<&str> = q.stdout.lines().filter(|l| l.contains(QDISC_HANDLE) || l.contains("netem")).collect();
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_and_selectors() {
        // IPv4 and IPv6 filters of one band never share a preference, and
        // no two bands do either.
        let prios: Vec<u32> =
            (FIRST_BAND..=LAST_BAND).flat_map(|b| [filter_prio(b, "ip"), filter_prio(b, "ipv6")]).collect();
        let mut sorted = prios.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), prios.len());
        assert_eq!(band_handle(4), "4b54:");
        let s = Match::SrcPort(8080).selectors();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].0, "ipv6");
        let d = Match::DstPort("10.0.0.2".parse().unwrap(), 8020).selectors();
        assert_eq!(d[0].1.join(" "), "match ip dst 10.0.0.2/32 match ip dport 8020 0xffff");
        assert!(check_dev("bad/dev").is_err() && check_dev("eth0").is_ok());
    }
}
