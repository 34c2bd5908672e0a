//! The experiment file (TOML): parsed with spans, then checked as a whole,
//! so that every mistake is reported as `FILE:LINE: field: problem` before
//! anything is done.

use crate::tools::{self, ToolClass};
use kvmfi::clusterconf;
use kvmfi::error::{Error, Result};
use regex::Regex;
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Time added to a kernel fault's own lease beyond its step duration: the
/// run disarms it itself; the lease only ends it when the run was killed.
pub const LEASE_GRACE: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    title: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    target: Option<Spanned<RawTarget>>,
    steady_state: Option<Spanned<RawSteady>>,
    #[serde(default, rename = "probe")]
    probes: Vec<Spanned<RawProbe>>,
    #[serde(default)]
    method: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    #[serde(default)]
    nodes: Vec<Spanned<String>>,
    #[serde(default)]
    roles: Vec<Spanned<String>>,
    cluster_conf: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSteady {
    probes: Spanned<Vec<Spanned<String>>>,
    interval: Option<Spanned<String>>,
    settle: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    timeout: Option<Spanned<String>>,
    max_latency: Option<Spanned<String>>,
    // command
    command: Option<Spanned<Vec<String>>>,
    exit: Option<i32>,
    output: Option<Spanned<String>>,
    // http
    url: Option<Spanned<String>>,
    status: Option<u16>,
    // tcp
    address: Option<Spanned<String>>,
    // hdfs
    hdfs: Option<Vec<String>>,
    min_live: Option<u32>,
    // mariadb
    client: Option<Vec<String>>,
    query: Option<Spanned<String>>,
    expect: Option<Spanned<String>>,
    // qmp
    socket: Option<Spanned<String>>,
    state: Option<String>,
    /// Run the probe's command on this node of cluster.conf.
    node: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<String>,
    fault: Option<Spanned<String>>,
    scope: Option<Spanned<RawScope>>,
    #[serde(default)]
    args: Vec<String>,
    duration: Option<Spanned<String>>,
    wait: Option<Spanned<String>>,
    probe: Option<Spanned<String>>,
    parallel: Option<Vec<Spanned<RawStep>>>,
    sequence: Option<Vec<Spanned<RawStep>>>,
    /// Where the fault goes (instead of [target]'s nodes).
    nodes: Option<Vec<Spanned<String>>>,
    roles: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScope {
    pid: Option<u32>,
    tgid: Option<u32>,
    comm: Option<String>,
    cgroup: Option<String>,
    pidfile: Option<String>,
}

/// Where the experiment runs.
#[derive(Debug, Clone, serde::Serialize)]
pub enum Target {
    /// This host.
    Local,
    /// Nodes of cluster.conf (chosen by name or role).
    Nodes(Vec<String>),
}

/// What a probe checks.
#[derive(Debug, Clone)]
pub enum ProbeKind {
    Command { argv: Vec<String>, exit: i32, output: Option<Regex> },
    Http { host: String, port: u16, path: String, status: u16 },
    Tcp { address: String },
    Hdfs { argv: Vec<String>, min_live: u32 },
    Mariadb { argv: Vec<String>, query: String, expect: Option<Regex> },
    Qmp { socket: PathBuf, state: String },
}

/// One steady-state probe with its tolerances.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub kind: ProbeKind,
    /// The node of cluster.conf its command runs on (None: this host).
    pub node: Option<String>,
    pub timeout: Duration,
    pub max_latency: Option<Duration>,
}

impl Probe {
    /// One line for people: what is checked and what is tolerated.
    pub fn describe(&self) -> String {
        let what = match &self.kind {
            ProbeKind::Command { argv, exit, output } => {
                format!("command {} exits {exit}{}", kvmfi::exec::display_argv(argv), output_matches(output.as_ref()))
            }
            ProbeKind::Http { host, port, path, status } => format!("HTTP GET http://{host}:{port}{path} answers {status}"),
            ProbeKind::Tcp { address } => format!("TCP connect to {address}"),
            ProbeKind::Hdfs { min_live, .. } => {
                format!("HDFS has at least {min_live} live DataNode(s) (dfsadmin -report)")
            }
            ProbeKind::Mariadb { query, expect, .. } => {
                format!("MariaDB query {query:?} succeeds{}", output_matches(expect.as_ref()))
            }
            ProbeKind::Qmp { socket, state } => {
                format!("QEMU at {} is {state} (QMP query-status)", socket.display())
            }
        };
        let lat = self.max_latency.map(|d| format!(" within {}", fmt_duration(d))).unwrap_or_default();
        let at = self.node.as_ref().map(|n| format!(" on node {n}")).unwrap_or_default();
        format!("{what}{at}{lat} (timeout {})", fmt_duration(self.timeout))
    }
}

/// `, output matches /RE/` when the probe has a pattern, else nothing.
fn output_matches(re: Option<&Regex>) -> String {
    re.map(|r| format!(", output matches /{}/", pattern(r))).unwrap_or_default()
}

