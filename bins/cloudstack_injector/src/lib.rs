//! cloudstack_injector: faults for the CloudStack daemons of this node,
//! every one journaled before it is applied and undone by `recover`.
//!
//! The clap definition is [`command()`] (the man page is generated from
//! it); [`run`] is the whole tool, called by the one-line `main.rs`: one
//! match over every subcommand, handing each to the module of its
//! capability: `sysvm` (system VMs through virsh), `network` (blocks, the
//! agent's link, migration ports, the API delay), `db` (connection limits,
//! table lock) and `storage` (read-only, unmount, fill). Crash, hang and
//! resume of a daemon, and the CPU and memory stressors, are the shared
//! injector's.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use kvmfi::injector::{self, stress, Component, DaemonCmd, DaemonOpts};
use kvmfi::host::firewall::parse_ip;
use kvmfi::host::sql::{self, DbOpts};
use kvmfi::Result;
use std::path::PathBuf;
use sysvm::{Sysvm, Virsh, VmOp};

mod db;
mod network;
mod storage;
mod sysvm;

/// The tool's name in messages and in the journal.
pub const TOOL: &str = "cloudstack_injector";

const AFTER_LONG_HELP: &str = "\
COMPONENTS:
  ms       management server  org.apache.cloudstack.ServerDaemon
  agent    KVM agent          com.cloud.agent.AgentShell
  usage    usage server       com.cloud.usage.UsageServer
  mysql    database           mysqld or mariadbd
  nfs      NFS server         nfsd kernel threads (recover runs rpc.nfsd N)
  libvirt  libvirt daemon     libvirtd
  ssvm     secondary storage VM  libvirt domain s-N-VM  (crash/hang/resume = sysvm-crash/hang/resume ssvm)
  cpvm     console proxy VM      libvirt domain v-N-VM
  vr       virtual router        libvirt domain r-N-VM
JVMs are found in /proc by their exact main class (--main-class COMP=CLASS changes the table), the others by command name.

