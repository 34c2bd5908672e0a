//! kvm-version-fi: /dev/kvm answers a fake API version, or chosen /dev/kvm
//! ioctls fail (see `man kvm-version-fi`). Module kvm-version-fi.ko.

use clap::{ArgGroup, Args};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool};
use kvmfi::kvmcmds::{self, Fd};
use kvmfi::kvmtool;
use kvmfi::symbols::{ModuleSpec, KVM_VERSION};
use kvmfi::{errno, Error, Result};

mod doc;

use kvm_version::{NR_CAPS as MAX_CAPS, NR_CMDS as MAX_CMDS};
use kvmfi::request::{self, kvm_version};

kvmfi::kvm_listing_top!(
    /// Print the /dev/kvm ioctls and capability names known here and exit
    list_cmds,
    "--list-cmds",
    || {
        let caps = kvmcmds::CAPS.iter().map(|(name, nr)| format!("{name:<34} {nr:<10} capability"));
        kvmcmds::listing(&[Fd::System]).into_iter().chain(caps).collect()
    }
);

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
    /// The ioctls (--fail, or KVM_GET_API_VERSION) and --cap numbers, resolved by `prepare`.
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
        // --api-version is a value for KVM_GET_API_VERSION alone.
        let fail = match own.api_version {
            Some(_) => vec!["KVM_GET_API_VERSION"],
            None => own.fail.iter().map(String::as_str).collect(),
        };
        let cmds = fail.iter().map(|c| kvmcmds::parse(c, &[Fd::System])).collect::<Result<Vec<_>>>()?;
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
        let value = a.own.api_version.or(a.own.value);
        let mode = if value.is_some() { kvm_version::MODE_VALUE } else { kvm_version::MODE_ERROR };
        if value.is_none() {
            req.error = a.own.errno.unwrap_or(libc::ENOMEM);
        }
        let args = kvm_version::Args {
            cmd: request::slots(cmds.iter().map(|&nr| u64::from(nr))),
            // CAP_VALID marks a used slot (capability 0 is KVM_CAP_IRQCHIP).
            cap: request::slots(caps.iter().map(|&cap| u64::from(cap) | kvm_version::CAP_VALID)),
            value: value.map_or(0, i64::from),
        };
        request::set(req, mode, args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(KvmVersion, top = Top);

