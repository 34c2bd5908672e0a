// SPDX-License-Identifier: GPL-2.0
/*
 * kvmfi module core, included once by every module (see kvmfi_core.h).
 *
 * Locking: `kvmfi.lock` (a mutex) serialises arm, disarm, status and the
 * legacy knobs. The hot path never takes it: it reads the armed fault with
 * RCU and updates only atomics and per-CPU counters. A disarm unpublishes the
 * fault, disables the probes and waits for an RCU grace period before freeing.
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/ptrace.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/workqueue.h>

#include "kvmfi_core.h"

/* The layout the Rust mirror asserts too (shared/src/abi.rs). */
static_assert(sizeof(struct kvmfi_arm) == 184);
static_assert(sizeof(struct kvmfi_status) == 352);
static_assert(sizeof(struct kvmfi_version) == 88);
static_assert(offsetof(struct kvmfi_arm, arg) == 88);
static_assert(offsetof(struct kvmfi_status, armed) == 136);
static_assert(sizeof(struct kvmfi_event) == 96);
static_assert(sizeof(struct kvmfi_events) == 64);

/* Walk at most this many directory levels when matching a path tree. */
#define KVMFI_PATH_DEPTH 64

static struct {
	const struct kvmfi_ops *ops;
	struct kvmfi_fault __rcu *fault;
	struct mutex lock;
	struct delayed_work expire;	/* lease, times reached, deadline seen */
	u64 __percpu *hits;
	atomic64_t matched;
	atomic64_t injected;
	atomic64_t remaining;
	atomic64_t calls;		/* for interval */
	atomic64_t space;
	u64 experiment_id;
	u32 last_end;
	struct kvmfi_arm last_arm;
	struct miscdevice misc;
	char devname[KVMFI_NAME_LEN + 8];
	struct proc_dir_entry *proc;
	bool enabled;			/* probes enabled */
	struct kvmfi_event *ring;	/* the last KVMFI_EVENT_RING events */
	atomic64_t ev_head;		/* sequence number of the next event */
} kvmfi;

/* ------------------------------------------------------------------ */
/* Skipping a probed function                                          */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_X86_64
/*
 * Where a skipped call "returns": an empty function is a bare `ret` (or a
 * jump to the return thunk) that leaves %rax, already set to the injected
 * value, alone. Popping the return address by hand instead breaks
 * ftrace-based kprobes, which ignore a changed stack pointer.
 */
static noinline notrace void kvmfi_ret_stub(void)
{
	asm volatile ("");
}
NOKPROBE_SYMBOL(kvmfi_ret_stub);
#endif

/*
 * Make the probed function return @retval to its caller without running its
 * body. Only valid from a kprobe pre-handler at the function's entry, which
 * must then return 1. A kretprobe cannot do this: it rewrites the value only
 * after the body has already had its effects.
 */
static __always_inline void kvmfi_skip(struct pt_regs *regs, long retval)
{
	regs_set_return_value(regs, retval);
#if defined(CONFIG_X86_64)
	instruction_pointer_set(regs, (unsigned long)kvmfi_ret_stub);
#elif defined(CONFIG_ARM64)
	instruction_pointer_set(regs, procedure_link_pointer(regs));
#else
#error "kvmfi: skipping a function is implemented for x86_64 and arm64 only"
#endif
}

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

/* An in-progress slot: readers skip it. */
#define KVMFI_SEQ_BUSY (~0ULL)

/*
 * Appends an event to the ring. Lock-free and safe in probe handlers: a
 * writer claims a sequence number, fills its slot, then publishes the
 * number; readers check it before and after copying (a seqcount per slot).
 */
