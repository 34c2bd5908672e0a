//! The crash-safe store of the fault journal, generic over the step type
//! ([`crate::undo::Action`]): records, lock, fsync, torn-tail repair. It
//! knows nothing of what a step does; [`super`] binds it to the host's
//! [`crate::undo::Step`].
//!
//! # Layout
//! The directory is `$KVMFI_STATE_DIR`, else `/var/lib/kvmfi/journal`
//! (mode 0700; the journal may hold a daemon's environment):
//! - `journal.jsonl`: one JSON record per line, appended and fsync'ed:
//!   `begin` (id, tool, kind, target, description, undo steps) before the
//!   change, `applied` after it, `undone` once its undo steps all ran.
//!   A torn last line (power loss, kill -9 mid-write) is ignored.
//! - `lock`: every tool holds an exclusive flock on it while it reads or
//!   changes the journal, so concurrent invocations are serialized.
//! - `seq`: the last fault id handed out (ids are never reused).
//! - `logs/`: output of daemons that `recover` started again.
//!
//! A fault is *in force* from its `begin` until its `undone` record: one
//! that began but never reported `applied` (the tool died) is in force too,
//! since the change may have happened. Undo steps are idempotent (a SIGCONT
//! goes only to the same process, a rule is deleted only if it is still
//! there), so running them for a change that never happened is harmless and
//! a second `recover` is a no-op. When nothing is in force any more the
//! journal file is emptied.

use crate::error::{Error, Result};
use crate::host::files::write_file_durably;
use crate::undo::action::{Action, Phase};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::marker::PhantomData;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Default journal directory.
pub const DEFAULT_DIR: &str = "/var/lib/kvmfi/journal";
/// Environment variable that overrides [`DEFAULT_DIR`].
pub const DIR_ENV: &str = "KVMFI_STATE_DIR";
/// TEST ONLY: when set to `1`, a tool kills itself with SIGKILL right after
/// applying a change and before recording that it did, to prove `recover`.
pub const TEST_DIE_ENV: &str = "KVMFI_TEST_DIE_AFTER_APPLY";
/// How long a tool waits for another one holding the lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

/// The journal directory in force.
pub fn dir() -> PathBuf {
    std::env::var_os(DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| DEFAULT_DIR.into())
}

/// A change to make: what it is, how to make it, how to undo it.
#[derive(Debug, Clone)]
pub struct Fault<S> {
    /// The command that made it, e.g. `hang`, `network`, `db-limit`.
    pub kind: String,
    /// What it targets, e.g. `nn`, `10.0.0.12`, `cloud@%`.
    pub target: String,
    /// One line for people.
    pub desc: String,
    pub apply: Vec<S>,
    /// Run in this order to undo.
    pub undo: Vec<S>,
}

impl<S: Action> Fault<S> {
    /// Prints what would be done, for `--dry-run`: the apply steps, then
    /// the undo steps as comments.
    pub fn print_dry_run(&self) -> Result<()> {
        crate::run::out(format!("# {} {}: {}", self.kind, self.target, self.desc))?;
        for s in &self.apply {
            crate::run::out(s.describe())?;
        }
        for s in &self.undo {
            crate::run::out(format!("# undo: {}", s.describe()))?;
        }
        Ok(())
    }
}

/// One line of the journal file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: serde::de::DeserializeOwned"))]
struct Record<S> {
    op: String,
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    desc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    undo: Option<Vec<S>>,
}

/// A fault in force, as `status` shows it (and kvmfi-experiment reads back
/// from `status --json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry<S> {
    pub id: u64,
    pub tool: String,
    pub kind: String,
    pub target: String,
    /// `applied`, or `pending` when the tool died before confirming.
    pub state: String,
    /// Unix time of the change.
    pub since: u64,
    pub desc: String,
    pub undo: Vec<S>,
}

