//! The actions behind the subcommands and the menu: what runs on which
//! node, and the per-node report.

use crate::ssh::{self, CmdResult, Job, NodeRun, Remote};
use crate::target::Spec;
use crate::{Ctx, InjTool};
use kvmfi::clusterconf::Node;
use kvmfi::run::{out, out_json};
use kvmfi::{Error, Result};
use serde::Serialize;
use std::net::{IpAddr, ToSocketAddrs};

/// What an action ended with, for the exit status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    /// Nodes worked on.
    pub nodes: usize,
    /// Nodes not reached.
    pub unreachable: usize,
    /// Nodes reached where a command failed.
    pub failed: usize,
}

impl Outcome {
    /// Adds up the runs of one phase.
    pub fn of(runs: &[NodeRun]) -> Outcome {
        let mut o = Outcome { nodes: runs.len(), ..Outcome::default() };
        for r in runs {
            if !r.reachable {
                o.unreachable += 1;
            } else if !r.ok() {
                o.failed += 1;
            }
        }
        o
    }
    /// True when everything succeeded.
    pub fn ok(&self) -> bool {
        self.unreachable == 0 && self.failed == 0
    }
}

/// Exit status of a subcommand: 1 when any node failed or was unreachable.
pub fn finish(o: Outcome) -> Result<()> {
    if o.ok() {
        return Ok(());
    }
    Err(Error::failed(format!(
        "{} of {} node(s) failed, {} unreachable; see the report above",
        o.failed, o.nodes, o.unreachable
    )))
}

/// `nodes`: the cluster file, checked, one node a line.
pub fn nodes(ctx: &Ctx) -> Result<()> {
    if ctx.g.json {
        for n in &ctx.nodes {
            out_json(n)?;
        }
        return Ok(());
    }
    out(format!("# {} node(s) from {}", ctx.nodes.len(), ctx.source))?;
    for n in &ctx.nodes {
        // An inventory's ansible_user comes fifth (cluster_manage.sh reads it).
        match &n.user {
            None => out(format!("{}\t{}\t{}\t{}", n.name, n.address, n.port, n.roles.join(",")))?,
            Some(u) => out(format!("{}\t{}\t{}\t{}\t{u}", n.name, n.address, n.port, n.roles.join(",")))?,
        }
    }
    Ok(())
}

/// The injector that keeps a node's journal for `status` and `recover`:
/// hadoop_injector unless the node has only CloudStack roles. (The journal
/// is shared by every kvmfi tool of a node, so either one sees it all.)
pub fn journal_tool(ctx: &Ctx, n: &Node) -> String {
    if n.is_cloudstack() && !n.is_hadoop() {
        ctx.g.cloudstack_injector.clone()
    } else {
        ctx.g.hadoop_injector.clone()
    }
}

/// A remote line that runs `words` only if the program is installed there,
/// else says it was skipped (exit 0).
pub fn if_installed(prog: &str, words: &[&str]) -> String {
    let p = kvmfi::exec::shell_quote(prog);
    format!(
        "if command -v {p} >/dev/null 2>&1; then {}; else echo '{prog} is not installed on this node; skipped' >&2; fi",
        kvmfi::exec::display_argv(words)
    )
}

/// Prints the per-node report of one phase (text or JSON lines).
pub fn report(ctx: &Ctx, phase: &str, runs: &[NodeRun]) -> Result<Outcome> {
    #[derive(Serialize)]
    struct Line<'a> {
        phase: &'a str,
        ok: bool,
        #[serde(flatten)]
        run: &'a NodeRun,
    }
    for r in runs {
        if ctx.g.json {
            out_json(&Line { phase, ok: r.ok(), run: r })?;
            continue;
        }
        let head = format!("{} {}:{}", r.node, r.address, r.port);
        if !r.reachable {
            out(format!("{head} UNREACHABLE ({} ms): {}", r.millis, r.error.as_deref().unwrap_or("?")))?;
            continue;
        }
        out(format!("{head} {} ({} ms)", if r.ok() { "ok" } else { "FAILED" }, r.millis))?;
        for c in &r.results {
            print_result(c)?;
        }
    }
    let o = Outcome::of(runs);
    if !ctx.g.json {
        let names = |f: &dyn Fn(&NodeRun) -> bool| -> String {
            let v: Vec<&str> = runs.iter().filter(|r| f(r)).map(|r| r.node.as_str()).collect();
            if v.is_empty() {
                "-".into()
            } else {
                v.join(",")
            }
        };
        eprintln!(
            "{phase}: {} of {} node(s) ok; failed: {}; unreachable: {}",
            o.nodes - o.failed - o.unreachable,
            o.nodes,
            names(&|r| r.reachable && !r.ok()),
            names(&|r| !r.reachable)
        );
    }
    Ok(o)
}