static void kvmfi_event_at(u64 time_ns, u32 type, u64 experiment_id, u32 hook,
			   const char *what, s64 value, u64 d0, u64 d1)
{
	u64 seq = atomic64_inc_return(&kvmfi.ev_head) - 1;
	struct kvmfi_event *e = &kvmfi.ring[seq % KVMFI_EVENT_RING];

	WRITE_ONCE(e->seq, KVMFI_SEQ_BUSY);
	smp_wmb();
	e->time_ns = time_ns;
	e->experiment_id = experiment_id;
	e->pid = current->pid;
	e->tgid = current->tgid;
	memcpy(e->comm, current->comm, KVMFI_COMM_LEN);
	e->comm[KVMFI_COMM_LEN - 1] = '\0';
	e->type = type;
	e->hook = hook;
	e->value = value;
	e->detail[0] = d0;
	e->detail[1] = d1;
	strscpy(e->what, what, sizeof(e->what));
	smp_wmb();
	WRITE_ONCE(e->seq, seq);
}
NOKPROBE_SYMBOL(kvmfi_event_at);

static void kvmfi_event(u32 type, u64 experiment_id, u32 hook, const char *what,
			s64 value, u64 d0, u64 d1)
{
	kvmfi_event_at(ktime_get_boottime_ns(), type, experiment_id, hook, what, value, d0, d1);
}
NOKPROBE_SYMBOL(kvmfi_event);

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

/* The errno of the armed fault as a negative return value. */
static __always_inline long kvmfi_error(const struct kvmfi_fault *f)
{
	return -(long)f->arm.error;
}

/* ------------------------------------------------------------------ */
/* Hooks                                                               */
/* ------------------------------------------------------------------ */

static void kvmfi_dummy_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
	/* Present only so the probe is never jump-optimized: skipping needs a trap. */
}
NOKPROBE_SYMBOL(kvmfi_dummy_post);

static void kvmfi_unregister_hooks(void)
{
	const struct kvmfi_ops *ops = kvmfi.ops;
	int i;

	for (i = ops->nr_hooks - 1; i >= 0; i--) {
		struct kvmfi_hook *h = &ops->hooks[i];

		if (!h->registered)
			continue;
		if (h->ret_probe) {
			unregister_kretprobe(&h->krp);
			if (h->krp.nmissed)
				pr_info("%s: kretprobe missed %d instances (maxactive %d)\n",
					h->symbol, h->krp.nmissed, h->krp.maxactive);
		} else {
			unregister_kprobe(&h->kp);
		}
		h->registered = false;
	}
}

/* Registers one hook, disabled, at h->symbol. */
static int kvmfi_register_hook(struct kvmfi_hook *h)
{
	if (h->ret_probe) {
		memset(&h->krp, 0, sizeof(h->krp));
		h->krp.kp.symbol_name = h->symbol;
		h->krp.kp.offset = h->offset;
		h->krp.kp.flags = KPROBE_FLAG_DISABLED;
		h->krp.entry_handler = h->entry;
		h->krp.handler = h->handler;
		h->krp.data_size = h->data_size;
		h->krp.maxactive = h->maxactive ? h->maxactive : 4 * num_possible_cpus();
		return register_kretprobe(&h->krp);
	}
	memset(&h->kp, 0, sizeof(h->kp));
	h->kp.symbol_name = h->symbol;
	h->kp.offset = h->offset;
	h->kp.flags = KPROBE_FLAG_DISABLED;
	h->kp.pre_handler = h->pre;
	h->kp.post_handler = kvmfi_dummy_post;
	return register_kprobe(&h->kp);
}

/* Whether an earlier registered hook already probes h's function. */
static bool kvmfi_hook_taken(const struct kvmfi_ops *ops, unsigned int i)
{
	unsigned int j;

	for (j = 0; j < i; j++)
		if (ops->hooks[j].registered && ops->hooks[j].offset == ops->hooks[i].offset &&
		    !strcmp(ops->hooks[j].symbol, ops->hooks[i].symbol))
			return true;
	return false;
}

