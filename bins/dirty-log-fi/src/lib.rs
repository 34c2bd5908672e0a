//! dirty-log-fi: the dirty bitmaps KVM_GET_DIRTY_LOG hands to a chosen VMM
//! lose (or gain) a chosen share of their bits (see `man dirty-log-fi`).
//! Module vm-migration-fi.ko (the original vm-migration-fi).

use clap::{ArgGroup, Args};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::cliparse;
use kvmfi::kernel_tool::{ArmArgs, KernelTool};
use kvmfi::kvmtool;
use kvmfi::request::{self, dirty_log};
use kvmfi::symbols::{ModuleSpec, DIRTY_LOG};
use kvmfi::{kmod, Error, Result};

mod doc;
mod ratio;

use ratio::parse_ratio;

/// The module's counters, as read-only parameters.
const COUNTERS: [&str; 5] = ["bits_seen", "bits_dropped", "bits_added", "bits_cleared_in_kvm", "ring_resets_seen"];

/// The fault's own options.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("share").required(true).args(["drop_ratio", "add_ratio"])))]
pub struct Fault {
    /// Share of the set (dirty) bits to clear: 0.25, 25% or 1/4
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio, help_heading = "Fault")]
    drop_ratio: Option<u64>,
    /// Share of the clear bits to set (spurious dirty pages) instead
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio, help_heading = "Fault")]
    add_ratio: Option<u64>,
    /// Choose bits at random with this seed (default: exactly every N-th bit, N = 1/RATIO)
    #[arg(long, value_name = "SEED", help_heading = "Fault")]
    seed: Option<u64>,
    /// Only the bitmaps of this memory slot (KVM_GET_DIRTY_LOG's slot number)
    #[arg(long, value_name = "SLOT", help_heading = "Fault")]
    slot: Option<u32>,
}

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct DirtyLog;

impl KernelTool for DirtyLog {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &DIRTY_LOG;

    fn customize(cmd: clap::Command) -> clap::Command {
        let cmd = cliparse::edit_subcommand(cmd, "status", |c| {
            c.about("Show state and counters, with the bits seen, dropped and added since the arm")
        });
        cliparse::edit_subcommand(cmd, "events", |c| {
            c.about(
                "Print the recorded injection events (time, experiment, pid, comm, value: the bits one \
                 KVM_GET_DIRTY_LOG lost or gained)",
            )
        })
    }

    fn prepare(_: &mut Self::Arm) -> Result<()> {
        kvmtool::require_kvm(Self::SPEC)
    }

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let (ppm, add) = match (a.own.drop_ratio, a.own.add_ratio) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => return Err(Error::usage("--drop-ratio or --add-ratio is needed")),
        };
        let mut args = dirty_log::Args { ppm, ..Default::default() };
        let mut mode = if add { dirty_log::ADD } else { 0 };
        if let Some(seed) = a.own.seed {
            mode |= dirty_log::RANDOM;
            args.seed = if seed == 0 { 1 } else { seed };
        }
        if let Some(slot) = a.own.slot {
            args.slot = u64::from(slot) + 1;
        }
        request::set(req, mode, args);
        Ok(())
    }

    /// The module's counters (read-only parameters); zeros when it is not loaded.
    fn counters() -> Vec<(&'static str, u64)> {
        COUNTERS.iter().map(|c| (*c, kmod::param(DIRTY_LOG.module, c).and_then(|v| v.parse().ok()).unwrap_or(0))).collect()
    }
}

kvmfi::kernel_tool_entry_points!(DirtyLog);