fn print_result(c: &CmdResult) -> Result<()> {
    if !c.ok() {
        return out(format!("  {}: FAILED: {}", c.label, c.why()));
    }
    let lines: Vec<&str> = c.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        out(format!("  {}: ok", c.label))?;
    }
    for l in lines {
        out(format!("  {}: {}", c.label, l))?;
    }
    for l in c.stderr.lines().filter(|l| !l.trim().is_empty()) {
        out(format!("  {}: note: {}", c.label, l.trim()))?;
    }
    Ok(())
}

/// The Hadoop / CloudStack component short names of a role.
pub fn role_component(role: &str) -> Option<(InjTool, &'static str)> {
    Some(match role {
        "NameNode" => (InjTool::Hadoop, "nn"),
        "DataNode" => (InjTool::Hadoop, "dn"),
        "SecondaryNameNode" => (InjTool::Hadoop, "snn"),
        "ResourceManager" => (InjTool::Hadoop, "rm"),
        "NodeManager" => (InjTool::Hadoop, "nm"),
        "JobHistoryServer" => (InjTool::Hadoop, "jhs"),
        "ManagementServer" => (InjTool::Cloudstack, "ms"),
        "Agent" => (InjTool::Cloudstack, "agent"),
        "UsageServer" => (InjTool::Cloudstack, "usage"),
        "Database" => (InjTool::Cloudstack, "mysql"),
        "NFS" => (InjTool::Cloudstack, "nfs"),
        _ => return None,
    })
}

/// The role whose daemon is component `comp` of `tool`.
pub fn component_role(tool: InjTool, comp: &str) -> Option<&'static str> {
    kvmfi::clusterconf::ROLES.iter().copied().find(|r| role_component(r) == Some((tool, comp)))
}

