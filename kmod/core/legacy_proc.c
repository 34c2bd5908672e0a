// SPDX-License-Identifier: GPL-2.0
/*
 * kvmfi core: the original tools' /proc/<dir>/{signal,<knobs>} control
 * files, the second front door to the same arm and disarm as the device.
 * #included by kvmfi_core.c.
 */

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

/*
 * `signal` arms as the original did: system-wide, with the times knob's
 * count, the module's lease and what its legacy_request() adds from the
 * other knobs. Caller holds kvmfi.lock.
 */
static int kvmfi_legacy_arm(void)
{
	const struct kvmfi_ops *ops = kvmfi.ops;
	struct kvmfi_arm req = {
		.size = sizeof(req),
		.probability = 100,
		.interval = 1,
		.times = -1,
		.duration_ms = ops->legacy_lease_ms,
		.flags = KVMFI_ARM_REPLACE,
		.verbose = 1,
		.cgroup_fd = -1,
		.path_fd = -1,
	};
	unsigned int i;
	int err;

	for (i = 0; i < ops->nr_knobs; i++)
		if (ops->knobs[i].times)
			req.times = ops->knobs[i].value;
	if (ops->legacy_request) {
		err = ops->legacy_request(&req);
		if (err)
			return err;
	}
	return kvmfi_arm_locked(&req);
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
			err = kvmfi_legacy_arm();
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
