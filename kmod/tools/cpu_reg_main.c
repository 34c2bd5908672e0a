// SPDX-License-Identifier: GPL-2.0
/*
 * cpu-reg: corrupt the user-mode registers of a task that a target process
 * creates (a thread or a child process), before that task first runs.
 *
 * Where: wake_up_new_task(p), entry. kernel_clone() (older kernels: _do_fork)
 * calls it in the parent's context once copy_process() has built the child,
 * including its saved user registers (task_pt_regs(p)), and just before the
 * child is put on a run queue. At that instant the child has never run and
 * cannot run, so its registers can be edited without racing it, and
 * `current` is the creating process, so the ordinary scope filter (pid,
 * tgid, comm, cgroup) selects "tasks created by the target". Probing
 * kernel_clone itself does not work: at its entry the child does not exist,
 * and at its return wake_up_new_task() has already made it runnable, so on a
 * 2-CPU machine it may be running user code already.
 *
 * Never touched: kernel threads and the kernel's user-worker threads
 * (io_uring, vhost), whose saved registers are not user state; tasks
 * created by kernel threads (usermode helpers); any task whose saved
 * registers are not user mode.
 *
 * Request: uapi/kvmfi/cpu_reg_main.h (flip a bit of, or set, a register).
 * Flags: only the bits user space may change itself (ptrace's rules) are
 * touched: arm64 N Z C V; x86_64 CF PF AF ZF SF TF DF OF AC.
 *
 * Legacy /proc/cpu-general-fi/{signal,times,aim,lasting}: aim is a bitmask
 * whose lowest set bit picks the register (1 X0, 2 X1, 4 X2, 8 X3, 16 X4,
 * 32 X5, 64 X29/FP, 128 X30/LR, 256 SP, 512 PC; x86_64 equivalents RAX RDI
 * RSI RDX R10 R8 RBP RCX RSP RIP); lasting 0 flips a random bit, non-zero
 * sets the register to 0.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include "kvmfi_core.c"

#define cpu_reg_args(arm) kvmfi_args(arm, struct kvmfi_cpu_reg_args)

#ifdef CONFIG_X86_64
#define CPU_REG_NR_GPR 15
static const char *const cpu_reg_gpr_names[CPU_REG_NR_GPR] = {
	"RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP",
	"R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
};
/* ptrace's FLAG_MASK without RF and NT: what user space can set itself. */
static const u8 cpu_reg_flag_bits[] = { 0, 2, 4, 6, 7, 8, 10, 11, 18 };
/* Legacy aim bits 0..9 as register numbers. */
static const u8 cpu_reg_aim_map[10] = { 0, 5, 4, 3, 9, 7, 6, 2, KVMFI_CPU_REG_SP, KVMFI_CPU_REG_PC };
#define CPU_REG_SP_NAME "RSP"
#define CPU_REG_PC_NAME "RIP"
#define CPU_REG_FLAGS_NAME "RFLAGS"

static unsigned long *cpu_reg_gpr(struct pt_regs *regs, unsigned int n)
{
	switch (n) {
	case 0: return &regs->ax;
	case 1: return &regs->bx;
	case 2: return &regs->cx;
	case 3: return &regs->dx;
	case 4: return &regs->si;
	case 5: return &regs->di;
	case 6: return &regs->bp;
	case 7: return &regs->r8;
	case 8: return &regs->r9;
	case 9: return &regs->r10;
	case 10: return &regs->r11;
	case 11: return &regs->r12;
	case 12: return &regs->r13;
	case 13: return &regs->r14;
	default: return &regs->r15;
	}
}
NOKPROBE_SYMBOL(cpu_reg_gpr);
#define cpu_reg_sp(regs)	(&(regs)->sp)
#define cpu_reg_pc(regs)	(&(regs)->ip)
#define cpu_reg_flags(regs)	(&(regs)->flags)

#elif defined(CONFIG_ARM64)
#define CPU_REG_NR_GPR 31
static const char *const cpu_reg_gpr_names[CPU_REG_NR_GPR] = {
	"X0", "X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8", "X9", "X10",
	"X11", "X12", "X13", "X14", "X15", "X16", "X17", "X18", "X19", "X20",
	"X21", "X22", "X23", "X24", "X25", "X26", "X27", "X28", "X29", "X30",
};
static const u8 cpu_reg_flag_bits[] = { 28, 29, 30, 31 };	/* V C Z N */
static const u8 cpu_reg_aim_map[10] = { 0, 1, 2, 3, 4, 5, 29, 30, KVMFI_CPU_REG_SP, KVMFI_CPU_REG_PC };
#define CPU_REG_SP_NAME "SP"
#define CPU_REG_PC_NAME "PC"
#define CPU_REG_FLAGS_NAME "PSTATE"

