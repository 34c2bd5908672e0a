//! The command line of the file-fault tools, vfs-read-fi and vfs-write-fi,
//! which differ only in the hooked function, the default errno and wording.

use crate::cli::{Bounds, Scope};
use crate::symbols::{ModuleSpec, FILE_READ, FILE_WRITE};
use crate::tool::{self, ModuleOpts};
use crate::{errno, legacy, Result};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// Which of the two tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

impl Kind {
    pub fn spec(self) -> &'static ModuleSpec {
        match self {
            Kind::Read => &FILE_READ,
            Kind::Write => &FILE_WRITE,
        }
    }
    fn default_errno(self) -> i32 {
        match self {
            Kind::Read => libc::EIO,
            Kind::Write => libc::ENOSPC,
        }
    }
}

#[derive(Parser, Debug)]
#[command(version, propagate_version = true, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Arm the fault (loads the module when needed); prints the experiment id
    Arm(ArmArgs),
    #[command(flatten)]
    Common(tool::CommonCmd),
}

#[derive(Args, Debug)]
struct ArmArgs {
    #[command(flatten)]
    scope: Scope,
    /// Only this file, or every file below this directory (a VM's disk image, say)
    #[arg(long, value_name = "PATH", help_heading = "Scope (all given filters must match)")]
    path: Option<PathBuf>,
    /// Error to return: a name (EIO, ENOSPC, EROFS, EINTR, ...) or a number
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, help_heading = "Fault")]
    errno: Option<i32>,
    /// Return 0 instead of an error (the original type 0)
    #[arg(long, conflicts_with = "errno", help_heading = "Fault")]
    empty: bool,
    #[command(flatten)]
    bounds: Bounds,
    #[command(flatten)]
    module: ModuleOpts,
}

/// The clap command of one tool (also used to generate its man page).
pub fn command(kind: Kind) -> clap::Command {
    let spec = kind.spec();
    let (verb, noun, default) = match kind {
        Kind::Read => ("read", "vfs_read", "EIO"),
        Kind::Write => ("write", "vfs_write", "ENOSPC"),
    };
    let empty_help = match kind {
        Kind::Read => "Return 0 (end of file) instead of an error (the original type 0)",
        Kind::Write => "Return 0 (nothing written) instead of an error (the original type 0)",
    };
    Cli::command()
        .name(spec.tool)
        .bin_name(spec.tool)
        .about(format!("Make {noun} fail for a chosen process, cgroup, file or directory tree"))
        .long_about(format!(
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
        ))
        .after_long_help(AFTER_HELP)
        .mut_subcommand("arm", |a| {
            a.mut_arg("errno", |e| e.help(format!("Error to return (default {default}): a name (EIO, ENOSPC, EROFS, EINTR, ...) or a number")))
                .mut_arg("empty", |e| e.help(empty_help))
        })
}

const AFTER_HELP: &str = "\
EXIT STATUS: 0 success; 1 failed at run time; 2 usage error (nothing changed); 3 needs root; \
4 unsupported on this kernel (module or function missing); 5 target not found.\n\
FILES: /dev/kvmfi/<module> (control device, root only); /proc/<legacy dir>/ (original control files).\n\
EXAMPLES:\n  \
id=$(vfs-read-fi arm --tgid $(pidof qemu-system-x86_64) --path /var/lib/libvirt/images --errno EIO --times 10)\n  \
vfs-read-fi status --json | jq .injected\n  \
vfs-write-fi arm --comm dd --errno ENOSPC --probability 50 --duration 30s\n  \
vfs-read-fi off";

/// The original control programs of the two modules (prompt order as in the original).
pub static LEGACY: [legacy::Program; 2] = [
    legacy::Program {
        name: "file-read-fi-main",
        spec: &FILE_READ,
        proc_dir: "file-read-fi",
        prompts: &[
            legacy::Prompt { knob: "type", question: "type (0: reads return nothing, 1: reads fail with EFAULT)", min: 0, max: 1 },
            legacy::Prompt { knob: "times", question: "times (number of injections, -1 unlimited)", min: -1, max: i32::MAX as i64 },
        ],
    },
    legacy::Program {
        name: "file-write-fi-main",
        spec: &FILE_WRITE,
        proc_dir: "file-write-fi",
        prompts: &[
            legacy::Prompt { knob: "type", question: "type (0: writes write nothing, 1: writes fail with EFAULT)", min: 0, max: 1 },
            legacy::Prompt { knob: "times", question: "times (number of injections, -1 unlimited)", min: -1, max: i32::MAX as i64 },
        ],
    },
];

/// Runs one tool with the process arguments (or, invoked under an original
/// program name, the original program).
pub fn run(kind: Kind, args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<()> {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if let Some(prog) = args.first().and_then(|a0| legacy::invoked_as(a0, &LEGACY)) {
        let rest: Vec<String> = args[1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
        return legacy::run(prog, &rest);
    }
    let Some(matches) = crate::cliparse::parse(command(kind), args)? else { return Ok(()) };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let spec = kind.spec();
    match cli.cmd {
        Cmd::Arm(a) => tool::arm(spec, &a.module, &a.scope, &a.bounds, a.path.is_some(), |req, held| {
            if let Some(path) = &a.path {
                req.filter |= crate::abi::FILTER_PATH;
                req.path_fd = held.open_path(path, "--path")?;
            }
            if a.empty {
                req.mode = crate::request::vfs::MODE_EMPTY;
            } else {
                req.error = a.errno.unwrap_or(kind.default_errno());
            }
            Ok(())
        }),
        Cmd::Common(c) => c.run(spec),
    }
}
