//! cluster_controller: fault injection across the nodes of cluster.conf,
//! over SSH, in parallel.
//!
//! Every action runs the node's own injectors (hadoop_injector,
//! cloudstack_injector, kvm-ioctl-fi), so every fault is journaled on the
//! node that carries it and `recover` there undoes it. The interactive menu
//! ([`menu`]) is a thin layer over the same functions the subcommands call.

pub mod bootrecover;
pub mod hostkeys;
pub mod interrupt;
pub mod menu;
pub mod nodelocal;
pub mod ops;
pub mod scenario;
pub mod ssh;
pub mod sshconfig;
pub mod target;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use kvmfi::clusterconf::{self, Node};
use kvmfi::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The tool's name in messages.
pub const TOOL: &str = "cluster_controller";
/// Environment variable naming the cluster file.
pub const CONF_ENV: &str = "KVMFI_CLUSTER_CONF";

const AFTER_LONG_HELP: &str = "\
TARGETS:
--target SPEC, repeatable; the union of the nodes is used.
  all                  every node
  NAME[,NAME...]       those nodes (also name:NAME)
  role:ROLE            every node with ROLE, e.g. role:DataNode
  random:ROLE          one node with ROLE picked at random (also one:ROLE)
  minority[:ROLE]      a random minority of the nodes (with ROLE): (n-1)/2, at least 1
  majority[:ROLE]      a random majority: n/2+1
Roles: NameNode DataNode SecondaryNameNode ResourceManager NodeManager JobHistoryServer ManagementServer Agent UsageServer Database NFS KVMHost. --seed makes random picks repeatable.

CLUSTER FILE:
One node a line, name,address,ssh_port,role[,role...]; '#' comments; a line known_hosts = PATH adds a known_hosts file (relative to the cluster file). Taken from --config, else $KVMFI_CLUSTER_CONF, else ./cluster.conf, else /etc/kvmfi/cluster.conf, else the original's three nodes (master 192.168.64.10, slave1 .11, slave2 .12, port 22). 'nodes' checks the file without connecting; errors name the line.
An Ansible inventory works wherever a cluster file does (INI: a first line [group], or .ini; YAML: all:, ---, or .yml/.yaml). Its groups are the roles (any letter case, '_' and '-' ignored: [datanode], [data_node], DataNode:), through children: too, plus a host's kvmfi_roles=Role,Role variable; ansible_host (else the host name) is the address, ansible_port (else ~/.ssh/config's Port, else 22) the port, ansible_user the account; host variables beat group variables; numeric ranges node[01:32] expand. 'nodes --export ansible' (INI) or 'ansible-yaml' prints the nodes as an inventory, one group per role.

SSH:
One connection per node per command, all nodes at once (--parallel), with the ssh2 library: key authentication with --identity keys, else ~/.ssh/config's IdentityFile, the ssh agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa. The account is the node's ansible_user, else --user, else ~/.ssh/config's User, else root (the injectors need root). ~/.ssh/config (or --ssh-config FILE) is read for HostName, User, Port and IdentityFile by Host patterns; Match blocks are not applied. --connect-timeout bounds TCP connect + handshake + login, so a node whose port drops packets is reported unreachable after that long while the others go on; --command-timeout bounds each remote command.

