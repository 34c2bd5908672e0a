//! Plans of the firewall faults: the rules that DROP a peer, a port or a
//! port range (nftables table `inet kvmfi`, else iptables chain `KVMFI`),
//! each commented `kvmfi-ID`, and the journal steps that remove exactly them;
//! and the delay of a local server's answers (api-delay) through kvmfi's own
//! root qdisc.

use crate::error::{Error, Result};
use crate::host::exec::argv;
use crate::host::firewall::{tag, Firewall, IPT_CHAIN, NFT_TABLE};
use crate::host::tc::{root_qdisc, DEFAULT_QDISCS, QDISC_HANDLE};
use crate::undo::Step;
use std::net::IpAddr;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_script_is_tagged() {
        let (apply, undo) = block(&Firewall::Nft("nft".into()), Target::Host("10.77.0.2".parse().unwrap()), 7);
        let Step::Run { stdin: Some(s), .. } = &apply[0] else { panic!() };
        assert!(s.contains("add rule inet kvmfi input ip saddr 10.77.0.2 counter drop comment \"kvmfi-7\""));
        assert!(matches!(&undo[0], Step::NftDeleteTagged { tag, .. } if tag == "kvmfi-7"));
    }
}
