//! mm-fault-fi's help and man page words.

use crate::MmFault;
use kvmfi::kernel_tool::{Doc, ToolDoc};

impl ToolDoc for MmFault {
    fn doc() -> Doc {
        Doc::new(ABOUT, LONG_ABOUT, FILES, EXAMPLES)
    }
}

const ABOUT: &str = "Make the page faults of a chosen process fail with SIGSEGV, SIGBUS or OOM";

const LONG_ABOUT: &str = "\
Make the page faults of a chosen process fail with SIGSEGV, SIGBUS or OOM.

The module pt-load-fi.ko (kernel name pt_load_fi) probes handle_mm_fault and, for a fault of a task \
in scope (and, with --addr-range, at an address in the range), skips the function and returns the \
chosen vm_fault_t, as if the kernel had failed to provide the page. Faults of other processes, and \
outside the range, are untouched.

What the target sees. sigsegv: a user-mode access is killed with SIGSEGV (SEGV_MAPERR). sigbus: \
SIGBUS (BUS_ADRERR). oom: since Linux 5.16 a VM_FAULT_OOM that reaches the page-fault handler no \
longer invokes the OOM killer; the kernel logs \"Huh VM_FAULT_OOM leaked out to the #PF handler. \
Retrying PF\" (rate-limited) and lets the task fault again, so the target spins on the faulting \
instruction while the fault lasts; every retry is one injection, so --times N lets it continue after N \
retries (an unlimited oom fault holds the target until the lease ends or `off`). A kernel-mode access to \
the target's memory, such as read(2) copying into a not yet populated buffer, takes the kernel's \
exception fixup instead: the system call fails with EFAULT and nothing crashes; but when the kernel \
cannot write a signal frame onto the target's stack to deliver a signal, it kills the target with SIGSEGV. Faults that \
get_user_pages() takes for the target fail with EFAULT (sigsegv, sigbus) or ENOMEM (oom).

Never hit: kernel threads and the global init (pid 1), for which a fatal signal would panic the \
kernel. Every fault is bounded by --times, --probability, --interval and a lease (--duration, 10 \
minutes unless given); `off`, `unload` and rmmod disarm at once.

Hook candidates (first present is used): handle_mm_fault (x86_64 and arm64, 6.1 and 6.12). \
Legacy control files: /proc/pt-load-fi/{signal,times,type} (type 0 = oom, other = sigbus; system-wide, \
10-minute lease). Invoked as pt-load-fi-main (a link made by `make install`), the program is the \
original one: `pt-load-fi-main [TYPE [TIMES]]`, or with no arguments the original prompts (type, times).";

const FILES: &str = "/dev/kvmfi/pt_load_fi (control device, root only); /proc/pt-load-fi/{signal,times,type} (original control files).";

const EXAMPLES: &str = "  mm-fault-fi arm --tgid $(pidof qemu-system-x86_64) --addr-range 0x7f0000000000+2G --result sigbus --times 1
  mm-fault-fi arm --comm stress-ng --result sigsegv --probability 10 --duration 30s
  mm-fault-fi status --json
  pt-load-fi-main 1 3
  mm-fault-fi off";
