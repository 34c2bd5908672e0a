// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-version-fi (the original state-query-fi/kvm-version-fi): /dev/kvm
 * ioctls of a scoped process answer a chosen value or fail. kvm_dev_ioctl is
 * skipped at its entry for a caught call, so KVM does nothing (no VM is
 * created, no capability is looked up) and the caller gets the value.
 *
 * Request:
 *   mode 0: the call returns arg[7] (a fake KVM_GET_API_VERSION, say).
 *   mode 1: the call returns -error (default ENOMEM).
 *   arg[0..3]: ioctl command numbers (0 = unused); none = KVM_GET_API_VERSION.
 *   arg[4..6]: for KVM_CHECK_EXTENSION only these capabilities, each as
 *              cap | KVM_VERSION_FI_CAP (0 = unused); none = every capability.
 * Legacy /proc/kvm-version-fi/{signal,times}: KVM_GET_API_VERSION returns 0
 * (the original turned version 12 into 0).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include "kvmfi_core.c"
#include "kvm_helpers.c"

#define VER_MODE_VALUE		0
#define VER_MODE_ERROR		1
#define VER_NR_CMDS		4
#define VER_CAP_VALID		(1ULL << 32)

static char symbol[KSYM_NAME_LEN] = "kvm_dev_ioctl";
module_param_string(symbol, symbol, sizeof(symbol), 0444);
MODULE_PARM_DESC(symbol, "/dev/kvm ioctl handler to probe, taking (struct file *, cmd, arg) (default kvm_dev_ioctl)");

static bool ver_selected(const struct kvmfi_fault *f, unsigned int cmd, unsigned long arg)
{
	static const u64 api_only[1] = { KVM_GET_API_VERSION };
	bool any_cmd = false, any_cap = false;
	unsigned int i;

	for (i = 0; i < VER_NR_CMDS; i++)
		any_cmd |= f->arm.arg[i] != 0;
	if (!kvm_fi_cmd_in(any_cmd ? f->arm.arg : api_only, any_cmd ? VER_NR_CMDS : 1, cmd))
		return false;
	if (cmd != KVM_CHECK_EXTENSION)
		return true;
	for (i = 4; i < 7; i++) {
		if (!(f->arm.arg[i] & VER_CAP_VALID))
			continue;
		any_cap = true;
		if ((u32)f->arm.arg[i] == arg)
			return true;
	}
	return !any_cap;
}
NOKPROBE_SYMBOL(ver_selected);

static int ver_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned int cmd = regs_get_kernel_argument(regs, 1);
	unsigned long arg = regs_get_kernel_argument(regs, 2);
	struct kvmfi_fault *f;
	int skipped = 0;

	rcu_read_lock();
	f = kvmfi_enter();
	if (f && ver_selected(f, cmd, arg) && kvmfi_decide(f, 1)) {
		long ret = f->arm.mode == VER_MODE_VALUE ? (long)f->arm.arg[7] : kvmfi_error(f);

		kvmfi_injected(f, "return", ret);
		kvmfi_skip(regs, ret);
		skipped = 1;
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(ver_pre);

static int ver_validate(struct kvmfi_fault *f)
{
	unsigned int i;

	if (f->arm.mode > VER_MODE_ERROR)
		return -EINVAL;
	for (i = 4; i < 7; i++)
		if (f->arm.arg[i] & ~(VER_CAP_VALID | U32_MAX))
			return -EINVAL;
	/* A value must look like a return value, not an errno. */
	if (f->arm.mode == VER_MODE_VALUE && (s64)f->arm.arg[7] < 0)
		return -EINVAL;
	return 0;
}

static struct kvmfi_knob ver_knobs[] = {
	{ .name = "times", .min = -1, .max = INT_MAX, .value = 1 },
};

static int ver_legacy_request(struct kvmfi_arm *req)
{
	req->times = kvmfi_knob("times");
	req->mode = VER_MODE_VALUE;
	req->arg[0] = KVM_GET_API_VERSION;
	req->arg[7] = 0;
	return 0;
}

static struct kvmfi_hook ver_hooks[] = {
	{ .symbol = symbol, .pre = ver_pre },
};

static const struct kvmfi_ops ver_ops = {
	.tag = "[ARM-Ver-Fi]",
	.hooks = ver_hooks,
	.nr_hooks = ARRAY_SIZE(ver_hooks),
	.default_error = ENOMEM,
	.validate = ver_validate,
	.legacy_dir = "kvm-version-fi",
	.knobs = ver_knobs,
	.nr_knobs = ARRAY_SIZE(ver_knobs),
	.legacy_request = ver_legacy_request,
};

static int __init ver_init(void)
{
	return kvmfi_init(&ver_ops);
}

static void __exit ver_exit(void)
{
	kvmfi_exit();
}

module_init(ver_init);
module_exit(ver_exit);
MODULE_DESCRIPTION("kvmfi: fake KVM API version, or chosen /dev/kvm ioctls fail");
MODULE_LICENSE("GPL");
MODULE_AUTHOR("kvmfi developers");
