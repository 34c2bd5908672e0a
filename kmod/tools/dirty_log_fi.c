// SPDX-License-Identifier: GPL-2.0
/*
 * vm-migration-fi (dirty-log-fi; the original vm-migration-fi): the dirty
 * bitmaps that KVM_GET_DIRTY_LOG hands to a scoped VMM lose a chosen share of
 * their set bits (or gain spurious ones), so a pre-copy migration misses
 * pages. KVM's own state is untouched: only the VMM's copy of the bitmap
 * changes, after KVM wrote it and before the ioctl returns.
 *
 * kvm_vm_ioctl_get_dirty_log is inlined on Debian kernels, so kvm_vm_ioctl
 * itself carries a kretprobe: at entry (KVM_GET_DIRTY_LOG only) it reads the
 * request (slot, user bitmap) and the slot's bitmap size from the memslot;
 * at return, if the ioctl succeeded, it edits the user's bitmap in place.
 *
 * Request (uapi/kvmfi/dirty_log_fi.h): a share of the bits (ppm), of one
 * slot or every slot (KVM_GET_DIRTY_LOG's slot field, with address space in
 * bits 16-31), exactly every N-th bit or a seeded random choice; dropped,
 * or added (clear bits become set).
 * Manual dirty-log protection (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, which QEMU
 * enables where the kernel has it): KVM_GET_DIRTY_LOG then neither clears
 * KVM's bitmap nor write-protects; the VMM clears (and so re-protects) only
 * the bits it saw, with KVM_CLEAR_DIRTY_LOG. A bit hidden from the VMM
 * alone would be reported again at the next pass: a delay, not a loss. So
 * for such a VM a dropped bit is also cleared in KVM's bitmap: the VMM never
 * clears it, the page is never write-protected again, and no later write to
 * it is logged while dirty logging lasts; the migration silently loses the
 * page (counter bits_cleared_in_kvm). Without manual protection KVM has
 * already cleared and re-protected the page; a later write is logged again,
 * so a dropped page is lost only if the guest does not write it again
 * before the migration ends.
 * Dirty ring (KVM_CAP_DIRTY_LOG_RING, QEMU -accel kvm,dirty-ring-size=N):
 * the VMM reads dirty pages from per-vCPU rings, not from
 * KVM_GET_DIRTY_LOG; not covered: the scoped VMM's KVM_RESET_DIRTY_RINGS
 * calls are counted in ring_resets_seen, so a run can tell that the fault
 * could not act.
 * Bounds (times, interval, probability) count the calls whose bitmap has a
 * bit to change. Counters in /sys/module/vm_migration_fi/parameters/: bits_seen (bits of
 * the kind considered), bits_dropped, bits_added; reset at each arm.
 * Legacy /proc/vm-migration-fi/signal: 1 = the next KVM_GET_DIRTY_LOG loses
 * every second dirty bit; 0 disarms (the original could not be disarmed and
 * failed an arbitrary VM ioctl instead).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include "kvmfi_core.c"
#include "kvm_helpers.c"

#define mig_args(arm) kvmfi_args(arm, struct kvmfi_dirty_log_args)

#define MIG_CHUNK		64	/* bytes of bitmap per user copy */

KVMFI_FUNCTION_PARAM(symbol, "kvm_vm_ioctl", "VM ioctl handler to probe, taking (struct file *, cmd, arg) (default kvm_vm_ioctl)");

static atomic64_t mig_seen, mig_dropped, mig_added, mig_cleared, mig_ring_resets;

static int mig_stat_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read((atomic64_t *)kp->arg));
}

static const struct kernel_param_ops mig_stat_ops = {
	.get = mig_stat_get,
};
module_param_cb(bits_seen, &mig_stat_ops, &mig_seen, 0444);
MODULE_PARM_DESC(bits_seen, "bits considered since the last arm (set bits, or clear bits when adding)");
module_param_cb(bits_dropped, &mig_stat_ops, &mig_dropped, 0444);
MODULE_PARM_DESC(bits_dropped, "dirty bits removed since the last arm");
module_param_cb(bits_added, &mig_stat_ops, &mig_added, 0444);
MODULE_PARM_DESC(bits_added, "spurious dirty bits added since the last arm");
module_param_cb(bits_cleared_in_kvm, &mig_stat_ops, &mig_cleared, 0444);
MODULE_PARM_DESC(bits_cleared_in_kvm, "dropped bits also cleared in KVM's bitmap (manual dirty-log protection) since the last arm");
module_param_cb(ring_resets_seen, &mig_stat_ops, &mig_ring_resets, 0444);
MODULE_PARM_DESC(ring_resets_seen, "KVM_RESET_DIRTY_RINGS calls of the scoped VMM since the last arm (dirty ring: not covered)");

