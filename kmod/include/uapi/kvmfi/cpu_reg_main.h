/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* cpu-reg-main (cpu-reg.ko): the register of a new task that is corrupted. */
#ifndef _UAPI_KVMFI_CPU_REG_MAIN_H
#define _UAPI_KVMFI_CPU_REG_MAIN_H

#include <linux/types.h>

/* kvmfi_arm.mode */
#define KVMFI_CPU_REG_MODE_FLIP	0	/* flip args.bit of the register */
#define KVMFI_CPU_REG_MODE_SET	1	/* set the register to args.value */

/*
 * args.reg: a general register number (arm64 0-30 = X0-X30; x86_64 0-14 =
 * RAX RBX RCX RDX RSI RDI RBP R8-R15), or one of these.
 */
#define KVMFI_CPU_REG_SP	31
#define KVMFI_CPU_REG_PC	32
#define KVMFI_CPU_REG_FLAGS	33	/* arm64 PSTATE, x86_64 RFLAGS */
#define KVMFI_CPU_REG_RANDOM	64	/* a random general register */

/* args.bit: 0-63, or this */
#define KVMFI_CPU_REG_BIT_RANDOM	64

/* kvmfi_arm.arg */
struct kvmfi_cpu_reg_args {
	__u64 reg;		/* KVMFI_CPU_REG_* or a general register number */
	__u64 bit;		/* KVMFI_CPU_REG_MODE_FLIP: 0-63 or KVMFI_CPU_REG_BIT_RANDOM */
	__u64 value;		/* KVMFI_CPU_REG_MODE_SET */
	__u64 seed;		/* of the bit/register choice; 0 = the kernel's random */
	__u64 reserved[4];	/* must be zero */
};

#endif /* _UAPI_KVMFI_CPU_REG_MAIN_H */