/// Reads the faults in force from `dir`'s journal, oldest first. Needs no
/// lock: a torn or half-written last line is skipped.
pub fn read_entries<S: Action>(dir: &Path) -> Result<Vec<Entry<S>>> {
    let path = dir.join("journal.jsonl");
    let text = match fs::read(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let mut entries: Vec<Entry<S>> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: Record<S> = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(_) => {
                // A torn line is expected only last; anywhere else say so.
                if n + 1 != lines.len() {
                    eprintln!("warning: ignoring damaged line {} of {}", n + 1, path.display());
                }
                continue;
            }
        };
        match rec.op.as_str() {
            "begin" => entries.push(Entry {
                id: rec.id,
                tool: rec.tool.unwrap_or_default(),
                kind: rec.kind.unwrap_or_default(),
                target: rec.target.unwrap_or_default(),
                state: "pending".into(),
                since: rec.time.unwrap_or(0),
                desc: rec.desc.unwrap_or_default(),
                undo: rec.undo.unwrap_or_default(),
            }),
            "applied" => {
                if let Some(e) = entries.iter_mut().find(|e| e.id == rec.id) {
                    e.state = "applied".into();
                }
            }
            "undone" => entries.retain(|e| e.id != rec.id),
            _ => {}
        }
    }
    Ok(entries)
}

/// The journal opened for changes: holds the lock until dropped.
pub struct Journal<S> {
    dir: PathBuf,
    tool: String,
    file: File,
    _lock: File,
    _steps: PhantomData<S>,
}

impl<S: Action> Journal<S> {
    /// Opens (creating) the journal in [`dir()`] for `tool` and takes the
    /// lock, waiting up to [`LOCK_WAIT`] for another tool to finish.
    pub fn open(tool: &str) -> Result<Journal<S>> {
        Self::open_in(&dir(), tool)
    }

