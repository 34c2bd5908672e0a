//! The command line of the file-fault tools, vfs-read-fi and vfs-write-fi,
//! which differ only in the hooked function, the default errno and wording.

use crate::kernel::abi::Arm;
use crate::kernel::cli::Held;
use crate::kernel::kernel_tool::{ArmArgs, Doc, KernelTool, ToolDoc};
use crate::kernel::request::vfs;
use crate::kernel::symbols::{ModuleSpec, FILE_READ, FILE_WRITE};
use crate::{errno, Result};
use clap::Args;
use std::path::PathBuf;

/// The two tools: `FileFault<false>` is vfs-read-fi, `FileFault<true>` vfs-write-fi.
pub struct FileFault<const WRITE: bool>;
pub type VfsRead = FileFault<false>;
pub type VfsWrite = FileFault<true>;

/// The fault's own options.
#[derive(Args, Debug)]
pub struct Fault {
    /// Only this file, or every file below this directory (a VM's disk image, say)
    #[arg(long, value_name = "PATH", help_heading = "Scope (all given filters must match)")]
    path: Option<PathBuf>,
    /// Error to return: a name (EIO, ENOSPC, EROFS, EINTR, ...) or a number
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, help_heading = "Fault")]
    errno: Option<i32>,
    /// Return 0 instead of an error (the original type 0)
    #[arg(long, conflicts_with = "errno", help_heading = "Fault")]
    empty: bool,
}

impl<const WRITE: bool> KernelTool for FileFault<WRITE> {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = if WRITE { &FILE_WRITE } else { &FILE_READ };
    fn customize(cmd: clap::Command) -> clap::Command {
        let (default, empty_help) = if WRITE {
            ("ENOSPC", "Return 0 (nothing written) instead of an error (the original type 0)")
        } else {
            ("EIO", "Return 0 (end of file) instead of an error (the original type 0)")
        };
        cmd.mut_subcommand("arm", |a| {
            a.mut_arg("errno", |e| e.help(format!("Error to return (default {default}): a name (EIO, ENOSPC, EROFS, EINTR, ...) or a number")))
                .mut_arg("empty", |e| e.help(empty_help))
        })
    }

    fn own_scope(a: &Self::Arm) -> bool {
        a.own.path.is_some()
    }

    fn fill(a: &Self::Arm, req: &mut Arm, held: &mut Held) -> Result<()> {
        if let Some(path) = &a.own.path {
            req.filter |= crate::kernel::abi::FILTER_PATH;
            req.path_fd = held.open_path(path, "--path")?;
        }
        if a.own.empty {
            req.mode = vfs::MODE_EMPTY;
        } else {
            req.mode = vfs::MODE_ERROR;
            req.error = a.own.errno.unwrap_or(if WRITE { libc::ENOSPC } else { libc::EIO });
        }
        Ok(())
    }
}

impl<const WRITE: bool> ToolDoc for FileFault<WRITE> {
    fn doc() -> Doc {
        let spec = Self::SPEC;
        let (verb, noun) = if WRITE { ("write", "vfs_write") } else { ("read", "vfs_read") };
        Doc::new(
            format!("Make {noun} fail for a chosen process, cgroup, file or directory tree"),
            format!(
                "Make {noun} fail for a chosen process, cgroup, file or directory tree.\n\n\
                 The kernel module {module}.ko probes {noun} and, for calls in scope, skips the function \
                 and returns the chosen error, so that nothing is {verb} (the caller sees -1 and errno). \
                 Calls out of scope are untouched: another process {verb}ing the same file succeeds. \
                 Every fault is bounded: --times, --probability, --interval, --space, and a lease \
                 (--duration, 10 minutes unless given) after which the module disarms by itself; \
                 `off`, `unload` and rmmod disarm at once.\n\n\
                 Hook candidates (first present is used): {cands}.\n\
                 Legacy control files: /proc/{module}/{{signal,times,type}} (type 0 = empty {verb}, 1 = EFAULT).",
                module = spec.module,
                cands = spec.hooks[0].candidates.join(", "),
            ),
            "/dev/kvmfi/<module> (control device, root only); /proc/<legacy dir>/ (original control files).",
            EXAMPLES,
        )
    }
}

const EXAMPLES: &str = "  \
id=$(vfs-read-fi arm --tgid $(pidof qemu-system-x86_64) --path /var/lib/libvirt/images --errno EIO --times 10)\n  \
vfs-read-fi status --json | jq .injected\n  \
vfs-write-fi arm --comm dd --errno ENOSPC --probability 50 --duration 30s\n  \
vfs-read-fi off";


