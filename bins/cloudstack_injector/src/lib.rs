//! cloudstack_injector: faults for the CloudStack daemons of this node,
//! every one journaled before it is applied and undone by `recover`.
//!
//! The command line's skeleton is the shared daemon injector's
//! ([`kvmfi::injector::daemon_tool`]); its words are in `doc`.
//! [`CloudStack`]'s `run` is the whole tool, called by the one-line
//! `main.rs`: one match over every subcommand, handing each to the module
//! of its capability: `sysvm` (system VMs through virsh), `network`
//! (blocks, the agent's link, migration ports, the API delay), `db`
//! (connection limits, table lock) and `storage` (read-only, unmount,
//! fill). Crash, hang and resume of a daemon, and the CPU and memory
//! stressors, are the shared injector's.

use clap::{Args, Subcommand, ValueEnum};
use kvmfi::injector::daemon_tool::{DaemonCmd, DaemonInjector, InjectorCmd, Invocation};
use kvmfi::injector::{stress, Component};
use kvmfi::host::firewall::parse_ip;
use kvmfi::host::sql::{self, DbOpts};
use kvmfi::Result;
use std::path::PathBuf;
use sysvm::{Sysvm, Virsh, VmOp};

mod db;
mod doc;
mod network;
mod storage;
mod sysvm;

/// The tool's name in messages and in the journal.
pub const TOOL: &str = "cloudstack_injector";

/// cloudstack_injector's own options (before the subcommand; every
/// subcommand takes them too).
#[derive(Args, Debug)]
pub struct Opts {
    /// libvirt connection URI for the system VM commands (default: virsh's own, $LIBVIRT_DEFAULT_URI)
    #[arg(long, value_name = "URI", global = true)]
    pub virsh_uri: Option<String>,
}

