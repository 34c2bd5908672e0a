// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-tlb-fi (tlb-flush-fi kvm): KVM's remote TLB flushes for the VMs of a
 * scoped VMM are suppressed. After KVM changes a guest's stage-2 (EPT/NPT)
 * mappings, it flushes the translations that every vCPU of that VM may have
 * cached: kvm_flush_remote_tlbs(kvm). Write-protection for dirty logging
 * (KVM_CLEAR_DIRTY_LOG, KVM_GET_DIRTY_LOG, enabling dirty logging on a slot)
 * ends in such a flush; without it a vCPU may keep writing through a
 * writable cached translation, and the write is never logged.
 *
 * Probed: kvm_flush_remote_tlbs, out of line and exported on every kernel
 * (6.1 arm64: arch/arm64/kvm/mmu.c; 6.6 on and x86_64: virt/kvm/kvm_main.c,
 * whose kvm_arch_flush_remote_tlbs is static inline on x86_64), skipped
 * whole, so neither its TLB maintenance nor its statistics
 * (remote_tlb_flush, remote_tlb_flush_requests) happen; and, where it
 * exists (6.6 on), the ranged flush of dirty logging: the tool names
 * kvm_arch_flush_remote_tlbs_range (called from kvm_main.c into arch code,
 * so never inlined; arm64 6.12 inlines kvm_flush_remote_tlbs_range into its
 * callers, and on arm64 it never reaches kvm_flush_remote_tlbs), skipped
 * with 0 ("flushed", so no fallback to a whole-VM flush follows), or
 * kvm_flush_remote_tlbs_range where the arch function is inline. On arm64
 * the TLBI itself runs in
 * __kvm_tlb_flush_vmid, at EL2 under nVHE/pKVM where no kprobe reaches: the
 * EL1 functions that call into it are the ones probed, so nVHE and VHE
 * hosts are covered alike.
 *
 * Never suppressed: flushes while an MMU-notifier invalidation of the VM is
 * in progress (host pages leaving the guest: a stale translation would let
 * the guest write memory the host has freed), flushes outside the scoped
 * VMM's threads (kswapd, compaction, other processes' VMs).
 *
 * No legacy /proc interface (the original had no such fault).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/module.h>
#include "kvmfi_core.c"

KVMFI_FUNCTION_PARAM(symbol, "kvm_flush_remote_tlbs", "KVM's remote TLB flush, taking (struct kvm *) and returning nothing");

KVMFI_FUNCTION_PARAM(range_symbol, "kvm_arch_flush_remote_tlbs_range",
		     "KVM's ranged remote TLB flush, taking (struct kvm *, gfn_t, u64 pages) and "
		     "returning 0 when done, or nothing (empty, or the same as symbol, = none)");

/*
 * struct kvm counts the MMU-notifier invalidations in progress where KVM
 * has MMU notifiers: an arch's KVM_ARCH_WANT_MMU_NOTIFIER until 6.7,
 * CONFIG_KVM_GENERIC_MMU_NOTIFIER from 6.8, always by 7.3 (the option is
 * gone there; see kvmfi_compat.h for the field's name).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 3, 0)
#define KVM_TLB_HAVE_INVALIDATIONS 1
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define KVM_TLB_HAVE_INVALIDATIONS IS_ENABLED(CONFIG_KVM_GENERIC_MMU_NOTIFIER)
#elif defined(CONFIG_MMU_NOTIFIER) && defined(KVM_ARCH_WANT_MMU_NOTIFIER)
#define KVM_TLB_HAVE_INVALIDATIONS 1
#else
#define KVM_TLB_HAVE_INVALIDATIONS 0
#endif

/* True while an MMU notifier is taking host pages away from @kvm. */
static bool kvm_tlb_invalidating(const struct kvm *kvm)
{
#if KVM_TLB_HAVE_INVALIDATIONS
	return READ_ONCE(kvmfi_kvm_invalidations(kvm)) != 0;
#else
	return false;
#endif
}
NOKPROBE_SYMBOL(kvm_tlb_invalidating);

/*
 * For both hooks (the hook's data: 0 the whole VM, 1 a range). Skipped, a
 * flush returns 0 (the arch range function: "flushed") or nothing.
 */
static int kvm_tlb_flush_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct kvm *kvm = (struct kvm *)regs_get_kernel_argument(regs, 0);
	u32 hook = kvmfi_hook_data(p);
	struct kvmfi_fault *f;
	int skipped = 0;

	if (!kvm || (current->flags & PF_KTHREAD) || kvm->mm != current->mm)
		return 0;
	rcu_read_lock();
	f = kvmfi_enter();
	if (f && !kvm_tlb_invalidating(kvm) && kvmfi_decide(f, 1)) {
		/* Event: value = pages of a ranged flush (0: the whole VM), detail = first gfn. */
		kvmfi_injected_detail(f, hook, hook ? "range-skipped" : "flush-skipped",
				      hook ? regs_get_kernel_argument(regs, 2) : 0,
				      hook ? regs_get_kernel_argument(regs, 1) : 0, 0);
		skipped = kvmfi_skip(regs, 0);
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(kvm_tlb_flush_pre);

static struct kvmfi_hook kvm_tlb_hooks[] = {
	{ .symbol = symbol, .pre = kvm_tlb_flush_pre },
	/* absent before 6.6: the tool then names kvm_flush_remote_tlbs, skipped as a duplicate */
	{ .symbol = range_symbol, .pre = kvm_tlb_flush_pre, .data = 1, .optional = true },
};

KVMFI_MODULE("kvmfi: suppress KVM's remote TLB flushes for the VMs of a chosen VMM",
	.tag = "[KVM-TLB-Fi]",
	KVMFI_HOOKS(kvm_tlb_hooks),
	KVMFI_REQUEST_NO_ARGS(KVMFI_TLB_FLUSH_MODE_KVM_REMOTE));
