//! vcpu-state-fi: the vCPU registers a chosen VMM reads are falsified while
//! the guest's real state stays untouched (see `man vcpu-state-fi`).
//! Module kvm-state-fi.ko (the original state-query-fi/kvm-state-fi).

use clap::{ArgGroup, Args};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool, TopOptions};
use kvmfi::kvmtool;
use kvmfi::request::{self, vcpu_state};
use kvmfi::symbols::{ModuleSpec, VCPU_STATE};
use kvmfi::{Error, Result};

mod doc;

/// Before the subcommand.
#[derive(Args, Debug)]
pub struct Top {
    /// Print the register names known on this architecture and exit
    #[arg(long, exclusive = true)]
    list_regs: bool,
}

impl TopOptions for Top {
    fn run(self) -> Result<()> {
        kvmtool::list_or_usage(self.list_regs, "--list-regs", || {
            registers().into_iter().map(|(name, sel)| format!("{name:<8} {sel:#x}")).collect()
        })
    }
}

/// The fault's own options.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("how").required(true).args(["xor", "set", "flip"])))]
pub struct Fault {
    /// Register whose value user space reads falsified (see --list-regs) [default: rip on x86_64, pc on arm64]
    #[arg(long, value_name = "REG", help_heading = "Fault")]
    reg: Option<String>,
    /// The value read is XORed with MASK (0x... or decimal)
    #[arg(long, value_name = "MASK", value_parser = parse_u64, help_heading = "Fault")]
    xor: Option<u64>,
    /// The value read is VALUE (0x... or decimal)
    #[arg(long, value_name = "VALUE", value_parser = parse_u64, help_heading = "Fault")]
    set: Option<u64>,
    /// A random bit 0-31 of the value read flips (what the legacy interface does)
    #[arg(long, help_heading = "Fault")]
    flip: bool,
    /// The module's selector of --reg, resolved by `prepare`.
    #[arg(skip)]
    selector: u64,
}

fn parse_u64(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
        None => t.replace('_', "").parse(),
    };
    r.map_err(|_| format!("'{text}' is not a 64-bit number (decimal or 0x hex)"))
}

/// Register names and the module's selector for them.
#[cfg(target_arch = "x86_64")]
fn registers() -> Vec<(String, u64)> {
    // Byte offsets in struct kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags.
    let names = [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
        "r15", "rip", "rflags",
    ];
    names.iter().enumerate().map(|(i, n)| (n.to_string(), i as u64 * 8)).collect()
}

/// Register names and their KVM_GET_ONE_REG ids (64-bit core registers).
#[cfg(target_arch = "aarch64")]
fn registers() -> Vec<(String, u64)> {
    // KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset in struct kvm_regs / 4)
    let id = |index: u64| 0x6030_0000_0010_0000u64 | (index * 2);
    let mut v: Vec<(String, u64)> = (0..31).map(|i| (format!("x{i}"), id(i))).collect();
    v.push(("sp".into(), id(31)));
    v.push(("pc".into(), id(32)));
    v.push(("pstate".into(), id(33)));
    v
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn registers() -> Vec<(String, u64)> {
    Vec::new()
}

fn default_reg() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "pc"
    } else {
        "rip"
    }
}

fn lookup_reg(name: &str) -> Result<u64> {
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

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct VcpuState;

impl KernelTool for VcpuState {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &VCPU_STATE;

    fn prepare(a: &mut Self::Arm) -> Result<()> {
        a.own.selector = lookup_reg(a.own.reg.as_deref().unwrap_or(default_reg()))?;
        kvmtool::require_kvm(Self::SPEC)
    }

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let (mode, value) = match (a.own.xor, a.own.set) {
            (Some(m), _) => (vcpu_state::MODE_XOR, m),
            (None, Some(v)) => (vcpu_state::MODE_SET, v),
            (None, None) => (vcpu_state::MODE_FLIP, 0),
        };
        request::set(req, mode, vcpu_state::Args { reg: a.own.selector, value, ..Default::default() });
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(VcpuState, top = Top);