/// A probe's pattern as its file wrote it: without the multi-line flag
/// that [`Checker::regex`] puts in front.
pub fn pattern(re: &Regex) -> &str {
    re.as_str().trim_start_matches(MULTI_LINE)
}

/// Put before every probe pattern: ^ and $ match at every line, as people
/// read output.
const MULTI_LINE: &str = "(?m)";

/// The scope of a kernel fault, as the tools' options.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Scope {
    pub pid: Option<u32>,
    pub tgid: Option<u32>,
    pub comm: Option<String>,
    pub cgroup: Option<String>,
    /// Read at injection time: the process whose pid it holds is the tgid.
    pub pidfile: Option<String>,
}

impl Scope {
    /// The scope options as the plan shows them (a pidfile by name).
    pub fn shown_args(&self) -> Vec<String> {
        self.build(|f| Ok(format!("$(cat {f})"))).unwrap_or_default()
    }

    /// The scope options; a pidfile is read now, on `node` when the fault
    /// goes there.
    pub fn args(&self, node: Option<&crate::remote::NodeRef>) -> Result<Vec<String>> {
        self.build(|f| {
            let text = match node {
                None => std::fs::read_to_string(f).map_err(|e| Error::not_found(format!("scope pidfile {f}: {e}")))?,
                Some(n) => {
                    let out = n.run(&["cat".into(), f.to_string()], Duration::from_secs(30))?;
                    if !out.ok() {
                        return Err(Error::not_found(format!(
                            "scope pidfile {f} on node {}: {}",
                            n.name,
                            out.first_error_line()
                        )));
                    }
                    out.stdout
                }
            };
            let pid: u32 = text
                .split_whitespace()
                .next()
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| Error::not_found(format!("scope pidfile {f} holds no pid")))?;
            Ok(pid.to_string())
        })
    }

    /// The options in the tools' order; `pidfile_tgid` turns a pidfile into
    /// the value of its `--tgid`.
    fn build(&self, pidfile_tgid: impl FnOnce(&str) -> Result<String>) -> Result<Vec<String>> {
        let mut a = Vec::new();
        if let Some(p) = self.pid {
            a.extend(["--pid".into(), p.to_string()]);
        }
        if let Some(p) = self.tgid {
            a.extend(["--tgid".into(), p.to_string()]);
        }
        if let Some(f) = &self.pidfile {
            a.extend(["--tgid".into(), pidfile_tgid(f)?]);
        }
        for (opt, v) in [("--comm", &self.comm), ("--cgroup", &self.cgroup)] {
            if let Some(v) = v {
                a.extend([opt.to_string(), v.clone()]);
            }
        }
        Ok(a)
    }
}

/// A fault step: one tool's fault, held for `duration`, then undone.
#[derive(Debug, Clone)]
pub struct FaultStep {
    /// `s1`, `s2`, ... in file order: names it in the journal and report.
    pub id: String,
    pub name: String,
    pub tool: String,
    pub class: ToolClass,
    pub scope: Scope,
    pub args: Vec<String>,
    pub duration: Duration,
    pub line: usize,
    /// The nodes of cluster.conf it is applied on, each on its own (empty:
    /// this host).
    pub nodes: Vec<String>,
}

impl FaultStep {
    /// The command line that applies it (scope read as given, pidfile
    /// shown by name).
    pub fn describe(&self) -> String {
        let mut argv = vec![self.tool.clone()];
        argv.extend(self.tool_args(self.scope.shown_args()));
        argv.join(" ")
    }

    /// The tool's arguments with the scope options `scope`: `arm SCOPE`
    /// first for the tools that scope by task, the lease last for those
    /// that take one.
    pub fn tool_args(&self, scope: Vec<String>) -> Vec<String> {
        let mut a = Vec::new();
        if tools::scoped(&self.tool) {
            a.push("arm".to_string());
            a.extend(scope);
        }
        a.extend(self.args.iter().cloned());
        if tools::leased(&self.tool) {
            a.extend(["--duration".into(), lease_text(self.duration)]);
        }
        a
    }
}

/// The kernel lease given to a fault held for `d`.
pub fn lease_text(d: Duration) -> String {
    format!("{}ms", (d + LEASE_GRACE).as_millis())
}

/// One step of the method.
#[derive(Debug, Clone)]
pub enum Step {
    Fault(Box<FaultStep>),
    Wait(Duration),
    /// Index into [`Experiment::probes`].
    Probe(usize),
    Parallel(Vec<Step>),
    Sequence(Vec<Step>),
}

/// The cluster file the experiment's nodes come from.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub path: PathBuf,
    pub nodes: Vec<clusterconf::Node>,
    /// Its `known_hosts =` file, resolved.
    pub known_hosts: Option<PathBuf>,
}

/// A checked experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub file: PathBuf,
    pub title: String,
    pub description: String,
    pub target: Target,
    pub probes: Vec<Probe>,
    /// Indexes of the steady-state probes.
    pub steady: Vec<usize>,
    pub interval: Duration,
    /// How long the after-phase probes may retry while the system recovers.
    pub settle: Duration,
    pub method: Vec<Step>,
    /// Loaded when a fault or a probe names a node.
    pub cluster: Option<ClusterInfo>,
}

