//! Preset scenarios: a fault plan over the cluster, and its heal step.
//!
//! Each command of the plan says how it is healed: journaled faults by
//! `recover ID` with the ids the injector printed (so the heal undoes
//! exactly what the scenario did), kernel tools by their `off`.

use crate::ops::{self, if_installed, Outcome};
use crate::ssh::{self, Job, NodeRun, Remote};
use crate::target::Spec;
use crate::{interrupt, Ctx};
use clap::ValueEnum;
use kvmfi::run::out;
use kvmfi::{Error, Result};
use std::time::Duration;

/// The scenarios.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name {
    /// SIGKILL one random DataNode
    DatanodeCrash,
    /// Cut one random DataNode off from every other node
    DatanodePartition,
    /// SIGKILL the NameNode
    NamenodeCrash,
    /// 200 ms delay to the NameNode plus a frozen DataNode
    DelayHang,
    /// CPU load on every DataNode
    CpuStress,
    /// SIGSTOP the ResourceManager
    ResourcemanagerHang,
    /// Delay the management server's API answers
    ApiDelay,
    /// One database connection per cloud account
    DbStarvation,
    /// KVM_RUN of QEMU fails on the KVM hosts
    KvmIoctlDeny,
}

/// Every scenario, in menu order, with its one-line description.
pub const ALL: &[(Name, &str, &str)] = &[
    (Name::DatanodeCrash, "datanode-crash", "SIGKILL one random DataNode; heal starts it again"),
    (Name::DatanodePartition, "datanode-partition", "cut one random DataNode off from every other node; heal reconnects it"),
    (Name::NamenodeCrash, "namenode-crash", "SIGKILL the NameNode; heal starts it again"),
    (Name::DelayHang, "delay-hang", "200 ms delay to the NameNode + SIGSTOP of one DataNode (needs sch_netem); heal undoes both"),
    (Name::CpuStress, "cpu-stress", "CPU load on every DataNode (hadoop_injector cpu-stress-local)"),
    (Name::ResourcemanagerHang, "resourcemanager-hang", "SIGSTOP the ResourceManager; heal sends SIGCONT"),
    (Name::ApiDelay, "api-delay", "delay the management server's API answers (--delay-ms, default 500)"),
    (Name::DbStarvation, "db-starvation", "at most 1 connection per cloud database account; heal restores the limits"),
    (Name::KvmIoctlDeny, "kvm-ioctl-deny", "KVM_RUN of QEMU fails with EPERM on KVMHost nodes with kvm-ioctl-fi; heal disarms"),
];

/// The kebab-case name of a scenario.
pub fn name_of(n: Name) -> &'static str {
    ALL.iter().find(|(x, _, _)| *x == n).map(|(_, s, _)| *s).expect("every scenario is listed")
}

/// `scenario --list`.
pub fn print_list() -> Result<()> {
    for (_, name, about) in ALL {
        out(format!("{name:<22} {about}"))?;
    }
    Ok(())
}

/// How a scenario runs.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Heal by itself after this long.
    pub duration: Option<Duration>,
    /// api-delay's delay.
    pub delay_ms: u32,
    /// Menu: wait for Enter, then heal (unless a duration is given).
    pub wait_enter: bool,
}

/// How one command of the plan is undone.
#[derive(Debug, Clone)]
enum Heal {
    /// `TOOL recover ID` for every id the command printed.
    Recover(String),
    /// Run this.
    Run(Remote),
}

/// A node's part of the plan: commands and their heals, in order.
struct Part {
    job: Job,
    heals: Vec<Heal>,
}

fn part(node: kvmfi::clusterconf::Node, cmds: Vec<(Remote, Heal)>) -> Part {
    let (commands, heals) = cmds.into_iter().unzip();
    Part { job: Job { node, commands, stop_on_error: true }, heals }
}

