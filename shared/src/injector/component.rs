//! A daemon an injector targets, and how it is recognised in /proc: by
//! exact Java main class or by command name; `--main-class` changes the
//! table.

use crate::error::{Error, Result};
use crate::host::procs::{self, Matcher, Proc};

/// A daemon kind an injector can target, e.g. `nn` = NameNode.
#[derive(Debug, Clone)]
pub struct Component {
    /// Short name used on the command line (`nn`, `ms`, ...).
    pub name: String,
    /// Any of these recognises the daemon.
    pub matchers: Vec<Matcher>,
    /// For daemons that are kernel threads (no command line to record, e.g.
    /// nfsd): the command that starts them again after `crash`, with
    /// `{count}` replaced by the number of threads that were killed.
    pub restart_command: Option<Vec<String>>,
}

impl Component {
    /// A component recognised by exact Java main class(es).
    pub fn java(name: &str, classes: &[&str]) -> Component {
        Component {
            name: name.into(),
            matchers: classes.iter().map(|c| Matcher::JavaMain(c.to_string())).collect(),
            restart_command: None,
        }
    }
    /// A component recognised by command name(s).
    pub fn command(name: &str, names: &[&str]) -> Component {
        Component {
            name: name.into(),
            matchers: vec![Matcher::Command(names.iter().map(|s| s.to_string()).collect())],
            restart_command: None,
        }
    }
    /// Its live processes.
    pub fn processes(&self) -> Vec<Proc> {
        let me = std::process::id() as i32;
        procs::all().into_iter().filter(|p| p.pid != me && self.matchers.iter().any(|m| m.matches(p))).collect()
    }
    /// What it is matched by, for messages.
    pub fn describe(&self) -> String {
        self.matchers.iter().map(Matcher::describe).collect::<Vec<_>>().join(" or ")
    }
    /// What matched `p` (main class or command name), for `list`.
    pub fn identity(&self, p: &Proc) -> String {
        p.java_main().unwrap_or_else(|| p.comm.clone())
    }
}

/// Applies `COMP=CLASS` overrides (`--main-class`) to a component table.
pub fn override_classes(table: &mut [Component], overrides: &[String]) -> Result<()> {
    for o in overrides {
        let (name, class) = o
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--main-class '{o}': write COMPONENT=CLASS, e.g. nn=org.example.NameNode")))?;
        if class.is_empty() || class.contains(char::is_whitespace) {
            return Err(Error::usage(format!("--main-class '{o}': the class name must be one word")));
        }
        let names: Vec<String> = table.iter().map(|c| c.name.clone()).collect();
        let comp = table.iter_mut().find(|c| c.name == name).ok_or_else(|| {
            Error::usage(format!("--main-class '{o}': unknown component '{name}'; use one of {}", names.join(", ")))
        })?;
        comp.matchers = class.split(',').map(|c| Matcher::JavaMain(c.to_string())).collect();
    }
    Ok(())
}
