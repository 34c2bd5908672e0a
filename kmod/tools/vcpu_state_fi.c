// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-state-fi (vcpu-state-fi; the original state-query-fi/kvm-state-fi):
 * the vCPU registers that a scoped VMM reads are falsified, while the guest's
 * real state stays untouched: only the copy handed to user space changes.
 *
 * x86_64: kvm_arch_vcpu_ioctl_get_regs(vcpu, struct kvm_regs *) fills a
 *   kernel struct that KVM_GET_REGS then copies out; a kretprobe keeps the
 *   struct pointer at entry and edits the chosen field at return.
 * arm64: KVM_GET_REGS returns EINVAL, user space reads registers one by one
 *   with KVM_GET_ONE_REG -> kvm_arm_get_reg(vcpu, const struct kvm_one_reg *),
 *   which copies straight to user memory; a kretprobe keeps the register id
 *   and user address at entry and edits the user's copy at return.
 *
 * Request (uapi/kvmfi/vcpu_state_fi.h):
 *   reg: the register: x86_64 byte offset in struct kvm_regs (rip = 128,
 *           rflags = 136); arm64 the KVM_GET_ONE_REG id of a 64-bit core
 *           register (pc = 0x6030000000100040, pstate = ...0042).
 *   mode XOR: value ^= args.value;  mode SET: value = args.value;
 *   mode FLIP: a random bit 0-31 of the value flips.
 * Legacy /proc/kvm-state-fi/{signal,times}: the program counter (RIP / PC)
 * read by user space has a random bit flipped, `times` reads long (the
 * original failed every vCPU ioctl instead, which its documentation did not
 * promise).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/uaccess.h>
#include "kvmfi_core.c"
#include "kvm_helpers.c"

#define state_args(arm) kvmfi_args(arm, struct kvmfi_vcpu_state_args)


#if defined(CONFIG_X86_64)
#define STATE_SYMBOL		"kvm_arch_vcpu_ioctl_get_regs"
#define STATE_LEGACY_REG	offsetof(struct kvm_regs, rip)
#elif defined(CONFIG_ARM64)
#define STATE_SYMBOL		"kvm_arm_get_reg"
#define STATE_CORE_ID(off)	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | ((off) / sizeof(__u32)))
#define STATE_LEGACY_REG	STATE_CORE_ID(offsetof(struct kvm_regs, regs.pc))
#else
#error "kvm-state-fi supports x86_64 and arm64"
#endif

static char symbol[KSYM_NAME_LEN] = STATE_SYMBOL;
module_param_string(symbol, symbol, sizeof(symbol), 0444);
MODULE_PARM_DESC(symbol, "register read function to probe (default " STATE_SYMBOL ")");

/* Per call: where the value user space will see lives. */
struct state_call {
	u64 where;		/* x86_64: kernel struct kvm_regs *; arm64: user address */
};

static u64 state_falsify(const struct kvmfi_fault *f, u64 v)
{
	switch (f->arm.mode) {
	case KVMFI_VCPU_STATE_MODE_XOR:
		return v ^ state_args(&f->arm)->value;
	case KVMFI_VCPU_STATE_MODE_SET:
		return state_args(&f->arm)->value;
	default:
		return kvm_fi_bitop(v, KVMFI_BITOP_FLIP);
	}
}
NOKPROBE_SYMBOL(state_falsify);

static int state_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct state_call *c = (struct state_call *)ri->data;
	struct kvmfi_fault *f;
	int ignore = 1;

	rcu_read_lock();
	f = kvmfi_enter();
	if (f) {
#if defined(CONFIG_X86_64)
		c->where = regs_get_kernel_argument(regs, 1);
		ignore = 0;
#else
		const struct kvm_one_reg *reg = (const void *)regs_get_kernel_argument(regs, 1);

		if (reg && reg->id == state_args(&f->arm)->reg) {
			c->where = reg->addr;
			ignore = 0;
		}
#endif
	}
	rcu_read_unlock();
	return ignore;
}
NOKPROBE_SYMBOL(state_entry);

static int state_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct state_call *c = (struct state_call *)ri->data;
	struct kvmfi_fault *f;

	if (regs_return_value(regs) != 0)
		return 0;
	rcu_read_lock();
	f = rcu_dereference(kvmfi.fault);	/* scope was checked at entry */
	if (f && kvmfi_decide(f, 1)) {
#if defined(CONFIG_X86_64)
		u64 *p = (u64 *)((char *)c->where + state_args(&f->arm)->reg);

		*p = state_falsify(f, *p);
		kvmfi_injected(f, "register now", *p);
#else
		u64 __user *u = (u64 __user *)c->where;
		u64 v;

		if (!copy_from_user_nofault(&v, u, sizeof(v))) {
			v = state_falsify(f, v);
			if (!copy_to_user_nofault(u, &v, sizeof(v)))
				kvmfi_injected(f, "register now", v);
		}
#endif
	}
	rcu_read_unlock();
	return 0;
}
NOKPROBE_SYMBOL(state_ret);

static int state_validate(struct kvmfi_fault *f)
{
	u64 reg = state_args(&f->arm)->reg;

	if (f->arm.mode > KVMFI_VCPU_STATE_MODE_FLIP)
		return -EINVAL;
#if defined(CONFIG_X86_64)
	if (reg % sizeof(u64) || reg >= sizeof(struct kvm_regs))
		return -EINVAL;
#else
	if ((reg & ~(u64)0xffff) != (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE) ||
	    (reg & 0xffff) * sizeof(__u32) >= sizeof(struct kvm_regs))
		return -EINVAL;
#endif
	return 0;
}

static struct kvmfi_knob state_knobs[] = {
	{ .name = "times", .min = -1, .max = INT_MAX, .value = 1 },
};

static int state_legacy_request(struct kvmfi_arm *req)
{
	req->times = kvmfi_knob("times");
	req->mode = KVMFI_VCPU_STATE_MODE_FLIP;
	state_args(req)->reg = STATE_LEGACY_REG;
	return 0;
}

static struct kvmfi_hook state_hooks[] = {
	{
		.symbol = symbol,
		.ret_probe = true,
		.entry = state_entry,
		.handler = state_ret,
		.data_size = sizeof(struct state_call),
		.maxactive = 64,
	},
};

static const struct kvmfi_ops state_ops = {
	.tag = "[ARM-State-Fi]",
	.hooks = state_hooks,
	.nr_hooks = ARRAY_SIZE(state_hooks),
	.default_error = EIO,
	.validate = state_validate,
	.legacy_dir = "kvm-state-fi",
	.knobs = state_knobs,
	.nr_knobs = ARRAY_SIZE(state_knobs),
	.legacy_request = state_legacy_request,
};

KVMFI_MODULE(state_ops, "kvmfi: falsify the vCPU registers a VMM reads, the guest's state untouched");
