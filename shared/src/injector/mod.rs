//! The parts every user-space injector shares (hadoop_injector,
//! cloudstack_injector, and later ones): daemon components found by main
//! class or command name, the journaled crash / hang / resume, network
//! blocks, and the `status` and `recover` commands. The files beside this
//! one PLAN faults (the steps to apply and to undo, handed to the journal):
//! `network` (firewall blocks, api delay), `netem` (delay, loss, reorder
//! bands), `stress` (CPU, memory, fill files and their helpers); `remote`
//! finds other nodes and reaches them over ssh. `daemon_tool` is the
//! skeleton of a daemon injector's command line and help text.

use crate::error::{Error, Result};
use crate::host::firewall;
use crate::host::procs::{self, Matcher, Proc};
use crate::journal::{self, Entry, Fault, Journal};
use crate::run::{out, out_json};
use crate::undo::{in_this_netns, Step};
use clap::Args;
use network::Target;
use serde::Serialize;

pub mod daemon_tool;
pub mod netem;
pub mod network;
pub mod remote;
pub mod stress;

/// Where the helper-process steps used to live; kfail-fi names `tag_arg` here.
pub mod steps {
    pub use crate::undo::processes::{kill_tagged, spawn_ready, tag_arg, tagged};
}

/// A daemon kind an injector can target, e.g. `nn` = NameNode.
#[derive(Debug, Clone)]
pub struct Component {
    /// Short name used on the command line (`nn`, `ms`, ...).
    pub name: String,
    /// Any of these recognises the daemon.
    pub matchers: Vec<Matcher>,
    /// For daemons that are kernel threads (no command line to record, e.g.
    /// nfsd): the command that starts them again after `crash`, with
    /// `{count}` replaced by the number of threads that were killed.
    pub restart_command: Option<Vec<String>>,
}

impl Component {
    /// A component recognised by exact Java main class(es).
    pub fn java(name: &str, classes: &[&str]) -> Component {
        Component {
            name: name.into(),
            matchers: classes.iter().map(|c| Matcher::JavaMain(c.to_string())).collect(),
            restart_command: None,
        }
    }
    /// A component recognised by command name(s).
    pub fn command(name: &str, names: &[&str]) -> Component {
        Component {
            name: name.into(),
            matchers: vec![Matcher::Command(names.iter().map(|s| s.to_string()).collect())],
            restart_command: None,
        }
    }
    /// Its live processes.
    pub fn processes(&self) -> Vec<Proc> {
        let me = std::process::id() as i32;
        procs::all().into_iter().filter(|p| p.pid != me && self.matchers.iter().any(|m| m.matches(p))).collect()
    }
    /// What it is matched by, for messages.
    pub fn describe(&self) -> String {
        self.matchers.iter().map(Matcher::describe).collect::<Vec<_>>().join(" or ")
    }
    /// What matched `p` (main class or command name), for `list`.
    pub fn identity(&self, p: &Proc) -> String {
        p.java_main().unwrap_or_else(|| p.comm.clone())
    }
}

/// Applies `COMP=CLASS` overrides (`--main-class`) to a component table.
pub fn override_classes(table: &mut [Component], overrides: &[String]) -> Result<()> {
    for o in overrides {
        let (name, class) = o
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--main-class '{o}': write COMPONENT=CLASS, e.g. nn=org.example.NameNode")))?;
        if class.is_empty() || class.contains(char::is_whitespace) {
            return Err(Error::usage(format!("--main-class '{o}': the class name must be one word")));
        }
        let names: Vec<String> = table.iter().map(|c| c.name.clone()).collect();
        let comp = table.iter_mut().find(|c| c.name == name).ok_or_else(|| {
            Error::usage(format!("--main-class '{o}': unknown component '{name}'; use one of {}", names.join(", ")))
        })?;
        comp.matchers = class.split(',').map(|c| Matcher::JavaMain(c.to_string())).collect();
    }
    Ok(())
}

