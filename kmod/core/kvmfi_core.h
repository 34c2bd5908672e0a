/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmfi module core: what every kvmfi fault module shares.
 *
 * A module describes its hooks and knobs in a struct kvmfi_ops and calls
 * kvmfi_init()/kvmfi_exit(). The core owns the misc device and its ioctls,
 * the scope filter (pid, tgid, comm, cgroup, path), the fault_attr bounds
 * (probability, interval, times, space), the lease that disarms a fault by
 * itself, the status counters, the legacy /proc control files of the
 * original tools, and the primitive that skips a probed function.
 *
 * Each module #includes kvmfi_core.c into its own translation unit, so that
 * every .ko is self-contained (a plain `insmod X.ko` works, as the original
 * tools did) and KBUILD_MODNAME is right in every message.
 */
#ifndef KVMFI_CORE_H
#define KVMFI_CORE_H

#include <linux/kprobes.h>
#include <linux/types.h>
#include "uapi/kvmfi.h"
#include "kvmfi_compat.h"
#include "uapi/kvmfi/requests.h"

#define KVMFI_MAX_HOOKS 4
#define KVMFI_MAX_KNOBS 8

struct cgroup;
struct file;

/*
 * One probe point. `symbol` points at the module's parameter buffer
 * (KSYM_NAME_LEN bytes). When the kernel has no such function, the
 * `fallbacks` (NULL-terminated; kernels rename functions) are tried in
 * order and the one probed is written back into the buffer. An optional
 * hook naming a function another hook already probes is skipped.
 */
struct kvmfi_hook {
	char *symbol;
	const char *const *fallbacks;
	unsigned int offset;		/* bytes past the symbol (0 = entry) */
	bool ret_probe;			/* kretprobe instead of kprobe */
	bool optional;			/* missing symbol is not fatal */
	bool always;			/* enabled while loaded, not only while armed */
	kprobe_pre_handler_t pre;	/* kprobe */
	kretprobe_handler_t entry;	/* kretprobe entry */
	kretprobe_handler_t handler;	/* kretprobe return */
	size_t data_size;		/* kretprobe per-instance data */
	int maxactive;			/* kretprobe instances (sleeping functions) */
	unsigned long data;		/* for a pre handler several hooks share: kvmfi_hook_data() */
	/* owned by the core */
	struct kprobe kp;
	struct kretprobe krp;
	bool registered;
};

/* The armed fault, as the hot path sees it. Published with RCU. */
struct kvmfi_fault {
	struct kvmfi_arm arm;		/* the request; fds cleared */
	pid_t pid;			/* global pid numbers */
	pid_t tgid;
	struct cgroup *cgrp;		/* referenced while armed */
	dev_t path_dev;
	unsigned long path_ino;
	bool path_dir;
	unsigned long deadline;		/* jiffies; 0 = no lease */
	void *priv;			/* module-specific resolved state */
	struct rcu_head rcu;
};

/* A legacy /proc knob of the original tools: an integer with bounds. */
struct kvmfi_knob {
	const char *name;
	long long min, max;
	long long value;
	bool times;			/* `signal` arms with this many injections */
};

struct kvmfi_ops {
	const char *tag;		/* dmesg prefix of the original, e.g. "[ARM-Fi-Read]" */
	/* Checks module parameters before anything is registered (may be NULL). */
	int (*setup)(void);
	struct kvmfi_hook *hooks;
	unsigned int nr_hooks;
	int default_error;		/* errno used when the request leaves it 0 */
	/* The kvmfi_arm.mode values it takes, a bit each (0 = mode 0 only). */
	u64 modes;
	/* Checks and resolves module-specific fields of a request (process context). */
	int (*validate)(struct kvmfi_fault *f);
	/* Releases what validate() took. */
	void (*release)(struct kvmfi_fault *f);
	/* Legacy /proc interface: directory, knobs, and how `signal` maps to a request. */
	const char *legacy_dir;
	struct kvmfi_knob *knobs;	/* excluding `signal`, which the core provides */
	unsigned int nr_knobs;
	int (*legacy_request)(struct kvmfi_arm *req);	/* may be NULL */
	unsigned int legacy_lease_ms;	/* `signal` arms with this lease (0 = none) */
	/* `signal` arms on any non-zero value (the original memory, resource and
	 * pt-update modules), instead of only on 1 (other values refused). */
	bool legacy_signal_nonzero;
};

