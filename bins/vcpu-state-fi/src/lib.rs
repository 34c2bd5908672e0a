//! vcpu-state-fi: the vCPU registers a chosen VMM reads are falsified while
//! the guest's real state stays untouched (see `man vcpu-state-fi`).
//! Module kvm-state-fi.ko (the original state-query-fi/kvm-state-fi).

use clap::{ArgGroup, Args};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool};
use kvmfi::kvmtool;
use kvmfi::request::{self, vcpu_state};
use kvmfi::symbols::{ModuleSpec, VCPU_STATE};
use kvmfi::Result;

mod doc;
mod regs;

use regs::{default_reg, lookup_reg, registers};

kvmfi::kvm_listing_top!(
    /// Print the register names known on this architecture and exit
    list_regs,
    "--list-regs",
    || registers().into_iter().map(|(name, sel)| format!("{name:<8} {sel:#x}")).collect()
);

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
    kvmfi::cli::parse_u64(&text.replace('_', "")).ok_or_else(|| format!("'{text}' is not a 64-bit number (decimal or 0x hex)"))
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

