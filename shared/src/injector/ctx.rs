//! One invocation of an injector ([`Ctx`]: its name and `--dry-run`) and
//! what every injector does through the journal: inject a fault (dry run,
//! root check, id, apply), undo faults, `list`, `crash`, `hang`, `resume`,
//! network blocks, `status` and `recover`.

use crate::error::{Error, Result};
use crate::host::firewall;
use crate::host::procs::{self, Proc};
use crate::injector::component::Component;
use crate::injector::network::{self, Target};
use crate::journal::{self, Entry, Fault, Journal};
use crate::run::{out, out_json};
use crate::undo::{in_this_netns, Step};
use clap::Args;
use serde::Serialize;

/// Options every injector has.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// Print the exact commands and changes (and how they would be undone)
    /// without doing anything; needs no root
    #[arg(long, global = true)]
    pub dry_run: bool,
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
