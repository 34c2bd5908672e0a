// SPDX-License-Identifier: GPL-2.0
/*
 * func-fail-fi: make any probe-able kernel function return a chosen value
 * for a scoped target, skipping its body — what the kernel's fail_function
 * does, on kernels built without it (Debian's) and without its allow-list.
 * The Rust tool keeps a deny-list of functions where a skip is known to
 * corrupt state; the module trusts the symbol it is given.
 *
 * Request (uapi/kvmfi/func_fail_fi.h): return -error, 0 (NULL for pointer
 * functions) or a value as is.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include "kvmfi_core.c"

KVMFI_FUNCTION_PARAM(symbol, "", "function to make fail (required)");

static int func_fail_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct kvmfi_fault *f;
	int skipped = 0;

	rcu_read_lock();
	f = kvmfi_enter();
	if (f && kvmfi_decide(f, 1)) {
		long ret = f->arm.mode == KVMFI_FUNC_FAIL_MODE_ZERO ? 0 :
			   f->arm.mode == KVMFI_FUNC_FAIL_MODE_VALUE ? (long)kvmfi_args(&f->arm, struct kvmfi_func_fail_args)->value :
			   kvmfi_error(f);

		skipped = kvmfi_skip_return(f, regs, "return", ret);
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(func_fail_pre);

static int func_fail_setup(void)
{
	if (!symbol[0]) {
		pr_err("symbol= is required (the function to make fail)\n");
		return -EINVAL;
	}
	return 0;
}

KVMFI_MODULE("kvmfi: make any probe-able kernel function return an error for a scoped target",
	.setup = func_fail_setup,
	.tag = "[Func-Fi]",
	KVMFI_PRE_HOOK(symbol, func_fail_pre),
	.default_error = ENOMEM,
	KVMFI_REQUEST(KVMFI_FUNC_FAIL_MODE_VALUE, NULL));
