//! KVM ioctl commands and capabilities by name, for this architecture.
//!
//! The numbers mirror the kernel's `_IO`/`_IOR`/`_IOW`/`_IOWR` macros of
//! include/uapi/linux/kvm.h one for one, with the argument sizes taken from
//! kvm-bindings, so they match the kernel of the same architecture.

use crate::error::{Error, Result};
use kvm_bindings as kb;
use std::mem::size_of;

/// Which file descriptor a command is issued on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fd {
    /// /dev/kvm
    System,
    /// a VM (KVM_CREATE_VM)
    Vm,
    /// a vCPU (KVM_CREATE_VCPU)
    Vcpu,
}

impl Fd {
    pub fn as_str(self) -> &'static str {
        match self {
            Fd::System => "system",
            Fd::Vm => "vm",
            Fd::Vcpu => "vcpu",
        }
    }
}

/// One KVM ioctl command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmd {
    pub name: &'static str,
    pub nr: u32,
    pub fd: Fd,
}

const KVMIO: u32 = 0xAE;
const NONE: u32 = 0;
const WRITE: u32 = 1;
const READ: u32 = 2;

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (KVMIO << 8) | nr
}
const fn io(nr: u32) -> u32 {
    ioc(NONE, nr, 0)
}
const fn ior(nr: u32, size: usize) -> u32 {
    ioc(READ, nr, size)
}
const fn iow(nr: u32, size: usize) -> u32 {
    ioc(WRITE, nr, size)
}
const fn iowr(nr: u32, size: usize) -> u32 {
    ioc(READ | WRITE, nr, size)
}

macro_rules! cmds {
    ($($fd:ident $name:ident = $nr:expr;)*) => {
        &[$(Cmd { name: stringify!($name), nr: $nr, fd: Fd::$fd },)*]
    };
}

/// Commands every architecture has.
const COMMON: &[Cmd] = cmds! {
    System KVM_GET_API_VERSION = io(0x00);
    System KVM_CREATE_VM = io(0x01);
    System KVM_CHECK_EXTENSION = io(0x03);
    System KVM_GET_VCPU_MMAP_SIZE = io(0x04);
    Vm KVM_CREATE_VCPU = io(0x41);
    Vm KVM_GET_DIRTY_LOG = iow(0x42, size_of::<kb::kvm_dirty_log>());
    Vm KVM_SET_USER_MEMORY_REGION = iow(0x46, size_of::<kb::kvm_userspace_memory_region>());
    Vm KVM_SET_USER_MEMORY_REGION2 = iow(0x49, size_of::<kb::kvm_userspace_memory_region2>());
    Vm KVM_CREATE_IRQCHIP = io(0x60);
    Vm KVM_IRQ_LINE = iow(0x61, size_of::<kb::kvm_irq_level>());
    Vm KVM_IRQ_LINE_STATUS = iowr(0x67, size_of::<kb::kvm_irq_level>());
    Vm KVM_REGISTER_COALESCED_MMIO = iow(0x67, size_of::<kb::kvm_coalesced_mmio_zone>());
    Vm KVM_UNREGISTER_COALESCED_MMIO = iow(0x68, size_of::<kb::kvm_coalesced_mmio_zone>());
    Vm KVM_SET_GSI_ROUTING = iow(0x6a, size_of::<kb::kvm_irq_routing>());
    Vm KVM_IRQFD = iow(0x76, size_of::<kb::kvm_irqfd>());
    Vm KVM_IOEVENTFD = iow(0x79, size_of::<kb::kvm_ioeventfd>());
    Vm KVM_ENABLE_CAP = iow(0xa3, size_of::<kb::kvm_enable_cap>());
    Vm KVM_SIGNAL_MSI = iow(0xa5, size_of::<kb::kvm_msi>());
    Vm KVM_CLEAR_DIRTY_LOG = iowr(0xc0, size_of::<kb::kvm_clear_dirty_log>());
    Vm KVM_CREATE_DEVICE = iowr(0xe0, size_of::<kb::kvm_create_device>());
    Vm KVM_SET_DEVICE_ATTR = iow(0xe1, size_of::<kb::kvm_device_attr>());
    Vm KVM_GET_DEVICE_ATTR = iow(0xe2, size_of::<kb::kvm_device_attr>());
    Vm KVM_HAS_DEVICE_ATTR = iow(0xe3, size_of::<kb::kvm_device_attr>());
    Vm KVM_SET_MEMORY_ATTRIBUTES = iow(0xd2, size_of::<kb::kvm_memory_attributes>());
    Vm KVM_CREATE_GUEST_MEMFD = iowr(0xd4, size_of::<kb::kvm_create_guest_memfd>());
    Vcpu KVM_RUN = io(0x80);
    Vcpu KVM_GET_REGS = ior(0x81, size_of::<kb::kvm_regs>());
    Vcpu KVM_SET_REGS = iow(0x82, size_of::<kb::kvm_regs>());
    Vcpu KVM_SET_SIGNAL_MASK = iow(0x8b, size_of::<kb::kvm_signal_mask>());
    Vcpu KVM_GET_MP_STATE = ior(0x98, size_of::<kb::kvm_mp_state>());
    Vcpu KVM_SET_MP_STATE = iow(0x99, size_of::<kb::kvm_mp_state>());
    Vcpu KVM_SET_GUEST_DEBUG = iow(0x9b, size_of::<kb::kvm_guest_debug>());
    Vcpu KVM_GET_VCPU_EVENTS = ior(0x9f, size_of::<kb::kvm_vcpu_events>());
    Vcpu KVM_SET_VCPU_EVENTS = iow(0xa0, size_of::<kb::kvm_vcpu_events>());
    Vcpu KVM_GET_ONE_REG = iow(0xab, size_of::<kb::kvm_one_reg>());
    Vcpu KVM_SET_ONE_REG = iow(0xac, size_of::<kb::kvm_one_reg>());
    Vcpu KVM_GET_REG_LIST = iowr(0xb0, size_of::<kb::kvm_reg_list>());
};