/// The plan of scenario `name` on the targets (`specs`, else its default).
fn plan(ctx: &mut Ctx, name: Name, specs: &[Spec], o: &Opts) -> Result<Vec<Part>> {
    let h = ctx.g.hadoop_injector.clone();
    let c = ctx.g.cloudstack_injector.clone();
    let k = ctx.g.kvm_ioctl_fi.clone();
    let rec_h = Heal::Recover(h.clone());
    let rec_c = Heal::Recover(c.clone());
    let each = |ctx: &mut Ctx, default: Spec, cmds: &dyn Fn(&kvmfi::clusterconf::Node) -> Vec<(Remote, Heal)>| -> Result<Vec<Part>> {
        let nodes = ctx.select(specs, &default)?;
        Ok(nodes.into_iter().map(|n| {
            let v = cmds(&n);
            part(n, v)
        }).collect())
    };
    let role = |r: &str| Spec::Role(r.into());
    Ok(match name {
        Name::DatanodeCrash => each(ctx, Spec::Random("DataNode".into()), &|_| {
            vec![(Remote::argv("crash dn", &[h.as_str(), "crash", "dn"]), rec_h.clone())]
        })?,
        Name::NamenodeCrash => each(ctx, role("NameNode"), &|_| {
            vec![(Remote::argv("crash nn", &[h.as_str(), "crash", "nn"]), rec_h.clone())]
        })?,
        Name::DatanodePartition => {
            let targets = ctx.select(specs, &Spec::Random("DataNode".into()))?;
            ops::partition_jobs(ctx, &targets, &[])?
                .into_iter()
                .map(|j| {
                    let heals = j.commands.iter().map(|_| rec_h.clone()).collect();
                    Part { job: j, heals }
                })
                .collect()
        }
        Name::DelayHang => {
            let nn = ctx.nodes.iter().find(|n| n.has_role("NameNode")).cloned().ok_or_else(|| {
                Error::usage("delay-hang: no node has role NameNode (the delay is towards it)")
            })?;
            let ip = ops::node_ip(&nn)?.to_string();
            each(ctx, Spec::Random("DataNode".into()), &|_| {
                vec![
                    (Remote::argv(format!("delay {ip} 200"), &[h.as_str(), "delay", ip.as_str(), "200"]), rec_h.clone()),
                    (Remote::argv("hang dn", &[h.as_str(), "hang", "dn"]), rec_h.clone()),
                ]
            })?
        }
        Name::CpuStress => {
            let secs = o.duration.map_or(60, |d| d.as_secs().max(1)).to_string();
            each(ctx, role("DataNode"), &|_| {
                vec![(
                    Remote::argv(format!("cpu-stress-local {secs}"), &[h.as_str(), "cpu-stress-local", secs.as_str()]),
                    rec_h.clone(),
                )]
            })?
        }
        Name::ResourcemanagerHang => each(ctx, role("ResourceManager"), &|_| {
            vec![(Remote::argv("hang rm", &[h.as_str(), "hang", "rm"]), rec_h.clone())]
        })?,
        Name::ApiDelay => {
            let ms = o.delay_ms.to_string();
            each(ctx, role("ManagementServer"), &|_| {
                vec![(Remote::argv(format!("api-delay {ms}"), &[c.as_str(), "api-delay", ms.as_str()]), rec_c.clone())]
            })?
        }
        Name::DbStarvation => {
            let default = if ctx.nodes.iter().any(|n| n.has_role("Database")) { role("Database") } else { role("ManagementServer") };
            each(ctx, default, &|_| {
                vec![(
                    Remote::argv("db-limit --user-connections 1", &[c.as_str(), "db-limit", "--user-connections", "1"]),
                    rec_c.clone(),
                )]
            })?
        }
        Name::KvmIoctlDeny => {
            let mut arm = vec![k.as_str(), "arm", "--comm", "qemu-system-x86", "--cmd", "KVM_RUN"];
            // The kernel disarms by itself too, should this controller die.
            let d = o.duration.map(|d| format!("{}s", d.as_secs().max(1)));
            if let Some(d) = &d {
                arm.extend(["--duration", d.as_str()]);
            }
            each(ctx, role("KVMHost"), &|_| {
                vec![(
                    Remote::shell("kvm-ioctl-fi arm KVM_RUN", if_installed(&k, &arm)),
                    Heal::Run(Remote::shell("kvm-ioctl-fi off", if_installed(&k, &[k.as_str(), "off"]))),
                )]
            })?
        }
    })
}

