/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* func-fail-fi (func-fail-fi.ko): what the skipped function returns. */
#ifndef _UAPI_KVMFI_FUNC_FAIL_FI_H
#define _UAPI_KVMFI_FUNC_FAIL_FI_H

#include <linux/types.h>

/* kvmfi_arm.mode */
#define KVMFI_FUNC_FAIL_MODE_ERRNO	0	/* -error */
#define KVMFI_FUNC_FAIL_MODE_ZERO	1	/* 0 (NULL for pointer functions) */
#define KVMFI_FUNC_FAIL_MODE_VALUE	2	/* args.value as is */

/* kvmfi_arm.arg */
struct kvmfi_func_fail_args {
	__s64 value;		/* KVMFI_FUNC_FAIL_MODE_VALUE: the return value */
	__u64 reserved[7];
};

#endif /* _UAPI_KVMFI_FUNC_FAIL_FI_H */
