//! The skeleton every kernel tool shares, written once: the command line
//! (`arm` with scope, the tool's own options, bounds and module options;
//! `off`, `status`, `events`, `unload`), the original program names
//! dispatched on argv\[0\], clap's errors as one line with exit status 2, and
//! the man page's EXIT STATUS and FILES paragraphs.
//!
//! A tool implements [`KernelTool`] with what is its own (its module, its
//! `arm` options and how they fill the request), [`ToolDoc`] with its words,
//! and writes its
//! `command()` and `run()` with [`crate::kernel_tool_entry_points`], naming
//! there the options before the subcommand ([`TopOptions`]) and the
//! subcommands of its own ([`ToolCommand`]) when it has any.

use crate::kernel::abi::Arm;
use crate::kernel::cli::{Bounds, Held, Scope};
use crate::error::{Error, Result};
use crate::kernel::legacy;
use crate::kernel::symbols::ModuleSpec;
use crate::kernel::tool::{self, CommonCmd, ModuleOpts};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// The clap command type, for [`crate::kernel_tool_entry_points`].
pub use clap::Command;
use std::ffi::OsString;

/// The `arm` options of a tool that has the usual ones: scope first, then
/// the tool's own options (`A`), then bounds and where the module comes from.
#[derive(Args, Debug)]
pub struct ArmArgs<A: Args> {
    #[command(flatten)]
    pub scope: Scope,
    #[command(flatten)]
    pub own: A,
    #[command(flatten)]
    pub bounds: Bounds,
    #[command(flatten)]
    pub module: ModuleOpts,
}

/// A tool's `arm` options, whatever their order: what the skeleton needs.
pub trait ArmOptions: Args {
    fn scope(&self) -> &Scope;
    fn bounds(&self) -> &Bounds;
    fn module(&self) -> ModuleOpts;
}

impl<A: Args> ArmOptions for ArmArgs<A> {
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn bounds(&self) -> &Bounds {
        &self.bounds
    }
    fn module(&self) -> ModuleOpts {
        self.module.clone()
    }
}

/// A subcommand of a tool's own.
pub trait ToolCommand: Subcommand + std::fmt::Debug {
    fn run(self) -> Result<()>;
}

/// No subcommands of the tool's own.
#[derive(Subcommand, Debug, Clone, Copy)]
pub enum NoExtra {}

impl ToolCommand for NoExtra {
    fn run(self) -> Result<()> {
        match self {}
    }
}

/// Options before the subcommand (`--list-cmds`), and what the tool does
/// with them when no subcommand is given.
pub trait TopOptions: Args + std::fmt::Debug {
    /// Whether a subcommand is required (false: [`Self::run`] handles the options alone).
    const NEEDS_SUBCOMMAND: bool = false;
    /// Runs the tool without a subcommand.
    fn run(self) -> Result<()>;
}

/// No options at that place (before the subcommand, or of the tool's own in `arm`).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct NoOptions {}

/// No options before the subcommand.
pub type NoTop = NoOptions;

impl TopOptions for NoOptions {
    const NEEDS_SUBCOMMAND: bool = true;
    fn run(self) -> Result<()> {
        Err(Error::usage("a subcommand is required; see --help for the list"))
    }
}

/// What the EXIT STATUS paragraph says besides the codes every tool shares.
#[derive(Debug, Clone, Copy)]
pub struct ExitText {
    /// After "2 usage error".
    pub usage: &'static str,
    /// After "4 ".
    pub unsupported: &'static str,
    /// After "5 ".
    pub not_found: &'static str,
}

impl ExitText {
    /// Most kernel tools.
    pub const KERNEL: ExitText = ExitText {
        usage: "",
        unsupported: "unsupported on this kernel (module or function missing)",
        not_found: "target not found",
    };
    /// The KVM-layer tools (kvm-ioctl-fi, memslot-fi, vcpu-state-fi, kvm-version-fi, dirty-log-fi).
    pub const KVM: ExitText = ExitText {
        usage: "",
        unsupported: "unsupported here (no KVM, module missing, or none of the hook's candidate functions in this \
                      kernel: the message lists those tried)",
        not_found: "target process not found",
    };

