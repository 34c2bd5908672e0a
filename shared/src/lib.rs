//! kvmfi: the one library crate shared by every tool of the toolbox.
//!
//! Each binary is a thin `main.rs` over its own crate; everything two tools
//! need lives here so that behaviour (exit codes, option spelling, the
//! kernel ABI) cannot drift between tools.

pub mod errno;
pub mod halt;
pub mod kernel;
pub mod error;
pub mod run;
pub mod units;
pub mod cliparse;
pub mod clusterconf;
pub mod host;
pub mod journal;
pub mod injector;
pub mod undo;

pub use error::{Error, Result};

/// What the crate's unit tests share.
#[cfg(test)]
pub(crate) mod testutil {
    use std::path::{Path, PathBuf};

    /// A file in the temporary directory, named after the test and this
    /// process so that parallel runs do not collide; removed when dropped,
    /// also when the test fails.
    pub struct TempFile(PathBuf);

    impl TempFile {
        pub fn new(name: &str, content: &str) -> TempFile {
            let path = std::env::temp_dir().join(format!("kvmfi-{name}-{}", std::process::id()));
            std::fs::write(&path, content).unwrap();
            TempFile(path)
        }
    }

    impl std::ops::Deref for TempFile {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

// The kernel side under its former top-level names, which the tools use.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub use kernel::kvmcmds;
pub use kernel::{abi, cli, device, filefault, kallsyms, kernel_tool, kmod, kvmtool, legacy, request, symbols, tool};

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