/* Registers every hook disabled: a disarmed module costs nothing. */
static int kvmfi_register_hooks(void)
{
	const struct kvmfi_ops *ops = kvmfi.ops;
	unsigned int i;
	int err;

	for (i = 0; i < ops->nr_hooks; i++) {
		struct kvmfi_hook *h = &ops->hooks[i];
		const char *const *fb = h->fallbacks;
		char first[KSYM_NAME_LEN];

		if (!h->symbol[0]) {
			if (h->optional)
				continue;
			err = -EINVAL;
			goto err_unregister;
		}
		if (h->optional && kvmfi_hook_taken(ops, i)) {
			pr_info("optional hook %s is already probed by another hook, skipped\n", h->symbol);
			continue;
		}
		strscpy(first, h->symbol, sizeof(first));
		err = kvmfi_register_hook(h);
		while (err == -ENOENT && fb && *fb) {
			strscpy(h->symbol, *fb++, KSYM_NAME_LEN);
			err = kvmfi_register_hook(h);
		}
		if (err) {
			if (h->optional && err == -ENOENT) {
				pr_info("optional hook %s not present, skipped\n", h->symbol);
				continue;
			}
			if (h->fallbacks && err == -ENOENT) {
				char tried[160];
				int n = scnprintf(tried, sizeof(tried), "%s", first);

				for (fb = h->fallbacks; *fb; fb++)
					n += scnprintf(tried + n, sizeof(tried) - n, ", %s", *fb);
				pr_err("this kernel has none of the functions for this hook (tried: %s)\n", tried);
			} else {
				pr_err("cannot probe %s+%u: error %d (symbol absent, inlined or on the kprobe blacklist)\n",
				       h->symbol, h->offset, err);
			}
			goto err_unregister;
		}
		if (strcmp(first, h->symbol))
			pr_info("%s is absent on this kernel: probing %s instead\n", first, h->symbol);
		h->registered = true;
	}
	return 0;

err_unregister:
	kvmfi_unregister_hooks();
	return err;
}

static void kvmfi_enable_hooks(bool on)
{
	const struct kvmfi_ops *ops = kvmfi.ops;
	unsigned int i;

	if (kvmfi.enabled == on)
		return;
	for (i = 0; i < ops->nr_hooks; i++) {
		struct kvmfi_hook *h = &ops->hooks[i];
		int err;

		if (!h->registered)
			continue;
		if (h->ret_probe)
			err = on ? enable_kretprobe(&h->krp) : disable_kretprobe(&h->krp);
		else
			err = on ? enable_kprobe(&h->kp) : disable_kprobe(&h->kp);
		if (err)
			pr_warn("cannot %s probe %s: %d\n", on ? "enable" : "disable", h->symbol, err);
	}
	kvmfi.enabled = on;
}

/* ------------------------------------------------------------------ */
/* Arm and disarm                                                      */
/* ------------------------------------------------------------------ */

static void kvmfi_free_fault(struct kvmfi_fault *f)
{
	if (!f)
		return;
	if (kvmfi.ops->release)
		kvmfi.ops->release(f);
#ifdef CONFIG_CGROUPS
	if (f->cgrp)
		cgroup_put(f->cgrp);
#endif
	kfree(f);
}

/* Unpublish the armed fault; caller holds kvmfi.lock. */
static void kvmfi_disarm_locked(u32 why)
{
	struct kvmfi_fault *old;
	u64 ended_ns;

	old = rcu_replace_pointer(kvmfi.fault, NULL, lockdep_is_held(&kvmfi.lock));
	if (!old)
		return;
	/*
	 * The fault ends here, when no new hit can find it; the end event says
	 * so (the grace period below takes tens of ms under emulation) and
	 * carries the totals once the handlers in flight are done.
	 */
	ended_ns = ktime_get_boottime_ns();
	kvmfi_enable_hooks(false);
	synchronize_rcu();	/* no handler still looks at @old */
	kvmfi.last_end = why;
	kvmfi_event_at(ended_ns, KVMFI_EVENT_END, old->arm.experiment_id, 0, "end",
		       atomic64_read(&kvmfi.injected), why, atomic64_read(&kvmfi.matched));
	pr_info("%s exp %016llx ended (%s): matched %lld injected %lld\n",
		kvmfi.ops->tag, old->arm.experiment_id,
		why == KVMFI_END_LEASE ? "lease expired" :
		why == KVMFI_END_TIMES ? "times reached" :
		why == KVMFI_END_REPLACED ? "replaced" : "off",
		(long long)atomic64_read(&kvmfi.matched),
		(long long)atomic64_read(&kvmfi.injected));
	kvmfi_free_fault(old);
}