static unsigned long *cpu_reg_gpr(struct pt_regs *regs, unsigned int n)
{
	return (unsigned long *)&regs->regs[n];
}
NOKPROBE_SYMBOL(cpu_reg_gpr);
#define cpu_reg_sp(regs)	((unsigned long *)&(regs)->sp)
#define cpu_reg_pc(regs)	((unsigned long *)&(regs)->pc)
#define cpu_reg_flags(regs)	((unsigned long *)&(regs)->pstate)
#else
#error "cpu-reg: only x86_64 and arm64 are supported"
#endif

#ifndef PF_USER_WORKER
#define PF_USER_WORKER 0
#endif
#ifndef PF_IO_WORKER
#define PF_IO_WORKER 0
#endif
#define CPU_REG_NOT_USER (PF_KTHREAD | PF_IO_WORKER | PF_USER_WORKER)

KVMFI_FUNCTION_PARAM(symbol, "wake_up_new_task", "function to probe, taking the new task_struct * as its first argument, "
	"called by the parent before the child first runs (default wake_up_new_task)");

/* Injections so far in this experiment: the index into the seeded sequence. */
static atomic64_t cpu_reg_seq;

static unsigned long cpu_reg_flags_mask(void)
{
	unsigned long mask = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cpu_reg_flag_bits); i++)
		mask |= 1UL << cpu_reg_flag_bits[i];
	return mask;
}
NOKPROBE_SYMBOL(cpu_reg_flags_mask);

/* splitmix64: a seeded, reproducible sequence (one value per injection). */
static u64 cpu_reg_draw(const struct kvmfi_fault *f)
{
	u64 seed = cpu_reg_args(&f->arm)->seed, z;

	if (!seed)
		return get_random_u64();
	z = seed + (u64)atomic64_inc_return(&cpu_reg_seq) * 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
NOKPROBE_SYMBOL(cpu_reg_draw);

static const char *cpu_reg_name(unsigned int reg)
{
	if (reg < CPU_REG_NR_GPR)
		return cpu_reg_gpr_names[reg];
	if (reg == KVMFI_CPU_REG_SP)
		return CPU_REG_SP_NAME;
	if (reg == KVMFI_CPU_REG_PC)
		return CPU_REG_PC_NAME;
	return CPU_REG_FLAGS_NAME;
}
NOKPROBE_SYMBOL(cpu_reg_name);

/* Edits the saved user registers of @child, which has not run yet. */
static void cpu_reg_corrupt(struct kvmfi_fault *f, struct task_struct *child)
{
	struct pt_regs *regs = task_pt_regs(child);
	const struct kvmfi_cpu_reg_args *a = cpu_reg_args(&f->arm);
	unsigned int reg = a->reg;
	unsigned int bit = a->bit;
	unsigned long *slot, old, mask = ~0UL;
	char what[KVMFI_WHAT_LEN];
	u64 r = cpu_reg_draw(f);

	if (reg == KVMFI_CPU_REG_RANDOM)
		reg = (r >> 32) % CPU_REG_NR_GPR;
	if (reg < CPU_REG_NR_GPR)
		slot = cpu_reg_gpr(regs, reg);
	else if (reg == KVMFI_CPU_REG_SP)
		slot = cpu_reg_sp(regs);
	else if (reg == KVMFI_CPU_REG_PC)
		slot = cpu_reg_pc(regs);
	else {
		slot = cpu_reg_flags(regs);
		mask = cpu_reg_flags_mask();
	}
	old = *slot;
	if (f->arm.mode == KVMFI_CPU_REG_MODE_SET) {
		*slot = (old & ~mask) | (a->value & mask);
		snprintf(what, sizeof(what), "set-%s", cpu_reg_name(reg));
	} else {
		if (bit == KVMFI_CPU_REG_BIT_RANDOM) {
			if (reg == KVMFI_CPU_REG_FLAGS)
				bit = cpu_reg_flag_bits[(u32)r % ARRAY_SIZE(cpu_reg_flag_bits)];
			else
				bit = (u32)r % BITS_PER_LONG;
		}
		*slot = old ^ (1UL << bit);
		snprintf(what, sizeof(what), "flip-%s", cpu_reg_name(reg));
	}
	/* Event: value = new register value, detail = register | bit << 8, old value. */
	kvmfi_injected_detail(f, 0, what, *slot, reg | (u64)bit << 8, old);
	if (f->arm.verbose >= 1)
		pr_info_ratelimited("%s new task %d of pid %d: %s bit %u: %#lx -> %#lx\n",
				    kvmfi.ops->tag, task_pid_nr(child), current->pid,
				    what, f->arm.mode == KVMFI_CPU_REG_MODE_SET ? 0 : bit,
				    old, *slot);
}
NOKPROBE_SYMBOL(cpu_reg_corrupt);

static int cpu_reg_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct task_struct *child = (struct task_struct *)regs_get_kernel_argument(regs, 0);
	struct kvmfi_fault *f;

	if (!child || (child->flags & CPU_REG_NOT_USER) || (current->flags & PF_KTHREAD))
		return 0;
	rcu_read_lock();
	f = kvmfi_enter();
	if (f && user_mode(task_pt_regs(child)) && kvmfi_decide(f, 1))
		cpu_reg_corrupt(f, child);
	rcu_read_unlock();
	return 0;
}
NOKPROBE_SYMBOL(cpu_reg_pre);

