/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* vcpu-state-fi (kvm-state-fi.ko): the register a VMM reads, and how it lies. */
#ifndef _UAPI_KVMFI_VCPU_STATE_FI_H
#define _UAPI_KVMFI_VCPU_STATE_FI_H

#include <linux/types.h>

/* kvmfi_arm.mode */
#define KVMFI_VCPU_STATE_MODE_XOR	0	/* value ^= args.value */
#define KVMFI_VCPU_STATE_MODE_SET	1	/* value = args.value */
#define KVMFI_VCPU_STATE_MODE_FLIP	2	/* a random bit 0-31 flips */

/* kvmfi_arm.arg */
struct kvmfi_vcpu_state_args {
	/*
	 * x86_64: byte offset in struct kvm_regs (rip = 128, rflags = 136);
	 * arm64: the KVM_GET_ONE_REG id of a 64-bit core register.
	 */
	__u64 reg;
	__u64 value;		/* MODE_XOR: mask; MODE_SET: value */
	__u64 reserved[6];
};

#endif /* _UAPI_KVMFI_VCPU_STATE_FI_H */