#[cfg(target_arch = "x86_64")]
const ARCH: &[Cmd] = cmds! {
    System KVM_GET_MSR_INDEX_LIST = iowr(0x02, size_of::<kb::kvm_msr_list>());
    System KVM_GET_SUPPORTED_CPUID = iowr(0x05, size_of::<kb::kvm_cpuid2>());
    System KVM_GET_EMULATED_CPUID = iowr(0x09, size_of::<kb::kvm_cpuid2>());
    System KVM_GET_MSR_FEATURE_INDEX_LIST = iowr(0x0a, size_of::<kb::kvm_msr_list>());
    Vm KVM_SET_NR_MMU_PAGES = io(0x44);
    Vm KVM_GET_NR_MMU_PAGES = io(0x45);
    Vm KVM_SET_TSS_ADDR = io(0x47);
    Vm KVM_SET_IDENTITY_MAP_ADDR = iow(0x48, size_of::<u64>());
    Vm KVM_GET_IRQCHIP = iowr(0x62, size_of::<kb::kvm_irqchip>());
    Vm KVM_SET_IRQCHIP = ior(0x63, size_of::<kb::kvm_irqchip>());
    Vm KVM_CREATE_PIT = io(0x64);
    Vm KVM_CREATE_PIT2 = iow(0x77, size_of::<kb::kvm_pit_config>());
    Vm KVM_SET_CLOCK = iow(0x7b, size_of::<kb::kvm_clock_data>());
    Vm KVM_GET_CLOCK = ior(0x7c, size_of::<kb::kvm_clock_data>());
    Vcpu KVM_GET_SREGS = ior(0x83, size_of::<kb::kvm_sregs>());
    Vcpu KVM_SET_SREGS = iow(0x84, size_of::<kb::kvm_sregs>());
    Vcpu KVM_TRANSLATE = iowr(0x85, size_of::<kb::kvm_translation>());
    Vcpu KVM_INTERRUPT = iow(0x86, size_of::<kb::kvm_interrupt>());
    Vcpu KVM_GET_MSRS = iowr(0x88, size_of::<kb::kvm_msrs>());
    Vcpu KVM_SET_MSRS = iow(0x89, size_of::<kb::kvm_msrs>());
    Vcpu KVM_GET_FPU = ior(0x8c, size_of::<kb::kvm_fpu>());
    Vcpu KVM_SET_FPU = iow(0x8d, size_of::<kb::kvm_fpu>());
    Vcpu KVM_GET_LAPIC = ior(0x8e, size_of::<kb::kvm_lapic_state>());
    Vcpu KVM_SET_LAPIC = iow(0x8f, size_of::<kb::kvm_lapic_state>());
    Vcpu KVM_SET_CPUID2 = iow(0x90, size_of::<kb::kvm_cpuid2>());
    Vcpu KVM_GET_CPUID2 = iowr(0x91, size_of::<kb::kvm_cpuid2>());
    Vcpu KVM_NMI = io(0x9a);
    Vcpu KVM_GET_DEBUGREGS = ior(0xa1, size_of::<kb::kvm_debugregs>());
    Vcpu KVM_SET_DEBUGREGS = iow(0xa2, size_of::<kb::kvm_debugregs>());
    Vcpu KVM_GET_XSAVE = ior(0xa4, size_of::<kb::kvm_xsave>());
    Vcpu KVM_SET_XSAVE = iow(0xa5, size_of::<kb::kvm_xsave>());
    Vcpu KVM_GET_XCRS = ior(0xa6, size_of::<kb::kvm_xcrs>());
    Vcpu KVM_SET_XCRS = iow(0xa7, size_of::<kb::kvm_xcrs>());
    Vcpu KVM_KVMCLOCK_CTRL = io(0xad);
    Vcpu KVM_SMI = io(0xb7);
    Vcpu KVM_GET_NESTED_STATE = iowr(0xbe, size_of::<kb::kvm_nested_state>());
    Vcpu KVM_SET_NESTED_STATE = iow(0xbf, size_of::<kb::kvm_nested_state>());
};

