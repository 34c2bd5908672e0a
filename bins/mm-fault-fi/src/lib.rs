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

/// An address range, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

fn parse_addr(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim().replace('_', "");
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| format!("'{text}' is not an address (decimal or 0x hex)"))
}

/// Parses `START-END` (end exclusive) or `START+LENGTH`.
pub fn parse_range(text: &str) -> std::result::Result<Range, String> {
    let (start, end) = if let Some((a, b)) = text.split_once('+') {
        let start = parse_addr(a)?;
        let len = kvmfi::units::parse_size(b).or_else(|_| parse_addr(b))?;
        (start, start.checked_add(len).ok_or_else(|| format!("'{text}': range overflows"))?)
    } else if let Some((a, b)) = text.split_once('-') {
        (parse_addr(a)?, parse_addr(b)?)
    } else {
        return Err(format!("'{text}': use START-END (end exclusive) or START+LENGTH, e.g. 0x7f0000000000+1G"));
    };
    if start >= end {
        return Err(format!("'{text}': the range is empty (start must be below end)"));
    }
    Ok(Range { start, end })
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
    fn ranges() {
        assert_eq!(parse_range("0x1000-0x2000").unwrap(), Range { start: 0x1000, end: 0x2000 });
        assert_eq!(parse_range("0x10000000+64k").unwrap(), Range { start: 0x1000_0000, end: 0x1001_0000 });
        assert_eq!(parse_range("4096+0x1000").unwrap(), Range { start: 4096, end: 8192 });
        assert!(parse_range("0x2000-0x1000").is_err());
        assert!(parse_range("0x2000").is_err());
        assert!(parse_range("zz-0x10").is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(FaultResult::Oom.mode(), mm_fault::OOM);
        assert_eq!(FaultResult::Sigbus.mode(), mm_fault::SIGBUS);
    }
}
