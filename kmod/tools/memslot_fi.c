// SPDX-License-Identifier: GPL-2.0
/*
 * memory (memslot-fi; the original memory-manage-fi): guest memory setup
 * fails for a scoped VMM (class 1), or guest-frame to host-address
 * translation fails for a chosen guest-frame range (class 2).
 *
 * Class 1 hooks the memory-region function that really runs for the ioctl
 * (kvm_set_memory_region is inlined on Debian 6.1/6.12: __kvm_set_memory_region
 * fires there) and skips it at entry, so no memslot changes and the VMM's
 * KVM_SET_USER_MEMORY_REGION gets the errno. KVM's internal slots (x86 APIC
 * access page, TSS, identity map) are never touched.
 * Class 2 hooks an out-of-line guest-frame translation that the guest's
 * page faults really reach (gfn_to_hva_many is inlined everywhere, and the
 * out-of-line __gfn_to_hva_many is not on the x86 fault path):
 * __gfn_to_pfn_memslot on x86_64, gfn_to_hva_memslot_prot on arm64, all
 * taking (memslot, gfn, ...), and skips it with KVM_PFN_ERR_FAULT (a function
 * whose name contains "pfn": the guest's fault fails, KVM_RUN returns
 * -EFAULT to the VMM) or KVM_HVA_ERR_BAD (arm64: KVM treats the frame as
 * unbacked, the access becomes an MMIO exit to the VMM; KVM's own accesses
 * get -EFAULT). Never KVM_PFN_NOSLOT: x86 6.1 would map it as a real pfn.
 *
 * Request (uapi/kvmfi/memslot_fi.h): the class, region (1) or guest frames
 * (2); MODE_FAIL: class 1 fails with -error (default ENOMEM), class 2
 * fails; MODE_CORRUPT, the original's corruption: a bit operation on a
 * random bit 0-31 of: class 1, the region's guest_phys_addr (position 2,
 * the region argument); class 2, the gfn (position 2). Pointers are never
 * corrupted. Class 1 may name one memslot, class 2 a range of frames.
 * Legacy /proc/memory-manage-fi/{signal,class,time,position,type,style}:
 * class, time (-1 = unlimited), position and type as above (type 0 = mode
 * 0, a plain failure); position 1 (the kvm or memslot pointer) is refused;
 * style is unused.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/module.h>
#include "kvmfi_core.c"
#include "kvm_helpers.c"

#define mem_args(arm) kvmfi_args(arm, struct kvmfi_memslot_args)

KVMFI_FUNCTION_PARAM(symbol, "__kvm_set_memory_region", "memory-region function, taking (struct kvm *, const struct kvm_userspace_memory_region *) (class 1)");

/*
 * Which memory-region function the ioctl really calls differs per kernel
 * (x86_64 6.1/6.12 and arm64 6.1: __kvm_set_memory_region, with
 * kvm_set_memory_region inlined into the ioctl; arm64 6.12: the
 * ioctl calls kvm_set_memory_region, which calls a .part clone of
 * __kvm_set_memory_region): both are probed, and a call seen by the outer
 * one is not judged again by the inner one.
 */
KVMFI_FUNCTION_PARAM(region2_symbol, "kvm_set_memory_region", "outer memory-region function, same arguments (class 1; empty = none)");

/* The call the outer region hook judged last: the inner one skips it. */
static struct {
	struct task_struct *task;
	const void *mem;
} mem_outer;

KVMFI_FUNCTION_PARAM(gfn_symbol, "__gfn_to_pfn_memslot", "guest-frame translation, taking (const struct kvm_memory_slot *, gfn_t, ...) and returning a pfn (name contains \"pfn\") or an hva (class 2)");

/*
 * What the class-2 function returns: a pfn (KVM_PFN_ERR_FAULT) or an hva.
 * Read from the name probed, which a fallback may have replaced at load.
 */
static bool gfn_returns_pfn(void)
{
	return strstr(gfn_symbol, "pfn") != NULL;
}
NOKPROBE_SYMBOL(gfn_returns_pfn);

/* The armed fault if it is of @class and the current task is in scope. */
static struct kvmfi_fault *mem_enter(unsigned int class)
{
	struct kvmfi_fault *f = rcu_dereference(kvmfi.fault);

	if (!f || mem_args(&f->arm)->class != class)
		return NULL;
	return kvmfi_enter();
}
NOKPROBE_SYMBOL(mem_enter);

