//! kvmfi: the one library crate shared by every tool of the toolbox.
//!
//! Each binary is a thin `main.rs` over its own crate; everything two tools
//! need lives here so that behaviour (exit codes, option spelling, the
//! kernel ABI) cannot drift between tools.

pub mod abi;
pub mod cli;
pub mod device;
pub mod errno;
pub mod filefault;
pub mod error;
pub mod kallsyms;
pub mod kernel_tool;
pub mod kmod;
pub mod request;
pub mod legacy;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub mod kvmcmds;
pub mod kvmtool;
pub mod run;
pub mod symbols;
pub mod tool;
pub mod units;
pub mod cliparse;
pub mod clusterconf;
pub mod host;
pub mod journal;
pub mod injector;
pub mod undo;

pub use error::{Error, Result};

// The host layer under its former top-level names, which the tools use.
pub use host::block as blockdev;
pub use host::sql as sqldb;
pub use host::{exec, mounts, procs};

/// The former home of the firewall (now [`host::firewall`]), of kvmfi's
/// root qdisc ([`host::tc`]) and of the block plans ([`injector::network`]),
/// under the names the tools use.
pub mod netfault {
    pub use crate::host::firewall::*;
    pub use crate::host::tc::{default_route_dev, root_qdisc, tc_delete_root, QDISC_HANDLE};
    pub use crate::injector::network::{block, delay_from_port, Target};
}
