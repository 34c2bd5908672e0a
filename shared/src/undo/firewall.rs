//! Firewall: kvmfi's own rules removed by their `kvmfi-ID` comment from its
//! nftables table or iptables chain, and that chain set up for iptables.

use crate::error::Result;
use crate::host::firewall::{self, IPT_CHAIN, NFT_TABLE};
use std::path::Path;

pub fn describe_nft_delete_tagged(nft: &str, tag: &str) -> String {
    format!(
        "{nft} delete rule inet {NFT_TABLE} <chain> handle <h>  # each rule commented \"{tag}\"; then the table if no kvmfi rule is left"
    )
}

/// Deletes the rules commented `tag` (and the table once none is left).
pub fn nft_delete_tagged(nft: &str, tag: &str) -> Result<()> {
    firewall::nft_delete_tagged(nft, tag)
}

pub fn describe_ipt_ensure_chain(bin: &str) -> String {
    format!("{bin} -N {c}; {bin} -I INPUT 1 -j {c}; {bin} -I OUTPUT 1 -j {c}  # each only if missing", c = IPT_CHAIN)
}

/// Creates chain KVMFI and its jumps, if missing.
pub fn ipt_ensure_chain(bin: &str, state_dir: &Path) -> Result<()> {
    firewall::ipt_ensure_chain(bin, state_dir)
}

pub fn describe_ipt_delete_tagged(bin: &str, tag: &str) -> String {
    format!("{bin} -D {IPT_CHAIN} <rule>  # each rule commented {tag}; then the jumps and the chain if empty")
}

/// Deletes the rules commented `tag` (and the chain once it is empty).
pub fn ipt_delete_tagged(bin: &str, tag: &str, state_dir: &Path) -> Result<()> {
    firewall::ipt_delete_tagged(bin, tag, state_dir)
}
