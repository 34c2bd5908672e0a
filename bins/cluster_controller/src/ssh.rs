//! SSH to the nodes with the `ssh2` crate: one connection per node per
//! run, key authentication, a connect timeout (a dropped port would hang
//! forever otherwise) and a time limit on every remote command; the nodes
//! are worked on in parallel, one thread each.

use kvmfi::clusterconf::Node;
use serde::Serialize;
use crate::hostkeys::HostKeys;
use crate::sshconfig::SshConfig;
use ssh2::Session;
use std::io::Read;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How to reach the nodes.
#[derive(Debug, Clone)]
pub struct SshOpts {
    /// Remote account from the command line; a node's own (an inventory's
    /// ansible_user) wins, else ~/.ssh/config's User, else root.
    pub user: Option<String>,
    /// Private keys to offer, in order; empty: ~/.ssh/config's
    /// IdentityFile, the ssh agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
    pub identities: Vec<PathBuf>,
    /// Limit for TCP connect, SSH handshake and authentication together.
    pub connect_timeout: Duration,
    /// Limit for each remote command.
    pub command_timeout: Duration,
    /// How host keys are checked.
    pub host_keys: HostKeys,
    /// ~/.ssh/config (HostName, User, Port, IdentityFile).
    pub ssh_config: SshConfig,
    /// At most this many nodes at once.
    pub parallel: usize,
}

/// A command to run on a node: argv words (quoted for the remote shell)
/// or a shell line.
#[derive(Debug, Clone)]
pub struct Remote {
    /// What it is, for the report (`crash dn`, `network 10.0.0.3`).
    pub label: String,
    /// The line given to the remote shell.
    pub line: String,
}

impl Remote {
    /// A command from argv words, each quoted for the remote shell.
    pub fn argv<S: AsRef<str>>(label: impl Into<String>, words: &[S]) -> Remote {
        Remote { label: label.into(), line: kvmfi::exec::display_argv(words) }
    }
    /// A raw shell line.
    pub fn shell(label: impl Into<String>, line: impl Into<String>) -> Remote {
        Remote { label: label.into(), line: line.into() }
    }
}

/// What one remote command did.
#[derive(Debug, Clone, Serialize)]
pub struct CmdResult {
    pub label: String,
    pub command: String,
    /// Exit status; `None` when it could not run or timed out.
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Why it did not complete (timeout, channel error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CmdResult {
    /// True when it ran and exited 0.
    pub fn ok(&self) -> bool {
        self.exit == Some(0)
    }
    /// One line saying why it failed: its error, else its last stderr line.
    pub fn why(&self) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        let last = self.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        match self.exit {
            Some(c) if last.is_empty() => format!("exit status {c}"),
            Some(c) => format!("exit status {c}: {last}"),
            None => "did not complete".into(),
        }
    }
}

/// What happened on one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeRun {
    pub node: String,
    pub address: String,
    pub port: u16,
    /// False when the node could not be reached or logged into.
    pub reachable: bool,
    /// Why it was not reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub results: Vec<CmdResult>,
    /// Wall time on this node, connection included.
    pub millis: u64,
}

impl NodeRun {
    /// True when the node was reached and every command exited 0.
    pub fn ok(&self) -> bool {
        self.reachable && self.results.iter().all(CmdResult::ok)
    }
}

/// Host key types in OpenSSH's order of preference.
const HOST_KEY_ORDER: &str =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

/// An open, authenticated connection.
pub struct Conn {
    sess: Session,
    timeout: Duration,
}

fn addr_of(host: &str, port: u16) -> Result<SocketAddr, String> {
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    addrs.next().ok_or_else(|| format!("{host} has no address"))
}

fn default_identities() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME") else { return Vec::new() };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|k| PathBuf::from(&home).join(".ssh").join(k))
        .filter(|p| p.exists())
        .collect()
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s}s")
    }
}

/// Milliseconds for libssh2 (0 would mean "no limit"; never pass that).
fn ms(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}

