//! The vCPU registers vcpu-state-fi can falsify on this architecture, by
//! name, and the module's selector for each (see `--list-regs`).

use kvmfi::{Error, Result};

/// Register names and the module's selector for them.
#[cfg(target_arch = "x86_64")]
pub fn registers() -> Vec<(String, u64)> {
    // Byte offsets in struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags.
    let names = [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
        "r15", "rip", "rflags",
    ];
    names.iter().enumerate().map(|(i, n)| (n.to_string(), i as u64 * 8)).collect()
}

/// Register names and their KVM_GET_ONE_REG ids (64-bit core registers).
#[cfg(target_arch = "aarch64")]
pub fn registers() -> Vec<(String, u64)> {
    // KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset in struct kvm_regs / 4)
    let id = |index: u64| 0x6030_0000_0010_0000u64 | (index * 2);
    let mut v: Vec<(String, u64)> = (0..31).map(|i| (format!("x{i}"), id(i))).collect();
    v.push(("sp".into(), id(31)));
    v.push(("pc".into(), id(32)));
    v.push(("pstate".into(), id(33)));
    v
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn registers() -> Vec<(String, u64)> {
    Vec::new()
}

pub fn default_reg() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "pc"
    } else {
        "rip"
    }
}

pub fn lookup_reg(name: &str) -> Result<u64> {
    let lower = name.to_ascii_lowercase();
    let lower = match lower.as_str() {
        "fp" if cfg!(target_arch = "aarch64") => "x29".to_string(),
        "lr" if cfg!(target_arch = "aarch64") => "x30".to_string(),
        "flags" | "eflags" if cfg!(target_arch = "x86_64") => "rflags".to_string(),
        "pc" if cfg!(target_arch = "x86_64") => "rip".to_string(),
        "rip" if cfg!(target_arch = "aarch64") => "pc".to_string(),
        _ => lower,
    };
    registers()
        .into_iter()
        .find(|(n, _)| *n == lower)
        .map(|(_, v)| v)
        .ok_or_else(|| Error::usage(format!("--reg {name}: not a register of this architecture (see --list-regs)")))
}
