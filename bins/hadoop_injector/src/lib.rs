//! hadoop_injector: faults for the Hadoop daemons of this node, every one
//! journaled before it is applied and undone by `recover`.
//!
//! The clap definition is [`command()`] (the man page is generated from
//! it); [`run`] is the whole tool, called by the one-line `main.rs`.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use kvmfi::exec;
use kvmfi::injector::{self, Common, Component, Ctx, RecoverArgs, StatusArgs};
use kvmfi::journal::{Fault, Step};
use kvmfi::netfault::{self, Target};
use kvmfi::run::out;
use kvmfi::{Error, Result};
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The tool's name in messages and in the journal.
pub const TOOL: &str = "hadoop_injector";
/// Where the NodeManager health marker lives unless --marker says otherwise.
pub const DEFAULT_MARKER: &str = "/var/lib/kvmfi/nm-health";

const AFTER_LONG_HELP: &str = "\
COMPONENTS:
  nn   NameNode            org.apache.hadoop.hdfs.server.namenode.NameNode
  dn   DataNode            org.apache.hadoop.hdfs.server.datanode.DataNode (or ...SecureDataNodeStarter)
  snn  SecondaryNameNode   org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode
  rm   ResourceManager     org.apache.hadoop.yarn.server.resourcemanager.ResourceManager
  nm   NodeManager         org.apache.hadoop.yarn.server.nodemanager.NodeManager
  jhs  JobHistoryServer    org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer
Daemons are found in /proc by their exact Java main class, so NameNode never matches SecondaryNameNode; --main-class COMP=CLASS changes the table. The hdfs and yarn launchers are the cluster's own, from PATH or $HADOOP_HOME/bin.

