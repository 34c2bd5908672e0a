//! cpu-reg-main: corrupt one register of the threads and processes a target
//! creates, before they first run (see `man cpu-reg-main`).
//!
//! Three ways in, all ending in one arm request to cpu-reg.ko:
//! the original `cpu-reg-main PID TYPE`, the original stdin prompts (no
//! arguments), and the `arm`/`off`/`status`/`unload` subcommands.

use clap::Args;
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool};
use kvmfi::symbols::{ModuleSpec, CPU_REG};
use kvmfi::Result;

mod arch;
mod doc;
mod original;

pub use arch::{aim_fault, fault_type, native, parse_reg, reg_name, Arch, Fault, AARCH64, X86_64};
use arch::arm_fault;
use original::Top;

/// Register numbers, the random bit and the modes of the module's request.
pub use kvmfi::request::cpu_reg::{BIT_RANDOM, FLAGS as REG_FLAGS, MODE_FLIP, MODE_SET, PC as REG_PC, RANDOM as REG_RANDOM, SP as REG_SP};

/// Decimal, 0x hex, or negative (two's complement), `_` separators allowed.
fn parse_u64(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim().replace('_', "");
    let negative = || t.strip_prefix('-').and_then(|n| n.parse::<u64>().ok()).map(u64::wrapping_neg);
    kvmfi::cli::parse_u64(&t).or_else(negative).ok_or_else(|| format!("'{text}' is not a number (decimal, 0x hex, or negative)"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0x10").unwrap(), 16);
        assert_eq!(parse_u64("-1").unwrap(), u64::MAX);
    }
}
