//! dirty-log-fi: the dirty bitmaps KVM_GET_DIRTY_LOG hands to a chosen VMM
//! lose (or gain) a chosen share of their bits (see `man dirty-log-fi`).
//! Module vm-migration-fi.ko (the original vm-migration-fi).

use clap::{ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use kvmfi::cli::{Bounds, Scope};
use kvmfi::kvmtool;
use kvmfi::symbols::DIRTY_LOG;
use kvmfi::tool::{self, ModuleOpts, StatusReport};
use kvmfi::{kmod, legacy, run, Error, Result};

const PPM: f64 = 1_000_000.0;
const MODE_RANDOM: u32 = 1;
const MODE_ADD: u32 = 2;
/// The module's counters, as read-only parameters.
const COUNTERS: [&str; 5] = ["bits_seen", "bits_dropped", "bits_added", "bits_cleared_in_kvm", "ring_resets_seen"];

#[derive(Parser, Debug)]
#[command(version, propagate_version = true, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Arm the fault (loads the module when needed); prints the experiment id
    Arm(ArmArgs),
    /// Disarm the fault at once
    Off,
    /// Show state and counters, with the bits seen, dropped and added since the arm
    Status {
        /// One JSON object instead of `key value` lines
        #[arg(long)]
        json: bool,
    },
    /// Print the recorded injection events (time, experiment, pid, comm, value:
    /// the bits one KVM_GET_DIRTY_LOG lost or gained)
    Events(tool::EventsOpts),
    /// Disarm and remove the module
    Unload,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("share").required(true).args(["drop_ratio", "add_ratio"])))]
struct ArmArgs {
    #[command(flatten)]
    scope: Scope,
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
    #[command(flatten)]
    bounds: Bounds,
    #[command(flatten)]
    module: ModuleOpts,
}

/// `0.25`, `25%` or `1/4` as parts per million (1..=1000000).
fn parse_ratio(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let value = if let Some(p) = t.strip_suffix('%') {
        p.trim().parse::<f64>().map(|v| v / 100.0)
    } else if let Some((a, b)) = t.split_once('/') {
        match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) if b != 0.0 => Ok(a / b),
            _ => return Err(format!("'{text}': not a ratio")),
        }
    } else {
        t.parse::<f64>()
    }
    .map_err(|_| format!("'{text}': not a ratio (0.25, 25% or 1/4)"))?;
    let ppm = (value * PPM).round();
    if !(1.0..=PPM).contains(&ppm) {
        return Err(format!("'{text}': the ratio must be above 0 and at most 1"));
    }
    Ok(ppm as u64)
}

const EXAMPLES: &str = "  \
dirty-log-fi arm --tgid $(pidof qemu-system-x86_64) --drop-ratio 0.1      # every 10th dirty page is lost\n  \
dirty-log-fi arm --comm firecracker --drop-ratio 5% --seed 42 --slot 0 --times 3\n  \
dirty-log-fi arm --tgid 4242 --add-ratio 1/100 --duration 2m\n  \
dirty-log-fi status            # bits-dropped: pages the destination will miss\n  \
dirty-log-fi off";

/// The clap definition, for the man page and completion generators.
pub fn command() -> clap::Command {
    let spec = &DIRTY_LOG;
    Cli::command()
        .name(spec.tool)
        .bin_name(spec.tool)
        .about("Drop (or add) dirty bits in the bitmaps KVM_GET_DIRTY_LOG returns")
        .long_about(format!(
            "Drop (or add) dirty bits in the bitmaps KVM_GET_DIRTY_LOG returns to a chosen VMM.\n\n\
             The kernel module vm-migration-fi.ko (the original vm-migration-fi) puts a return probe on the \
             VM ioctl handler (kvm_vm_ioctl_get_dirty_log is inlined on Debian kernels), active for \
             KVM_GET_DIRTY_LOG only: at entry it notes the slot and the caller's bitmap, and the slot's size; \
             after KVM has filled the bitmap, it clears a share of its set bits (--drop-ratio) or sets a share \
             of its clear bits (--add-ratio) in the caller's copy. The guest is untouched: only the VMM's view \
             of which pages changed, so a pre-copy live migration silently misses the dropped pages (or \
             copies spurious ones). Bits are chosen exactly every N-th overall, or at random with --seed. \
             Bounds count ioctls: --times 1 spoils one KVM_GET_DIRTY_LOG. `status` shows bits-seen, \
             bits-dropped, bits-added, bits-cleared-in-kvm and ring-resets-seen since the arm.\n\n\
             Which dirty tracking is covered: (1) plain KVM_GET_DIRTY_LOG (KVM clears its bitmap and \
             write-protects the pages it reports): a dropped page is lost unless the guest writes it again \
             before the migration ends, as a later write is logged again. (2) Manual protection \
             (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, which QEMU enables where the kernel has it, 5.x and later): \
             the VMM clears only the bits it saw (KVM_CLEAR_DIRTY_LOG), so a bit hidden from it alone would \
             come back at the next pass; the module therefore clears a dropped bit in KVM's bitmap too \
             (bits-cleared-in-kvm): the page is never write-protected again and no later write to it is \
             logged while dirty logging lasts, so the migration loses it for good. (3) The dirty ring \
             (KVM_CAP_DIRTY_LOG_RING, QEMU -accel kvm,dirty-ring-size=N) is not covered: the VMM reads \
             per-vCPU rings, not the bitmap; the scoped VMM's KVM_RESET_DIRTY_RINGS calls are counted in \
             ring-resets-seen, so a nonzero value with bits-seen 0 says the fault could not act. Address \
             space 0 only (not SMM).\n\n\
             Hook candidates (first present is used): {}.\n\
             Legacy control file: /proc/vm-migration-fi/signal: 1 = the next KVM_GET_DIRTY_LOG of any process \
             loses every second dirty bit; 0 disarms. (The original failed the next VM ioctl of any kind with \
             EIO and could not be disarmed.) Invoked as vm-migration-fi-main (a link made by `make install`), \
             the program is the original one: it takes no values and arms through that file.",
            kvmtool::hooks_sentence(spec)
        ))
        .after_long_help(kvmtool::after_help(spec.module, "vm-migration-fi", EXAMPLES))
}

