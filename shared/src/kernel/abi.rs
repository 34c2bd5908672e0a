//! Rust mirror of `kmod/include/uapi/kvmfi.h`, the kvmfi ioctl ABI.
//!
//! Declared once, field for field and in the same order as the C header.
//! The compile-time assertions below pin every size and the offsets that
//! matter; `tests/abi_matches_c.rs` compiles the C header and compares all
//! of them, so the two sides cannot drift silently.

use std::mem::{offset_of, size_of};

pub const ABI_MAJOR: u32 = 1;
pub const ABI_MINOR: u32 = 1;
pub const IOC_MAGIC: u8 = 0xF1;

pub const COMM_LEN: usize = 16;
pub const NAME_LEN: usize = 32;
pub const SYMBOL_LEN: usize = 64;
pub const NR_ARGS: usize = 8;

pub const FILTER_PID: u32 = 1 << 0;
pub const FILTER_TGID: u32 = 1 << 1;
pub const FILTER_COMM: u32 = 1 << 2;
pub const FILTER_CGROUP: u32 = 1 << 3;
pub const FILTER_PATH: u32 = 1 << 4;

pub const ARM_REPLACE: u32 = 1 << 0;

pub const STATE_DISARMED: u32 = 0;
pub const STATE_ARMED: u32 = 1;

pub const END_NONE: u32 = 0;
pub const END_OFF: u32 = 1;
pub const END_LEASE: u32 = 2;
pub const END_TIMES: u32 = 3;
pub const END_REPLACED: u32 = 4;
/// The kernel module holding the probed function (kvm) was unloaded.
pub const END_MODULE_GONE: u32 = 5;

/// `struct kvmfi_arm`: what to arm (scope, bounds, module arguments).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arm {
    pub size: u32,
    pub filter: u32,
    pub pid: i32,
    pub tgid: i32,
    pub comm: [u8; COMM_LEN],
    pub cgroup_fd: i32,
    pub path_fd: i32,
    pub probability: u32,
    pub interval: u32,
    pub times: i64,
    pub space: u64,
    pub duration_ms: u64,
    pub error: i32,
    pub mode: u32,
    pub verbose: u32,
    pub flags: u32,
    pub arg: [u64; NR_ARGS],
    pub experiment_id: u64,
    pub reserved: [u64; 3],
}

/// `struct kvmfi_status`: counters and the current or last request.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub size: u32,
    pub state: u32,
    pub experiment_id: u64,
    pub hits: u64,
    pub matched: u64,
    pub injected: u64,
    pub remaining: i64,
    pub time_left_ms: u64,
    pub nmissed: u64,
    pub last_end: u32,
    pub nr_hooks: u32,
    pub symbol: [u8; SYMBOL_LEN],
    pub armed: Arm,
    pub reserved: [u64; 4],
}

/// `struct kvmfi_version`: the handshake answer.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub size: u32,
    pub abi_major: u32,
    pub abi_minor: u32,
    pub arm_size: u32,
    pub status_size: u32,
    pub reserved0: u32,
    pub module: [u8; NAME_LEN],
    pub reserved: [u64; 4],
}

const _: () = assert!(size_of::<Arm>() == 184);
const _: () = assert!(size_of::<Status>() == 352);
const _: () = assert!(size_of::<Version>() == 88);
const _: () = assert!(offset_of!(Arm, comm) == 16);
const _: () = assert!(offset_of!(Arm, times) == 48);
const _: () = assert!(offset_of!(Arm, arg) == 88);
const _: () = assert!(offset_of!(Arm, experiment_id) == 152);
const _: () = assert!(offset_of!(Status, symbol) == 72);
const _: () = assert!(offset_of!(Status, armed) == 136);
const _: () = assert!(offset_of!(Version, module) == 24);

impl Default for Arm {
    fn default() -> Self {
        Arm {
            size: size_of::<Arm>() as u32,
            filter: 0,
            pid: 0,
            tgid: 0,
            comm: [0; COMM_LEN],
            cgroup_fd: -1,
            path_fd: -1,
            probability: 100,
            interval: 1,
            times: -1,
            space: 0,
            duration_ms: 0,
            error: 0,
            mode: 0,
            verbose: 0,
            flags: 0,
            arg: [0; NR_ARGS],
            experiment_id: 0,
            reserved: [0; 3],
        }
    }
}

