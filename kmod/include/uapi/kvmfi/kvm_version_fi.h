/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* kvm-version-fi (kvm-version-fi.ko): which /dev/kvm ioctls answer what. */
#ifndef _UAPI_KVMFI_KVM_VERSION_FI_H
#define _UAPI_KVMFI_KVM_VERSION_FI_H

#include <linux/types.h>

/* kvmfi_arm.mode */
#define KVMFI_KVM_VERSION_MODE_VALUE	0	/* the call returns args.value */
#define KVMFI_KVM_VERSION_MODE_ERROR	1	/* the call returns -error (default ENOMEM) */

#define KVMFI_KVM_VERSION_NR_CMDS	4
#define KVMFI_KVM_VERSION_NR_CAPS	3
/* args.cap[i] = capability | KVMFI_KVM_VERSION_CAP_VALID (0 = unused entry) */
#define KVMFI_KVM_VERSION_CAP_VALID	(1ULL << 32)

/* kvmfi_arm.arg */
struct kvmfi_kvm_version_args {
	__u64 cmd[KVMFI_KVM_VERSION_NR_CMDS];	/* ioctl numbers (0 = unused); none = KVM_GET_API_VERSION */
	__u64 cap[KVMFI_KVM_VERSION_NR_CAPS];	/* KVM_CHECK_EXTENSION: only these; none = every one */
	__s64 value;		/* MODE_VALUE: the answer (>= 0) */
};

#endif /* _UAPI_KVMFI_KVM_VERSION_FI_H */