impl Conn {
    /// Connects and logs in, all within `o.connect_timeout`.
    pub fn open(node: &Node, o: &SshOpts) -> Result<Conn, String> {
        let start = Instant::now();
        // ~/.ssh/config applies to the node's address as a Host alias.
        let hc = o.ssh_config.for_host(&node.address);
        let host = hc.hostname.clone().unwrap_or_else(|| node.address.clone());
        let port = if node.port_given { node.port } else { hc.port.unwrap_or(node.port) };
        let addr = addr_of(&host, port)?;
        let tcp = TcpStream::connect_timeout(&addr, o.connect_timeout).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock {
                format!("connect to {addr}: no answer within {}", secs(o.connect_timeout))
            } else {
                format!("connect to {addr}: {e}")
            }
        })?;
        let _ = tcp.set_nodelay(true);
        let mut sess = Session::new().map_err(|e| format!("ssh session: {e}"))?;
        sess.set_tcp_stream(tcp);
        let left = o.connect_timeout.saturating_sub(start.elapsed()).max(Duration::from_millis(1));
        sess.set_timeout(ms(left));
        // OpenSSH's order of host key types (libssh2 would take ECDSA
        // first): a known_hosts written by ssh holds the ed25519 key, and a
        // node that also has others must offer that one.
        let _ = sess.method_pref(ssh2::MethodType::HostKey, HOST_KEY_ORDER);
        sess.handshake().map_err(|e| format!("ssh handshake with {addr}: {}", e.message()))?;
        o.host_keys.check(&sess, &host, port)?;
        let user = node.user.as_deref().or(o.user.as_deref()).or(hc.user.as_deref()).unwrap_or("root");
        let ids = if o.identities.is_empty() { default_identities() } else { o.identities.clone() };
        let mut why = Vec::new();
        if o.identities.is_empty() {
            for key in hc.identity_files.iter().filter(|k| k.exists()) {
                if sess.authenticated() {
                    break;
                }
                if let Err(e) = sess.userauth_pubkey_file(user, None, key, None) {
                    why.push(format!("{}: {}", key.display(), e.message()));
                }
            }
            if !sess.authenticated() {
                match sess.userauth_agent(user) {
                    Ok(()) if sess.authenticated() => {}
                    Ok(()) => why.push("agent: no key accepted".to_string()),
                    Err(e) => why.push(format!("agent: {}", e.message())),
                }
            }
        }
        for key in &ids {
            if sess.authenticated() {
                break;
            }
            if let Err(e) = sess.userauth_pubkey_file(user, None, key, None) {
                why.push(format!("{}: {}", key.display(), e.message()));
            }
        }
        if !sess.authenticated() {
            if ids.is_empty() && o.identities.is_empty() {
                why.push("no key in ~/.ssh (give --identity)".into());
            }
            return Err(format!("ssh login as {user}@{addr} refused ({})", why.join("; ")));
        }
        sess.set_timeout(ms(o.command_timeout));
        Ok(Conn { sess, timeout: o.command_timeout })
    }

    /// Runs one command; its stdout and stderr are collected whole.
    pub fn run(&self, r: &Remote) -> CmdResult {
        let mut res = CmdResult {
            label: r.label.clone(),
            command: r.line.clone(),
            exit: None,
            stdout: String::new(),
            stderr: String::new(),
            error: None,
        };
        let timeout = |e: ssh2::Error| -> String {
            if matches!(e.code(), ssh2::ErrorCode::Session(-9)) {
                format!("no answer within {} (--command-timeout)", secs(self.timeout))
            } else {
                e.message().to_string()
            }
        };
        let io_err = |e: std::io::Error| -> String {
            if e.kind() == std::io::ErrorKind::TimedOut {
                format!("no answer within {} (--command-timeout)", secs(self.timeout))
            } else {
                e.to_string()
            }
        };
        let mut ch = match self.sess.channel_session() {
            Ok(c) => c,
            Err(e) => {
                res.error = Some(format!("cannot open a channel: {}", timeout(e)));
                return res;
            }
        };
        if let Err(e) = ch.exec(&r.line) {
            res.error = Some(format!("cannot start the command: {}", timeout(e)));
            return res;
        }
        let mut out = Vec::new();
        if let Err(e) = ch.read_to_end(&mut out) {
            res.error = Some(io_err(e));
            return res;
        }
        let mut err = Vec::new();
        if let Err(e) = ch.stderr().read_to_end(&mut err) {
            res.error = Some(io_err(e));
            return res;
        }
        res.stdout = String::from_utf8_lossy(&out).into_owned();
        res.stderr = String::from_utf8_lossy(&err).into_owned();
        if let Err(e) = ch.wait_close() {
            res.error = Some(timeout(e));
            return res;
        }
        match ch.exit_status() {
            Ok(c) => res.exit = Some(c),
            Err(e) => res.error = Some(e.message().to_string()),
        }
        res
    }
}

/// A unit of work on one node: the commands to run, in order, in one
/// connection. `stop_on_error` skips the rest after a failing command.
#[derive(Debug, Clone)]
pub struct Job {
    pub node: Node,
    pub commands: Vec<Remote>,
    pub stop_on_error: bool,
}

/// Runs every job, the nodes in parallel (at most `o.parallel` at once),
/// the commands of one node in order over one connection. The reports come
/// back in the order of `jobs`.
pub fn run_all(jobs: Vec<Job>, o: &SshOpts) -> Vec<NodeRun> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let n = jobs.len();
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<NodeRun>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let workers = o.parallel.clamp(1, n.max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let r = run_job(&jobs[i], o);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()).expect("every job ran"))
        .collect()
}

fn run_job(job: &Job, o: &SshOpts) -> NodeRun {
    let start = Instant::now();
    let mut run = NodeRun {
        node: job.node.name.clone(),
        address: job.node.address.clone(),
        port: job.node.port,
        reachable: false,
        error: None,
        results: Vec::new(),
        millis: 0,
    };
    match Conn::open(&job.node, o) {
        Err(e) => run.error = Some(e),
        Ok(conn) => {
            run.reachable = true;
            for c in &job.commands {
                let r = conn.run(c);
                let stop = !r.ok() && (job.stop_on_error || r.error.is_some());
                run.results.push(r);
                if stop {
                    break;
                }
            }
            let _ = conn.sess.disconnect(None, "kvmfi cluster_controller done", None);
        }
    }
    run.millis = start.elapsed().as_millis() as u64;
    run
}

/// Runs one command on one node over a connection of its own (opened,
/// used, closed): for callers that reach a node now and then rather than
/// all nodes at once.
pub fn run_one(node: &Node, o: &SshOpts, r: &Remote) -> Result<CmdResult, String> {
    let conn = Conn::open(node, o)?;
    let res = conn.run(r);
    let _ = conn.sess.disconnect(None, "kvmfi done", None);
    Ok(res)
}
