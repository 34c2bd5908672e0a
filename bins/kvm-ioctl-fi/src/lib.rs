//! kvm-ioctl-fi: chosen KVM VM and vCPU ioctls of a chosen VMM fail (see
//! `man kvm-ioctl-fi`). Module resource.ko (the original access-control-fi).

use clap::{Args, ValueEnum};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool};
use kvmfi::kvmcmds::{self, Fd};
use kvmfi::kvmtool;
use kvmfi::symbols::{ModuleSpec, KVM_IOCTL};
use kvmfi::{errno, Result};

mod cmds;
mod doc;

use cmds::resolve_cmds;
use kvmfi::request::{self, bitop, kvm_ioctl};

kvmfi::kvm_listing_top!(
    /// Print the ioctl commands known on this architecture (name, number, file) and exit
    list_cmds,
    "--list-cmds",
    || kvmcmds::listing(&[Fd::Vm, Fd::Vcpu])
);

/// Which argument the original's corruption mode changes (its code in the request).
#[derive(ValueEnum, Clone, Copy, Debug)]
#[repr(u8)]
enum Position {
    /// the ioctl command number (the original position 1)
    Cmd = kvm_ioctl::POS_CMD,
    /// the ioctl argument (the original position 2)
    Arg = kvm_ioctl::POS_ARG,
}

/// The original's bit operations on a random bit 0-31 (their codes in the request).
#[derive(ValueEnum, Clone, Copy, Debug)]
#[repr(u8)]
enum BitOp {
    Flip = bitop::FLIP,
    Set = bitop::SET,
    Clear = bitop::CLEAR,
}

/// The fault's own options.
#[derive(Args, Debug)]
pub struct Fault {
    /// Ioctl to fail: a name from --list-cmds (KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION, KVM_IRQFD, KVM_RUN, ...) or a number; repeat for up to 6
    #[arg(long = "cmd", value_name = "IOCTL", required = true, help_heading = "Fault")]
    cmds: Vec<String>,
    /// Error the ioctl returns: a name (EPERM, EACCES, ENOMEM, EIO, ...) or a number [default: EPERM]
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, help_heading = "Fault")]
    errno: Option<i32>,
    /// Instead of failing, change a random bit 0-31 of the command or its argument (the original's corruption)
    #[arg(long, value_name = "WHAT", conflicts_with = "errno", help_heading = "Fault")]
    corrupt: Option<Position>,
    /// Bit operation of --corrupt
    #[arg(long, value_name = "OP", default_value = "flip", requires = "corrupt", help_heading = "Fault")]
    bit: BitOp,
    /// The commands resolved by `prepare`, and the files they apply to.
    #[arg(skip)]
    resolved: (Vec<u32>, u64),
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct KvmIoctl;

impl KernelTool for KvmIoctl {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &KVM_IOCTL;

    fn prepare(a: &mut Self::Arm) -> Result<()> {
        a.own.resolved = resolve_cmds(&a.own.cmds)?;
        kvmtool::require_kvm(Self::SPEC)
    }

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let (nrs, fds) = &a.own.resolved;
        let cmd = request::slots(nrs.iter().map(|&nr| u64::from(nr)));
        let mut args = kvm_ioctl::Args { cmd, fds: *fds, ..Default::default() };
        let mode = match a.own.corrupt {
            Some(pos) => {
                (args.corrupt_pos, args.corrupt_type) = (pos as u8, a.own.bit as u8);
                kvm_ioctl::MODE_CORRUPT
            }
            None => {
                req.error = a.own.errno.unwrap_or(libc::EPERM);
                kvm_ioctl::MODE_ERROR
            }
        };
        request::set(req, mode, args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(KvmIoctl, top = Top);
