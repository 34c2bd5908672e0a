//! hadoop_injector: faults for the Hadoop daemons of this node, every one
//! journaled before it is applied and undone by `recover`.
//!
//! The clap definition is [`command()`] (the man page is generated from
//! it); [`run`] is the whole tool, called by the one-line `main.rs`: one
//! match over every subcommand, handing each to the module of its
//! capability: `daemons` (HDFS safe mode, YARN health and refresh, through
//! the cluster's launchers; crash, hang and resume are the shared
//! injector's), `network` (netem faults, isolate), `stress` (CPU, memory),
//! `storage` (fill files, I/O throttling), `tasks` (MapReduce task kills)
//! and `nodes` (running a node fault on another node over ssh, and the
//! `*-clear` commands).

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use daemons::Launchers;
use kvmfi::injector::remote::Ssh;
use kvmfi::injector::{self, Component, Ctx, DaemonCmd, DaemonOpts};
use kvmfi::host::firewall::parse_ip;
use kvmfi::injector::network::Target;
use kvmfi::Result;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod daemons;
mod network;
mod nodes;
mod storage;
mod stress;
mod tasks;

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
  map     map task attempts     org.apache.hadoop.mapred.YarnChild ... attempt_..._m_...
  reduce  reduce task attempts  org.apache.hadoop.mapred.YarnChild ... attempt_..._r_...
  am      MapReduce AppMaster   org.apache.hadoop.mapreduce.v2.app.MRAppMaster
Daemons are found in /proc by their exact Java main class, so NameNode never matches SecondaryNameNode; --main-class COMP=CLASS changes the table. The hdfs and yarn launchers are the cluster's own, from PATH or $HADOOP_HOME/bin.

