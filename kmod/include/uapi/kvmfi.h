/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvmfi user-space ABI: the single source of truth shared by every kvmfi
 * kernel module and by the Rust crate `kvmfi` (shared/src/kernel/abi.rs mirrors it
 * field for field, with size and offset assertions checked by a test that
 * compiles this header).
 *
 * Every module exposes one misc device, /dev/kvmfi/<module>, mode 0600, and
 * refuses callers without CAP_SYS_ADMIN. Only fixed-width types; pointers
 * would travel as __u64; no implicit padding.
 *
 * Growth: structures start with their size. The kernel copies them with
 * copy_struct_from_user() using the size encoded in the ioctl number, so an
 * older binary keeps working against a newer module and vice versa (unknown
 * trailing bytes must be zero).
 */
#ifndef _UAPI_KVMFI_H
#define _UAPI_KVMFI_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define KVMFI_ABI_MAJOR 1	/* incompatible changes */
#define KVMFI_ABI_MINOR 1	/* compatible additions: 1 = events */

#define KVMFI_IOC_MAGIC 0xF1

#define KVMFI_COMM_LEN 16
#define KVMFI_NAME_LEN 32
#define KVMFI_SYMBOL_LEN 64
#define KVMFI_NR_ARGS 8

/* struct kvmfi_arm.filter: which scope fields are set (all must match). */
#define KVMFI_FILTER_PID	(1U << 0)	/* thread id */
#define KVMFI_FILTER_TGID	(1U << 1)	/* process id (thread group) */
#define KVMFI_FILTER_COMM	(1U << 2)	/* task command name */
#define KVMFI_FILTER_CGROUP	(1U << 3)	/* cgroup v2 directory and below */
#define KVMFI_FILTER_PATH	(1U << 4)	/* file, or directory tree */
#define KVMFI_FILTER_ALL	0x1fU

/* struct kvmfi_arm.flags */
#define KVMFI_ARM_REPLACE	(1U << 0)	/* replace a fault already armed */
#define KVMFI_ARM_FLAGS_ALL	0x1U

/*
 * What to arm. Scope fields are evaluated first (cheap task checks, then
 * the module's own scope such as a path), then the bounds in the order of
 * the kernel's fault_attr: times, space, interval, probability.
 */
struct kvmfi_arm {
	__u32 size;		/* sizeof(struct kvmfi_arm) */
	__u32 filter;		/* KVMFI_FILTER_* */
	__s32 pid;		/* in the caller's pid namespace */
	__s32 tgid;		/* in the caller's pid namespace */
	char comm[KVMFI_COMM_LEN];
	__s32 cgroup_fd;	/* open fd of a cgroup2 directory */
	__s32 path_fd;		/* open fd (O_PATH is enough) of a file or directory */
	__u32 probability;	/* percent, 0..100 */
	__u32 interval;		/* every interval-th matching call; 0 and 1 = every call */
	__s64 times;		/* injections before self-disarm; -1 = unlimited */
	__u64 space;		/* bytes (or calls) let through before injecting */
	__u64 duration_ms;	/* lease: self-disarm after this; 0 = until off/rmmod */
	__s32 error;		/* positive errno to inject where the fault returns one */
	__u32 mode;		/* module-specific, see each module's man page */
	__u32 verbose;		/* 0 silent, 1 a dmesg line per injection, 2 plus stack */
	__u32 flags;		/* KVMFI_ARM_* */
	__u64 arg[KVMFI_NR_ARGS];	/* module-specific arguments */
	__u64 experiment_id;	/* out: id of this experiment */
	__u64 reserved[3];	/* must be zero */
};

/* struct kvmfi_status.state */
#define KVMFI_STATE_DISARMED	0
#define KVMFI_STATE_ARMED	1

/* struct kvmfi_status.last_end: why the last experiment ended */
#define KVMFI_END_NONE		0
#define KVMFI_END_OFF		1	/* disarm ioctl or legacy signal=0 */
#define KVMFI_END_LEASE		2	/* duration elapsed */
#define KVMFI_END_TIMES		3	/* times reached zero */
#define KVMFI_END_REPLACED	4	/* replaced by a new arm */
#define KVMFI_END_MODULE_GONE	5	/* the kernel module holding the hook unloaded */

