//! tlb-flush-fi: the TLB shootdowns of a chosen process are lost (see
//! `man tlb-flush-fi`). x86_64 only; on other architectures every command
//! that would act says why it cannot. Invoked as `pt-update-fi-main`, it is
//! the original control program (prompts for times). Its `kvm` subcommands
//! suppress KVM's remote TLB flushes for a VMM's VMs instead, on x86_64 and
//! arm64 (module kvm-tlb-fi.ko).

use clap::Subcommand;
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, ArmOptions, KernelTool, NoOptions, ToolCommand};
use kvmfi::request::tlb_flush;
use kvmfi::symbols::{ModuleSpec, KVM_TLB_FLUSH, TLB_FLUSH};
use kvmfi::tool::CommonCmd;
use kvmfi::{kvmtool, tool};
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

/// The subcommands of its own.
#[derive(Subcommand, Debug)]
pub enum Extra {
    /// Say whether this kernel supports the fault, and why not (exit status 4 when not)
    Support,
    /// KVM's remote TLB flushes, x86_64 and arm64: `kvm arm`, `kvm off`, `kvm status`, `kvm events`, `kvm unload`, `kvm support`
    #[command(subcommand)]
    Kvm(KvmCmd),
}

/// `tlb-flush-fi kvm ...`: the same commands, for kvm-tlb-fi.ko.
#[derive(Subcommand, Debug)]
pub enum KvmCmd {
    /// Suppress KVM's remote TLB flushes for the VMs of the target VMM (loads kvm-tlb-fi.ko); prints the experiment id
    Arm(ArmArgs<NoOptions>),
    #[command(flatten)]
    Common(CommonCmd),
    /// Say at which functions this kernel's KVM flushes are suppressed (exit status 4 when they cannot be)
    Support,
}

/// The first candidate of each of `spec`'s hooks that this kernel has.
fn chosen_symbols(spec: &ModuleSpec) -> Result<Vec<String>> {
    let per_hook: Vec<Vec<String>> = spec.hooks.iter().map(|h| kvmfi::symbols::candidates(spec, h)).collect();
    let all: Vec<&str> = per_hook.iter().flatten().map(String::as_str).collect();
    let present = kvmfi::kallsyms::present(&all)?;
    spec.hooks
        .iter()
        .zip(&per_hook)
        .map(|(hook, cands)| {
            let cands: Vec<&str> = cands.iter().map(String::as_str).collect();
            kvmfi::kallsyms::choose(hook.role, &cands, &present)
        })
        .collect()
}

impl ToolCommand for Extra {
    fn run(self) -> Result<()> {
        match self {
            Extra::Support => {
                require_support()?;
                // The function this kernel has (native_flush_tlb_others before 5.13).
                let symbol = chosen_symbols(&TLB_FLUSH)?.remove(0);
                out::out(format!("supported: x86_64, lost shootdowns at {symbol}"))
            }
            Extra::Kvm(cmd) => run_kvm(cmd),
        }
    }
}

fn run_kvm(cmd: KvmCmd) -> Result<()> {
    let spec = &KVM_TLB_FLUSH;
    match cmd {
        KvmCmd::Arm(a) => {
            kvmtool::require_kvm(spec)?;
            tool::arm(spec, &a.module(), a.scope(), a.bounds(), false, |req, _| {
                req.mode = tlb_flush::MODE_KVM_REMOTE;
                Ok(())
            })
        }
        KvmCmd::Common(c) => c.run(spec),
        KvmCmd::Support => {
            kvmtool::require_kvm(spec)?;
            let symbols = chosen_symbols(spec)?;
            let range = if symbols[1] == symbols[0] {
                "no ranged flush of its own on this kernel".to_string()
            } else {
                format!("ranged flushes at {}", symbols[1])
            };
            out::out(format!("supported: {}, KVM remote TLB flushes at {}, {range}", std::env::consts::ARCH, symbols[0]))
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
