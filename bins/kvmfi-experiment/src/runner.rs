//! One run: steady state before, the method with probes watching, rollback
//! (always), steady state after, and the record of all of it.

use crate::ejournal::{self, EJournal, Pending, Record};
use crate::probe::{self, ProbeResult};
use crate::remote::NodeRef;
use crate::report::{Abort, FaultRecord, PhaseSpan, Report};
use crate::spec::{Experiment, FaultStep, Step};
use crate::tools::{self, ToolClass};
use kvmfi::error::{Error, Result};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The signal that asked us to stop (SIGINT, SIGTERM), 0 for none.
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// SIGINT and SIGTERM stop the method and start the rollback; they never
/// kill the run outright.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores into an atomic (async-signal-safe).
        unsafe { libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
}

/// Options of `run`.
pub struct RunOpts {
    pub run_id: String,
    /// The nodes the experiment names, by name, and how to reach them.
    pub nodes: BTreeMap<String, NodeRef>,
}

/// The shared state of a run, seen by every step thread.
struct Ctx<'a> {
    exp: &'a Experiment,
    nodes: &'a BTreeMap<String, NodeRef>,
    run: String,
    journal: EJournal,
    abort: AtomicBool,
    abort_info: Mutex<Option<Abort>>,
    probes: Mutex<Vec<ProbeResult>>,
    faults: Mutex<Vec<FaultRecord>>,
    /// Steps applied and not yet undone.
    in_force: Mutex<Vec<Pending>>,
    /// A fault that could not be applied (tool error): the run's error.
    error: Mutex<Option<Error>>,
    /// Held while a fault is applied: parallel steps of one injector must
    /// not see each other's new journal entries as their own.
    applying: Mutex<()>,
}

