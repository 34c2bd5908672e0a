//! hadoop_injector: faults for the Hadoop daemons of this node, every one
//! journaled before it is applied and undone by `recover`.
//!
//! The command line's skeleton is the shared daemon injector's
//! ([`kvmfi::injector::daemon_tool`]); its words are in `doc`. [`Hadoop`]'s
//! `run` is the whole tool, called by the one-line `main.rs`: one match
//! over every subcommand, handing each to the module of its capability:
//! `daemons` (HDFS safe mode, YARN health and refresh, through the
//! cluster's launchers; crash, hang and resume are the shared injector's),
//! `network` (netem faults, isolate), `stress` (CPU, memory), `storage`
//! (fill files, I/O throttling), `tasks` (MapReduce task kills) and `nodes`
//! (running a node fault on another node over ssh, and the `*-clear`
//! commands).

use clap::{Args, Subcommand, ValueEnum};
use daemons::Launchers;
use kvmfi::injector::daemon_tool::{DaemonCmd, DaemonInjector, InjectorCmd, Invocation};
use kvmfi::injector::remote::Ssh;
use kvmfi::injector::{Component, Ctx};
use kvmfi::host::firewall::parse_ip;
use kvmfi::injector::network::Target;
use kvmfi::Result;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod daemons;
mod doc;
mod network;
mod nodes;
mod storage;
mod stress;
mod tasks;

/// The tool's name in messages and in the journal.
pub const TOOL: &str = "hadoop_injector";
/// Where the NodeManager health marker lives unless --marker says otherwise.
pub const DEFAULT_MARKER: &str = "/var/lib/kvmfi/nm-health";

/// hadoop_injector's own options (before the subcommand; every
/// subcommand takes them too).
#[derive(Args, Debug)]
pub struct Opts {
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
}

/// hadoop_injector's own subcommands (after list, crash, hang and resume).
#[derive(Subcommand, Debug)]
pub enum Cmd {
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

/// The tool, for the shared skeleton ([`kvmfi::injector::daemon_tool`]).
pub struct Hadoop;

impl DaemonInjector for Hadoop {
    const TOOL: &'static str = TOOL;
    type Comp = Comp;

    /// The default component table (exact main classes).
    fn components() -> Vec<Component> {
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

    type Opts = Opts;
    type Cmd = Cmd;

    fn run(Invocation { ctx, table, opts, cmd }: Invocation<Self>) -> Result<()> {
        let env = Env {
            ctx,
            table,
            launchers: Launchers {
                home: opts.hadoop_home.clone().or_else(|| std::env::var_os("HADOOP_HOME").map(PathBuf::from)),
                timeout: opts.timeout,
            },
            conf: opts.cluster_conf.as_deref(),
            ssh: opts.ssh.ssh(),
        };
        let (ctx, l) = (&env.ctx, &env.launchers);
        let comp = |c: Comp| env.comp(c.name());
        match cmd {
            InjectorCmd::Daemon(cmd) => match cmd {
                DaemonCmd::List { json } => ctx.list(&env.table, json),
                DaemonCmd::Crash { component: c @ (Comp::Map | Comp::Reduce | Comp::Am) } => tasks::kill_tasks(ctx, comp(c)),
                DaemonCmd::Crash { component } => ctx.crash(comp(component)),
                DaemonCmd::Hang { component } => ctx.hang(comp(component)),
                DaemonCmd::Resume { component } => ctx.resume(comp(component)),
            },
            InjectorCmd::Own(cmd) => match cmd {
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
            },
            InjectorCmd::Journal(j) => j.run(ctx),
        }
    }
}

kvmfi::daemon_injector_entry_points!(Hadoop);
