// SPDX-License-Identifier: GPL-2.0
/*
 * kvmfi-empty-fprobe: an fprobe (ftrace-based, no breakpoint and no
 * single-step) whose entry handler does nothing: the floor under the kprobe
 * hooks in `make bench`. Kernels without CONFIG_FPROBE (before 5.18; Debian
 * 6.1 x86_64, arm64 before 6.14) refuse to load it. Never installed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/module.h>
#include "kvmfi_compat.h"

static char symbol[KSYM_NAME_LEN] = "vfs_read";
module_param_string(symbol, symbol, sizeof(symbol), 0444);
MODULE_PARM_DESC(symbol, "function to probe (default vfs_read)");

#if KVMFI_HAVE_FPROBE
KVMFI_FPROBE_ENTRY(empty_entry)
{
	KVMFI_FPROBE_RETURN;
}

static struct fprobe empty_fp = {
	.entry_handler = empty_entry,
};

static int __init empty_init(void)
{
	return register_fprobe(&empty_fp, symbol, NULL);
}

static void __exit empty_exit(void)
{
	unregister_fprobe(&empty_fp);
}
module_exit(empty_exit);
#else
static int __init empty_init(void)
{
	pr_err("this kernel has no fprobe (CONFIG_FPROBE) to put on %s\n", symbol);
	return -EOPNOTSUPP;
}
#endif

module_init(empty_init);
MODULE_DESCRIPTION("kvmfi benchmark reference: an empty fprobe");
MODULE_LICENSE("GPL");
