// SPDX-License-Identifier: GPL-2.0
/* file-read-fi: vfs_read fails (or reads nothing) for a scoped target. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#define FILE_FI_SYMBOL		"vfs_read"
#define FILE_FI_TAG		"[ARM-Fi-Read]"
#define FILE_FI_LEGACY_DIR	"file-read-fi"
#define FILE_FI_DEFAULT_ERROR	EIO
#define FILE_FI_DESCRIPTION	"kvmfi: make vfs_read fail for a chosen process, cgroup, file or tree"
#include "vfs_io_fault.c"