impl Experiment {
    /// The nodes the run reaches (faults and probes), sorted.
    pub fn used_nodes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.faults().iter().flat_map(|f| f.nodes.iter().cloned()).collect();
        v.extend(self.probes.iter().filter_map(|p| p.node.clone()));
        v.sort();
        v.dedup();
        v
    }

    /// Every fault step, in file order.
    pub fn faults(&self) -> Vec<&FaultStep> {
        fn walk<'a>(steps: &'a [Step], out: &mut Vec<&'a FaultStep>) {
            for s in steps {
                match s {
                    Step::Fault(f) => out.push(f),
                    Step::Parallel(v) | Step::Sequence(v) => walk(v, out),
                    _ => {}
                }
            }
        }
        let mut v = Vec::new();
        walk(&self.method, &mut v);
        v
    }
}

/// Formats a duration the way files write them (500ms, 30s, 2m).
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Collects the problems of a file, each with its line.
struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    errors: Vec<String>,
    /// [target]'s cluster_conf.
    cluster_conf: Option<PathBuf>,
    /// None: not read yet; Some(None): could not be read (said once).
    cluster: Option<Option<ClusterInfo>>,
}

impl Checker<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        self.text[..span.start.min(self.text.len())].matches('\n').count() + 1
    }
    fn err(&mut self, span: &Range<usize>, field: &str, msg: impl std::fmt::Display) {
        let line = self.line_of(span);
        self.errors.push(format!("{}:{line}: {field}: {msg}", self.file.display()));
    }
    /// The cluster file, read on first use; a problem with it is reported
    /// once, at the first place that needed it.
    fn cluster(&mut self, span: &Range<usize>, field: &str) -> Option<ClusterInfo> {
        if self.cluster.is_none() {
            let loaded = match cluster_conf_path(self.cluster_conf.clone()) {
                None => {
                    self.err(
                        span,
                        field,
                        "a node or role is named but no cluster.conf was found (set target.cluster_conf or $KVMFI_CLUSTER_CONF)",
                    );
                    None
                }
                Some(path) => match clusterconf::load_cluster(&path) {
                    Ok(cl) => {
                        let known_hosts = clusterconf::conf_known_hosts(&cl, &path.display().to_string());
                        Some(ClusterInfo { path, nodes: cl.nodes, known_hosts })
                    }
                    Err(e) => {
                        self.err(span, "target.cluster_conf", e);
                        None
                    }
                },
            };
            self.cluster = Some(loaded);
        }
        self.cluster.clone().flatten()
    }

    /// The nodes named, and those with the roles named, sorted; each
    /// unknown name or role is an error of `field_prefix.nodes` / `.roles`.
    fn pick(&mut self, names: &[Spanned<String>], roles: &[Spanned<String>], span: &Range<usize>, prefix: &str) -> Vec<String> {
        self.pick_as(names, roles, span, &format!("{prefix}.nodes"), &format!("{prefix}.roles"))
    }

    fn pick_as(
        &mut self,
        names: &[Spanned<String>],
        roles: &[Spanned<String>],
        span: &Range<usize>,
        nodes_field: &str,
        roles_field: &str,
    ) -> Vec<String> {
        let Some(cl) = self.cluster(span, nodes_field) else {
            return Vec::new();
        };
        let conf = cl.path.display().to_string();
        let mut chosen: Vec<String> = Vec::new();
        for n in names {
            match cl.nodes.iter().find(|x| &x.name == n.get_ref()) {
                Some(x) => chosen.push(x.name.clone()),
                None => self.err(
                    &n.span(),
                    nodes_field,
                    format!(
                        "no node '{}' in {conf} (nodes: {})",
                        n.get_ref(),
                        cl.nodes.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
        for role in roles {
            match clusterconf::canonical_role(role.get_ref()) {
                None => self.err(
                    &role.span(),
                    roles_field,
                    format!("'{}' is not a role (roles: {})", role.get_ref(), clusterconf::ROLES.join(", ")),
                ),
                Some(canon) => {
                    let with: Vec<&clusterconf::Node> = cl.nodes.iter().filter(|x| x.has_role(canon)).collect();
                    if with.is_empty() {
                        self.err(&role.span(), roles_field, format!("no node of {conf} has role {canon}"));
                    }
                    chosen.extend(with.iter().map(|x| x.name.clone()));
                }
            }
        }
        chosen.sort();
        chosen.dedup();
        chosen
    }

    fn duration(&mut self, v: &Spanned<String>, field: &str) -> Option<Duration> {
        match kvmfi::units::parse_duration(v.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.err(&v.span(), field, format!("'{}': a duration must be more than 0 (e.g. 500ms, 30s, 5m)", v.get_ref()));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(&v.span(), field, e);
                None
            }
        }
    }
    fn regex(&mut self, v: &Spanned<String>, field: &str) -> Option<Regex> {
        match Regex::new(&format!("{MULTI_LINE}{}", v.get_ref())) {
            Ok(r) => Some(r),
            Err(e) => {
                let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
                self.err(&v.span(), field, format!("not a regular expression ({first})"));
                None
            }
        }
    }
}

/// Reads and checks `path`. Every problem found is reported at once (exit
/// 2), each as `FILE:LINE: field: problem`.
pub fn load(path: &Path) -> Result<Experiment> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::usage(format!("{}: no such experiment file", path.display())),
        std::io::ErrorKind::InvalidData => {
            Error::usage(format!("{}: not a text file (an experiment file is TOML, UTF-8)", path.display()))
        }
        std::io::ErrorKind::IsADirectory => Error::usage(format!("{}: is a directory, not an experiment file", path.display())),
        _ => Error::io(format!("reading {}", path.display()), e),
    })?;
    parse(path, &text)
}

