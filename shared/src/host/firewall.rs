//! Network faults that only ever touch what kvmfi created: DROP rules in its
//! own nftables table `inet kvmfi` (or, where nft is absent, its own
//! iptables chain `KVMFI`), and its own root qdisc (handle `4b46:`).
//!
//! Every rule carries the comment `kvmfi-ID` of the fault that made it, so
//! undoing one fault removes exactly its rules and nothing else.

use crate::error::{Error, Result};
use crate::exec::{self, argv};
use crate::journal::Step;
use std::net::IpAddr;
use std::time::Duration;

/// The nftables table (family inet) that holds every kvmfi rule.
pub const NFT_TABLE: &str = "kvmfi";
/// The iptables chain used when nft is not installed.
pub const IPT_CHAIN: &str = "KVMFI";
/// The handle of kvmfi's root qdisc ("KF").
pub const QDISC_HANDLE: &str = "4b46:";
/// Time limit for one nft/iptables/tc call.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// The comment that marks the rules of fault `id`.
pub fn tag(id: u64) -> String {
    format!("kvmfi-{id}")
}

/// Which firewall tool is used.
#[derive(Debug, Clone)]
pub enum Firewall {
    /// nftables: the `nft` binary.
    Nft(String),
    /// iptables fallback: the `iptables` binary and `ip6tables` if present.
    Iptables { v4: String, v6: Option<String> },
}

/// Picks nft, else iptables. `KVMFI_FIREWALL=iptables` forces the fallback
/// (and `=nft` forbids it). Neither present: exit 4 with what to install.
pub fn firewall() -> Result<Firewall> {
    let want = std::env::var("KVMFI_FIREWALL").unwrap_or_default();
    if want != "iptables" {
        if let Some(nft) = exec::which("nft", &[]) {
            return Ok(Firewall::Nft(nft.to_string_lossy().into_owned()));
        }
    }
    if want != "nft" {
        if let Some(ipt) = exec::which("iptables", &[]) {
            let v6 = exec::which("ip6tables", &[]).map(|p| p.to_string_lossy().into_owned());
            return Ok(Firewall::Iptables { v4: ipt.to_string_lossy().into_owned(), v6 });
        }
    }
    Err(Error::unsupported(
        "neither 'nft' nor 'iptables' is installed; install nftables (apt-get install nftables)",
    ))
}

/// What traffic a block drops.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Everything to and from this address.
    Host(IpAddr),
    /// TCP to or from this port, both directions, in and out.
    TcpPort(u16),
    /// TCP to or from this port of this address (either end's port).
    HostTcpPort(IpAddr, u16),
    /// TCP to or from any port of this inclusive range, both directions.
    TcpPortRange(u16, u16),
}

/// Parses an IP address for `network IP`, refusing the unspecified address
/// and multicast (a usage error naming the fix).
pub fn parse_ip(text: &str) -> std::result::Result<IpAddr, String> {
    let ip: IpAddr = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not an IP address; give an IPv4 or IPv6 address such as 10.0.0.12"))?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(format!("'{text}' is not a host address; give the address of one peer node"));
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Err(format!("'{text}' is a broadcast address; give the address of one peer node"));
        }
    }
    Ok(ip)
}