HOST KEYS:
Checked by default, as OpenSSH does: the key a node offers must be listed in --known-hosts FILE, the cluster file's known_hosts, ~/.ssh/known_hosts or /etc/ssh/ssh_known_hosts (hashed entries and [host]:port included). An unknown key is refused with its SHA256 fingerprint and the ssh-keyscan line that would add it; --accept-new-host-keys records it instead (in the first of those files), like ssh's StrictHostKeyChecking=accept-new. A key that differs from the recorded one is always refused (HOST KEY CHANGED, on stderr too). --insecure-ignore-host-keys checks nothing (the original's behaviour): anyone who answers on a node's address receives root's commands.

ON THE NODES:
The nodes run hadoop_injector, cloudstack_injector and kvm-ioctl-fi (installed by make install; other paths with --hadoop-injector, --cloudstack-injector, --kvm-ioctl-fi). Each fault is journaled on the node that carries it, so 'recover' (which runs 'recover --all' there) undoes everything even if this controller was killed. partition runs 'hadoop_injector network PEER' on each chosen node for each peer: never list the controller's own address as a peer, or the node cannot be reached to recover it.

SCENARIOS:
scenario NAME runs one; with --duration D it heals by itself after D (Ctrl-C or SIGTERM heals at once).
  datanode-crash         SIGKILL one random DataNode; heal starts it again
  datanode-partition     cut one random DataNode off from every other node; heal reconnects it
  namenode-crash         SIGKILL the NameNode; heal starts it again
  delay-hang             200 ms netem delay to the NameNode and SIGSTOP of one DataNode (needs sch_netem); heal undoes both
  cpu-stress             CPU load on every DataNode for the duration (hadoop_injector cpu-stress-local)
  resourcemanager-hang   SIGSTOP the ResourceManager; heal sends SIGCONT
  api-delay              delay the management server's API answers (--delay-ms, default 500)
  db-starvation          at most one database connection per cloud account on the Database nodes (else the ManagementServer nodes)
  kvm-ioctl-deny         KVM_RUN of QEMU fails with EPERM on every KVMHost node that has kvm-ioctl-fi; heal disarms
Without --duration the faults stay until 'recover' (the fault ids per node are printed).

EXIT STATUS:
  0  every node was reached and every command succeeded
  1  a node was unreachable or a command failed on it (see the per-node report)
  2  usage error: bad option, target, or cluster file; nothing was done
  130 a scenario interrupted by Ctrl-C (it was healed first)

ENVIRONMENT:
  KVMFI_CLUSTER_CONF  the cluster file when --config is not given
  HOME                where ~/.ssh (keys, config, known_hosts) is

EXAMPLES:
  cluster_controller                      # the interactive menu
  cluster_controller nodes
  cluster_controller --accept-new-host-keys status      # first contact: record the nodes' host keys
  cluster_controller -c hosts.yml nodes --export ansible  # an Ansible inventory in, INI out
  cluster_controller status --json | jq -c 'select(.reachable == false)'
  cluster_controller inject -t random:DataNode hadoop crash dn
  cluster_controller partition -t minority
  cluster_controller scenario datanode-partition --duration 60s
  cluster_controller recover
";

/// Fault injection across a cluster over SSH.
#[derive(Parser, Debug)]
#[command(
    name = "cluster_controller",
    version,
    about = "Inject faults across the nodes of cluster.conf over SSH, in parallel; undone by 'recover'",
    long_about = "Inject faults across the nodes of a Hadoop / CloudStack / KVM cluster: crash, hang, \
partition and slow down daemons and nodes by running each node's own injectors over SSH, all nodes in \
parallel, with a report per node. Preset scenarios heal by themselves; 'recover' undoes everything on \
every node. Without a command it opens the original interactive menu.",
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub g: Global,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

/// Options of every command.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The cluster file (default: $KVMFI_CLUSTER_CONF, ./cluster.conf, /etc/kvmfi/cluster.conf)
    #[arg(short = 'c', long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Remote account (a node's ansible_user wins; default: ~/.ssh/config's User, else root)
    #[arg(short = 'u', long, value_name = "USER", global = true)]
    pub user: Option<String>,
    /// Private key to log in with (repeatable; default: ~/.ssh/config's IdentityFile, the agent, then ~/.ssh/id_*)
    #[arg(short = 'i', long, value_name = "KEY", global = true)]
    pub identity: Vec<PathBuf>,
    /// Limit for connecting and logging in to a node
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = positive, global = true)]
    pub connect_timeout: Duration,
    /// Limit for each remote command
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = positive, global = true)]
    pub command_timeout: Duration,
    /// Also check host keys against this known_hosts file (read first; new keys are recorded here)
    #[arg(long, value_name = "FILE", global = true)]
    pub known_hosts: Option<PathBuf>,
    /// Record the host key of a node seen for the first time (like ssh's accept-new); changed keys are still refused
    #[arg(long, global = true, conflicts_with = "insecure_ignore_host_keys")]
    pub accept_new_host_keys: bool,
    /// Do not check host keys at all: anyone answering on a node's address gets the commands (the original's behaviour)
    #[arg(long, global = true)]
    pub insecure_ignore_host_keys: bool,
    /// OpenSSH client configuration to honour (HostName, User, Port, IdentityFile; default ~/.ssh/config; 'none' for none)
    #[arg(long, value_name = "FILE", global = true)]
    pub ssh_config: Option<PathBuf>,
    /// At most this many nodes at once
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    pub parallel: u16,
    /// hadoop_injector on the nodes
    #[arg(long, value_name = "PATH", default_value = "hadoop_injector", global = true)]
    pub hadoop_injector: String,
    /// cloudstack_injector on the nodes
    #[arg(long, value_name = "PATH", default_value = "cloudstack_injector", global = true)]
    pub cloudstack_injector: String,
    /// kvm-ioctl-fi on the KVMHost nodes
    #[arg(long, value_name = "PATH", default_value = "kvm-ioctl-fi", global = true)]
    pub kvm_ioctl_fi: String,
    /// cluster_controller on the KVMHost nodes (it runs the VM and netem faults there: node-local)
    #[arg(long, value_name = "PATH", default_value = "cluster_controller", global = true)]
    pub controller: String,
    /// One JSON object per node (per line) instead of the text report
    #[arg(long, global = true)]
    pub json: bool,
    /// Seed for the random picks of random:, minority and majority targets
    #[arg(long, value_name = "N", global = true)]
    pub seed: Option<u64>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// The interactive menu (the default on a terminal)
    Menu,
    /// Check the cluster file and print its nodes (no connection); --export writes them as an Ansible inventory
    Nodes(NodesArgs),
    /// Per node: reachable, roles, the daemons running, the faults in force
    Status(TargetArgs),
    /// Run an injector command on the target nodes (default: the nodes whose role fits)
    Inject(InjectArgs),
    /// Cut the target nodes off from the peers (default: every node not targeted)
    Partition(PartitionArgs),
    /// Run a preset scenario; with --duration it heals by itself
    Scenario(ScenarioArgs),
    /// Undo every fault on every node (or the target nodes); reports nodes it could not reach
    Recover(TargetArgs),
    /// Run on a node by the controller over SSH: QEMU crash/hang/resume, netem delay/loss (journaled)
    #[command(subcommand)]
    NodeLocal(nodelocal::NodeCmd),
}

