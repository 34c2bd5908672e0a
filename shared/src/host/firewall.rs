//! The firewall as kvmfi touches it: only its own nftables table
//! `inet kvmfi` (or, where nft is absent, its own iptables chain `KVMFI`).
//! Every rule carries the comment `kvmfi-ID` of the fault that made it, so
//! undoing one fault removes exactly its rules and nothing else.

use crate::error::{Error, Result};
use super::exec::{self, argv};
use std::net::IpAddr;
use std::time::Duration;

/// The nftables table (family inet) that holds every kvmfi rule.
pub const NFT_TABLE: &str = "kvmfi";
/// The iptables chain used when nft is not installed.
pub const IPT_CHAIN: &str = "KVMFI";
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
    let ns = super::ns::ns_inode("net").unwrap_or(0);
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
            super::files::write_file_durably(&f, text.as_bytes(), 0o600)?;
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
        super::files::write_file_durably(&f, keep.as_bytes(), 0o600)?;
    }
    Ok(())
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
}