/// One node in `status`.
#[derive(Serialize, Debug, Clone)]
pub struct NodeStatus {
    pub node: String,
    pub address: String,
    pub port: u16,
    pub roles: Vec<String>,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Daemons found (`list --json` rows of the injectors, with `tool`).
    pub daemons: Vec<serde_json::Value>,
    /// Components its roles call for that are not running.
    pub missing: Vec<String>,
    /// Faults in force on the node (its journal, every tool).
    pub faults: Vec<serde_json::Value>,
    /// Commands that failed while asking.
    pub problems: Vec<String>,
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Asks every target node what runs and what is in force.
pub fn collect_status(ctx: &mut Ctx, specs: &[Spec]) -> Result<Vec<NodeStatus>> {
    let nodes = ctx.select(specs, &Spec::All)?;
    let jobs: Vec<Job> = nodes
        .iter()
        .map(|n| {
            let mut commands = Vec::new();
            if n.is_hadoop() {
                commands.push(Remote::argv("hadoop", &[ctx.g.hadoop_injector.as_str(), "list", "--json"]));
            }
            if n.is_cloudstack() {
                commands.push(Remote::argv("cloudstack", &[ctx.g.cloudstack_injector.as_str(), "list", "--json"]));
            }
            commands.push(Remote::argv("faults", &[journal_tool(ctx, n).as_str(), "status", "--all", "--json"]));
            Job { node: n.clone(), commands, stop_on_error: false }
        })
        .collect();
    let runs = ssh::run_all(jobs, &ctx.ssh);
    Ok(nodes
        .iter()
        .zip(runs)
        .map(|(n, r)| {
            let mut s = NodeStatus {
                node: n.name.clone(),
                address: n.address.clone(),
                port: n.port,
                roles: n.roles.clone(),
                reachable: r.reachable,
                error: r.error.clone(),
                daemons: Vec::new(),
                missing: Vec::new(),
                faults: Vec::new(),
                problems: Vec::new(),
            };
            for c in &r.results {
                if !c.ok() {
                    s.problems.push(format!("{}: {}", c.command, c.why()));
                }
                match c.label.as_str() {
                    "faults" => s.faults = json_lines(&c.stdout),
                    tool => {
                        for mut d in json_lines(&c.stdout) {
                            if let Some(o) = d.as_object_mut() {
                                o.insert("tool".into(), tool.into());
                            }
                            s.daemons.push(d);
                        }
                    }
                }
            }
            if r.reachable {
                for role in &n.roles {
                    let Some((tool, comp)) = role_component(role) else { continue };
                    let asked = r.results.iter().any(|c| {
                        c.ok() && c.label == if tool == InjTool::Hadoop { "hadoop" } else { "cloudstack" }
                    });
                    let found = s.daemons.iter().any(|d| d["component"] == comp);
                    if asked && !found {
                        s.missing.push(comp.to_string());
                    }
                }
            }
            s
        })
        .collect())
}

/// `status`: a table (or JSON lines), plus the faults in force per node.
pub fn status(ctx: &mut Ctx, specs: &[Spec]) -> Result<Outcome> {
    let all = collect_status(ctx, specs)?;
    print_status(ctx, &all)?;
    Ok(Outcome {
        nodes: all.len(),
        unreachable: all.iter().filter(|s| !s.reachable).count(),
        failed: all.iter().filter(|s| s.reachable && !s.problems.is_empty()).count(),
    })
}

/// Prints `status` results.
pub fn print_status(ctx: &Ctx, all: &[NodeStatus]) -> Result<()> {
    if ctx.g.json {
        for s in all {
            out_json(s)?;
        }
        return Ok(());
    }
    out(format!("{:<12} {:<21} {:<11} {:<36} {:<34} FAULTS", "NODE", "ADDRESS", "STATE", "ROLES", "DAEMONS"))?;
    for s in all {
        let addr = format!("{}:{}", s.address, s.port);
        if !s.reachable {
            out(format!(
                "{:<12} {:<21} {:<11} {:<36} {}",
                s.node,
                addr,
                "UNREACHABLE",
                s.roles.join(","),
                s.error.as_deref().unwrap_or("")
            ))?;
            continue;
        }
        let mut daemons: Vec<String> = s
            .daemons
            .iter()
            .map(|d| {
                format!(
                    "{}:{}{}",
                    d["component"].as_str().unwrap_or("?"),
                    d["pid"],
                    if d["state"] == "stopped" { "(stopped)" } else { "" }
                )
            })
            .collect();
        daemons.extend(s.missing.iter().map(|m| format!("{m}:DOWN")));
        let state = if s.problems.is_empty() { "up" } else { "up,errors" };
        out(format!(
            "{:<12} {:<21} {:<11} {:<36} {:<34} {}",
            s.node,
            addr,
            state,
            s.roles.join(","),
            if daemons.is_empty() { "-".into() } else { daemons.join(" ") },
            s.faults.len()
        ))?;
    }
    for s in all {
        for f in &s.faults {
            out(format!(
                "  {} fault {}: {} {} {} ({})",
                s.node,
                f["id"],
                f["tool"].as_str().unwrap_or("?"),
                f["kind"].as_str().unwrap_or("?"),
                f["target"].as_str().unwrap_or("?"),
                f["desc"].as_str().unwrap_or("")
            ))?;
        }
        for p in &s.problems {
            out(format!("  {} error: {p}", s.node))?;
        }
    }
    Ok(())
}

/// The nodes an `inject` acts on without --target: for crash / hang /
/// resume of a component, the nodes whose role runs it; else every node of
/// the tool's kind (KVMHost for kvm-ioctl).
pub fn default_inject_target(tool: InjTool, args: &[String]) -> Spec {
    if let (Some(cmd), Some(comp)) = (args.first(), args.get(1)) {
        if matches!(cmd.as_str(), "crash" | "hang" | "resume") {
            if let Some(role) = component_role(tool, comp) {
                return Spec::Role(role.into());
            }
        }
    }
    match tool {
        InjTool::KvmIoctl | InjTool::Vm => Spec::Role("KVMHost".into()),
        _ => Spec::All,
    }
}

/// The jobs of an `inject`.
pub fn inject_jobs(ctx: &mut Ctx, specs: &[Spec], tool: InjTool, args: &[String]) -> Result<Vec<Job>> {
    if args.is_empty() {
        return Err(Error::usage(format!("inject {}: give the injector's command, e.g. crash dn", tool_name(tool))));
    }
    let default = default_inject_target(tool, args);
    let nodes = ctx.select(specs, &default)?;
    let label = args.join(" ");
    let mut words = vec![ctx.path(tool).to_string()];
    if tool == InjTool::Vm {
        words.push("node-local".into());
    }
    words.extend(args.iter().cloned());
    Ok(nodes
        .into_iter()
        .map(|node| Job { node, commands: vec![Remote::argv(label.clone(), &words)], stop_on_error: true })
        .collect())
}

/// `inject`.
pub fn inject(ctx: &mut Ctx, specs: &[Spec], tool: InjTool, args: &[String]) -> Result<Outcome> {
    let jobs = inject_jobs(ctx, specs, tool, args)?;
    let runs = ssh::run_all(jobs, &ctx.ssh);
    report(ctx, "inject", &runs)
}

/// The short name of an injector.
pub fn tool_name(t: InjTool) -> &'static str {
    match t {
        InjTool::Hadoop => "hadoop",
        InjTool::Cloudstack => "cloudstack",
        InjTool::KvmIoctl => "kvm-ioctl",
        InjTool::Vm => "vm",
    }
}