#[cfg(target_arch = "aarch64")]
const ARCH: &[Cmd] = cmds! {
    Vm KVM_ARM_SET_DEVICE_ADDR = iow(0xab, size_of::<kb::kvm_arm_device_addr>());
    Vm KVM_ARM_PREFERRED_TARGET = ior(0xaf, size_of::<kb::kvm_vcpu_init>());
    Vcpu KVM_ARM_VCPU_INIT = iow(0xae, size_of::<kb::kvm_vcpu_init>());
    Vcpu KVM_ARM_VCPU_FINALIZE = iow(0xc2, size_of::<libc::c_int>());
};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const ARCH: &[Cmd] = &[];

/// Every command known for this architecture.
pub fn all() -> impl Iterator<Item = &'static Cmd> {
    COMMON.iter().chain(ARCH.iter())
}

/// The command named `name` (with or without `KVM_`, any case), or of that
/// number (decimal or 0x hex), among the commands issued on one of `fds`.
/// A number not in the table is accepted as is.
pub fn parse(text: &str, fds: &[Fd]) -> Result<u32> {
    let t = text.trim();
    if let Some(n) = parse_number(t) {
        return Ok(n);
    }
    let upper = t.to_ascii_uppercase();
    let full = if upper.starts_with("KVM_") { upper } else { format!("KVM_{upper}") };
    match all().find(|c| c.name == full) {
        Some(c) if fds.contains(&c.fd) => Ok(c.nr),
        Some(c) => Err(Error::usage(format!(
            "{}: a {} ioctl; this option takes {} ioctls",
            c.name,
            c.fd.as_str(),
            fds.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(" or ")
        ))),
        None => Err(Error::usage(format!("'{text}': not a KVM ioctl known on this architecture (see --list-cmds), nor a number"))),
    }
}

/// The name of a command number, if known.
pub fn name(nr: u32) -> Option<&'static str> {
    all().find(|c| c.nr == nr).map(|c| c.name)
}

/// The file a command number is issued on, if known.
pub fn fd_of(nr: u32) -> Option<Fd> {
    all().find(|c| c.nr == nr).map(|c| c.fd)
}

fn parse_number(t: &str) -> Option<u32> {
    crate::kernel::cli::parse_u64(t).and_then(|n| u32::try_from(n).ok())
}

macro_rules! caps {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), kb::$name),)*]
    };
}