UNDO:
Every change is written to the journal, with how to undo it, before it is made (fsync'ed). 'recover' undoes everything still in force, newest first, even after the injector was killed half-way; undo steps are idempotent, so a second 'recover' does nothing. 'status' shows what is in force; 'recover ID' undoes one fault.
crash: the journal keeps the daemon's argv, working directory, environment, uid and gid; 'recover' starts it again the same way (unless a process with the same command line already runs). hang: SIGCONT goes only to the very process that was stopped (pid and start time must match).
api-delay: kvmfi's own root qdisc (prio, handle 4b46:) with netem on its own band and u32 filters on the source port; refused if the device already has someone else's root qdisc. The undo deletes the root qdisc only while its handle is still 4b46:. Needs the sch_prio and sch_netem kernel modules.
db-limit: reads the current values first (GLOBAL max_connections, each account's MAX_USER_CONNECTIONS) and db-restore or recover sets exactly those back; only what db-limit changed is touched. The default is MAX_USER_CONNECTIONS 1 for every account of the cloud user; --max-connections 5 does what the original tool did.
storage-ro: a mount point is made read-only by a bind remount of that mount point only (other mounts of the same file system stay writable; its other flags are kept); a directory that is an NFS export is re-exported 'ro' with exportfs, and storage-rw puts the previous export options back.
agent-disconnect: DROP of TCP port 8250, both directions, in nftables table 'inet kvmfi' (iptables chain KVMFI when nft is absent); nothing else is touched. With IP, only the port towards that address; agent-reconnect [IP] undoes those.
api-delay now takes one band of kvmfi's root qdisc (16 bands), so it coexists with hadoop_injector's netem faults on the same device.
sysvm-crash|sysvm-hang TYPE: virsh destroy|suspend of the running system VMs of that TYPE only (s-N-VM, v-N-VM, r-N-VM; the original ignored the type); recover starts a domain again only while it is shut off, resumes it only while it is paused.
network IP [PORT]: DROP of everything to and from IP (or TCP PORT only); network-clear IP undoes both.
db-lock: LOCK TABLES cloud.vm_instance WRITE from a client session held open by a detached helper (tagged --kvmfi-tag=kvmfi-ID-N) until db-unlock or recover kills it (the original's lock ended at once).
storage-umount MP: umount; recover mounts the same source with the same type and options unless something is mounted there; refused for tmpfs-like and bind mounts, which could not be mounted again. storage-fill MP: one file kvmfi-fill-ID taking all free space but --keep-free MB (or --size MB); storage-clean or recover deletes it.
cpu-stress, mem-stress: a detached helper busy-loops THR threads for SEC seconds, or holds MB of locked memory (at most 90% of MemAvailable); recover and mem-stress-clear kill it.
vm-migrate-fail: DROP of TCP 49152-49215 (libvirt's migration data ports, --ports) both ways; vm-op-clear undoes it.

EXIT STATUS:
  0  success (also when the output pipe was closed by the reader)
  1  the operation failed (a command, the server or the kernel refused it)
  2  usage error: bad command, component, number or path; nothing changed
  3  not root (every command but list, status and --dry-run needs root)
  4  a host tool or kernel module is missing (nft or iptables, tc, sch_netem, mariadb/mysql client, exportfs, virsh, mountpoint)
  5  the daemon or database server is not running or not reachable, or no such fault id

ENVIRONMENT:
  KVMFI_STATE_DIR             journal directory (default /var/lib/kvmfi/journal)
  KVMFI_FIREWALL=iptables     use the iptables fallback even where nft exists
  LIBVIRT_DEFAULT_URI         virsh's connection when --virsh-uri is not given
  KVMFI_TEST_DIE_AFTER_APPLY  TEST ONLY: 1 makes the tool SIGKILL itself right after applying a change

FILES:
  /var/lib/kvmfi/journal/journal.jsonl  the journal: JSON lines, mode 0600 (it may hold a daemon's environment)
  /var/lib/kvmfi/journal/lock           flock that serializes concurrent invocations
  /var/lib/kvmfi/journal/logs/          output of daemons restarted by recover
  /var/lib/nfs/etab                     NFS exports, read by storage-ro

EXAMPLES:
  cloudstack_injector db-limit --db-socket /run/mysqld/mysqld.sock; cloudstack_injector db-restore
  cloudstack_injector storage-ro /mnt/primary && sleep 60 && cloudstack_injector storage-rw /mnt/primary
  cloudstack_injector --dry-run api-delay 200 --dev eth0
  cloudstack_injector sysvm-crash cpvm; cloudstack_injector recover
  cloudstack_injector db-lock && sleep 60 && cloudstack_injector db-unlock
  cloudstack_injector network 10.0.0.5 8250; cloudstack_injector network-clear 10.0.0.5
";

/// Inject faults into the CloudStack daemons of this node, always undoably.
#[derive(Parser, Debug)]
#[command(
    name = "cloudstack_injector",
    version,
    about = "Inject faults into the CloudStack daemons of this node; journaled, undone by 'recover'",
    long_about = "Inject faults into the CloudStack daemons of this node: crash, hang and resume a \
daemon, delay the management server's API, limit the cloud database's connections, make primary \
storage read-only, cut the agent's link to the management server; crash, pause and resume system VMs \
by type, block a peer, lock the vm_instance table, unmount or fill primary storage, stress CPU and \
memory, make VM migrations fail. Every change is journaled \
before it is made, so 'recover' can always undo it, even after the injector itself was killed.",
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub daemon: DaemonOpts,
    /// libvirt connection URI for the system VM commands (default: virsh's own, $LIBVIRT_DEFAULT_URI)
    #[arg(long, value_name = "URI", global = true)]
    pub virsh_uri: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    #[command(flatten)]
    Daemon(injector::DaemonCmd<Comp>),
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
    #[command(flatten)]
    Journal(injector::JournalCmd),
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

/// The default component table.
pub fn components() -> Vec<Component> {
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

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    let cmd = DaemonOpts::with_example(Cli::command(), "ms=org.example.Server");
    kvmfi::cliparse::edit_subcommand(cmd, "list", |c| c.about(LIST_ABOUT))
}

/// `list`'s help: which daemons it lists.
const LIST_ABOUT: &str = "List the CloudStack daemons running on this node: component, pid, state, main class or command";

/// Runs the tool on `args` (argv[0] included).
pub fn run(args: impl kvmfi::cliparse::Argv) -> Result<()> {
    let Some(cli) = kvmfi::cliparse::parse_or_helper::<Cli>(command(), args, stress::HELPER_ARG, stress::helper_main)? else { return Ok(()) };
    let mut table = components();
    let ctx = cli.daemon.ctx(TOOL, &mut table)?;
    let comp = |c: Comp| -> &Component { table.iter().find(|t| t.name == c.name()).expect("every Comp is in the table") };
    let virsh = Virsh { uri: cli.virsh_uri.clone() };
    match cli.cmd {
        Cmd::Daemon(DaemonCmd::List { json }) => {
            ctx.list(&table, json)?;
            sysvm::list_sysvms(&virsh, json)
        }
        Cmd::Daemon(DaemonCmd::Crash { component: c @ (Comp::Ssvm | Comp::Cpvm | Comp::Vr) }) => sysvm::sysvm(&ctx, &virsh, Sysvm::of(c), VmOp::Crash),
        Cmd::Daemon(DaemonCmd::Hang { component: c @ (Comp::Ssvm | Comp::Cpvm | Comp::Vr) }) => sysvm::sysvm(&ctx, &virsh, Sysvm::of(c), VmOp::Hang),
        Cmd::Daemon(DaemonCmd::Resume { component: c @ (Comp::Ssvm | Comp::Cpvm | Comp::Vr) }) => sysvm::sysvm(&ctx, &virsh, Sysvm::of(c), VmOp::Resume),
        Cmd::Daemon(DaemonCmd::Crash { component }) => ctx.crash(comp(component)),
        Cmd::Daemon(DaemonCmd::Hang { component }) => ctx.hang(comp(component)),
        Cmd::Daemon(DaemonCmd::Resume { component }) => ctx.resume(comp(component)),
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
        Cmd::Journal(j) => j.run(&ctx),
    }
}