/* Deferred disarm: the lease ran out, or `times` reached zero in the hot path. */
static void kvmfi_expire_work(struct work_struct *work)
{
	struct kvmfi_fault *f;

	mutex_lock(&kvmfi.lock);
	f = rcu_dereference_protected(kvmfi.fault, lockdep_is_held(&kvmfi.lock));
	if (f) {
		if (f->arm.times >= 0 && atomic64_read(&kvmfi.remaining) <= 0)
			kvmfi_disarm_locked(KVMFI_END_TIMES);
		else if (f->deadline && time_after_eq(jiffies, f->deadline))
			kvmfi_disarm_locked(KVMFI_END_LEASE);
		else if (f->deadline)	/* woken early: wait for the real deadline */
			mod_delayed_work(KVMFI_EXPIRE_WQ, &kvmfi.expire, f->deadline - jiffies);
	}
	mutex_unlock(&kvmfi.lock);
}

/*
 * Resolves a pid number of the caller's namespace to the global number, and
 * checks that such a thread (PIDTYPE_PID) or process (PIDTYPE_TGID) exists.
 */
static int kvmfi_global_pid(pid_t nr, enum pid_type type, pid_t *out)
{
	struct pid *pid;
	int err = 0;

	if (nr <= 0)
		return -EINVAL;
	pid = find_get_pid(nr);
	if (!pid)
		return -ESRCH;
	rcu_read_lock();
	if (!pid_task(pid, type))
		err = -ESRCH;
	rcu_read_unlock();
	*out = pid_nr(pid);
	put_pid(pid);
	return err;
}

static int kvmfi_resolve_path(struct kvmfi_fault *f, int fd)
{
	struct file *file = fget(fd);
	struct inode *inode;

	if (!file)
		return -EBADF;
	inode = file_inode(file);
	f->path_dev = inode->i_sb->s_dev;
	f->path_ino = inode->i_ino;
	f->path_dir = S_ISDIR(inode->i_mode);
	fput(file);
	return 0;
}

/* Validates @req, resolves its references and builds a fault (not yet published). */
static int kvmfi_build_fault(const struct kvmfi_arm *req, struct kvmfi_fault **out)
{
	struct kvmfi_fault *f;
	int err;

	if (req->filter & ~KVMFI_FILTER_ALL || req->flags & ~KVMFI_ARM_FLAGS_ALL ||
	    req->probability > 100 || req->times < -1 || req->verbose > 2 ||
	    req->error < 0 || req->error > MAX_ERRNO ||
	    req->duration_ms > 366ULL * 24 * 3600 * 1000 ||
	    req->reserved[0] || req->reserved[1] || req->reserved[2])
		return -EINVAL;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->arm = *req;
	f->arm.comm[KVMFI_COMM_LEN - 1] = '\0';
	if (!f->arm.error)
		f->arm.error = kvmfi.ops->default_error;

	if (req->filter & KVMFI_FILTER_PID) {
		err = kvmfi_global_pid(req->pid, PIDTYPE_PID, &f->pid);
		if (err)
			goto err_free;
	}
	if (req->filter & KVMFI_FILTER_TGID) {
		err = kvmfi_global_pid(req->tgid, PIDTYPE_TGID, &f->tgid);
		if (err)
			goto err_free;
	}
	if ((req->filter & KVMFI_FILTER_COMM) && !f->arm.comm[0]) {
		err = -EINVAL;
		goto err_free;
	}
	if (req->filter & KVMFI_FILTER_CGROUP) {
#ifdef CONFIG_CGROUPS
		struct cgroup *cgrp = cgroup_get_from_fd(req->cgroup_fd);

		if (IS_ERR(cgrp)) {
			err = PTR_ERR(cgrp);
			goto err_free;
		}
		f->cgrp = cgrp;
#else
		err = -EOPNOTSUPP;
		goto err_free;
#endif
	}
	if (req->filter & KVMFI_FILTER_PATH) {
		err = kvmfi_resolve_path(f, req->path_fd);
		if (err)
			goto err_put;
	}
	f->arm.cgroup_fd = -1;
	f->arm.path_fd = -1;
	if (kvmfi.ops->validate) {
		err = kvmfi.ops->validate(f);
		if (err)
			goto err_put;
	}
	*out = f;
	return 0;

err_put:
#ifdef CONFIG_CGROUPS
	if (f->cgrp)
		cgroup_put(f->cgrp);
#endif
err_free:
	kfree(f);
	return err;
}