/// Checks the text of an experiment file (see [`load`]).
pub fn parse(path: &Path, text: &str) -> Result<Experiment> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1).unwrap_or(1);
        Error::usage(format!("{}:{line}: {}", path.display(), e.message().trim()))
    })?;
    let mut c = Checker {
        file: path,
        text,
        errors: Vec::new(),
        cluster_conf: raw.target.as_ref().and_then(|t| t.get_ref().cluster_conf.as_ref().map(|p| PathBuf::from(p.get_ref()))),
        cluster: None,
    };

    if raw.title.get_ref().trim().is_empty() {
        c.err(&raw.title.span(), "title", "must not be empty");
    }

    let target = match &raw.target {
        Some(t) if !(t.get_ref().nodes.is_empty() && t.get_ref().roles.is_empty()) => {
            Target::Nodes(c.pick(&t.get_ref().nodes, &t.get_ref().roles, &t.span(), "target"))
        }
        _ => Target::Local,
    };
    let default_nodes = match &target {
        Target::Nodes(n) => n.clone(),
        Target::Local => Vec::new(),
    };

    let mut probes = Vec::new();
    for p in &raw.probes {
        if let Some(probe) = check_probe(&mut c, p) {
            if probes.iter().any(|q: &Probe| q.name == probe.name) {
                c.err(&p.get_ref().name.span(), "probe.name", format!("'{}' is defined twice", probe.name));
            }
            probes.push(probe);
        }
    }
    let find = |c: &mut Checker, name: &Spanned<String>, field: &str, probes: &[Probe]| -> Option<usize> {
        let i = probes.iter().position(|p| &p.name == name.get_ref());
        if i.is_none() {
            let known: Vec<&str> = probes.iter().map(|p| p.name.as_str()).collect();
            c.err(
                &name.span(),
                field,
                format!(
                    "no probe named '{}' (defined: {}); add a [[probe]] with that name",
                    name.get_ref(),
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            );
        }
        i
    };

    let (steady, interval, settle) = match &raw.steady_state {
        None => {
            c.errors.push(format!(
                "{}:1: steady_state: missing; add [steady_state] with probes = [\"NAME\", ...] naming [[probe]] entries",
                path.display()
            ));
            (Vec::new(), Duration::from_secs(2), Duration::ZERO)
        }
        Some(s) => {
            let s_ref = s.get_ref();
            if s_ref.probes.get_ref().is_empty() {
                c.err(&s_ref.probes.span(), "steady_state.probes", "empty: name at least one [[probe]]");
            }
            let idx: Vec<usize> =
                s_ref.probes.get_ref().iter().filter_map(|n| find(&mut c, n, "steady_state.probes", &probes)).collect();
            let interval =
                s_ref.interval.as_ref().and_then(|i| c.duration(i, "steady_state.interval")).unwrap_or(Duration::from_secs(2));
            let settle = s_ref.settle.as_ref().and_then(|i| c.duration(i, "steady_state.settle")).unwrap_or(Duration::ZERO);
            (idx, interval, settle)
        }
    };

    let mut counter = 0;
    let mut method = Vec::new();
    for s in &raw.method {
        if let Some(step) = check_step(&mut c, s, "method", &probes, &mut counter, &find, &default_nodes) {
            method.push(step);
        }
    }
    if raw.method.is_empty() {
        c.errors.push(format!("{}:1: method: missing; add at least one [[method]] step", path.display()));
    }

    if !c.errors.is_empty() {
        return Err(Error::usage(c.errors.join("\n")));
    }
    Ok(Experiment {
        file: path.to_path_buf(),
        title: raw.title.into_inner(),
        description: raw.description,
        target,
        probes,
        steady,
        interval,
        settle,
        method,
        cluster: c.cluster.flatten(),
    })
}

