/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * What each kvmfi module reads from struct kvmfi_arm beyond the common
 * scope and bounds: the values of `mode` and the meaning of `arg[]`, one
 * header per tool, included here so a program needs only this one.
 *
 * A module's arguments are a struct exactly as large as kvmfi_arm.arg
 * (KVMFI_NR_ARGS * 8 bytes) that overlays it; fields a module does not
 * read are `reserved` and must be zero where the module says so. The
 * Rust crate mirrors every struct and constant (shared/src/request.rs),
 * checked by shared/tests/abi_matches_c.rs.
 */
#ifndef _UAPI_KVMFI_REQUESTS_H
#define _UAPI_KVMFI_REQUESTS_H

#include "uapi/kvmfi/bitop.h"
#include "uapi/kvmfi/vfs_io_fi.h"
#include "uapi/kvmfi/func_fail_fi.h"
#include "uapi/kvmfi/cpu_reg_main.h"
#include "uapi/kvmfi/kvm_ioctl_fi.h"
#include "uapi/kvmfi/kvm_version_fi.h"
#include "uapi/kvmfi/vcpu_state_fi.h"
#include "uapi/kvmfi/dirty_log_fi.h"
#include "uapi/kvmfi/memslot_fi.h"
#include "uapi/kvmfi/mm_fault_fi.h"
#include "uapi/kvmfi/kswapd_fi.h"
#include "uapi/kvmfi/tlb_flush_fi.h"

#endif /* _UAPI_KVMFI_REQUESTS_H */
