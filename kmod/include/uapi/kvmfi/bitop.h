/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The original KVM tools' bit operations on a random bit 0-31 (their
 * `type` knob), used by kvm-ioctl-fi and memslot-fi's corruption mode.
 */
#ifndef _UAPI_KVMFI_BITOP_H
#define _UAPI_KVMFI_BITOP_H

#define KVMFI_BITOP_FLIP	1
#define KVMFI_BITOP_SET		2
#define KVMFI_BITOP_CLEAR	3

#endif /* _UAPI_KVMFI_BITOP_H */
