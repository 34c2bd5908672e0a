// SPDX-License-Identifier: GPL-2.0
/*
 * pt-update-fi: the TLB shootdowns of a scoped target's address space are
 * lost: after the target changes its page tables (munmap, madvise,
 * mprotect, mremap, copy-on-write), the other CPUs that run its threads
 * keep their old translations until something else flushes them.
 *
 * x86_64. flush_tlb_mm (a macro for flush_tlb_mm_range) flushes the local
 * TLB itself and, when other CPUs have run the address space, sends them
 * the flush with flush_tlb_multi() -> native_flush_tlb_multi(cpumask,
 * info) (through the paravirt op; kvm_flush_tlb_multi ends there too;
 * before 5.13 flush_tlb_others() -> native_flush_tlb_others(), with
 * another struct flush_tlb_info: both from kvmfi_compat.h, and a kernel
 * whose layout is not known there is refused).
 * This module probes that function's entry and, for a flush of the
 * current task's own address space by a task in scope, replaces the
 * cpumask with the current CPU alone: the local flush still happens (so
 * the flushing thread never writes through a stale entry), the other CPUs
 * are not told. mm->context.tlb_gen has already advanced, so a CPU catches
 * up at its next context switch into the address space or the next flush
 * that reaches it. Flushes that free page tables (info->freed_tables) are
 * never touched: a stale walk cache over a freed page table could make the
 * hardware walk arbitrary memory. Nothing is skipped and no pointer is
 * invalidated: the new mask is the kernel's own constant cpumask_of(cpu).
 *
 * arm64. TLB maintenance is a broadcast TLBI instruction emitted inline at
 * every call site (flush_tlb_mm, flush_tlb_range, flush_tlb_page and
 * __flush_tlb_range are static inline; the out-of-line copies in kallsyms
 * are per-file duplicates), and the mmu_gather is flushed by the inlined
 * tlb_end_vma() before the probe-able tlb_finish_mmu() runs. No function
 * that every flush of an address space goes through can be probed, so the
 * module refuses to load there (-EOPNOTSUPP) and says why.
 *
 * Legacy /proc/pt-update-fi/{signal,times}: every process (the original
 * only counted hits), `times` lost shootdowns, 10-minute lease.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <generated/utsrelease.h>
#include "kvmfi_compat.h"

#define PT_UPDATE_DESCRIPTION "kvmfi: lose the TLB shootdowns of a chosen process (x86_64; refuses to load elsewhere)"

#if defined(CONFIG_X86_64) && KVMFI_FLUSH_TLB_INFO_KNOWN
#include "kvmfi_core.c"

/* The function and struct flush_tlb_info layout of this kernel: kvmfi_compat.h. */
KVMFI_FUNCTION_PARAM(symbol, KVMFI_FLUSH_TLB_OTHERS, "function to probe, taking (const struct cpumask *, const struct flush_tlb_info *) "
	"(default " KVMFI_FLUSH_TLB_OTHERS ")");

/*
 * The fields read agree with the layout assumed: a flush of a user address
 * space has a page or huge-page stride and, from
 * 5.13, the flush started on this CPU. Anything else is left alone.
 */
static bool pt_update_info_sane(const struct kvmfi_flush_tlb_info *info, unsigned int cpu)
{
	return (info->stride_shift == PAGE_SHIFT || info->stride_shift == PMD_SHIFT ||
		info->stride_shift == PUD_SHIFT) &&
	       kvmfi_flush_initiated_here(info, cpu);
}
NOKPROBE_SYMBOL(pt_update_info_sane);

static int pt_update_pre(struct kprobe *p, struct pt_regs *regs)
{
	const struct cpumask *mask = (const struct cpumask *)regs_get_kernel_argument(regs, 0);
	const struct kvmfi_flush_tlb_info *info = (const struct kvmfi_flush_tlb_info *)regs_get_kernel_argument(regs, 1);
	struct kvmfi_fault *f;
	unsigned int cpu, dropped;

	if (!mask || !info || !info->mm || info->mm != current->mm || info->freed_tables ||
	    (current->flags & PF_KTHREAD) || is_global_init(current))
		return 0;
	/* Preemption is off (flush_tlb_mm_range holds get_cpu()). */
	cpu = smp_processor_id();
	if (!pt_update_info_sane(info, cpu))
		return 0;
	dropped = cpumask_weight(mask) - (cpumask_test_cpu(cpu, mask) ? 1 : 0);
	rcu_read_lock();
	f = kvmfi_enter();
	if (f && dropped && kvmfi_decide(f, 1)) {
		/* Event: value = CPUs not told, detail = flushed range. */
		kvmfi_injected_detail(f, 0, "lost-shootdown", dropped, info->start, info->end);
		regs->di = (unsigned long)cpumask_of(cpu);	/* first argument */
	}
	rcu_read_unlock();
	return 0;
}
NOKPROBE_SYMBOL(pt_update_pre);

KVMFI_MODULE(PT_UPDATE_DESCRIPTION,
	.tag = "[PT-Fi]",
	KVMFI_PRE_HOOK(symbol, pt_update_pre),
	KVMFI_REQUEST_NO_ARGS(KVMFI_TLB_FLUSH_MODE_LOSE),
	KVMFI_LEGACY_LEASED("pt-update-fi", NULL, KVMFI_TIMES_KNOB),
	/* the original armed on any non-zero value */
	.legacy_signal_nonzero = true);

#elif defined(CONFIG_X86_64) /* a struct flush_tlb_info layout kvmfi_compat.h does not know */

static int __init pt_update_init(void)
{
	pr_err("[PT-Fi] unsupported kernel %s: the layout of struct flush_tlb_info is known for "
	       "5.4-7.3 only, and reading freed_tables at a guessed offset could drop a flush "
	       "that frees page tables\n", UTS_RELEASE);
	return -EOPNOTSUPP;
}

module_init(pt_update_init);
MODULE_DESCRIPTION(PT_UPDATE_DESCRIPTION);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("kvmfi developers");

#else /* !CONFIG_X86_64 */

static int __init pt_update_init(void)
{
	pr_err("[PT-Fi] unsupported on this architecture: TLB invalidation is a broadcast TLBI "
	       "instruction emitted inline at every call site (flush_tlb_mm, flush_tlb_range and "
	       "flush_tlb_page are static inline) and the mmu_gather is flushed by the inlined "
	       "tlb_end_vma() before tlb_finish_mmu(); no probe-able function carries every TLB "
	       "flush of an address space, so none can be suppressed\n");
	return -EOPNOTSUPP;
}

module_init(pt_update_init);
MODULE_DESCRIPTION(PT_UPDATE_DESCRIPTION);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("kvmfi developers");
#endif /* CONFIG_X86_64, KVMFI_FLUSH_TLB_INFO_KNOWN */