/// cloudstack_injector's own subcommands (after list, crash, hang and resume).
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Delay the API's answers: netem on traffic leaving from the API port
    ApiDelay {
        /// Delay in milliseconds (1 to 60000)
        #[arg(value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=60000))]
        ms: u32,
        /// Network device the answers leave by (default: the default route's)
        #[arg(long, value_name = "DEV")]
        dev: Option<String>,
        /// The management server's API port
        #[arg(long, value_name = "PORT", default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
    },
    /// Undo 'api-delay'
    ApiDelayClear,
    /// Limit the cloud database's connections (default: at most 1 per cloud account)
    DbLimit {
        /// MAX_USER_CONNECTIONS for every account of --db-user (1 to 100000)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100000))]
        user_connections: Option<u32>,
        /// Also SET GLOBAL max_connections (MariaDB raises values below 10 to 10);
        /// 5 is what the original tool set
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100000))]
        max_connections: Option<u32>,
        /// The database account CloudStack uses
        #[arg(long, value_name = "USER", default_value = "cloud", value_parser = sql::parse_user)]
        db_user: String,
        #[command(flatten)]
        db: DbOpts,
    },
    /// Undo 'db-limit': exactly the previous values come back (through the
    /// connection db-limit used; the options here are accepted for compatibility)
    DbRestore {
        #[command(flatten)]
        db: DbOpts,
    },
    /// Make primary storage read-only: a mount point, or an NFS export
    StorageRo {
        /// Mount point or exported directory
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Undo 'storage-ro PATH'
    StorageRw {
        /// The path given to storage-ro
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Cut the agent's link to the management server: drop TCP port 8250 (to IP only, if given)
    AgentDisconnect {
        /// The management server's address (default: every peer)
        #[arg(value_name = "IP", value_parser = parse_ip)]
        ip: Option<std::net::IpAddr>,
        /// The management server's agent port
        #[arg(long, value_name = "PORT", default_value_t = 8250, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
    },
    /// Undo 'agent-disconnect' (the one for IP, or all)
    AgentReconnect {
        /// The address given to agent-disconnect (default: all)
        #[arg(value_name = "IP", value_parser = parse_ip)]
        ip: Option<std::net::IpAddr>,
        /// The port given to agent-disconnect
        #[arg(long, value_name = "PORT", default_value_t = 8250, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
    },
    /// Stop the system VMs of TYPE at once (virsh destroy); recover starts them again
    SysvmCrash {
        /// ssvm (s-N-VM), cpvm (v-N-VM) or vr (r-N-VM)
        #[arg(value_enum, value_name = "TYPE")]
        sysvm: sysvm::Sysvm,
    },
    /// Pause the system VMs of TYPE (virsh suspend)
    SysvmHang {
        /// ssvm, cpvm or vr
        #[arg(value_enum, value_name = "TYPE")]
        sysvm: sysvm::Sysvm,
    },
    /// Resume the paused system VMs of TYPE (virsh resume)
    SysvmResume {
        /// ssvm, cpvm or vr
        #[arg(value_enum, value_name = "TYPE")]
        sysvm: sysvm::Sysvm,
    },
    /// Cut this node off from IP: drop all traffic to and from it (or only TCP PORT)
    Network {
        /// The peer's address
        #[arg(value_name = "IP", value_parser = parse_ip)]
        ip: std::net::IpAddr,
        /// Only TCP traffic with this port at either end
        #[arg(value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
    },
    /// Undo 'network IP' (with or without a port)
    NetworkClear {
        /// The address given to 'network'
        #[arg(value_name = "IP", value_parser = parse_ip)]
        ip: std::net::IpAddr,
    },
    /// Lock the vm_instance table (LOCK TABLES ... WRITE) from a session that stays open until db-unlock
    DbLock {
        /// The CloudStack database
        #[arg(long, value_name = "NAME", default_value = "cloud", value_parser = sql::parse_user)]
        db_name: String,
        /// The table to lock
        #[arg(long, value_name = "TABLE", default_value = "vm_instance", value_parser = sql::parse_user)]
        table: String,
        #[command(flatten)]
        db: DbOpts,
    },
    /// Undo 'db-lock': end the session that holds the lock
    DbUnlock,
    /// Unmount primary storage at MP (recover mounts it again with the same source and options)
    StorageUmount {
        /// The mount point
        #[arg(value_name = "MP")]
        mp: PathBuf,
    },
    /// Fill the file system of MP with a file (all free space but --keep-free, or --size)
    StorageFill {
        /// The mount point (or any directory on that file system)
        #[arg(value_name = "MP")]
        mp: PathBuf,
        /// Megabytes to take (default: all free space but --keep-free)
        #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..))]
        size: Option<u64>,
        /// Megabytes that must stay free
        #[arg(long, value_name = "MB", default_value_t = 1)]
        keep_free: u64,
    },
    /// Undo 'storage-fill MP': delete the fill file
    StorageClean {
        /// The path given to storage-fill
        #[arg(value_name = "MP")]
        mp: PathBuf,
    },
    /// Keep THR CPUs busy for SEC seconds (default: one thread per CPU)
    CpuStress {
        /// Seconds (1 to 86400)
        #[arg(value_name = "SEC", value_parser = clap::value_parser!(u64).range(1..=86400))]
        secs: u64,
        /// Busy threads (1 to 8 per CPU)
        #[arg(value_name = "THR", value_parser = clap::value_parser!(u32).range(1..=4096))]
        threads: Option<u32>,
    },
    /// Stop a cpu-stress early
    CpuStressClear,
    /// Hold MB megabytes of memory (touched and locked) until mem-stress-clear
    MemStress {
        /// Megabytes (at most 90% of what is available)
        #[arg(value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
        mb: u64,
    },
    /// Undo 'mem-stress'
    MemStressClear,
    /// Make VM live migrations fail: drop libvirt's migration ports (TCP 49152-49215)
    VmMigrateFail {
        /// The port range, LO-HI
        #[arg(long, value_name = "LO-HI", default_value = "49152-49215", value_parser = network::parse_range)]
        ports: (u16, u16),
    },
    /// Undo the VM operation faults (vm-migrate-fail)
    VmOpClear,
}

/// CloudStack daemons.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    /// Management server
    Ms,
    /// KVM agent
    Agent,
    /// Usage server
    Usage,
    /// MySQL / MariaDB server
    Mysql,
    /// NFS server threads
    Nfs,
    /// libvirt daemon
    Libvirt,
    /// Secondary storage system VM (libvirt domain s-N-VM)
    Ssvm,
    /// Console proxy system VM (v-N-VM)
    Cpvm,
    /// Virtual router (r-N-VM)
    Vr,
}

impl Comp {
    /// The short name.
    pub fn name(self) -> &'static str {
        match self {
            Comp::Ms => "ms",
            Comp::Agent => "agent",
            Comp::Usage => "usage",
            Comp::Mysql => "mysql",
            Comp::Nfs => "nfs",
            Comp::Libvirt => "libvirt",
            Comp::Ssvm => "ssvm",
            Comp::Cpvm => "cpvm",
            Comp::Vr => "vr",
        }
    }
}

/// The tool, for the shared skeleton ([`kvmfi::injector::daemon_tool`]).
pub struct CloudStack;

impl DaemonInjector for CloudStack {
    const TOOL: &'static str = TOOL;
    type Comp = Comp;

