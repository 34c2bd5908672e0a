//! kvmfi-experiment's own journal: every fault a run is about to apply is
//! written here (fsync'ed) BEFORE the tool is run, so that after a kill -9
//! `kvmfi-experiment recover` knows what to undo through the tools' own
//! `off` and `recover`. Each run holds an flock on `run-ID.lock` for its
//! life: a run whose lock is free is dead, and recover may undo its faults.
//!
//! Directory: `$KVMFI_EXPERIMENT_DIR`, else `/var/lib/kvmfi/experiment`.

use crate::remote::NodeRef;
use crate::tools::{self, ToolClass};
use kvmfi::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default directory.
pub const DEFAULT_DIR: &str = "/var/lib/kvmfi/experiment";

/// The journal directory in force.
pub fn dir() -> PathBuf {
    std::env::var_os("KVMFI_EXPERIMENT_DIR").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| DEFAULT_DIR.into())
}

/// One line of the journal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    /// `begin`, `applied`, `undone`.
    pub op: String,
    pub run: String,
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<ToolClass>,
    /// Injectors: the highest fault id in force before the step; faults of
    /// the tool above it were made by the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<u64>,
    /// Kernel tools: the experiment id `arm` printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// Injectors: the fault ids the step journaled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<u64>,
    /// `begin` of a fault on another node: the node and how to reach it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeRef>,
    pub time_ms: u64,
}

impl Record {
    /// Written before the tool runs: what recover needs to undo the step.
    pub fn begin(p: &Pending) -> Record {
        Record {
            tool: Some(p.tool.clone()),
            class: Some(p.class),
            above: Some(p.above),
            node: p.node.clone(),
            ..Record::stamped("begin", &p.run, &p.step)
        }
    }

    /// Written once the tool succeeded: what it made.
    pub fn applied(p: &Pending) -> Record {
        Record {
            experiment: p.experiment.clone(),
            faults: p.faults.clone(),
            ..Record::stamped("applied", &p.run, &p.step)
        }
    }

    /// The record that says step `step` of run `run` is undone.
    pub fn undone(run: &str, step: &str) -> Record {
        Record::stamped("undone", run, step)
    }

    /// A record of `op` for one step, stamped now, with none of the
    /// fields that only some ops carry.
    fn stamped(op: &str, run: &str, step: &str) -> Record {
        Record { op: op.into(), run: run.into(), step: step.into(), time_ms: tools::now_ms(), ..Record::default() }
    }
}

/// A step that may still be in force.
#[derive(Debug, Clone)]
pub struct Pending {
    pub run: String,
    pub step: String,
    pub tool: String,
    pub class: ToolClass,
    pub above: u64,
    pub experiment: Option<String>,
    pub faults: Vec<u64>,
    /// None: this host.
    pub node: Option<NodeRef>,
    /// False while only `begin` is journaled: the tool may not have
    /// finished (or even started).
    pub applied: bool,
}

fn flock(f: &File, how: i32) -> bool {
    // SAFETY: flock on a file descriptor we own.
    unsafe { libc::flock(f.as_raw_fd(), how) == 0 }
}

/// The journal, opened by a run or by recover.
pub struct EJournal {
    dir: PathBuf,
}

impl EJournal {
    /// Opens (creating) the journal directory.
    pub fn open() -> Result<EJournal> {
        let dir = dir();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(EJournal { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Holds the journal's lock while `f` runs.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join("lock"))
            .map_err(|e| Error::io(format!("opening {}/lock", self.dir.display()), e))?;
        if !flock(&lock, libc::LOCK_EX) {
            return Err(Error::io("locking the experiment journal", std::io::Error::last_os_error()));
        }
        f()
    }

    /// Appends one record, fsync'ed.
    pub fn append(&self, rec: &Record) -> Result<()> {
        let path = self.dir.join("journal.jsonl");
        self.locked(|| {
            let mut line = serde_json::to_string(rec).map_err(|e| Error::failed(format!("encoding a journal record: {e}")))?;
            line.push('\n');
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            f.write_all(line.as_bytes())
                .and_then(|_| f.sync_data())
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))
        })
    }

