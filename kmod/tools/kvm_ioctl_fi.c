// SPDX-License-Identifier: GPL-2.0
/*
 * resource (kvm-ioctl-fi; the original access-control-fi): chosen KVM ioctls
 * of a scoped VMM fail. VM ioctls are caught at kvm_vm_ioctl, vCPU ioctls
 * (KVM_RUN, ...) at kvm_vcpu_ioctl; a caught call is skipped at the entry of
 * the function, so KVM does nothing and the VMM gets the errno.
 *
 * Request (uapi/kvmfi/kvm_ioctl_fi.h): the call returns -error (default
 * EPERM), or, the original's corruption, a random bit 0-31 of the ioctl
 * command or of its argument is flipped, set or cleared, and the call goes
 * on with it; for the chosen commands of VM and/or vCPU files.
 * Legacy /proc/resource/{signal,time,position,type,style}: as the original
 * (time -1 = unlimited; style unused); type 0 fails the ioctl with EPERM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include "kvmfi_core.c"
#include "kvm_helpers.c"

#define res_args(arm) kvmfi_args(arm, struct kvmfi_kvm_ioctl_args)

KVMFI_FUNCTION_PARAM(symbol, "kvm_vm_ioctl", "VM ioctl handler to probe, taking (struct file *, cmd, arg) (default kvm_vm_ioctl)");

KVMFI_FUNCTION_PARAM(vcpu_symbol, "kvm_vcpu_ioctl", "vCPU ioctl handler to probe (default kvm_vcpu_ioctl; empty = none)");

/* For both hooks: the hook's data is the kind of file its handler serves. */
static int res_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned int fd = kvmfi_hook_data(p);
	unsigned int cmd = regs_get_kernel_argument(regs, 1);
	const struct kvmfi_kvm_ioctl_args *a;
	struct kvmfi_fault *f;
	int skipped = 0;

	rcu_read_lock();
	f = kvmfi_enter();
	a = f ? res_args(&f->arm) : NULL;
	if (a && ((u32)a->fds ? (u32)a->fds : KVMFI_KVM_IOCTL_FD_VM) & fd &&
	    kvm_fi_cmd_in(a->cmd, ARRAY_SIZE(a->cmd), cmd) && kvmfi_decide(f, 1)) {
		if (f->arm.mode == KVMFI_KVM_IOCTL_MODE_CORRUPT) {
			/* the position is the argument's index in (file, cmd, arg) */
			unsigned int pos = a->corrupt_pos;
			unsigned long v = regs_get_kernel_argument(regs, pos);
			unsigned long nv = kvm_fi_bitop(v, a->corrupt_type);

			if (pos == KVMFI_KVM_IOCTL_POS_CMD)
				nv = (unsigned int)nv;
			kvm_fi_set_arg(regs, pos, nv);
			kvmfi_injected(f, pos == KVMFI_KVM_IOCTL_POS_CMD ? "ioctl cmd now" : "ioctl arg now", nv);
		} else {
			skipped = kvmfi_skip_return(f, regs, "ioctl error", kvmfi_error(f));
		}
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(res_pre);

static int res_validate(struct kvmfi_fault *f)
{
	const struct kvmfi_kvm_ioctl_args *a = res_args(&f->arm);
	unsigned int pos = a->corrupt_pos, type = a->corrupt_type;

	if (a->fds & ~(u64)(KVMFI_KVM_IOCTL_FD_VM | KVMFI_KVM_IOCTL_FD_VCPU))
		return -EINVAL;
	if (!kvmfi_all_zero(a->reserved, sizeof(a->reserved)))
		return -EINVAL;
	if (f->arm.mode == KVMFI_KVM_IOCTL_MODE_CORRUPT) {
		if ((pos != KVMFI_KVM_IOCTL_POS_CMD && pos != KVMFI_KVM_IOCTL_POS_ARG) ||
		    type < KVMFI_BITOP_FLIP || type > KVMFI_BITOP_CLEAR)
			return -EINVAL;
		return 0;
	}
	if (pos || type)
		return -EINVAL;
	return 0;
}

static int res_legacy_request(struct kvmfi_arm *req)
{
	struct kvmfi_kvm_ioctl_args *a = res_args(req);
	long long type = kvmfi_knob("type");

	a->fds = KVMFI_KVM_IOCTL_FD_VM;
	if (type == 0) {
		req->mode = KVMFI_KVM_IOCTL_MODE_ERROR;
		req->error = EPERM;
	} else {
		req->mode = KVMFI_KVM_IOCTL_MODE_CORRUPT;
		a->corrupt_pos = kvmfi_knob("position");
		a->corrupt_type = type;
	}
	return 0;
}

static struct kvmfi_hook res_hooks[] = {
	{ .symbol = symbol, .pre = res_pre, .data = KVMFI_KVM_IOCTL_FD_VM },
	{ .symbol = vcpu_symbol, .pre = res_pre, .data = KVMFI_KVM_IOCTL_FD_VCPU, .optional = true },
};

KVMFI_MODULE("kvmfi: chosen KVM VM and vCPU ioctls fail for a chosen VMM",
	.tag = "[ARM-Res-Fi]",
	KVMFI_HOOKS(res_hooks),
	.default_error = EPERM,
	KVMFI_REQUEST(KVMFI_KVM_IOCTL_MODE_CORRUPT, res_validate),
	KVMFI_LEGACY("resource", res_legacy_request,
		KVMFI_TIMES_KNOB_NAMED("time"),
		{ .name = "position", .min = 1, .max = 2, .value = 1 },
		{ .name = "type", .min = 0, .max = 3, .value = 1 },
		{ .name = "style", .min = LLONG_MIN, .max = LLONG_MAX, .value = 0 }),
	/* the original armed on any non-zero value */
	.legacy_signal_nonzero = true);
