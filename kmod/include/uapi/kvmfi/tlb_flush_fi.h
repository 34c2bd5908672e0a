/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * tlb-flush-fi (pt-update-fi.ko): no mode and no arguments: kvmfi_arm.mode
 * and every kvmfi_arm.arg must be zero.
 */
#ifndef _UAPI_KVMFI_TLB_FLUSH_FI_H
#define _UAPI_KVMFI_TLB_FLUSH_FI_H

#define KVMFI_TLB_FLUSH_MODE_LOSE	0	/* the only mode: shootdowns are lost */

#endif /* _UAPI_KVMFI_TLB_FLUSH_FI_H */