/// Capabilities by name (KVM_CHECK_EXTENSION arguments).
pub const CAPS: &[(&str, u32)] = caps![
    KVM_CAP_IRQCHIP,
    KVM_CAP_USER_MEMORY,
    KVM_CAP_SET_TSS_ADDR,
    KVM_CAP_EXT_CPUID,
    KVM_CAP_NR_VCPUS,
    KVM_CAP_NR_MEMSLOTS,
    KVM_CAP_SYNC_MMU,
    KVM_CAP_IOMMU,
    KVM_CAP_COALESCED_MMIO,
    KVM_CAP_IRQ_ROUTING,
    KVM_CAP_IRQFD,
    KVM_CAP_IOEVENTFD,
    KVM_CAP_MAX_VCPUS,
    KVM_CAP_MAX_VCPU_ID,
    KVM_CAP_ONE_REG,
    KVM_CAP_SIGNAL_MSI,
    KVM_CAP_READONLY_MEM,
    KVM_CAP_DEVICE_CTRL,
    KVM_CAP_IMMEDIATE_EXIT,
    KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
    KVM_CAP_DIRTY_LOG_RING,
    KVM_CAP_USER_MEMORY2,
    KVM_CAP_GUEST_MEMFD,
    KVM_CAP_VCPU_EVENTS,
    KVM_CAP_ARM_VM_IPA_SIZE,
    KVM_CAP_ARM_PSCI_0_2,
    KVM_CAP_ARM_PMU_V3,
    KVM_CAP_ARM_SVE,
];

/// A capability by name (with or without `KVM_CAP_`) or number.
pub fn parse_cap(text: &str) -> Result<u32> {
    let t = text.trim();
    if let Some(n) = parse_number(t) {
        return Ok(n);
    }
    let upper = t.to_ascii_uppercase();
    let full = if upper.starts_with("KVM_CAP_") { upper } else { format!("KVM_CAP_{upper}") };
    CAPS.iter()
        .find(|(n, _)| *n == full)
        .map(|(_, v)| *v)
        .ok_or_else(|| Error::usage(format!("'{text}': not a KVM capability name known here; give its number")))
}

/// Lines for `--list-cmds`: `NAME 0xNUMBER fd`.
pub fn listing(fds: &[Fd]) -> Vec<String> {
    all().filter(|c| fds.contains(&c.fd)).map(|c| format!("{:<34} {:#010x} {}", c.name, c.nr, c.fd.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        // Values from the kernel headers (identical on x86_64 and arm64).
        assert_eq!(parse("KVM_GET_API_VERSION", &[Fd::System]).unwrap(), 0xae00);
        assert_eq!(parse("create_vm", &[Fd::System]).unwrap(), 0xae01);
        assert_eq!(parse("KVM_CREATE_VCPU", &[Fd::Vm]).unwrap(), 0xae41);
        assert_eq!(parse("KVM_GET_DIRTY_LOG", &[Fd::Vm]).unwrap(), 0x4010_ae42);
        assert_eq!(parse("KVM_SET_USER_MEMORY_REGION", &[Fd::Vm]).unwrap(), 0x4020_ae46);
        assert_eq!(parse("KVM_IRQFD", &[Fd::Vm]).unwrap(), 0x4020_ae76);
        assert_eq!(parse("KVM_RUN", &[Fd::Vcpu]).unwrap(), 0xae80);
        assert_eq!(parse("KVM_GET_ONE_REG", &[Fd::Vcpu]).unwrap(), 0x4010_aeab);
        assert_eq!(parse("0xae41", &[Fd::Vm]).unwrap(), 0xae41);
        assert!(parse("KVM_RUN", &[Fd::Vm]).is_err());
        assert!(parse("KVM_NOPE", &[Fd::Vm]).is_err());
        assert_eq!(parse_cap("USER_MEMORY").unwrap(), 3);
        assert_eq!(name(0xae41), Some("KVM_CREATE_VCPU"));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x86_numbers() {
        assert_eq!(parse("KVM_GET_REGS", &[Fd::Vcpu]).unwrap(), 0x8090_ae81);
        assert_eq!(parse("KVM_SET_TSS_ADDR", &[Fd::Vm]).unwrap(), 0xae47);
    }
}
