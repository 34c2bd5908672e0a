/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the KVM-layer modules (resource, memory, kvm-state-fi,
 * kvm-version-fi, vm-migration-fi). Included after kvmfi_core.c.
 */
#ifndef KVM_FI_H
#define KVM_FI_H

#include <linux/kvm.h>
#include <linux/random.h>

/* The legacy bit operations of the original tools, on a random bit 0-31. */

static u64 kvm_fi_bitop(u64 value, unsigned int type)
{
	u64 bit = 1ULL << (get_random_u32() % 32);

	switch (type) {
	case KVMFI_BITOP_FLIP:
		return value ^ bit;
	case KVMFI_BITOP_SET:
		return value | bit;
	case KVMFI_BITOP_CLEAR:
		return value & ~bit;
	}
	return value;
}
NOKPROBE_SYMBOL(kvm_fi_bitop);

/*
 * Overwrites integer argument @n (0-based) of the probed function, from a
 * pre-handler at its entry. Only for arguments that are plain values, never
 * for kernel pointers.
 */
static void kvm_fi_set_arg(struct pt_regs *regs, unsigned int n, unsigned long value)
{
#if defined(CONFIG_X86_64)
	switch (n) {
	case 0: regs->di = value; break;
	case 1: regs->si = value; break;
	case 2: regs->dx = value; break;
	case 3: regs->cx = value; break;
	case 4: regs->r8 = value; break;
	case 5: regs->r9 = value; break;
	}
#elif defined(CONFIG_ARM64)
	if (n < 8)
		regs->regs[n] = value;
#endif
}
NOKPROBE_SYMBOL(kvm_fi_set_arg);

/*
 * True when @cmd is among the @nr ioctl numbers in @list (0 = unused
 * entry); an empty list matches every command.
 */
static bool kvm_fi_cmd_in(const u64 *list, unsigned int nr, unsigned int cmd)
{
	bool any = false;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (!list[i])
			continue;
		any = true;
		if ((unsigned int)list[i] == cmd)
			return true;
	}
	return !any;
}
NOKPROBE_SYMBOL(kvm_fi_cmd_in);

#endif /* KVM_FI_H */
