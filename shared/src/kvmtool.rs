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

/// The FILES paragraph of every KVM tool's man page.
pub fn files(module: &str, legacy: &str) -> String {
    format!(
        "/dev/kvmfi/{kname} (control device, root only); /proc/{legacy}/ (the original control files); \
         {module}.ko (searched in KVMFI_MODULE_DIR, /lib/modules/$(uname -r)/extra, next to the binary).",
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
