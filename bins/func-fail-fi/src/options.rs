//! `arm`'s options, in their own order: the function and its result first,
//! then scope and bounds, and a module file but no --symbol.

use clap::{ArgGroup, Args};
use kvmfi::cli::{Bounds, Scope};
use kvmfi::kernel_tool::ArmOptions;
use kvmfi::tool::ModuleOpts;
use kvmfi::{errno, kallsyms};

/// `arm`'s options: the function first, and a module file but no --symbol
/// (the function is the symbol).
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("result").args(["errno", "zero", "retval"])))]
pub struct FuncArm {
    /// The kernel function to make fail (as in /proc/kallsyms)
    #[arg(long, value_name = "FUNCTION", help_heading = "Fault", value_parser = kallsyms::parse_function)]
    pub(crate) function: String,
    /// Return this error (default ENOMEM): a name or a number
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, help_heading = "Fault")]
    pub(crate) errno: Option<i32>,
    /// Return 0 (NULL for functions returning a pointer)
    #[arg(long, help_heading = "Fault")]
    pub(crate) zero: bool,
    /// Return this exact value
    #[arg(long, value_name = "N", allow_negative_numbers = true, help_heading = "Fault")]
    pub(crate) retval: Option<i64>,
    /// Arm even a function on the deny-list (you will likely crash or hang the kernel)
    #[arg(long, help_heading = "Fault")]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) scope: Scope,
    #[command(flatten)]
    pub(crate) bounds: Bounds,
    /// Use this module file instead of searching for it
    #[arg(long, value_name = "PATH", help_heading = "Module")]
    pub(crate) module: Option<std::path::PathBuf>,
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
