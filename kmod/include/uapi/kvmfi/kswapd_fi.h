/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* kswapd-fi (kswapd-fi.ko): reclaim delayed or skipped, and whose. */
#ifndef _UAPI_KVMFI_KSWAPD_FI_H
#define _UAPI_KVMFI_KSWAPD_FI_H

#include <linux/types.h>

/* kvmfi_arm.mode */
#define KVMFI_KSWAPD_MODE_DELAY	0	/* busy-wait args.delay_ms, then reclaim as usual */
#define KVMFI_KSWAPD_MODE_SKIP	1	/* shrink_node returns at once */

/* args.who */
#define KVMFI_KSWAPD_WHO_KSWAPD	0	/* kswapd only (and the scope filter, if any) */
#define KVMFI_KSWAPD_WHO_DIRECT	1	/* direct reclaim of the tasks in scope; needs a scope */

#define KVMFI_KSWAPD_MAX_DELAY_MS	1000

/* kvmfi_arm.arg */
struct kvmfi_kswapd_args {
	__u64 delay_ms;		/* MODE_DELAY: 1..KVMFI_KSWAPD_MAX_DELAY_MS; MODE_SKIP: 0 */
	__u64 who;		/* KVMFI_KSWAPD_WHO_* */
	__u64 reserved[6];	/* must be zero */
};

#endif /* _UAPI_KVMFI_KSWAPD_FI_H */