/* The choice of bits: shared by every CPU, so exactly every N-th overall. */
struct mig_state {
	spinlock_t lock;
	u64 acc;		/* every-N-th accumulator, in ppm */
	u64 rng;		/* xorshift64* state */
};

/* Per call: what the entry handler found. */
struct mig_call {
	u64 bitmap;		/* user address */
	u64 bytes;		/* bitmap length in bytes */
	u64 npages;		/* valid bits */
	struct kvm *kvm;	/* the VM: KVM's own bitmap with manual protection */
	u32 slot;
	bool manual;		/* manual dirty-log protection enabled */
};

static bool mig_pick(const struct kvmfi_fault *f, struct mig_state *st)
{
	if (f->arm.mode & KVMFI_DIRTY_LOG_RANDOM) {
		u64 x = st->rng;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		st->rng = x;
		return (x * 0x2545F4914F6CDD1DULL) % KVMFI_DIRTY_LOG_PPM < mig_args(&f->arm)->ppm;
	}
	st->acc += mig_args(&f->arm)->ppm;
	if (st->acc >= KVMFI_DIRTY_LOG_PPM) {
		st->acc -= KVMFI_DIRTY_LOG_PPM;
		return true;
	}
	return false;
}
NOKPROBE_SYMBOL(mig_pick);

/* Bitmap size of memslot @slot (address space in bits 16-31), or 0. */
static u64 mig_slot_pages(struct kvm *kvm, u32 slot)
{
	struct kvm_memory_slot *ms;
	u64 npages = 0;
	int idx;

	if (slot >> 16)		/* only address space 0 (no SMM) */
		return 0;
	idx = srcu_read_lock(&kvm->srcu);
	ms = id_to_memslot(kvm_memslots(kvm), (u16)slot);
	if (ms && ms->dirty_bitmap)
		npages = ms->npages;
	srcu_read_unlock(&kvm->srcu, idx);
	return npages;
}
NOKPROBE_SYMBOL(mig_slot_pages);

static int mig_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct mig_call *c = (struct mig_call *)ri->data;
	struct file *filp = (struct file *)regs_get_kernel_argument(regs, 0);
	struct kvm_dirty_log log;
	struct kvmfi_fault *f;
	int ignore = 1;

#ifdef KVM_RESET_DIRTY_RINGS
	if ((unsigned int)regs_get_kernel_argument(regs, 1) == KVM_RESET_DIRTY_RINGS) {
		rcu_read_lock();
		if (kvmfi_enter())
			atomic64_inc(&mig_ring_resets);
		rcu_read_unlock();
		return 1;
	}
#endif
	if ((unsigned int)regs_get_kernel_argument(regs, 1) != KVM_GET_DIRTY_LOG)
		return 1;
	rcu_read_lock();
	f = kvmfi_enter();
	if (f && filp && filp->private_data &&
	    !copy_from_user_nofault(&log, (void __user *)regs_get_kernel_argument(regs, 2), sizeof(log)) &&
	    (!mig_args(&f->arm)->slot || mig_args(&f->arm)->slot - 1 == log.slot)) {
		c->npages = mig_slot_pages(filp->private_data, log.slot);
		c->bytes = ALIGN(c->npages, BITS_PER_LONG) / 8;
		c->bitmap = (u64)(uintptr_t)log.dirty_bitmap;
		c->kvm = filp->private_data;
		c->slot = log.slot;
		c->manual = READ_ONCE(c->kvm->manual_dirty_log_protect) != 0;
		ignore = c->npages == 0;
	}
	rcu_read_unlock();
	return ignore;
}
NOKPROBE_SYMBOL(mig_entry);

/*
 * Edits the user's bitmap; returns the bits changed. @kvm_bitmap: KVM's own
 * bitmap of the slot (manual protection, dropping), where dropped bits are
 * cleared too; NULL otherwise.
 */
static u64 mig_edit(const struct kvmfi_fault *f, struct mig_state *st, const struct mig_call *c,
		    unsigned long *kvm_bitmap)
{
	bool add = f->arm.mode & KVMFI_DIRTY_LOG_ADD;
	u64 changed = 0, seen = 0, cleared = 0, off;
	u8 buf[MIG_CHUNK];

	for (off = 0; off < c->bytes; off += MIG_CHUNK) {
		u64 n = min_t(u64, MIG_CHUNK, c->bytes - off);
		void __user *u = (void __user *)(uintptr_t)(c->bitmap + off);
		bool dirty = false;
		u64 i;

		if (copy_from_user_nofault(buf, u, n))
			break;
		for (i = 0; i < n * 8; i++) {
			u64 bit = off * 8 + i;
			bool set = buf[i / 8] & (1U << (i % 8));

			if (bit >= c->npages)
				break;
			if (set == add)
				continue;
			seen++;
			if (!mig_pick(f, st))
				continue;
			buf[i / 8] ^= 1U << (i % 8);
			changed++;
			dirty = true;
			if (kvm_bitmap && !add && test_and_clear_bit_le(bit, kvm_bitmap))
				cleared++;
		}
		if (dirty && copy_to_user_nofault(u, buf, n))
			break;
	}
	atomic64_add(seen, &mig_seen);
	atomic64_add(changed, add ? &mig_added : &mig_dropped);
	atomic64_add(cleared, &mig_cleared);
	return changed;
}
NOKPROBE_SYMBOL(mig_edit);

