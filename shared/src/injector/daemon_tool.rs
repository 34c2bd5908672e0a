//! The skeleton every daemon injector shares, written once: the command
//! line (`--dry-run` and `--main-class`; `list`, `crash`, `hang` and
//! `resume` of its daemons; its own options and subcommands; `status` and
//! `recover`), its detached stress helper, the component table with
//! `--main-class` applied, and the help text that the journal and the
//! firewall give every injector ([`crate::injector_help`]).
//!
//! An injector implements [`DaemonInjector`] with what is its own (its
//! daemons, options and subcommands, and how it runs them), [`InjectorDoc`]
//! with its words (in the tool crate's `doc.rs`), and writes its
//! `command()` and `run()` with [`crate::daemon_injector_entry_points`],
//! as a kernel tool does with [`crate::kernel::kernel_tool`].

use crate::cliparse::{self, Argv};
use crate::error::Result;
use crate::injector::component::{override_classes, Component};
use crate::injector::ctx::{Common, Ctx, RecoverArgs, StatusArgs};
use crate::injector::stress;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// The clap command type, for [`crate::daemon_injector_entry_points`].
pub use clap::Command;

/// Options every daemon injector has: [`Common`] and `--main-class`.
#[derive(Args, Debug, Clone, Default)]
pub struct DaemonOpts {
    #[command(flatten)]
    pub common: Common,
    /// Recognise component COMP by this Java main class instead (repeatable;
    /// several classes separated by commas)
    #[arg(long, value_name = "COMP=CLASS", global = true)]
    pub main_class: Vec<String>,
}

impl DaemonOpts {
    /// `--main-class`'s help in `cmd`, with an example of the injector's own
    /// components (`nn=org.example.NameNode`).
    pub fn with_example(cmd: clap::Command, example: &str) -> clap::Command {
        // `mut_args` keeps the option where it stands (`mut_arg` moves it last).
        cmd.mut_args(|a| {
            if a.get_id() != "main_class" {
                return a;
            }
            a.help(format!(
                "Recognise component COMP by this Java main class instead (repeatable; several classes separated by \
                 commas), e.g. {example}"
            ))
        })
    }

    /// Injector `tool`'s context, and its component `table` with the
    /// `--main-class` overrides applied.
    pub fn ctx(&self, tool: &'static str, table: &mut [Component]) -> Result<Ctx> {
        override_classes(table, &self.main_class)?;
        Ok(Ctx { tool, dry_run: self.common.dry_run })
    }
}

/// `list`, `crash`, `hang` and `resume` of the daemons `C` (an injector's
/// component enum): what every daemon injector does to its daemons,
/// flattened into its subcommands first so that help and man pages keep
/// their order. The injector's [`Doc::list_about`] names its
/// daemons in `list`'s help.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum DaemonCmd<C: clap::ValueEnum + Clone + Send + Sync + 'static> {
    /// List the daemons running on this node
    List {
        /// One JSON object per line instead of tab-separated fields
        #[arg(long)]
        json: bool,
    },
    /// Kill a daemon with SIGKILL ('recover' starts it again)
    Crash {
        /// The daemon
        #[arg(value_enum)]
        component: C,
    },
    /// Freeze a daemon with SIGSTOP
    Hang {
        /// The daemon
        #[arg(value_enum)]
        component: C,
    },
    /// Resume a frozen daemon with SIGCONT
    Resume {
        /// The daemon
        #[arg(value_enum)]
        component: C,
    },
}

/// `status` and `recover`, the journal's subcommands a daemon injector ends
/// with (flattened last).
#[derive(clap::Subcommand, Debug, Clone)]
pub enum JournalCmd {
    /// Show the faults in force: id, tool, kind, target, state, since (unix time), description
    Status(StatusArgs),
    /// Undo every fault in force (newest first), or only fault ID
    Recover(RecoverArgs),
}

