//! memslot-fi's help and man page words.

use crate::Memslot;
use kvmfi::kernel_tool::{Doc, KernelTool, ToolDoc};
use kvmfi::kvmtool;

impl ToolDoc for Memslot {
    fn doc() -> Doc {
        kvmtool::doc(Self::SPEC, ABOUT, DESCRIPTION, LEGACY, EXAMPLES)
    }
}

const ABOUT: &str = "Make KVM memory regions or guest-frame translations fail for a chosen VMM";

const DESCRIPTION: &str = "\
Make KVM memory regions or guest-frame translations fail for a chosen VMM.\n\n\
The kernel module memory.ko (the original memory-manage-fi) has two kinds of fault. --region (class 1): \
the memory-region function that really runs for KVM_SET_USER_MEMORY_REGION is skipped at its \
entry, so no memslot changes and the VMM gets the errno (KVM's internal slots are never \
touched). Which one runs differs per kernel: kvm_set_memory_region, the original hook, is \
inlined into the ioctl on Debian 6.1 and 6.12 x86_64 and arm64 6.1 (it registers but never \
fires; __kvm_set_memory_region does), while on arm64 6.12 the ioctl calls kvm_set_memory_region, \
which calls a .part clone of __kvm_set_memory_region. Both are probed; a call is judged once. --gfn (class 2): an out-of-line guest-frame translation that guest page faults \
really reach (gfn_to_hva_many is inlined everywhere) fails for the chosen frames: on x86_64 \
(__gfn_to_pfn_memslot) the guest's fault on them fails and KVM_RUN returns EFAULT to the VMM; \
on arm64 (gfn_to_hva_memslot_prot) KVM takes them for unbacked, so the guest's accesses become \
MMIO exits to the VMM. KVM's own accesses to them fail with EFAULT.";

const LEGACY: &str = "\
Legacy control files: /proc/memory-manage-fi/{signal,class,time,position,type,style}: class 1 \
or 2; type 1 flip, 2 set, 3 clear a random bit 0-31 of position 2 (the region's guest address, \
or the gfn), 0 = fail plainly; position 1 (a kernel pointer) is refused; time = injections (-1 = \
unlimited); style is unused. The legacy interface acts on every process. Invoked as memory-main (a link made by \
`make install`), the program is the original one: `memory-main [CLASS [POSITION [TYPE [COUNT]]]]`, \
or with no arguments the original prompts (class, position, type, count).";

const EXAMPLES: &str = "  \
memslot-fi arm --tgid $(pidof qemu-system-x86_64) --region --errno ENOMEM --times 1\n  \
memslot-fi arm --comm firecracker --region --slot 1 --errno EFAULT\n  \
memslot-fi arm --tgid 4242 --gfn 0x100-0x1ff          # guest accesses there fail (EFAULT / MMIO exits)\n  \
memslot-fi status; memslot-fi off";
