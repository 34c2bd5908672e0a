//! kvmfi-experiment: runs an experiment declared in a TOML file: the
//! steady-state probes before, during and after, the method's faults
//! through each kvmfi tool's own command line, an abort when a probe leaves
//! its tolerance, a rollback that always happens, and one report.

pub mod ejournal;
pub mod probe;
pub mod remote;
pub mod report;
pub mod runner;
pub mod schema;
pub mod spec;
pub mod tools;

use clap::{Parser, Subcommand};
use kvmfi::error::{Error, Result};
use kvmfi::run::out;
use spec::{fmt_duration, Experiment, Step};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
EXIT STATUS: 0 the steady-state hypothesis held; 1 it did not (deviated: a probe was out of tolerance before, during or after the method), or a run-time failure; 2 usage error or a bad experiment file (nothing was done); 3 needs root; 4 a tool or host facility is missing; 5 a target was not found (a node of the file could not be reached or its host key was refused: nothing was done); 6 kvmfi is halted (kvmfi-halt --release); 130 interrupted by SIGINT or SIGTERM (after the rollback).

FILES: /var/lib/kvmfi/experiment/journal.jsonl, the run's own journal ($KVMFI_EXPERIMENT_DIR overrides the directory): each fault is written there before it is applied (with its node and the SSH settings that reach it, for a fault on another node), and `recover` reads it. The schema of experiment files is in kvmfi-experiment.toml(5). The tools are looked for in $KVMFI_BIN_DIR, next to this binary, then in PATH.

NODES: faults and probes may go to nodes of cluster.conf (see kvmfi-experiment.toml(5)); they run there over SSH with cluster_controller's session code, host keys checked by default (the SSH options of `run`). `recover` reaches them again from the journal alone.

ROLLBACK: every fault is undone through its tool's own command: `off` for the kernel tools (whose lease, the step's duration plus 10 s, ends the fault even when nothing else does), `recover ID` for each fault an injector journaled. After a kill -9 of a run, `kvmfi-experiment recover` undoes what the journal says was begun and not undone; a new run refuses to start while such faults may be in force.

SCHEDULING: no daemon: use cron or a systemd timer. /etc/systemd/system/kvmfi-hdfs-experiment.service:
    [Unit]
    Description=kvmfi experiment: HDFS survives a DataNode crash
    [Service]
    Type=oneshot
    ExecStart=/usr/bin/kvmfi-experiment run --report /var/log/kvmfi/%n /etc/kvmfi/experiments/hdfs.toml
    ExecStopPost=/usr/bin/kvmfi-experiment recover
/etc/systemd/system/kvmfi-hdfs-experiment.timer:
    [Unit]
    Description=Run the HDFS experiment every night
    [Timer]
    OnCalendar=*-*-* 03:00:00
    RandomizedDelaySec=15m
    Persistent=true
    [Install]
    WantedBy=timers.target
then `systemctl enable --now kvmfi-hdfs-experiment.timer`. systemd stops a run with SIGTERM: the run rolls back before it exits; ExecStopPost covers a run that was killed.

EXAMPLES:
    kvmfi-experiment validate examples/experiments/hdfs-datanode-crash.toml
    kvmfi-experiment plan examples/experiments/hdfs-datanode-crash.toml
    kvmfi-experiment run --report /tmp/r examples/experiments/hdfs-datanode-crash.toml; echo $?
    kvmfi-experiment recover";

