//! Other nodes of cluster.conf: commands run there over SSH through
//! cluster_controller's own session code (key login, host keys checked by
//! default, connect and command time limits). A node is recorded in the run
//! journal with the SSH settings that reached it, so that `recover` after a
//! kill -9 reaches it again the same way.

#[cfg(not(target_env = "musl"))]
use cluster_controller::ssh::{self, Remote};
use kvmfi::clusterconf::{Node, SshSettings};
use kvmfi::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The SSH options of `run` and `recover` (the same as cluster_controller's).
#[derive(clap::Args, Debug, Clone)]
pub struct SshArgs {
    /// Remote account for the target nodes (a node's ansible_user wins; default: ~/.ssh/config's User, else root)
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// Private key to log in to the target nodes with (repeatable; default: ~/.ssh/config's IdentityFile, the agent, then ~/.ssh/id_*)
    #[arg(short = 'i', long, value_name = "KEY")]
    pub identity: Vec<PathBuf>,
    /// Limit for connecting and logging in to a node
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = positive)]
    pub connect_timeout: Duration,
    /// Limit for each remote command (a probe's own timeout wins for probes)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = positive)]
    pub command_timeout: Duration,
    /// Also check host keys against this known_hosts file (read first; new keys are recorded here)
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Record the host key of a node seen for the first time (like ssh's accept-new); changed keys are still refused
    #[arg(long, conflicts_with = "insecure_ignore_host_keys")]
    pub accept_new_host_keys: bool,
    /// Do not check host keys at all: anyone answering on a node's address gets the commands
    #[arg(long)]
    pub insecure_ignore_host_keys: bool,
    /// OpenSSH client configuration to honour (HostName, User, Port, IdentityFile; default ~/.ssh/config; 'none' for none)
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
}

fn positive(text: &str) -> std::result::Result<Duration, String> {
    match kvmfi::units::parse_duration(text)? {
        d if d.is_zero() => Err(format!("'{text}' must be above zero")),
        d => Ok(d),
    }
}

impl SshArgs {
    /// The settings to reach the nodes of a cluster file whose
    /// `known_hosts =` line resolves to `conf_known_hosts`.
    /// Paths are made absolute: `recover` may run from another directory.
    pub fn settings(&self, conf_known_hosts: Option<PathBuf>) -> SshSettings {
        SshSettings {
            user: self.user.clone(),
            identities: self.identity.iter().map(|p| absolute(p)).collect(),
            connect_timeout: self.connect_timeout,
            command_timeout: self.command_timeout,
            known_hosts: self.known_hosts.as_deref().map(absolute),
            conf_known_hosts: conf_known_hosts.as_deref().map(absolute),
            accept_new_host_keys: self.accept_new_host_keys,
            insecure_ignore_host_keys: self.insecure_ignore_host_keys,
            // `none` is a word, not a file.
            ssh_config: self.ssh_config.as_deref().map(|p| if p == Path::new("none") { p.to_path_buf() } else { absolute(p) }),
        }
    }
}

/// `p` joined to the current directory when it is relative.
fn absolute(p: &Path) -> PathBuf {
    if p.is_relative() {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    } else {
        p.to_path_buf()
    }
}

/// A node the run acts on and how to reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRef {
    pub name: String,
    pub address: String,
    pub port: u16,
    #[serde(default)]
    pub port_given: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub ssh: SshSettings,
}

impl NodeRef {
    pub fn new(n: &Node, ssh: &SshSettings) -> NodeRef {
        NodeRef {
            name: n.name.clone(),
            address: n.address.clone(),
            port: n.port,
            port_given: n.port_given,
            user: n.user.clone(),
            ssh: ssh.clone(),
        }
    }

    #[cfg(not(target_env = "musl"))]
    fn node(&self) -> Node {
        Node {
            name: self.name.clone(),
            address: self.address.clone(),
            port: self.port,
            roles: Vec::new(),
            line: 0,
            user: self.user.clone(),
            port_given: self.port_given,
        }
    }

    /// Runs `argv` on the node (words quoted for its shell) within `timeout`.
    pub fn run(&self, argv: &[String], timeout: Duration) -> Result<kvmfi::exec::Output> {
        self.run_line(&kvmfi::exec::display_argv(argv), timeout)
    }

    /// Runs a shell line on the node within `timeout`. A node that cannot
    /// be reached or logged into is an error (host key refusals included).
    #[cfg(not(target_env = "musl"))]
    pub fn run_line(&self, line: &str, timeout: Duration) -> Result<kvmfi::exec::Output> {
        let mut opts = cluster_controller::ssh_opts(&self.ssh, 1)?;
        opts.command_timeout = timeout;
        let res = ssh::run_one(&self.node(), &opts, &Remote::shell("", line))
            .map_err(|e| Error::failed(format!("node {} ({}:{}): {e}", self.name, self.address, self.port)))?;
        let timed_out = res.error.as_deref().is_some_and(|e| e.contains("no answer within"));
        let mut stderr = res.stderr;
        if let Some(e) = &res.error {
            stderr = format!("{e}\n{stderr}");
        }
        Ok(kvmfi::exec::Output { code: res.exit, timed_out, stdout: res.stdout, stderr })
    }

    /// A static musl build has no SSH (no OpenSSL to link).
    #[cfg(target_env = "musl")]
    pub fn run_line(&self, _line: &str, _timeout: Duration) -> Result<kvmfi::exec::Output> {
        Err(Error::unsupported(format!(
            "node {}: this kvmfi-experiment is a static (musl) build without SSH; reach nodes with the regular build",
            self.name
        )))
    }

    /// The node's (CLOCK_BOOTTIME, CLOCK_REALTIME) now, in ns: its kernel
    /// events are stamped with its own boot clock.
    pub fn clocks(&self) -> Result<(u64, u64)> {
        let out = self.run_line("cat /proc/uptime; date +%s%N", Duration::from_secs(30))?;
        let mut lines = out.stdout.lines();
        let boot = lines.next().and_then(|l| l.split_whitespace().next()).and_then(|s| s.parse::<f64>().ok());
        let real = lines.next().and_then(|l| l.trim().parse::<u64>().ok());
        match (boot, real) {
            (Some(b), Some(r)) => Ok(((b * 1e9) as u64, r)),
            _ => Err(Error::failed(format!("node {}: cannot read its clocks", self.name))),
        }
    }

    /// Waits (up to `limit`) until no kvmfi tool of `names` runs on the
    /// node any more, helpers holding a fault (`--kvmfi-tag=`) and
    /// `--follow` readers aside: an injection cut off by a kill -9 of the
    /// run may still be under way there.
    pub fn wait_for_tools(&self, names: &[&str], limit: Duration) -> Result<()> {
        // Tool names are [a-z0-9_-]: nothing to escape in an ERE.
        let alts = names.join("|");
        let tries = (limit.as_millis() / 200).max(1);
        let line = format!(
            "i=0; while [ $i -lt {tries} ] && ps -eo args= | grep -v -e --kvmfi-tag= -e --follow | grep -Eq '^([^ ]*/)?({alts})( |$)'; do sleep 0.2; i=$((i+1)); done"
        );
        let out = self.run_line(&line, limit + Duration::from_secs(30))?;
        if out.ok() {
            Ok(())
        } else {
            Err(Error::failed(format!("node {}: {}", self.name, out.first_error_line())))
        }
    }
}
