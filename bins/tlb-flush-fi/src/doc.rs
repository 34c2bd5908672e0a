//! tlb-flush-fi's help and man page words.

use crate::TlbFlush;
use crate::ARM64_REASON;
use kvmfi::kernel_tool::{Doc, ExitText, ToolDoc};

impl ToolDoc for TlbFlush {
    fn doc() -> Doc {
        let long_about = format!("{LONG_ABOUT}\n\n{LONG_ABOUT_2}{ARM64_REASON}{LONG_ABOUT_3}\n\n{KVM_ABOUT}");
        Doc::new(ABOUT, long_about, FILES, EXAMPLES).exits(ExitText {
            unsupported: "unsupported on this kernel or architecture (arm64; module or function missing)",
            ..ExitText::KERNEL
        })
    }
}

const ABOUT: &str = "Lose the TLB shootdowns of a chosen process (x86_64; says why not elsewhere)";

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

const LONG_ABOUT_2: &str = "Unsupported elsewhere, which the tool says (exit status 4); KVM's own remote TLB flushes \
can be suppressed on both architectures with the `kvm` subcommands (see below). ";

const LONG_ABOUT_3: &str = "\n\nDANGER: a thread that writes through a stale translation corrupts memory \
that now belongs to another process or to the kernel; use a test machine or VM, a tight scope and --times. \
Every fault is bounded by --times (lost shootdowns), --probability, --interval and a lease (--duration, \
10 minutes unless given); `off`, `unload` and rmmod disarm at once. Hook candidates (first present is used): \
native_flush_tlb_multi, flush_tlb_multi, native_flush_tlb_others, flush_tlb_others. Legacy control files: /proc/pt-update-fi/{signal,times} (every \
process, `times` lost shootdowns, 10-minute lease; the original only counted hits). Invoked as \
pt-update-fi-main (a link made by `make install`), the program is the original one: `pt-update-fi-main \
[TIMES]`, or with no arguments the original prompt (times).";

const KVM_ABOUT: &str = "Suppress KVM's remote TLB flushes for the VMs of a chosen VMM (x86_64 and arm64; module \
kvm-tlb-fi.ko, kernel name kvm_tlb_fi). After KVM changes a guest's stage-2 (EPT/NPT) mappings it flushes what \
every vCPU of the VM may have cached, with kvm_flush_remote_tlbs(kvm); the write-protection of dirty logging \
(enabling it on a slot, KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG) ends in such a flush. Armed with `kvm arm --tgid \
PID` for a VMM (QEMU), the flushes that KVM does in that VMM's threads for its own VMs are skipped whole: no TLB \
maintenance, and KVM's statistics remote_tlb_flush and remote_tlb_flush_requests (/sys/kernel/debug/kvm/, global \
and per VM in PID-FD/) do not grow, while `kvm status` counts each one as injected (events: flush-skipped, \
range-skipped with the pages and first gfn). A vCPU may then keep writing through a writable cached \
translation of a page that dirty logging write-protected, and the write is never logged. Probed: \
kvm_flush_remote_tlbs (out of line and exported on every kernel; arm64 before 6.6 has its own in \
arch/arm64/kvm/mmu.c), and from 6.6 the ranged flush of dirty logging at kvm_arch_flush_remote_tlbs_range (or \
kvm_flush_remote_tlbs_range where the arch one is inline), which on arm64 never reaches kvm_flush_remote_tlbs \
and is not counted in those statistics (arm64 6.12 inlines kvm_flush_remote_tlbs_range into its callers, so the \
arch function it calls is the one probed). On arm64 the TLBI runs in \
__kvm_tlb_flush_vmid, at EL2 under nVHE or pKVM, where no kprobe reaches; the functions probed run at EL1 and \
call into it, so VHE and nVHE hosts are covered alike. Never suppressed: flushes during an MMU-notifier \
invalidation (host pages leaving the guest, which a stale translation would let the guest write after the host \
freed them), and flushes outside the VMM's threads (kswapd, compaction, other VMMs). A kernel without those \
functions, or without KVM, is refused (exit status 4, naming what is missing). DANGER: a guest writing through a \
stale translation corrupts its own memory or a migration's copy of it; bounded like every fault by --times, \
--probability, --interval and the lease (--duration, 10 minutes unless given); `kvm off`, `kvm unload` and \
rmmod disarm at once, and so does unloading kvm.";

const FILES: &str = "/dev/kvmfi/pt_update_fi (control device, root only); /proc/pt-update-fi/{signal,times} (original control files); \
/dev/kvmfi/kvm_tlb_fi (control device of `kvm`, root only).";

const EXAMPLES: &str = "  tlb-flush-fi support
  tlb-flush-fi arm --tgid $(pidof myapp) --times 10 --duration 30s
  tlb-flush-fi status
  tlb-flush-fi off
  tlb-flush-fi kvm arm --tgid $(pidof qemu-system-x86_64) --times 100 --duration 1m
  tlb-flush-fi kvm status";