/// The cluster.conf the target section names, else the usual search.
fn cluster_conf_path(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p);
    }
    if let Some(p) = std::env::var_os("KVMFI_CLUSTER_CONF").filter(|v| !v.is_empty()) {
        return Some(p.into());
    }
    ["cluster.conf", "/etc/kvmfi/cluster.conf"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn check_probe(c: &mut Checker, p: &Spanned<RawProbe>) -> Option<Probe> {
    let r = p.get_ref();
    let name = r.name.get_ref().clone();
    if name.trim().is_empty() {
        c.err(&r.name.span(), "probe.name", "must not be empty");
    }
    let f = |k: &str| format!("probe '{name}'.{k}");
    let timeout = r.timeout.as_ref().and_then(|t| c.duration(t, &f("timeout"))).unwrap_or(Duration::from_secs(10));
    let max_latency = r.max_latency.as_ref().and_then(|t| c.duration(t, &f("max_latency")));
    let need = |c: &mut Checker, v: Option<&Spanned<String>>, key: &str, example: &str| -> Option<String> {
        match v {
            Some(s) => Some(s.get_ref().clone()),
            None => {
                c.err(&p.span(), &f(key), format!("missing: a {} probe needs {key} (e.g. {key} = {example})", r.kind.get_ref()));
                None
            }
        }
    };
    let kind = match r.kind.get_ref().as_str() {
        "command" => {
            let argv = match &r.command {
                Some(a) if !a.get_ref().is_empty() => a.get_ref().clone(),
                Some(a) => {
                    c.err(&a.span(), &f("command"), "empty: give the program and its arguments");
                    return None;
                }
                None => {
                    c.err(&p.span(), &f("command"), "missing: a command probe needs command = [\"prog\", \"arg\", ...]");
                    return None;
                }
            };
            let output = r.output.as_ref().and_then(|o| c.regex(o, &f("output")));
            ProbeKind::Command { argv, exit: r.exit.unwrap_or(0), output }
        }
        "http" => {
            let url = need(c, r.url.as_ref(), "url", "\"http://127.0.0.1:8080/\"")?;
            match parse_http_url(&url) {
                Ok((host, port, path)) => ProbeKind::Http { host, port, path, status: r.status.unwrap_or(200) },
                Err(e) => {
                    c.err(&r.url.as_ref().map(|u| u.span()).unwrap_or(p.span()), &f("url"), e);
                    return None;
                }
            }
        }
        "tcp" => {
            let address = need(c, r.address.as_ref(), "address", "\"127.0.0.1:22\"")?;
            if !address.contains(':') {
                c.err(&r.address.as_ref().map(|a| a.span()).unwrap_or(p.span()), &f("address"), "give HOST:PORT");
            }
            ProbeKind::Tcp { address }
        }
        "hdfs" => {
            ProbeKind::Hdfs { argv: r.hdfs.clone().unwrap_or_else(|| vec!["hdfs".into()]), min_live: r.min_live.unwrap_or(1) }
        }
        "mariadb" => {
            let query = need(c, r.query.as_ref(), "query", "\"SELECT 1\"")?;
            let expect = r.expect.as_ref().and_then(|o| c.regex(o, &f("expect")));
            ProbeKind::Mariadb { argv: r.client.clone().unwrap_or_else(|| vec!["mariadb".into()]), query, expect }
        }
        "qmp" => {
            let socket = need(c, r.socket.as_ref(), "socket", "\"/run/qemu/vm1.qmp\"")?;
            ProbeKind::Qmp { socket: socket.into(), state: r.state.clone().unwrap_or_else(|| "running".into()) }
        }
        other => {
            c.err(
                &r.kind.span(),
                &f("type"),
                format!("unknown probe type '{other}'; use command, http, tcp, hdfs, mariadb or qmp"),
            );
            return None;
        }
    };
    let node = match &r.node {
        None => None,
        Some(n) if !matches!(kind, ProbeKind::Command { .. } | ProbeKind::Hdfs { .. } | ProbeKind::Mariadb { .. }) => {
            c.err(
                &n.span(),
                &f("node"),
                format!("a {} probe is made from this host; node applies to command, hdfs and mariadb probes (their command runs there)", r.kind.get_ref()),
            );
            None
        }
        Some(n) => c.pick_as(std::slice::from_ref(n), &[], &n.span(), &f("node"), &f("node")).into_iter().next(),
    };
    Some(Probe { name, kind, node, timeout, max_latency })
}

/// `http://HOST[:PORT][/PATH]` (plain HTTP only).
fn parse_http_url(url: &str) -> std::result::Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("'{url}': only plain http:// URLs are probed (no TLS)"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| format!("'{url}': bad port '{p}'"))?),
        None => (hostport.to_string(), 80),
    };
    if host.is_empty() {
        return Err(format!("'{url}': no host"));
    }
    Ok((host, port, path))
}

/// An `args` example for a tool whose target is in its args.
fn args_example(tool: &str) -> &'static str {
    match tool {
        "disk-fi" => r#"args = ["badblocks", "/var/lib/vm/disk.img", "--sectors", "2048+8"]"#,
        "cloudstack_injector" => r#"args = ["crash", "management"]"#,
        _ => r#"args = ["crash", "dn"]"#,
    }
}

