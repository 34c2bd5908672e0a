// SPDX-License-Identifier: GPL-2.0
/*
 * kswapd-fi: memory reclaim of one node is delayed or skipped, for kswapd
 * or for the direct reclaim of a scoped target (a task, a cgroup).
 *
 * Where: shrink_node(pgdat, sc), entry. kswapd reaches it through
 * balance_pgdat(); direct reclaim, global or of a memory cgroup over its
 * limit (try_to_free_mem_cgroup_pages), through do_try_to_free_pages() and
 * shrink_zones(). It returns nothing and reports progress in *sc, so
 * skipping it is "this pass reclaimed nothing": the caller retries, then
 * gives up (kswapd marks the node hopeless after MAX_RECLAIM_RETRIES; a
 * cgroup charge ends in the cgroup's OOM killer; a global allocation in
 * the global one). No pointer is ever changed (the original tool NULLed
 * pgdat, which oopses).
 *
 * Request (uapi/kvmfi/kswapd_fi.h):
 *   mode   DELAY: busy-wait delay_ms milliseconds (1-1000), then reclaim
 *              as usual (the original's busy delay; the probe handler runs
 *              with preemption disabled, so keep it short);
 *          SKIP: shrink_node returns at once.
 *   who    KSWAPD: kswapd only (tasks with PF_KSWAPD, and the scope filter if
 *              any, e.g. comm kswapd0);
 *          DIRECT: direct reclaim by the tasks in scope (never kswapd); needs a
 *              scope filter (pid, tgid, comm or cgroup).
 *
 * Legacy /proc/kswapd-fi/{signal,times}: skip, kswapd only, 10-minute lease.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/module.h>
#include <linux/sched.h>
#include "kvmfi_core.c"

#define kswapd_args(arm) kvmfi_args(arm, struct kvmfi_kswapd_args)

KVMFI_FUNCTION_PARAM(symbol, "shrink_node", "function to probe, reclaiming one node and returning nothing (default shrink_node)");

static int kswapd_fi_pre(struct kprobe *p, struct pt_regs *regs)
{
	bool is_kswapd = current->flags & PF_KSWAPD;
	const struct kvmfi_kswapd_args *a;
	struct kvmfi_fault *f;
	int skipped = 0;
	unsigned long ms = 0;

	rcu_read_lock();
	f = kvmfi_enter();
	a = f ? kswapd_args(&f->arm) : NULL;
	if (a && is_kswapd == (a->who == KVMFI_KSWAPD_WHO_KSWAPD) && kvmfi_decide(f, 1)) {
		unsigned long node = regs_get_kernel_argument(regs, 0) ?
			((pg_data_t *)regs_get_kernel_argument(regs, 0))->node_id : 0;

		if (f->arm.mode == KVMFI_KSWAPD_MODE_SKIP) {
			/* Event: value = 0 (nothing reclaimed), detail = node. */
			kvmfi_injected_detail(f, 0, "skip", 0, node, 0);
			skipped = kvmfi_skip(regs, 0);
		} else {
			ms = a->delay_ms;
			/* Event: value = the delay in ms, detail = node. */
			kvmfi_injected_detail(f, 0, "delay", ms, node, 0);
		}
	}
	rcu_read_unlock();
	if (ms)
		mdelay(ms);	/* busy: a probe handler cannot sleep */
	return skipped;
}
NOKPROBE_SYMBOL(kswapd_fi_pre);

static int kswapd_fi_validate(struct kvmfi_fault *f)
{
	const struct kvmfi_kswapd_args *a = kswapd_args(&f->arm);

	if (a->who > KVMFI_KSWAPD_WHO_DIRECT)
		return -EINVAL;
	if (f->arm.mode == KVMFI_KSWAPD_MODE_DELAY &&
	    (a->delay_ms < 1 || a->delay_ms > KVMFI_KSWAPD_MAX_DELAY_MS))
		return -EINVAL;
	if (f->arm.mode == KVMFI_KSWAPD_MODE_SKIP && a->delay_ms)
		return -EINVAL;
	/* Direct reclaim of everybody would be a global fault: needs a scope. */
	if (a->who == KVMFI_KSWAPD_WHO_DIRECT &&
	    !(f->arm.filter & (KVMFI_FILTER_PID | KVMFI_FILTER_TGID | KVMFI_FILTER_COMM | KVMFI_FILTER_CGROUP)))
		return -EINVAL;
	if (!kvmfi_all_zero(a->reserved, sizeof(a->reserved)))
		return -EINVAL;
	return 0;
}

static int kswapd_fi_legacy_request(struct kvmfi_arm *req)
{
	req->mode = KVMFI_KSWAPD_MODE_SKIP;
	kswapd_args(req)->who = KVMFI_KSWAPD_WHO_KSWAPD;
	return 0;
}

KVMFI_MODULE("kvmfi: delay or skip memory reclaim (shrink_node) for kswapd or a chosen process or cgroup",
	.tag = "[ARM-Kswapd-Fi]",
	KVMFI_PRE_HOOK(symbol, kswapd_fi_pre),
	KVMFI_REQUEST(KVMFI_KSWAPD_MODE_SKIP, kswapd_fi_validate),
	KVMFI_LEGACY_LEASED("kswapd-fi", kswapd_fi_legacy_request, KVMFI_TIMES_KNOB));
