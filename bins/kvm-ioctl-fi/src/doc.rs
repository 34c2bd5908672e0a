//! kvm-ioctl-fi's help and man page words.

use crate::KvmIoctl;
use kvmfi::kernel_tool::{Doc, KernelTool, ToolDoc};
use kvmfi::kvmtool;

impl ToolDoc for KvmIoctl {
    fn doc() -> Doc {
        kvmtool::doc(Self::SPEC, ABOUT, DESCRIPTION, LEGACY, EXAMPLES)
    }
}

const ABOUT: &str = "Make chosen KVM VM and vCPU ioctls fail for a chosen VMM";

const DESCRIPTION: &str = "\
Make chosen KVM VM and vCPU ioctls fail for a chosen VMM.\n\n\
The kernel module resource.ko (the original access-control-fi) probes the VM ioctl handler and the \
vCPU ioctl handler. A call in scope whose command is one of --cmd is skipped at the entry of the \
handler: KVM does nothing and the VMM gets -1 with the errno (EPERM unless --errno). Other \
processes, and other commands, are untouched. Works with any VMM (QEMU, kvmtool, Firecracker, \
cloud-hypervisor): scope it by --tgid, --comm or --cgroup. /dev/kvm ioctls (KVM_CREATE_VM, \
KVM_CHECK_EXTENSION) are kvm-version-fi's.";

const LEGACY: &str = "\
Legacy control files: /proc/resource/{signal,time,position,type,style}: position 1 = command, \
2 = argument; type 1 flip, 2 set, 3 clear a random bit 0-31 (0 = fail with EPERM); time = \
injections (-1 = unlimited); style is unused. The legacy interface acts on every process. Invoked as resource-main (a link made by \
`make install`), the program is the original one: `resource-main [POSITION [TYPE [COUNT]]]`, or with \
no arguments the original prompts (position, type, count).";

const EXAMPLES: &str = "  \
kvm-ioctl-fi --list-cmds\n  \
kvm-ioctl-fi arm --tgid $(pidof qemu-system-x86_64) --cmd KVM_CREATE_VCPU            # EPERM\n  \
kvm-ioctl-fi arm --comm firecracker --cmd KVM_IRQFD --cmd KVM_IOEVENTFD --errno EACCES --times 3\n  \
kvm-ioctl-fi arm --tgid 4242 --cmd KVM_RUN --errno EINTR --probability 10 --duration 30s\n  \
kvm-ioctl-fi status; kvm-ioctl-fi off";
