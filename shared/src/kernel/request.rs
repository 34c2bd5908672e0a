//! Rust mirror of `kmod/include/uapi/kvmfi/<tool>.h`: what each module
//! reads from [`Arm`] beyond scope and bounds, the values
//! of `mode` and the meaning of `arg`, with names and types.
//!
//! A module's arguments are a struct exactly as large as `Arm::arg` that
//! overlays it ([`ModuleArgs::store`], [`ModuleArgs::load`]). Declared once,
//! field for field as in C; the assertions below pin sizes and offsets, and
//! `tests/abi_matches_c.rs` compares every struct and constant with the C
//! headers.

use crate::kernel::abi::{Arm, NR_ARGS};
use std::mem::{offset_of, size_of};

/// A module's arguments: a plain-integer `#[repr(C)]` struct of exactly
/// `NR_ARGS` u64s, without padding, that overlays `kvmfi_arm.arg`.
pub trait ModuleArgs: Copy + Default {
    /// Writes the arguments into the request's `arg` slots.
    fn store(&self, req: &mut Arm) {
        const { assert!(size_of::<Self>() == size_of::<[u64; NR_ARGS]>()) };
        // SAFETY: Self is one of this module's repr(C) structs of plain
        // integers, as large as `arg` (asserted at compile time above) and
        // without padding (offsets asserted, compared with C):
        // every byte is initialised and any bit pattern is a valid [u64].
        req.arg = unsafe { std::mem::transmute_copy::<Self, [u64; NR_ARGS]>(self) };
    }
    /// Reads the arguments back from a request (a status' `armed` copy).
    fn load(req: &Arm) -> Self {
        const { assert!(size_of::<Self>() == size_of::<[u64; NR_ARGS]>()) };
        // SAFETY: as in `store`; every field is a plain integer, so any bit
        // pattern of `arg` is a valid Self.
        unsafe { std::mem::transmute_copy::<[u64; NR_ARGS], Self>(&req.arg) }
    }
}

/// Declares a module's argument struct (field for field as its C struct)
/// and checks at compile time that it overlays `arg` exactly.
macro_rules! module_args {
    ($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name {
            $(pub $field: $ty),*
        }
        impl $crate::kernel::request::ModuleArgs for $name {}
        const _: () = assert!(std::mem::size_of::<$name>() == $crate::kernel::abi::NR_ARGS * 8);
    };
}

/// Sets `req.mode` and the module's arguments in one step.
pub fn set<A: ModuleArgs>(req: &mut Arm, mode: u32, args: A) {
    req.mode = mode;
    args.store(req);
}

/// Numbers (ioctl commands, capabilities) into a module's fixed slots, the
/// unused ones 0; the caller has checked that they fit.
pub fn slots<const N: usize>(numbers: impl IntoIterator<Item = u64>) -> [u64; N] {
    let mut slots = [0; N];
    for (slot, n) in slots.iter_mut().zip(numbers) {
        *slot = n;
    }
    slots
}

/// The original KVM tools' bit operations on a random bit 0-31.
pub mod bitop {
    pub const FLIP: u8 = 1;
    pub const SET: u8 = 2;
    pub const CLEAR: u8 = 3;
}

/// vfs-read-fi, vfs-write-fi (file-read-fi.ko, file-write-fi.ko): modes only.
pub mod vfs {
    pub const MODE_ERROR: u32 = 0;
    pub const MODE_EMPTY: u32 = 1;
}

/// func-fail-fi (func-fail-fi.ko).
pub mod func_fail {
    pub const MODE_ERRNO: u32 = 0;
    pub const MODE_ZERO: u32 = 1;
    pub const MODE_VALUE: u32 = 2;

    module_args! {
        /// `struct kvmfi_func_fail_args`
        Args { value: i64, reserved: [u64; 7] }
    }
}

/// cpu-reg-main (cpu-reg.ko).
pub mod cpu_reg {
    pub const MODE_FLIP: u32 = 0;
    pub const MODE_SET: u32 = 1;
    pub const SP: u64 = 31;
    pub const PC: u64 = 32;
    pub const FLAGS: u64 = 33;
    pub const RANDOM: u64 = 64;
    pub const BIT_RANDOM: u64 = 64;

    module_args! {
        /// `struct kvmfi_cpu_reg_args`
        Args { reg: u64, bit: u64, value: u64, seed: u64, reserved: [u64; 4] }
    }
}

/// kvm-ioctl-fi (resource.ko).
pub mod kvm_ioctl {
    pub const MODE_ERROR: u32 = 0;
    pub const MODE_CORRUPT: u32 = 1;
    pub const FD_VM: u64 = 1 << 0;
    pub const FD_VCPU: u64 = 1 << 1;
    pub const POS_CMD: u8 = 1;
    pub const POS_ARG: u8 = 2;
    pub const NR_CMDS: usize = 6;

    module_args! {
        /// `struct kvmfi_kvm_ioctl_args`
        Args { cmd: [u64; NR_CMDS], fds: u64, corrupt_pos: u8, corrupt_type: u8, reserved: [u8; 6] }
    }
}

