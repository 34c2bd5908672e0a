//! tlb-flush-fi: the TLB shootdowns of a chosen process are lost (see
//! `man tlb-flush-fi`). x86_64 only; on other architectures every command
//! that would act says why it cannot. Invoked as `pt-update-fi-main`, it is
//! the original control program (prompts for times).

use clap::Subcommand;
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, Doc, ExitText, KernelTool, NoOptions, ToolCommand};
use kvmfi::symbols::{ModuleSpec, TLB_FLUSH};
use kvmfi::{run as out, Error, Result};

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

const LONG_ABOUT: &str = "\
Lose the TLB shootdowns of a chosen process (x86_64; says why not elsewhere).

After a process changes its page tables (munmap, madvise MADV_DONTNEED, mprotect, mremap, copy-on-write), \
the kernel flushes the stale translations from the TLB of every CPU that ran the process: locally, and \
on the other CPUs with an inter-processor interrupt (a shootdown). With this fault armed, the shootdowns \
for the target's own address space are lost: the local flush still happens, the other CPUs running the \
target's threads keep translating the old addresses to the old physical pages, which may already belong \
to someone else. A thread on another CPU then reads (or writes) memory it no longer owns, until that CPU \
switches to another address space and back or receives a later flush of the target's address space \
(mm->context.tlb_gen tells it that it missed one).

x86_64: flush_tlb_mm is a macro for flush_tlb_mm_range, which flushes locally and calls \
flush_tlb_multi() for the other CPUs; the module pt-update-fi.ko (kernel name pt_update_fi) probes \
native_flush_tlb_multi (the paravirt target, also reached from kvm_flush_tlb_multi; before 5.13 \
native_flush_tlb_others, whose struct flush_tlb_info differs: the module is built for its kernel's layout \
and refuses a kernel whose layout it does not know) and, for a flush of \
the current task's address space by a task in scope, narrows the CPU mask to the current CPU. Flushes \
that free page tables are never touched (a stale walk over a freed page table could reach arbitrary \
memory), nor flushes for other address spaces, of kernel threads or of init. " ;

const LONG_ABOUT_2: &str = "Unsupported elsewhere, which the tool says (exit status 4). ";

const LONG_ABOUT_3: &str = "\n\nDANGER: a thread that writes through a stale translation corrupts memory \
that now belongs to another process or to the kernel; use a test machine or VM, a tight scope and --times. \
Every fault is bounded by --times (lost shootdowns), --probability, --interval and a lease (--duration, \
10 minutes unless given); `off`, `unload` and rmmod disarm at once. Hook candidates (first present is used): \
native_flush_tlb_multi, flush_tlb_multi, native_flush_tlb_others, flush_tlb_others. Legacy control files: /proc/pt-update-fi/{signal,times} (every \
process, `times` lost shootdowns, 10-minute lease; the original only counted hits). Invoked as \
pt-update-fi-main (a link made by `make install`), the program is the original one: `pt-update-fi-main \
[TIMES]`, or with no arguments the original prompt (times).";

const FILES: &str = "/dev/kvmfi/pt_update_fi (control device, root only); /proc/pt-update-fi/{signal,times} (original control files).";

const EXAMPLES: &str = "  tlb-flush-fi support
  tlb-flush-fi arm --tgid $(pidof myapp) --times 10 --duration 30s
  tlb-flush-fi status
  tlb-flush-fi off";


/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct TlbFlush;

impl KernelTool for TlbFlush {
    type Arm = ArmArgs<NoOptions>;
    const SPEC: &'static ModuleSpec = &TLB_FLUSH;

    fn doc() -> Doc {
        let about = "Lose the TLB shootdowns of a chosen process (x86_64; says why not elsewhere)";
        let long_about = format!("{LONG_ABOUT}\n\n{LONG_ABOUT_2}{ARM64_REASON}{LONG_ABOUT_3}");
        Doc::new(about, long_about, FILES, EXAMPLES).exits(ExitText {
            unsupported: "unsupported on this kernel or architecture (arm64; module or function missing)",
            ..ExitText::KERNEL
        })
    }

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