UNDO:
Every change is written to the journal, with how to undo it, before it is made (fsync'ed). 'recover' undoes everything still in force, newest first, even after the injector was killed half-way; undo steps are idempotent, so a second 'recover' does nothing. 'status' shows what is in force; 'recover ID' undoes one fault.
crash: the journal keeps the daemon's argv, working directory, environment, uid and gid, and 'recover' starts it again the same way (unless a process with the same command line already runs), so a crash never leaves the node without its daemon; the output of a restarted daemon goes to <journal dir>/logs/.
hang: 'resume' or 'recover' sends SIGCONT only to the very process that was stopped (pid and start time must both match).
network: DROP rules live only in nftables table 'inet kvmfi' (iptables chain KVMFI when nft is absent), each commented kvmfi-ID; nothing else is touched. 'recover' run from another network namespace undoes them in the one they were made in.
hdfs-safe enter: journaled only if safe mode was off before; yarn-health ok/recover put the marker's previous content back (or remove it if it did not exist).
delay, loss, reorder, heartbeat: kvmfi's own root qdisc on the device the route to TGT leaves by (prio, handle 4b46:, 16 bands; bands 1-3 pass all other traffic as before); each fault takes a band of its own with a netem qdisc and u32 filters on TGT's address (and ports). Undoing one removes only its band; the root qdisc goes with the last one; a root qdisc kvmfi did not create is never replaced. Needs the sch_prio, sch_netem and cls_u32 kernel modules. One netem fault per peer at a time.
isolate: DROP rules in table 'inet kvmfi' like network; isolate-clear removes the rules of its own faults only (the original flushed every iptables rule).
cpu-stress, mem-stress: a detached helper (this program, tagged --kvmfi-tag=kvmfi-ID-N) busy-loops THREADS threads for SEC seconds or holds MB of touched, locked memory (at most 90% of MemAvailable); the undo kills it. disk-fill, hdfs-disk: one file kvmfi-fill-ID of MB megabytes (fallocate), refused unless --keep-free MB stay free; the undo deletes it.
crash-map, crash-reduce, crash map|reduce|am: SIGKILL of the task JVMs; YARN runs the attempts again, so recover restarts nothing.
io-slow on: the daemon's processes move into cgroup kvmfi-io-ID (cgroup v2, io controller) whose io.max limits the disk of --path (or --device) to --rate bytes/s; off or recover moves them back and removes the cgroup.
yarn-unhealthy on|off: yarn-health fail|ok on that node.
Other nodes: TGT is a name from cluster.conf (name,ip,ssh_port,role,...), else from /etc/hosts, or an address. Network faults are made here, towards TGT. Node faults (cpu-stress, mem-stress, disk-fill, hdfs-disk, crash-map, crash-reduce, io-slow, yarn-unhealthy) run here when TGT is this node, else as 'hadoop_injector CMD-local ...' on TGT over ssh (BatchMode, ConnectTimeout 10); the master journals each with its undo ('CMD-clear-local' or 'CMD-local off' over ssh), and the node journals its own change too.

EXIT STATUS:
  0  success (also when the output pipe was closed by the reader)
  1  the operation failed (a command or the kernel refused it)
  2  usage error: bad command, component, address or number; nothing changed
  3  not root (every command but list, status and --dry-run needs root)
  4  a host tool or kernel feature is missing (nft or iptables, tc, sch_netem, ssh, hdfs, yarn, cgroup v2 io)
  5  the daemon is not running on this node, or no such fault id

ENVIRONMENT:
  KVMFI_STATE_DIR             journal directory (default /var/lib/kvmfi/journal)
  HADOOP_HOME                 where bin/hdfs and bin/yarn are, when not on PATH
  KVMFI_FIREWALL=iptables     use the iptables fallback even where nft exists
  KVMFI_CLUSTER_CONF          cluster.conf naming the nodes (see --cluster-conf)
  KVMFI_TEST_DIE_AFTER_APPLY  TEST ONLY: 1 makes the tool SIGKILL itself right after applying a change

FILES:
  /var/lib/kvmfi/journal/journal.jsonl  the journal: JSON lines, mode 0600 (it may hold a daemon's environment)
  /var/lib/kvmfi/journal/lock           flock that serializes concurrent invocations
  /var/lib/kvmfi/journal/logs/          output of daemons restarted by recover
  /var/lib/kvmfi/nm-health              default NodeManager health marker (yarn-health --marker)
  ./cluster.conf                        node names, addresses and ssh ports, when present

EXAMPLES:
  hadoop_injector hang nn && sleep 30 && hadoop_injector resume nn
  hadoop_injector network 10.0.0.12; hadoop_injector status; hadoop_injector recover
  hadoop_injector --dry-run crash dn
  hadoop_injector delay slave1 200 20; hadoop_injector delay-show; hadoop_injector delay-clear slave1
  hadoop_injector isolate 10.0.0.12 50010; hadoop_injector isolate-clear
  hadoop_injector cpu-stress slave2 60 4; hadoop_injector mem-stress slave2 2048; hadoop_injector mem-stress-clear
";

/// Inject faults into the Hadoop daemons of this node, always undoably.
#[derive(Parser, Debug)]
#[command(
    name = "hadoop_injector",
    version,
    about = "Inject faults into the Hadoop daemons of this node; journaled, undone by 'recover'",
    long_about = "Inject faults into the Hadoop daemons of this node: crash, hang and resume a \
daemon, isolate the node from a peer, put HDFS into safe mode, mark the NodeManager unhealthy, \
refresh YARN; delay, lose or reorder the traffic to a peer, isolate it, stress CPU, memory and \
disk, kill MapReduce tasks, throttle a daemon's disk I/O, on this node or on another over ssh. Every change is journaled before it is made, so 'recover' can always undo it, \
even after the injector itself was killed.",
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub daemon: DaemonOpts,
    /// Hadoop installation whose bin/ holds hdfs and yarn (default: $HADOOP_HOME;
    /// PATH is searched first)
    #[arg(long, value_name = "DIR", global = true)]
    pub hadoop_home: Option<PathBuf>,
    /// Time limit for each hdfs or yarn command (500ms, 30s, 2m)
    #[arg(long, value_name = "DURATION", default_value = "60s", global = true,
          value_parser = parse_timeout)]
    pub timeout: Duration,
    /// cluster.conf naming the nodes (name,ip,ssh_port,roles); default
    /// $KVMFI_CLUSTER_CONF, else ./cluster.conf if present; names not in it
    /// are looked up in /etc/hosts
    #[arg(long, value_name = "FILE", global = true)]
    pub cluster_conf: Option<PathBuf>,
    #[command(flatten)]
    pub ssh: nodes::SshOpts,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    #[command(flatten)]
    Daemon(injector::DaemonCmd<Comp>),
    /// Isolate this node from a peer: drop all traffic to and from IP
    Network {
        /// The peer's address (IPv4 or IPv6)
        #[arg(value_name = "IP", value_parser = parse_ip)]
        ip: IpAddr,
    },
    /// Undo 'network IP'
    NetworkClear {
        /// The peer's address given to 'network'
        #[arg(value_name = "IP", value_parser = parse_ip)]
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
    /// Delay traffic from this node to TGT by MS milliseconds (netem; JITTER ms of variation)
    Delay {
        /// The peer: a node name (cluster.conf, /etc/hosts) or address
        #[arg(value_name = "TGT")]
        tgt: String,
        /// Delay in milliseconds (1 to 60000)
        #[arg(value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=60000))]
        ms: u32,
        /// Random variation in milliseconds (0 to 60000)
        #[arg(value_name = "JITTER", value_parser = clap::value_parser!(u32).range(0..=60000))]
        jitter: Option<u32>,
        #[command(flatten)]
        net: network::NetOpts,
    },
    /// Undo 'delay' (for TGT, or every delay)
    DelayClear {
        /// The peer given to 'delay' (default: all)
        #[arg(value_name = "TGT")]
        tgt: Option<String>,
    },
    /// Show the netem faults in force (delay, loss, reorder, heartbeat) and kvmfi's qdiscs
    DelayShow,
    /// Drop PCT percent of the packets from this node to TGT (netem)
    Loss {
        /// The peer: a node name or address
        #[arg(value_name = "TGT")]
        tgt: String,
        /// Percentage of packets lost (above 0, at most 100)
        #[arg(value_name = "PCT", value_parser = network::parse_pct)]
        pct: f64,
        #[command(flatten)]
        net: network::NetOpts,
    },
    /// Undo 'loss' (for TGT, or every loss)
    LossClear {
        /// The peer given to 'loss' (default: all)
        #[arg(value_name = "TGT")]
        tgt: Option<String>,
    },
    /// Reorder PCT percent of the packets to TGT (netem; CORR percent correlation)
    Reorder {
        /// The peer: a node name or address
        #[arg(value_name = "TGT")]
        tgt: String,
        /// Percentage of packets sent at once, ahead of the delayed others
        #[arg(value_name = "PCT", value_parser = network::parse_pct)]
        pct: f64,
        /// Correlation in percent (0 to 100)
        #[arg(value_name = "CORR", value_parser = network::parse_pct0)]
        corr: Option<f64>,
        /// The delay of the other packets (reordering needs one), in ms
        #[arg(long, value_name = "MS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=60000))]
        reorder_delay: u32,
        #[command(flatten)]
        net: network::NetOpts,
    },
    /// Undo 'reorder' (for TGT, or every reorder)
    ReorderClear {
        /// The peer given to 'reorder' (default: all)
        #[arg(value_name = "TGT")]
        tgt: Option<String>,
    },
    /// Cut this node off from TGT: drop all traffic to and from it (or only TCP PORT)
    Isolate {
        /// The peer: a node name or address
        #[arg(value_name = "TGT")]
        tgt: String,
        /// Only TCP traffic with this port at either end
        #[arg(value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
    },
    /// Undo 'isolate' (for TGT, or every isolate); only kvmfi's own rules are removed
    IsolateClear {
        /// The peer given to 'isolate' (default: all)
        #[arg(value_name = "TGT")]
        tgt: Option<String>,
    },
    /// Delay the heartbeats between this node and TGT (TCP to the NameNode and ResourceManager ports) by MS
    Heartbeat {
        /// The master: a node name or address
        #[arg(value_name = "TGT")]
        tgt: String,
        /// Delay in milliseconds (1 to 60000)
        #[arg(value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=60000))]
        ms: u32,
        /// The heartbeat ports on TGT (NameNode RPC, ResourceManager resource tracker)
        #[arg(long, value_name = "PORT,...", value_delimiter = ',', default_values_t = [8020u16, 8031u16])]
        ports: Vec<u16>,
        #[command(flatten)]
        net: network::NetOpts,
    },
    /// Undo 'heartbeat' (for TGT, or every heartbeat delay)
    HeartbeatClear {
        /// The node given to 'heartbeat' (default: all)
        #[arg(value_name = "TGT")]
        tgt: Option<String>,
    },
    /// Keep THREADS CPUs busy on TGT for SEC seconds (default: one thread per CPU)
    CpuStress {
        /// The node (this one, or another over ssh)
        #[arg(value_name = "TGT")]
        tgt: String,
        /// Seconds (1 to 86400)
        #[arg(value_name = "SEC", value_parser = clap::value_parser!(u64).range(1..=86400))]
        secs: u64,
        /// Busy threads (1 to 8 per CPU)
        #[arg(value_name = "THREADS", value_parser = clap::value_parser!(u32).range(1..=4096))]
        threads: Option<u32>,
    },
    /// Stop a cpu-stress early (for TGT, or every one)
    CpuStressClear {
        /// The node given to cpu-stress (default: all)
        #[arg(value_name = "TGT")]
        tgt: Option<String>,
    },
    /// Hold MB megabytes of memory on TGT (touched and locked) until mem-stress-clear
    MemStress {
        /// The node
        #[arg(value_name = "TGT")]
        tgt: String,
        /// Megabytes (at most 90% of what is available)
        #[arg(value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
        mb: u64,
    },
    /// Undo 'mem-stress' (for TGT, or every one)
    MemStressClear {
        /// The node given to mem-stress (default: all)
        #[arg(value_name = "TGT")]
        tgt: Option<String>,
    },
    /// Take MB megabytes of disk space on TGT with a fill file (in --dir)
    DiskFill(storage::NodeFill),
    /// Undo 'disk-fill' and 'hdfs-disk': delete the fill files (for TGT, or all)
    DiskFillClear {
        /// The node given to disk-fill (default: all)
        #[arg(value_name = "TGT")]
        tgt: Option<String>,
    },
    /// Take MB megabytes in the DataNode's data directory on TGT (dfs.datanode.data.dir)
    HdfsDisk(storage::NodeFill),
    /// Kill the MapReduce map tasks (YarnChild ..._m_...) running on SLAVE (YARN runs them again)
    CrashMap {
        /// The node
        #[arg(value_name = "SLAVE")]
        slave: String,
    },
    /// Kill the MapReduce reduce tasks (YarnChild ..._r_...) running on SLAVE
    CrashReduce {
        /// The node
        #[arg(value_name = "SLAVE")]
        slave: String,
    },
    /// Throttle the disk I/O of TGT's DataNode (cgroup v2 io.max) on, or off again
    IoSlow {
        /// The node
        #[arg(value_name = "TGT")]
        tgt: String,
        /// on or off
        #[arg(value_enum)]
        state: nodes::OnOff,
        #[command(flatten)]
        io: storage::IoOpts,
    },
    /// Mark SLAVE's NodeManager unhealthy (on) or healthy again (off), through its health marker
    YarnUnhealthy {
        /// The node
        #[arg(value_name = "SLAVE")]
        slave: String,
        /// on or off
        #[arg(value_enum)]
        state: nodes::OnOff,
        /// The marker file the NodeManager health script reads
        #[arg(long, value_name = "FILE", default_value = DEFAULT_MARKER)]
        marker: PathBuf,
    },
    /// cpu-stress on this node (what the master runs here over ssh)
    CpuStressLocal {
        /// Seconds (1 to 86400)
        #[arg(value_name = "SEC", value_parser = clap::value_parser!(u64).range(1..=86400))]
        secs: u64,
        /// Busy threads (1 to 8 per CPU)
        #[arg(value_name = "THREADS", value_parser = clap::value_parser!(u32).range(1..=4096))]
        threads: Option<u32>,
    },
    /// cpu-stress-clear on this node
    CpuStressClearLocal,
    /// mem-stress on this node
    MemStressLocal {
        /// Megabytes
        #[arg(value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
        mb: u64,
    },
    /// mem-stress-clear on this node
    MemStressClearLocal,
    /// disk-fill on this node
    DiskFillLocal {
        /// Megabytes
        #[arg(value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=1_073_741_824))]
        mb: u64,
        #[command(flatten)]
        fill: storage::FillOpts,
    },
    /// disk-fill-clear on this node
    DiskFillClearLocal,
    /// hdfs-disk on this node
    HdfsDiskLocal {
        /// Megabytes
        #[arg(value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=1_073_741_824))]
        mb: u64,
        #[command(flatten)]
        fill: storage::FillOpts,
    },
    /// crash-map on this node
    CrashMapLocal,
    /// crash-reduce on this node
    CrashReduceLocal,
    /// io-slow on this node
    IoSlowLocal {
        /// on or off
        #[arg(value_enum)]
        state: nodes::OnOff,
        #[command(flatten)]
        io: storage::IoOpts,
    },
    /// yarn-unhealthy on this node
    YarnUnhealthyLocal {
        /// on or off
        #[arg(value_enum)]
        state: nodes::OnOff,
        /// The marker file the NodeManager health script reads
        #[arg(long, value_name = "FILE", default_value = DEFAULT_MARKER)]
        marker: PathBuf,
    },
    #[command(flatten)]
    Journal(injector::JournalCmd),
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
    /// MapReduce map task attempts (YarnChild)
    Map,
    /// MapReduce reduce task attempts (YarnChild)
    Reduce,
    /// MapReduce ApplicationMaster (MRAppMaster)
    Am,
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
            Comp::Map => "map",
            Comp::Reduce => "reduce",
            Comp::Am => "am",
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
        tasks::task_component("map", "_m_"),
        tasks::task_component("reduce", "_r_"),
        Component::java("am", &["org.apache.hadoop.mapreduce.v2.app.MRAppMaster"]),
    ]
}

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    let cmd = DaemonOpts::with_example(Cli::command(), "nn=org.example.NameNode");
    kvmfi::cliparse::edit_subcommand(cmd, "list", |c| c.about(LIST_ABOUT))
}

