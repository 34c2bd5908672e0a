//! The skeleton every kernel tool shares, written once: the command line
//! (`arm` with scope, the tool's own options, bounds and module options;
//! `off`, `status`, `events`, `unload`), the original program names
//! dispatched on argv[0], clap's errors as one line with exit status 2, and
//! the man page's EXIT STATUS and FILES paragraphs.
//!
//! A tool implements [`KernelTool`] with what is its own (its module, its
//! `arm` options and how they fill the request, its words) and exports
//! `command()` and `run()` as `kernel_tool::command::<Tool>()` and
//! `kernel_tool::run::<Tool>(args)`.

use crate::abi::Arm;
use crate::cli::{Bounds, Held, Scope};
use crate::error::{Error, Result};
use crate::legacy;
use crate::symbols::ModuleSpec;
use crate::tool::{self, CommonCmd, ModuleOpts};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
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

/// No options at that place (before the subcommand, or of the tool's own in `arm`).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct NoOptions {}

/// No options before the subcommand.
pub type NoTop = NoOptions;

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

/// A kernel tool: its module, its own options, and how they fill the request.
pub trait KernelTool: 'static {
    /// Options before the subcommand (`--list-cmds`); [`NoTop`] for none.
    type Top: Args + std::fmt::Debug;
    /// The `arm` options, usually [`ArmArgs`] of the tool's own.
    type Arm: ArmOptions + std::fmt::Debug;
    /// Subcommands of the tool's own besides arm, off, status, events and
    /// unload; [`NoExtra`] for none.
    type Extra: ToolCommand;

    /// Its binary, module and hooks.
    const SPEC: &'static ModuleSpec;
    /// Whether a subcommand is required (false: the tool handles [`Self::Top`] alone).
    const NEEDS_SUBCOMMAND: bool = true;

    /// Help and man page text.
    fn doc() -> Doc;
    /// Changes to the generated command line beyond [`Self::doc`] (wording of one option, say).
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
    /// [`crate::request`]).
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
    /// Runs the tool without a subcommand (only with [`Self::Top`] options).
    fn top(_top: Self::Top) -> Result<()> {
        Err(Error::usage("a subcommand is required; see --help for the list"))
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

type ToolCli<T> = Cli<<T as KernelTool>::Top, <T as KernelTool>::Arm, <T as KernelTool>::Extra>;

/// Changes subcommand `name` where it stands (`Command::mut_subcommand`
/// moves it to the end, and the man page lists subcommands in that order).
pub fn edit_subcommand(cmd: clap::Command, name: &str, f: impl Fn(clap::Command) -> clap::Command) -> clap::Command {
    cmd.mut_subcommands(|c| if c.get_name() == name { f(c) } else { c })
}

/// The clap definition of tool `T`, for its parser, man page and completions.
pub fn command<T: KernelTool>() -> clap::Command {
    let doc = T::doc();
    let cmd = ToolCli::<T>::command()
        .name(T::SPEC.tool)
        .bin_name(T::SPEC.tool)
        .subcommand_required(T::NEEDS_SUBCOMMAND)
        .about(doc.about)
        .long_about(doc.long_about)
        .after_long_help(format!("{}{}\nFILES: {}\nEXAMPLES:\n{}", doc.notes, doc.exits.paragraph(), doc.files, doc.examples));
    T::customize(cmd)
}

/// Runs tool `T` with the process arguments, argv[0] included: an original
/// program when argv[0] names one of `T::SPEC.legacy`, else the
/// command line.
pub fn run<T: KernelTool>(args: impl IntoIterator<Item = OsString>) -> Result<()> {
    let args: Vec<OsString> = args.into_iter().collect();
    if let Some(prog) = args.first().and_then(|a0| legacy::invoked_as(a0, T::SPEC.legacy)) {
        let rest: Vec<String> = args[1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
        if !rest.iter().any(|a| a == "-h" || a == "--help") {
            T::supported()?;
        }
        return legacy::run(T::SPEC, prog, &rest);
    }
    let Some(matches) = crate::cliparse::parse(command::<T>(), args)? else { return Ok(()) };
    let cli = ToolCli::<T>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.cmd {
        Some(Cmd::Arm(a)) => T::arm(a),
        Some(Cmd::Common(CommonCmd::Status { json })) => tool::status_with(T::SPEC, json, &T::counters()),
        Some(Cmd::Common(c)) => c.run(T::SPEC),
        Some(Cmd::Extra(e)) => e.run(),
        None => T::top(cli.top),
    }
}