impl JournalCmd {
    /// Runs `status` or `recover` for `ctx`'s tool.
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        match self {
            JournalCmd::Status(a) => ctx.status(a),
            JournalCmd::Recover(a) => ctx.recover(a),
        }
    }
}

/// The words of an injector's help and man page that are its own.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// One line: what it injects into.
    pub about: &'static str,
    /// The paragraph of `--help` and the man page's DESCRIPTION.
    pub long_about: &'static str,
    /// The sections after the options (COMPONENTS, UNDO, EXIT STATUS, ...):
    /// a `concat!` of the tool's own lines and [`crate::injector_help`]'s.
    pub after_long_help: &'static str,
    /// `list`'s help: which daemons it lists.
    pub list_about: &'static str,
    /// `--main-class`'s example, one of its own components (`nn=org.example.NameNode`).
    pub main_class_example: &'static str,
}

/// The words of an injector's help and man page, kept apart from what it
/// does (in the tool crate's `doc.rs`).
pub trait InjectorDoc {
    /// Help and man page text.
    fn doc() -> Doc;
}

/// A daemon injector: its daemons, its options and subcommands, and how it
/// runs one command line.
pub trait DaemonInjector: InjectorDoc + Sized + 'static {
    /// Its name in messages, in the journal and on the man page.
    const TOOL: &'static str;
    /// Its daemons, as `crash`, `hang` and `resume` take them.
    type Comp: ValueEnum + Clone + Send + Sync + std::fmt::Debug + 'static;
    /// How each daemon is recognised (`--main-class` changes the table).
    fn components() -> Vec<Component>;
    /// Its options besides `--dry-run` and `--main-class` (before the subcommand).
    type Opts: Args + std::fmt::Debug;
    /// Its subcommands, listed between `resume` and `status`.
    type Cmd: Subcommand + std::fmt::Debug;
    /// Runs one parsed command line.
    fn run(inv: Invocation<Self>) -> Result<()>;
}

/// One parsed command line of injector `T`, with what every command needs.
pub struct Invocation<T: DaemonInjector> {
    /// The tool's name and `--dry-run`.
    pub ctx: Ctx,
    /// [`DaemonInjector::components`] with the `--main-class` overrides applied.
    pub table: Vec<Component>,
    /// The tool's own options.
    pub opts: T::Opts,
    /// The subcommand.
    pub cmd: InjectorCmd<T::Comp, T::Cmd>,
}

/// An injector's subcommands, in the order of its help and man page: the
/// daemons' (`C` its components), its own (`E`), then the journal's.
#[derive(Subcommand, Debug)]
pub enum InjectorCmd<C: ValueEnum + Clone + Send + Sync + 'static, E: Subcommand> {
    #[command(flatten)]
    Daemon(DaemonCmd<C>),
    #[command(flatten)]
    Own(E),
    #[command(flatten)]
    Journal(JournalCmd),
}

#[derive(Parser)]
#[command(version)]
struct Cli<T: DaemonInjector> {
    #[command(flatten)]
    daemon: DaemonOpts,
    #[command(flatten)]
    own: T::Opts,
    #[command(subcommand)]
    cmd: InjectorCmd<T::Comp, T::Cmd>,
}

/// The clap definition of injector `T`, for its parser, man page and completions.
pub fn command<T: DaemonInjector>() -> Command {
    let doc = T::doc();
    let cmd = Cli::<T>::command()
        .name(T::TOOL)
        .about(doc.about)
        .long_about(doc.long_about)
        .after_long_help(doc.after_long_help);
    let cmd = DaemonOpts::with_example(cmd, doc.main_class_example);
    cliparse::edit_subcommand(cmd, "list", |c| c.about(doc.list_about))
}

