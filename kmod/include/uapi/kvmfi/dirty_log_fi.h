/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* dirty-log-fi (vm-migration-fi.ko): which dirty bits KVM_GET_DIRTY_LOG loses. */
#ifndef _UAPI_KVMFI_DIRTY_LOG_FI_H
#define _UAPI_KVMFI_DIRTY_LOG_FI_H

#include <linux/types.h>

/* kvmfi_arm.mode: flags */
#define KVMFI_DIRTY_LOG_RANDOM	(1U << 0)	/* random (seeded) choice, not every N-th bit */
#define KVMFI_DIRTY_LOG_ADD	(1U << 1)	/* add spurious bits instead of dropping */

#define KVMFI_DIRTY_LOG_PPM	1000000ULL	/* args.ppm of every bit */

/* kvmfi_arm.arg */
struct kvmfi_dirty_log_args {
	__u64 ppm;		/* share of bits, parts per million (1..KVMFI_DIRTY_LOG_PPM) */
	__u64 seed;		/* KVMFI_DIRTY_LOG_RANDOM: seed of the choice */
	__u64 slot;		/* slot + 1 (address space in bits 16-31 of the slot); 0 = every slot */
	__u64 reserved[5];
};

#endif /* _UAPI_KVMFI_DIRTY_LOG_FI_H */