/// The steps that install a block for fault `id`, and those that undo it.
pub fn block(fw: &Firewall, t: Target, id: u64) -> (Vec<Step>, Vec<Step>) {
    let tag = tag(id);
    match fw {
        Firewall::Nft(nft) => {
            let rules: Vec<(&str, String)> = match t {
                Target::Host(ip) => {
                    let fam = if ip.is_ipv4() { "ip" } else { "ip6" };
                    vec![("input", format!("{fam} saddr {ip}")), ("output", format!("{fam} daddr {ip}"))]
                }
                Target::TcpPort(p) => vec![
                    ("input", format!("tcp dport {p}")),
                    ("input", format!("tcp sport {p}")),
                    ("output", format!("tcp dport {p}")),
                    ("output", format!("tcp sport {p}")),
                ],
                Target::HostTcpPort(ip, p) => {
                    let fam = if ip.is_ipv4() { "ip" } else { "ip6" };
                    vec![
                        ("input", format!("{fam} saddr {ip} tcp dport {p}")),
                        ("input", format!("{fam} saddr {ip} tcp sport {p}")),
                        ("output", format!("{fam} daddr {ip} tcp dport {p}")),
                        ("output", format!("{fam} daddr {ip} tcp sport {p}")),
                    ]
                }
                Target::TcpPortRange(lo, hi) => vec![
                    ("input", format!("tcp dport {lo}-{hi}")),
                    ("input", format!("tcp sport {lo}-{hi}")),
                    ("output", format!("tcp dport {lo}-{hi}")),
                    ("output", format!("tcp sport {lo}-{hi}")),
                ],
            };
            let mut script = format!("add table inet {NFT_TABLE}\n");
            for chain in ["input", "output"] {
                script.push_str(&format!(
                    "add chain inet {NFT_TABLE} {chain} {{ type filter hook {chain} priority -10 ; policy accept ; }}\n"
                ));
            }
            for (chain, m) in rules {
                script.push_str(&format!(
                    "add rule inet {NFT_TABLE} {chain} {m} counter drop comment \"{tag}\"\n"
                ));
            }
            (
                vec![Step::Run { argv: argv([nft.as_str(), "-f", "-"]), stdin: Some(script) }],
                vec![Step::NftDeleteTagged { nft: nft.clone(), tag }],
            )
        }
        Firewall::Iptables { v4, v6 } => {
            let bin = match t {
                Target::Host(IpAddr::V6(_)) | Target::HostTcpPort(IpAddr::V6(_), _) => match v6 {
                    Some(b) => b.clone(),
                    None => v4.clone(), // fails with a clear message from iptables
                },
                _ => v4.clone(),
            };
            let specs: Vec<Vec<String>> = match t {
                Target::Host(ip) => vec![argv(["-s", &ip.to_string()]), argv(["-d", &ip.to_string()])],
                Target::TcpPort(p) => vec![
                    argv(["-p", "tcp", "--dport", &p.to_string()]),
                    argv(["-p", "tcp", "--sport", &p.to_string()]),
                ],
                Target::HostTcpPort(ip, p) => {
                    let (ip, p) = (ip.to_string(), p.to_string());
                    vec![
                        argv(["-s", &ip, "-p", "tcp", "--dport", &p]),
                        argv(["-s", &ip, "-p", "tcp", "--sport", &p]),
                        argv(["-d", &ip, "-p", "tcp", "--dport", &p]),
                        argv(["-d", &ip, "-p", "tcp", "--sport", &p]),
                    ]
                }
                Target::TcpPortRange(lo, hi) => vec![
                    argv(["-p", "tcp", "--dport", &format!("{lo}:{hi}")]),
                    argv(["-p", "tcp", "--sport", &format!("{lo}:{hi}")]),
                ],
            };
            let mut apply = vec![Step::IptEnsureChain { bin: bin.clone() }];
            for spec in specs {
                let mut a = argv([bin.as_str(), "-w", "-A", IPT_CHAIN]);
                a.extend(spec);
                a.extend(argv(["-m", "comment", "--comment", &tag, "-j", "DROP"]));
                apply.push(Step::Run { argv: a, stdin: None });
            }
            (apply, vec![Step::IptDeleteTagged { bin, tag }])
        }
    }
}

/// Undo of an nft block: deletes the rules commented `tag` from the kvmfi
/// table, then the table itself once no kvmfi rule is left. Idempotent.
pub fn nft_delete_tagged(nft: &str, tag: &str) -> Result<()> {
    let list = exec::run(&argv([nft, "-a", "list", "table", "inet", NFT_TABLE]), None, TOOL_TIMEOUT)?;
    if !list.ok() {
        // No table: nothing of ours is left.
        return Ok(());
    }
    let needle = format!("comment \"{tag}\"");
    let mut chain = String::new();
    for line in list.stdout.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            // "chain input { # handle 1"
            chain = rest.split_whitespace().next().unwrap_or("").to_string();
        } else if line.contains(&needle) {
            if let Some(handle) = line.rsplit("# handle ").next().filter(|_| line.contains("# handle ")) {
                exec::run_ok(
                    &argv([nft, "delete", "rule", "inet", NFT_TABLE, &chain, "handle", handle.trim()]),
                    None,
                    TOOL_TIMEOUT,
                )?;
            }
        }
    }
    let again = exec::run(&argv([nft, "list", "table", "inet", NFT_TABLE]), None, TOOL_TIMEOUT)?;
    if again.ok() && !again.stdout.contains("comment \"kvmfi-") {
        exec::run_ok(&argv([nft, "delete", "table", "inet", NFT_TABLE]), None, TOOL_TIMEOUT)?;
    }
    Ok(())
}

/// With iptables-nft, `nft` and the family (`ip`/`ip6`) to inspect the
/// nftables objects iptables creates lazily; `None` for iptables-legacy or
/// when nft is not installed.
fn nft_view(bin: &str) -> Option<(String, &'static str)> {
    let nft = which_str("nft")?;
    let v = exec::run(&argv([bin, "-V"]), None, TOOL_TIMEOUT).ok()?;
    v.stdout.contains("nf_tables").then(|| (nft, if bin.contains("ip6tables") { "ip6" } else { "ip" }))
}