/// Runs injector `T` on `args` (argv\[0\] included): its detached stress
/// helper when argv\[1\] asks for it, else the command line, parsed, with
/// the context and the component table made.
pub fn run<T: DaemonInjector>(args: impl Argv) -> Result<()> {
    let Some(cli) = cliparse::parse_or_helper::<Cli<T>>(command::<T>(), args, stress::HELPER_ARG, stress::helper_main)?
    else {
        return Ok(());
    };
    let mut table = T::components();
    let ctx = cli.daemon.ctx(T::TOOL, &mut table)?;
    T::run(Invocation { ctx, table, opts: cli.own, cmd: cli.cmd })
}

/// Writes a daemon injector crate's two entry points, `pub fn command()`
/// (the clap definition, for the man page and completions) and `pub fn
/// run(args)` (argv\[0\] included), for `$tool`'s [`DaemonInjector`] impl.
#[macro_export]
macro_rules! daemon_injector_entry_points {
    ($tool:ty) => {
        /// The clap definition, for the man page and completion generators.
        pub fn command() -> $crate::injector::daemon_tool::Command {
            $crate::injector::daemon_tool::command::<$tool>()
        }

        /// Runs the tool on `args` (argv\[0\] included).
        pub fn run(args: impl $crate::cliparse::Argv) -> $crate::Result<()> {
            $crate::injector::daemon_tool::run::<$tool>(args)
        }
    };
}

/// The help text every journaled injector shares, each piece a string
/// literal (a `const` cannot go into `concat!`), so that a tool's
/// [`Doc::after_long_help`] is one `concat!` of its own lines and these:
///
/// - `undo`: the UNDO section's first paragraph, what the journal promises;
/// - `exit_status, failed: .., usage: .., missing: .., not_found: ..`: the
///   EXIT STATUS section; codes 0 and 3 are the same for every injector,
///   1, 2, 4 and 5 in the tool's words (who refused, what input was bad,
///   what is missing, what was not found);
/// - `KVMFI_STATE_DIR`, `KVMFI_FIREWALL`, `KVMFI_TEST_DIE_AFTER_APPLY`: one
///   ENVIRONMENT line each;
/// - `journal_files`: the FILES lines of the journal directory.
#[macro_export]
macro_rules! injector_help {
    (undo) => {
        "Every change is written to the journal, with how to undo it, before it is made (fsync'ed). 'recover' \
         undoes everything still in force, newest first, even after the injector was killed half-way; undo steps \
         are idempotent, so a second 'recover' does nothing. 'status' shows what is in force; 'recover ID' undoes \
         one fault.\n"
    };
    (exit_status, failed: $failed:literal, usage: $usage:literal, missing: $missing:literal, not_found: $not_found:literal) => {
        concat!(
            "EXIT STATUS:\n",
            "  0  success (also when the output pipe was closed by the reader)\n",
            "  1  the operation failed (", $failed, ")\n",
            "  2  usage error: bad ", $usage, "; nothing changed\n",
            "  3  not root (every command but list, status and --dry-run needs root)\n",
            "  4  ", $missing, "\n",
            "  5  ", $not_found, "\n",
        )
    };
    (KVMFI_STATE_DIR) => {
        "  KVMFI_STATE_DIR             journal directory (default /var/lib/kvmfi/journal)\n"
    };
    (KVMFI_FIREWALL) => {
        "  KVMFI_FIREWALL=iptables     use the iptables fallback even where nft exists\n"
    };
    (KVMFI_TEST_DIE_AFTER_APPLY) => {
        "  KVMFI_TEST_DIE_AFTER_APPLY  TEST ONLY: 1 makes the tool SIGKILL itself right after applying a change\n"
    };
    (journal_files) => {
        concat!(
            "  /var/lib/kvmfi/journal/journal.jsonl  the journal: JSON lines, mode 0600 (it may hold a daemon's \
             environment)\n",
            "  /var/lib/kvmfi/journal/lock           flock that serializes concurrent invocations\n",
            "  /var/lib/kvmfi/journal/logs/          output of daemons restarted by recover\n",
        )
    };
}