UNDO:
Every change is written to the journal, with how to undo it, before it is made (fsync'ed). 'recover' undoes everything still in force, newest first, even after the injector was killed half-way; undo steps are idempotent, so a second 'recover' does nothing. 'status' shows what is in force; 'recover ID' undoes one fault.
crash: the journal keeps the daemon's argv, working directory, environment, uid and gid, and 'recover' starts it again the same way (unless a process with the same command line already runs), so a crash never leaves the node without its daemon; the output of a restarted daemon goes to <journal dir>/logs/.
hang: 'resume' or 'recover' sends SIGCONT only to the very process that was stopped (pid and start time must both match).
network: DROP rules live only in nftables table 'inet kvmfi' (iptables chain KVMFI when nft is absent), each commented kvmfi-ID; nothing else is touched. 'recover' run from another network namespace undoes them in the one they were made in.
hdfs-safe enter: journaled only if safe mode was off before; yarn-health ok/recover put the marker's previous content back (or remove it if it did not exist).

EXIT STATUS:
  0  success (also when the output pipe was closed by the reader)
  1  the operation failed (a command or the kernel refused it)
  2  usage error: bad command, component, address or number; nothing changed
  3  not root (every command but list, status and --dry-run needs root)
  4  a host tool is missing (nft or iptables, hdfs, yarn)
  5  the daemon is not running on this node, or no such fault id

ENVIRONMENT:
  KVMFI_STATE_DIR             journal directory (default /var/lib/kvmfi/journal)
  HADOOP_HOME                 where bin/hdfs and bin/yarn are, when not on PATH
  KVMFI_FIREWALL=iptables     use the iptables fallback even where nft exists
  KVMFI_TEST_DIE_AFTER_APPLY  TEST ONLY: 1 makes the tool SIGKILL itself right after applying a change

FILES:
  /var/lib/kvmfi/journal/journal.jsonl  the journal: JSON lines, mode 0600 (it may hold a daemon's environment)
  /var/lib/kvmfi/journal/lock           flock that serializes concurrent invocations
  /var/lib/kvmfi/journal/logs/          output of daemons restarted by recover
  /var/lib/kvmfi/nm-health              default NodeManager health marker (yarn-health --marker)

EXAMPLES:
  hadoop_injector hang nn && sleep 30 && hadoop_injector resume nn
  hadoop_injector network 10.0.0.12; hadoop_injector status; hadoop_injector recover
  hadoop_injector --dry-run crash dn
";

/// Inject faults into the Hadoop daemons of this node, always undoably.
#[derive(Parser, Debug)]
#[command(
    name = "hadoop_injector",
    version,
    about = "Inject faults into the Hadoop daemons of this node; journaled, undone by 'recover'",
    long_about = "Inject faults into the Hadoop daemons of this node: crash, hang and resume a \
daemon, isolate the node from a peer, put HDFS into safe mode, mark the NodeManager unhealthy, \
refresh YARN. Every change is journaled before it is made, so 'recover' can always undo it, \
even after the injector itself was killed.",
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    /// Recognise component COMP by this Java main class instead (repeatable;
    /// several classes separated by commas), e.g. nn=org.example.NameNode
    #[arg(long, value_name = "COMP=CLASS", global = true)]
    pub main_class: Vec<String>,
    /// Hadoop installation whose bin/ holds hdfs and yarn (default: $HADOOP_HOME;
    /// PATH is searched first)
    #[arg(long, value_name = "DIR", global = true)]
    pub hadoop_home: Option<PathBuf>,
    /// Time limit for each hdfs or yarn command (500ms, 30s, 2m)
    #[arg(long, value_name = "DURATION", default_value = "60s", global = true,
          value_parser = parse_timeout)]
    pub timeout: Duration,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List the Hadoop daemons running on this node: component, pid, state, main class
    List {
        /// One JSON object per line instead of tab-separated fields
        #[arg(long)]
        json: bool,
    },
    /// Kill a daemon with SIGKILL ('recover' starts it again)
    Crash {
        /// The daemon
        #[arg(value_enum)]
        component: Comp,
    },
    /// Freeze a daemon with SIGSTOP
    Hang {
        /// The daemon
        #[arg(value_enum)]
        component: Comp,
    },
    /// Resume a frozen daemon with SIGCONT
    Resume {
        /// The daemon
        #[arg(value_enum)]
        component: Comp,
    },
    /// Isolate this node from a peer: drop all traffic to and from IP
    Network {
        /// The peer's address (IPv4 or IPv6)
        #[arg(value_name = "IP", value_parser = netfault::parse_ip)]
        ip: IpAddr,
    },
    /// Undo 'network IP'
    NetworkClear {
        /// The peer's address given to 'network'
        #[arg(value_name = "IP", value_parser = netfault::parse_ip)]
        ip: IpAddr,
    },
    /// Put HDFS into safe mode (enter) or take it out (leave), with hdfs dfsadmin
    HdfsSafe {
        /// enter or leave
        #[arg(value_enum)]
        action: SafeAction,
    },
    /// Mark the NodeManager unhealthy (fail) or healthy (ok) through its health
    /// marker file; 'check' prints what the health script prints
    YarnHealth {
        /// fail writes ERROR to the marker, ok restores it, check prints the health line
        #[arg(value_enum)]
        action: HealthAction,
        /// The marker file the NodeManager health script reads
        #[arg(long, value_name = "FILE", default_value = DEFAULT_MARKER)]
        marker: PathBuf,
    },
    /// Run 'yarn rmadmin -refreshNodes' and 'yarn rmadmin -refreshQueues'
    YarnRefresh,
    /// Show the faults in force: id, tool, kind, target, state, since (unix time), description
    Status(StatusArgs),
    /// Undo every fault in force (newest first), or only fault ID
    Recover(RecoverArgs),
}

/// Hadoop daemons.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    /// NameNode
    Nn,
    /// DataNode
    Dn,
    /// ResourceManager
    Rm,
    /// NodeManager
    Nm,
    /// SecondaryNameNode
    Snn,
    /// JobHistoryServer
    Jhs,
}