fn which_str(name: &str) -> Option<String> {
    exec::which(name, &[]).map(|p| p.to_string_lossy().into_owned())
}

/// The file that remembers which nftables objects kvmfi's iptables use
/// created in this network namespace (so the last undo removes them).
fn created_file(state_dir: &std::path::Path) -> std::path::PathBuf {
    let ns = crate::journal::ns_inode("net").unwrap_or(0);
    state_dir.join(format!("iptables-created.{ns}"))
}

/// Creates the KVMFI chain and the jumps to it from INPUT and OUTPUT, if
/// not there yet. With iptables-nft, the table and base chains it is about
/// to create are first recorded, so the last undo can remove them again.
pub fn ipt_ensure_chain(bin: &str, state_dir: &std::path::Path) -> Result<()> {
    if let Some((nft, fam)) = nft_view(bin) {
        let mut missing = Vec::new();
        if !exec::run(&argv([nft.as_str(), "list", "table", fam, "filter"]), None, TOOL_TIMEOUT)?.ok() {
            missing.push(format!("{fam} table"));
        }
        for chain in ["INPUT", "OUTPUT"] {
            if !exec::run(&argv([nft.as_str(), "list", "chain", fam, "filter", chain]), None, TOOL_TIMEOUT)?.ok() {
                missing.push(format!("{fam} {chain}"));
            }
        }
        if !missing.is_empty() {
            let f = created_file(state_dir);
            let mut text = std::fs::read_to_string(&f).unwrap_or_default();
            for m in missing {
                if !text.lines().any(|l| l == m) {
                    text.push_str(&m);
                    text.push('\n');
                }
            }
            crate::journal::write_file_durably(&f, text.as_bytes(), 0o600)?;
        }
    }
    let have = exec::run(&argv([bin, "-w", "-S", IPT_CHAIN]), None, TOOL_TIMEOUT)?;
    if !have.ok() {
        exec::run_ok(&argv([bin, "-w", "-N", IPT_CHAIN]), None, TOOL_TIMEOUT)?;
    }
    for hook in ["INPUT", "OUTPUT"] {
        let jump = exec::run(&argv([bin, "-w", "-C", hook, "-j", IPT_CHAIN]), None, TOOL_TIMEOUT)?;
        if !jump.ok() {
            exec::run_ok(&argv([bin, "-w", "-I", hook, "1", "-j", IPT_CHAIN]), None, TOOL_TIMEOUT)?;
        }
    }
    Ok(())
}

/// Undo of an iptables block: deletes the rules commented `tag` from the
/// KVMFI chain; once the chain is empty, removes the jumps and the chain,
/// and (iptables-nft) the base chains and table that kvmfi's use created,
/// if they are still empty with policy accept.
pub fn ipt_delete_tagged(bin: &str, tag: &str, state_dir: &std::path::Path) -> Result<()> {
    let list = exec::run(&argv([bin, "-w", "-S", IPT_CHAIN]), None, TOOL_TIMEOUT)?;
    if !list.ok() {
        return ipt_cleanup_created(bin, state_dir);
    }
    let mut left = 0;
    for line in list.stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() != Some(&"-A") {
            continue;
        }
        let tagged = words.windows(2).any(|w| w[0] == "--comment" && w[1].trim_matches('"') == tag);
        if tagged {
            let mut a = argv([bin, "-w", "-D"]);
            a.extend(words[1..].iter().map(|w| w.trim_matches('"').to_string()));
            exec::run_ok(&a, None, TOOL_TIMEOUT)?;
        } else {
            left += 1;
        }
    }
    if left == 0 {
        for hook in ["INPUT", "OUTPUT"] {
            let mut n = 0;
            while n < 16 && exec::run(&argv([bin, "-w", "-D", hook, "-j", IPT_CHAIN]), None, TOOL_TIMEOUT)?.ok() {
                n += 1;
            }
        }
        exec::run(&argv([bin, "-w", "-X", IPT_CHAIN]), None, TOOL_TIMEOUT)?;
        ipt_cleanup_created(bin, state_dir)?;
    }
    Ok(())
}