impl Ctx<'_> {
    fn stop(&self, reason: String, probe: Option<String>) {
        let mut a = self.abort_info.lock().unwrap();
        if a.is_none() {
            eprintln!("kvmfi-experiment: abort: {reason}");
            *a = Some(Abort { at_ms: tools::now_ms(), reason, probe });
        }
        self.abort.store(true, Ordering::SeqCst);
    }

    fn stopped(&self) -> bool {
        if self.abort.load(Ordering::SeqCst) {
            return true;
        }
        let sig = SIGNALLED.load(Ordering::SeqCst);
        if sig != 0 {
            self.stop(format!("interrupted by signal {sig} ({})", signal_name(sig)), None);
            return true;
        }
        false
    }

    /// Sleeps `d`, waking within 50 ms of an abort; false when aborted.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stopped() {
                return false;
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
        }
        !self.stopped()
    }

    /// Runs probe `i` once, on its node if it names one.
    fn probe(&self, i: usize, phase: &str) -> ProbeResult {
        let p = &self.exp.probes[i];
        probe::run(p, phase, p.node.as_ref().and_then(|n| self.nodes.get(n)))
    }

    fn record_probe(&self, r: ProbeResult) -> bool {
        let ok = r.ok;
        eprintln!("kvmfi-experiment: probe {} ({}): {} — {}", r.probe, r.phase, if ok { "ok" } else { "FAILED" }, r.detail);
        self.probes.lock().unwrap().push(r);
        ok
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// Runs the experiment; returns the report (the verdict in it).
pub fn run(exp: &Experiment, opts: &RunOpts) -> Result<Report> {
    let journal = EJournal::open()?;
    let stale: Vec<Pending> = journal.pending()?.into_iter().filter(|p| !journal.run_alive(&p.run)).collect();
    if !stale.is_empty() {
        return Err(Error::failed(format!(
            "faults of an earlier run that was killed may still be in force (run {}): run `kvmfi-experiment recover` first",
            stale[0].run
        )));
    }
    let _alive = journal.hold_run(&opts.run_id)?;
    let ctx = Ctx {
        exp,
        nodes: &opts.nodes,
        run: opts.run_id.clone(),
        journal,
        abort: AtomicBool::new(false),
        abort_info: Mutex::new(None),
        probes: Mutex::new(Vec::new()),
        faults: Mutex::new(Vec::new()),
        in_force: Mutex::new(Vec::new()),
        error: Mutex::new(None),
        applying: Mutex::new(()),
    };
    let mut phases = Vec::new();
    let started = tools::now_ms();

    // Before: the hypothesis must hold, or nothing is injected.
    let t = tools::now_ms();
    let mut held_before = true;
    for &i in &exp.steady {
        held_before &= ctx.record_probe(ctx.probe(i, "before"));
    }
    phases.push(PhaseSpan { name: "before".into(), start_ms: t, end_ms: tools::now_ms() });
    if !held_before {
        ctx.stop("the steady state did not hold before the method: nothing was injected".into(), None);
    }

    // Method, watched by the probes every interval.
    let t = tools::now_ms();
    if held_before && !ctx.stopped() {
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| watch(&ctx, &done));
            exec_steps(&ctx, &exp.method, false);
            done.store(true, Ordering::SeqCst);
        });
    }
    phases.push(PhaseSpan { name: "method".into(), start_ms: t, end_ms: tools::now_ms() });

    // Rollback: always, newest first.
    let t = tools::now_ms();
    let rollback_errors = rollback(&ctx);
    phases.push(PhaseSpan { name: "rollback".into(), start_ms: t, end_ms: tools::now_ms() });

    // After: the hypothesis again (retried while the system settles).
    let t = tools::now_ms();
    if held_before {
        for &i in &exp.steady {
            let deadline = Instant::now() + exp.settle;
            loop {
                let r = ctx.probe(i, "after");
                let ok = r.ok;
                if ok || Instant::now() >= deadline {
                    ctx.record_probe(r);
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    phases.push(PhaseSpan { name: "after".into(), start_ms: t, end_ms: tools::now_ms() });

    // Kernel events of every kernel fault, now that it is off.
    let mut faults = ctx.faults.into_inner().unwrap();
    for f in faults.iter_mut().filter(|f| f.class == ToolClass::Module) {
        if let Some(id) = &f.experiment {
            match tools::kernel_events(f.node.as_ref().and_then(|n| opts.nodes.get(n)), &f.tool, id) {
                Ok(ev) => f.events = ev,
                Err(e) => f.error.get_or_insert_with(|| format!("reading events: {e}")).push_str(""),
            }
        }
    }
    let probes = ctx.probes.into_inner().unwrap();
    let abort = ctx.abort_info.into_inner().unwrap();
    let error = ctx.error.into_inner().unwrap();
    let interrupted = SIGNALLED.load(Ordering::SeqCst) != 0;
    let verdict = if !rollback_errors.is_empty() || error.is_some() {
        "error"
    } else if interrupted {
        "interrupted"
    } else if probes.iter().all(|p| p.ok) {
        "held"
    } else {
        "deviated"
    };
    if rollback_errors.is_empty() {
        ctx.journal.compact()?;
    }
    ctx.journal.forget_run(&opts.run_id);
    Ok(Report {
        run: opts.run_id.clone(),
        title: exp.title.clone(),
        description: exp.description.clone(),
        file: exp.file.display().to_string(),
        host: hostname(),
        target: exp.target.clone(),
        plan: crate::plan_lines(exp),
        interval_ms: exp.interval.as_millis() as u64,
        started_ms: started,
        ended_ms: tools::now_ms(),
        phases,
        probes,
        faults,
        abort,
        rollback_errors,
        error: error.as_ref().map(|e| e.to_string()),
        error_code: error.as_ref().map(|e| e.code()),
        verdict: verdict.into(),
    })
}

/// The host's name, for the report.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Runs the steady-state probes every interval until the method is done;
/// the first one out of tolerance aborts.
fn watch(ctx: &Ctx, done: &AtomicBool) {
    let exp = ctx.exp;
    loop {
        let next = Instant::now() + exp.interval;
        for &i in &exp.steady {
            if done.load(Ordering::SeqCst) || ctx.stopped() {
                return;
            }
            let r = ctx.probe(i, "during");
            let (ok, detail) = (r.ok, r.detail.clone());
            if !ctx.record_probe(r) {
                ctx.stop(format!("probe {} out of tolerance: {detail}", exp.probes[i].name), Some(exp.probes[i].name.clone()));
                return;
            }
            let _ = ok;
        }
        while Instant::now() < next {
            if done.load(Ordering::SeqCst) || ctx.stopped() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn exec_steps(ctx: &Ctx, steps: &[Step], parallel: bool) {
    if parallel {
        std::thread::scope(|s| {
            for st in steps {
                s.spawn(move || exec_step(ctx, st));
            }
        });
    } else {
        for st in steps {
            if ctx.stopped() {
                return;
            }
            exec_step(ctx, st);
        }
    }
}

fn exec_step(ctx: &Ctx, step: &Step) {
    match step {
        Step::Wait(d) => {
            ctx.sleep(*d);
        }
        Step::Probe(i) => {
            let p = &ctx.exp.probes[*i];
            let r = ctx.probe(*i, "method");
            let detail = r.detail.clone();
            if !ctx.record_probe(r) {
                ctx.stop(format!("probe {} out of tolerance: {detail}", p.name), Some(p.name.clone()));
            }
        }
        Step::Parallel(v) => exec_steps(ctx, v, true),
        Step::Sequence(v) => exec_steps(ctx, v, false),
        Step::Fault(f) => {
            if ctx.stopped() {
                return;
            }
            // On each of its nodes (or here), then held, then undone.
            let places: Vec<Option<&NodeRef>> =
                if f.nodes.is_empty() { vec![None] } else { f.nodes.iter().map(|n| ctx.nodes.get(n)).collect() };
            let mut applied = Vec::new();
            for at in places {
                if ctx.stopped() {
                    break;
                }
                if let Some(p) = apply(ctx, f, at) {
                    applied.push(p);
                }
            }
            if !applied.is_empty() {
                ctx.sleep(f.duration);
                for p in applied.iter().rev() {
                    undo_one(ctx, p);
                }
            }
        }
    }
}

/// Applies one fault, here or on node `at`: journal first, then the tool.
/// Returns what to undo.
fn apply(ctx: &Ctx, f: &FaultStep, at: Option<&NodeRef>) -> Option<Pending> {
    let step_id = match at {
        Some(n) => format!("{}@{}", f.id, n.name),
        None => f.id.clone(),
    };
    let mut rec = FaultRecord::new(f);
    rec.step = step_id.clone();
    rec.node = at.map(|n| n.name.clone());
    let serial = ctx.applying.lock().unwrap_or_else(|p| p.into_inner());
    let result = (|| -> Result<Pending> {
        let above = match f.class {
            ToolClass::Injector => tools::journal_high_water(at, &f.tool)?,
            ToolClass::Module => 0,
        };
        let scope = if tools::scoped(&f.tool) { f.scope.args(at)? } else { Vec::new() };
        let args = f.tool_args(scope);
        rec.command = std::iter::once(f.tool.clone()).chain(args.iter().cloned()).collect::<Vec<_>>().join(" ");
        if let Some(n) = at {
            rec.command = format!("{} (on {})", rec.command, n.name);
        }
        let mut pending = Pending {
            run: ctx.run.clone(),
            step: step_id.clone(),
            tool: f.tool.clone(),
            class: f.class,
            above,
            experiment: None,
            faults: Vec::new(),
            node: at.cloned(),
            applied: false,
        };
        ctx.journal.append(&Record::begin(&pending))?;
        ctx.in_force.lock().unwrap().push(pending.clone());
        rec.started_ms = Some(tools::now_ms());
        let out = tools::run(at, &f.tool, &args, ejournal::UNDO_TIMEOUT)?;
        if !out.ok() {
            // 6: a node (or this host) halted since the run began.
            return Err(tools::exit_error(out.code(), out.why()));
        }
        rec.applied_ms = Some(tools::now_ms());
        match f.class {
            ToolClass::Module => pending.experiment = out.stdout().split_whitespace().next().map(String::from),
            ToolClass::Injector => {
                let entries = tools::journal_entries(at, &f.tool)?;
                let mine: Vec<_> = entries.into_iter().filter(|e| e.id > above).collect();
                pending.faults = mine.iter().map(|e| e.id).collect();
                rec.journal = mine;
            }
        }
        rec.experiment = pending.experiment.clone();
        pending.applied = true;
        ctx.journal.append(&Record::applied(&pending))?;
        if let Some(p) = ctx.in_force.lock().unwrap().iter_mut().find(|p| p.step == step_id) {
            *p = pending.clone();
        }
        eprintln!("kvmfi-experiment: {step_id} applied: {}", rec.command);
        Ok(pending)
    })();
    drop(serial);
    let out = match result {
        Ok(p) => Some(p),
        Err(e) => {
            rec.error = Some(e.to_string());
            ctx.stop(format!("fault {step_id} ({}) could not be applied: {e}", f.tool), None);
            ctx.error.lock().unwrap().get_or_insert(e);
            None
        }
    };
    ctx.faults.lock().unwrap().push(rec);
    out
}

/// Undoes one step now, recording when.
fn undo_one(ctx: &Ctx, p: &Pending) -> Option<String> {
    let res = ejournal::undo(p).and_then(|did| {
        ctx.journal.append(&Record::undone(&ctx.run, &p.step))?;
        Ok(did)
    });
    let mut faults = ctx.faults.lock().unwrap();
    let rec = faults.iter_mut().find(|r| r.step == p.step);
    match res {
        Ok(did) => {
            ctx.in_force.lock().unwrap().retain(|q| q.step != p.step);
            if let Some(r) = rec {
                r.undone_ms = Some(tools::now_ms());
                r.undo = did;
            }
            None
        }
        Err(e) => {
            let msg = format!("undoing {} ({}): {e}", p.step, p.tool);
            if let Some(r) = rec {
                r.undo_error = Some(msg.clone());
            }
            Some(msg)
        }
    }
}

/// Undoes everything still in force, newest first; returns the failures.
fn rollback(ctx: &Ctx) -> Vec<String> {
    let left: Vec<Pending> = ctx.in_force.lock().unwrap().iter().rev().cloned().collect();
    let mut errors = Vec::new();
    for p in left {
        if let Some(e) = undo_one(ctx, &p) {
            eprintln!("kvmfi-experiment: {e}");
            errors.push(e);
        }
    }
    errors
}
