//! func-fail-fi: any probe-able kernel function returns a chosen errno, 0 or
//! value for a scoped target, its body skipped (see `man func-fail-fi`).
//! What the kernel's fail_function does, on kernels built without it.

use clap::{ArgGroup, Args};
use kvmfi::abi::Arm;
use kvmfi::cli::{Bounds, Held, Scope};
use kvmfi::cliparse;
use kvmfi::kernel_tool::{ArmOptions, KernelTool};
use kvmfi::request::{self, func_fail};
use kvmfi::symbols::{ModuleSpec, FUNC_FAIL};
use kvmfi::tool::{self, ModuleOpts};
use kvmfi::{errno, kmod, Error, Result};

mod doc;

mod deny;
use deny::{deny_reason_on, kernel_version, Extra};

/// A kernel symbol name as /proc/kallsyms spells it (clones: `name.part.0`).
fn parse_function(text: &str) -> std::result::Result<String, String> {
    let ok = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && text.len() <= 256;
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!("'{text}' is not a kernel function name (letters, digits, '_' and '.', as in /proc/kallsyms)"))
    }
}

/// `arm`'s options: the function first, and a module file but no --symbol
/// (the function is the symbol).
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("result").args(["errno", "zero", "retval"])))]
pub struct FuncArm {
    /// The kernel function to make fail (as in /proc/kallsyms)
    #[arg(long, value_name = "FUNCTION", help_heading = "Fault", value_parser = parse_function)]
    function: String,
    /// Return this error (default ENOMEM): a name or a number
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, help_heading = "Fault")]
    errno: Option<i32>,
    /// Return 0 (NULL for functions returning a pointer)
    #[arg(long, help_heading = "Fault")]
    zero: bool,
    /// Return this exact value
    #[arg(long, value_name = "N", allow_negative_numbers = true, help_heading = "Fault")]
    retval: Option<i64>,
    /// Arm even a function on the deny-list (you will likely crash or hang the kernel)
    #[arg(long, help_heading = "Fault")]
    force: bool,
    #[command(flatten)]
    scope: Scope,
    #[command(flatten)]
    bounds: Bounds,
    /// Use this module file instead of searching for it
    #[arg(long, value_name = "PATH", help_heading = "Module")]
    module: Option<std::path::PathBuf>,
}

impl ArmOptions for FuncArm {
    fn scope(&self) -> &Scope {
        &self.scope
    }
    fn bounds(&self) -> &Bounds {
        &self.bounds
    }
    fn module(&self) -> ModuleOpts {
        ModuleOpts { module: self.module.clone(), symbol: Some(self.function.clone()) }
    }
}

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
        if !kvmfi::kallsyms::present(&[a.function.as_str()])?.contains(&a.function) {
            return Err(Error::unsupported(format!(
                "--function {}: this kernel has no function of that name in /proc/kallsyms",
                a.function
            )));
        }
        if kmod::is_loaded(spec.module) && loaded_symbol().as_deref() != Some(a.function.as_str()) {
            // Loaded for another function: reload it, unless a fault is armed there.
            let armed = tool::read_status(spec)?.is_some_and(|s| s.state == kvmfi::abi::STATE_ARMED);
            if armed && !a.bounds.replace {
                return Err(Error::failed(format!(
                    "func-fail-fi is armed on {}; disarm it with `func-fail-fi off` or pass --replace",
                    loaded_symbol().unwrap_or_default()
                )));
            }
            tool::unload(spec)?;
        }
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
            req.error = a.errno.unwrap_or(libc_enomem());
            func_fail::MODE_ERRNO
        };
        request::set(req, mode, args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(FuncFail, extra = Extra);

fn loaded_symbol() -> Option<String> {
    std::fs::read_to_string("/sys/module/func_fail_fi/parameters/symbol").ok().map(|s| s.trim().to_string())
}

const fn libc_enomem() -> i32 {
    12
}
