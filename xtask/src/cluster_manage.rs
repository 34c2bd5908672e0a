//! The interface of `cluster_manage.sh` (a shell script at the repository
//! root) as a clap command, so its man page is generated and checked like
//! every other tool's. Keep it in step with the script's usage text.

use clap::{Arg, Command};

const AFTER: &str = "\
CLUSTER FILE:
cluster.conf, one node a line: name,address,ssh_port,role[,role...] ('#' comments); a line known_hosts = PATH adds a known_hosts file (relative to the cluster file). It is read line by line with read -r, never sourced. Taken from -c, else $CLUSTER_CONF, else $KVMFI_CLUSTER_CONF, else ./cluster.conf, else the cluster.conf next to the script, else /etc/kvmfi/cluster.conf. An Ansible inventory (INI or YAML; groups are the roles, ansible_host, ansible_port, ansible_user) works too: it is read through 'cluster_controller -c FILE nodes' ($LOCAL_CLUSTER_CONTROLLER, else the one next to the script or on PATH). The NameNode and ResourceManager roles pick where start, stop and test run; IP arguments must be a node's address.

SSH:
OpenSSH's ssh with ConnectTimeout=5 ($SSH_CONNECT_TIMEOUT), BatchMode, the key of -i or $SSH_KEY when given, as the node's ansible_user, else -u USER ($SSH_USER), else ~/.ssh/config's User, else root; ssh itself applies ~/.ssh/config. Nodes run hadoop_injector (and cluster_controller for inject-delay) from their PATH, or $HADOOP_INJECTOR and $CLUSTER_CONTROLLER.

HOST KEYS:
Checked by default (StrictHostKeyChecking=yes) against --known-hosts FILE, the cluster file's known_hosts, $HOME/.ssh/known_hosts and /etc/ssh/ssh_known_hosts. A refused key is explained: an unknown one with its fingerprint (from ssh-keyscan) and the ssh-keyscan line that would add it; a changed one (ssh's REMOTE HOST IDENTIFICATION HAS CHANGED) with its new fingerprint and the ssh-keygen -R line. --accept-new-host-keys records a key seen for the first time (StrictHostKeyChecking=accept-new), never a changed one. --insecure-ignore-host-keys checks nothing (the original's StrictHostKeyChecking=no, UserKnownHostsFile=/dev/null).

UNDO:
Every fault is journaled on the node that carries it: clear-network, clear-delay and resume undo theirs; 'cluster_controller recover' (or 'hadoop_injector recover --all' on a node) undoes everything, including a crash, whose daemon it starts again. Unlike the original, clear-network removes only the rules this tool added.

EXIT STATUS:
  0  success
  1  a node could not be reached or a command failed on it
  2  usage error: unknown command, bad argument, or a cluster file error (with its line number)

ENVIRONMENT:
  CLUSTER_CONF         the cluster file
  SSH_KEY SSH_USER     ssh key and remote user
  HOME                 where .ssh/known_hosts is
  LOCAL_CLUSTER_CONTROLLER  the local cluster_controller that reads Ansible inventories
  SSH_CONNECT_TIMEOUT  seconds (default 5)
  HADOOP_HOME          Hadoop on the nodes (default /opt/hadoop): sbin/start-dfs.sh ..., bin/hdfs
  HADOOP_INJECTOR      hadoop_injector on the nodes
  CLUSTER_CONTROLLER   cluster_controller on the nodes (inject-delay, clear-delay)

EXAMPLES:
  cluster_manage.sh status
  cluster_manage.sh --accept-new-host-keys -c inventory.yml status
  cluster_manage.sh -i ~/.ssh/cluster inject-network 192.168.64.12; cluster_manage.sh clear-network
  cluster_manage.sh inject-hang 192.168.64.11 DataNode; sleep 30; cluster_manage.sh resume 192.168.64.11 DataNode
  cluster_manage.sh inject-delay 200ms && cluster_manage.sh test; cluster_manage.sh clear-delay
";

fn ip() -> Arg {
    Arg::new("IP").required(true).help("The node's address, as in cluster.conf")
}

fn proc_arg() -> Arg {
    Arg::new("PROC").required(true).help("nn dn snn rm nm jhs, or NameNode, DataNode, SecondaryNameNode, ResourceManager, NodeManager, JobHistoryServer")
}

/// The clap definition of cluster_manage.sh.
pub fn command() -> Command {
    Command::new("cluster_manage.sh")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Manage the Hadoop cluster of cluster.conf and inject faults into it over ssh")
        .long_about(
            "Manage the Hadoop cluster of cluster.conf and inject faults into it over ssh: node status, \
start, stop and restart of HDFS and YARN, an HDFS write/read check, and network delay, network \
isolation, crash, hang and resume faults run by the kvmfi injectors on the nodes. The original \
tool's commands, without its hard-coded addresses and paths.",
        )
        .disable_help_subcommand(true)
        .arg(Arg::new("config").short('c').value_name("FILE").help("The cluster file"))
        .arg(Arg::new("identity").short('i').value_name("KEY").help("ssh private key"))
        .arg(Arg::new("user").short('u').value_name("USER").help("Remote user (default: ~/.ssh/config's User, else root; an inventory's ansible_user wins)"))
        .arg(Arg::new("known-hosts").long("known-hosts").value_name("FILE").help("Also check host keys against FILE (new keys are recorded there)"))
        .arg(
            Arg::new("accept-new-host-keys")
                .long("accept-new-host-keys")
                .action(clap::ArgAction::SetTrue)
                .help("Record the host key of a node seen for the first time (ssh's accept-new); a changed key is still refused"),
        )
        .arg(
            Arg::new("insecure-ignore-host-keys")
                .long("insecure-ignore-host-keys")
                .action(clap::ArgAction::SetTrue)
                .help("Check no host key: anyone answering on a node's address receives the commands (the original's behaviour)"),
        )
        .subcommand(Command::new("status").about("Every node: ssh reachable, its roles, the Hadoop daemons running (hadoop_injector list)"))
        .subcommand(Command::new("start").about("start-dfs.sh on the NameNode node, start-yarn.sh on the ResourceManager node"))
        .subcommand(Command::new("stop").about("stop-yarn.sh, then stop-dfs.sh"))
        .subcommand(Command::new("restart").about("stop, then start"))
        .subcommand(Command::new("test").about("HDFS check on the NameNode node: mkdir, put, cat, compare, rm; exit 1 if the data differs"))
        .subcommand(
            Command::new("inject-delay")
                .about("Delay every packet each node sends (netem on its default-route device; needs sch_netem)")
                .arg(Arg::new("DELAY").help("Milliseconds, e.g. 100ms (default 100ms; 1 to 60000)")),
        )
        .subcommand(Command::new("clear-delay").about("Undo inject-delay on every node"))
        .subcommand(
            Command::new("inject-network")
                .about("Cut IP off: every other node drops all traffic to and from it")
                .arg(ip()),
        )
        .subcommand(
            Command::new("clear-network")
                .about("Undo inject-network IP; without IP, every network block of hadoop_injector on every node")
                .arg(Arg::new("IP").help("The address given to inject-network")),
        )
        .subcommand(Command::new("inject-crash").about("SIGKILL daemon PROC on node IP").arg(ip()).arg(proc_arg()))
        .subcommand(Command::new("inject-hang").about("SIGSTOP daemon PROC on node IP").arg(ip()).arg(proc_arg()))
        .subcommand(Command::new("resume").about("SIGCONT daemon PROC on node IP").arg(ip()).arg(proc_arg()))
        .subcommand(Command::new("help").about("The usage text"))
        .after_long_help(AFTER)
}
