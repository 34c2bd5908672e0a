//! mm-fault-fi: make the page faults of a chosen process fail (see
//! `man mm-fault-fi`). Invoked as `pt-load-fi-main`, it is the original
//! control program (prompts for type and times, system-wide).

use clap::{Args, ValueEnum};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool};
use kvmfi::symbols::{ModuleSpec, MM_FAULT};
use kvmfi::request::{self, mm_fault};
use kvmfi::Result;

mod doc;
mod range;

pub use range::{parse_range, Range};

/// What a failed fault returns (the module's `mode`).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultResult {
    /// VM_FAULT_SIGSEGV: the access gets SIGSEGV
    Sigsegv,
    /// VM_FAULT_SIGBUS: the access gets SIGBUS
    Sigbus,
    /// VM_FAULT_OOM: the fault is retried while armed (no OOM kill since Linux 5.16)
    Oom,
}

impl FaultResult {
    /// The module's mode number.
    pub fn mode(self) -> u32 {
        match self {
            FaultResult::Sigsegv => mm_fault::SIGSEGV,
            FaultResult::Sigbus => mm_fault::SIGBUS,
            FaultResult::Oom => mm_fault::OOM,
        }
    }
}

/// The fault's own options.
#[derive(Args, Debug)]
pub struct Fault {
    /// Only faults at addresses in START-END (end exclusive) or START+LENGTH, e.g. a guest's RAM mapping
    #[arg(long, value_name = "RANGE", value_parser = parse_range, help_heading = "Scope (all given filters must match)")]
    addr_range: Option<Range>,
    /// What the failed fault returns
    #[arg(long, value_name = "RESULT", value_enum, default_value = "sigsegv", help_heading = "Fault")]
    result: FaultResult,
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct MmFault;

impl KernelTool for MmFault {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &MM_FAULT;

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let mut args = mm_fault::Args::default();
        if let Some(r) = a.own.addr_range {
            (args.addr_start, args.addr_end) = (r.start, r.end);
        }
        request::set(req, a.own.result.mode(), args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(MmFault);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(FaultResult::Oom.mode(), mm_fault::OOM);
        assert_eq!(FaultResult::Sigbus.mode(), mm_fault::SIGBUS);
    }
}
