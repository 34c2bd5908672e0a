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
 * Write-back: a VMM that writes back the registers it read (QEMU does before
 * it resumes a vCPU whose state it synchronised: one KVM_SET_REGS on x86_64,
 * a KVM_SET_ONE_REG per register on arm64) would make the false value the
 * guest's real one. The module remembers, per vCPU and register, the value
 * it made up and the true one; when the VMM sets exactly the made-up value
 * again, the true value is put in its place (an event "restore"), so the
 * guest runs on untouched. Any other value the VMM sets is its own and is
 * kept. This hook stays enabled while the module is loaded, also after the
 * fault ended (off, --times, lease), and costs one compare when nothing is
 * pending.
 *
 * Legacy /proc/kvm-state-fi/{signal,times}: the program counter (RIP / PC)
 * read by user space has a random bit flipped, `times` reads long (the
 * original failed every vCPU ioctl instead, which its documentation did not
 * promise).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include "kvmfi_core.c"
#include "kvm_helpers.c"

#define state_args(arm) kvmfi_args(arm, struct kvmfi_vcpu_state_args)

#if defined(CONFIG_X86_64)
#define STATE_SYMBOL		"kvm_arch_vcpu_ioctl_get_regs"
#define STATE_SET_SYMBOL	"kvm_arch_vcpu_ioctl_set_regs"
#define STATE_LEGACY_REG	offsetof(struct kvm_regs, rip)
#elif defined(CONFIG_ARM64)
#define STATE_SYMBOL		"kvm_arm_get_reg"
#define STATE_SET_SYMBOL	"kvm_arm_set_reg"
#define STATE_CORE_ID(off)	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | ((off) / sizeof(__u32)))
#define STATE_LEGACY_REG	STATE_CORE_ID(offsetof(struct kvm_regs, regs.pc))
#else
#error "kvm-state-fi supports x86_64 and arm64"
#endif

KVMFI_FUNCTION_PARAM(symbol, STATE_SYMBOL, "register read function to probe (default " STATE_SYMBOL ")");

KVMFI_FUNCTION_PARAM(set_symbol, STATE_SET_SYMBOL, "register write function to probe for write-backs (default " STATE_SET_SYMBOL ")");

/* Per call: where the value user space will see lives. */
struct state_call {
	u64 where;		/* x86_64: kernel struct kvm_regs *; arm64: user address */
	void *vcpu;
};

/*
 * Made-up values not yet written back, per vCPU and register: a small table
 * (a VMM reads a register of each vCPU before writing it back), the oldest
 * entry reused when full. `state_made_nr` counts the used entries, so the
 * write hook returns at once when nothing is pending.
 */
#define STATE_MADE_MAX 64
struct state_made {
	void *vcpu;		/* NULL = free */
	pid_t tgid;		/* the VMM that read it (a freed vCPU's memory may
				 * serve another VMM's vCPU next) */
	u64 reg;		/* the register (args.reg) made up */
	u64 truth;
	u64 fake;
	u64 experiment_id;
};
static struct state_made state_made[STATE_MADE_MAX];
static unsigned int state_made_next;
static atomic_t state_made_nr = ATOMIC_INIT(0);
static DEFINE_SPINLOCK(state_made_lock);

/* Remembers that @vcpu's register @reg reads @fake while it is @truth. */
static void state_remember(void *vcpu, u64 reg, u64 truth, u64 fake, u64 experiment_id)
{
	struct state_made *m = NULL;
	unsigned long flags;
	unsigned int i;

	if (truth == fake)
		return;
	spin_lock_irqsave(&state_made_lock, flags);
	for (i = 0; i < STATE_MADE_MAX; i++) {
		if (state_made[i].vcpu == vcpu && state_made[i].reg == reg) {
			m = &state_made[i];
			break;
		}
	}
	if (!m) {
		m = &state_made[state_made_next];
		state_made_next = (state_made_next + 1) % STATE_MADE_MAX;
		if (!m->vcpu)
			atomic_inc(&state_made_nr);
	}
	*m = (struct state_made){ .vcpu = vcpu, .tgid = current->tgid, .reg = reg,
				  .truth = truth, .fake = fake, .experiment_id = experiment_id };
	spin_unlock_irqrestore(&state_made_lock, flags);
}
NOKPROBE_SYMBOL(state_remember);

/*
 * The VMM sets @vcpu's register @reg to *@v: when that is the value made up
 * for it (read by this same process), *@v becomes the true value (returns
 * true). Either way the entry ends: what the VMM sets from now on is its own.
 */
static bool state_write_back(void *vcpu, u64 reg, u64 *v)
{
	bool restored = false;
	unsigned long flags;
	u64 exp = 0;
	unsigned int i;

	spin_lock_irqsave(&state_made_lock, flags);
	for (i = 0; i < STATE_MADE_MAX; i++) {
		struct state_made *m = &state_made[i];

		if (m->vcpu != vcpu || m->reg != reg)
			continue;
		if (m->tgid == current->tgid && *v == m->fake) {
			*v = m->truth;
			exp = m->experiment_id;
			restored = true;
		}
		m->vcpu = NULL;
		atomic_dec(&state_made_nr);
		break;
	}
	spin_unlock_irqrestore(&state_made_lock, flags);
	if (restored)
		kvmfi_event(KVMFI_EVENT_RESTORE, exp, 1, "restore", *v, reg, 0);
	return restored;
}
NOKPROBE_SYMBOL(state_write_back);

