//! kswapd-fi: delay or skip memory reclaim for kswapd or the direct reclaim
//! of a chosen process or cgroup (see `man kswapd-fi`). Invoked as
//! `kswapd-fi-main`, it is the original control program (prompts for times).

use clap::{Args, ValueEnum};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, Doc, KernelTool};
use kvmfi::symbols::{ModuleSpec, KSWAPD};
use kvmfi::{Result};

/// What happens to a reclaim pass in scope.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Busy-wait --ms milliseconds, then reclaim as usual
    Delay,
    /// Return at once: the pass reclaims nothing
    Skip,
}

/// Whose reclaim, and the module's bound on one busy delay.
pub use kvmfi::request::kswapd::{MAX_DELAY_MS, WHO_DIRECT, WHO_KSWAPD};
use kvmfi::request::{self, kswapd};

/// The fault's own options.
#[derive(Args, Debug)]
pub struct Fault {
    /// With a scope: hit kswapd threads matching it (e.g. --comm kswapd0) instead of the scope's direct reclaim
    #[arg(long, help_heading = "Scope (all given filters must match)")]
    kswapd: bool,
    /// Delay each reclaim pass, or skip it
    #[arg(long, value_enum, default_value = "delay", help_heading = "Fault")]
    mode: Mode,
    /// Busy delay per reclaim pass in milliseconds, 1 to 1000 (--mode delay)
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_DELAY_MS),
          help_heading = "Fault")]
    ms: u64,
}

const LONG_ABOUT: &str = "\
Delay or skip memory reclaim (shrink_node) for kswapd or the direct reclaim of a chosen process or cgroup.

The module kswapd-fi.ko (kernel name kswapd_fi) probes shrink_node, the reclaim of one memory node \
that kswapd (balance_pgdat) and direct reclaim (do_try_to_free_pages: a global allocation under \
pressure, or a memory cgroup over memory.max) both go through. --mode delay busy-waits --ms \
milliseconds before each pass, as the original tool did (the probe handler cannot sleep and runs with \
preemption disabled: keep the delay short); --mode skip returns at once, so the pass reclaims nothing \
and its caller retries and then gives up: kswapd marks the node hopeless for a while, a cgroup charge \
ends in the cgroup's OOM killer (memory.events oom_kill), a global allocation in the global one. No \
pointer is ever changed (the original tool set shrink_node's node pointer to NULL, which oopses).

Whose reclaim. Without a scope option: kswapd only (threads with PF_KSWAPD), so no --yes is needed. \
With --pid, --tgid, --comm or --cgroup: the direct reclaim done by those tasks (never kswapd), e.g. \
a memory-hungry program in a memory-limited cgroup. With --kswapd and a scope: the kswapd threads \
matching it (--comm kswapd0 for node 0 only).

Every fault is bounded by --times, --probability, --interval and a lease (--duration, 10 minutes \
unless given); `off`, `unload` and rmmod disarm at once. Hook candidates (first present is used): \
shrink_node. Legacy control files: /proc/kswapd-fi/{signal,times} (skip, kswapd only, 10-minute \
lease). Invoked as kswapd-fi-main (a link made by `make install`), the program is the original one: \
`kswapd-fi-main [TIMES]`, or with no arguments the original prompt (times).";

const FILES: &str = "/dev/kvmfi/kswapd_fi (control device, root only); /proc/kswapd-fi/{signal,times} (original control files).";

const EXAMPLES: &str = "  kswapd-fi arm --mode delay --ms 20 --duration 1m
  kswapd-fi arm --cgroup /sys/fs/cgroup/vm1 --mode skip --duration 30s
  kswapd-fi arm --kswapd --comm kswapd0 --mode skip --times 100
  kswapd-fi status
  kswapd-fi off";


/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct Kswapd;

impl KernelTool for Kswapd {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &KSWAPD;

    fn doc() -> Doc {
        let about = "Delay or skip memory reclaim for kswapd or the direct reclaim of a chosen process or cgroup";
        Doc::new(about, LONG_ABOUT, FILES, EXAMPLES)
    }

    /// Without a task filter the fault is kswapd's own, not every process's.
    fn own_scope(_: &Self::Arm) -> bool {
        true
    }

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let who = if a.scope.is_global() || a.own.kswapd { WHO_KSWAPD } else { WHO_DIRECT };
        let (mode, delay_ms) = match a.own.mode {
            Mode::Delay => (kswapd::MODE_DELAY, a.own.ms),
            Mode::Skip => (kswapd::MODE_SKIP, 0),
        };
        request::set(req, mode, kswapd::Args { delay_ms, who, ..Default::default() });
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(Kswapd);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_is_bounded() {
        assert!(command().try_get_matches_from(["kswapd-fi", "arm", "--ms", "1001"]).is_err());
        assert!(command().try_get_matches_from(["kswapd-fi", "arm", "--ms", "0"]).is_err());
        assert!(command().try_get_matches_from(["kswapd-fi", "arm", "--mode", "skip"]).is_ok());
    }
}
