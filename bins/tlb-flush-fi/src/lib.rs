//! tlb-flush-fi: the TLB shootdowns of a chosen process are lost (see
//! `man tlb-flush-fi`). x86_64 only; on other architectures every command
//! that would act says why it cannot. Invoked as `pt-update-fi-main`, it is
//! the original control program (prompts for times). Its `kvm` subcommands
//! suppress KVM's remote TLB flushes for a VMM's VMs instead, on x86_64 and
//! arm64 (module kvm-tlb-fi.ko).

use clap::Subcommand;
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, ArmOptions, KernelTool, NoOptions, ToolCommand};
use kvmfi::request::tlb_flush;
use kvmfi::symbols::{ModuleSpec, KVM_TLB_FLUSH, TLB_FLUSH};
use kvmfi::tool::CommonCmd;
use kvmfi::{kvmtool, tool};
use kvmfi::{run as out, Result};

mod doc;
mod support;

pub use support::{support, ARM64_REASON};
use support::require_support;

/// The subcommands of its own.
#[derive(Subcommand, Debug)]
pub enum Extra {
    /// Say whether this kernel supports the fault, and why not (exit status 4 when not)
    Support,
    /// KVM's remote TLB flushes, x86_64 and arm64: `kvm arm`, `kvm off`, `kvm status`, `kvm events`, `kvm unload`, `kvm support`
    #[command(subcommand)]
    Kvm(KvmCmd),
}

/// `tlb-flush-fi kvm ...`: the same commands, for kvm-tlb-fi.ko.
#[derive(Subcommand, Debug)]
pub enum KvmCmd {
    /// Suppress KVM's remote TLB flushes for the VMs of the target VMM (loads kvm-tlb-fi.ko); prints the experiment id
    Arm(ArmArgs<NoOptions>),
    #[command(flatten)]
    Common(CommonCmd),
    /// Say at which functions this kernel's KVM flushes are suppressed (exit status 4 when they cannot be)
    Support,
}

impl ToolCommand for Extra {
    fn run(self) -> Result<()> {
        match self {
            Extra::Support => {
                require_support()?;
                // The function this kernel has (native_flush_tlb_others before 5.13).
                let symbol = tool::chosen_symbols(&TLB_FLUSH, None)?.remove(0);
                out::out(format!("supported: x86_64, lost shootdowns at {symbol}"))
            }
            Extra::Kvm(cmd) => run_kvm(cmd),
        }
    }
}

fn run_kvm(cmd: KvmCmd) -> Result<()> {
    let spec = &KVM_TLB_FLUSH;
    match cmd {
        KvmCmd::Arm(a) => {
            kvmtool::require_kvm(spec)?;
            tool::arm(spec, &a.module(), a.scope(), a.bounds(), false, |req, _| {
                req.mode = tlb_flush::MODE_KVM_REMOTE;
                Ok(())
            })
        }
        KvmCmd::Common(c) => c.run(spec),
        KvmCmd::Support => {
            kvmtool::require_kvm(spec)?;
            let symbols = tool::chosen_symbols(spec, None)?;
            let range = if symbols[1] == symbols[0] {
                "no ranged flush of its own on this kernel".to_string()
            } else {
                format!("ranged flushes at {}", symbols[1])
            };
            out::out(format!("supported: {}, KVM remote TLB flushes at {}, {range}", std::env::consts::ARCH, symbols[0]))
        }
    }
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct TlbFlush;

impl KernelTool for TlbFlush {
    type Arm = ArmArgs<NoOptions>;
    const SPEC: &'static ModuleSpec = &TLB_FLUSH;

    fn supported() -> Result<()> {
        require_support()
    }

    /// No options of its own: the fault is the only one the module has.
    fn fill(_: &Self::Arm, _: &mut Arm, _: &mut Held) -> Result<()> {
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(TlbFlush, extra = Extra);
