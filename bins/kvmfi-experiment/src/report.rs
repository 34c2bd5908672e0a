//! The record of a run in three forms: JSON (everything), JUnit XML (one
//! test case per probe and phase, for CI) and one self-contained HTML page
//! whose SVG timeline puts faults, kernel events, journal records and probe
//! results on one clock.

use crate::probe::ProbeResult;
use crate::spec::{FaultStep, Target};
use crate::tools::{JournalEntry, KernelEvent, ToolClass};
use kvmfi::error::{Error, Result};
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

/// Why and when the method was stopped early.
#[derive(Debug, Clone, Serialize)]
pub struct Abort {
    pub at_ms: u64,
    pub reason: String,
    /// The probe that tripped it, if one did.
    pub probe: Option<String>,
}

/// A phase of the run on the clock.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseSpan {
    pub name: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// One fault step as it happened.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    /// The step's id, `@NODE` added when it went to a node.
    pub step: String,
    /// The node of cluster.conf it went to (None: this host).
    pub node: Option<String>,
    pub name: String,
    pub tool: String,
    pub class: ToolClass,
    pub line: usize,
    /// The command line that applied it.
    pub command: String,
    /// When the tool was started (it journals between this and applied).
    pub started_ms: Option<u64>,
    pub applied_ms: Option<u64>,
    pub undone_ms: Option<u64>,
    /// Kernel tools: the experiment id `arm` printed.
    pub experiment: Option<String>,
    /// Injectors: the journal entries the fault made.
    pub journal: Vec<JournalEntry>,
    /// Kernel tools: the module's events for this experiment.
    pub events: Vec<KernelEvent>,
    /// The undo commands that ran.
    pub undo: Vec<String>,
    pub error: Option<String>,
    pub undo_error: Option<String>,
}

impl FaultRecord {
    pub fn new(f: &FaultStep) -> Self {
        FaultRecord {
            step: f.id.clone(),
            node: None,
            name: f.name.clone(),
            tool: f.tool.clone(),
            class: f.class,
            line: f.line,
            command: f.describe(),
            started_ms: None,
            applied_ms: None,
            undone_ms: None,
            experiment: None,
            journal: Vec::new(),
            events: Vec::new(),
            undo: Vec::new(),
            error: None,
            undo_error: None,
        }
    }
}

/// Everything about one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run: String,
    pub title: String,
    pub description: String,
    pub file: String,
    pub host: String,
    pub target: Target,
    pub plan: Vec<String>,
    pub interval_ms: u64,
    pub started_ms: u64,
    pub ended_ms: u64,
    pub phases: Vec<PhaseSpan>,
    pub probes: Vec<ProbeResult>,
    pub faults: Vec<FaultRecord>,
    pub abort: Option<Abort>,
    pub rollback_errors: Vec<String>,
    pub error: Option<String>,
    pub error_code: Option<u8>,
    /// `held`, `deviated`, `interrupted` or `error`.
    pub verdict: String,
}

/// Writes report.json, junit.xml and report.html into `dir`.
pub fn write_all(r: &Report, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let json = serde_json::to_string_pretty(r).map_err(|e| Error::failed(format!("encoding the report: {e}")))?;
    for (name, body) in [("report.json", json), ("junit.xml", junit(r)), ("report.html", html(r))] {
        let p = dir.join(name);
        std::fs::write(&p, body).map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
    }
    Ok(())
}

