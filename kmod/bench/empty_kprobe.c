// SPDX-License-Identifier: GPL-2.0
/*
 * kvmfi-empty-kprobe: a kprobe whose handler does nothing, the reference
 * point of `make bench` (the cost of merely probing a function). Not a
 * fault tool; never installed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/module.h>

static char symbol[KSYM_NAME_LEN] = "vfs_read";
module_param_string(symbol, symbol, sizeof(symbol), 0444);
MODULE_PARM_DESC(symbol, "function to probe (default vfs_read)");

static int empty_pre(struct kprobe *p, struct pt_regs *regs)
{
	return 0;
}
NOKPROBE_SYMBOL(empty_pre);

static void empty_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}
NOKPROBE_SYMBOL(empty_post);

/* Same shape as the kvmfi core's probes (a post handler: never jump-optimized). */
static struct kprobe empty_kp = {
	.pre_handler = empty_pre,
	.post_handler = empty_post,
};

static int __init empty_init(void)
{
	empty_kp.symbol_name = symbol;
	return register_kprobe(&empty_kp);
}

static void __exit empty_exit(void)
{
	unregister_kprobe(&empty_kp);
}

module_init(empty_init);
module_exit(empty_exit);
MODULE_DESCRIPTION("kvmfi benchmark reference: an empty kprobe");
MODULE_LICENSE("GPL");
