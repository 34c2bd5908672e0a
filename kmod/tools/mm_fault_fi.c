// SPDX-License-Identifier: GPL-2.0
/*
 * pt-load-fi: page faults of a scoped target fail.
 *
 * Where: handle_mm_fault(vma, address, flags, regs), entry. For a fault in
 * scope (the faulting task, optionally only addresses in [addr_start, addr_end))
 * the function is skipped and returns VM_FAULT_SIGSEGV, VM_FAULT_SIGBUS or
 * VM_FAULT_OOM, as if the kernel had failed to map the page. Skipping at
 * entry is lock-neutral: handle_mm_fault releases the mmap or per-VMA lock
 * only when it returns VM_FAULT_RETRY or VM_FAULT_COMPLETED, never for an
 * error, so the caller unlocks exactly as for a real failure.
 *
 * What the target sees:
 *   mode 0 (sigsegv): a user-mode access gets SIGSEGV (SEGV_MAPERR);
 *   mode 1 (sigbus):  a user-mode access gets SIGBUS (BUS_ADRERR);
 *   mode 2 (oom):     since Linux 5.16 the #PF handler no longer invokes the
 *                     OOM killer for a leaked VM_FAULT_OOM: it logs "Huh
 *                     VM_FAULT_OOM leaked out to the #PF handler. Retrying
 *                     PF" (rate-limited) and returns to user space, which
 *                     faults again: the target spins on the faulting
 *                     instruction while the fault lasts (each retry is one
 *                     injection, so --times N lets it go on after N).
 * A kernel-mode access to user memory (copy_to_user of read(2), say) gets
 * the exception-table fixup: the system call fails with EFAULT (but a
 * signal frame that cannot be written makes the kernel kill the task with
 * SIGSEGV). Faults
 * taken on behalf of the target by get_user_pages() fail with EFAULT
 * (sigsegv, sigbus) or ENOMEM (oom).
 *
 * Never hit: kernel threads, and the global init (a fatal signal there
 * would panic the kernel).
 *
 * Legacy /proc/pt-load-fi/{signal,times,type}: type 0 = oom, other = sigbus
 * (the original's VM_FAULT_OOM / VM_FAULT_SIGBUS), every process, with a
 * 10-minute lease.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include "kvmfi_core.c"

#define pt_load_args(arm) kvmfi_args(arm, struct kvmfi_mm_fault_args)

KVMFI_FUNCTION_PARAM(symbol, "handle_mm_fault", "function to probe, taking (vma, address, flags, regs) and returning vm_fault_t "
	"(default handle_mm_fault)");

static const struct {
	const char *what;
	vm_fault_t ret;
} pt_load_results[] = {
	[KVMFI_MM_FAULT_SIGSEGV] = { "sigsegv", VM_FAULT_SIGSEGV },
	[KVMFI_MM_FAULT_SIGBUS] = { "sigbus", VM_FAULT_SIGBUS },
	[KVMFI_MM_FAULT_OOM] = { "oom", VM_FAULT_OOM },
};

static int pt_load_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned long address = regs_get_kernel_argument(regs, 1);
	const struct kvmfi_mm_fault_args *a;
	struct kvmfi_fault *f;
	int skipped = 0;

	if ((current->flags & PF_KTHREAD) || is_global_init(current))
		return 0;
	rcu_read_lock();
	f = kvmfi_enter();
	a = f ? pt_load_args(&f->arm) : NULL;
	if (a && (!a->addr_end || (address >= a->addr_start && address < a->addr_end)) &&
	    kvmfi_decide(f, 1)) {
		unsigned int flags = regs_get_kernel_argument(regs, 2);

		/* Event: value = the vm_fault_t returned, detail = address, fault flags. */
		kvmfi_injected_detail(f, 0, pt_load_results[f->arm.mode].what,
				      (__force long long)pt_load_results[f->arm.mode].ret, address, flags);
		if (f->arm.verbose >= 1)
			pr_info_ratelimited("%s fault at %#lx (flags %#x, %s mode) fails with %s\n",
					    kvmfi.ops->tag, address, flags,
					    (flags & FAULT_FLAG_USER) ? "user" : "kernel",
					    pt_load_results[f->arm.mode].what);
		skipped = kvmfi_skip(regs, (__force long)pt_load_results[f->arm.mode].ret);
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(pt_load_pre);

static int pt_load_validate(struct kvmfi_fault *f)
{
	const struct kvmfi_mm_fault_args *a = pt_load_args(&f->arm);

	/* The address range, end exclusive; 0..0 = every address. */
	if (a->addr_end && a->addr_start >= a->addr_end)
		return -EINVAL;
	if (!a->addr_end && a->addr_start)
		return -EINVAL;
	if (!kvmfi_all_zero(a->reserved, sizeof(a->reserved)))
		return -EINVAL;
	return 0;
}

static int pt_load_legacy_request(struct kvmfi_arm *req)
{
	req->mode = kvmfi_knob("type") == 0 ? KVMFI_MM_FAULT_OOM : KVMFI_MM_FAULT_SIGBUS;
	return 0;
}

KVMFI_MODULE("kvmfi: make the page faults of a chosen process fail (SIGSEGV, SIGBUS or OOM)",
	.tag = "[ARM-Mem-Fi]",
	KVMFI_PRE_HOOK(symbol, pt_load_pre),
	KVMFI_REQUEST(ARRAY_SIZE(pt_load_results) - 1, pt_load_validate),
	KVMFI_LEGACY_LEASED("pt-load-fi", pt_load_legacy_request,
		KVMFI_TIMES_KNOB,
		{ .name = "type", .min = 0, .max = INT_MAX, .value = 1 }));