/// Run a declared chaos experiment: steady-state probes, faults of any kvmfi tool, abort, rollback and one report
///
/// An experiment file (TOML, see kvmfi-experiment.toml(5)) declares a steady-state hypothesis (probes with tolerances: a command, HTTP, TCP, HDFS live DataNodes, a MariaDB query, QEMU status over QMP) and a method (faults of the kvmfi kernel tools and user-space injectors with their scope and duration, waits and probes, in sequence or in parallel groups).
///
/// `run` checks the hypothesis, runs the method while the probes run every interval, stops the method as soon as a probe is out of tolerance (or on SIGINT/SIGTERM), rolls every fault back, checks the hypothesis again and writes a report: report.json (the full record), junit.xml (one test case per probe and phase) and report.html (a timeline of faults, kernel events, journal records and probe results).
#[derive(Parser, Debug)]
#[command(name = "kvmfi-experiment", version, after_long_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the experiment: hypothesis before, method, rollback, hypothesis after; writes the report
    Run {
        /// The experiment file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Directory for report.json, junit.xml and report.html (default: ./kvmfi-report-RUN)
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        #[command(flatten)]
        ssh: remote::SshArgs,
    },
    /// Check the file (schema, tools, durations, probes, nodes and roles); nothing is done
    Validate {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print what `run` would do, in order, with the exact commands; nothing is done
    Plan {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Undo every fault of runs that were killed (kill -9, power loss), from the run journal
    Recover {
        /// Also the faults of a run that is still alive
        #[arg(long)]
        force: bool,
    },
}

/// The clap definition (for man pages and completions).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Parses `args` and runs the subcommand.
pub fn run(args: impl kvmfi::cliparse::Argv) -> Result<()> {
    let Some(cli) = kvmfi::cliparse::parse_plain::<Cli>(args)? else { return Ok(()) };
    match cli.cmd {
        Cmd::Validate { file } => {
            let exp = spec::load(&file)?;
            out(format!(
                "{}: valid: {} probe(s), {} fault(s), interval {}",
                file.display(),
                exp.probes.len(),
                exp.faults().len(),
                fmt_duration(exp.interval)
            ))
        }
        Cmd::Plan { file } => {
            let exp = spec::load(&file)?;
            plan_lines(&exp).iter().try_for_each(out)
        }
        Cmd::Run { file, report, ssh } => {
            let exp = spec::load(&file)?;
            kvmfi::error::require_root("kvmfi-experiment run")?;
            kvmfi::halt::refuse_if_halted()?;
            let nodes = reach_nodes(&exp, &ssh)?;
            let run_id = run_id();
            let dir = report.unwrap_or_else(|| PathBuf::from(format!("kvmfi-report-{run_id}")));
            runner::install_signal_handlers();
            eprintln!("kvmfi-experiment: run {run_id}: {}", exp.title);
            let r = runner::run(&exp, &runner::RunOpts { run_id, nodes })?;
            report::write_all(&r, &dir)?;
            out(format!("{}: {} (report in {})", r.title, r.verdict, dir.display()))?;
            match r.verdict.as_str() {
                "held" => Ok(()),
                "deviated" => std::process::exit(1),
                "interrupted" => std::process::exit(130),
                _ => Err(tools::exit_error(
                    r.error_code.map(i32::from),
                    r.error.clone().or_else(|| r.rollback_errors.first().cloned()).unwrap_or_else(|| "the run failed".into()),
                )),
            }
        }
        Cmd::Recover { force } => recover(force),
    }
}

/// The nodes the experiment names, each logged into once (host key
/// checked) before anything is done: a node that cannot be reached stops
/// the run before the first probe.
fn reach_nodes(exp: &Experiment, ssh: &remote::SshArgs) -> Result<std::collections::BTreeMap<String, remote::NodeRef>> {
    let mut map = std::collections::BTreeMap::new();
    let Some(cl) = &exp.cluster else {
        return Ok(map);
    };
    let used = exp.used_nodes();
    if used.is_empty() {
        return Ok(map);
    }
    let settings = ssh.settings(cl.known_hosts.clone());
    if settings.insecure_ignore_host_keys {
        eprintln!("kvmfi-experiment: warning: --insecure-ignore-host-keys: host keys are not checked; anyone answering on a node's address receives its commands");
    }
    let refs: Vec<remote::NodeRef> =
        cl.nodes.iter().filter(|n| used.contains(&n.name)).map(|n| remote::NodeRef::new(n, &settings)).collect();
    let checks: Vec<Result<()>> = std::thread::scope(|s| {
        let hs: Vec<_> = refs
            .iter()
            .map(|n| {
                s.spawn(move || {
                    let out = n.run_line("true", settings.connect_timeout + std::time::Duration::from_secs(10))?;
                    if out.ok() {
                        Ok(())
                    } else {
                        Err(Error::failed(format!("node {}: `true` failed: {}", n.name, out.first_error_line())))
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::failed("a node check panicked")))).collect()
    });
    let errors: Vec<String> = checks.into_iter().filter_map(|c| c.err().map(|e| e.to_string())).collect();
    if !errors.is_empty() {
        return Err(Error::not_found(format!("{}; nothing was done", errors.join("; "))));
    }
    for n in refs {
        map.insert(n.name.clone(), n);
    }
    Ok(map)
}

/// A run id: UTC date and time, then the pid (sorts by time, unique per host).
fn run_id() -> String {
    let ms = tools::now_ms();
    let secs = ms / 1000;
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}-{}", rem / 3600, rem % 3600 / 60, rem % 60, std::process::id())
}

/// What `run` would do, in order, one line each.
pub fn plan_lines(exp: &Experiment) -> Vec<String> {
    let mut v = vec![format!("experiment: {}", exp.title)];
    v.push(match &exp.target {
        spec::Target::Local => "target: this host".into(),
        spec::Target::Nodes(n) => format!("target: nodes {}", n.join(", ")),
    });
    v.push("1. steady state before (all must hold, else nothing is injected):".into());
    for &i in &exp.steady {
        v.push(format!("     probe {}: {}", exp.probes[i].name, exp.probes[i].describe()));
    }
    v.push(format!(
        "2. method (the steady-state probes run every {}; the first out of tolerance aborts):",
        fmt_duration(exp.interval)
    ));
    fn walk(exp: &Experiment, steps: &[Step], depth: usize, v: &mut Vec<String>) {
        let pad = "     ".to_string() + &"  ".repeat(depth);
        for s in steps {
            match s {
                Step::Fault(f) => v.push(format!(
                    "{pad}{}: {} for {} (line {}): {}{}",
                    f.id,
                    f.name,
                    fmt_duration(f.duration),
                    f.line,
                    f.describe(),
                    on_nodes(&f.nodes)
                )),
                Step::Wait(d) => v.push(format!("{pad}wait {}", fmt_duration(*d))),
                Step::Probe(i) => v.push(format!("{pad}probe {}: {}", exp.probes[*i].name, exp.probes[*i].describe())),
                Step::Parallel(c) => {
                    v.push(format!("{pad}in parallel:"));
                    walk(exp, c, depth + 1, v);
                }
                Step::Sequence(c) => {
                    v.push(format!("{pad}in sequence:"));
                    walk(exp, c, depth + 1, v);
                }
            }
        }
    }
    walk(exp, &exp.method, 0, &mut v);
    v.push("3. rollback (always, newest first):".into());
    for f in exp.faults().iter().rev() {
        let how = match f.class {
            tools::ToolClass::Module => format!("{} off (lease {} as backstop)", f.tool, spec::lease_text(f.duration)),
            tools::ToolClass::Injector if tools::leased(&f.tool) => {
                format!("{} recover ID  # each fault it journaled (lease {} as backstop)", f.tool, spec::lease_text(f.duration))
            }
            tools::ToolClass::Injector => {
                format!("{} recover ID  # each fault it journaled", f.tool)
            }
        };
        v.push(format!("     {}: {how}{}", f.id, on_nodes(&f.nodes)));
    }
    v.push(format!(
        "4. steady state after{}:",
        if exp.settle.is_zero() {
            String::new()
        } else {
            format!(" (each probe retried for up to {})", fmt_duration(exp.settle))
        }
    ));
    for &i in &exp.steady {
        v.push(format!("     probe {}", exp.probes[i].name));
    }
    v
}

/// `  [on node a, b]` for faults that go to other nodes.
fn on_nodes(nodes: &[String]) -> String {
    match nodes.len() {
        0 => String::new(),
        1 => format!("  [on node {}]", nodes[0]),
        _ => format!("  [on each of nodes {}]", nodes.join(", ")),
    }
}

/// Waits until no kvmfi tool runs any more (up to `limit`): the last
/// injection of a killed run may still be in flight, and its fault must be
/// journaled before we look. Helpers that hold a fault (their argv carries
/// `--kvmfi-tag=`) and `events --follow` readers do not count.
fn wait_for_tools_in_flight(limit: std::time::Duration) {
    let me = std::process::id().to_string();
    let busy = || {
        std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|e| {
            let pid = e.file_name().to_string_lossy().into_owned();
            if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
                return false;
            };
            let argv: Vec<String> = cmd.split(|b| *b == 0).map(|w| String::from_utf8_lossy(w).into_owned()).collect();
            let name = argv.first().and_then(|a| a.rsplit('/').next().map(String::from)).unwrap_or_default();
            tools::names().contains(&name.as_str()) && !argv.iter().any(|a| a.starts_with("--kvmfi-tag=") || a == "--follow")
        })
    };
    let end = std::time::Instant::now() + limit;
    while busy() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Undoes the faults of dead runs (of every run with --force).
fn recover(force: bool) -> Result<()> {
    kvmfi::error::require_root("kvmfi-experiment recover")?;
    let j = ejournal::EJournal::open()?;
    let pending = j.pending()?;
    if !pending.is_empty() {
        wait_for_tools_in_flight(std::time::Duration::from_secs(60));
    }
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    for p in pending.iter().rev() {
        if !force && j.run_alive(&p.run) {
            if !skipped.contains(&p.run) {
                skipped.push(p.run.clone());
            }
            continue;
        }
        // A remote injection cut off by the kill -9 may still be under
        // way on its node: let it finish (and journal) first.
        if let (Some(n), false) = (&p.node, p.applied) {
            if let Err(e) = n.wait_for_tools(&tools::names(), std::time::Duration::from_secs(60)) {
                failed.push(format!("run {} step {} ({}): {e}", p.run, p.step, p.tool));
                continue;
            }
        }
        match ejournal::undo(p) {
            Ok(did) => {
                j.append(&ejournal::Record::undone(&p.run, &p.step))?;
                out(format!(
                    "run {} step {} ({}): {}",
                    p.run,
                    p.step,
                    p.tool,
                    if did.is_empty() { "nothing left in force".to_string() } else { did.join("; ") }
                ))?;
            }
            Err(e) => failed.push(format!("run {} step {} ({}): {e}", p.run, p.step, p.tool)),
        }
    }
    for r in &skipped {
        eprintln!("kvmfi-experiment: run {r} is still running; it rolls back by itself (or stop it, or use --force)");
    }
    if failed.is_empty() {
        j.compact()?;
        Ok(())
    } else {
        Err(Error::failed(format!("could not undo: {}; run recover again", failed.join("; "))))
    }
}
