//! `node-local boot-recover`: what the kvmfi-recover systemd unit runs at
//! boot. Kernel faults and firewall rules die with a reboot, but some
//! user-space faults persist (a MariaDB account's MAX_USER_CONNECTIONS, the
//! NodeManager health marker, fill files); their journal entries survive in
//! /var/lib/kvmfi/journal. This runs `recover --all` of every installed
//! injector, after waiting (bounded) for the database that a step's undo
//! talks to, retries while something is left and time remains, and logs
//! every fault it found and what was undone.

use kvmfi::exec;
use kvmfi::journal::{self, Entry, Step};
use kvmfi::Result;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The injectors whose recover undoes journal entries, with the words that
/// undo everything they can.
pub const INJECTORS: &[(&str, &[&str])] = &[
    ("hadoop_injector", &["recover", "--all"]),
    ("cloudstack_injector", &["recover", "--all"]),
    ("disk-fi", &["recover", "--all"]),
    ("kfail-fi", &["recover"]),
];

/// Pause between two rounds while something is left.
const RETRY: Duration = Duration::from_secs(2);

fn log(msg: impl std::fmt::Display) {
    println!("kvmfi-recover: {msg}");
}

/// An injector: next to this program first (an install puts them side by
/// side), else on PATH.
fn find(name: &str) -> Option<PathBuf> {
    let here = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join(name)));
    here.filter(|p| p.is_file()).or_else(|| kvmfi::exec::which(name, &[]))
}

/// The steps of an entry's undo, nested ones included.
fn flat(steps: &[Step], out: &mut Vec<Step>) {
    for s in steps {
        match s {
            Step::InNetns { steps, .. } | Step::InMountNs { steps, .. } => flat(steps, out),
            s => out.push(s.clone()),
        }
    }
}

/// For an undo step that runs a SQL statement with the mariadb/mysql
/// client (`CLIENT ... -e SQL`), the same client line running `SELECT 1`:
/// it answers once the database does.
fn db_probe(step: &Step) -> Option<Vec<String>> {
    let argv = match step {
        Step::Run { argv, .. } => argv,
        Step::RunIf { argv, .. } => argv,
        _ => return None,
    };
    let prog = argv.first()?.rsplit('/').next()?;
    if !matches!(prog, "mysql" | "mariadb") || argv.len() < 3 || argv[argv.len() - 2] != "-e" {
        return None;
    }
    let mut probe = argv.clone();
    *probe.last_mut()? = "SELECT 1".into();
    Some(probe)
}

fn describe(e: &Entry) -> String {
    format!("fault {} ({} {} {}: {})", e.id, e.tool, e.kind, e.target, e.desc)
}

/// Waits until every database the undo steps need answers, or `deadline`.
fn wait_for_databases(entries: &[Entry], deadline: Instant) {
    let mut probes: Vec<(Vec<String>, u64)> = Vec::new();
    for e in entries {
        let mut steps = Vec::new();
        flat(&e.undo, &mut steps);
        for p in steps.iter().filter_map(db_probe) {
            if !probes.iter().any(|(q, _)| *q == p) {
                probes.push((p, e.id));
            }
        }
    }
    for (probe, id) in probes {
        let shown = exec::display_argv(&probe);
        let start = Instant::now();
        let mut said = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let out = exec::run(&probe, None, left.clamp(Duration::from_secs(1), Duration::from_secs(15)));
            match out {
                Ok(o) if o.ok() => {
                    if said {
                        log(format!("the database answers after {:.1} s", start.elapsed().as_secs_f64()));
                    }
                    break;
                }
                _ if Instant::now() >= deadline => {
                    log(format!("the database of fault {id} did not answer in time ({shown}); trying anyway"));
                    break;
                }
                _ => {
                    if !said {
                        log(format!("fault {id} needs the database: waiting for it to answer ({shown})"));
                        said = true;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }
}

/// Runs the boot recovery; an error when faults are still in force after `wait`.
pub fn run(wait: Duration) -> Result<()> {
    let dir = journal::dir();
    let deadline = Instant::now() + wait;
    let entries = journal::read_entries(&dir)?;
    if entries.is_empty() {
        log(format!("no fault in the journal ({}); nothing to undo", dir.display()));
        return Ok(());
    }
    log(format!("{} fault(s) left in force in {} by the last boot:", entries.len(), dir.display()));
    for e in &entries {
        log(format!("  {}", describe(e)));
    }
    wait_for_databases(&entries, deadline);
    let installed: Vec<(PathBuf, &[&str])> = INJECTORS.iter().filter_map(|(n, w)| find(n).map(|p| (p, *w))).collect();
    if installed.is_empty() {
        return Err(kvmfi::Error::unsupported(format!(
            "none of {} is installed here (next to this program or on PATH); install kvmfi",
            INJECTORS.iter().map(|i| i.0).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut round = 1;
    loop {
        for (prog, words) in &installed {
            let mut argv = vec![prog.display().to_string()];
            argv.extend(words.iter().map(|w| w.to_string()));
            match exec::run(&argv, None, journal::LOCK_WAIT + journal::STEP_TIMEOUT * 4) {
                Ok(o) => {
                    for l in o.stdout.lines().filter(|l| !l.trim().is_empty()) {
                        log(format!("{}: {l}", exec::display_argv(&argv)));
                    }
                    if !o.ok() {
                        log(format!("{}: {}", exec::display_argv(&argv), o.first_error_line()));
                    }
                }
                Err(e) => log(format!("{}: {e}", exec::display_argv(&argv))),
            }
        }
        let left = journal::read_entries(&dir)?;
        if left.is_empty() {
            log(format!("every fault undone ({} in {round} round(s)); the journal is empty", entries.len()));
            return Ok(());
        }
        if Instant::now() + RETRY >= deadline {
            let list: Vec<String> = left.iter().map(describe).collect();
            return Err(kvmfi::Error::failed(format!(
                "{} fault(s) still in force after {} s: {}; see 'hadoop_injector status --all' and undo them by hand",
                left.len(),
                wait.as_secs(),
                list.join("; ")
            )));
        }
        log(format!("{} fault(s) left after round {round}; trying again in {} s", left.len(), RETRY.as_secs()));
        std::thread::sleep(RETRY);
        round += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_only_sql_clients() {
        let run = |a: &[&str]| Step::Run { argv: a.iter().map(|s| s.to_string()).collect(), stdin: None };
        let p = db_probe(&run(&["/usr/bin/mariadb", "--socket=/s", "-e", "ALTER USER x"])).unwrap();
        assert_eq!(p, ["/usr/bin/mariadb", "--socket=/s", "-e", "SELECT 1"]);
        assert!(db_probe(&run(&["mysql", "-e"])).is_none());
        assert!(db_probe(&run(&["nft", "-e", "x"])).is_none());
        let nested = Step::InNetns { inode: 1, name: None, steps: vec![run(&["mysql", "-h", "db", "-e", "SET x"])] };
        let mut v = Vec::new();
        flat(&[nested], &mut v);
        assert!(db_probe(&v[0]).is_some());
    }
}