impl Comp {
    /// The short name.
    pub fn name(self) -> &'static str {
        match self {
            Comp::Nn => "nn",
            Comp::Dn => "dn",
            Comp::Rm => "rm",
            Comp::Nm => "nm",
            Comp::Snn => "snn",
            Comp::Jhs => "jhs",
        }
    }
}

/// hdfs-safe actions.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafeAction {
    /// Enter safe mode (writes fail)
    Enter,
    /// Leave safe mode
    Leave,
}

/// yarn-health actions.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthAction {
    /// Write ERROR to the marker: the NodeManager turns unhealthy
    Fail,
    /// Undo 'fail': the marker gets its previous content back
    Ok,
    /// Print the health line for the NodeManager health script
    Check,
}

fn parse_timeout(text: &str) -> std::result::Result<Duration, String> {
    match kvmfi::units::parse_duration(text)? {
        d if d.is_zero() => Err(format!("'{text}': the time limit must be above zero")),
        d => Ok(d),
    }
}

/// The default component table (exact main classes).
pub fn components() -> Vec<Component> {
    vec![
        Component::java("nn", &["org.apache.hadoop.hdfs.server.namenode.NameNode"]),
        Component::java(
            "dn",
            &[
                "org.apache.hadoop.hdfs.server.datanode.DataNode",
                "org.apache.hadoop.hdfs.server.datanode.SecureDataNodeStarter",
            ],
        ),
        Component::java("rm", &["org.apache.hadoop.yarn.server.resourcemanager.ResourceManager"]),
        Component::java("nm", &["org.apache.hadoop.yarn.server.nodemanager.NodeManager"]),
        Component::java("snn", &["org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode"]),
        Component::java("jhs", &["org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer"]),
    ]
}

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs the tool on `args` (argv[0] included).
pub fn run<I, T>(args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let Some(m) = kvmfi::cliparse::parse(command(), args)? else { return Ok(()) };
    let cli = Cli::from_arg_matches(&m).map_err(|e| Error::usage(kvmfi::cliparse::one_line(&e.to_string())))?;
    let mut table = components();
    injector::override_classes(&mut table, &cli.main_class)?;
    let ctx = Ctx { tool: TOOL, dry_run: cli.common.dry_run };
    let comp = |c: Comp| -> &Component { table.iter().find(|t| t.name == c.name()).expect("every Comp is in the table") };
    let launchers = Launchers { home: cli.hadoop_home.clone().or_else(|| std::env::var_os("HADOOP_HOME").map(PathBuf::from)), timeout: cli.timeout };
    match cli.cmd {
        Cmd::List { json } => ctx.list(&table, json),
        Cmd::Crash { component } => ctx.crash(comp(component)),
        Cmd::Hang { component } => ctx.hang(comp(component)),
        Cmd::Resume { component } => ctx.resume(comp(component)),
        Cmd::Network { ip } => ctx.block("network", &ip.to_string(), Target::Host(ip), format!("drop all traffic to and from {ip}")),
        Cmd::NetworkClear { ip } => ctx.clear("network", &ip.to_string()),
        Cmd::HdfsSafe { action } => hdfs_safe(&ctx, &launchers, action),
        Cmd::YarnHealth { action, marker } => yarn_health(&ctx, action, &marker),
        Cmd::YarnRefresh => yarn_refresh(&ctx, &launchers),
        Cmd::Status(a) => ctx.status(&a),
        Cmd::Recover(a) => ctx.recover(&a),
    }
}

/// Where the cluster's own launchers are.
struct Launchers {
    home: Option<PathBuf>,
    timeout: Duration,
}

impl Launchers {
    /// `hdfs` or `yarn`: PATH first, then `$HADOOP_HOME/bin`; exit 4 if neither.
    fn find(&self, name: &str) -> Result<String> {
        let extra: Vec<PathBuf> = self.home.iter().map(|h| h.join("bin")).collect();
        exec::which(name, &extra).map(|p| p.to_string_lossy().into_owned()).ok_or_else(|| {
            Error::unsupported(format!(
                "the '{name}' launcher is neither on PATH nor in $HADOOP_HOME/bin; put Hadoop's bin/ on PATH or set HADOOP_HOME (or --hadoop-home)"
            ))
        })
    }
}

