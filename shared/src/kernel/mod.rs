//! The kernel side: everything the kernel tools share, from the ioctl ABI
//! of the modules up to the command-line skeleton.
//!
//! From the bottom: [`abi`] and [`request`] (the ABI and each module's
//! request, mirrors of kmod/include/uapi), [`device`] (the ioctls), [`kmod`]
//! (finding and loading modules), [`kallsyms`] and [`symbols`] (the tools
//! table: hooks and their candidate functions, original program names),
//! [`tool`] (arm, off, status, events, unload), [`cli`] (scope and bounds
//! options), [`legacy`] (the original control programs), [`kernel_tool`]
//! (the skeleton every kernel tool implements), [`kvmtool`] and
//! [`kvmcmds`] (what the KVM tools share), [`filefault`] (vfs-read-fi and
//! vfs-write-fi). The crate root re-exports each under its old name
//! (`kvmfi::abi`, ...), which the tools use.

pub mod abi;
pub mod cli;
pub mod device;
pub mod filefault;
pub mod kallsyms;
pub mod kernel_tool;
pub mod kmod;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub mod kvmcmds;
pub mod kvmtool;
pub mod legacy;
pub mod request;
pub mod symbols;
pub mod tool;
