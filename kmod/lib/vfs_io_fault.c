/* SPDX-License-Identifier: GPL-2.0 */
/*
 * file-read-fi / file-write-fi: make vfs_read or vfs_write fail for a scoped
 * target (task, cgroup, and/or one file or directory tree), skipping the
 * function so that nothing is read or written.
 *
 * Included by tools/vfs_read_fi.c and tools/vfs_write_fi.c, which define
 * FILE_FI_SYMBOL, _TAG, _LEGACY_DIR, _DEFAULT_ERROR and _DESCRIPTION.
 *
 * Request (uapi/kvmfi/vfs_io_fi.h): KVMFI_VFS_MODE_ERROR, the call returns
 * -error (default EIO for read, ENOSPC for write); KVMFI_VFS_MODE_EMPTY, it
 * returns 0: an empty read or a write of nothing (the original `type 0`,
 * "count forced to 0").
 * Legacy /proc/<dir>/{signal,times,type}: type 0 = MODE_EMPTY, type 1 = EFAULT
 * (the original forced the buffer to NULL, which made the call fail so).
 */
#include <linux/fs.h>
#include <linux/module.h>
#include "kvmfi_core.c"

KVMFI_FUNCTION_PARAM(symbol, FILE_FI_SYMBOL, "function to probe, taking (struct file *, buf, count, pos) (default " FILE_FI_SYMBOL ")");

static int file_fi_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct kvmfi_fault *f;
	int skipped = 0;

	rcu_read_lock();
	f = kvmfi_enter();
	if (f && kvmfi_file_in_scope(f, (struct file *)regs_get_kernel_argument(regs, 0)) &&
	    kvmfi_decide(f, regs_get_kernel_argument(regs, 2))) {
		long ret = f->arm.mode == KVMFI_VFS_MODE_EMPTY ? 0 : kvmfi_error(f);

		skipped = kvmfi_skip_return(f, regs, "return", ret);
	}
	rcu_read_unlock();
	return skipped;
}
NOKPROBE_SYMBOL(file_fi_pre);

static int file_fi_legacy_request(struct kvmfi_arm *req)
{
	if (kvmfi_knob("type") == 0) {
		req->mode = KVMFI_VFS_MODE_EMPTY;
	} else {
		req->mode = KVMFI_VFS_MODE_ERROR;
		req->error = EFAULT;
	}
	return 0;
}

KVMFI_MODULE(FILE_FI_DESCRIPTION,
	.tag = FILE_FI_TAG,
	KVMFI_PRE_HOOK(symbol, file_fi_pre),
	.default_error = FILE_FI_DEFAULT_ERROR,
	KVMFI_REQUEST(KVMFI_VFS_MODE_EMPTY, NULL),
	KVMFI_LEGACY(FILE_FI_LEGACY_DIR, file_fi_legacy_request,
		KVMFI_TIMES_KNOB,
		{ .name = "type", .min = 0, .max = 1, .value = 0 }));