    fn paragraph(&self) -> String {
        format!(
            "EXIT STATUS: 0 success; 1 failed at run time; 2 usage error{} (nothing changed); 3 needs root; 4 {}; 5 {}.",
            self.usage, self.unsupported, self.not_found
        )
    }
}

/// The words of a tool's help and man page that are its own.
#[derive(Debug, Clone)]
pub struct Doc {
    pub about: String,
    pub long_about: String,
    /// Sections of the tool's own before EXIT STATUS (tables of numbers), each line ending in a newline; or "".
    pub notes: &'static str,
    /// The FILES paragraph, after "FILES: ".
    pub files: String,
    /// The EXAMPLES lines, each indented by two spaces.
    pub examples: &'static str,
    pub exits: ExitText,
}

impl Doc {
    /// The words most tools have: no notes, the usual exit codes
    /// ([`ExitText::KERNEL`]); [`Doc::notes`] and [`Doc::exits`] change them.
    pub fn new(
        about: impl Into<String>,
        long_about: impl Into<String>,
        files: impl Into<String>,
        examples: &'static str,
    ) -> Doc {
        Doc {
            about: about.into(),
            long_about: long_about.into(),
            notes: "",
            files: files.into(),
            examples,
            exits: ExitText::KERNEL,
        }
    }

    /// Sections of the tool's own before EXIT STATUS.
    pub fn notes(self, notes: &'static str) -> Doc {
        Doc { notes, ..self }
    }

    /// Exit codes worded otherwise than [`ExitText::KERNEL`].
    pub fn exits(self, exits: ExitText) -> Doc {
        Doc { exits, ..self }
    }
}

/// The words of a tool's help and man page, kept apart from what it does
/// (in the tool crate's `doc.rs`).
pub trait ToolDoc {
    /// Help and man page text.
    fn doc() -> Doc;
}

/// A kernel tool: its module, its own options, and how they fill the request.
pub trait KernelTool: ToolDoc + 'static {
    /// The `arm` options, usually [`ArmArgs`] of the tool's own.
    type Arm: ArmOptions + std::fmt::Debug;

    /// Its binary, module and hooks.
    const SPEC: &'static ModuleSpec;

    /// Changes to the generated command line beyond [`ToolDoc::doc`] (wording of one option, say).
    fn customize(cmd: clap::Command) -> clap::Command {
        cmd
    }
    /// Whether this host can have the fault at all (checked before `arm`
    /// and before an original program arms).
    fn supported() -> Result<()> {
        Ok(())
    }
    /// Checks and resolutions that come before anything is touched, in the
    /// order of their exit codes: usage errors (2) before a missing host
    /// facility (4); may store what it resolved in `#[arg(skip)]` fields.
    fn prepare(_arm: &mut Self::Arm) -> Result<()> {
        Ok(())
    }
    /// Whether the tool's own options narrow the scope (a file), so that
    /// no task filter is needed.
    fn own_scope(_arm: &Self::Arm) -> bool {
        false
    }
    /// Fills the module's part of the request (mode, error, `arg` through
    /// [`crate::kernel::request`]).
    fn fill(arm: &Self::Arm, req: &mut Arm, held: &mut Held) -> Result<()>;
    /// `arm`: prepares, fills and arms, printing the experiment id.
    fn arm(mut arm: Self::Arm) -> Result<()> {
        Self::supported()?;
        Self::prepare(&mut arm)?;
        let own_scope = Self::own_scope(&arm);
        tool::arm(Self::SPEC, &arm.module(), arm.scope(), arm.bounds(), own_scope, |req, held| Self::fill(&arm, req, held))
    }
    /// Counters of the module's own that `status` shows after the common ones.
    fn counters() -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

#[derive(Parser, Debug)]
#[command(version, propagate_version = true, arg_required_else_help = true)]
struct Cli<T: Args, A: Args, E: Subcommand> {
    #[command(flatten)]
    top: T,
    #[command(subcommand)]
    cmd: Option<Cmd<A, E>>,
}