/// The IP address of a node (its address, resolved here when a name).
pub fn node_ip(n: &Node) -> Result<IpAddr> {
    if let Ok(ip) = n.address.parse() {
        return Ok(ip);
    }
    (n.address.as_str(), n.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
        .ok_or_else(|| Error::failed(format!("cannot resolve {} (node {})", n.address, n.name)))
}

/// The jobs of a partition: each target runs `network PEER` for every peer
/// (default: the address of every node not targeted).
pub fn partition_jobs(ctx: &Ctx, targets: &[Node], peers: &[IpAddr]) -> Result<Vec<Job>> {
    let mut default_peers = Vec::new();
    if peers.is_empty() {
        for n in ctx.nodes.iter().filter(|n| !targets.iter().any(|t| t.name == n.name)) {
            let ip = node_ip(n)?;
            if !default_peers.contains(&ip) {
                default_peers.push(ip);
            }
        }
    }
    let peers = if peers.is_empty() { &default_peers } else { peers };
    if peers.is_empty() {
        return Err(Error::usage(
            "nothing to cut the targets off from: every node is a target; name the other side with --peer ADDR",
        ));
    }
    let mut jobs = Vec::new();
    for t in targets {
        let own = node_ip(t)?;
        let commands: Vec<Remote> = peers
            .iter()
            .filter(|p| **p != own)
            .map(|p| {
                let ip = p.to_string();
                Remote::argv(format!("network {ip}"), &[ctx.g.hadoop_injector.as_str(), "network", ip.as_str()])
            })
            .collect();
        jobs.push(Job { node: t.clone(), commands, stop_on_error: true });
    }
    Ok(jobs)
}

/// `partition`.
pub fn partition(ctx: &mut Ctx, specs: &[Spec], peers: &[IpAddr]) -> Result<Outcome> {
    if specs.is_empty() {
        return Err(Error::usage(
            "partition: say which nodes to cut off with --target (e.g. random:DataNode, minority, NAME)",
        ));
    }
    let targets = ctx.select(specs, &Spec::All)?;
    let jobs = partition_jobs(ctx, &targets, peers)?;
    let runs = ssh::run_all(jobs, &ctx.ssh);
    report(ctx, "partition", &runs)
}

/// The jobs of `recover`: `recover --all` of the node's journal, and on
/// KVMHost nodes `kvm-ioctl-fi off` where it is installed.
pub fn recover_jobs(ctx: &mut Ctx, specs: &[Spec]) -> Result<Vec<Job>> {
    let nodes = ctx.select(specs, &Spec::All)?;
    Ok(nodes
        .into_iter()
        .map(|n| {
            let mut commands = vec![Remote::argv("recover", &[journal_tool(ctx, &n).as_str(), "recover", "--all"])];
            if n.has_role("KVMHost") {
                commands.push(Remote::shell("kvm-ioctl off", if_installed(&ctx.g.kvm_ioctl_fi, &[&ctx.g.kvm_ioctl_fi, "off"])));
            }
            Job { node: n, commands, stop_on_error: false }
        })
        .collect())
}

/// `recover`: every node, everything; unreachable nodes are listed.
pub fn recover(ctx: &mut Ctx, specs: &[Spec]) -> Result<Outcome> {
    let jobs = recover_jobs(ctx, specs)?;
    let runs = ssh::run_all(jobs, &ctx.ssh);
    report(ctx, "recover", &runs)
}