/// `nodes`.
#[derive(Args, Debug, Clone, Default)]
pub struct NodesArgs {
    /// Print the nodes as an Ansible inventory (INI, or YAML with ansible-yaml), one group per role
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub export: Option<Export>,
}

/// Inventory formats of `nodes --export`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// INI inventory
    Ansible,
    /// YAML inventory
    AnsibleYaml,
}

/// `--target`.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// Which nodes (see TARGETS); repeatable; default: all
    #[arg(short = 't', long = "target", value_name = "SPEC", value_parser = target::parse)]
    pub targets: Vec<target::Spec>,
}

/// `inject`.
#[derive(Args, Debug, Clone)]
pub struct InjectArgs {
    #[command(flatten)]
    pub t: TargetArgs,
    /// Which injector runs on the nodes
    #[arg(value_enum)]
    pub tool: InjTool,
    /// Its command and arguments, e.g. crash dn; network 10.0.0.3; api-delay 200
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// Injectors the nodes run.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InjTool {
    /// hadoop_injector
    Hadoop,
    /// cloudstack_injector
    Cloudstack,
    /// kvm-ioctl-fi
    KvmIoctl,
    /// cluster_controller node-local (QEMU processes, netem on the host)
    Vm,
}

/// `partition`.
#[derive(Args, Debug, Clone)]
pub struct PartitionArgs {
    #[command(flatten)]
    pub t: TargetArgs,
    /// Address to cut the targets off from (repeatable; default: every node not targeted)
    #[arg(long, value_name = "ADDR", value_parser = kvmfi::netfault::parse_ip)]
    pub peer: Vec<std::net::IpAddr>,
}

