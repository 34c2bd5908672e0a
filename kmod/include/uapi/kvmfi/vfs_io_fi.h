/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vfs-read-fi (file-read-fi.ko) and vfs-write-fi (file-write-fi.ko).
 * No arguments; kvmfi_arm.mode:
 */
#ifndef _UAPI_KVMFI_VFS_IO_FI_H
#define _UAPI_KVMFI_VFS_IO_FI_H

#define KVMFI_VFS_MODE_ERROR	0	/* the call returns -error (default EIO / ENOSPC) */
#define KVMFI_VFS_MODE_EMPTY	1	/* the call returns 0: nothing read or written */

#endif /* _UAPI_KVMFI_VFS_IO_FI_H */
