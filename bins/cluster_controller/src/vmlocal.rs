//! `vm-local`: the node side of the VM faults (menu item 1), run on a KVM
//! host over SSH like the original's `*-local` commands. QEMU processes are
//! crashed, frozen and resumed, and the host's network delayed or lossy,
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
/// Handle of the root netem qdisc vm-local adds (distinct from api-delay's).
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
pub enum VmCmd {
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
        return Err(Error::failed(format!("{dev} already carries a vm-local delay or loss; 'vm-local clear' first")));
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

/// Runs a vm-local command on this node.
pub fn run(cmd: VmCmd) -> Result<()> {
    let ctx = Ctx { tool: TOOL, dry_run: false };
    match cmd {
        VmCmd::Crash(w) => ctx.crash(&qemu(&w)),
        VmCmd::Hang(w) => ctx.hang(&qemu(&w)),
        VmCmd::Resume(w) => ctx.resume(&qemu(&w)),
        VmCmd::Delay { ms, dev } => netem(&ctx, "vm-delay", &dev, &[format!("delay"), format!("{ms}ms")], format!("{ms} ms netem delay")),
        VmCmd::Loss { pct, dev } => netem(&ctx, "vm-loss", &dev, &["loss".into(), format!("{pct}%")], format!("{pct}% netem loss")),
        VmCmd::Clear => {
            let n = ctx.undo_where(|e| e.kind == "vm-delay" || e.kind == "vm-loss")?;
            if n == 0 {
                eprintln!("{TOOL}: no vm-local delay or loss is in force; nothing changed");
            }
            Ok(())
        }
    }
}
