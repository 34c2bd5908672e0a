//! memslot-fi: KVM memory regions, or guest-frame to host-address
//! translations, fail for a chosen VMM (see `man memslot-fi`).
//! Module memory.ko (the original memory-manage-fi).

use clap::{ArgGroup, Args};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool};
use kvmfi::kvmtool;
use kvmfi::symbols::{ModuleSpec, MEMSLOT};
use kvmfi::{errno, Error, Result};

mod doc;

use kvmfi::request::{self, memslot};

/// The fault's own options.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("class").required(true).args(["region", "gfn"])))]
pub struct Fault {
    /// Memory-region setup fails: the VMM's KVM_SET_USER_MEMORY_REGION gets the errno (the original class 1)
    #[arg(long, help_heading = "Fault")]
    region: bool,
    /// With --region: only this memory slot
    #[arg(long, value_name = "SLOT", requires = "region", help_heading = "Fault")]
    slot: Option<u32>,
    /// Error of --region: a name or a number [default: ENOMEM]
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, requires = "region", help_heading = "Fault")]
    errno: Option<i32>,
    /// Guest frames whose host-address translation fails: FIRST-LAST (inclusive) or one frame, 0x hex or decimal, or `all` (the original class 2)
    #[arg(long, value_name = "RANGE", value_parser = parse_range, help_heading = "Fault")]
    gfn: Option<(u64, u64)>,
}

fn parse_num(t: &str) -> Option<u64> {
    let t = t.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

/// `all`, `N` or `A-B` (inclusive) as a half-open range; (0, 0) = every frame.
fn parse_range(text: &str) -> std::result::Result<(u64, u64), String> {
    let bad = || format!("'{text}': a guest frame number, FIRST-LAST, or all");
    if text.trim() == "all" {
        return Ok((0, 0));
    }
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (parse_num(a).ok_or_else(bad)?, parse_num(b).ok_or_else(bad)?),
        None => {
            let n = parse_num(text).ok_or_else(bad)?;
            (n, n)
        }
    };
    if b < a || b == u64::MAX {
        return Err(bad());
    }
    Ok((a, b + 1))
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct Memslot;

impl KernelTool for Memslot {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &MEMSLOT;

    fn prepare(_: &mut Self::Arm) -> Result<()> {
        kvmtool::require_kvm(Self::SPEC)
    }

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let args = if a.own.region {
            req.error = a.own.errno.unwrap_or(libc::ENOMEM);
            let slot = a.own.slot.map_or(0, |s| u64::from(s) + 1);
            memslot::Args { class: memslot::CLASS_REGION, slot, ..Default::default() }
        } else if let Some((gfn_first, gfn_end)) = a.own.gfn {
            memslot::Args { class: memslot::CLASS_GFN, gfn_first, gfn_end, ..Default::default() }
        } else {
            return Err(Error::usage("--region or --gfn is needed"));
        };
        request::set(req, memslot::MODE_FAIL, args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(Memslot);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("all").unwrap(), (0, 0));
        assert_eq!(parse_range("0x10-0x1f").unwrap(), (0x10, 0x20));
        assert_eq!(parse_range("5").unwrap(), (5, 6));
        assert!(parse_range("9-3").is_err());
        assert!(parse_range("x").is_err());
    }
}