/* Arms @req; on success fills in req->experiment_id. Caller holds kvmfi.lock. */
static int kvmfi_arm_locked(struct kvmfi_arm *req)
{
	struct kvmfi_fault *f;
	int err;

	if (rcu_access_pointer(kvmfi.fault) && !(req->flags & KVMFI_ARM_REPLACE))
		return -EBUSY;
	err = kvmfi_build_fault(req, &f);
	if (err)
		return err;
	kvmfi_disarm_locked(KVMFI_END_REPLACED);

	f->arm.experiment_id = get_random_u64();
	req->experiment_id = f->arm.experiment_id;
	kvmfi.experiment_id = f->arm.experiment_id;
	kvmfi.last_arm = f->arm;
	kvmfi.last_end = KVMFI_END_NONE;
	atomic64_set(&kvmfi.matched, 0);
	atomic64_set(&kvmfi.injected, 0);
	atomic64_set(&kvmfi.calls, 0);
	atomic64_set(&kvmfi.remaining, req->times);
	atomic64_set(&kvmfi.space, req->space);
	{
		int cpu;

		for_each_possible_cpu(cpu)
			*per_cpu_ptr(kvmfi.hits, cpu) = 0;
	}
	if (req->duration_ms) {
		unsigned long delay = msecs_to_jiffies(req->duration_ms);

		f->deadline = jiffies + delay;
		if (!f->deadline)
			f->deadline = 1;
		mod_delayed_work(KVMFI_EXPIRE_WQ, &kvmfi.expire, delay);
	}
	kvmfi_event(KVMFI_EVENT_ARM, f->arm.experiment_id, 0, "arm", f->arm.times,
		    f->arm.filter, f->arm.duration_ms);
	rcu_assign_pointer(kvmfi.fault, f);
	kvmfi_enable_hooks(true);
	pr_info("%s exp %016llx armed on %s: filter %#x probability %u interval %u times %lld duration %llums error %d mode %u\n",
		kvmfi.ops->tag, f->arm.experiment_id, kvmfi.ops->hooks[0].symbol,
		f->arm.filter, f->arm.probability, f->arm.interval, f->arm.times,
		f->arm.duration_ms, f->arm.error, f->arm.mode);
	return 0;
}

static void kvmfi_fill_status(struct kvmfi_status *st)
{
	struct kvmfi_fault *f;
	unsigned int i;
	u64 hits = 0;
	int cpu;

	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	f = rcu_dereference_protected(kvmfi.fault, lockdep_is_held(&kvmfi.lock));
	st->state = f ? KVMFI_STATE_ARMED : KVMFI_STATE_DISARMED;
	st->experiment_id = kvmfi.experiment_id;
	for_each_possible_cpu(cpu)
		hits += *per_cpu_ptr(kvmfi.hits, cpu);
	st->hits = hits;
	st->matched = atomic64_read(&kvmfi.matched);
	st->injected = atomic64_read(&kvmfi.injected);
	st->remaining = kvmfi.last_arm.times < 0 ? -1 : atomic64_read(&kvmfi.remaining);
	if (f && f->deadline && time_before(jiffies, f->deadline))
		st->time_left_ms = jiffies_to_msecs(f->deadline - jiffies);
	st->last_end = kvmfi.last_end;
	for (i = 0; i < kvmfi.ops->nr_hooks; i++) {
		struct kvmfi_hook *h = &kvmfi.ops->hooks[i];

		if (!h->registered)
			continue;
		st->nr_hooks++;
		if (h->ret_probe)
			st->nmissed += h->krp.nmissed;
	}
	strscpy(st->symbol, kvmfi.ops->hooks[0].symbol, sizeof(st->symbol));
	st->armed = kvmfi.last_arm;
}

