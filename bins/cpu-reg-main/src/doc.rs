//! cpu-reg-main's help and man page words.

use crate::CpuReg;
use kvmfi::kernel_tool::{Doc, ToolDoc};

impl ToolDoc for CpuReg {
    fn doc() -> Doc {
        Doc::new(ABOUT, LONG_ABOUT, FILES, EXAMPLES).notes(NOTES)
    }
}

const ABOUT: &str = "Corrupt a register of the threads and processes a target creates, before they first run";

const LONG_ABOUT: &str = "\
Corrupt one register of the threads and processes a target creates, before they first run.

When a process in scope creates a thread or a child process (clone, fork, vfork, pthread_create), \
the new task's saved user-mode registers are changed before it first runs: one bit flipped (chosen, \
or random with an optional --seed) or a value set. x86_64: the general registers, RSP, RIP and RFLAGS; \
arm64: X0-X30, SP, PC and PSTATE. Flags are limited to the bits user space can change itself (x86_64 \
CF PF AF ZF SF TF DF OF AC; arm64 N Z C V), as ptrace(2) enforces, so the new task stays in user mode. \
A corrupted PC or SP makes the new task fault at once (SIGSEGV, SIGBUS, SIGILL, or SIGTRAP for the \
x86_64 trap flag); a fatal signal in a new thread ends its whole process; a corrupted general register \
changes what the new task computes. Kernel threads, io_uring/vhost workers and tasks created by the \
kernel itself are never touched.

The module cpu-reg.ko (kernel name cpu_reg) probes wake_up_new_task, which kernel_clone (older \
kernels: _do_fork) calls in the parent once the child is complete and just before the child can be \
scheduled. kernel_clone itself is not a usable point: at its entry the child does not exist yet, and \
when it returns the child is already runnable and, on another CPU, may be running user code.

Three ways to use it. The original form: `insmod cpu-reg.ko; cpu-reg-main PID TYPE; rmmod cpu_reg` \
corrupts the next task created by process PID (--times 1 unless given). With no arguments at all, \
the original prompts are read from standard input in the original order: aim bitmask, times, mode \
(0 flip a random bit, 1 set to zero); then, new and optional, a target process id (an empty line or \
end of input keeps the original behaviour: every process, which is announced on standard error). \
And the subcommands arm, off, status and unload with the options below.

Every fault is bounded by --times and by a lease (--duration, 10 minutes unless given) after which \
the module disarms by itself; the prompts and the original form use the same 10-minute lease. \
Hook candidates (first present is used): wake_up_new_task. \
Legacy control files: /proc/cpu-general-fi/{signal,times,aim,lasting}.";

const NOTES: &str = "\
FAULT TYPES: the TYPE of `cpu-reg-main PID TYPE` and of `arm --type` (x86_64 register in brackets):
  1  flip a random bit of PC [RIP]
  2  flip a random bit of SP [RSP]
  3  flip a random bit of the frame pointer X29 [RBP]
  4  flip a random bit of the link register X30 [RCX, which holds the return address after SYSCALL]
  5  flip a random bit of X0 [RAX], the return value: the new task believes it is the parent
  6  flip a random bit of a random general register
  7  flip a random user-changeable flag of PSTATE (N Z C V) [RFLAGS: CF PF AF ZF SF TF DF OF AC]
  8  set PC [RIP] to 0
  9  set SP [RSP] to 0
AIM BITS: the original prompt's register bitmask, lowest set bit used (x86_64 in brackets):
  1 X0 [RAX]  2 X1 [RDI]  4 X2 [RSI]  8 X3 [RDX]  16 X4 [R10]  32 X5 [R8]
  64 X29 [RBP]  128 X30 [RCX]  256 SP [RSP]  512 PC [RIP]
";

const FILES: &str = "/dev/kvmfi/cpu_reg (control device, root only); /proc/cpu-general-fi/{signal,times,aim,lasting} \
(original control files: signal 1 arms for every process with a 10-minute lease).";

const EXAMPLES: &str = "  insmod cpu-reg.ko; cpu-reg-main $(pidof myapp) 1; rmmod cpu_reg
  printf '512\\n5\\n0\\n' | cpu-reg-main
  cpu-reg-main arm --tgid 1234 --reg pc --flip-bit 40 --times 1
  cpu-reg-main arm --tgid 1234 --reg r12 --set 0x5678
  cpu-reg-main arm --comm worker --reg random --random-bit --seed 42 --times 3 --duration 1m
  cpu-reg-main status --json";
