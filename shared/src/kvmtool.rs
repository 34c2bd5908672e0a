//! What the KVM-layer tools (kvm-ioctl-fi, memslot-fi, vcpu-state-fi,
//! kvm-version-fi, dirty-log-fi) share: the common subcommands, the check
//! that KVM is there, and the man-page sections they have in common.

use crate::error::{Error, Result};
use crate::symbols::ModuleSpec;
use std::path::Path;

/// The shared subcommands (off, status, events, unload) of every kernel tool.
pub use crate::tool::CommonCmd as Common;

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

/// The EXIT STATUS and FILES paragraphs of every KVM tool's man page.
pub fn after_help(module: &str, legacy: &str, examples: &str) -> String {
    format!(
        "EXIT STATUS: 0 success; 1 failed at run time; 2 usage error (nothing changed); 3 needs root; \
         4 unsupported here (no KVM, module missing, or none of the hook's candidate functions in this kernel: \
         the message lists those tried); 5 target process not found.\n\
         FILES: /dev/kvmfi/{kname} (control device, root only); /proc/{legacy}/ (the original control files); \
         {module}.ko (searched in KVMFI_MODULE_DIR, /lib/modules/$(uname -r)/extra, next to the binary).\n\
         EXAMPLES:\n{examples}",
        kname = module.replace('-', "_"),
    )
}

/// Hook candidates of `spec` as one sentence for the long help.
pub fn hooks_sentence(spec: &ModuleSpec) -> String {
    spec.hooks
        .iter()
        .map(|h| format!("{} hook (module parameter {}): {}", h.role, h.param, h.candidates.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}
