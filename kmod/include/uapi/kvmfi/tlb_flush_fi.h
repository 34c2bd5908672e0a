/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * tlb-flush-fi: no arguments (every kvmfi_arm.arg must be zero); the mode
 * says which module the request is for: pt-update-fi.ko takes only
 * KVMFI_TLB_FLUSH_MODE_LOSE, kvm-tlb-fi.ko only KVMFI_TLB_FLUSH_MODE_KVM_REMOTE.
 */
#ifndef _UAPI_KVMFI_TLB_FLUSH_FI_H
#define _UAPI_KVMFI_TLB_FLUSH_FI_H

#define KVMFI_TLB_FLUSH_MODE_LOSE	0	/* a process's TLB shootdowns are lost */
#define KVMFI_TLB_FLUSH_MODE_KVM_REMOTE	1	/* KVM's remote TLB flushes of a VMM's VMs are suppressed */

#endif /* _UAPI_KVMFI_TLB_FLUSH_FI_H */
