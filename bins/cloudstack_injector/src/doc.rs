//! cloudstack_injector's words: its help and man page text, kept apart
//! from what it does. The pieces every journaled injector shares come
//! from [`kvmfi::injector_help`].

use crate::CloudStack;
use kvmfi::injector::daemon_tool::{Doc, InjectorDoc};
use kvmfi::injector_help;

impl InjectorDoc for CloudStack {
    fn doc() -> Doc {
        Doc {
            about: "Inject faults into the CloudStack daemons of this node; journaled, undone by 'recover'",
            long_about: "Inject faults into the CloudStack daemons of this node: crash, hang and resume a \
daemon, delay the management server's API, limit the cloud database's connections, make primary \
storage read-only, cut the agent's link to the management server; crash, pause and resume system VMs \
by type, block a peer, lock the vm_instance table, unmount or fill primary storage, stress CPU and \
memory, make VM migrations fail. Every change is journaled \
before it is made, so 'recover' can always undo it, even after the injector itself was killed.",
            after_long_help: AFTER_LONG_HELP,
            list_about: "List the CloudStack daemons running on this node: component, pid, state, main class or command",
            main_class_example: "ms=org.example.Server",
        }
    }
}

const AFTER_LONG_HELP: &str = concat!(
    "\
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
",
    injector_help!(undo),
    "\
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

",
    injector_help!(exit_status,
        failed: "a command, the server or the kernel refused it",
        usage: "command, component, number or path",
        missing: "a host tool or kernel module is missing (nft or iptables, tc, sch_netem, mariadb/mysql client, exportfs, virsh, mountpoint)",
        not_found: "the daemon or database server is not running or not reachable, or no such fault id"),
    "
ENVIRONMENT:
",
    injector_help!(KVMFI_STATE_DIR),
    injector_help!(KVMFI_FIREWALL),
    "  LIBVIRT_DEFAULT_URI         virsh's connection when --virsh-uri is not given\n",
    injector_help!(KVMFI_TEST_DIE_AFTER_APPLY),
    "
FILES:
",
    injector_help!(journal_files),
    "  /var/lib/nfs/etab                     NFS exports, read by storage-ro

EXAMPLES:
  cloudstack_injector db-limit --db-socket /run/mysqld/mysqld.sock; cloudstack_injector db-restore
  cloudstack_injector storage-ro /mnt/primary && sleep 60 && cloudstack_injector storage-rw /mnt/primary
  cloudstack_injector --dry-run api-delay 200 --dev eth0
  cloudstack_injector sysvm-crash cpvm; cloudstack_injector recover
  cloudstack_injector db-lock && sleep 60 && cloudstack_injector db-unlock
  cloudstack_injector network 10.0.0.5 8250; cloudstack_injector network-clear 10.0.0.5
",
);
