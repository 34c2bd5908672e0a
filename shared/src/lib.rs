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
pub mod kmod;
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

pub use error::{Error, Result};

// The host layer under its former top-level names, which the tools use.
pub use host::block as blockdev;
pub use host::firewall as netfault;
pub use host::sql as sqldb;
pub use host::{exec, mounts, procs};