/*
 * True when the user's bitmap has a bit of the kind the fault changes (a
 * set bit to drop; adding can always find a clear bit), so that bounds such
 * as --times count only calls the fault can act on.
 */
static bool mig_has_work(const struct kvmfi_fault *f, const struct mig_call *c)
{
	u64 buf[MIG_CHUNK / sizeof(u64)];
	u64 off;

	if (f->arm.mode & KVMFI_DIRTY_LOG_ADD)
		return true;
	for (off = 0; off < c->bytes; off += MIG_CHUNK) {
		u64 n = min_t(u64, MIG_CHUNK, c->bytes - off);
		unsigned int i;

		if (copy_from_user_nofault(buf, (void __user *)(uintptr_t)(c->bitmap + off), n))
			return false;
		for (i = 0; i < n / sizeof(u64); i++)
			if (buf[i])
				return true;
	}
	return false;
}
NOKPROBE_SYMBOL(mig_has_work);

static int mig_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct mig_call *c = (struct mig_call *)ri->data;
	struct kvmfi_fault *f;

	rcu_read_lock();
	f = kvmfi_enter_return(regs);
	if (f && mig_has_work(f, c) && kvmfi_decide(f, 1)) {
		struct mig_state *st = f->priv;
		bool add = f->arm.mode & KVMFI_DIRTY_LOG_ADD;
		struct kvm_memory_slot *ms = NULL;
		unsigned long flags;
		int idx = 0;
		u64 n;

		if (c->manual && !add) {
			idx = srcu_read_lock(&c->kvm->srcu);
			ms = id_to_memslot(kvm_memslots(c->kvm), (u16)c->slot);
			if (ms && (!ms->dirty_bitmap || ms->npages != c->npages))
				ms = NULL;
		}
		spin_lock_irqsave(&st->lock, flags);
		n = mig_edit(f, st, c, ms ? ms->dirty_bitmap : NULL);
		spin_unlock_irqrestore(&st->lock, flags);
		if (c->manual && !add)
			srcu_read_unlock(&c->kvm->srcu, idx);
		kvmfi_injected(f, add ? "dirty bits added" : "dirty bits dropped", n);
	}
	rcu_read_unlock();
	return 0;
}
NOKPROBE_SYMBOL(mig_ret);

static int mig_validate(struct kvmfi_fault *f)
{
	const struct kvmfi_dirty_log_args *a = mig_args(&f->arm);
	struct mig_state *st;

	if (!a->ppm || a->ppm > KVMFI_DIRTY_LOG_PPM || a->slot > U32_MAX + 1ULL)
		return -EINVAL;
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	spin_lock_init(&st->lock);
	st->rng = a->seed ? a->seed : 0x9E3779B97F4A7C15ULL;
	f->priv = st;
	atomic64_set(&mig_seen, 0);
	atomic64_set(&mig_dropped, 0);
	atomic64_set(&mig_added, 0);
	atomic64_set(&mig_cleared, 0);
	atomic64_set(&mig_ring_resets, 0);
	return 0;
}

static void mig_release(struct kvmfi_fault *f)
{
	kfree(f->priv);
	f->priv = NULL;
}

static int mig_legacy_request(struct kvmfi_arm *req)
{
	req->times = 1;
	req->mode = 0;		/* every N-th bit, dropped */
	mig_args(req)->ppm = KVMFI_DIRTY_LOG_PPM / 2;
	return 0;
}

static struct kvmfi_hook mig_hooks[] = {
	{
		.symbol = symbol,
		.ret_probe = true,
		.entry = mig_entry,
		.handler = mig_ret,
		.data_size = sizeof(struct mig_call),
		.maxactive = 64,
	},
};

KVMFI_MODULE("kvmfi: KVM_GET_DIRTY_LOG bitmaps lose (or gain) a chosen share of dirty bits",
	.tag = "[ARM-Mig-Fi]",
	KVMFI_HOOKS(mig_hooks),
	.default_error = EIO,
	KVMFI_REQUEST(KVMFI_DIRTY_LOG_RANDOM | KVMFI_DIRTY_LOG_ADD, mig_validate),	/* any mix of the flags */
	.release = mig_release,
	.legacy_dir = "vm-migration-fi",
	.legacy_request = mig_legacy_request);