    /// The steps begun and not undone, oldest first. A torn last line (a
    /// kill -9 mid-write) is skipped: its step never ran.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        let path = self.dir.join("journal.jsonl");
        let text = match fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let mut out: Vec<Pending> = Vec::new();
        for rec in text.lines().filter_map(|l| serde_json::from_str::<Record>(l).ok()) {
            let same = |p: &Pending| p.run == rec.run && p.step == rec.step;
            match rec.op.as_str() {
                "begin" => out.push(Pending {
                    run: rec.run.clone(),
                    step: rec.step.clone(),
                    tool: rec.tool.clone().unwrap_or_default(),
                    class: rec.class.unwrap_or(ToolClass::Module),
                    above: rec.above.unwrap_or(0),
                    experiment: None,
                    faults: Vec::new(),
                    node: rec.node.clone(),
                    applied: false,
                }),
                "applied" => {
                    if let Some(p) = out.iter_mut().find(|p| same(p)) {
                        p.experiment = rec.experiment.clone();
                        p.faults = rec.faults.clone();
                        p.applied = true;
                    }
                }
                "undone" => out.retain(|p| !same(p)),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Empties the journal file when nothing is in force any more.
    pub fn compact(&self) -> Result<()> {
        let path = self.dir.join("journal.jsonl");
        self.locked(|| {
            if self.pending()?.is_empty() && path.exists() {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
                f.set_len(0).and_then(|_| f.sync_all()).map_err(|e| Error::io(format!("emptying {}", path.display()), e))?;
            }
            Ok(())
        })
    }

    /// Takes the lock that says run `run` is alive; held until dropped.
    pub fn hold_run(&self, run: &str) -> Result<File> {
        let path = self.run_lock(run);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        if !flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
            return Err(Error::failed(format!("run {run} is already running")));
        }
        Ok(f)
    }

    fn run_lock(&self, run: &str) -> PathBuf {
        self.dir.join(format!("run-{run}.lock"))
    }

    /// True while the process of run `run` is alive (holds its lock).
    pub fn run_alive(&self, run: &str) -> bool {
        let Ok(f) = File::open(self.run_lock(run)) else {
            return false;
        };
        if flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
            let _ = flock(&f, libc::LOCK_UN);
            false
        } else {
            true
        }
    }

    /// Removes a finished run's lock file.
    pub fn forget_run(&self, run: &str) {
        let _ = fs::remove_file(self.run_lock(run));
    }
}

/// Time limit for an undo command.
pub const UNDO_TIMEOUT: Duration = Duration::from_secs(120);

/// Undoes one step through its tool's own command line, here or on its
/// node; idempotent. Kernel tools: `off`, unless the module now holds
/// another experiment than ours. Injectors: `recover ID` for each of its
/// faults still in force.
pub fn undo(p: &Pending) -> Result<Vec<String>> {
    let mut did = Vec::new();
    let node = p.node.as_ref();
    let at = node.map(|n| format!(" on {}", n.name)).unwrap_or_default();
    match p.class {
        ToolClass::Module => {
            let st = tools::module_status(node, &p.tool)?;
            let ours = match (&st.experiment, &p.experiment) {
                (Some(now), Some(mine)) => now == mine,
                // Not known whether our arm happened: an armed module is
                // ours (an arm over someone else's fault is refused).
                _ => true,
            };
            if st.state == "armed" && ours {
                let out = tools::run(node, &p.tool, &["off".into()], UNDO_TIMEOUT)?;
                if !out.ok() {
                    return Err(Error::failed(out.why()));
                }
                did.push(format!("{} off{at}", p.tool));
            }
        }
        ToolClass::Injector => {
            let entries = tools::journal_entries(node, &p.tool)?;
            let mine: Vec<u64> = entries
                .iter()
                .map(|e| e.id)
                .filter(|id| if p.faults.is_empty() { *id > p.above } else { p.faults.contains(id) })
                .collect();
            for id in mine.iter().rev() {
                let out = tools::run(node, &p.tool, &["recover".into(), id.to_string()], UNDO_TIMEOUT)?;
                // 5: undone meanwhile by someone else (kvmfi-halt, recover --all).
                if !out.ok() && out.code() != Some(5) {
                    return Err(Error::failed(out.why()));
                }
                did.push(format!("{} recover {id}{at}", p.tool));
            }
        }
    }
    Ok(did)
}
