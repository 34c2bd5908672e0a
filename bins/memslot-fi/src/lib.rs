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
mod range;

use range::parse_range;

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
