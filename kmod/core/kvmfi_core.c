// SPDX-License-Identifier: GPL-2.0
/*
 * kvmfi module core, included once by every module (see kvmfi_core.h).
 *
 * One file per job: skip.c (make a probed function return a value),
 * event_ring.c (the lock-free event ring), hot_path.c (what probe handlers
 * call: scope, bounds, accounting), legacy_proc.c (the original tools' /proc
 * files); this file is the control path: hooks, arm and disarm, status, the
 * misc device and its ioctls, init and exit.
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

/* The layout the Rust mirror asserts too (shared/src/kernel/abi.rs). */
static_assert(sizeof(struct kvmfi_arm) == 184);
static_assert(sizeof(struct kvmfi_status) == 352);
static_assert(sizeof(struct kvmfi_version) == 88);
static_assert(offsetof(struct kvmfi_arm, arg) == 88);
static_assert(offsetof(struct kvmfi_status, armed) == 136);
static_assert(sizeof(struct kvmfi_event) == 96);
static_assert(sizeof(struct kvmfi_events) == 64);
/* kvmfi_copy_in() reads the caller's size from the leading __u32. */
static_assert(offsetof(struct kvmfi_arm, size) == 0);
static_assert(offsetof(struct kvmfi_events, size) == 0);

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
	struct notifier_block module_nb;
	/* The kernel module holding the probed code went away (rmmod kvm): the
	 * hooks are unregistered until a module of that name is live again. */
	char gone_module[MODULE_NAME_LEN];
} kvmfi;

/* The jobs of the core, one file each, in the order they depend on. */
#include "skip.c"
#include "event_ring.c"
#include "hot_path.c"

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

