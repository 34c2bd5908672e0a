//! kvm-version-fi: /dev/kvm answers a fake API version, or chosen /dev/kvm
//! ioctls fail (see `man kvm-version-fi`). Module kvm-version-fi.ko.

use clap::{ArgGroup, Args};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool, TopOptions};
use kvmfi::kvmcmds::{self, Fd};
use kvmfi::kvmtool;
use kvmfi::symbols::{ModuleSpec, KVM_VERSION};
use kvmfi::{errno, Error, Result};

mod doc;

use kvmfi::request::{self, kvm_version};

const MAX_CMDS: usize = kvm_version::NR_CMDS;
const MAX_CAPS: usize = kvm_version::NR_CAPS;

/// Before the subcommand.
#[derive(Args, Debug)]
pub struct Top {
    /// Print the /dev/kvm ioctls and capability names known here and exit
    #[arg(long, exclusive = true)]
    list_cmds: bool,
}

impl TopOptions for Top {
    fn run(self) -> Result<()> {
        kvmtool::list_or_usage(self.list_cmds, "--list-cmds", || {
            let caps = kvmcmds::CAPS.iter().map(|(name, nr)| format!("{name:<34} {nr:<10} capability"));
            kvmcmds::listing(&[Fd::System]).into_iter().chain(caps).collect()
        })
    }
}

/// The fault's own options.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("what").required(true).args(["api_version", "fail"])))]
pub struct Fault {
    /// KVM_GET_API_VERSION returns this instead of 12
    #[arg(long, value_name = "N", help_heading = "Fault", value_parser = clap::value_parser!(u32))]
    api_version: Option<u32>,
    /// /dev/kvm ioctl to fail: KVM_CREATE_VM, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE, ... or a number; repeat for up to 4
    #[arg(long, value_name = "IOCTL", help_heading = "Fault")]
    fail: Vec<String>,
    /// With --fail KVM_CHECK_EXTENSION: only for this capability (name from --list-cmds or number); repeat for up to 3
    #[arg(long, value_name = "CAP", requires = "fail", help_heading = "Fault")]
    cap: Vec<String>,
    /// Error the failed ioctls return: a name or a number [default: ENOMEM]
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, requires = "fail", help_heading = "Fault")]
    errno: Option<i32>,
    /// The failed ioctls return this value instead of an error (0 = "capability absent" for KVM_CHECK_EXTENSION)
    #[arg(long, value_name = "N", conflicts_with = "errno", requires = "fail", help_heading = "Fault",
          value_parser = clap::value_parser!(u32))]
    value: Option<u32>,
    /// The --fail and --cap numbers, resolved by `prepare`.
    #[arg(skip)]
    resolved: (Vec<u32>, Vec<u32>),
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct KvmVersion;

impl KernelTool for KvmVersion {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &KVM_VERSION;

    fn prepare(a: &mut Self::Arm) -> Result<()> {
        let own = &mut a.own;
        if own.fail.len() > MAX_CMDS || own.cap.len() > MAX_CAPS {
            return Err(Error::usage(format!("at most {MAX_CMDS} --fail and {MAX_CAPS} --cap per fault")));
        }
        let cmds = own.fail.iter().map(|c| kvmcmds::parse(c, &[Fd::System])).collect::<Result<Vec<_>>>()?;
        let caps = own.cap.iter().map(|c| kvmcmds::parse_cap(c)).collect::<Result<Vec<_>>>()?;
        let check = kvmcmds::parse("KVM_CHECK_EXTENSION", &[Fd::System])?;
        if !caps.is_empty() && !cmds.contains(&check) {
            return Err(Error::usage("--cap applies to KVM_CHECK_EXTENSION: add --fail KVM_CHECK_EXTENSION"));
        }
        own.resolved = (cmds, caps);
        kvmtool::require_kvm(Self::SPEC)
    }

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let (cmds, caps) = &a.own.resolved;
        let mut args = kvm_version::Args::default();
        if let Some(v) = a.own.api_version {
            args.cmd[0] = u64::from(kvmcmds::parse("KVM_GET_API_VERSION", &[Fd::System])?);
            args.value = i64::from(v);
            request::set(req, kvm_version::MODE_VALUE, args);
            return Ok(());
        }
        for (slot, nr) in args.cmd.iter_mut().zip(cmds) {
            *slot = u64::from(*nr);
        }
        // CAP_VALID marks a used slot (capability 0 is KVM_CAP_IRQCHIP).
        for (slot, cap) in args.cap.iter_mut().zip(caps) {
            *slot = u64::from(*cap) | kvm_version::CAP_VALID;
        }
        let mode = match a.own.value {
            Some(v) => {
                args.value = i64::from(v);
                kvm_version::MODE_VALUE
            }
            None => {
                req.error = a.own.errno.unwrap_or(libc::ENOMEM);
                kvm_version::MODE_ERROR
            }
        };
        request::set(req, mode, args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(KvmVersion, top = Top);