static int cpu_reg_validate(struct kvmfi_fault *f)
{
	const struct kvmfi_cpu_reg_args *a = cpu_reg_args(&f->arm);
	u64 reg = a->reg, bit = a->bit;
	unsigned int i;

	if (!kvmfi_all_zero(a->reserved, sizeof(a->reserved)))
		return -EINVAL;
	if (!(reg < CPU_REG_NR_GPR || reg == KVMFI_CPU_REG_SP || reg == KVMFI_CPU_REG_PC ||
	      reg == KVMFI_CPU_REG_FLAGS || reg == KVMFI_CPU_REG_RANDOM))
		return -EINVAL;
	if (f->arm.mode == KVMFI_CPU_REG_MODE_FLIP) {
		if (bit > KVMFI_CPU_REG_BIT_RANDOM)	/* 0-63, or 64 = random */
			return -EINVAL;
		if (reg == KVMFI_CPU_REG_FLAGS && bit != KVMFI_CPU_REG_BIT_RANDOM) {
			for (i = 0; i < ARRAY_SIZE(cpu_reg_flag_bits); i++)
				if (bit == cpu_reg_flag_bits[i])
					break;
			if (i == ARRAY_SIZE(cpu_reg_flag_bits))
				return -EINVAL;	/* not a user-writable flag */
		}
	} else if (reg == KVMFI_CPU_REG_RANDOM || bit) {
		return -EINVAL;
	}
	atomic64_set(&cpu_reg_seq, 0);
	return 0;
}

static int cpu_reg_legacy_request(struct kvmfi_arm *req)
{
	struct kvmfi_cpu_reg_args *a = cpu_reg_args(req);
	long long aim = kvmfi_knob("aim");

	if (aim <= 0)
		return -EINVAL;
	a->reg = cpu_reg_aim_map[__ffs(aim)];
	if (kvmfi_knob("lasting")) {
		req->mode = KVMFI_CPU_REG_MODE_SET;
		a->value = 0;
	} else {
		req->mode = KVMFI_CPU_REG_MODE_FLIP;
		a->bit = KVMFI_CPU_REG_BIT_RANDOM;
	}
	return 0;
}

KVMFI_MODULE("kvmfi: corrupt a register of the threads and processes a target creates, before they first run",
	.tag = "[CPU-Fi]",
	KVMFI_PRE_HOOK(symbol, cpu_reg_pre),
	KVMFI_REQUEST(KVMFI_CPU_REG_MODE_SET, cpu_reg_validate),
	KVMFI_LEGACY_LEASED("cpu-general-fi", cpu_reg_legacy_request,
		KVMFI_TIMES_KNOB,
		{ .name = "aim", .min = 1, .max = 1023, .value = 512 },
		{ .name = "lasting", .min = 0, .max = INT_MAX, .value = 0 }));
