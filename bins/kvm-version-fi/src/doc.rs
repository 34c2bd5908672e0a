//! kvm-version-fi's help and man page words.

use crate::KvmVersion;
use kvmfi::kernel_tool::{Doc, KernelTool, ToolDoc};
use kvmfi::kvmtool;

impl ToolDoc for KvmVersion {
    fn doc() -> Doc {
        kvmtool::doc(Self::SPEC, ABOUT, DESCRIPTION, LEGACY, EXAMPLES)
    }
}

const ABOUT: &str = "Fake the KVM API version, or make chosen /dev/kvm ioctls fail";

const DESCRIPTION: &str = "\
Fake the KVM API version, or make chosen /dev/kvm ioctls fail, for a chosen process.\n\n\
The kernel module kvm-version-fi.ko (the original state-query-fi/kvm-version-fi) probes the /dev/kvm \
ioctl handler. A call in scope is skipped at the handler's entry and returns the chosen value: \
--api-version N makes KVM_GET_API_VERSION answer N (every VMM refuses a version other than 12); \
--fail makes the named ioctls return -1 with the errno (ENOMEM unless --errno) or the --value; \
for KVM_CHECK_EXTENSION, --cap limits it to chosen capabilities. KVM itself does nothing for a \
caught call (no VM is created). Other processes are untouched.";

const LEGACY: &str = "\
Legacy control files: /proc/kvm-version-fi/{signal,times}: KVM_GET_API_VERSION answers 0 \
for `times` calls of any process (the original turned 12 into 0). Invoked as kvm-version-fi-main (a link made by \
`make install`), the program is the original one: `kvm-version-fi-main [TIMES]`, or with no arguments \
the original prompt.";

const EXAMPLES: &str = "  \
kvm-version-fi arm --tgid $(pidof qemu-system-x86_64) --api-version 11\n  \
kvm-version-fi arm --comm qemu-system-x86 --fail KVM_CREATE_VM --errno ENOMEM --times 1\n  \
kvm-version-fi arm --tgid 4242 --fail KVM_CHECK_EXTENSION --cap KVM_CAP_IRQFD --value 0\n  \
kvm-version-fi status; kvm-version-fi off";
