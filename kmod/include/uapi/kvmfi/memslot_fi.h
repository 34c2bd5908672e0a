/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* memslot-fi (memory.ko): memory regions or guest frames that fail. */
#ifndef _UAPI_KVMFI_MEMSLOT_FI_H
#define _UAPI_KVMFI_MEMSLOT_FI_H

#include <linux/types.h>

/* kvmfi_arm.mode */
#define KVMFI_MEMSLOT_MODE_FAIL		0	/* region: -error (default ENOMEM); frame: unbacked */
#define KVMFI_MEMSLOT_MODE_CORRUPT	1	/* a random bit 0-31 of the region's address or the gfn */

/* args.class: the original's classes */
#define KVMFI_MEMSLOT_CLASS_REGION	1	/* memory-region setup */
#define KVMFI_MEMSLOT_CLASS_GFN		2	/* guest-frame translation */

/* args.corrupt_pos: the only position that can be corrupted (not a pointer) */
#define KVMFI_MEMSLOT_POS_ADDR		2

/* kvmfi_arm.arg */
struct kvmfi_memslot_args {
	__u64 slot;		/* CLASS_REGION: memslot id + 1; 0 = every user slot */
	__u64 gfn_first;	/* CLASS_GFN: first gfn */
	__u64 gfn_end;		/* CLASS_GFN: last gfn + 1; 0 (with gfn_first 0) = every gfn */
	__u8 corrupt_pos;	/* MODE_CORRUPT: KVMFI_MEMSLOT_POS_ADDR */
	__u8 corrupt_type;	/* MODE_CORRUPT: KVMFI_BITOP_* */
	__u8 reserved0[6];
	__u64 reserved[3];
	__u64 class;		/* KVMFI_MEMSLOT_CLASS_* */
};

#endif /* _UAPI_KVMFI_MEMSLOT_FI_H */