/// Fault ids an injector printed (`ID<TAB>kind<TAB>target<TAB>desc`).
pub fn printed_ids(stdout: &str) -> Vec<u64> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let id = f.next()?.parse().ok()?;
            f.next()?;
            Some(id)
        })
        .collect()
}

/// The heal jobs for what the inject phase did, newest first per node.
fn heal_jobs(parts: &[Part], runs: &[NodeRun]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (p, r) in parts.iter().zip(runs) {
        let mut commands = Vec::new();
        for (res, heal) in r.results.iter().zip(&p.heals).rev() {
            match heal {
                Heal::Recover(tool) => {
                    for id in printed_ids(&res.stdout).into_iter().rev() {
                        let id = id.to_string();
                        commands.push(Remote::argv(format!("recover {id}"), &[tool.as_str(), "recover", id.as_str()]));
                    }
                }
                // A command that did not start left nothing to undo; one
                // that failed or timed out might have.
                Heal::Run(h) if res.ok() || res.error.is_some() => commands.push(h.clone()),
                Heal::Run(_) => {}
            }
        }
        if !commands.is_empty() {
            jobs.push(Job { node: p.job.node.clone(), commands, stop_on_error: false });
        }
    }
    jobs
}

/// Runs a scenario: inject, then (with a duration, or after Enter in the
/// menu) heal. A signal while waiting heals at once.
pub fn run(ctx: &mut Ctx, name: Name, specs: &[Spec], o: &Opts) -> Result<Outcome> {
    interrupt::install();
    if !o.wait_enter {
        interrupt::take();
    }
    let parts = plan(ctx, name, specs, o)?;
    if parts.is_empty() {
        return Err(Error::usage(format!("{}: no node to act on", name_of(name))));
    }
    if !ctx.g.json {
        let names: Vec<&str> = parts.iter().map(|p| p.job.node.name.as_str()).collect();
        eprintln!("scenario {}: on {}", name_of(name), names.join(", "));
    }
    let runs = ssh::run_all(parts.iter().map(|p| p.job.clone()).collect(), &ctx.ssh);
    let mut outcome = ops::report(ctx, "inject", &runs)?;
    let heals = heal_jobs(&parts, &runs);
    for r in runs.iter().filter(|r| r.results.iter().any(|c| c.error.is_some())) {
        eprintln!("{}: a command did not complete; its fault may be in force: cluster_controller recover -t {}", r.node, r.node);
    }
    if heals.is_empty() {
        return Ok(outcome);
    }
    let mut interrupted = false;
    match o.duration {
        Some(d) => {
            if !ctx.g.json {
                eprintln!("healing in {}s (Ctrl-C heals now)", d.as_secs_f64().round());
            }
            interrupted = !interrupt::sleep(d, |_| {});
        }
        None if o.wait_enter => {
            crate::menu::pause("Scenario in force. Press Enter to heal it: ");
        }
        None => {
            for j in &heals {
                let ids: Vec<&str> = j.commands.iter().map(|c| c.label.as_str()).collect();
                eprintln!("{}: in force; heal with: cluster_controller recover -t {}   ({})", j.node.name, j.node.name, ids.join(", "));
            }
            return Ok(outcome);
        }
    }
    interrupt::take();
    let runs = ssh::run_all(heals, &ctx.ssh);
    let h = ops::report(ctx, "heal", &runs)?;
    outcome.failed += h.failed;
    outcome.unreachable += h.unreachable;
    if interrupted && !o.wait_enter {
        eprintln!("interrupted: healed early");
        std::process::exit(130);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids() {
        assert_eq!(super::printed_ids("3\tcrash\tdn\tSIGKILL pid 5\n4\tnetwork\t10.0.0.1\tdrop\n"), [3, 4]);
        assert_eq!(super::printed_ids("up\n1234abcd\n"), Vec::<u64>::new());
    }
}
