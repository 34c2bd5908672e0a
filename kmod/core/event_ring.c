// SPDX-License-Identifier: GPL-2.0
/*
 * kvmfi core: the event ring, the last KVMFI_EVENT_RING injections, arms and
 * ends: lock-free appends from probe handlers, reads by the events ioctl.
 * #included by kvmfi_core.c.
 */

/* ------------------------------------------------------------------ */
/* Event ring                                                          */
/* ------------------------------------------------------------------ */

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