/// kvm-version-fi (kvm-version-fi.ko).
pub mod kvm_version {
    pub const MODE_VALUE: u32 = 0;
    pub const MODE_ERROR: u32 = 1;
    pub const NR_CMDS: usize = 4;
    pub const NR_CAPS: usize = 3;
    pub const CAP_VALID: u64 = 1 << 32;

    module_args! {
        /// `struct kvmfi_kvm_version_args`
        Args { cmd: [u64; NR_CMDS], cap: [u64; NR_CAPS], value: i64 }
    }
}

/// vcpu-state-fi (kvm-state-fi.ko).
pub mod vcpu_state {
    pub const MODE_XOR: u32 = 0;
    pub const MODE_SET: u32 = 1;
    pub const MODE_FLIP: u32 = 2;

    module_args! {
        /// `struct kvmfi_vcpu_state_args`
        Args { reg: u64, value: u64, reserved: [u64; 6] }
    }
}

/// dirty-log-fi (vm-migration-fi.ko); `mode` is a set of flags.
pub mod dirty_log {
    pub const RANDOM: u32 = 1 << 0;
    pub const ADD: u32 = 1 << 1;
    pub const PPM: u64 = 1_000_000;

    module_args! {
        /// `struct kvmfi_dirty_log_args`
        Args { ppm: u64, seed: u64, slot: u64, reserved: [u64; 5] }
    }
}

/// memslot-fi (memory.ko).
pub mod memslot {
    pub const MODE_FAIL: u32 = 0;
    pub const MODE_CORRUPT: u32 = 1;
    pub const CLASS_REGION: u64 = 1;
    pub const CLASS_GFN: u64 = 2;
    pub const POS_ADDR: u8 = 2;

    module_args! {
        /// `struct kvmfi_memslot_args`
        Args { slot: u64, gfn_first: u64, gfn_end: u64, corrupt_pos: u8, corrupt_type: u8, reserved0: [u8; 6], reserved: [u64; 3], class: u64 }
    }
}

/// mm-fault-fi (pt-load-fi.ko): `mode` is what handle_mm_fault returns.
pub mod mm_fault {
    pub const SIGSEGV: u32 = 0;
    pub const SIGBUS: u32 = 1;
    pub const OOM: u32 = 2;

    module_args! {
        /// `struct kvmfi_mm_fault_args`
        Args { addr_start: u64, addr_end: u64, reserved: [u64; 6] }
    }
}

/// kswapd-fi (kswapd-fi.ko).
pub mod kswapd {
    pub const MODE_DELAY: u32 = 0;
    pub const MODE_SKIP: u32 = 1;
    pub const WHO_KSWAPD: u64 = 0;
    pub const WHO_DIRECT: u64 = 1;
    pub const MAX_DELAY_MS: u64 = 1000;

    module_args! {
        /// `struct kvmfi_kswapd_args`
        Args { delay_ms: u64, who: u64, reserved: [u64; 6] }
    }
}

/// tlb-flush-fi: no arguments; the mode names the module (pt-update-fi.ko:
/// lost shootdowns; kvm-tlb-fi.ko: KVM's remote TLB flushes suppressed).
pub mod tlb_flush {
    pub const MODE_LOSE: u32 = 0;
    pub const MODE_KVM_REMOTE: u32 = 1;
}

const _: () = assert!(offset_of!(kvm_ioctl::Args, corrupt_pos) == 56);
const _: () = assert!(offset_of!(kvm_ioctl::Args, corrupt_type) == 57);
const _: () = assert!(offset_of!(kvm_version::Args, value) == 56);
const _: () = assert!(offset_of!(memslot::Args, corrupt_pos) == 24);
const _: () = assert!(offset_of!(memslot::Args, class) == 56);

#[cfg(test)]
mod tests {
    use super::*;

    /// The overlay keeps the wire format the modules read: the original
    /// `position | type << 8` packing in one slot, slot by slot elsewhere.
    #[test]
    fn overlays_the_arg_slots() {
        let mut req = Arm::default();
        let a = kvm_ioctl::Args { cmd: [7, 0, 0, 0, 0, 9], fds: kvm_ioctl::FD_VCPU, corrupt_pos: 2, corrupt_type: 3, ..Default::default() };
        set(&mut req, kvm_ioctl::MODE_CORRUPT, a);
        assert_eq!(req.mode, 1);
        assert_eq!(req.arg, [7, 0, 0, 0, 0, 9, 2, if cfg!(target_endian = "little") { 2 | 3 << 8 } else { 0x0203 << 48 }]);
        assert_eq!(kvm_ioctl::Args::load(&req), a);

        let m = memslot::Args { slot: 4, class: memslot::CLASS_REGION, ..Default::default() };
        m.store(&mut req);
        assert_eq!(req.arg, [4, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn slots_fill_in_order_and_leave_the_rest_zero() {
        assert_eq!(slots::<4>([7, 9]), [7, 9, 0, 0]);
        assert_eq!(slots::<2>([]), [0, 0]);
    }
}