/* For both region hooks: the hook's data says whether it is the outer one. */
static int mem_region_pre(struct kprobe *p, struct pt_regs *regs)
{
	/* slot and guest_phys_addr lead struct kvm_userspace_memory_region(2) */
	struct kvm_userspace_memory_region *mem = (void *)regs_get_kernel_argument(regs, 1);
	bool outer = kvmfi_hook_data(p);
	const struct kvmfi_memslot_args *a;
	struct kvmfi_fault *f;
	int skipped = 0;

	if (outer) {
		WRITE_ONCE(mem_outer.task, current);
		WRITE_ONCE(mem_outer.mem, mem);
	} else if (READ_ONCE(mem_outer.task) == current && READ_ONCE(mem_outer.mem) == mem) {
		WRITE_ONCE(mem_outer.task, NULL);	/* judged by the outer hook */
		return 0;
	}
	rcu_read_lock();
	f = mem_enter(KVMFI_MEMSLOT_CLASS_REGION);
	a = f ? mem_args(&f->arm) : NULL;
	if (a && mem && (mem->slot & 0xffff) < KVM_USER_MEM_SLOTS &&
	    (!a->slot || a->slot - 1 == mem->slot) && kvmfi_decide(f, 1)) {
		if (f->arm.mode == KVMFI_MEMSLOT_MODE_CORRUPT) {
			u64 gpa = mem->guest_phys_addr;

			/* The region is the kernel's copy of the VMM's request. */
			mem->guest_phys_addr = kvm_fi_bitop(gpa, a->corrupt_type);
			kvmfi_injected(f, "guest_phys_addr now", mem->guest_phys_addr);
		} else {
			skipped = kvmfi_skip_return(f, regs, "memory region error", kvmfi_error(f));
		}
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(mem_region_pre);

static int mem_gfn_pre(struct kprobe *p, struct pt_regs *regs)
{
	u64 gfn = regs_get_kernel_argument(regs, 1);
	const struct kvmfi_memslot_args *a;
	struct kvmfi_fault *f;
	int skipped = 0;

	rcu_read_lock();
	f = mem_enter(KVMFI_MEMSLOT_CLASS_GFN);
	a = f ? mem_args(&f->arm) : NULL;
	if (a && (!a->gfn_end || (gfn >= a->gfn_first && gfn < a->gfn_end)) &&
	    kvmfi_decide(f, 1)) {
		if (f->arm.mode == KVMFI_MEMSLOT_MODE_CORRUPT) {
			u64 ngfn = kvm_fi_bitop(gfn, a->corrupt_type);

			kvm_fi_set_arg(regs, 1, ngfn);
			kvmfi_injected(f, "gfn now", ngfn);
		} else {
			kvmfi_injected(f, "no memory for gfn", gfn);
			skipped = kvmfi_skip(regs, gfn_returns_pfn() ? (long)KVM_PFN_ERR_FAULT : (long)KVM_HVA_ERR_BAD);
		}
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(mem_gfn_pre);

static int mem_validate(struct kvmfi_fault *f)
{
	const struct kvmfi_memslot_args *a = mem_args(&f->arm);

	if (a->class != KVMFI_MEMSLOT_CLASS_REGION && a->class != KVMFI_MEMSLOT_CLASS_GFN)
		return -EINVAL;
	if (f->arm.mode == KVMFI_MEMSLOT_MODE_CORRUPT) {
		unsigned int pos = a->corrupt_pos, type = a->corrupt_type;

		if (pos != KVMFI_MEMSLOT_POS_ADDR || type < KVMFI_BITOP_FLIP || type > KVMFI_BITOP_CLEAR)
			return -EINVAL;
	}
	if (a->gfn_end && a->gfn_first >= a->gfn_end)
		return -EINVAL;
	return 0;
}

static int mem_legacy_request(struct kvmfi_arm *req)
{
	struct kvmfi_memslot_args *a = mem_args(req);
	long long type = kvmfi_knob("type"), pos = kvmfi_knob("position");

	a->class = kvmfi_knob("class");
	if (type == 0) {
		req->mode = KVMFI_MEMSLOT_MODE_FAIL;
		req->error = ENOMEM;
		return 0;
	}
	if (pos != KVMFI_MEMSLOT_POS_ADDR) {
		pr_warn("legacy: position %lld is a pointer or an unused argument; only 2 can be corrupted\n", pos);
		return -EINVAL;
	}
	req->mode = KVMFI_MEMSLOT_MODE_CORRUPT;
	a->corrupt_pos = pos;
	a->corrupt_type = type;
	return 0;
}

/*
 * 7.x (6.13 on): __kvm_set_memory_region is gone (the ioctl's
 * kvm_set_memory_region does the work; the outer hook then names the same
 * function and is skipped), and so is __gfn_to_pfn_memslot: guest page
 * faults reach __kvm_faultin_pfn(slot, gfn, ...) (x86 through
 * kvm_mmu_faultin_pfn, whose EPT/NPT faults never call
 * gfn_to_hva_memslot_prot; arm64's user_mem_abort still calls
 * gfn_to_hva_memslot_prot first).
 */
static const char *const mem_region_fallbacks[] = { "kvm_set_memory_region", NULL };
#ifdef CONFIG_ARM64
static const char *const mem_gfn_fallbacks[] = { "gfn_to_hva_memslot_prot", "__kvm_faultin_pfn", NULL };
#else
static const char *const mem_gfn_fallbacks[] = { "__kvm_faultin_pfn", "gfn_to_hva_memslot_prot", NULL };
#endif

static struct kvmfi_hook mem_hooks[] = {
	{ .symbol = symbol, .fallbacks = mem_region_fallbacks, .pre = mem_region_pre },
	{ .symbol = gfn_symbol, .fallbacks = mem_gfn_fallbacks, .pre = mem_gfn_pre },
	{ .symbol = region2_symbol, .pre = mem_region_pre, .data = true, .optional = true },
};

KVMFI_MODULE("kvmfi: KVM memory regions or guest-frame translations fail for a chosen VMM",
	.tag = "[ARM-Mem-Fi]",
	KVMFI_HOOKS(mem_hooks),
	.default_error = ENOMEM,
	KVMFI_REQUEST(KVMFI_MEMSLOT_MODE_CORRUPT, mem_validate),
	KVMFI_LEGACY("memory-manage-fi", mem_legacy_request,
		{ .name = "class", .min = 1, .max = 2, .value = 1 },
		KVMFI_TIMES_KNOB_NAMED("time"),
		{ .name = "position", .min = 1, .max = 8, .value = 2 },
		{ .name = "type", .min = 0, .max = 3, .value = 1 },
		{ .name = "style", .min = LLONG_MIN, .max = LLONG_MAX, .value = 0 }),
	/* the original armed on any non-zero value */
	.legacy_signal_nonzero = true);