#if defined(CONFIG_X86_64)
/* Entry of KVM_SET_REGS: the VMM's struct kvm_regs, copied into the kernel. */
static int state_set_pre(struct kprobe *p, struct pt_regs *regs)
{
	void *vcpu = (void *)regs_get_kernel_argument(regs, 0);
	unsigned long flags;
	unsigned int i;

	if (!atomic_read(&state_made_nr))
		return 0;
	{
		/* a kernel copy of the VMM's struct kvm_regs: every pending register */
		struct kvm_regs *kr = (void *)regs_get_kernel_argument(regs, 1);
		u64 pending[STATE_MADE_MAX];
		unsigned int n = 0;

		spin_lock_irqsave(&state_made_lock, flags);
		for (i = 0; i < STATE_MADE_MAX; i++)
			if (state_made[i].vcpu == vcpu)
				pending[n++] = state_made[i].reg;
		spin_unlock_irqrestore(&state_made_lock, flags);
		for (i = 0; i < n; i++)
			state_write_back(vcpu, pending[i], (u64 *)((char *)kr + pending[i]));
	}
	return 0;
}
NOKPROBE_SYMBOL(state_set_pre);
#else
/*
 * KVM_SET_ONE_REG: KVM copies the value from the VMM's memory, which the
 * module leaves alone (the VMM's own copy keeps what it was shown; writing
 * it would change what the VMM displays). At entry: is it the made-up value
 * of this vCPU's register? At return, after KVM stored it: the true value
 * goes into the vCPU's core registers instead (x0-x30, sp, pc, pstate: the
 * struct user_pt_regs at the start of struct kvm_regs).
 */
struct state_set_call {
	struct kvm_vcpu *vcpu;
	u64 off;		/* byte offset in struct user_pt_regs */
	u64 truth;
};

static int state_set_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct state_set_call *c = (struct state_set_call *)ri->data;
	struct kvm_vcpu *vcpu = (void *)regs_get_kernel_argument(regs, 0);
	const struct kvm_one_reg *reg = (const void *)regs_get_kernel_argument(regs, 1);
	u64 v, off;

	if (!atomic_read(&state_made_nr) || !reg)
		return 1;
	off = (reg->id & 0xffff) * sizeof(__u32);
	if ((reg->id & ~(u64)0xffff) != (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE) ||
	    off + sizeof(u64) > sizeof(struct user_pt_regs))
		return 1;
	if (copy_from_user_nofault(&v, (u64 __user *)reg->addr, sizeof(v)) ||
	    !state_write_back(vcpu, reg->id, &v))
		return 1;
	c->vcpu = vcpu;
	c->off = off;
	c->truth = v;
	return 0;
}
NOKPROBE_SYMBOL(state_set_entry);

static int state_set_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct state_set_call *c = (struct state_set_call *)ri->data;

	if (regs_return_value(regs) == 0)
		*(u64 *)((char *)vcpu_gp_regs(c->vcpu) + c->off) = c->truth;
	return 0;
}
NOKPROBE_SYMBOL(state_set_ret);
#endif

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
		c->vcpu = (void *)regs_get_kernel_argument(regs, 0);
	}
	rcu_read_unlock();
	return ignore;
}
NOKPROBE_SYMBOL(state_entry);

static int state_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct state_call *c = (struct state_call *)ri->data;
	struct kvmfi_fault *f;

	rcu_read_lock();
	f = kvmfi_enter_return(regs);
	if (f && kvmfi_decide(f, 1)) {
#if defined(CONFIG_X86_64)
		u64 reg = state_args(&f->arm)->reg;
		u64 *p = (u64 *)((char *)c->where + reg);
		u64 truth = *p;

		*p = state_falsify(f, truth);
		state_remember(c->vcpu, reg, truth, *p, f->arm.experiment_id);
		kvmfi_injected(f, "register now", *p);
#else
		u64 __user *u = (u64 __user *)c->where;
		u64 v;

		if (!copy_from_user_nofault(&v, u, sizeof(v))) {
			u64 truth = v;

			v = state_falsify(f, v);
			if (!copy_to_user_nofault(u, &v, sizeof(v))) {
				state_remember(c->vcpu, state_args(&f->arm)->reg, truth, v,
					       f->arm.experiment_id);
				kvmfi_injected(f, "register now", v);
			}
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

static int state_legacy_request(struct kvmfi_arm *req)
{
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
	{
		/* enabled while loaded: it must outlive the fault that made a value up */
		.symbol = set_symbol,
#if defined(CONFIG_X86_64)
		.pre = state_set_pre,
#else
		.ret_probe = true,
		.entry = state_set_entry,
		.handler = state_set_ret,
		.data_size = sizeof(struct state_set_call),
		.maxactive = 64,
#endif
		.always = true,
	},
};

KVMFI_MODULE("kvmfi: falsify the vCPU registers a VMM reads, the guest's state untouched",
	.tag = "[ARM-State-Fi]",
	KVMFI_HOOKS(state_hooks),
	.default_error = EIO,
	KVMFI_REQUEST(KVMFI_VCPU_STATE_MODE_FLIP, state_validate),
	KVMFI_LEGACY("kvm-state-fi", state_legacy_request, KVMFI_TIMES_KNOB));