/// XML/HTML text escape.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// JUnit XML: one test case per probe and phase (failed when any of its
/// runs in that phase was out of tolerance), one per fault's rollback.
pub fn junit(r: &Report) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures) = (0, 0);
    let mut keys: Vec<(String, String)> = Vec::new();
    for p in &r.probes {
        let k = (p.phase.clone(), p.probe.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (phase, name) in &keys {
        let runs: Vec<&ProbeResult> = r.probes.iter().filter(|p| &p.phase == phase && &p.probe == name).collect();
        let secs: f64 = runs.iter().map(|p| (p.end_ms - p.start_ms) as f64 / 1000.0).sum();
        let bad: Vec<&&ProbeResult> = runs.iter().filter(|p| !p.ok).collect();
        tests += 1;
        let _ = write!(
            cases,
            "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"{secs:.3}\">",
            esc(&r.title),
            esc(phase),
            esc(name)
        );
        if let Some(b) = bad.first() {
            failures += 1;
            let _ = write!(
                cases,
                "<failure message=\"{}\">{} of {} run(s) out of tolerance; first: {}</failure>",
                esc(&b.detail),
                bad.len(),
                runs.len(),
                esc(&b.detail)
            );
        }
        cases.push_str("</testcase>\n");
    }
    for f in &r.faults {
        tests += 1;
        let _ = write!(
            cases,
            "    <testcase classname=\"{}.rollback\" name=\"{} {}\" time=\"0\">",
            esc(&r.title),
            esc(&f.step),
            esc(&f.name)
        );
        if let Some(e) = f.undo_error.as_ref().or(f.error.as_ref()) {
            failures += 1;
            let _ = write!(cases, "<failure message=\"{}\"/>", esc(e));
        }
        cases.push_str("</testcase>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" time=\"{:.3}\">\n    <properties><property name=\"run\" value=\"{}\"/><property name=\"verdict\" value=\"{}\"/></properties>\n{cases}  </testsuite>\n</testsuites>\n",
        esc(&r.title),
        (r.ended_ms - r.started_ms) as f64 / 1000.0,
        esc(&r.run),
        esc(&r.verdict)
    )
}

const LABEL_W: f64 = 220.0;
const PLOT_W: f64 = 760.0;
const LANE_H: f64 = 28.0;
const TOP: f64 = 44.0;

/// The SVG timeline: a lane per fault and per probe on one clock.
pub fn svg(r: &Report) -> String {
    let t0 = r.started_ms;
    let span = (r.ended_ms.max(t0 + 1) - t0) as f64;
    let x = |t: u64| LABEL_W + (t.saturating_sub(t0) as f64 / span * PLOT_W).min(PLOT_W);
    let mut probe_names: Vec<String> = Vec::new();
    for p in &r.probes {
        if !probe_names.contains(&p.probe) {
            probe_names.push(p.probe.clone());
        }
    }
    let lanes = r.faults.len() + probe_names.len();
    let height = TOP + LANE_H * lanes as f64 + 52.0;
    let width = LABEL_W + PLOT_W + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>");
    // Phases as bands behind every lane.
    for (i, ph) in r.phases.iter().enumerate() {
        let (a, b) = (x(ph.start_ms), x(ph.end_ms).max(x(ph.start_ms) + 1.0));
        // Short phases sit side by side: their labels alternate in height.
        let label_y = if i % 2 == 0 { 12.0 } else { 24.0 };
        let fill = match ph.name.as_str() {
            "rollback" => "#fde9c8",
            "method" => "#eef2fb",
            _ => "#f3f3f3",
        };
        let _ = writeln!(
            s,
            "<g class=\"phase\" id=\"phase-{n}\"><rect x=\"{a:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{h}\" fill=\"{fill}\"/><text x=\"{a:.1}\" y=\"{label_y}\">{n}</text></g>",
            n = esc(&ph.name),
            y = TOP - 14.0,
            w = b - a,
            h = LANE_H * lanes as f64 + 14.0
        );
    }
    // Axis: a tick per second-ish.
    let secs = span / 1000.0;
    let step = [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0].into_iter().find(|st| secs / st <= 12.0).unwrap_or(600.0);
    let axis_y = TOP + LANE_H * lanes as f64 + 14.0;
    let mut t = 0.0;
    while t <= secs {
        let px = LABEL_W + t / secs * PLOT_W;
        let _ = writeln!(s, "<g class=\"tick\"><line x1=\"{px:.1}\" y1=\"{}\" x2=\"{px:.1}\" y2=\"{axis_y}\" stroke=\"#ddd\"/><text x=\"{px:.1}\" y=\"{}\" text-anchor=\"middle\">{t}s</text></g>", TOP - 14.0, axis_y + 12.0);
        t += step;
    }
    let mut lane = 0usize;
    for f in &r.faults {
        let y = TOP + LANE_H * lane as f64;
        lane += 1;
        let _ = writeln!(s, "<g class=\"lane fault-lane\" data-lane=\"fault:{}\">", esc(&f.step));
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{:.1}\"><title>{}</title>{} {}</text>",
            y + 17.0,
            esc(&f.command),
            esc(&f.step),
            esc(&truncate(&f.name, 26))
        );
        if let Some(a) = f.applied_ms {
            let end = f.undone_ms.unwrap_or(r.ended_ms);
            let (xa, xb) = (x(a), x(end).max(x(a) + 2.0));
            let _ = writeln!(
                s,
                "<rect class=\"fault-span\" x=\"{xa:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" fill=\"#7a5cc7\"><title>{} in force {} ms</title></rect>",
                y + 8.0,
                xb - xa,
                esc(&f.command),
                end - a
            );
            let _ = writeln!(
                s,
                "<path class=\"mark inject\" d=\"M{xa:.1} {:.1} l5 -7 l-10 0 z\" fill=\"#3b1f8c\"><title>injected</title></path>",
                y + 8.0
            );
            if let Some(u) = f.undone_ms {
                let _ = writeln!(s, "<line class=\"mark undo\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#000\" stroke-width=\"2\"><title>undone: {}</title></line>", x(u), y + 4.0, x(u), y + 24.0, esc(&f.undo.join("; ")));
            }
        } else if let Some(e) = &f.error {
            let _ = writeln!(
                s,
                "<text class=\"fault-error\" x=\"{LABEL_W}\" y=\"{:.1}\" fill=\"#c22\">not applied: {}</text>",
                y + 17.0,
                esc(&truncate(e, 100))
            );
        }
        for e in &f.journal {
            // `since` has whole seconds: the record was written while the tool ran.
            let lo = f.started_ms.unwrap_or(t0);
            let t = (e.since * 1000).clamp(lo, f.applied_ms.unwrap_or(lo).max(lo));
            let _ = writeln!(
                s,
                "<rect class=\"mark journal-entry\" x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"6\" transform=\"rotate(45 {:.1} {:.1})\" fill=\"#e08a00\"><title>journal {} {} {} {}</title></rect>",
                x(t) - 3.0,
                y + 11.0,
                x(t),
                y + 14.0,
                e.id,
                esc(&e.kind),
                esc(&e.target),
                esc(&e.desc)
            );
        }
        for e in &f.events {
            let _ = writeln!(
                s,
                "<line class=\"mark kernel-event\" x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#d0021b\"><title>{3} {4} pid {5} {6} value {7}</title></line>",
                x(e.unix_ms),
                y + 6.0,
                y + 22.0,
                esc(&e.event.kind),
                esc(&e.event.what),
                e.event.pid,
                esc(&e.event.comm),
                e.event.value
            );
        }
        s.push_str("</g>\n");
    }
    for name in &probe_names {
        let y = TOP + LANE_H * lane as f64;
        lane += 1;
        let _ = writeln!(s, "<g class=\"lane probe-lane\" data-lane=\"probe:{}\">", esc(name));
        let _ = writeln!(s, "<text x=\"4\" y=\"{:.1}\">probe {}</text>", y + 17.0, esc(&truncate(name, 24)));
        for p in r.probes.iter().filter(|p| &p.probe == name) {
            let (a, b) = (x(p.start_ms), x(p.end_ms).max(x(p.start_ms) + 3.0));
            let _ = writeln!(
                s,
                "<rect class=\"probe {}\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" fill=\"{}\"><title>{} ({}): {}</title></rect>",
                if p.ok { "probe-ok" } else { "probe-fail" },
                y + 7.0,
                b - a,
                if p.ok { "#2e9e44" } else { "#d0021b" },
                esc(&p.probe),
                esc(&p.phase),
                esc(&p.detail)
            );
        }
        s.push_str("</g>\n");
    }
    if let Some(a) = &r.abort {
        let ax = x(a.at_ms);
        let _ = writeln!(
            s,
            "<g id=\"abort\" class=\"abort\"><line x1=\"{ax:.1}\" y1=\"{}\" x2=\"{ax:.1}\" y2=\"{axis_y}\" stroke=\"#d0021b\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/><text x=\"{:.1}\" y=\"28\" fill=\"#d0021b\">abort<title>{}</title></text></g>",
            TOP - 14.0,
            ax + 3.0,
            esc(&a.reason)
        );
    }
    let ly = axis_y + 32.0;
    let _ = writeln!(
        s,
        "<g class=\"legend\" transform=\"translate({LABEL_W} {ly})\"><path d=\"M0 -4 l5 -7 l-10 0 z\" fill=\"#3b1f8c\"/><text x=\"9\" y=\"-2\">injected</text>\
<rect x=\"80\" y=\"-12\" width=\"18\" height=\"9\" fill=\"#7a5cc7\"/><text x=\"102\" y=\"-2\">fault in force</text>\
<rect x=\"200\" y=\"-11\" width=\"6\" height=\"6\" transform=\"rotate(45 203 -8)\" fill=\"#e08a00\"/><text x=\"211\" y=\"-2\">journal record</text>\
<line x1=\"310\" y1=\"-13\" x2=\"310\" y2=\"-1\" stroke=\"#d0021b\"/><text x=\"315\" y=\"-2\">kernel event</text>\
<rect x=\"405\" y=\"-12\" width=\"12\" height=\"9\" fill=\"#2e9e44\"/><text x=\"421\" y=\"-2\">probe ok</text>\
<rect x=\"485\" y=\"-12\" width=\"12\" height=\"9\" fill=\"#d0021b\"/><text x=\"501\" y=\"-2\">probe out of tolerance</text>\
<rect x=\"650\" y=\"-12\" width=\"12\" height=\"9\" fill=\"#fde9c8\"/><text x=\"666\" y=\"-2\">rollback</text></g>"
    );
    s.push_str("</svg>\n");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// The self-contained HTML page (inline CSS and SVG, nothing fetched).
pub fn html(r: &Report) -> String {
    let mut rows = String::new();
    for f in &r.faults {
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.step),
            esc(&f.command),
            esc(f.experiment.as_deref().unwrap_or("-")),
            f.events.len(),
            f.journal.len(),
            esc(&f.undo_error.clone().or(f.error.clone()).unwrap_or_else(|| f.undo.join("; ")))
        );
    }
    let probes_ok = r.probes.iter().filter(|p| p.ok).count();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} — {verdict}</title>\n<style>body{{font-family:sans-serif;margin:1.5em;color:#222}} .verdict{{font-weight:bold;padding:.2em .5em;border-radius:4px;color:#fff;background:{vcol}}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;font-size:13px}} code{{font-size:12px}}</style></head>\n<body>\n<h1>{title}</h1>\n<p>{desc}</p>\n<p>Run <code>{run}</code> on {host} from <code>{file}</code>: <span class=\"verdict\" id=\"verdict\">{verdict}</span> — {probes_ok} of {nprobes} probe runs within tolerance, {nfaults} fault(s){abort}.</p>\n{svg}<h2>Faults</h2>\n<table><tr><th>step</th><th>command</th><th>experiment</th><th>kernel events</th><th>journal entries</th><th>undo</th></tr>\n{rows}</table>\n<h2>Plan</h2><pre>{plan}</pre>\n</body></html>\n",
        title = esc(&r.title),
        desc = esc(&r.description),
        verdict = esc(&r.verdict),
        vcol = if r.verdict == "held" { "#2e9e44" } else { "#d0021b" },
        run = esc(&r.run),
        host = esc(&r.host),
        file = esc(&r.file),
        nprobes = r.probes.len(),
        nfaults = r.faults.len(),
        abort = r.abort.as_ref().map(|a| format!("; aborted: {}", esc(&a.reason))).unwrap_or_default(),
        svg = svg(r),
        plan = esc(&r.plan.join("\n")),
    )
}
