/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* kvm-ioctl-fi (resource.ko): which KVM ioctls fail, or are corrupted. */
#ifndef _UAPI_KVMFI_KVM_IOCTL_FI_H
#define _UAPI_KVMFI_KVM_IOCTL_FI_H

#include <linux/types.h>

/* kvmfi_arm.mode */
#define KVMFI_KVM_IOCTL_MODE_ERROR	0	/* the call returns -error (default EPERM) */
#define KVMFI_KVM_IOCTL_MODE_CORRUPT	1	/* a random bit 0-31 of the command or argument changes */

/* args.fds: which file's ioctls */
#define KVMFI_KVM_IOCTL_FD_VM	(1U << 0)
#define KVMFI_KVM_IOCTL_FD_VCPU	(1U << 1)

/* args.corrupt_pos: the original's argument positions */
#define KVMFI_KVM_IOCTL_POS_CMD	1	/* the ioctl command number */
#define KVMFI_KVM_IOCTL_POS_ARG	2	/* its argument */

#define KVMFI_KVM_IOCTL_NR_CMDS	6

/* kvmfi_arm.arg */
struct kvmfi_kvm_ioctl_args {
	__u64 cmd[KVMFI_KVM_IOCTL_NR_CMDS];	/* ioctl numbers (0 = unused); none = every command */
	__u64 fds;		/* KVMFI_KVM_IOCTL_FD_*; 0 = VM ioctls only */
	__u8 corrupt_pos;	/* MODE_CORRUPT: KVMFI_KVM_IOCTL_POS_* */
	__u8 corrupt_type;	/* MODE_CORRUPT: KVMFI_BITOP_* */
	__u8 reserved[6];	/* must be zero */
};

#endif /* _UAPI_KVMFI_KVM_IOCTL_FI_H */