/*
 * A module parameter naming a function to probe (the `symbol` of a hook):
 * a KSYM_NAME_LEN buffer, read-only once loaded, that the core rewrites
 * with the fallback it probed.
 */
#define KVMFI_FUNCTION_PARAM(name, function, description)		\
static char name[KSYM_NAME_LEN] = function;				\
module_param_string(name, name, sizeof(name), 0444);			\
MODULE_PARM_DESC(name, description)

/*
 * In a module's ops: the request it takes: kvmfi_arm.mode 0 to @last (the
 * core refuses the others), and @check for the rest of it (NULL: nothing).
 */
#define KVMFI_REQUEST(last, check)	.modes = GENMASK_ULL((last), 0), .validate = (check)
/* The same for a module that takes one mode, @mode, and no arguments. */
#define KVMFI_REQUEST_NO_ARGS(mode)	.modes = BIT_ULL(mode), .validate = kvmfi_validate_no_args
/* In a module's ops: its hooks, and its legacy /proc directory with knobs. */
#define KVMFI_HOOKS(table)	.hooks = (table), .nr_hooks = ARRAY_SIZE(table)
/* In a module's ops: its one hook, a kprobe on @function calling @handler. */
#define KVMFI_PRE_HOOK(function, handler)				\
	.hooks = (struct kvmfi_hook[]){ { .symbol = (function), .pre = (handler) } }, .nr_hooks = 1
/*
 * In KVMFI_LEGACY: `times` (or another name, @knob), the original count of
 * injections (-1 = unlimited), which `signal` puts in the request.
 */
#define KVMFI_TIMES_KNOB_NAMED(knob) { .name = (knob), .min = -1, .max = INT_MAX, .value = 1, .times = true }
#define KVMFI_TIMES_KNOB	KVMFI_TIMES_KNOB_NAMED("times")
/*
 * In a module's ops: its legacy /proc directory, how `signal` maps the
 * knobs to a request (beyond the times knob, which the core puts in; NULL =
 * nothing more), and the knobs (struct kvmfi_knob initialisers).
 */
#define KVMFI_LEGACY(dir, request, ...)					\
	.legacy_dir = (dir), .legacy_request = (request),		\
	.knobs = (struct kvmfi_knob[]){ __VA_ARGS__ },			\
	.nr_knobs = sizeof((struct kvmfi_knob[]){ __VA_ARGS__ }) / sizeof(struct kvmfi_knob)
/*
 * KVMFI_LEGACY of the original tools that fault every process: a fault
 * armed through `signal` ends by itself after 10 minutes.
 */
#define KVMFI_LEGACY_LEASED(dir, request, ...)				\
	.legacy_lease_ms = 10 * 60 * 1000, KVMFI_LEGACY(dir, request, __VA_ARGS__)

/*
 * The end of every module: its ops (the struct kvmfi_ops fields, after the
 * description), init and exit around kvmfi_init() and kvmfi_exit() (which
 * own the hooks, the misc device /dev/kvmfi/<module> and the legacy /proc
 * directory), and the MODULE_* lines; as module_misc_device() does for a
 * plain misc device.
 */
#define KVMFI_MODULE(description, ...)					\
static const struct kvmfi_ops kvmfi_module_ops = { __VA_ARGS__ };	\
static int __init kvmfi_module_init(void)				\
{									\
	return kvmfi_init(&kvmfi_module_ops);				\
}									\
static void __exit kvmfi_module_exit(void)				\
{									\
	kvmfi_exit();							\
}									\
module_init(kvmfi_module_init);						\
module_exit(kvmfi_module_exit);						\
MODULE_DESCRIPTION(description);					\
MODULE_LICENSE("GPL");							\
MODULE_AUTHOR("kvmfi developers")

/*
 * A module's view of kvmfi_arm.arg: @type is its struct from
 * uapi/kvmfi/<tool>.h, exactly as large as arg[].
 */
#define kvmfi_args(arm, type) ({					\
	BUILD_BUG_ON(sizeof(type) != sizeof((arm)->arg));		\
	(type *)(arm)->arg;						\
})

/* True when the @size bytes at @p are all zero (reserved fields). */
#define kvmfi_all_zero(p, size) (!memchr_inv((p), 0, (size)))

/* The validate() of a module that takes no arguments: every arg[] is zero. */
static inline int kvmfi_validate_no_args(struct kvmfi_fault *f)
{
	return kvmfi_all_zero(f->arm.arg, sizeof(f->arm.arg)) ? 0 : -EINVAL;
}

#endif /* KVMFI_CORE_H */
