// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-version-fi (the original state-query-fi/kvm-version-fi): /dev/kvm
 * ioctls of a scoped process answer a chosen value or fail. kvm_dev_ioctl is
 * skipped at its entry for a caught call, so KVM does nothing (no VM is
 * created, no capability is looked up) and the caller gets the value.
 *
 * Request (uapi/kvmfi/kvm_version_fi.h): the chosen commands (none =
 * KVM_GET_API_VERSION; KVM_CHECK_EXTENSION only for the chosen capabilities,
 * if any) return a value (a fake KVM_GET_API_VERSION, say) or -error
 * (default ENOMEM).
 * Legacy /proc/kvm-version-fi/{signal,times}: KVM_GET_API_VERSION returns 0
 * (the original turned version 12 into 0).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include "kvmfi_core.c"
#include "kvm_helpers.c"

#define ver_args(arm) kvmfi_args(arm, struct kvmfi_kvm_version_args)

KVMFI_FUNCTION_PARAM(symbol, "kvm_dev_ioctl", "/dev/kvm ioctl handler to probe, taking (struct file *, cmd, arg) (default kvm_dev_ioctl)");

static bool ver_selected(const struct kvmfi_fault *f, unsigned int cmd, unsigned long arg)
{
	static const u64 api_only[1] = { KVM_GET_API_VERSION };
	const struct kvmfi_kvm_version_args *a = ver_args(&f->arm);
	bool any_cmd = false, any_cap = false;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(a->cmd); i++)
		any_cmd |= a->cmd[i] != 0;
	if (!kvm_fi_cmd_in(any_cmd ? a->cmd : api_only, any_cmd ? ARRAY_SIZE(a->cmd) : 1, cmd))
		return false;
	if (cmd != KVM_CHECK_EXTENSION)
		return true;
	for (i = 0; i < ARRAY_SIZE(a->cap); i++) {
		if (!(a->cap[i] & KVMFI_KVM_VERSION_CAP_VALID))
			continue;
		any_cap = true;
		if ((u32)a->cap[i] == arg)
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
		long ret = f->arm.mode == KVMFI_KVM_VERSION_MODE_VALUE ? (long)ver_args(&f->arm)->value : kvmfi_error(f);

		skipped = kvmfi_skip_return(f, regs, "return", ret);
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(ver_pre);

static int ver_validate(struct kvmfi_fault *f)
{
	const struct kvmfi_kvm_version_args *a = ver_args(&f->arm);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(a->cap); i++)
		if (a->cap[i] & ~(KVMFI_KVM_VERSION_CAP_VALID | U32_MAX))
			return -EINVAL;
	/* A value must look like a return value, not an errno. */
	if (f->arm.mode == KVMFI_KVM_VERSION_MODE_VALUE && a->value < 0)
		return -EINVAL;
	return 0;
}

static int ver_legacy_request(struct kvmfi_arm *req)
{
	struct kvmfi_kvm_version_args *a = ver_args(req);

	req->mode = KVMFI_KVM_VERSION_MODE_VALUE;
	a->cmd[0] = KVM_GET_API_VERSION;
	a->value = 0;
	return 0;
}

KVMFI_MODULE("kvmfi: fake KVM API version, or chosen /dev/kvm ioctls fail",
	.tag = "[ARM-Ver-Fi]",
	KVMFI_PRE_HOOK(symbol, ver_pre),
	.default_error = ENOMEM,
	KVMFI_REQUEST(KVMFI_KVM_VERSION_MODE_ERROR, ver_validate),
	KVMFI_LEGACY("kvm-version-fi", ver_legacy_request, KVMFI_TIMES_KNOB));