type FindProbe = dyn Fn(&mut Checker, &Spanned<String>, &str, &[Probe]) -> Option<usize>;

fn check_step(
    c: &mut Checker,
    s: &Spanned<RawStep>,
    field: &str,
    probes: &[Probe],
    counter: &mut usize,
    find: &FindProbe,
    default_nodes: &[String],
) -> Option<Step> {
    let r = s.get_ref();
    if r.fault.is_none() && (r.nodes.is_some() || r.roles.is_some()) {
        c.err(
            &s.span(),
            &format!("{field}.nodes"),
            "nodes and roles go with a fault step (a probe names its node in its [[probe]])",
        );
        return None;
    }
    let kinds = [r.fault.is_some(), r.wait.is_some(), r.probe.is_some(), r.parallel.is_some(), r.sequence.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        c.err(
            &s.span(),
            field,
            "each step is exactly one of fault = TOOL, wait = DURATION, probe = NAME, parallel = [...], sequence = [...]",
        );
        return None;
    }
    if let Some(w) = &r.wait {
        return c.duration(w, &format!("{field}.wait")).map(Step::Wait);
    }
    if let Some(p) = &r.probe {
        return find(c, p, &format!("{field}.probe"), probes).map(Step::Probe);
    }
    if let Some(children) = r.parallel.as_ref().or(r.sequence.as_ref()) {
        let par = r.parallel.is_some();
        let sub = format!("{field}.{}", if par { "parallel" } else { "sequence" });
        if children.is_empty() {
            c.err(&s.span(), &sub, "empty group");
        }
        let steps: Vec<Step> =
            children.iter().filter_map(|ch| check_step(c, ch, &sub, probes, counter, find, default_nodes)).collect();
        return Some(if par { Step::Parallel(steps) } else { Step::Sequence(steps) });
    }
    let tool = r.fault.as_ref()?;
    *counter += 1;
    let id = format!("s{counter}");
    let line = c.line_of(&tool.span());
    let Some(class) = tools::class_of(tool.get_ref()) else {
        c.err(
            &tool.span(),
            &format!("{field}.fault"),
            format!("unknown tool '{}'; use one of: {}", tool.get_ref(), tools::names().join(", ")),
        );
        return None;
    };
    let duration = match &r.duration {
        Some(d) => c.duration(d, &format!("{field}.duration"))?,
        None => {
            c.err(&tool.span(), &format!("{field}.duration"), "missing: every fault is bounded; add duration = \"30s\" (say)");
            return None;
        }
    };
    for a in &r.args {
        if matches!(a.as_str(), "--yes" | "--duration" | "--pid" | "--tgid" | "--comm" | "--cgroup" | "--replace")
            || a.starts_with("--duration=")
            || a.starts_with("--tgid=")
            || a.starts_with("--pid=")
        {
            c.err(
                &tool.span(),
                &format!("{field}.args"),
                format!("'{a}' is not allowed in args: the scope goes in scope = {{...}}, the lease comes from duration, and no fault may act on every process"),
            );
            return None;
        }
    }
    let scope = r.scope.as_ref().map(|sc| {
        let x = sc.get_ref();
        Scope { pid: x.pid, tgid: x.tgid, comm: x.comm.clone(), cgroup: x.cgroup.clone(), pidfile: x.pidfile.clone() }
    });
    let scope = if tools::scoped(tool.get_ref()) {
        let empty = scope.as_ref().map_or(true, |x| {
            x.pid.is_none() && x.tgid.is_none() && x.comm.is_none() && x.cgroup.is_none() && x.pidfile.is_none()
        });
        let tasks_only = class == ToolClass::Injector;
        if empty {
            c.err(
                &tool.span(),
                &format!("{field}.scope"),
                if tasks_only {
                    format!("a {} fault needs a scope: scope = {{ tgid = PID }}, {{ pidfile = FILE }} or {{ pid = TID }}", tool.get_ref())
                } else {
                    format!(
                        "a {} fault needs a scope: scope = {{ tgid = PID }}, {{ pidfile = FILE }}, {{ comm = NAME }}, {{ cgroup = DIR }} or {{ pid = TID }}",
                        tool.get_ref()
                    )
                },
            );
            return None;
        }
        if tasks_only && scope.as_ref().is_some_and(|x| x.comm.is_some() || x.cgroup.is_some()) {
            c.err(
                &r.scope.as_ref().map(|s| s.span()).unwrap_or(tool.span()),
                &format!("{field}.scope"),
                format!("{} scopes by task only: {{ tgid = PID }}, {{ pidfile = FILE }} or {{ pid = TID }}", tool.get_ref()),
            );
            return None;
        }
        if tasks_only && r.args.is_empty() {
            c.err(&tool.span(), &format!("{field}.args"), format!("a {} fault needs its facility in args, e.g. args = [\"failslab\"]", tool.get_ref()));
            return None;
        }
        scope.unwrap_or_default()
    } else {
        if let Some(sc) = &r.scope {
            c.err(
                &sc.span(),
                &format!("{field}.scope"),
                format!("{} takes its target in args (e.g. {})", tool.get_ref(), args_example(tool.get_ref())),
            );
            return None;
        }
        if r.args.len() < 2 {
            c.err(
                &tool.span(),
                &format!("{field}.args"),
                format!("a {} fault needs a scope: its command and target, e.g. {}", tool.get_ref(), args_example(tool.get_ref())),
            );
            return None;
        }
        Scope::default()
    };
    let nodes = if r.nodes.is_some() || r.roles.is_some() {
        if r.nodes.as_ref().map_or(true, Vec::is_empty) && r.roles.as_ref().map_or(true, Vec::is_empty) {
            c.err(
                &tool.span(),
                &format!("{field}.nodes"),
                "empty: name a node or a role, or leave nodes and roles out for [target]'s",
            );
            return None;
        }
        let picked = c.pick(r.nodes.as_deref().unwrap_or(&[]), r.roles.as_deref().unwrap_or(&[]), &tool.span(), field);
        if picked.is_empty() {
            return None;
        }
        picked
    } else {
        default_nodes.to_vec()
    };
    Some(Step::Fault(Box::new(FaultStep {
        nodes,
        name: r.name.clone().unwrap_or_else(|| format!("{} {}", tool.get_ref(), r.args.join(" "))),
        id,
        tool: tool.get_ref().clone(),
        class,
        scope,
        args: r.args.clone(),
        duration,
        line,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
title = "t"
[steady_state]
probes = ["p"]
interval = "1s"
[[probe]]
name = "p"
type = "tcp"
address = "127.0.0.1:1"
[[method]]
fault = "kvm-ioctl-fi"
scope = { comm = "test-vmm" }
args = ["--cmd", "KVM_RUN"]
duration = "5s"
[[method]]
parallel = [ { wait = "1s" }, { fault = "hadoop_injector", args = ["crash", "dn"], duration = "2s" } ]
"#;

    fn err(text: &str) -> String {
        parse(Path::new("x.toml"), text).unwrap_err().to_string()
    }

    /// Asserts that `good` with `from` changed to `to` is refused with a
    /// line that starts with `says` (`FILE:LINE: field: problem`).
    #[track_caller]
    fn refused(good: &str, from: &str, to: &str, says: &str) {
        assert!(good.contains(from), "{from:?} is not in the file: the case would test nothing");
        let e = err(&good.replace(from, to));
        assert!(e.lines().any(|l| l.starts_with(says)), "{from:?} -> {to:?}: no line starts with {says:?} in:\n{e}");
    }

    #[test]
    fn good_file_parses() {
        let e = parse(Path::new("x.toml"), GOOD).unwrap();
        assert_eq!(e.faults().len(), 2);
        assert_eq!(e.faults()[1].id, "s2");
        assert_eq!(e.interval, Duration::from_secs(1));
    }

    #[test]
    fn errors_name_line_and_field() {
        refused(GOOD, "\"kvm-ioctl-fi\"", "\"kvm-ioctl-fx\"", "x.toml:11: method.fault: unknown tool 'kvm-ioctl-fx'");
        refused(GOOD, "\"5s\"", "\"5 parsecs\"", "x.toml:14: method.duration:");
        refused(GOOD, "probes = [\"p\"]", "probes = [\"q\"]", "x.toml:4: steady_state.probes: no probe named 'q'");
        refused(GOOD, "scope = { comm = \"test-vmm\" }\n", "", "x.toml:11: method.scope: a kvm-ioctl-fi fault needs a scope");
        refused(GOOD, "interval", "intervall", "x.toml:5: unknown field `intervall`");
    }

    /// Example `n` (from 1) of kvmfi-experiment.toml(5), as a file: what the
    /// page shows is what these tests check.
    fn man_example(n: usize) -> String {
        let page = crate::schema::man_page("test");
        let block = page.split(".nf\n").nth(n).and_then(|b| b.split("\n.fi\n").next());
        block.unwrap_or_else(|| panic!("the man page has no example {n}")).replace("\\-", "-") + "\n"
    }

    /// The man page's example of faults on every DataNode with the NameNode
    /// probed on its own node, reading cluster file `conf`, and a step of
    /// its own sent to a node by name.
    fn remote(conf: &Path) -> String {
        let example = man_example(2).replace("/etc/kvmfi/cluster.conf", &conf.display().to_string());
        format!("{example}[[method]]\nfault = \"hadoop_injector\"\nargs = [\"hang\", \"nn\"]\nnodes = [\"master\"]\nduration = \"5s\"\n")
    }

    #[test]
    fn the_man_pages_local_example_is_valid() {
        let e = parse(Path::new("x.toml"), &man_example(1)).unwrap();
        assert!(matches!(e.target, Target::Local));
        assert_eq!((e.steady.len(), e.settle), (2, Duration::from_secs(30)));
        assert_eq!(e.faults()[0].describe(), "hadoop_injector crash dn");
    }

    #[test]
    fn nodes_and_roles_resolve_and_unknown_ones_name_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("cluster.conf");
        std::fs::write(&conf, "master,10.0.0.1,22,NameNode\nd1,10.0.0.2,22,DataNode\nd2,10.0.0.3,22,DataNode\n").unwrap();
        let good = remote(&conf);
        let e = parse(Path::new("x.toml"), &good).unwrap();
        assert_eq!(e.faults()[0].nodes, ["d1", "d2"], "[target]'s roles are the default");
        assert_eq!(e.faults()[1].nodes, ["master"], "a step's own nodes win");
        assert_eq!(e.probes[0].node.as_deref(), Some("master"));
        assert_eq!(e.used_nodes(), ["d1", "d2", "master"]);
        refused(&good, "roles = [\"DataNode\"]", "roles = [\"DataNodez\"]", "x.toml:4: target.roles: 'DataNodez' is not a role");
        refused(&good, "nodes = [\"master\"]", "nodes = [\"mastr\"]", "x.toml:19: method.nodes: no node 'mastr' in");
        refused(&good, "node = \"master\"", "node = \"d9\"", "x.toml:10: probe 'namenode'.node: no node 'd9'");
        refused(&good, "nodes = [\"master\"]", "roles = [\"KVMHost\"]", "x.toml:19: method.roles: no node of");
        let (command, tcp) = ("type = \"command\"\nnode = \"master\"\ncommand = [\"pgrep\", \"-f\", \"namenode.NameNode\"]", "type = \"tcp\"\nnode = \"master\"\naddress = \"10.0.0.1:22\"");
        refused(&good, command, tcp, "x.toml:10: probe 'namenode'.node: a tcp probe is made from this host");
        let conf = conf.display().to_string();
        refused(&good, &conf, "/nonexistent/cluster.conf", "x.toml:2: target.cluster_conf: cannot read /nonexistent/cluster.conf");
    }

    #[test]
    fn kernel_framework_and_disk_faults_are_steps() {
        let base = GOOD.split("[[method]]").next().unwrap().to_string();
        let kfail = format!("{base}[[method]]\nfault = \"kfail-fi\"\nscope = {{ tgid = 42 }}\nargs = [\"failslab\", \"--probability\", \"50\"]\nduration = \"5s\"\n");
        let e = parse(Path::new("x.toml"), &kfail).unwrap();
        assert_eq!(e.faults()[0].describe(), "kfail-fi arm --tgid 42 failslab --probability 50 --duration 15000ms");
        assert_eq!(e.faults()[0].class, ToolClass::Injector, "undone by recover ID");
        refused(&kfail, "scope = { tgid = 42 }\n", "", "x.toml:11: method.scope: a kfail-fi fault needs a scope: scope = { tgid = PID }");
        refused(&kfail, "tgid = 42", "comm = \"qemu\"", "x.toml:12: method.scope: kfail-fi scopes by task only");
        refused(&kfail, "args = [\"failslab\", \"--probability\", \"50\"]\n", "", "x.toml:11: method.args: a kfail-fi fault needs its facility");
        refused(&kfail, "\"50\"]", "\"50\", \"--yes\"]", "x.toml:11: method.args: '--yes' is not allowed in args");

        let disk = format!("{base}[[method]]\nfault = \"disk-fi\"\nargs = [\"badblocks\", \"/tmp/d.img\", \"--sectors\", \"8\"]\nduration = \"2s\"\n");
        let e = parse(Path::new("x.toml"), &disk).unwrap();
        assert_eq!(e.faults()[0].describe(), "disk-fi badblocks /tmp/d.img --sectors 8 --duration 12000ms");
        let sectors = "args = [\"badblocks\", \"/tmp/d.img\", \"--sectors\", \"8\"]";
        let needs = "x.toml:11: method.args: a disk-fi fault needs a scope: its command and target, e.g. args = [\"badblocks\"";
        refused(&disk, sectors, "args = [\"badblocks\"]", needs);
        refused(&disk, "duration = \"2s\"", "scope = { tgid = 1 }\nduration = \"2s\"", "x.toml:13: method.scope: disk-fi takes its target in args");
    }

    #[test]
    fn an_ansible_inventory_is_a_cluster_file_too() {
        let dir = tempfile::tempdir().unwrap();
        let inv = dir.path().join("hosts.ini");
        std::fs::write(&inv, "[namenode]\nmaster ansible_host=10.0.0.1\n[datanode]\nd1 ansible_host=10.0.0.2 ansible_user=hdfs\nd2 ansible_host=10.0.0.3\n").unwrap();
        let e = parse(Path::new("x.toml"), &remote(&inv)).unwrap();
        assert_eq!(e.faults()[0].nodes, ["d1", "d2"]);
        let cl = e.cluster.unwrap();
        let d1 = cl.nodes.iter().find(|n| n.name == "d1").unwrap();
        assert_eq!((d1.address.as_str(), d1.user.as_deref()), ("10.0.0.2", Some("hdfs")));
    }
}
