//! func-fail-fi: any probe-able kernel function returns a chosen errno, 0 or
//! value for a scoped target, its body skipped (see `man func-fail-fi`).
//! What the kernel's fail_function does, on kernels built without it.

use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::cliparse;
use kvmfi::kernel_tool::{ArmOptions, KernelTool};
use kvmfi::request::{self, func_fail};
use kvmfi::symbols::{ModuleSpec, FUNC_FAIL};
use kvmfi::tool::{self, ModuleOpts};
use kvmfi::{kallsyms, kmod, Error, Result};

mod doc;

mod deny;
mod options;

use deny::{deny_reason_on, kernel_version, Extra};
pub use options::FuncArm;

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct FuncFail;

impl KernelTool for FuncFail {
    type Arm = FuncArm;
    const SPEC: &'static ModuleSpec = &FUNC_FAIL;

    fn customize(cmd: clap::Command) -> clap::Command {
        cliparse::edit_subcommand(cmd, "arm", |c| {
            c.about("Arm the fault (loads the module for FUNCTION); prints the experiment id")
        })
        .mut_subcommand("deny-list", |c| c.display_order(1))
    }

    /// Refuses a denied function (unless --force) or one this kernel lacks,
    /// and reloads the module when it was loaded for another function.
    fn arm(a: FuncArm) -> Result<()> {
        let spec = Self::SPEC;
        if let Some(reason) = deny_reason_on(&a.function, kernel_version()) {
            if !a.force {
                return Err(Error::usage(reason));
            }
            eprintln!("func-fail-fi: warning: --force: {reason}");
        }
        if !kallsyms::present(&[a.function.as_str()])?.contains(&a.function) {
            return Err(Error::unsupported(format!(
                "--function {}: this kernel has no function of that name in /proc/kallsyms",
                a.function
            )));
        }
        tool::unload_if_other_symbol(spec, &a.function, a.bounds.replace)?;
        let opts = a.module();
        let load_opts = if kmod::is_loaded(spec.module) { ModuleOpts { symbol: None, ..opts } } else { opts };
        tool::arm(spec, &load_opts, &a.scope, &a.bounds, false, |req, held| Self::fill(&a, req, held))
    }

    fn fill(a: &FuncArm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let mut args = func_fail::Args::default();
        let mode = if a.zero {
            func_fail::MODE_ZERO
        } else if let Some(v) = a.retval {
            args.value = v;
            func_fail::MODE_VALUE
        } else {
            req.error = a.errno.unwrap_or(ENOMEM);
            func_fail::MODE_ERRNO
        };
        request::set(req, mode, args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(FuncFail, extra = Extra);

/// The default error (the C library's ENOMEM).
const ENOMEM: i32 = 12;
