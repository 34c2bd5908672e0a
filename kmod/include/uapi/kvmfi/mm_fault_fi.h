/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* mm-fault-fi (pt-load-fi.ko): how page faults fail, and where. */
#ifndef _UAPI_KVMFI_MM_FAULT_FI_H
#define _UAPI_KVMFI_MM_FAULT_FI_H

#include <linux/types.h>

/* kvmfi_arm.mode: what handle_mm_fault returns */
#define KVMFI_MM_FAULT_SIGSEGV	0	/* VM_FAULT_SIGSEGV */
#define KVMFI_MM_FAULT_SIGBUS	1	/* VM_FAULT_SIGBUS */
#define KVMFI_MM_FAULT_OOM	2	/* VM_FAULT_OOM (retried) */

/* kvmfi_arm.arg */
struct kvmfi_mm_fault_args {
	__u64 addr_start;	/* address range [addr_start, addr_end); 0, 0 = every address */
	__u64 addr_end;
	__u64 reserved[6];	/* must be zero */
};

#endif /* _UAPI_KVMFI_MM_FAULT_FI_H */