#[derive(Subcommand, Debug)]
enum Cmd<A: Args, E: Subcommand> {
    /// Arm the fault (loads the module when needed); prints the experiment id
    Arm(A),
    #[command(flatten)]
    Common(CommonCmd),
    #[command(flatten)]
    Extra(E),
}

type ToolCli<T, Top, Extra> = Cli<Top, <T as KernelTool>::Arm, Extra>;

/// The clap definition of tool `T` with options `Top` before the
/// subcommand and subcommands `Extra` of its own, for its parser, man page
/// and completions.
pub fn command<T: KernelTool, Top: TopOptions, Extra: ToolCommand>() -> clap::Command {
    let doc = T::doc();
    let cmd = ToolCli::<T, Top, Extra>::command()
        .name(T::SPEC.tool)
        .bin_name(T::SPEC.tool)
        .subcommand_required(Top::NEEDS_SUBCOMMAND)
        .about(doc.about)
        .long_about(doc.long_about)
        .after_long_help(format!("{}{}\nFILES: {}\nEXAMPLES:\n{}", doc.notes, doc.exits.paragraph(), doc.files, doc.examples));
    T::customize(cmd)
}

/// Runs tool `T` (see [`command`]) with the process arguments, argv\[0\]
/// included: an original program when argv\[0\] names one of
/// `T::SPEC.legacy`, else the command line.
pub fn run<T: KernelTool, Top: TopOptions, Extra: ToolCommand>(args: impl IntoIterator<Item = OsString>) -> Result<()> {
    let args: Vec<OsString> = args.into_iter().collect();
    if let Some(prog) = args.first().and_then(|a0| legacy::invoked_as(a0, T::SPEC.legacy)) {
        let rest: Vec<String> = args[1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
        if !rest.iter().any(|a| a == "-h" || a == "--help") {
            T::supported()?;
        }
        return legacy::run(T::SPEC, prog, &rest);
    }
    let Some(matches) = crate::cliparse::parse(command::<T, Top, Extra>(), args)? else { return Ok(()) };
    let cli = ToolCli::<T, Top, Extra>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.cmd {
        Some(Cmd::Arm(a)) => T::arm(a),
        Some(Cmd::Common(CommonCmd::Status { json })) => tool::status_with(T::SPEC, json, &T::counters()),
        Some(Cmd::Common(c)) => c.run(T::SPEC),
        Some(Cmd::Extra(e)) => e.run(),
        None => cli.top.run(),
    }
}

/// Writes a kernel tool crate's two entry points, `pub fn command()` (the
/// clap definition, for the man page and completions) and `pub fn
/// run(args)` (argv\[0\] included), for `$tool`'s [`KernelTool`] impl;
/// `top = T` names its options before the subcommand ([`TopOptions`]),
/// `extra = E` its subcommands of its own ([`ToolCommand`]).
#[macro_export]
macro_rules! kernel_tool_entry_points {
    ($tool:ty) => {
        $crate::kernel_tool_entry_points!(
            $tool,
            top = $crate::kernel::kernel_tool::NoTop,
            extra = $crate::kernel::kernel_tool::NoExtra
        );
    };
    ($tool:ty, top = $top:ty) => {
        $crate::kernel_tool_entry_points!($tool, top = $top, extra = $crate::kernel::kernel_tool::NoExtra);
    };
    ($tool:ty, extra = $extra:ty) => {
        $crate::kernel_tool_entry_points!($tool, top = $crate::kernel::kernel_tool::NoTop, extra = $extra);
    };
    ($tool:ty, top = $top:ty, extra = $extra:ty) => {
        /// The clap definition, for the man page and completion generators.
        pub fn command() -> $crate::kernel::kernel_tool::Command {
            $crate::kernel::kernel_tool::command::<$tool, $top, $extra>()
        }

        /// Runs the tool with the given arguments (or, invoked under an
        /// original program's name, that program).
        pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> $crate::Result<()> {
            $crate::kernel::kernel_tool::run::<$tool, $top, $extra>(args)
        }
    };
}
