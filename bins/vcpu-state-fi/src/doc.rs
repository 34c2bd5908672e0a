//! vcpu-state-fi's help and man page words.

use crate::VcpuState;
use kvmfi::kernel_tool::{Doc, KernelTool, ToolDoc};
use kvmfi::kvmtool;

impl ToolDoc for VcpuState {
    fn doc() -> Doc {
        kvmtool::doc(Self::SPEC, ABOUT, DESCRIPTION, LEGACY, EXAMPLES)
    }
}

const ABOUT: &str = "Falsify the vCPU registers a VMM reads while the guest runs on untouched";

const DESCRIPTION: &str = "\
Falsify the vCPU registers a VMM reads, while the guest's real state stays untouched.\n\n\
The kernel module kvm-state-fi.ko (the original state-query-fi/kvm-state-fi) edits only the copy \
of a register that user space receives: on x86_64 the struct that KVM_GET_REGS fills before it is \
copied out (rip, rflags, rax..r15); on arm64, where KVM_GET_REGS returns EINVAL and VMMs read \
registers one by one with KVM_GET_ONE_REG, the value KVM just copied to the caller's buffer \
(pc, pstate, sp, x0..x30). The guest keeps running as if nothing happened; debuggers, \
migration and crash dumps of the VMM see the falsified value (QEMU: `info registers`).\n\n\
Write-back: a VMM that writes back the registers it read (QEMU does before it resumes a vCPU \
whose state it synchronised: one KVM_SET_REGS on x86_64, a KVM_SET_ONE_REG per register on \
arm64) would make a false program counter the guest's real one. The module remembers, per vCPU \
and register, the value it made up and the true one; when the VMM sets exactly the made-up value \
again, KVM gets the true value instead (an event of type `restore` in `events`), so the guest \
runs on; a different value the VMM sets is its own and is kept. This write hook \
(kvm_arch_vcpu_ioctl_set_regs, kvm_arm_set_reg) stays enabled while the module is loaded, also \
after `off`, so a read made while armed is still put right.";

const LEGACY: &str = "\
Legacy control files: /proc/kvm-state-fi/{signal,times}: a random bit 0-31 of the program \
counter (rip, pc) read by any process flips, `times` reads long. (The original made every \
vCPU ioctl fail with EIO instead.) Invoked as kvm-state-fi-main (a link made by `make install`), \
the program is the original one: `kvm-state-fi-main [TIMES]`, or with no arguments the original prompt.";

const EXAMPLES: &str = "  \
vcpu-state-fi arm --tgid $(pidof qemu-system-x86_64) --reg rip --xor 0x1000 --times 5\n  \
vcpu-state-fi arm --comm firecracker --reg pc --set 0xdead0000\n  \
vcpu-state-fi arm --tgid 4242 --reg pstate --flip --probability 50 --duration 1m\n  \
vcpu-state-fi status; vcpu-state-fi off";
