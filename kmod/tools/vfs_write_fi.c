// SPDX-License-Identifier: GPL-2.0
/* file-write-fi: vfs_write fails (nothing is written) for a scoped target. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#define FILE_FI_SYMBOL		"vfs_write"
#define FILE_FI_TAG		"[ARM-Fi-Write]"
#define FILE_FI_LEGACY_DIR	"file-write-fi"
#define FILE_FI_DEFAULT_ERROR	ENOSPC
#define FILE_FI_DESCRIPTION	"kvmfi: make vfs_write fail for a chosen process, cgroup, file or tree; nothing is written"
#include "vfs_io_fault.c"