/// `scenario`.
#[derive(Args, Debug, Clone)]
pub struct ScenarioArgs {
    /// The scenario (see SCENARIOS); --list shows them
    #[arg(value_enum, required_unless_present = "list")]
    pub name: Option<scenario::Name>,
    /// Heal by itself after this long (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", value_parser = positive)]
    pub duration: Option<Duration>,
    /// api-delay: the delay in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=60000))]
    pub delay_ms: u32,
    /// List the scenarios
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub t: TargetArgs,
}

/// A duration above zero (clap value parser for time limits).
pub fn positive(text: &str) -> std::result::Result<Duration, String> {
    match kvmfi::units::parse_duration(text)? {
        d if d.is_zero() => Err(format!("'{text}' must be above zero")),
        d => Ok(d),
    }
}

/// Everything an action needs: the nodes, how to reach them, the remote
/// tool paths, the random source.
pub struct Ctx {
    pub nodes: Vec<Node>,
    /// Where the nodes came from (a path, or "built-in defaults").
    pub source: String,
    pub g: Global,
    pub ssh: ssh::SshOpts,
    pub rng: rand::rngs::StdRng,
}

impl Ctx {
    /// Builds the context from the global options, loading the cluster file.
    pub fn new(g: Global) -> Result<Ctx> {
        use rand::SeedableRng;
        let (cluster, source) = load_cluster(g.config.as_deref())?;
        let conf_kh = conf_known_hosts(&cluster, &source);
        let nodes = cluster.nodes;
        let settings = SshSettings {
            user: g.user.clone(),
            identities: g.identity.clone(),
            connect_timeout: g.connect_timeout,
            command_timeout: g.command_timeout,
            known_hosts: g.known_hosts.clone(),
            conf_known_hosts: conf_kh,
            accept_new_host_keys: g.accept_new_host_keys,
            insecure_ignore_host_keys: g.insecure_ignore_host_keys,
            ssh_config: g.ssh_config.clone(),
        };
        if settings.insecure_ignore_host_keys {
            eprintln!("{TOOL}: warning: --insecure-ignore-host-keys: host keys are not checked; anyone answering on a node's address receives its commands");
        }
        let ssh = ssh_opts(&settings, g.parallel as usize)?;
        let rng = match g.seed {
            Some(s) => rand::rngs::StdRng::seed_from_u64(s),
            None => rand::rngs::StdRng::from_entropy(),
        };
        Ok(Ctx { nodes, source, g, ssh, rng })
    }

    /// Replaces the nodes with those of `path` (menu item 7).
    pub fn reload(&mut self, path: &Path) -> Result<()> {
        self.nodes = clusterconf::load(path)?;
        self.source = path.display().to_string();
        Ok(())
    }

    /// The target nodes of `specs` (default `default`).
    pub fn select(&mut self, specs: &[target::Spec], default: &target::Spec) -> Result<Vec<Node>> {
        target::select(&self.nodes, specs, default, &mut self.rng)
    }

    /// The injector path for a tool.
    pub fn path(&self, t: InjTool) -> &str {
        match t {
            InjTool::Hadoop => &self.g.hadoop_injector,
            InjTool::Cloudstack => &self.g.cloudstack_injector,
            InjTool::KvmIoctl => &self.g.kvm_ioctl_fi,
            InjTool::Vm => &self.g.controller,
        }
    }
}

pub use kvmfi::clusterconf::{conf_known_hosts, SshSettings};

