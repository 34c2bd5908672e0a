//! func-fail-fi's help and man page words.

use crate::FuncFail;
use kvmfi::kernel_tool::{Doc, ExitText, ToolDoc};

impl ToolDoc for FuncFail {
    fn doc() -> Doc {
        Doc::new("Make any probe-able kernel function return an error for a scoped target", LONG_ABOUT, FILES, EXAMPLES)
            .exits(ExitText {
                usage: " or a denied function",
                unsupported: "unsupported (function or module missing)",
                ..ExitText::KERNEL
            })
    }
}

const LONG_ABOUT: &str = "Make any probe-able kernel function return an error (or 0, or a value) for a scoped target, \
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
`func-fail-fi deny-list` prints it; --force overrides it with a warning.";

const FILES: &str = "/dev/kvmfi/func_fail_fi (control device, root only); /sys/module/func_fail_fi/parameters/symbol.";

const EXAMPLES: &str = "  func-fail-fi arm --function do_sys_openat2 --errno EACCES --tgid 4242 --times 3\n  \
func-fail-fi arm --function security_inode_mkdir --errno ENOSPC --comm mkdir --duration 30s\n  func-fail-fi events --follow";
