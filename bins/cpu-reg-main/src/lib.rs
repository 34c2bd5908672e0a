//! cpu-reg-main: corrupt one register of the threads and processes a target
//! creates, before they first run (see `man cpu-reg-main`).
//!
//! Three ways in, all ending in one arm request to cpu-reg.ko:
//! the original `cpu-reg-main PID TYPE`, the original stdin prompts (no
//! arguments), and the `arm`/`off`/`status`/`unload` subcommands.

use clap::Args;
use kvmfi::abi::{self, Arm};
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool, TopOptions};
use kvmfi::symbols::{ModuleSpec, CPU_REG};
use kvmfi::tool::{self, ModuleOpts};
use kvmfi::{run, units, Error, Result};
use std::io::{BufRead, Write};
use std::time::Duration;

mod doc;

/// Register numbers, the random bit and the modes of the module's request.
pub use kvmfi::request::cpu_reg::{BIT_RANDOM, FLAGS as REG_FLAGS, MODE_FLIP, MODE_SET, PC as REG_PC, RANDOM as REG_RANDOM, SP as REG_SP};
use kvmfi::request::{self, cpu_reg};

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
    fn flip(reg: u64) -> Fault {
        Fault { reg, mode: MODE_FLIP, bit: BIT_RANDOM, value: 0 }
    }
    fn zero(reg: u64) -> Fault {
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

fn parse_u64(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim().replace('_', "");
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(neg) = t.strip_prefix('-') {
        neg.parse::<u64>().ok().map(|v| v.wrapping_neg())
    } else {
        t.parse().ok()
    };
    r.ok_or_else(|| format!("'{text}' is not a number (decimal, 0x hex, or negative)"))
}

/// The original form's arguments, before any subcommand.
#[derive(Args, Debug)]
pub struct Top {
    /// Original form: the process whose new threads and child processes are hit
    #[arg(value_name = "PID", requires = "fault_type", value_parser = clap::value_parser!(i32).range(1..))]
    pid: Option<i32>,
    /// Original form: the fault type number (1 = flip a random bit of the PC; see FAULT TYPES)
    #[arg(value_name = "TYPE", value_parser = clap::value_parser!(u32).range(1..=9))]
    fault_type: Option<u32>,
    #[command(flatten)]
    legacy: LegacyOpts,
}

/// Options of the original `cpu-reg-main PID TYPE` form.
#[derive(Args, Debug)]
#[command(next_help_heading = "Original form (cpu-reg-main PID TYPE)")]
struct LegacyOpts {
    /// Number of new tasks to corrupt, then disarm (-1 = unlimited until the lease ends)
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..), requires = "pid")]
    times: i64,
    /// Seed of the random bit (and register) choice, for reproducible runs
    #[arg(long, value_name = "SEED", value_parser = parse_u64, requires = "pid")]
    seed: Option<u64>,
    /// Lease: disarm by itself after this long
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = units::parse_duration, requires = "pid")]
    duration: Duration,
}

impl TopOptions for Top {
    /// The original form (`cpu-reg-main PID TYPE`), or with no arguments the original prompts.
    fn run(self) -> Result<()> {
        let arch = native();
        match (self.pid, self.fault_type) {
            (Some(pid), Some(t)) => {
                let fault = fault_type(arch, t)?;
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(Error::not_found(format!("PID {pid}: no such process")));
                }
                let mut req = legacy_request(self.legacy.times, self.legacy.duration, fault, self.legacy.seed);
                req.filter |= abi::FILTER_TGID;
                req.tgid = pid;
                arm_request(req)
            }
            _ => prompts(arch, std::io::stdin().lock()),
        }
    }
}

/// The fault's own options.
#[derive(Args, Debug)]
pub struct RegOptions {
    /// Register to corrupt: x86_64 rax rbx rcx rdx rsi rdi rbp r8-r15 rsp rip rflags; arm64 x0-x30 fp lr sp pc pstate; both: sp, pc, flags, random (a random general register)
    #[arg(long, value_name = "REG", required_unless_present = "fault_type", help_heading = "Fault")]
    reg: Option<String>,
    /// A fault type number instead of --reg and the action (see FAULT TYPES)
    #[arg(long = "type", value_name = "TYPE", conflicts_with_all = ["reg", "flip_bit", "random_bit", "set"],
          value_parser = clap::value_parser!(u32).range(1..=9), help_heading = "Fault")]
    fault_type: Option<u32>,
    /// Flip this bit (0-63; flags: only bits user space may change itself)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..64),
          conflicts_with_all = ["random_bit", "set"], help_heading = "Fault")]
    flip_bit: Option<u64>,
    /// Flip a random bit (the default); --seed makes the choice reproducible
    #[arg(long, conflicts_with = "set", help_heading = "Fault")]
    random_bit: bool,
    /// Set the register to this value instead (decimal, 0x hex, or negative; flags: user-changeable bits only)
    #[arg(long, value_name = "VALUE", value_parser = parse_u64, help_heading = "Fault")]
    set: Option<u64>,
    /// Seed of the random bit (and register) choice
    #[arg(long, value_name = "SEED", value_parser = parse_u64, help_heading = "Fault")]
    seed: Option<u64>,
    /// The fault resolved by `prepare`.
    #[arg(skip)]
    resolved: Option<Fault>,
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct CpuReg;

