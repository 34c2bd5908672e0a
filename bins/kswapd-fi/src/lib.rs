//! kswapd-fi: delay or skip memory reclaim for kswapd or the direct reclaim
//! of a chosen process or cgroup (see `man kswapd-fi`). Invoked as
//! `kswapd-fi-main`, it is the original control program (prompts for times).

use clap::{Args, ValueEnum};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, KernelTool};
use kvmfi::symbols::{ModuleSpec, KSWAPD};
use kvmfi::Result;

mod doc;

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

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct Kswapd;

impl KernelTool for Kswapd {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &KSWAPD;

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