    /// Like [`Journal::open`] with an explicit directory.
    pub fn open_in(dir: &Path, tool: &str) -> Result<Journal<S>> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating journal directory {}", dir.display()), e))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join("lock"))
            .map_err(|e| Error::io(format!("opening {}/lock", dir.display()), e))?;
        let start = Instant::now();
        loop {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a file descriptor we own.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(Error::io(format!("locking {}/lock", dir.display()), err));
            }
            if start.elapsed() > LOCK_WAIT {
                return Err(Error::failed(format!(
                    "another kvmfi tool has held {}/lock for {}s; wait for it or check 'status'",
                    dir.display(),
                    LOCK_WAIT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let path = dir.join("journal.jsonl");
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        if !existed {
            sync_dir(dir)?;
        }
        // A torn last line is a record whose write never returned: a torn
        // `begin` means its steps never ran. Cut it off rather than end it
        // with a newline, which would leave a damaged line in the middle
        // that every later reader warns about.
        let data = fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let whole = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if whole != data.len() {
            file.set_len(whole as u64)
                .and_then(|_| file.sync_data())
                .map_err(|e| Error::io(format!("repairing {}", path.display()), e))?;
        }
        let mut journal = Journal { dir: dir.to_path_buf(), tool: tool.to_string(), file, _lock: lock, _steps: PhantomData };
        // Nothing in force: start from an empty file, so damage left by an
        // older version or a crash does not outlive the next change.
        if whole != 0 {
            journal.compact()?;
        }
        Ok(journal)
    }

    /// The directory of this journal.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Faults in force, oldest first (all tools).
    pub fn entries(&self) -> Result<Vec<Entry<S>>> {
        read_entries(&self.dir)
    }

    /// Hands out the next fault id (never reused, fsync'ed).
    pub fn next_id(&mut self) -> Result<u64> {
        let seq = self.dir.join("seq");
        let last: u64 = fs::read_to_string(&seq).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        let max_in_file = self.entries()?.iter().map(|e| e.id).max().unwrap_or(0);
        let id = last.max(max_in_file) + 1;
        write_file_durably(&seq, format!("{id}\n").as_bytes(), 0o600)?;
        Ok(id)
    }

    fn append(&mut self, rec: &Record<S>) -> Result<()> {
        let mut line = serde_json::to_string(rec).map_err(|e| Error::failed(format!("encoding journal record: {e}")))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(format!("writing {}/journal.jsonl", self.dir.display()), e))
    }

    fn simple(op: &str, id: u64) -> Record<S> {
        Record { op: op.into(), id, tool: None, time: None, kind: None, target: None, desc: None, undo: None }
    }

    /// Journals `fault` (fsync'ed), then applies it. If a step fails, what
    /// was done is undone and the error returned. Returns the fault id.
    /// `id` must come from [`Journal::next_id`] (the steps may carry it).
    pub fn apply(&mut self, id: u64, fault: Fault<S>) -> Result<u64> {
        crate::halt::refuse_if_halted()?;
        self.append(&Record {
            op: "begin".into(),
            id,
            tool: Some(self.tool.clone()),
            time: Some(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)),
            kind: Some(fault.kind.clone()),
            target: Some(fault.target.clone()),
            desc: Some(fault.desc.clone()),
            undo: Some(fault.undo.clone()),
        })?;
        for step in &fault.apply {
            if let Err(err) = step.execute(Phase::Apply, &self.dir) {
                return match self.run_undo(id, &fault.undo) {
                    Ok(()) => Err(err),
                    Err(undo_err) => Err(Error::failed(format!(
                        "{err}; undoing it failed too ({undo_err}): fault {id} stays in the journal, run 'recover {id}'"
                    ))),
                };
            }
        }
        if std::env::var(TEST_DIE_ENV).as_deref() == Ok("1") {
            // SAFETY: kill(2) of our own pid: the test hook dies like kill -9.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        self.append(&Self::simple("applied", id))?;
        Ok(id)
    }

    /// Runs `undo` steps (all of them, even after a failure) and records
    /// the fault as undone when every step succeeded.
    fn run_undo(&mut self, id: u64, undo: &[S]) -> Result<()> {
        let mut errors = Vec::new();
        for step in undo {
            if let Err(e) = step.execute(Phase::Undo, &self.dir) {
                errors.push(e.to_string());
            }
        }
        if !errors.is_empty() {
            return Err(Error::failed(format!("undoing fault {id}: {}", errors.join("; "))));
        }
        self.append(&Self::simple("undone", id))?;
        self.compact()
    }

    /// Undoes one fault in force by id (of any tool).
    pub fn undo(&mut self, id: u64) -> Result<Entry<S>> {
        let entry = self
            .entries()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::not_found(format!("no fault {id} is in force; see 'status'")))?;
        self.run_undo(id, &entry.undo)?;
        Ok(entry)
    }

    /// Undoes, newest first, every fault in force that `keep` selects.
    /// Goes on after a failure; returns the undone entries, or an error
    /// naming those that could not be undone.
    pub fn undo_where(&mut self, keep: impl Fn(&Entry<S>) -> bool) -> Result<Vec<Entry<S>>> {
        let mut todo: Vec<Entry<S>> = self.entries()?.into_iter().filter(|e| keep(e)).collect();
        todo.reverse();
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for e in todo {
            match self.run_undo(e.id, &e.undo) {
                Ok(()) => done.push(e),
                Err(err) => errors.push(err.to_string()),
            }
        }
        if errors.is_empty() {
            Ok(done)
        } else {
            Err(Error::failed(format!(
                "{} undone, {} still in force: {}",
                done.len(),
                errors.len(),
                errors.join("; ")
            )))
        }
    }

    /// Faults of this tool (or of every tool with `all_tools`) in force.
    pub fn mine(&self, all_tools: bool) -> Result<Vec<Entry<S>>> {
        Ok(self.entries()?.into_iter().filter(|e| all_tools || e.tool == self.tool).collect())
    }

    /// The tool this journal was opened for.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// Empties the journal file once nothing is in force.
    fn compact(&mut self) -> Result<()> {
        if self.entries()?.is_empty() {
            self.file
                .set_len(0)
                .and_then(|_| self.file.sync_all())
                .map_err(|e| Error::io("emptying the journal", e))?;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}

/// Prints entries for `status`: tab-separated `id tool kind target state
/// since desc`, or one JSON object per line.
pub fn print_entries<S: Serialize>(entries: &[Entry<S>], json: bool) -> Result<()> {
    for e in entries {
        if json {
            crate::run::out_json(e)?;
        } else {
            crate::run::out(format!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                e.id,
                e.tool,
                e.kind,
                e.target,
                e.state,
                e.since,
                e.desc.replace(['\t', '\n'], " ")
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempPath;
    use crate::undo::Step;

    fn file_fault(path: &Path) -> Fault<Step> {
        Fault {
            kind: "write".into(),
            target: path.display().to_string(),
            desc: "test".into(),
            apply: vec![Step::WriteFile { path: path.display().to_string(), content: Some("ERROR\n".into()) }],
            undo: vec![Step::WriteFile { path: path.display().to_string(), content: None }],
        }
    }

    #[test]
    fn apply_undo_compact() {
        let d = TempPath::dir("journal-test-a");
        let marker = d.join("marker");
        let mut j: Journal<Step> = Journal::open_in(&d, "t").unwrap();
        let id = j.next_id().unwrap();
        j.apply(id, file_fault(&marker)).unwrap();
        assert_eq!(fs::read_to_string(&marker).unwrap(), "ERROR\n");
        let e = j.entries().unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].state, "applied");
        assert_eq!(j.undo_where(|_| true).unwrap().len(), 1);
        assert!(!marker.exists());
        assert!(j.entries().unwrap().is_empty());
        assert_eq!(fs::metadata(d.join("journal.jsonl")).unwrap().len(), 0);
        // A second recover is a no-op; ids are never reused.
        assert!(j.undo_where(|_| true).unwrap().is_empty());
        assert_eq!(j.next_id().unwrap(), id + 1);
    }

    #[test]
    fn torn_line_and_pending() {
        let d = TempPath::dir("journal-test-b");
        let marker = d.join("m");
        let undo = serde_json::to_string(&vec![Step::WriteFile { path: marker.display().to_string(), content: None }]).unwrap();
        fs::write(
            d.join("journal.jsonl"),
            format!("{{\"op\":\"begin\",\"id\":4,\"tool\":\"t\",\"kind\":\"k\",\"undo\":{undo}}}\n{{\"op\":\"app"),
        )
        .unwrap();
        fs::write(&marker, "x").unwrap();
        let mut j: Journal<Step> = Journal::open_in(&d, "t").unwrap();
        let e = j.entries().unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].state, "pending");
        // The next record must not be glued onto the torn line.
        let id = j.next_id().unwrap();
        assert_eq!(id, 5);
        j.apply(id, file_fault(&d.join("n"))).unwrap();
        assert_eq!(j.entries().unwrap().len(), 2);
        let undone = j.undo_where(|_| true).unwrap();
        assert_eq!(undone.iter().map(|e| e.id).collect::<Vec<_>>(), vec![5, 4]);
        assert!(!marker.exists());
    }

    /// CI seed 251995913: a torn line in an empty journal, "repaired" with a
    /// newline, then torn again, left a damaged first line that made every
    /// later `recover` warn. The torn tail is cut off and an idle journal
    /// emptied, so a second recover stays silent.
    #[test]
    fn torn_tail_is_cut_not_kept() {
        let d = TempPath::dir("journal-test-d");
        let path = d.join("journal.jsonl");
        fs::write(&path, "{\"op\":\"beg").unwrap();
        drop(Journal::<Step>::open_in(&d, "t").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        fs::write(&path, "{\"op\":\"beg\n{\"op\"").unwrap();
        drop(Journal::<Step>::open_in(&d, "t").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn failed_apply_rolls_back() {
        let d = TempPath::dir("journal-test-c");
        let marker = d.join("m2");
        let mut j: Journal<Step> = Journal::open_in(&d, "t").unwrap();
        let id = j.next_id().unwrap();
        let mut f = file_fault(&marker);
        f.apply.push(Step::Run { argv: vec!["/bin/false".into()], stdin: None });
        assert!(j.apply(id, f).is_err());
        assert!(!marker.exists());
        assert!(j.entries().unwrap().is_empty());
    }
}