impl KernelTool for CpuReg {
    type Arm = ArmArgs<RegOptions>;
    const SPEC: &'static ModuleSpec = &CPU_REG;

    /// `cpu-reg-main PID TYPE` sits where subcommands do.
    fn customize(cmd: clap::Command) -> clap::Command {
        cmd.args_conflicts_with_subcommands(true).arg_required_else_help(false)
    }

    fn prepare(a: &mut Self::Arm) -> Result<()> {
        a.own.resolved = Some(arm_fault(native(), &a.own)?);
        Ok(())
    }

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        if let Some(fault) = a.own.resolved {
            fault.fill(req, a.own.seed);
        }
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(CpuReg, top = Top);

fn arm_fault(arch: &Arch, a: &RegOptions) -> Result<Fault> {
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

/// A request as the original interface arms it: dmesg line per injection,
/// replacing what is armed, with a lease.
fn legacy_request(times: i64, lease: Duration, fault: Fault, seed: Option<u64>) -> Arm {
    let mut req = Arm { times, verbose: 1, flags: abi::ARM_REPLACE, ..Arm::default() };
    req.duration_ms = lease.as_millis().min(u64::MAX as u128) as u64;
    fault.fill(&mut req, seed);
    req
}

fn arm_request(mut req: Arm) -> Result<()> {
    kvmfi::error::require_root(CPU_REG.tool)?;
    let dev = tool::ensure_loaded(&CPU_REG, &ModuleOpts::default())?;
    let id = dev.arm(&mut req)?;
    run::out(format!("{id:016x}"))
}

/// Reads one answer; None at end of input.
fn ask(input: &mut impl BufRead, prompt: &str) -> Result<Option<String>> {
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt}").and_then(|_| out.flush()).map_err(|e| Error::io("writing to standard output", e))?;
    let mut line = String::new();
    let n = input.read_line(&mut line).map_err(|e| Error::io("reading standard input", e))?;
    Ok((n > 0).then(|| line.trim().to_string()))
}

fn ask_number(input: &mut impl BufRead, prompt: &str, what: &str) -> Result<i64> {
    let answer = ask(input, prompt)?.ok_or_else(|| Error::usage(format!("{what}: no answer (end of input)")))?;
    answer.parse().map_err(|_| Error::usage(format!("{what}: '{answer}' is not a number")))
}

/// The original interactive interface: aim, times, mode; then an optional pid.
fn prompts(arch: &Arch, mut input: impl BufRead) -> Result<()> {
    kvmfi::error::require_root(CPU_REG.tool)?;
    let names: Vec<String> = arch.aim.iter().map(|r| reg_name(arch, *r)).collect();
    let aim = ask_number(
        &mut input,
        &format!(
            "aim (1 {} 2 {} 4 {} 8 {} 16 {} 32 {} 64 {} 128 {} 256 {} 512 {}): ",
            names[0], names[1], names[2], names[3], names[4], names[5], names[6], names[7], names[8], names[9]
        ),
        "aim",
    )?;
    let times = ask_number(&mut input, "times: ", "times")?;
    if times < -1 {
        return Err(Error::usage(format!("times {times}: use a count, or -1 for unlimited")));
    }
    let lasting = ask_number(&mut input, "mode (0 flip a random bit, 1 set to zero): ", "mode")?;
    let fault = aim_fault(arch, aim, lasting)?;
    let pid = match ask(&mut input, "target pid (empty = every process): ")? {
        None => None,
        Some(s) if s.is_empty() || s == "0" => None,
        Some(s) => Some(s.parse::<i32>().ok().filter(|p| *p > 0).ok_or_else(|| Error::usage(format!("pid: '{s}' is not a process id")))?),
    };
    run::out("")?;
    let lease = Duration::from_secs(600);
    let mut req = legacy_request(times, lease, fault, None);
    let count = if times < 0 { "every".to_string() } else { format!("the next {times}") };
    match pid {
        Some(p) => {
            req.filter |= abi::FILTER_TGID;
            req.tgid = p;
        }
        None => eprintln!(
            "{}: armed for EVERY process, as the original tool: {count} task(s) created by any process will {} \
             (lease 10m; undo with `{} off`)",
            CPU_REG.tool,
            fault.describe(arch),
            CPU_REG.tool
        ),
    }
    arm_request(req)?;
    // The original program wrote its answers to the /proc knobs: show them there too.
    for (knob, v) in [("aim", aim), ("times", times), ("lasting", lasting)] {
        let _ = std::fs::write(format!("/proc/cpu-general-fi/{knob}"), format!("{v}\n"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse_u64("0x10").unwrap(), 16);
        assert_eq!(parse_u64("-1").unwrap(), u64::MAX);
    }

    #[test]
    fn prompts_need_three_answers() {
        let err = prompts(&X86_64, std::io::Cursor::new("512\n")).unwrap_err();
        // Either not root (exit 3) or the missing answer (exit 2): nothing armed.
        assert!(matches!(err.code(), 2 | 3), "{err}");
    }
}