    /// The default component table.
    fn components() -> Vec<Component> {
        let mut nfs = Component::command("nfs", &["nfsd"]);
        nfs.restart_command = Some(vec!["rpc.nfsd".into(), "{count}".into()]);
        vec![
            Component::java("ms", &["org.apache.cloudstack.ServerDaemon"]),
            Component::java("agent", &["com.cloud.agent.AgentShell"]),
            Component::java("usage", &["com.cloud.usage.UsageServer"]),
            Component::command("mysql", &["mysqld", "mariadbd"]),
            nfs,
            Component::command("libvirt", &["libvirtd"]),
        ]
    }

    type Opts = Opts;
    type Cmd = Cmd;

    fn run(Invocation { ctx, table, opts, cmd }: Invocation<Self>) -> Result<()> {
        let comp = |c: Comp| -> &Component { table.iter().find(|t| t.name == c.name()).expect("every Comp is in the table") };
        let virsh = Virsh { uri: opts.virsh_uri };
        match cmd {
            InjectorCmd::Daemon(cmd) => match cmd {
                DaemonCmd::List { json } => {
                    ctx.list(&table, json)?;
                    sysvm::list_sysvms(&virsh, json)
                }
                DaemonCmd::Crash { component: c @ (Comp::Ssvm | Comp::Cpvm | Comp::Vr) } => sysvm::sysvm(&ctx, &virsh, Sysvm::of(c), VmOp::Crash),
                DaemonCmd::Hang { component: c @ (Comp::Ssvm | Comp::Cpvm | Comp::Vr) } => sysvm::sysvm(&ctx, &virsh, Sysvm::of(c), VmOp::Hang),
                DaemonCmd::Resume { component: c @ (Comp::Ssvm | Comp::Cpvm | Comp::Vr) } => sysvm::sysvm(&ctx, &virsh, Sysvm::of(c), VmOp::Resume),
                DaemonCmd::Crash { component } => ctx.crash(comp(component)),
                DaemonCmd::Hang { component } => ctx.hang(comp(component)),
                DaemonCmd::Resume { component } => ctx.resume(comp(component)),
            },
            InjectorCmd::Own(cmd) => match cmd {
                Cmd::SysvmCrash { sysvm } => sysvm::sysvm(&ctx, &virsh, sysvm, VmOp::Crash),
                Cmd::SysvmHang { sysvm } => sysvm::sysvm(&ctx, &virsh, sysvm, VmOp::Hang),
                Cmd::SysvmResume { sysvm } => sysvm::sysvm(&ctx, &virsh, sysvm, VmOp::Resume),
                Cmd::ApiDelay { ms, dev, port } => network::api_delay(&ctx, ms, dev, port),
                Cmd::ApiDelayClear => ctx.clear("api-delay", "*"),
                Cmd::Network { ip, port } => network::block(&ctx, ip, port),
                Cmd::NetworkClear { ip } => network::block_clear(&ctx, ip),
                Cmd::AgentDisconnect { ip, port } => network::agent_disconnect(&ctx, ip, port),
                Cmd::AgentReconnect { ip, port } => network::agent_reconnect(&ctx, ip, port),
                Cmd::VmMigrateFail { ports } => network::vm_migrate_fail(&ctx, ports),
                Cmd::VmOpClear => network::vm_op_clear(&ctx),
                Cmd::DbLimit { user_connections, max_connections, db_user, db } => {
                    db::db_limit(&ctx, user_connections, max_connections, &db_user, &db)
                }
                Cmd::DbRestore { db: _ } => ctx.clear("db-limit", "cloud-db"),
                Cmd::DbLock { db_name, table, db } => db::db_lock(&ctx, &db_name, &table, &db),
                Cmd::DbUnlock => ctx.clear("db-lock", "cloud-db"),
                Cmd::StorageRo { path } => storage::storage_ro(&ctx, &path),
                Cmd::StorageRw { path } => storage::storage_rw(&ctx, &path),
                Cmd::StorageUmount { mp } => storage::storage_umount(&ctx, &mp),
                Cmd::StorageFill { mp, size, keep_free } => storage::storage_fill(&ctx, &mp, size, keep_free),
                Cmd::StorageClean { mp } => storage::storage_clean(&ctx, &mp),
                Cmd::CpuStress { secs, threads } => ctx.inject(|id| stress::cpu_stress(id, "local", secs, threads)),
                Cmd::CpuStressClear => ctx.clear("cpu-stress", "local"),
                Cmd::MemStress { mb } => ctx.inject(|id| stress::mem_stress(id, "local", mb)),
                Cmd::MemStressClear => ctx.clear("mem-stress", "local"),
            },
            InjectorCmd::Journal(j) => j.run(&ctx),
        }
    }
}

kvmfi::daemon_injector_entry_points!(CloudStack);
