// SPDX-License-Identifier: GPL-2.0
/*
 * kvmfi core: what a probe handler calls, in order: kvmfi_enter() (scope;
 * kvmfi_enter_return() in a kretprobe's return handler),
 * the module's own scope (kvmfi_file_in_scope()), kvmfi_decide() (bounds),
 * kvmfi_injected() (accounting and event). Never sleeps, never takes
 * kvmfi.lock. #included by kvmfi_core.c.
 */

/* ------------------------------------------------------------------ */
/* Hot path                                                            */
/* ------------------------------------------------------------------ */

static bool kvmfi_task_matches(const struct kvmfi_fault *f)
{
	u32 filter = f->arm.filter;

	if ((filter & KVMFI_FILTER_PID) && current->pid != f->pid)
		return false;
	if ((filter & KVMFI_FILTER_TGID) && current->tgid != f->tgid)
		return false;
	if ((filter & KVMFI_FILTER_COMM) &&
	    strncmp(current->comm, f->arm.comm, KVMFI_COMM_LEN) != 0)
		return false;
#ifdef CONFIG_CGROUPS
	if ((filter & KVMFI_FILTER_CGROUP) &&
	    !cgroup_is_descendant(task_dfl_cgroup(current), f->cgrp))
		return false;
#endif
	return true;
}
NOKPROBE_SYMBOL(kvmfi_task_matches);

/*
 * First step of every handler: the armed fault if the current task is in
 * scope, else NULL. Caller holds rcu_read_lock(). Costs one load when
 * disarmed and a few compares when armed for another task.
 */
static __always_inline struct kvmfi_fault *kvmfi_enter(void)
{
	struct kvmfi_fault *f = rcu_dereference(kvmfi.fault);

	if (!f)
		return NULL;
	this_cpu_inc(*kvmfi.hits);
	if (f->arm.probability == 0 || !kvmfi_task_matches(f))
		return NULL;
	return f;
}

/*
 * First step of a kretprobe return handler whose entry handler checked the
 * scope: the armed fault if the probed call succeeded (returned 0), else
 * NULL. Caller holds rcu_read_lock().
 */
static __always_inline struct kvmfi_fault *kvmfi_enter_return(struct pt_regs *regs)
{
	return regs_return_value(regs) ? NULL : rcu_dereference(kvmfi.fault);
}

/*
 * In a pre handler that several hooks share: the `data` of the hook whose
 * kprobe @p fired (the core registers hooks[i].kp).
 */
static __always_inline unsigned long kvmfi_hook_data(struct kprobe *p)
{
	return container_of(p, struct kvmfi_hook, kp)->data;
}

/* True when @file is the armed path or lies below the armed directory. */
static __maybe_unused bool kvmfi_file_in_scope(const struct kvmfi_fault *f, const struct file *file)
{
	const struct dentry *d;
	int depth;

	if (!(f->arm.filter & KVMFI_FILTER_PATH))
		return true;
	if (!file)
		return false;
	d = file->f_path.dentry;
	for (depth = 0; d && depth < KVMFI_PATH_DEPTH; depth++) {
		const struct inode *inode = READ_ONCE(d->d_inode);

		if (inode && inode->i_ino == f->path_ino &&
		    inode->i_sb->s_dev == f->path_dev)
			return true;
		if (!f->path_dir || IS_ROOT(d))
			break;
		d = READ_ONCE(d->d_parent);
	}
	return false;
}
NOKPROBE_SYMBOL(kvmfi_file_in_scope);

/* Leases end on time even while the normal-priority kworkers are busy. */
#define KVMFI_EXPIRE_WQ system_highpri_wq

static void kvmfi_schedule_expire(void)
{
	mod_delayed_work(KVMFI_EXPIRE_WQ, &kvmfi.expire, 0);
}
NOKPROBE_SYMBOL(kvmfi_schedule_expire);

/* Uniform integer in [0, 100) without modulo bias worth speaking of. */
static u32 kvmfi_random_percent(void)
{
	return (u32)(((u64)get_random_u32() * 100) >> 32);
}
NOKPROBE_SYMBOL(kvmfi_random_percent);

/*
 * The bounds, in the order of lib/fault-inject.c: lease, times, space,
 * interval, probability. @size feeds `space` (bytes for I/O hooks, 1 for
 * others). Counts the call as matched; consumes one `times` on success.
 */
static bool kvmfi_decide(struct kvmfi_fault *f, u64 size)
{
	atomic64_inc(&kvmfi.matched);

	if (f->deadline && time_after_eq(jiffies, f->deadline)) {
		kvmfi_schedule_expire();
		return false;
	}
	if (f->arm.times >= 0 && atomic64_read(&kvmfi.remaining) <= 0)
		return false;
	if (f->arm.space) {
		if (atomic64_sub_return(size, &kvmfi.space) >= 0)
			return false;
		atomic64_set(&kvmfi.space, -1);
	}
	if (f->arm.interval > 1 &&
	    atomic64_inc_return(&kvmfi.calls) % f->arm.interval != 0)
		return false;
	if (f->arm.probability < 100 &&
	    kvmfi_random_percent() >= f->arm.probability)
		return false;
	if (f->arm.times >= 0) {
		s64 left = atomic64_dec_if_positive(&kvmfi.remaining);

		if (left < 0)
			return false;
		if (left == 0)
			kvmfi_schedule_expire();
	}
	return true;
}
NOKPROBE_SYMBOL(kvmfi_decide);

/*
 * Account one injection, record it in the event ring and, at verbose >= 1,
 * say what was done in the original tools' dmesg style. @what names the
 * fault ("return", "flip-pc", ...), @value is what was injected, @d0/@d1
 * module-specific details (register and bit, bits dropped, address, ...).
 */
static void kvmfi_injected_detail(const struct kvmfi_fault *f, u32 hook, const char *what,
				  long long value, u64 d0, u64 d1)
{
	atomic64_inc(&kvmfi.injected);
	kvmfi_event(KVMFI_EVENT_INJECT, f->arm.experiment_id, hook, what, value, d0, d1);
	if (f->arm.verbose >= 1)
		pr_info_ratelimited("%s exp %016llx injected %s %lld into pid %d tgid %d comm %s\n",
				    kvmfi.ops->tag, f->arm.experiment_id, what, value,
				    current->pid, current->tgid, current->comm);
	if (f->arm.verbose >= 2)
		dump_stack();
}
NOKPROBE_SYMBOL(kvmfi_injected_detail);

/* The common case: no hook index, no details. */
#define kvmfi_injected(f, what, value) kvmfi_injected_detail(f, 0, what, value, 0, 0)

/*
 * The probed function returns @retval instead of running: records the
 * injection (@what, value @retval) and skips the body (see kvmfi_skip()).
 * Returns 1, what the kprobe pre-handler must then return.
 */
static __always_inline int kvmfi_skip_return(struct kvmfi_fault *f, struct pt_regs *regs,
					     const char *what, long retval)
{
	kvmfi_injected(f, what, retval);
	return kvmfi_skip(regs, retval);
}

/* The errno of the armed fault as a negative return value. */
static __always_inline long kvmfi_error(const struct kvmfi_fault *f)
{
	return -(long)f->arm.error;
}
