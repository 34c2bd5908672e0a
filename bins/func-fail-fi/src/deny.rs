//! func-fail-fi's deny-list: the functions it refuses to skip without
//! --force, and the `deny-list` subcommand that prints them.

use clap::Subcommand;
use kvmfi::kernel_tool::ToolCommand;
use kvmfi::Result;

/// Functions whose body must run for the kernel to stay consistent: skipping
/// them leaks memory or references, leaves locks held, stalls RCU or the
/// scheduler, or breaks the probe machinery itself. Matched as exact names,
/// prefixes (`name*`) and suffixes (`*name`).
const DENY: &[&str] = &[
    // scheduling, exit, panic, printing
    "schedule", "__schedule", "schedule_timeout", "do_exit", "do_group_exit", "panic", "printk", "_printk",
    "vprintk*", "finish_task_switch*", "wake_up*", "try_to_wake_up", "__wake_up*", "complete", "complete_all",
    // locks and RCU
    "_raw_*", "raw_spin*", "spin_*", "mutex_*", "down", "down_*", "up", "up_*", "rcu_*", "__rcu_*",
    "call_rcu*", "synchronize_*", "*_lock", "*_unlock", "*_trylock", "lock_*", "queued_*", "osq_*",
    // freeing and reference drops: the caller believes they happened
    "kfree*", "kvfree*", "vfree*", "kmem_cache_free*", "free_*", "__free_*", "*_free", "put_*", "__put_*",
    "*_put", "dput", "iput", "fput", "mntput", "release_*", "*_release", "*_destroy", "refcount_*",
    // the machinery under every probe
    "kprobe*", "kretprobe*", "*_kprobe*", "ftrace*", "*ftrace*", "arch_*", "native_*", "preempt_*",
    "irq_*", "*_irq", "__irq*", "handle_irq*", "entry_*", "exc_*", "asm_*", "do_idle", "cpuidle*",
    "tick_*", "hrtimer_*", "ktime_*", "timekeeping_*", "trace_*", "perf_*", "kvmfi*",
    // memory copies: callers assume the bytes moved
    "memcpy*", "memset*", "memmove*", "copy_*", "__copy_*", "_copy_*", "strncpy*",
];

/// Functions with a dedicated tool that injects a correctly typed fault.
const DEDICATED: &[(&str, &str)] = &[
    ("handle_mm_fault", "mm-fault-fi (returns a vm_fault_t, not an errno)"),
    ("vfs_read", "vfs-read-fi"),
    ("vfs_write", "vfs-write-fi"),
    ("shrink_node", "kswapd-fi (returns nothing)"),
    ("kernel_clone", "cpu-reg-main"),
];

/// Functions whose contract changed: from the given kernel version on, they
/// release what their caller handed them on their own error path, so a skip
/// leaves it held (denied from that version; allowed before it).
const DENY_FROM: &[(&str, (u32, u32), &str)] = &[(
    "vfs_mkdir",
    (6, 15),
    "it returns the new dentry and, on its own error path, releases that dentry (newer kernels also the parent \
     directory's lock) itself: a skip leaves them held and the directory hangs every later access",
)];

/// The running kernel's version (major, minor).
pub fn kernel_version() -> Option<(u32, u32)> {
    parse_version(&std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?)
}

fn parse_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The reason `function` is denied on a kernel of `version`, if it is.
pub fn deny_reason_on(function: &str, version: Option<(u32, u32)>) -> Option<String> {
    if let Some(reason) = deny_reason(function) {
        return Some(reason);
    }
    let (_, from, why) = DENY_FROM.iter().find(|(f, from, _)| *f == function && version.is_some_and(|v| v >= *from))?;
    Some(format!(
        "{function} is on the deny-list from kernel {}.{}: {why}; pass --force to do it anyway",
        from.0, from.1
    ))
}

fn deny_reason(function: &str) -> Option<String> {
    if let Some((_, tool)) = DEDICATED.iter().find(|(f, _)| *f == function) {
        return Some(format!("{function} has a dedicated tool: use {tool}"));
    }
    DENY.iter()
        .find(|pat| match (pat.strip_suffix('*'), pat.strip_prefix('*')) {
            (Some(prefix), _) if !prefix.starts_with('*') => function.starts_with(prefix),
            (_, Some(suffix)) if suffix.ends_with('*') => function.contains(&suffix[..suffix.len() - 1]),
            (_, Some(suffix)) => function.ends_with(suffix),
            _ => function == **pat,
        })
        .map(|pat| {
            format!(
                "{function} is on the deny-list (pattern '{pat}'): skipping it is known to corrupt kernel state \
                 (locks, references, freeing, RCU, scheduling or the probe machinery); pass --force to do it anyway"
            )
        })
}

/// The subcommand of its own.
#[derive(Subcommand, Debug)]
pub enum Extra {
    /// Print the deny-list (one pattern a line)
    DenyList,
}

impl ToolCommand for Extra {
    fn run(self) -> Result<()> {
        match self {
            Extra::DenyList => {
                for p in DENY {
                    kvmfi::run::out(p)?;
                }
                for (f, tool) in DEDICATED {
                    kvmfi::run::out(format!("{f}\t(use {tool})"))?;
                }
                for (f, (major, minor), _) in DENY_FROM {
                    kvmfi::run::out(format!("{f}\t(from kernel {major}.{minor})"))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{deny_reason, deny_reason_on, parse_version};

    #[test]
    fn deny_list_patterns() {
        for f in ["mutex_lock", "_raw_spin_lock_irqsave", "kfree", "dput", "rcu_read_unlock", "schedule",
                  "foo_unlock", "sock_release", "kprobe_ftrace_handler", "copy_from_user", "handle_mm_fault"] {
            assert!(deny_reason(f).is_some(), "{f} should be denied");
        }
        for f in ["do_sys_openat2", "vfs_mkdir", "do_unlinkat", "kvm_vm_ioctl_create_vcpu", "__x64_sys_openat"] {
            assert!(deny_reason(f).is_none(), "{f} should be allowed: {:?}", deny_reason(f));
        }
    }

    #[test]
    fn deny_from_a_kernel_version() {
        assert_eq!(parse_version("7.3.4+deb13-amd64"), Some((7, 3)));
        assert_eq!(parse_version("5.10.0-46-amd64"), Some((5, 10)));
        assert_eq!(parse_version("garbage"), None);
        for v in [(5, 10), (6, 1), (6, 12), (6, 14)] {
            assert!(deny_reason_on("vfs_mkdir", Some(v)).is_none(), "vfs_mkdir allowed on {v:?}");
        }
        for v in [(6, 15), (7, 3)] {
            let r = deny_reason_on("vfs_mkdir", Some(v)).unwrap();
            assert!(r.contains("from kernel 6.15") && r.contains("--force"), "{r}");
        }
        assert!(deny_reason_on("security_inode_mkdir", Some((7, 3))).is_none());
        assert!(deny_reason_on("mutex_lock", Some((5, 10))).is_some());
    }
}