/// The module's extra counters; zeros when it is not loaded.
fn counters() -> Vec<(&'static str, u64)> {
    let dir = std::path::Path::new("/sys/module").join(kmod::kernel_name(DIRTY_LOG.module)).join("parameters");
    COUNTERS
        .iter()
        .map(|c| {
            let v = std::fs::read_to_string(dir.join(c)).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
            (*c, v)
        })
        .collect()
}

fn status(json: bool) -> Result<()> {
    let spec = &DIRTY_LOG;
    if !json {
        tool::status(spec, false)?;
        for (name, v) in counters() {
            run::out(format!("{:<12} {v}", name.replace('_', "-")))?;
        }
        return Ok(());
    }
    let st = tool::read_status(spec)?;
    let report = StatusReport::from_status(spec, st.as_ref());
    let mut value = serde_json::to_value(&report).map_err(|e| Error::failed(format!("status as JSON: {e}")))?;
    if let Some(obj) = value.as_object_mut() {
        for (name, v) in counters() {
            obj.insert(name.to_string(), v.into());
        }
    }
    run::out_json(&value)
}

/// The original control program (`make install` links it to this binary).
pub static LEGACY: [legacy::Program; 1] = [legacy::Program {
    name: "vm-migration-fi-main",
    spec: &DIRTY_LOG,
    proc_dir: "vm-migration-fi",
    prompts: &[],
}];

/// Runs the tool with the given arguments (or, invoked as vm-migration-fi-main, the
/// original program).
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<()> {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if let Some(done) = legacy::dispatch(&args, &LEGACY) {
        return done;
    }
    let Some(matches) = kvmfi::cliparse::parse(command(), args)? else { return Ok(()) };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let spec = &DIRTY_LOG;
    match cli.cmd {
        Cmd::Arm(a) => {
            kvmtool::require_kvm(spec)?;
            tool::arm(spec, &a.module, &a.scope, &a.bounds, false, |req, _| {
                let (ppm, add) = match (a.drop_ratio, a.add_ratio) {
                    (Some(p), _) => (p, false),
                    (None, Some(p)) => (p, true),
                    (None, None) => return Err(Error::usage("--drop-ratio or --add-ratio is needed")),
                };
                req.arg[0] = ppm;
                req.mode = if add { MODE_ADD } else { 0 };
                if let Some(seed) = a.seed {
                    req.mode |= MODE_RANDOM;
                    req.arg[1] = if seed == 0 { 1 } else { seed };
                }
                if let Some(slot) = a.slot {
                    req.arg[2] = u64::from(slot) + 1;
                }
                Ok(())
            })
        }
        Cmd::Off => tool::off(spec),
        Cmd::Status { json } => status(json),
        Cmd::Events(o) => tool::events(spec, &o),
        Cmd::Unload => tool::unload(spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("0.25").unwrap(), 250_000);
        assert_eq!(parse_ratio("25%").unwrap(), 250_000);
        assert_eq!(parse_ratio("1/4").unwrap(), 250_000);
        assert_eq!(parse_ratio("1").unwrap(), 1_000_000);
        assert!(parse_ratio("0").is_err());
        assert!(parse_ratio("1.5").is_err());
        assert!(parse_ratio("x").is_err());
    }
}