/// The connection options of `s`: host-key policy and files, ~/.ssh/config.
pub fn ssh_opts(s: &SshSettings, parallel: usize) -> Result<ssh::SshOpts> {
    let policy = if s.insecure_ignore_host_keys {
        hostkeys::Policy::Insecure
    } else if s.accept_new_host_keys {
        hostkeys::Policy::AcceptNew
    } else {
        hostkeys::Policy::Strict
    };
    let ssh_config = match s.ssh_config.as_deref() {
        Some(p) if p == Path::new("none") => sshconfig::SshConfig::default(),
        Some(p) if !p.exists() => return Err(Error::usage(format!("--ssh-config {}: no such file", p.display()))),
        Some(p) => sshconfig::SshConfig::load(p).map_err(Error::usage)?,
        None => sshconfig::SshConfig::load(&sshconfig::tilde("~/.ssh/config")).map_err(Error::usage)?,
    };
    Ok(ssh::SshOpts {
        user: s.user.clone(),
        identities: s.identities.clone(),
        connect_timeout: s.connect_timeout,
        command_timeout: s.command_timeout,
        host_keys: hostkeys::HostKeys::new(policy, s.known_hosts.clone(), s.conf_known_hosts.clone()),
        ssh_config,
        parallel,
    })
}

/// The cluster file in force: `explicit`, else $KVMFI_CLUSTER_CONF, else
/// ./cluster.conf, else /etc/kvmfi/cluster.conf, else the built-in nodes.
pub fn load_cluster(explicit: Option<&Path>) -> Result<(clusterconf::Cluster, String)> {
    if let Some(p) = explicit {
        return Ok((clusterconf::load_cluster(p)?, p.display().to_string()));
    }
    if let Some(p) = std::env::var_os(CONF_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return Ok((clusterconf::load_cluster(&p)?, p.display().to_string()));
    }
    for p in ["cluster.conf", "/etc/kvmfi/cluster.conf"] {
        let p = Path::new(p);
        if p.exists() {
            return Ok((clusterconf::load_cluster(p)?, p.display().to_string()));
        }
    }
    let cluster = clusterconf::parse_cluster(clusterconf::DEFAULT_CONF).expect("the built-in cluster parses");
    Ok((cluster, "built-in defaults (no cluster.conf found)".into()))
}

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs the tool on `args` (argv[0] included).
pub fn run(args: impl kvmfi::cliparse::Argv) -> Result<()> {
    let Some(m) = kvmfi::cliparse::parse(command(), args)? else {
        return Ok(());
    };
    let cli = Cli::from_arg_matches(&m).map_err(|e| Error::usage(kvmfi::cliparse::one_line(&e.to_string())))?;
    match cli.cmd {
        Some(Cmd::Scenario(ref a)) if a.list => return scenario::print_list(),
        // The node side needs no cluster file.
        Some(Cmd::NodeLocal(c)) => return nodelocal::run(c),
        _ => {}
    }
    let mut ctx = Ctx::new(cli.g)?;
    match cli.cmd {
        None | Some(Cmd::Menu) => {
            use std::io::IsTerminal;
            if cli.cmd.is_none() && !std::io::stdin().is_terminal() {
                return Err(Error::usage(
                    "standard input is not a terminal: give a command (status, inject, partition, scenario, recover) or 'menu'",
                ));
            }
            menu::run(&mut ctx)
        }
        Some(Cmd::Nodes(a)) => match a.export {
            None => ops::nodes(&ctx),
            Some(Export::Ansible) => kvmfi::run::out(clusterconf::ansible::export_ini(&ctx.nodes).trim_end()),
            Some(Export::AnsibleYaml) => kvmfi::run::out(clusterconf::ansible::export_yaml(&ctx.nodes).trim_end()),
        },
        Some(Cmd::Status(t)) => ops::finish(ops::status(&mut ctx, &t.targets)?),
        Some(Cmd::Inject(a)) => ops::finish(ops::inject(&mut ctx, &a.t.targets, a.tool, &a.args)?),
        Some(Cmd::Partition(a)) => ops::finish(ops::partition(&mut ctx, &a.t.targets, &a.peer)?),
        Some(Cmd::Scenario(a)) => {
            let name = a.name.expect("clap requires a name without --list");
            let opts = scenario::Opts { duration: a.duration, delay_ms: a.delay_ms, wait_enter: false };
            let out = scenario::run(&mut ctx, name, &a.t.targets, &opts)?;
            ops::finish(out)
        }
        Some(Cmd::Recover(t)) => ops::finish(ops::recover(&mut ctx, &t.targets)?),
        Some(Cmd::NodeLocal(_)) => unreachable!("handled above"),
    }
}
