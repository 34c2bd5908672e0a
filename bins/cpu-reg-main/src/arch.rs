//! The registers cpu-reg-main can corrupt on each architecture, and the
//! faults the original program's TYPE and `aim` numbers stand for.

use crate::{BIT_RANDOM, MODE_FLIP, MODE_SET, REG_FLAGS, REG_PC, REG_RANDOM, REG_SP};
use kvmfi::abi::Arm;
use kvmfi::request::{self, cpu_reg};
use kvmfi::{Error, Result};

/// How one architecture names its registers.
#[derive(Debug)]
pub struct Arch {
    pub name: &'static str,
    /// General registers in the module's numbering (0, 1, ...).
    pub gprs: &'static [&'static str],
    /// Other accepted names and their numbers.
    pub aliases: &'static [(&'static str, u64)],
    /// Flag bits user space may change itself (the only ones touched).
    pub flag_bits: &'static [u64],
    /// Return value, frame pointer and link register (x86_64: RCX, which
    /// holds the return address after SYSCALL; there is no link register).
    pub ret: u64,
    pub fp: u64,
    pub lr: u64,
    /// The original `aim` bits 0..9 as register numbers.
    pub aim: [u64; 10],
}

pub const X86_64: Arch = Arch {
    name: "x86_64",
    gprs: &["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"],
    aliases: &[
        ("rsp", REG_SP),
        ("sp", REG_SP),
        ("rip", REG_PC),
        ("pc", REG_PC),
        ("rflags", REG_FLAGS),
        ("eflags", REG_FLAGS),
        ("flags", REG_FLAGS),
        ("random", REG_RANDOM),
    ],
    flag_bits: &[0, 2, 4, 6, 7, 8, 10, 11, 18],
    ret: 0,
    fp: 6,
    lr: 2,
    aim: [0, 5, 4, 3, 9, 7, 6, 2, REG_SP, REG_PC],
};

pub const AARCH64: Arch = Arch {
    name: "arm64",
    gprs: &[
        "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",
        "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30",
    ],
    aliases: &[
        ("fp", 29),
        ("lr", 30),
        ("sp", REG_SP),
        ("pc", REG_PC),
        ("pstate", REG_FLAGS),
        ("nzcv", REG_FLAGS),
        ("flags", REG_FLAGS),
        ("random", REG_RANDOM),
    ],
    flag_bits: &[28, 29, 30, 31],
    ret: 0,
    fp: 29,
    lr: 30,
    aim: [0, 1, 2, 3, 4, 5, 29, 30, REG_SP, REG_PC],
};

/// The architecture this binary runs on.
pub fn native() -> &'static Arch {
    if cfg!(target_arch = "aarch64") {
        &AARCH64
    } else {
        &X86_64
    }
}

/// One register fault, as the module takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub reg: u64,
    pub mode: u32,
    pub bit: u64,
    pub value: u64,
}

impl Fault {
    pub(crate) fn flip(reg: u64) -> Fault {
        Fault { reg, mode: MODE_FLIP, bit: BIT_RANDOM, value: 0 }
    }
    pub(crate) fn zero(reg: u64) -> Fault {
        Fault { reg, mode: MODE_SET, bit: 0, value: 0 }
    }

    /// Writes the fault and its seed into a request.
    pub fn fill(&self, req: &mut Arm, seed: Option<u64>) {
        let args = cpu_reg::Args { reg: self.reg, bit: self.bit, value: self.value, seed: seed.unwrap_or(0), ..Default::default() };
        request::set(req, self.mode, args);
    }

    /// Says what the fault does, e.g. `flip a random bit of pc`.
    pub fn describe(&self, arch: &Arch) -> String {
        let reg = reg_name(arch, self.reg);
        match (self.mode, self.bit) {
            (MODE_SET, _) => format!("set {reg} to {:#x}", self.value),
            (_, BIT_RANDOM) => format!("flip a random bit of {reg}"),
            (_, b) => format!("flip bit {b} of {reg}"),
        }
    }
}

/// The fault of an original type number (see FAULT TYPES in the man page).
pub fn fault_type(arch: &Arch, t: u32) -> Result<Fault> {
    Ok(match t {
        1 => Fault::flip(REG_PC),
        2 => Fault::flip(REG_SP),
        3 => Fault::flip(arch.fp),
        4 => Fault::flip(arch.lr),
        5 => Fault::flip(arch.ret),
        6 => Fault::flip(REG_RANDOM),
        7 => Fault::flip(REG_FLAGS),
        8 => Fault::zero(REG_PC),
        9 => Fault::zero(REG_SP),
        _ => return Err(Error::usage(format!("fault type {t}: valid types are 1 to 9 (see `man cpu-reg-main`)"))),
    })
}

