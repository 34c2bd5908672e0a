//! hadoop_injector's words: its help and man page text, kept apart from
//! what it does. The pieces every journaled injector shares come from
//! [`kvmfi::injector_help`].

use crate::Hadoop;
use kvmfi::injector::daemon_tool::{Doc, InjectorDoc};
use kvmfi::injector_help;

impl InjectorDoc for Hadoop {
    fn doc() -> Doc {
        Doc {
            about: "Inject faults into the Hadoop daemons of this node; journaled, undone by 'recover'",
            long_about: "Inject faults into the Hadoop daemons of this node: crash, hang and resume a \
daemon, isolate the node from a peer, put HDFS into safe mode, mark the NodeManager unhealthy, \
refresh YARN; delay, lose or reorder the traffic to a peer, isolate it, stress CPU, memory and \
disk, kill MapReduce tasks, throttle a daemon's disk I/O, on this node or on another over ssh. Every change is journaled before it is made, so 'recover' can always undo it, \
even after the injector itself was killed.",
            after_long_help: AFTER_LONG_HELP,
            list_about: "List the Hadoop daemons running on this node: component, pid, state, main class",
            main_class_example: "nn=org.example.NameNode",
        }
    }
}

const AFTER_LONG_HELP: &str = concat!(
    "\
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
",
    injector_help!(undo),
    "\
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

",
    injector_help!(exit_status,
        failed: "a command or the kernel refused it",
        usage: "command, component, address or number",
        missing: "a host tool or kernel feature is missing (nft or iptables, tc, sch_netem, ssh, hdfs, yarn, cgroup v2 io)",
        not_found: "the daemon is not running on this node, or no such fault id"),
    "
ENVIRONMENT:
",
    injector_help!(KVMFI_STATE_DIR),
    "  HADOOP_HOME                 where bin/hdfs and bin/yarn are, when not on PATH\n",
    injector_help!(KVMFI_FIREWALL),
    "  KVMFI_CLUSTER_CONF          cluster.conf naming the nodes (see --cluster-conf)\n",
    injector_help!(KVMFI_TEST_DIE_AFTER_APPLY),
    "
FILES:
",
    injector_help!(journal_files),
    "  /var/lib/kvmfi/nm-health              default NodeManager health marker (yarn-health --marker)
  ./cluster.conf                        node names, addresses and ssh ports, when present

EXAMPLES:
  hadoop_injector hang nn && sleep 30 && hadoop_injector resume nn
  hadoop_injector network 10.0.0.12; hadoop_injector status; hadoop_injector recover
  hadoop_injector --dry-run crash dn
  hadoop_injector delay slave1 200 20; hadoop_injector delay-show; hadoop_injector delay-clear slave1
  hadoop_injector isolate 10.0.0.12 50010; hadoop_injector isolate-clear
  hadoop_injector cpu-stress slave2 60 4; hadoop_injector mem-stress slave2 2048; hadoop_injector mem-stress-clear
",
);