/// Options every injector has.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// Print the exact commands and changes (and how they would be undone)
    /// without doing anything; needs no root
    #[arg(long, global = true)]
    pub dry_run: bool,
}

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
/// their order. The injector's [`daemon_tool::Doc::list_about`] names its
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

/// `status`: what is in force.
#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// One JSON object per line instead of tab-separated fields
    #[arg(long)]
    pub json: bool,
    /// Show the faults of every kvmfi tool, not only this one's
    #[arg(long)]
    pub all: bool,
}

/// `recover`: undo what is in force.
#[derive(Args, Debug, Clone)]
pub struct RecoverArgs {
    /// Undo only this fault (its id from 'status'); default: every fault of this tool, newest first
    #[arg(value_name = "ID", value_parser = clap::value_parser!(u64).range(1..))]
    pub id: Option<u64>,
    /// Undo the faults of every kvmfi tool, not only this one's
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
}

/// One invocation of an injector: its name and global options.
pub struct Ctx {
    pub tool: &'static str,
    pub dry_run: bool,
}

/// One row of `list`.
#[derive(Serialize)]
struct ListRow<'a> {
    component: &'a str,
    pid: i32,
    state: &'a str,
    main_class: String,
}

impl Ctx {
    /// Fails with exit 3 unless root (skipped for `--dry-run`).
    pub fn require_root(&self) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        crate::error::require_root(self.tool)
    }

    /// Opens the journal (root only).
    pub fn journal(&self) -> Result<Journal> {
        Journal::open(self.tool)
    }

    /// The common path of every fault: dry run prints it; otherwise the
    /// journal hands out an id, `build` makes the fault for that id, and it
    /// is journaled and applied. Prints `ID<TAB>kind<TAB>target<TAB>desc`.
    pub fn inject(&self, build: impl FnOnce(u64) -> Result<Fault>) -> Result<()> {
        self.inject_once(|_| false, build)
    }

    /// Like [`Ctx::inject`], but when a fault of this tool that `same`
    /// picks is already in force (checked under the journal lock, so two
    /// concurrent runs cannot both apply), nothing is done and that fault
    /// is printed.
    pub fn inject_once(&self, same: impl Fn(&Entry) -> bool, build: impl FnOnce(u64) -> Result<Fault>) -> Result<()> {
        if self.dry_run {
            return build(0)?.print_dry_run();
        }
        self.require_root()?;
        let mut j = self.journal()?;
        if let Some(e) = j.entries()?.into_iter().find(|e| e.tool == self.tool && same(e)) {
            eprintln!("{}: already in force as fault {}; nothing changed", self.tool, e.id);
            return out(format!("{}\t{}\t{}\t{}", e.id, e.kind, e.target, e.desc));
        }
        let id = j.next_id()?;
        let fault = build(id)?;
        let (kind, target, desc) = (fault.kind.clone(), fault.target.clone(), fault.desc.clone());
        j.apply(id, fault)?;
        out(format!("{id}\t{kind}\t{target}\t{desc}"))
    }

    /// Undoes this tool's faults in force that `select` picks; prints each
    /// undone one. With `--dry-run`, prints the undo steps instead.
    /// Returns how many there were.
    pub fn undo_where(&self, select: impl Fn(&Entry) -> bool) -> Result<usize> {
        if self.dry_run {
            let dir = journal::dir();
            let entries = journal::read_entries(&dir).unwrap_or_default();
            let mut n = 0;
            for e in entries.iter().rev().filter(|e| e.tool == self.tool && select(e)) {
                out(format!("# undo fault {} ({} {})", e.id, e.kind, e.target))?;
                for s in &e.undo {
                    out(s.describe())?;
                }
                n += 1;
            }
            return Ok(n);
        }
        self.require_root()?;
        let mut j = self.journal()?;
        let tool = self.tool;
        let done = j.undo_where(|e| e.tool == tool && select(e))?;
        for e in &done {
            out(format!("{}\tundone\t{}\t{}", e.id, e.kind, e.target))?;
        }
        Ok(done.len())
    }

    /// `list`: every running daemon of `table`, tab-separated
    /// `component pid state main_class`, or JSON lines.
    pub fn list(&self, table: &[Component], json: bool) -> Result<()> {
        let all = procs::all();
        let me = std::process::id() as i32;
        for c in table {
            for p in all.iter().filter(|p| p.pid != me && c.matchers.iter().any(|m| m.matches(p))) {
                let row = ListRow { component: &c.name, pid: p.pid, state: p.state_name(), main_class: c.identity(p) };
                if json {
                    out_json(&row)?;
                } else {
                    out(format!("{}\t{}\t{}\t{}", row.component, row.pid, row.state, row.main_class))?;
                }
            }
        }
        Ok(())
    }

    fn running(&self, c: &Component) -> Result<Vec<Proc>> {
        let ps = c.processes();
        if ps.is_empty() {
            return Err(Error::not_found(format!(
                "no '{}' daemon is running on this node (looked for {})",
                c.name,
                c.describe()
            )));
        }
        Ok(ps)
    }

    /// `crash C`: SIGKILL to every process of `c`. The undo step starts
    /// each again with its recorded argv, cwd, environment, uid and gid.
    pub fn crash(&self, c: &Component) -> Result<()> {
        let ps = self.running(c)?;
        self.inject(|_| {
            let mut apply = Vec::new();
            let mut undo = Vec::new();
            let threads = ps.iter().filter(|p| p.cmdline.is_empty()).count();
            for p in &ps {
                let what = format!("{} {}", c.name, c.identity(p));
                apply.push(Step::Signal { pid: p.pid, starttime: p.starttime, signal: "KILL".into(), what: what.clone() });
                if p.cmdline.is_empty() {
                    continue; // kernel threads: one restart_command below
                }
                match procs::snapshot(p) {
                    Ok(snapshot) => undo.push(Step::Restart { snapshot, what }),
                    Err(e) if self.dry_run => eprintln!("note: pid {}: {e}; it could not be restarted", p.pid),
                    Err(e) => {
                        return Err(Error::failed(format!(
                            "cannot record how to restart pid {} ({e}); nothing was changed",
                            p.pid
                        )))
                    }
                }
            }
            if threads > 0 {
                match &c.restart_command {
                    Some(cmd) => {
                        let argv: Vec<String> = cmd.iter().map(|w| w.replace("{count}", &threads.to_string())).collect();
                        let prog = crate::host::exec::which(&argv[0], &[])
                            .map(|p| p.to_string_lossy().into_owned())
                            .unwrap_or_else(|| argv[0].clone());
                        undo.push(Step::Run { argv: std::iter::once(prog).chain(argv[1..].iter().cloned()).collect(), stdin: None });
                    }
                    None => eprintln!("note: {threads} kernel thread(s) of '{}' cannot be restarted by recover", c.name),
                }
            }
            Ok(Fault {
                kind: "crash".into(),
                target: c.name.clone(),
                desc: format!("SIGKILL {}", pids(&ps)),
                apply,
                undo,
            })
        })
    }

    /// `hang C`: SIGSTOP; the undo is a SIGCONT to the same processes.
    pub fn hang(&self, c: &Component) -> Result<()> {
        let ps = self.running(c)?;
        self.inject(|_| {
            let sig = |p: &Proc, s: &str| Step::Signal {
                pid: p.pid,
                starttime: p.starttime,
                signal: s.into(),
                what: format!("{} {}", c.name, c.identity(p)),
            };
            Ok(Fault {
                kind: "hang".into(),
                target: c.name.clone(),
                desc: format!("SIGSTOP {}", pids(&ps)),
                apply: ps.iter().map(|p| sig(p, "STOP")).collect(),
                undo: ps.iter().map(|p| sig(p, "CONT")).collect(),
            })
        })
    }

    /// `resume C`: undoes the journaled hangs of `c`, then sends SIGCONT to
    /// any of its processes still stopped.
    pub fn resume(&self, c: &Component) -> Result<()> {
        let n = self.undo_where(|e| e.kind == "hang" && e.target == c.name)?;
        let stopped: Vec<Proc> = c.processes().into_iter().filter(|p| p.state == 'T').collect();
        if n == 0 && c.processes().is_empty() {
            return Err(Error::not_found(format!(
                "no '{}' daemon is running on this node (looked for {})",
                c.name,
                c.describe()
            )));
        }
        for p in stopped {
            if self.dry_run {
                out(format!("kill -CONT {}", p.pid))?;
            } else {
                self.require_root()?;
                procs::signal_if_same(p.pid, p.starttime, libc::SIGCONT)?;
                out(format!("-\tresumed\t{}\tSIGCONT {}", c.name, p.pid))?;
            }
        }
        Ok(())
    }

    /// A journaled DROP of `target` (`network IP`, `agent-disconnect`).
    /// Does nothing when the same block is already in force.
    pub fn block(&self, kind: &str, target_name: &str, target: Target, desc: String) -> Result<()> {
        if !self.dry_run {
            self.require_root()?;
        }
        let fw = firewall::firewall()?;
        self.inject_once(|e| e.kind == kind && e.target == target_name, |id| {
            let (apply, undo) = network::block(&fw, target, id);
            let undo = in_this_netns(undo);
            Ok(Fault { kind: kind.into(), target: target_name.into(), desc, apply, undo })
        })
    }

    /// The undo of [`Ctx::block`] (and of any fault of `kind` on
    /// `target_name`); says so on stderr when nothing was in force.
    pub fn clear(&self, kind: &str, target_name: &str) -> Result<()> {
        let n = self.undo_where(|e| e.kind == kind && e.target == target_name)?;
        if n == 0 {
            eprintln!("{}: no {kind} fault on {target_name} is in force; nothing changed", self.tool);
        }
        Ok(())
    }

    /// `status`.
    pub fn status(&self, a: &StatusArgs) -> Result<()> {
        let entries: Vec<Entry> = journal::read_entries(&journal::dir())?
            .into_iter()
            .filter(|e| a.all || e.tool == self.tool)
            .collect();
        journal::print_entries(&entries, a.json)
    }

    /// `recover [ID] [--all]`.
    pub fn recover(&self, a: &RecoverArgs) -> Result<()> {
        if let Some(id) = a.id {
            if self.dry_run {
                let n = self.undo_where(|e| e.id == id)?;
                return if n == 0 { Err(Error::not_found(format!("no fault {id} is in force; see 'status'"))) } else { Ok(()) };
            }
            self.require_root()?;
            let mut j = self.journal()?;
            let e = j.undo(id)?;
            return out(format!("{}\tundone\t{}\t{}", e.id, e.kind, e.target));
        }
        if a.all {
            if self.dry_run {
                for e in journal::read_entries(&journal::dir()).unwrap_or_default().iter().rev() {
                    out(format!("# undo fault {} ({} {} {})", e.id, e.tool, e.kind, e.target))?;
                    for s in &e.undo {
                        out(s.describe())?;
                    }
                }
                return Ok(());
            }
            self.require_root()?;
            let mut j = self.journal()?;
            for e in j.undo_where(|_| true)? {
                out(format!("{}\tundone\t{}\t{}", e.id, e.kind, e.target))?;
            }
            return Ok(());
        }
        self.undo_where(|_| true).map(|_| ())
    }
}

fn pids(ps: &[Proc]) -> String {
    let v: Vec<String> = ps.iter().map(|p| p.pid.to_string()).collect();
    format!("pid {}", v.join(","))
}

/// A numeric or word argument checked by hand: a usage error (exit 2).
pub fn bad(msg: impl std::fmt::Display) -> Error {
    Error::usage(msg)
}