impl Default for Status {
    fn default() -> Self {
        Status {
            size: size_of::<Status>() as u32,
            state: 0,
            experiment_id: 0,
            hits: 0,
            matched: 0,
            injected: 0,
            remaining: 0,
            time_left_ms: 0,
            nmissed: 0,
            last_end: 0,
            nr_hooks: 0,
            symbol: [0; SYMBOL_LEN],
            armed: Arm::default(),
            reserved: [0; 4],
        }
    }
}

impl Default for Version {
    fn default() -> Self {
        Version {
            size: size_of::<Version>() as u32,
            abi_major: 0,
            abi_minor: 0,
            arm_size: 0,
            status_size: 0,
            reserved0: 0,
            module: [0; NAME_LEN],
            reserved: [0; 4],
        }
    }
}

pub const EVENT_INJECT: u32 = 1;
pub const EVENT_ARM: u32 = 2;
pub const EVENT_END: u32 = 3;
/// A value the module made up was put back to the true one (vcpu-state-fi:
/// the VMM wrote back the false register it had read).
pub const EVENT_RESTORE: u32 = 4;
pub const WHAT_LEN: usize = 16;
pub const EVENT_RING: usize = 1024;

/// `struct kvmfi_event`: one entry of a module's event ring.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Event {
    pub seq: u64,
    pub time_ns: u64,
    pub experiment_id: u64,
    pub pid: i32,
    pub tgid: i32,
    pub comm: [u8; COMM_LEN],
    pub r#type: u32,
    pub hook: u32,
    pub value: i64,
    pub detail: [u64; 2],
    pub what: [u8; WHAT_LEN],
}

/// `struct kvmfi_events`: an events read request.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Events {
    pub size: u32,
    pub max: u32,
    pub from_seq: u64,
    pub buf: u64,
    pub count: u32,
    pub reserved0: u32,
    pub next_seq: u64,
    pub lost: u64,
    pub reserved: [u64; 2],
}

impl Default for Events {
    fn default() -> Self {
        Events { size: size_of::<Events>() as u32, max: 0, from_seq: 0, buf: 0, count: 0, reserved0: 0, next_seq: 0, lost: 0, reserved: [0; 2] }
    }
}

const _: () = assert!(size_of::<Event>() == 96);
const _: () = assert!(size_of::<Events>() == 64);
const _: () = assert!(offset_of!(Event, r#type) == 48);
const _: () = assert!(offset_of!(Event, value) == 56);

/// An event type in words.
pub fn event_type(code: u32) -> &'static str {
    match code {
        EVENT_INJECT => "inject",
        EVENT_ARM => "arm",
        EVENT_END => "end",
        EVENT_RESTORE => "restore",
        _ => "unknown",
    }
}

/// A NUL-terminated byte array as a string (lossy, up to the first NUL).
pub fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Copies `text` into a fixed NUL-terminated array, truncating if needed.
pub fn set_c_str(dst: &mut [u8], text: &str) {
    dst.fill(0);
    let n = text.len().min(dst.len() - 1);
    dst[..n].copy_from_slice(&text.as_bytes()[..n]);
}

/// Why an experiment ended, in words.
pub fn end_reason(code: u32) -> &'static str {
    match code {
        END_NONE => "-",
        END_OFF => "off",
        END_LEASE => "lease-expired",
        END_TIMES => "times-reached",
        END_REPLACED => "replaced",
        END_MODULE_GONE => "hook-module-unloaded",
        _ => "unknown",
    }
}

// Request numbers, mirroring the C macros one for one.
nix::ioctl_read!(ioc_version, IOC_MAGIC, 0x00, Version);
nix::ioctl_readwrite!(ioc_arm, IOC_MAGIC, 0x01, Arm);
nix::ioctl_none!(ioc_disarm, IOC_MAGIC, 0x02);
nix::ioctl_read!(ioc_status, IOC_MAGIC, 0x03, Status);
nix::ioctl_readwrite!(ioc_events, IOC_MAGIC, 0x04, Events);
