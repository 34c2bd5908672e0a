//! kvmfi: the one library crate shared by every tool of the toolbox.
//!
//! Each binary is a thin `main.rs` over its own crate; everything two tools
//! need lives here so that behaviour (exit codes, option spelling, the
//! kernel ABI) cannot drift between tools.

pub mod abi;
pub mod blockdev;
pub mod cli;
pub mod device;
pub mod errno;
pub mod filefault;
pub mod halt;
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
pub mod exec;
pub mod journal;
pub mod mounts;
pub mod netfault;
pub mod procs;
pub mod injector;
pub mod sqldb;

pub use error::{Error, Result};