struct kvmfi_status {
	__u32 size;		/* sizeof(struct kvmfi_status) */
	__u32 state;		/* KVMFI_STATE_* */
	__u64 experiment_id;	/* current, or last one when disarmed */
	__u64 hits;		/* probe hits while armed */
	__u64 matched;		/* hits inside the scope */
	__u64 injected;		/* faults injected */
	__s64 remaining;	/* injections left; -1 = unlimited */
	__u64 time_left_ms;	/* lease left; 0 = no lease or disarmed */
	__u64 nmissed;		/* kretprobe instances missed (maxactive too small) */
	__u32 last_end;		/* KVMFI_END_* */
	__u32 nr_hooks;		/* probes registered */
	char symbol[KVMFI_SYMBOL_LEN];	/* first probed symbol */
	struct kvmfi_arm armed;	/* the current (or last) arm request, fds cleared */
	__u64 reserved[4];
};

struct kvmfi_version {
	__u32 size;		/* sizeof(struct kvmfi_version) */
	__u32 abi_major;	/* KVMFI_ABI_MAJOR */
	__u32 abi_minor;	/* KVMFI_ABI_MINOR */
	__u32 arm_size;		/* sizeof(struct kvmfi_arm) known to the module */
	__u32 status_size;	/* sizeof(struct kvmfi_status) known to the module */
	__u32 reserved0;
	char module[KVMFI_NAME_LEN];	/* module name, e.g. "file_read_fi" */
	__u64 reserved[4];
};

/* struct kvmfi_event.type */
#define KVMFI_EVENT_INJECT	1	/* a fault was injected */
#define KVMFI_EVENT_ARM		2	/* an experiment was armed */
#define KVMFI_EVENT_END		3	/* it ended; detail[0] = KVMFI_END_*, value = injected */
#define KVMFI_EVENT_RESTORE	4	/* an injected value was undone (value = the true one) */

#define KVMFI_WHAT_LEN 16

/*
 * One entry of a module's event ring: who was hit, when, with what. The ring
 * keeps the last KVMFI_EVENT_RING entries; older ones are counted as lost.
 */
struct kvmfi_event {
	__u64 seq;		/* 0, 1, 2, ... per module load */
	__u64 time_ns;		/* CLOCK_BOOTTIME, ns */
	__u64 experiment_id;
	__s32 pid;		/* global thread id */
	__s32 tgid;
	char comm[KVMFI_COMM_LEN];
	__u32 type;		/* KVMFI_EVENT_* */
	__u32 hook;		/* index of the module's hook that fired */
	__s64 value;		/* what was injected: return value, new register value, ... */
	__u64 detail[2];	/* module-specific: register and bit, bits dropped, address, ... */
	char what[KVMFI_WHAT_LEN];	/* short description, e.g. "return", "flip-pc" */
};

#define KVMFI_EVENT_RING 1024

/* Reads events with seq >= from_seq into buf (user pointer to max events). */
struct kvmfi_events {
	__u32 size;		/* sizeof(struct kvmfi_events) */
	__u32 max;		/* in: capacity of buf, in events */
	__u64 from_seq;		/* in: first sequence number wanted */
	__u64 buf;		/* in: user address of struct kvmfi_event[max] */
	__u32 count;		/* out: events copied */
	__u32 reserved0;
	__u64 next_seq;		/* out: from_seq for the next call */
	__u64 lost;		/* out: events overwritten before they could be read */
	__u64 reserved[2];
};

/* First call after open: check abi_major before anything else. */
#define KVMFI_IOC_VERSION	_IOR(KVMFI_IOC_MAGIC, 0x00, struct kvmfi_version)
#define KVMFI_IOC_ARM		_IOWR(KVMFI_IOC_MAGIC, 0x01, struct kvmfi_arm)
#define KVMFI_IOC_DISARM	_IO(KVMFI_IOC_MAGIC, 0x02)
#define KVMFI_IOC_STATUS	_IOR(KVMFI_IOC_MAGIC, 0x03, struct kvmfi_status)
#define KVMFI_IOC_EVENTS	_IOWR(KVMFI_IOC_MAGIC, 0x04, struct kvmfi_events)

#endif /* _UAPI_KVMFI_H */
