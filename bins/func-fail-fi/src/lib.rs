//! func-fail-fi: any probe-able kernel function returns a chosen errno, 0 or
//! value for a scoped target, its body skipped (see `man func-fail-fi`).
//! What the kernel's fail_function does, on kernels built without it.

use clap::{ArgGroup, Args, Subcommand};
use kvmfi::abi::Arm;
use kvmfi::cli::{Bounds, Held, Scope};
use kvmfi::kernel_tool::{self, ArmOptions, Doc, ExitText, KernelTool, NoTop, ToolCommand};
use kvmfi::request::{self, func_fail};
use kvmfi::symbols::{ModuleSpec, FUNC_FAIL};
use kvmfi::tool::{self, ModuleOpts};
use kvmfi::{errno, kmod, Error, Result};

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
fn kernel_version() -> Option<(u32, u32)> {
    parse_version(&std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?)
}

fn parse_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The reason `function` is denied on a kernel of `version`, if it is.
fn deny_reason_on(function: &str, version: Option<(u32, u32)>) -> Option<String> {
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

/// A kernel symbol name as /proc/kallsyms spells it (clones: `name.part.0`).
fn parse_function(text: &str) -> std::result::Result<String, String> {
    let ok = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && text.len() <= 256;
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!("'{text}' is not a kernel function name (letters, digits, '_' and '.', as in /proc/kallsyms)"))
    }
}

/// `arm`'s options: the function first, and a module file but no --symbol
/// (the function is the symbol).
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("result").args(["errno", "zero", "retval"])))]
pub struct FuncArm {
    /// The kernel function to make fail (as in /proc/kallsyms)
    #[arg(long, value_name = "FUNCTION", help_heading = "Fault", value_parser = parse_function)]
    function: String,
    /// Return this error (default ENOMEM): a name or a number
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, help_heading = "Fault")]
    errno: Option<i32>,
    /// Return 0 (NULL for functions returning a pointer)
    #[arg(long, help_heading = "Fault")]
    zero: bool,
    /// Return this exact value
    #[arg(long, value_name = "N", allow_negative_numbers = true, help_heading = "Fault")]
    retval: Option<i64>,
    /// Arm even a function on the deny-list (you will likely crash or hang the kernel)
    #[arg(long, help_heading = "Fault")]
    force: bool,
    #[command(flatten)]
    scope: Scope,
    #[command(flatten)]
    bounds: Bounds,
    /// Use this module file instead of searching for it
    #[arg(long, value_name = "PATH", help_heading = "Module")]
    module: Option<std::path::PathBuf>,
}

impl ArmOptions for FuncArm {
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn bounds(&self) -> &Bounds {
        &self.bounds
    }
    fn module(&self) -> ModuleOpts {
        ModuleOpts { module: self.module.clone(), symbol: Some(self.function.clone()) }
    }
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct FuncFail;

impl KernelTool for FuncFail {
    type Top = NoTop;
    type Arm = FuncArm;
    type Extra = Extra;
    const SPEC: &'static ModuleSpec = &FUNC_FAIL;

    fn doc() -> Doc {
        Doc {
            about: "Make any probe-able kernel function return an error for a scoped target".into(),
            long_about: "Make any probe-able kernel function return an error (or 0, or a value) for a scoped target, \
             skipping the function's body: what the kernel's fail_function does, on kernels built without \
             CONFIG_FAIL_FUNCTION (Debian's) and without its allow-list of ALLOW_ERROR_INJECTION functions.\n\n\
             The module func-fail-fi.ko is loaded for one function at a time (module parameter symbol=); \
             arming another function reloads it when nothing is armed. Skipping is safe only where callers \
             handle the error and the function has no effect they rely on: pick functions that validate, \
             allocate or look something up and return an error (do_sys_openat2, security_inode_mkdir, ...).\n\n\
             The deny-list refuses functions where a skip is known to corrupt state. It is built from four \
             rules: (1) the body must run for the kernel to stay consistent — locks, RCU, scheduling, exit, \
             freeing memory and dropping references (the caller believes they happened); (2) the probe \
             machinery under every probe (kprobes, ftrace, irq and entry code, timekeeping); (3) functions \
             that have a dedicated kvmfi tool injecting a correctly typed fault (handle_mm_fault returns a \
             vm_fault_t, not an errno); (4) from the kernel version where their contract changed, functions \
             that release their caller's dentry or lock on their own error path (vfs_mkdir from 6.15). \
             `func-fail-fi deny-list` prints it; --force overrides it with a warning."
                .into(),
            notes: "",
            files: "/dev/kvmfi/func_fail_fi (control device, root only); /sys/module/func_fail_fi/parameters/symbol.".into(),
            examples: "  func-fail-fi arm --function do_sys_openat2 --errno EACCES --tgid 4242 --times 3\n  \
                       func-fail-fi arm --function security_inode_mkdir --errno ENOSPC --comm mkdir --duration 30s\n  func-fail-fi events --follow",
            exits: ExitText {
                usage: " or a denied function",
                unsupported: "unsupported (function or module missing)",
                ..ExitText::KERNEL
            },
        }
    }

    fn customize(cmd: clap::Command) -> clap::Command {
        kernel_tool::edit_subcommand(cmd, "arm", |c| {
            c.about("Arm the fault (loads the module for FUNCTION); prints the experiment id")
        })
        .mut_subcommand("deny-list", |c| c.display_order(1))
    }

    /// Refuses a denied function (unless --force) or one this kernel lacks,
    /// and reloads the module when it was loaded for another function.
    fn arm(a: FuncArm) -> Result<()> {
        let spec = Self::SPEC;
        if let Some(reason) = deny_reason_on(&a.function, kernel_version()) {
            if !a.force {
                return Err(Error::usage(reason));
            }
            eprintln!("func-fail-fi: warning: --force: {reason}");
        }
        if !kvmfi::kallsyms::present(&[a.function.as_str()])?.contains(&a.function) {
            return Err(Error::unsupported(format!(
                "--function {}: this kernel has no function of that name in /proc/kallsyms",
                a.function
            )));
        }
        if kmod::is_loaded(spec.module) && loaded_symbol().as_deref() != Some(a.function.as_str()) {
            // Loaded for another function: reload it, unless a fault is armed there.
            let armed = tool::read_status(spec)?.is_some_and(|s| s.state == kvmfi::abi::STATE_ARMED);
            if armed && !a.bounds.replace {
                return Err(Error::failed(format!(
                    "func-fail-fi is armed on {}; disarm it with `func-fail-fi off` or pass --replace",
                    loaded_symbol().unwrap_or_default()
                )));
            }
            tool::unload(spec)?;
        }
        let opts = a.module();
        let load_opts = if kmod::is_loaded(spec.module) { ModuleOpts { symbol: None, ..opts } } else { opts };
        tool::arm(spec, &load_opts, &a.scope, &a.bounds, false, |req, held| Self::fill(&a, req, held))
    }

    fn fill(a: &FuncArm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let mut args = func_fail::Args::default();
        let mode = if a.zero {
            func_fail::MODE_ZERO
        } else if let Some(v) = a.retval {
            args.value = v;
            func_fail::MODE_VALUE
        } else {
            req.error = a.errno.unwrap_or(libc_enomem());
            func_fail::MODE_ERRNO
        };
        request::set(req, mode, args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(FuncFail);

fn loaded_symbol() -> Option<String> {
    std::fs::read_to_string("/sys/module/func_fail_fi/parameters/symbol").ok().map(|s| s.trim().to_string())
}

const fn libc_enomem() -> i32 {
    12
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