/// The fault of the original prompts: `aim` bitmask (lowest set bit
/// wins) and `lasting` (0 = flip a random bit, other = set to 0).
pub fn aim_fault(arch: &Arch, aim: i64, lasting: i64) -> Result<Fault> {
    if !(1..1024).contains(&aim) {
        return Err(Error::usage(format!(
            "aim {aim}: a bitmask of 1 X0, 2 X1, 4 X2, 8 X3, 16 X4, 32 X5, 64 X29, 128 X30, 256 SP, 512 PC (1 to 1023)"
        )));
    }
    let reg = arch.aim[aim.trailing_zeros() as usize];
    Ok(if lasting == 0 { Fault::flip(reg) } else { Fault::zero(reg) })
}

/// A register number from a name of this architecture.
pub fn parse_reg(arch: &Arch, name: &str) -> Result<u64> {
    let n = name.trim().to_ascii_lowercase();
    if let Some(i) = arch.gprs.iter().position(|g| *g == n) {
        return Ok(i as u64);
    }
    if let Some((_, r)) = arch.aliases.iter().find(|(a, _)| *a == n) {
        return Ok(*r);
    }
    Err(Error::usage(format!(
        "--reg {name}: not a register of {} (use one of: {}, {})",
        arch.name,
        arch.gprs.join(" "),
        arch.aliases.iter().map(|(a, _)| *a).collect::<Vec<_>>().join(" ")
    )))
}

/// The name of a register number.
pub fn reg_name(arch: &Arch, reg: u64) -> String {
    match reg {
        r if (r as usize) < arch.gprs.len() => arch.gprs[r as usize].to_string(),
        REG_SP => "sp".into(),
        REG_PC => "pc".into(),
        REG_FLAGS => "flags".into(),
        REG_RANDOM => "a random general register".into(),
        r => format!("register {r}"),
    }
}

/// The fault `arm`'s options ask for on `arch`: a TYPE number, or a
/// register with a bit to flip or a value to set.
pub(crate) fn arm_fault(arch: &Arch, a: &crate::RegOptions) -> Result<Fault> {
    if let Some(t) = a.fault_type {
        return fault_type(arch, t);
    }
    let reg = parse_reg(arch, a.reg.as_deref().unwrap_or("pc"))?;
    if let Some(value) = a.set {
        if reg == REG_RANDOM {
            return Err(Error::usage("--set needs a named register, not --reg random"));
        }
        return Ok(Fault { reg, mode: MODE_SET, bit: 0, value });
    }
    let bit = a.flip_bit.unwrap_or(BIT_RANDOM);
    if reg == REG_FLAGS && bit != BIT_RANDOM && !arch.flag_bits.contains(&bit) {
        return Err(Error::usage(format!(
            "--flip-bit {bit}: not a flag user space may change on {} (allowed bits: {:?})",
            arch.name, arch.flag_bits
        )));
    }
    Ok(Fault { reg, mode: MODE_FLIP, bit, value: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BIT_RANDOM, MODE_FLIP, REG_PC};

    #[test]
    fn type_one_flips_the_pc() {
        assert_eq!(fault_type(&X86_64, 1).unwrap(), Fault { reg: REG_PC, mode: MODE_FLIP, bit: BIT_RANDOM, value: 0 });
        assert_eq!(fault_type(&AARCH64, 4).unwrap().reg, 30);
        assert_eq!(fault_type(&X86_64, 4).unwrap().reg, 2);
        assert!(fault_type(&X86_64, 10).is_err());
    }

    #[test]
    fn aim_lowest_bit_wins() {
        assert_eq!(aim_fault(&AARCH64, 512, 0).unwrap(), Fault::flip(REG_PC));
        assert_eq!(aim_fault(&AARCH64, 512 | 64, 1).unwrap(), Fault::zero(29));
        assert_eq!(aim_fault(&X86_64, 2, 0).unwrap().reg, 5);
        assert!(aim_fault(&X86_64, 0, 0).is_err());
        assert!(aim_fault(&X86_64, 1024, 0).is_err());
    }

    #[test]
    fn register_names() {
        assert_eq!(parse_reg(&X86_64, "R12").unwrap(), 11);
        assert_eq!(parse_reg(&X86_64, "rip").unwrap(), REG_PC);
        assert_eq!(parse_reg(&AARCH64, "x22").unwrap(), 22);
        assert_eq!(parse_reg(&AARCH64, "lr").unwrap(), 30);
        assert!(parse_reg(&AARCH64, "rax").is_err());
    }
}