/// Removes what [`ipt_ensure_chain`] recorded as created, if still empty.
fn ipt_cleanup_created(bin: &str, state_dir: &std::path::Path) -> Result<()> {
    let Some((nft, fam)) = nft_view(bin) else { return Ok(()) };
    let f = created_file(state_dir);
    let Ok(text) = std::fs::read_to_string(&f) else { return Ok(()) };
    let is_rule = |l: &str| {
        let l = l.trim();
        !(l.is_empty() || l.starts_with("table ") || l.starts_with("chain ") || l.starts_with("type ") || l == "}")
    };
    let mut keep = String::new();
    let mut table_created = false;
    for line in text.lines() {
        match line.strip_prefix(fam).map(str::trim) {
            Some("table") => table_created = true,
            Some(chain) if chain == "INPUT" || chain == "OUTPUT" => {
                let l = exec::run(&argv([nft.as_str(), "list", "chain", fam, "filter", chain]), None, TOOL_TIMEOUT)?;
                if l.ok() && !l.stdout.lines().any(is_rule) && l.stdout.contains("policy accept") {
                    exec::run_ok(&argv([nft.as_str(), "delete", "chain", fam, "filter", chain]), None, TOOL_TIMEOUT)?;
                }
            }
            _ => {
                keep.push_str(line);
                keep.push('\n');
            }
        }
    }
    if table_created {
        let t = exec::run(&argv([nft.as_str(), "list", "table", fam, "filter"]), None, TOOL_TIMEOUT)?;
        if t.ok() && !t.stdout.contains("chain ") {
            exec::run_ok(&argv([nft.as_str(), "delete", "table", fam, "filter"]), None, TOOL_TIMEOUT)?;
        }
    }
    if keep.is_empty() {
        let _ = std::fs::remove_file(&f);
    } else {
        crate::journal::write_file_durably(&f, keep.as_bytes(), 0o600)?;
    }
    Ok(())
}

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

/// Root qdiscs a host has by default; anything else belongs to someone.
const DEFAULT_QDISCS: &[&str] = &["noqueue", "pfifo_fast", "fq_codel", "mq", "fq", "pfifo", "cake"];

/// Steps that delay traffic leaving `dev` from TCP source port `port` by
/// `ms` milliseconds (prio qdisc of kvmfi + netem on its own band + u32
/// filters), and the step that undoes it. Refuses a device whose root
/// qdisc kvmfi did not create and that is not a default one.
pub fn delay_from_port(tc: &str, dev: &str, port: u16, ms: u32) -> Result<(Vec<Step>, Vec<Step>)> {
    let (kind, handle) = root_qdisc(tc, dev)?;
    if handle == QDISC_HANDLE {
        return Err(Error::failed(format!(
            "{dev} already carries kvmfi's qdisc; clear the delay first (api-delay-clear)"
        )));
    }
    if !DEFAULT_QDISCS.contains(&kind.as_str()) {
        return Err(Error::failed(format!(
            "{dev} has a root qdisc '{kind} {handle}' that kvmfi did not create; it will not replace it"
        )));
    }
    let band = "4b46:4";
    let p = port.to_string();
    let apply = vec![
        Step::Run {
            argv: argv([tc, "qdisc", "add", "dev", dev, "root", "handle", QDISC_HANDLE, "prio", "bands", "4",
                "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"]),
            stdin: None,
        },
        Step::Run {
            argv: argv([tc, "qdisc", "add", "dev", dev, "parent", band, "handle", "4b47:", "netem", "delay",
                &format!("{ms}ms")]),
            stdin: None,
        },
        Step::Run {
            argv: argv([tc, "filter", "add", "dev", dev, "parent", QDISC_HANDLE, "protocol", "ip", "prio", "1",
                "u32", "match", "ip", "sport", &p, "0xffff", "flowid", band]),
            stdin: None,
        },
        Step::Run {
            argv: argv([tc, "filter", "add", "dev", dev, "parent", QDISC_HANDLE, "protocol", "ipv6", "prio", "2",
                "u32", "match", "ip6", "sport", &p, "0xffff", "flowid", band]),
            stdin: None,
        },
    ];
    let undo = vec![Step::TcDeleteRoot { tc: tc.to_string(), dev: dev.to_string(), handle: QDISC_HANDLE.into() }];
    Ok((apply, undo))
}

/// Undo of [`delay_from_port`]: deletes the root qdisc of `dev` only if it
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips() {
        assert!(parse_ip("10.77.0.2").is_ok());
        assert!(parse_ip("fd00::1").is_ok());
        assert!(parse_ip("10.77.0.300").is_err());
        assert!(parse_ip("0.0.0.0").is_err());
        assert!(parse_ip("224.0.0.1").is_err());
        assert!(parse_ip("host").is_err());
    }

    #[test]
    fn nft_script_is_tagged() {
        let (apply, undo) = block(&Firewall::Nft("nft".into()), Target::Host("10.77.0.2".parse().unwrap()), 7);
        let Step::Run { stdin: Some(s), .. } = &apply[0] else { panic!() };
        assert!(s.contains("add rule inet kvmfi input ip saddr 10.77.0.2 counter drop comment \"kvmfi-7\""));
        assert!(matches!(&undo[0], Step::NftDeleteTagged { tag, .. } if tag == "kvmfi-7"));
    }
}