/*
 * Copies events with seq >= req->from_seq to user space. Never blocks
 * writers: a slot overwritten while being copied counts as lost, a slot
 * still being written ends this batch (the caller asks again).
 */
static int kvmfi_read_events(struct kvmfi_events *req)
{
	struct kvmfi_event __user *ubuf = u64_to_user_ptr(req->buf);
	u64 head = atomic64_read(&kvmfi.ev_head);
	u64 seq = req->from_seq;
	struct kvmfi_event tmp;

	req->count = 0;
	req->lost = 0;
	if (seq > head)
		seq = head;
	if (head - seq > KVMFI_EVENT_RING) {
		req->lost = head - seq - KVMFI_EVENT_RING;
		seq = head - KVMFI_EVENT_RING;
	}
	while (seq < head && req->count < req->max) {
		struct kvmfi_event *e = &kvmfi.ring[seq % KVMFI_EVENT_RING];
		u64 before = READ_ONCE(e->seq), after;

		smp_rmb();
		memcpy(&tmp, e, sizeof(tmp));
		smp_rmb();
		after = READ_ONCE(e->seq);
		if (before == KVMFI_SEQ_BUSY && after == KVMFI_SEQ_BUSY)
			break;		/* being written: read it next time */
		if (before != seq || after != seq) {
			req->lost++;	/* overwritten by a newer event */
			seq++;
			continue;
		}
		tmp.seq = seq;
		if (copy_to_user(&ubuf[req->count], &tmp, sizeof(tmp)))
			return -EFAULT;
		req->count++;
		seq++;
	}
	req->next_seq = seq;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Device                                                              */
/* ------------------------------------------------------------------ */

static int kvmfi_open(struct inode *inode, struct file *file)
{
	return capable(CAP_SYS_ADMIN) ? 0 : -EPERM;
}

/*
 * One function per command, each with its own structure on the stack: in one
 * frame together they exceed the 1 KiB frame limit under KASAN.
 */
static noinline_for_stack long kvmfi_ioctl_version(unsigned int cmd, void __user *argp)
{
	struct kvmfi_version v = {
		.size = sizeof(v),
		.abi_major = KVMFI_ABI_MAJOR,
		.abi_minor = KVMFI_ABI_MINOR,
		.arm_size = sizeof(struct kvmfi_arm),
		.status_size = sizeof(struct kvmfi_status),
	};

	if (_IOC_DIR(cmd) != _IOC_READ)
		return -ENOTTY;
	strscpy(v.module, KBUILD_MODNAME, sizeof(v.module));
	if (copy_to_user(argp, &v, min_t(size_t, sizeof(v), _IOC_SIZE(cmd))))
		return -EFAULT;
	return 0;
}

static noinline_for_stack long kvmfi_ioctl_arm(unsigned int cmd, void __user *argp)
{
	struct kvmfi_arm req;
	size_t usize = _IOC_SIZE(cmd);
	long ret;

	if (_IOC_DIR(cmd) != (_IOC_READ | _IOC_WRITE) ||
	    usize < offsetofend(struct kvmfi_arm, arg))
		return -EINVAL;
	ret = copy_struct_from_user(&req, sizeof(req), argp, usize);
	if (ret)
		return ret;
	if (req.size != usize)
		return -EINVAL;
	mutex_lock(&kvmfi.lock);
	ret = kvmfi_arm_locked(&req);
	mutex_unlock(&kvmfi.lock);
	if (ret)
		return ret;
	if (copy_to_user(argp, &req, min_t(size_t, sizeof(req), usize)))
		return -EFAULT;
	return 0;
}

static noinline_for_stack long kvmfi_ioctl_status(unsigned int cmd, void __user *argp)
{
	struct kvmfi_status st;

	if (_IOC_DIR(cmd) != _IOC_READ || _IOC_SIZE(cmd) < offsetof(struct kvmfi_status, armed))
		return -EINVAL;
	mutex_lock(&kvmfi.lock);
	kvmfi_fill_status(&st);
	mutex_unlock(&kvmfi.lock);
	if (copy_to_user(argp, &st, min_t(size_t, sizeof(st), _IOC_SIZE(cmd))))
		return -EFAULT;
	return 0;
}

static noinline_for_stack long kvmfi_ioctl_events(unsigned int cmd, void __user *argp)
{
	struct kvmfi_events req;
	size_t usize = _IOC_SIZE(cmd);
	long ret;

	if (_IOC_DIR(cmd) != (_IOC_READ | _IOC_WRITE) ||
	    usize < offsetofend(struct kvmfi_events, lost))
		return -EINVAL;
	ret = copy_struct_from_user(&req, sizeof(req), argp, usize);
	if (ret)
		return ret;
	if (req.size != usize || req.reserved0 || req.reserved[0] || req.reserved[1])
		return -EINVAL;
	ret = kvmfi_read_events(&req);
	if (ret)
		return ret;
	if (copy_to_user(argp, &req, min_t(size_t, sizeof(req), usize)))
		return -EFAULT;
	return 0;
}

static long kvmfi_ioctl(struct file *file, unsigned int cmd, unsigned long uarg)
{
	void __user *argp = (void __user *)uarg;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (_IOC_TYPE(cmd) != KVMFI_IOC_MAGIC)
		return -ENOTTY;

	switch (_IOC_NR(cmd)) {
	case _IOC_NR(KVMFI_IOC_VERSION):
		return kvmfi_ioctl_version(cmd, argp);
	case _IOC_NR(KVMFI_IOC_ARM):
		return kvmfi_ioctl_arm(cmd, argp);
	case _IOC_NR(KVMFI_IOC_DISARM):
		if (cmd != KVMFI_IOC_DISARM)
			return -ENOTTY;
		mutex_lock(&kvmfi.lock);
		kvmfi_disarm_locked(KVMFI_END_OFF);
		mutex_unlock(&kvmfi.lock);
		return 0;
	case _IOC_NR(KVMFI_IOC_STATUS):
		return kvmfi_ioctl_status(cmd, argp);
	case _IOC_NR(KVMFI_IOC_EVENTS):
		return kvmfi_ioctl_events(cmd, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kvmfi_fops = {
	.owner = THIS_MODULE,
	.open = kvmfi_open,
	.unlocked_ioctl = kvmfi_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* ------------------------------------------------------------------ */
/* Legacy /proc control files of the original tools                    */
/* ------------------------------------------------------------------ */

/* Knob index -1 is `signal`; others index ops->knobs. */
#define KVMFI_KNOB_SIGNAL ((void *)-1L)

static int kvmfi_knob_show(struct seq_file *m, void *v)
{
	struct kvmfi_knob *knob = m->private;

	mutex_lock(&kvmfi.lock);
	if (knob == KVMFI_KNOB_SIGNAL)
		seq_printf(m, "%d\n", rcu_access_pointer(kvmfi.fault) ? 1 : 0);
	else
		seq_printf(m, "%lld\n", knob->value);
	mutex_unlock(&kvmfi.lock);
	return 0;
}

static int kvmfi_knob_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return single_open(file, kvmfi_knob_show, pde_data(inode));
}

static ssize_t kvmfi_knob_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct kvmfi_knob *knob = ((struct seq_file *)file->private_data)->private;
	long long value;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = kstrtoll_from_user(ubuf, count, 0, &value);
	if (err)
		return err;

	mutex_lock(&kvmfi.lock);
	if (knob == KVMFI_KNOB_SIGNAL) {
		if (value == 0) {
			kvmfi_disarm_locked(KVMFI_END_OFF);
		} else if (value == 1 || kvmfi.ops->legacy_signal_nonzero) {
			/* The original armed system-wide with the knobs' values. */
			struct kvmfi_arm req = {
				.size = sizeof(req),
				.probability = 100,
				.interval = 1,
				.times = -1,
				.flags = KVMFI_ARM_REPLACE,
				.verbose = 1,
				.cgroup_fd = -1,
				.path_fd = -1,
			};

			err = kvmfi.ops->legacy_request(&req);
			if (!err)
				err = kvmfi_arm_locked(&req);
		} else {
			err = -EINVAL;
		}
	} else if (value < knob->min || value > knob->max) {
		err = -ERANGE;
	} else {
		knob->value = value;
	}
	mutex_unlock(&kvmfi.lock);
	return err ? err : count;
}

static const struct proc_ops kvmfi_knob_ops = {
	.proc_open = kvmfi_knob_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = kvmfi_knob_write,
};

static int kvmfi_legacy_create(void)
{
	const struct kvmfi_ops *ops = kvmfi.ops;
	unsigned int i;

	if (!ops->legacy_dir)
		return 0;
	kvmfi.proc = proc_mkdir(ops->legacy_dir, NULL);
	if (!kvmfi.proc)
		return -ENOMEM;
	if (!proc_create_data("signal", 0600, kvmfi.proc, &kvmfi_knob_ops, KVMFI_KNOB_SIGNAL))
		goto err;
	for (i = 0; i < ops->nr_knobs; i++)
		if (!proc_create_data(ops->knobs[i].name, 0600, kvmfi.proc,
				      &kvmfi_knob_ops, &ops->knobs[i]))
			goto err;
	return 0;
err:
	proc_remove(kvmfi.proc);
	kvmfi.proc = NULL;
	return -ENOMEM;
}

/* Value of legacy knob @name, for a module's legacy_request(). */
static __maybe_unused long long kvmfi_knob(const char *name)
{
	unsigned int i;

	for (i = 0; i < kvmfi.ops->nr_knobs; i++)
		if (!strcmp(kvmfi.ops->knobs[i].name, name))
			return kvmfi.ops->knobs[i].value;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Init and exit                                                       */
/* ------------------------------------------------------------------ */

static int kvmfi_init(const struct kvmfi_ops *ops)
{
	int err;

	kvmfi.ops = ops;
	mutex_init(&kvmfi.lock);
	INIT_DELAYED_WORK(&kvmfi.expire, kvmfi_expire_work);
	kvmfi.hits = alloc_percpu(u64);
	if (!kvmfi.hits)
		return -ENOMEM;
	kvmfi.ring = vzalloc(array_size(KVMFI_EVENT_RING, sizeof(*kvmfi.ring)));
	if (!kvmfi.ring) {
		err = -ENOMEM;
		goto err_free;
	}

	err = kvmfi_register_hooks();
	if (err)
		goto err_free;

	snprintf(kvmfi.devname, sizeof(kvmfi.devname), "kvmfi/%s", KBUILD_MODNAME);
	kvmfi.misc.minor = MISC_DYNAMIC_MINOR;
	kvmfi.misc.name = KBUILD_MODNAME;
	kvmfi.misc.nodename = kvmfi.devname;
	kvmfi.misc.mode = 0600;
	kvmfi.misc.fops = &kvmfi_fops;
	err = misc_register(&kvmfi.misc);
	if (err)
		goto err_unregister;

	err = kvmfi_legacy_create();
	if (err)
		goto err_misc;

	pr_info("%s kprobe registered at %s (device /dev/%s)\n",
		ops->tag, ops->hooks[0].symbol, kvmfi.devname);
	return 0;

err_misc:
	misc_deregister(&kvmfi.misc);
err_unregister:
	kvmfi_unregister_hooks();
err_free:
	vfree(kvmfi.ring);
	free_percpu(kvmfi.hits);
	return err;
}

static void kvmfi_exit(void)
{
	if (kvmfi.proc)
		proc_remove(kvmfi.proc);
	misc_deregister(&kvmfi.misc);

	mutex_lock(&kvmfi.lock);
	kvmfi_disarm_locked(KVMFI_END_OFF);
	mutex_unlock(&kvmfi.lock);
	cancel_delayed_work_sync(&kvmfi.expire);

	kvmfi_unregister_hooks();
#if defined(CONFIG_X86_64) && defined(CONFIG_TASKS_RCU)
	/* A task preempted on kvmfi_ret_stub must leave it before the text goes. */
	synchronize_rcu_tasks();
#endif
	vfree(kvmfi.ring);
	free_percpu(kvmfi.hits);
	pr_info("%s unloaded\n", kvmfi.ops->tag);
}
