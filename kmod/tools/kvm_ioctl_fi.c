// SPDX-License-Identifier: GPL-2.0
/*
 * resource (kvm-ioctl-fi; the original access-control-fi): chosen KVM ioctls
 * of a scoped VMM fail. VM ioctls are caught at kvm_vm_ioctl, vCPU ioctls
 * (KVM_RUN, ...) at kvm_vcpu_ioctl; a caught call is skipped at the entry of
 * the function, so KVM does nothing and the VMM gets the errno.
 *
 * Request:
 *   mode 0: the call returns -error (default EPERM).
 *   mode 1: the original's corruption: a random bit 0-31 of the ioctl command
 *           (position 1) or of its argument (position 2) is flipped (type 1),
 *           set (2) or cleared (3), and the call goes on with it.
 *   arg[0..5]: ioctl command numbers (0 = unused); none = every command.
 *   arg[6]: which file: bit 0 VM ioctls, bit 1 vCPU ioctls (0 = VM only).
 *   arg[7]: mode 1 only: position | type << 8.
 * Legacy /proc/resource/{signal,time,position,type,style}: as the original
 * (time -1 = unlimited; style unused); type 0 fails the ioctl with EPERM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include "kvmfi_core.c"
#include "kvm_helpers.c"

#define RES_MODE_ERROR		0
#define RES_MODE_CORRUPT	1
#define RES_NR_CMDS		6
#define RES_FD_VM		(1U << 0)
#define RES_FD_VCPU		(1U << 1)

static char symbol[KSYM_NAME_LEN] = "kvm_vm_ioctl";
module_param_string(symbol, symbol, sizeof(symbol), 0444);
MODULE_PARM_DESC(symbol, "VM ioctl handler to probe, taking (struct file *, cmd, arg) (default kvm_vm_ioctl)");

static char vcpu_symbol[KSYM_NAME_LEN] = "kvm_vcpu_ioctl";
module_param_string(vcpu_symbol, vcpu_symbol, sizeof(vcpu_symbol), 0444);
MODULE_PARM_DESC(vcpu_symbol, "vCPU ioctl handler to probe (default kvm_vcpu_ioctl; empty = none)");

static int res_pre(struct kprobe *p, struct pt_regs *regs, unsigned int fd)
{
	unsigned int cmd = regs_get_kernel_argument(regs, 1);
	struct kvmfi_fault *f;
	int skipped = 0;

	rcu_read_lock();
	f = kvmfi_enter();
	if (f && ((u32)f->arm.arg[6] ? (u32)f->arm.arg[6] : RES_FD_VM) & fd &&
	    kvm_fi_cmd_in(f->arm.arg, RES_NR_CMDS, cmd) && kvmfi_decide(f, 1)) {
		if (f->arm.mode == RES_MODE_CORRUPT) {
			unsigned int pos = f->arm.arg[7] & 0xff, type = (f->arm.arg[7] >> 8) & 0xff;
			unsigned long v = regs_get_kernel_argument(regs, pos);
			unsigned long nv = kvm_fi_bitop(v, type);

			if (pos == 1)
				nv = (unsigned int)nv;
			kvm_fi_set_arg(regs, pos, nv);
			kvmfi_injected(f, pos == 1 ? "ioctl cmd now" : "ioctl arg now", nv);
		} else {
			kvmfi_injected(f, "ioctl error", -(long)f->arm.error);
			kvmfi_skip(regs, kvmfi_error(f));
			skipped = 1;
		}
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(res_pre);

static int res_vm_pre(struct kprobe *p, struct pt_regs *regs)
{
	return res_pre(p, regs, RES_FD_VM);
}
NOKPROBE_SYMBOL(res_vm_pre);

static int res_vcpu_pre(struct kprobe *p, struct pt_regs *regs)
{
	return res_pre(p, regs, RES_FD_VCPU);
}
NOKPROBE_SYMBOL(res_vcpu_pre);

static int res_validate(struct kvmfi_fault *f)
{
	u64 fds = f->arm.arg[6];

	if (fds & ~(u64)(RES_FD_VM | RES_FD_VCPU))
		return -EINVAL;
	if (f->arm.mode == RES_MODE_CORRUPT) {
		unsigned int pos = f->arm.arg[7] & 0xff, type = (f->arm.arg[7] >> 8) & 0xff;

		if ((pos != 1 && pos != 2) || type < KVM_FI_BIT_FLIP || type > KVM_FI_BIT_CLEAR ||
		    f->arm.arg[7] >> 16)
			return -EINVAL;
		return 0;
	}
	if (f->arm.mode != RES_MODE_ERROR || f->arm.arg[7])
		return -EINVAL;
	return 0;
}

static struct kvmfi_knob res_knobs[] = {
	{ .name = "time", .min = -1, .max = INT_MAX, .value = 1 },
	{ .name = "position", .min = 1, .max = 2, .value = 1 },
	{ .name = "type", .min = 0, .max = 3, .value = 1 },
	{ .name = "style", .min = LLONG_MIN, .max = LLONG_MAX, .value = 0 },
};

static int res_legacy_request(struct kvmfi_arm *req)
{
	long long type = kvmfi_knob("type");

	req->times = kvmfi_knob("time");
	req->arg[6] = RES_FD_VM;
	if (type == 0) {
		req->mode = RES_MODE_ERROR;
		req->error = EPERM;
	} else {
		req->mode = RES_MODE_CORRUPT;
		req->arg[7] = kvmfi_knob("position") | type << 8;
	}
	return 0;
}

static struct kvmfi_hook res_hooks[] = {
	{ .symbol = symbol, .pre = res_vm_pre },
	{ .symbol = vcpu_symbol, .pre = res_vcpu_pre, .optional = true },
};

static const struct kvmfi_ops res_ops = {
	.tag = "[ARM-Res-Fi]",
	.hooks = res_hooks,
	.nr_hooks = ARRAY_SIZE(res_hooks),
	.default_error = EPERM,
	.validate = res_validate,
	.legacy_dir = "resource",
	.knobs = res_knobs,
	.nr_knobs = ARRAY_SIZE(res_knobs),
	.legacy_request = res_legacy_request,
	.legacy_signal_nonzero = true,	/* the original armed on any non-zero value */
};

static int __init res_init(void)
{
	return kvmfi_init(&res_ops);
}

static void __exit res_exit(void)
{
	kvmfi_exit();
}

module_init(res_init);
module_exit(res_exit);
MODULE_DESCRIPTION("kvmfi: chosen KVM VM and vCPU ioctls fail for a chosen VMM");
MODULE_LICENSE("GPL");
MODULE_AUTHOR("kvmfi developers");
