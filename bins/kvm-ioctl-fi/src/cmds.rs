//! The --cmd list: ioctl names or numbers into the module's command slots
//! and the files (VM, vCPU) they are issued on.

use kvmfi::kvmcmds::{self, Fd};
use kvmfi::request::kvm_ioctl::{FD_VCPU, FD_VM, NR_CMDS as MAX_CMDS};
use kvmfi::{Error, Result};

/// Resolves the --cmd list into command numbers and the files they apply to.
pub(crate) fn resolve_cmds(names: &[String]) -> Result<(Vec<u32>, u64)> {
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

