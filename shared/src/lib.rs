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

    /// A file, or a fresh and empty directory, in the temporary directory,
    /// named after the test and this process so that parallel runs do not
    /// collide; removed (a directory with all it holds) when dropped, also
    /// when the test fails.
    pub struct TempPath {
        path: PathBuf,
        dir: bool,
    }

    impl TempPath {
        fn named(name: &str) -> PathBuf {
            std::env::temp_dir().join(format!("kvmfi-{name}-{}", std::process::id()))
        }

        /// A file holding `content`.
        pub fn file(name: &str, content: &str) -> TempPath {
            let path = Self::named(name);
            std::fs::write(&path, content).unwrap();
            TempPath { path, dir: false }
        }

        /// An empty directory.
        pub fn dir(name: &str) -> TempPath {
            let path = Self::named(name);
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            TempPath { path, dir: true }
        }
    }

    impl std::ops::Deref for TempPath {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.path
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = if self.dir { std::fs::remove_dir_all(&self.path) } else { std::fs::remove_file(&self.path) };
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