/// `list`'s help: which daemons it lists.
const LIST_ABOUT: &str = "List the Hadoop daemons running on this node: component, pid, state, main class";

/// What every command needs: the shared injector context, the component
/// table, where the launchers are, cluster.conf and how to reach other nodes.
pub(crate) struct Env<'a> {
    pub ctx: Ctx,
    pub table: Vec<Component>,
    pub launchers: Launchers,
    pub conf: Option<&'a Path>,
    pub ssh: Ssh,
}

impl Env<'_> {
    /// The component named `name` (every [`Comp`] is in the table).
    pub fn comp(&self, name: &str) -> &Component {
        self.table.iter().find(|t| t.name == name).expect("every Comp is in the table")
    }
}

/// Runs the tool on `args` (argv[0] included).
pub fn run(args: impl kvmfi::cliparse::Argv) -> Result<()> {
    let Some(cli) = kvmfi::cliparse::parse_or_helper::<Cli>(command(), args, kvmfi::injector::stress::HELPER_ARG, kvmfi::injector::stress::helper_main)? else { return Ok(()) };
    let mut table = components();
    let ctx = cli.daemon.ctx(TOOL, &mut table)?;
    let env = Env {
        ctx,
        table,
        launchers: Launchers {
            home: cli.hadoop_home.clone().or_else(|| std::env::var_os("HADOOP_HOME").map(PathBuf::from)),
            timeout: cli.timeout,
        },
        conf: cli.cluster_conf.as_deref(),
        ssh: cli.ssh.ssh(),
    };
    let (ctx, l) = (&env.ctx, &env.launchers);
    let comp = |c: Comp| env.comp(c.name());
    match cli.cmd {
        Cmd::Daemon(DaemonCmd::List { json }) => ctx.list(&env.table, json),
        Cmd::Daemon(DaemonCmd::Crash { component: c @ (Comp::Map | Comp::Reduce | Comp::Am) }) => tasks::kill_tasks(ctx, comp(c)),
        Cmd::Daemon(DaemonCmd::Crash { component }) => ctx.crash(comp(component)),
        Cmd::Daemon(DaemonCmd::Hang { component }) => ctx.hang(comp(component)),
        Cmd::Daemon(DaemonCmd::Resume { component }) => ctx.resume(comp(component)),
        Cmd::Network { ip } => ctx.block("network", &ip.to_string(), Target::Host(ip), format!("drop all traffic to and from {ip}")),
        Cmd::NetworkClear { ip } => ctx.clear("network", &ip.to_string()),
        Cmd::HdfsSafe { action } => daemons::hdfs_safe(ctx, l, action),
        Cmd::YarnHealth { action, marker } => daemons::yarn_health(ctx, action, &marker),
        Cmd::YarnRefresh => daemons::yarn_refresh(ctx, l),
        Cmd::Delay { tgt, ms, jitter, net } => network::delay(&env, &tgt, ms, jitter, &net),
        Cmd::DelayClear { tgt } => nodes::clear(&env, "delay", tgt.as_deref()),
        Cmd::DelayShow => network::delay_show(),
        Cmd::Loss { tgt, pct, net } => network::loss(&env, &tgt, pct, &net),
        Cmd::LossClear { tgt } => nodes::clear(&env, "loss", tgt.as_deref()),
        Cmd::Reorder { tgt, pct, corr, reorder_delay, net } => network::reorder(&env, &tgt, pct, corr, reorder_delay, &net),
        Cmd::ReorderClear { tgt } => nodes::clear(&env, "reorder", tgt.as_deref()),
        Cmd::Isolate { tgt, port } => network::isolate(&env, &tgt, port),
        Cmd::IsolateClear { tgt } => nodes::clear(&env, "isolate", tgt.as_deref()),
        Cmd::Heartbeat { tgt, ms, ports, net } => network::heartbeat(&env, &tgt, ms, &ports, &net),
        Cmd::HeartbeatClear { tgt } => nodes::clear(&env, "heartbeat", tgt.as_deref()),
        Cmd::CpuStress { tgt, secs, threads } => stress::cpu(&env, Some(&tgt), secs, threads),
        Cmd::CpuStressClear { tgt } => nodes::clear(&env, "cpu-stress", tgt.as_deref()),
        Cmd::MemStress { tgt, mb } => stress::mem(&env, Some(&tgt), mb),
        Cmd::MemStressClear { tgt } => nodes::clear(&env, "mem-stress", tgt.as_deref()),
        Cmd::DiskFill(f) => storage::disk_fill(&env, Some(&f.tgt), f.mb, &f.fill),
        Cmd::DiskFillClear { tgt } => storage::disk_fill_clear(&env, tgt.as_deref()),
        Cmd::HdfsDisk(f) => storage::hdfs_disk(&env, Some(&f.tgt), f.mb, &f.fill),
        Cmd::CrashMap { slave } => tasks::crash(&env, "map", Some(&slave)),
        Cmd::CrashReduce { slave } => tasks::crash(&env, "reduce", Some(&slave)),
        Cmd::IoSlow { tgt, state, io } => storage::io_slow(&env, &tgt, state, &io),
        Cmd::YarnUnhealthy { slave, state, marker } => daemons::yarn_unhealthy(&env, &slave, state, &marker),
        // The forms the master runs on a node over ssh.
        Cmd::CpuStressLocal { secs, threads } => stress::cpu(&env, None, secs, threads),
        Cmd::CpuStressClearLocal => nodes::clear_local(ctx, "cpu-stress"),
        Cmd::MemStressLocal { mb } => stress::mem(&env, None, mb),
        Cmd::MemStressClearLocal => nodes::clear_local(ctx, "mem-stress"),
        Cmd::DiskFillLocal { mb, fill } => storage::disk_fill(&env, None, mb, &fill),
        Cmd::DiskFillClearLocal => storage::disk_fill_clear_local(&env),
        Cmd::HdfsDiskLocal { mb, fill } => storage::hdfs_disk(&env, None, mb, &fill),
        Cmd::CrashMapLocal => tasks::crash(&env, "map", None),
        Cmd::CrashReduceLocal => tasks::crash(&env, "reduce", None),
        Cmd::IoSlowLocal { state, io } => storage::io_slow_local(&env, state, &io),
        Cmd::YarnUnhealthyLocal { state, marker } => daemons::yarn_unhealthy_local(ctx, state, &marker),
        Cmd::Journal(j) => j.run(ctx),
    }
}