/* Registers one hook at h->symbol, disabled unless it is `always` on. */
static int kvmfi_register_hook(struct kvmfi_hook *h)
{
	if (h->ret_probe) {
		memset(&h->krp, 0, sizeof(h->krp));
		h->krp.kp.symbol_name = h->symbol;
		h->krp.kp.offset = h->offset;
		h->krp.kp.flags = h->always ? 0 : KPROBE_FLAG_DISABLED;
		h->krp.entry_handler = h->entry;
		h->krp.handler = h->handler;
		h->krp.data_size = h->data_size;
		h->krp.maxactive = h->maxactive ? h->maxactive : 4 * num_possible_cpus();
		return register_kretprobe(&h->krp);
	}
	memset(&h->kp, 0, sizeof(h->kp));
	h->kp.symbol_name = h->symbol;
	h->kp.offset = h->offset;
	h->kp.flags = h->always ? 0 : KPROBE_FLAG_DISABLED;
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

/* Registers every hook disabled (but the `always` ones): a disarmed module costs nothing. */
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

		if (!h->registered || h->always)
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

/* Whether the module takes @mode (its ops' modes; none declared = mode 0 only). */
static bool kvmfi_mode_taken(u32 mode)
{
	u64 modes = kvmfi.ops->modes ?: BIT_ULL(0);

	return mode < 64 && (modes & BIT_ULL(mode));
}

/* Validates @req, resolves its references and builds a fault (not yet published). */
static int kvmfi_build_fault(const struct kvmfi_arm *req, struct kvmfi_fault **out)
{
	struct kvmfi_fault *f;
	int err;

	if (!kvmfi_mode_taken(req->mode) ||
	    req->filter & ~KVMFI_FILTER_ALL || req->flags & ~KVMFI_ARM_FLAGS_ALL ||
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

	if (kvmfi.gone_module[0])
		return -ENOLINK;	/* the probed code is not loaded */

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

/* ------------------------------------------------------------------ */
/* Device                                                              */
/* ------------------------------------------------------------------ */

static int kvmfi_open(struct inode *inode, struct file *file)
{
	return capable(CAP_SYS_ADMIN) ? 0 : -EPERM;
}

/*
 * Reads the extensible argument of read-write command @cmd into @dst
 * (@ksize bytes here): the caller's size, _IOC_SIZE(cmd), is at least @min;
 * a larger one must be zeros beyond @ksize, a smaller one is zero-filled.
 * The argument's leading __u32 `size` must say the caller's size too.
 */
static long kvmfi_copy_in(unsigned int cmd, void *dst, size_t ksize, size_t min, const void __user *argp)
{
	long ret;

	if (_IOC_DIR(cmd) != (_IOC_READ | _IOC_WRITE) || _IOC_SIZE(cmd) < min)
		return -EINVAL;
	ret = copy_struct_from_user(dst, ksize, argp, _IOC_SIZE(cmd));
	if (ret)
		return ret;
	return *(const u32 *)dst == _IOC_SIZE(cmd) ? 0 : -EINVAL;
}

/* Writes @src (@ksize bytes) back, as much of it as the caller's size holds. */
static long kvmfi_copy_out(unsigned int cmd, void __user *argp, const void *src, size_t ksize)
{
	if (copy_to_user(argp, src, min_t(size_t, ksize, _IOC_SIZE(cmd))))
		return -EFAULT;
	return 0;
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
	return kvmfi_copy_out(cmd, argp, &v, sizeof(v));
}

static noinline_for_stack long kvmfi_ioctl_arm(unsigned int cmd, void __user *argp)
{
	struct kvmfi_arm req;
	long ret;

	ret = kvmfi_copy_in(cmd, &req, sizeof(req), offsetofend(struct kvmfi_arm, arg), argp);
	if (ret)
		return ret;
	mutex_lock(&kvmfi.lock);
	ret = kvmfi_arm_locked(&req);
	mutex_unlock(&kvmfi.lock);
	if (ret)
		return ret;
	return kvmfi_copy_out(cmd, argp, &req, sizeof(req));
}

static noinline_for_stack long kvmfi_ioctl_status(unsigned int cmd, void __user *argp)
{
	struct kvmfi_status st;

	if (_IOC_DIR(cmd) != _IOC_READ || _IOC_SIZE(cmd) < offsetof(struct kvmfi_status, armed))
		return -EINVAL;
	mutex_lock(&kvmfi.lock);
	kvmfi_fill_status(&st);
	mutex_unlock(&kvmfi.lock);
	return kvmfi_copy_out(cmd, argp, &st, sizeof(st));
}

static noinline_for_stack long kvmfi_ioctl_events(unsigned int cmd, void __user *argp)
{
	struct kvmfi_events req;
	long ret;

	ret = kvmfi_copy_in(cmd, &req, sizeof(req), offsetofend(struct kvmfi_events, lost), argp);
	if (ret)
		return ret;
	if (req.reserved0 || req.reserved[0] || req.reserved[1])
		return -EINVAL;
	ret = kvmfi_read_events(&req);
	if (ret)
		return ret;
	return kvmfi_copy_out(cmd, argp, &req, sizeof(req));
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

#include "legacy_proc.c"

/* ------------------------------------------------------------------ */
/* Init and exit                                                       */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* The probed code's module going away and coming back                */
/* ------------------------------------------------------------------ */

/* True when a registered hook lies in @mod's code. */
static bool kvmfi_hooks_in(struct module *mod)
{
	unsigned int i;

	for (i = 0; i < kvmfi.ops->nr_hooks; i++) {
		struct kvmfi_hook *h = &kvmfi.ops->hooks[i];
		void *addr = h->ret_probe ? h->krp.kp.addr : h->kp.addr;

		if (h->registered && addr && within_module((unsigned long)addr, mod))
			return true;
	}
	return false;
}

/*
 * kvm.ko (or any module holding a hook) unloading would leave the kprobes
 * dead and an armed fault silently doing nothing: disarm it (status
 * last-end "hook-module-unloaded"), unregister the hooks, refuse `arm`
 * (ENOLINK) while the module is away, and register the hooks again once a
 * module of that name is live (they then find its new code).
 */
static int kvmfi_module_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct module *mod = data;
	int err;

	if (action != MODULE_STATE_GOING && action != MODULE_STATE_LIVE)
		return NOTIFY_DONE;
	mutex_lock(&kvmfi.lock);
	if (action == MODULE_STATE_GOING && !kvmfi.gone_module[0] && kvmfi_hooks_in(mod)) {
		kvmfi_disarm_locked(KVMFI_END_MODULE_GONE);
		kvmfi_unregister_hooks();
		kvmfi.enabled = false;
		strscpy(kvmfi.gone_module, mod->name, sizeof(kvmfi.gone_module));
		pr_warn("%s module %s, which holds %s, is unloading: fault disarmed, hooks removed until it is loaded again\n",
			kvmfi.ops->tag, mod->name, kvmfi.ops->hooks[0].symbol);
	} else if (action == MODULE_STATE_LIVE && kvmfi.gone_module[0] &&
		   !strcmp(kvmfi.gone_module, mod->name)) {
		err = kvmfi_register_hooks();
		if (err) {
			pr_warn("%s module %s is back but %s cannot be probed again (%d): arm stays refused\n",
				kvmfi.ops->tag, mod->name, kvmfi.ops->hooks[0].symbol, err);
		} else {
			kvmfi.gone_module[0] = '\0';
			pr_info("%s module %s is back: hooks registered again at %s\n",
				kvmfi.ops->tag, mod->name, kvmfi.ops->hooks[0].symbol);
		}
	}
	mutex_unlock(&kvmfi.lock);
	return NOTIFY_OK;
}

static int kvmfi_init(const struct kvmfi_ops *ops)
{
	int err;

	if (ops->setup) {
		err = ops->setup();
		if (err)
			return err;
	}
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

	/* before the kprobes' own notifier, while the hooks are still intact */
	kvmfi.module_nb.notifier_call = kvmfi_module_notify;
	kvmfi.module_nb.priority = 1;
	err = register_module_notifier(&kvmfi.module_nb);
	if (err)
		goto err_legacy;

	pr_info("%s kprobe registered at %s (device /dev/%s)\n",
		ops->tag, ops->hooks[0].symbol, kvmfi.devname);
	return 0;

err_legacy:
	if (kvmfi.proc)
		proc_remove(kvmfi.proc);
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
	unregister_module_notifier(&kvmfi.module_nb);
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
