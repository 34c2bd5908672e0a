//! netem faults that share one kvmfi root qdisc per device: a prio qdisc
//! (handle `4b46:`, 16 bands; bands 1-3 carry all other traffic exactly as
//! pfifo_fast would) where each fault gets a band of its own (4..16) with
//! a netem qdisc and u32 filters of preference 2*band (IPv4) and
//! 2*band+1 (IPv6). Undoing a fault
//! removes its filters and its netem only; the root goes with the last band.
//! A root qdisc kvmfi did not create is never replaced.

use crate::error::{Error, Result};
use crate::host::exec::{self, argv};
use crate::host::firewall::TOOL_TIMEOUT;
use crate::host::tc::{band_handle, filter_prio, root_ok, FIRST_BAND, LAST_BAND, QDISC_HANDLE};
use crate::journal;
use crate::undo::{in_this_netns, Step};
use std::net::IpAddr;

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
    let undo = in_this_netns(vec![Step::TcDeleteBand { tc: tc.into(), dev: dev.into(), band }]);
    Ok((apply, undo, band))
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
