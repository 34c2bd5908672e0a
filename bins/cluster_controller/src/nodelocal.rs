//! `node-local`: faults a node runs for the controller over SSH, like the
//! original's `*-local` commands: the VM faults of menu item 1 (QEMU
//! processes crashed, frozen and resumed) and a delay or loss on the node's
//! network (menu item 1, cluster_manage.sh inject-delay / clear-delay),
//! through the same journal as every injector, so `recover --all` of any
//! kvmfi tool on the node undoes them.

use clap::{Args, Subcommand};
use kvmfi::exec::{self, argv};
use kvmfi::injector::{Component, Ctx};
use kvmfi::journal::{self, Fault, Step};
use kvmfi::netfault;
use kvmfi::{Error, Result};

/// The journal's name for these faults.
pub const TOOL: &str = "cluster_controller";
/// Handle of the root netem qdisc node-local adds (distinct from api-delay's).
pub const HANDLE: &str = "4b48:";

/// Which QEMU processes.
#[derive(Args, Debug, Clone)]
pub struct Which {
    /// Process name of the VMs' QEMU (its argv[0] or comm)
    #[arg(long, value_name = "NAME", default_value = "qemu-system-x86_64")]
    pub name: String,
}

/// Network device option.
#[derive(Args, Debug, Clone)]
pub struct Dev {
    /// Network device (default: the default route's)
    #[arg(long, value_name = "DEV")]
    pub dev: Option<String>,
}

/// The node-side VM faults.
#[derive(Subcommand, Debug, Clone)]
pub enum NodeCmd {
    /// SIGKILL the QEMU processes ('recover' starts them again the same way)
    Crash(Which),
    /// SIGSTOP the QEMU processes (the VMs freeze)
    Hang(Which),
    /// SIGCONT them
    Resume(Which),
    /// Delay every packet leaving DEV by MS milliseconds (netem; needs sch_netem)
    Delay {
        /// 1 to 60000
        #[arg(value_name = "MS", value_parser = clap::value_parser!(u32).range(1..=60000))]
        ms: u32,
        #[command(flatten)]
        dev: Dev,
    },
    /// Drop PCT percent of the packets leaving DEV (netem)
    Loss {
        /// 1 to 100
        #[arg(value_name = "PCT", value_parser = clap::value_parser!(u32).range(1..=100))]
        pct: u32,
        #[command(flatten)]
        dev: Dev,
    },
    /// Undo delay and loss
    Clear,
    /// At boot (the kvmfi-recover unit): undo every fault the journal still holds with each injector's recover --all
    BootRecover {
        /// Give up after this long (waiting for the database a step needs included)
        #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = crate::positive)]
        wait: std::time::Duration,
    },
}

fn qemu(w: &Which) -> Component {
    // comm is cut at 15 bytes (qemu-system-x86_64 -> qemu-system-x86).
    let short: String = w.name.chars().take(15).collect();
    Component::command("qemu", &[w.name.as_str(), short.as_str()])
}

const DEFAULT_QDISCS: &[&str] = &["noqueue", "pfifo_fast", "fq_codel", "mq", "fq", "pfifo", "cake"];

fn netem(ctx: &Ctx, kind: &str, dev: &Dev, params: &[String], desc: String) -> Result<()> {
    ctx.require_root()?;
    let tc = exec::require_tool("tc", "the iproute2 package")?.to_string_lossy().into_owned();
    let dev = dev
        .dev
        .clone()
        .or_else(netfault::default_route_dev)
        .ok_or_else(|| Error::usage("no default route to take the device from; give --dev"))?;
    let (qkind, handle) = netfault::root_qdisc(&tc, &dev)?;
    if handle == HANDLE {
        return Err(Error::failed(format!("{dev} already carries a node-local delay or loss; 'node-local clear' first")));
    }
    if !DEFAULT_QDISCS.contains(&qkind.as_str()) {
        return Err(Error::failed(format!(
            "{dev} has a root qdisc '{qkind} {handle}' that kvmfi did not create; it will not replace it"
        )));
    }
    let mut add = argv([tc.as_str(), "qdisc", "add", "dev", dev.as_str(), "root", "handle", HANDLE, "netem"]);
    add.extend(params.iter().cloned());
    let undo = vec![Step::TcDeleteRoot { tc: tc.clone(), dev: dev.clone(), handle: HANDLE.into() }];
    ctx.inject(|_| {
        Ok(Fault {
            kind: kind.into(),
            target: dev.clone(),
            desc: format!("{desc} on {dev}"),
            apply: vec![Step::Run { argv: add.clone(), stdin: None }],
            undo: journal::in_this_netns(undo.clone()),
        })
    })
}

/// Runs a node-local command on this node.
pub fn run(cmd: NodeCmd) -> Result<()> {
    let ctx = Ctx { tool: TOOL, dry_run: false };
    match cmd {
        NodeCmd::Crash(w) => ctx.crash(&qemu(&w)),
        NodeCmd::Hang(w) => ctx.hang(&qemu(&w)),
        NodeCmd::Resume(w) => ctx.resume(&qemu(&w)),
        NodeCmd::Delay { ms, dev } => netem(&ctx, "vm-delay", &dev, &["delay".to_string(), format!("{ms}ms")], format!("{ms} ms netem delay")),
        NodeCmd::Loss { pct, dev } => netem(&ctx, "vm-loss", &dev, &["loss".into(), format!("{pct}%")], format!("{pct}% netem loss")),
        NodeCmd::BootRecover { wait } => crate::bootrecover::run(wait),
        NodeCmd::Clear => {
            let n = ctx.undo_where(|e| e.kind == "vm-delay" || e.kind == "vm-loss")?;
            if n == 0 {
                eprintln!("{TOOL}: no node-local delay or loss is in force; nothing changed");
            }
            Ok(())
        }
    }
}
