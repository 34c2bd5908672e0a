//! MapReduce tasks: their JVMs (YarnChild map and reduce attempts, the
//! MRAppMaster) killed on a node; YARN runs the attempts again, so nothing
//! is restarted by recover.

use crate::nodes::on_node;
use crate::Env;
use kvmfi::injector::{Component, Ctx};
use kvmfi::journal::{Fault, Step};
use kvmfi::procs::Matcher;
use kvmfi::{Error, Result};

/// MapReduce task attempts: YarnChild with an attempt id holding `marker`.
pub fn task_component(name: &str, marker: &str) -> Component {
    Component {
        name: name.into(),
        matchers: vec![Matcher::JavaMainArg("org.apache.hadoop.mapred.YarnChild".into(), marker.into())],
        restart_command: None,
    }
}

/// SIGKILL of MapReduce task JVMs (map, reduce, am): YARN runs the
/// attempts again, so nothing is restarted by recover.
pub fn kill_tasks(ctx: &Ctx, c: &Component) -> Result<()> {
    let ps = c.processes();
    if ps.is_empty() {
        return Err(Error::not_found(format!("no '{}' task is running on this node (looked for {})", c.name, c.describe())));
    }
    ctx.inject(|_| {
        Ok(Fault {
            kind: format!("crash-{}", c.name),
            target: c.name.clone(),
            desc: format!(
                "SIGKILL pid {} (YARN re-runs the attempts; recover restarts nothing)",
                ps.iter().map(|p| p.pid.to_string()).collect::<Vec<_>>().join(",")
            ),
            apply: ps
                .iter()
                .map(|p| Step::Signal {
                    pid: p.pid,
                    starttime: p.starttime,
                    signal: "KILL".into(),
                    what: format!("{} {}", c.name, p.cmdline.iter().find(|a| a.starts_with("attempt_")).cloned().unwrap_or_default()),
                })
                .collect(),
            undo: Vec::new(),
        })
    })
}

/// `crash-map`/`crash-reduce SLAVE` (`None`: the `-local` form, here):
/// kills the tasks of component `name` (`map`, `reduce`).
pub fn crash(env: &Env, name: &str, slave: Option<&str>) -> Result<()> {
    match slave {
        None => kill_tasks(&env.ctx, env.comp(name)),
        Some(s) => on_node(env, s, &format!("crash-{name}"), vec![format!("crash-{name}-local")], None, |_| {
            kill_tasks(&env.ctx, env.comp(name))
        }),
    }
}