fn hdfs_safe(ctx: &Ctx, l: &Launchers, action: SafeAction) -> Result<()> {
    let hdfs = l.find("hdfs")?;
    let cmd = |what: &str| exec::argv([hdfs.as_str(), "dfsadmin", "-safemode", what]);
    match action {
        SafeAction::Enter => {
            ctx.require_root()?;
            if !ctx.dry_run {
                let get = exec::run_ok(&cmd("get"), None, l.timeout)?;
                if get.stdout.contains("Safe mode is ON") {
                    eprintln!("{TOOL}: HDFS is already in safe mode; nothing changed (and 'leave' is not journaled)");
                    return Ok(());
                }
            }
            ctx.inject(|_| {
                Ok(Fault {
                    kind: "hdfs-safe".into(),
                    target: "hdfs".into(),
                    desc: "HDFS safe mode entered".into(),
                    apply: vec![Step::Run { argv: cmd("enter"), stdin: None }],
                    undo: vec![Step::Run { argv: cmd("leave"), stdin: None }],
                })
            })
        }
        SafeAction::Leave => {
            let n = ctx.undo_where(|e| e.kind == "hdfs-safe")?;
            if n == 0 {
                // Not ours, but asked for: leave safe mode as the original did.
                if ctx.dry_run {
                    return out(exec::display_argv(&cmd("leave")));
                }
                ctx.require_root()?;
                exec::run_ok(&cmd("leave"), None, l.timeout)?;
                out("-\tleft\thdfs-safe\thdfs")?;
            }
            Ok(())
        }
    }
}

fn yarn_health(ctx: &Ctx, action: HealthAction, marker: &std::path::Path) -> Result<()> {
    let target = marker.display().to_string();
    let current = std::fs::read_to_string(marker).ok();
    let failing = current.as_deref().is_some_and(|c| c.trim_start().starts_with("ERROR"));
    match action {
        HealthAction::Check => {
            // YARN's health checker: a line starting with ERROR means unhealthy.
            if failing {
                out(format!("ERROR kvmfi: NodeManager marked unhealthy by {TOOL} (marker {target})"))
            } else {
                out("OK")
            }
        }
        HealthAction::Fail => {
            if !marker.parent().is_some_and(|p| p.as_os_str().is_empty() || p.is_dir()) {
                return Err(Error::usage(format!(
                    "the directory of marker {target} does not exist; create it or pick another --marker"
                )));
            }
            if failing && !ctx.dry_run {
                eprintln!("{TOOL}: marker {target} already says ERROR; nothing changed");
                return Ok(());
            }
            ctx.inject(|_| {
                Ok(Fault {
                    kind: "yarn-health".into(),
                    target: target.clone(),
                    desc: format!("NodeManager health marker {target} set to ERROR"),
                    apply: vec![Step::WriteFile { path: target.clone(), content: Some("ERROR\n".into()) }],
                    undo: vec![Step::WriteFile { path: target.clone(), content: current.clone() }],
                })
            })
        }
        HealthAction::Ok => {
            let n = ctx.undo_where(|e| e.kind == "yarn-health" && e.target == target)?;
            if n == 0 {
                eprintln!("{TOOL}: no yarn-health fault on {target} is in force; nothing changed");
            }
            Ok(())
        }
    }
}

fn yarn_refresh(ctx: &Ctx, l: &Launchers) -> Result<()> {
    let yarn = l.find("yarn")?;
    ctx.require_root()?;
    for what in ["-refreshNodes", "-refreshQueues"] {
        let argv = exec::argv([yarn.as_str(), "rmadmin", what]);
        if ctx.dry_run {
            out(exec::display_argv(&argv))?;
        } else {
            exec::run_ok(&argv, None, l.timeout)?;
            out(format!("-\tdone\tyarn-refresh\t{}", exec::display_argv(&argv)))?;
        }
    }
    Ok(())
}
