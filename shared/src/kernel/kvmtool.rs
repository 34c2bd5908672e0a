//! What the KVM-layer tools (kvm-ioctl-fi, memslot-fi, vcpu-state-fi,
//! kvm-version-fi, dirty-log-fi) share: the common subcommands, the check
//! that KVM is there, the man-page sections they have in common, and the
//! listing option before the subcommand ([`crate::kvm_listing_top`]).

use crate::error::{Error, Result};
use crate::kernel::kernel_tool::{Doc, ExitText};
use crate::kernel::symbols::ModuleSpec;
use std::path::Path;

/// The shared subcommands (off, status, events, unload) of every kernel tool.
pub use crate::kernel::tool::CommonCmd as Common;

/// Fails with exit status 4 when this host has no KVM, naming what to load:
/// the hooked functions live in kvm.ko on x86_64, which may not be loaded.
pub fn require_kvm(spec: &ModuleSpec) -> Result<()> {
    if Path::new("/dev/kvm").exists() || Path::new("/sys/module/kvm").exists() {
        return Ok(());
    }
    Err(Error::unsupported(format!(
        "{}: KVM is not available here (no /dev/kvm): load kvm and kvm-intel or kvm-amd first \
         (the functions {} probes are in KVM)",
        spec.tool, spec.module
    )))
}

/// The help and man page words of a KVM tool: its own `about`,
/// `description` (what the fault does), `legacy` (the original interface)
/// and `examples`; between the last two the hook candidates from `spec`,
/// then the FILES paragraph they all share and the KVM wording of the exit
/// codes.
pub fn doc(spec: &ModuleSpec, about: &str, description: &str, legacy: &str, examples: &'static str) -> Doc {
    let long_about = format!("{description}\n\nHook candidates (first present is used): {}.\n{legacy}", hooks_sentence(spec));
    Doc::new(about, long_about, files(spec), examples).exits(ExitText::KVM)
}

/// The FILES paragraph of every KVM tool's man page.
fn files(spec: &ModuleSpec) -> String {
    let module = spec.module;
    let legacy = spec.legacy.first().map_or(module, |p| p.proc_dir);
    format!(
        "/dev/kvmfi/{kname} (control device, root only); /proc/{legacy}/ (the original control files); \
         {module}.ko (searched in KVMFI_MODULE_DIR, /lib/modules/$(uname -r)/extra, next to the binary).",
        kname = module.replace('-', "_"),
    )
}

/// A KVM tool run with only its listing option (`flag`, e.g.
/// `--list-cmds`): prints the listing when the option is set, else says
/// that a subcommand or the option is needed.
pub fn list_or_usage(set: bool, flag: &str, listing: impl FnOnce() -> Vec<String>) -> Result<()> {
    if !set {
        return Err(Error::usage(format!("a subcommand is needed (arm, off, status, unload), or {flag}")));
    }
    listing().into_iter().try_for_each(crate::run::out)
}

/// Declares a KVM tool's [`crate::kernel::kernel_tool::TopOptions`] `Top`:
/// one listing option before the subcommand (`field`, spelled `flag` on the
/// command line, with its help as doc comment), which prints `listing`
/// (see [`list_or_usage`]).
#[macro_export]
macro_rules! kvm_listing_top {
    ($(#[doc = $help:literal])* $field:ident, $flag:literal, $listing:expr) => {
        /// Before the subcommand.
        #[derive(clap::Args, Debug)]
        pub struct Top {
            $(#[doc = $help])*
            #[arg(long, exclusive = true)]
            $field: bool,
        }

        impl $crate::kernel::kernel_tool::TopOptions for Top {
            fn run(self) -> $crate::Result<()> {
                $crate::kernel::kvmtool::list_or_usage(self.$field, $flag, $listing)
            }
        }
    };
}

/// Hook candidates of `spec` as one sentence for the long help.
pub fn hooks_sentence(spec: &ModuleSpec) -> String {
    spec.hooks
        .iter()
        .map(|h| format!("{} hook (module parameter {}): {}", h.role, h.param, h.candidates.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}
