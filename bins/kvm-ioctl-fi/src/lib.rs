//! kvm-ioctl-fi: chosen KVM VM and vCPU ioctls of a chosen VMM fail (see
//! `man kvm-ioctl-fi`). Module resource.ko (the original access-control-fi).

use clap::{Args, ValueEnum};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool, TopOptions};
use kvmfi::kvmcmds::{self, Fd};
use kvmfi::kvmtool;
use kvmfi::symbols::{ModuleSpec, KVM_IOCTL};
use kvmfi::{errno, Error, Result};

mod doc;

use kvmfi::request::{self, bitop, kvm_ioctl};

/// Up to this many commands per fault.
const MAX_CMDS: usize = kvm_ioctl::NR_CMDS;
use kvm_ioctl::{FD_VCPU, FD_VM};

/// Before the subcommand.
#[derive(Args, Debug)]
pub struct Top {
    /// Print the ioctl commands known on this architecture (name, number, file) and exit
    #[arg(long, exclusive = true)]
    list_cmds: bool,
}

impl TopOptions for Top {
    fn run(self) -> Result<()> {
        kvmtool::list_or_usage(self.list_cmds, "--list-cmds", || kvmcmds::listing(&[Fd::Vm, Fd::Vcpu]))
    }
}

/// Which argument the original's corruption mode changes.
#[derive(ValueEnum, Clone, Copy, Debug)]
enum Position {
    /// the ioctl command number (the original position 1)
    Cmd,
    /// the ioctl argument (the original position 2)
    Arg,
}

/// The original's bit operations on a random bit 0-31.
#[derive(ValueEnum, Clone, Copy, Debug)]
enum BitOp {
    Flip,
    Set,
    Clear,
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
        let mut args = kvm_ioctl::Args { fds: *fds, ..Default::default() };
        for (slot, nr) in args.cmd.iter_mut().zip(nrs) {
            *slot = u64::from(*nr);
        }
        let mode = match a.own.corrupt {
            Some(pos) => {
                args.corrupt_pos = match pos {
                    Position::Cmd => kvm_ioctl::POS_CMD,
                    Position::Arg => kvm_ioctl::POS_ARG,
                };
                args.corrupt_type = match a.own.bit {
                    BitOp::Flip => bitop::FLIP,
                    BitOp::Set => bitop::SET,
                    BitOp::Clear => bitop::CLEAR,
                };
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

/// Resolves the --cmd list into command numbers and the files they apply to.
fn resolve_cmds(names: &[String]) -> Result<(Vec<u32>, u64)> {
    if names.len() > MAX_CMDS {
        return Err(Error::usage(format!("--cmd: at most {MAX_CMDS} commands per fault ({} given)", names.len())));
    }
    let mut nrs = Vec::new();
    let mut fds = 0;
    for n in names {
        let nr = kvmcmds::parse(n, &[Fd::Vm, Fd::Vcpu])?;
        fds |= match kvmcmds::fd_of(nr) {
            Some(Fd::Vm) => FD_VM,
            Some(Fd::Vcpu) => FD_VCPU,
            Some(Fd::System) => {
                return Err(Error::usage(format!("--cmd {n}: a /dev/kvm ioctl; use kvm-version-fi --fail {n}")))
            }
            None => FD_VM | FD_VCPU,
        };
        nrs.push(nr);
    }
    Ok((nrs, fds))
}

