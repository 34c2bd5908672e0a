//! dirty-log-fi's help and man page words.

use crate::DirtyLog;
use kvmfi::kernel_tool::{Doc, KernelTool, ToolDoc};
use kvmfi::kvmtool;

impl ToolDoc for DirtyLog {
    fn doc() -> Doc {
        kvmtool::doc(Self::SPEC, ABOUT, DESCRIPTION, LEGACY, EXAMPLES)
    }
}

const ABOUT: &str = "Drop (or add) dirty bits in the bitmaps KVM_GET_DIRTY_LOG returns";

const DESCRIPTION: &str = "\
Drop (or add) dirty bits in the bitmaps KVM_GET_DIRTY_LOG returns to a chosen VMM.\n\n\
The kernel module vm-migration-fi.ko (the original vm-migration-fi) puts a return probe on the \
VM ioctl handler (kvm_vm_ioctl_get_dirty_log is inlined on Debian kernels), active for \
KVM_GET_DIRTY_LOG only: at entry it notes the slot and the caller's bitmap, and the slot's size; \
after KVM has filled the bitmap, it clears a share of its set bits (--drop-ratio) or sets a share \
of its clear bits (--add-ratio) in the caller's copy. The guest is untouched: only the VMM's view \
of which pages changed, so a pre-copy live migration silently misses the dropped pages (or \
copies spurious ones). Bits are chosen exactly every N-th overall, or at random with --seed. \
Bounds count ioctls: --times 1 spoils one KVM_GET_DIRTY_LOG. `status` shows bits-seen, \
bits-dropped, bits-added, bits-cleared-in-kvm and ring-resets-seen since the arm.\n\n\
Which dirty tracking is covered: (1) plain KVM_GET_DIRTY_LOG (KVM clears its bitmap and \
write-protects the pages it reports): a dropped page is lost unless the guest writes it again \
before the migration ends, as a later write is logged again. (2) Manual protection \
(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, which QEMU enables where the kernel has it, 5.x and later): \
the VMM clears only the bits it saw (KVM_CLEAR_DIRTY_LOG), so a bit hidden from it alone would \
come back at the next pass; the module therefore clears a dropped bit in KVM's bitmap too \
(bits-cleared-in-kvm): the page is never write-protected again and no later write to it is \
logged while dirty logging lasts, so the migration loses it for good. (3) The dirty ring \
(KVM_CAP_DIRTY_LOG_RING, QEMU -accel kvm,dirty-ring-size=N) is not covered: the VMM reads \
per-vCPU rings, not the bitmap; the scoped VMM's KVM_RESET_DIRTY_RINGS calls are counted in \
ring-resets-seen, so a nonzero value with bits-seen 0 says the fault could not act (kernels \
before 5.11 have no dirty ring: QEMU asked for one falls back to the bitmap, covered). Address \
space 0 only (not SMM).";

const LEGACY: &str = "\
Legacy control file: /proc/vm-migration-fi/signal: 1 = the next KVM_GET_DIRTY_LOG of any process \
loses every second dirty bit; 0 disarms. (The original failed the next VM ioctl of any kind with \
EIO and could not be disarmed.) Invoked as vm-migration-fi-main (a link made by `make install`), \
the program is the original one: it takes no values and arms through that file.";

const EXAMPLES: &str = "  \
dirty-log-fi arm --tgid $(pidof qemu-system-x86_64) --drop-ratio 0.1      # every 10th dirty page is lost\n  \
dirty-log-fi arm --comm firecracker --drop-ratio 5% --seed 42 --slot 0 --times 3\n  \
dirty-log-fi arm --tgid 4242 --add-ratio 1/100 --duration 2m\n  \
dirty-log-fi status            # bits-dropped: pages the destination will miss\n  \
dirty-log-fi off";
