//! tlb-flush-fi: the TLB shootdowns of a chosen process are lost (see
//! `man tlb-flush-fi`). x86_64 only; on other architectures every command
//! that would act says why it cannot. Invoked as `pt-update-fi-main`, it is
//! the original control program (prompts for times).

use clap::Subcommand;
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool, NoOptions, ToolCommand};
use kvmfi::symbols::{ModuleSpec, TLB_FLUSH};
use kvmfi::{run as out, Error, Result};

mod doc;

/// Why the fault cannot be had on arm64, in one paragraph (also in the man page).
pub const ARM64_REASON: &str = "arm64: TLB maintenance is a broadcast TLBI instruction emitted inline at every call \
site (flush_tlb_mm, flush_tlb_range, flush_tlb_page and __flush_tlb_range are static inline; the out-of-line \
copies in kallsyms are per-file duplicates that most callers never use), and the mmu_gather of munmap and \
madvise is flushed by the inlined tlb_end_vma() before the probe-able tlb_finish_mmu() runs. No function that \
every TLB flush of an address space goes through can be probed, so no kprobe can suppress them; pt-update-fi.ko \
refuses to load there (EOPNOTSUPP).";

/// Whether this build's architecture supports the fault, and why not.
pub fn support() -> std::result::Result<(), &'static str> {
    if cfg!(target_arch = "x86_64") {
        Ok(())
    } else if cfg!(target_arch = "aarch64") {
        Err(ARM64_REASON)
    } else {
        Err("only x86_64 is supported")
    }
}

fn require_support() -> Result<()> {
    support().map_err(|why| Error::unsupported(format!("unsupported on this kernel: {why}")))
}

/// The subcommand of its own.
#[derive(Subcommand, Debug)]
pub enum Extra {
    /// Say whether this kernel supports the fault, and why not (exit status 4 when not)
    Support,
}

impl ToolCommand for Extra {
    fn run(self) -> Result<()> {
        match self {
            Extra::Support => {
                require_support()?;
                // The function this kernel has (native_flush_tlb_others before 5.13).
                let spec = &TLB_FLUSH;
                let hook = &spec.hooks[0];
                let cands = kvmfi::symbols::candidates(spec, hook);
                let cands: Vec<&str> = cands.iter().map(String::as_str).collect();
                let present = kvmfi::kallsyms::present(&cands)?;
                let symbol = kvmfi::kallsyms::choose(hook.role, &cands, &present)?;
                out::out(format!("supported: x86_64, lost shootdowns at {symbol}"))
            }
        }
    }
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct TlbFlush;

impl KernelTool for TlbFlush {
    type Arm = ArmArgs<NoOptions>;
    const SPEC: &'static ModuleSpec = &TLB_FLUSH;

    fn supported() -> Result<()> {
        require_support()
    }

    /// No options of its own: the fault is the only one the module has.
    fn fill(_: &Self::Arm, _: &mut Arm, _: &mut Held) -> Result<()> {
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(TlbFlush, extra = Extra);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_matches_arch() {
        assert_eq!(support().is_ok(), cfg!(target_arch = "x86_64"));
        assert!(ARM64_REASON.contains("TLBI"));
    }
}
