//! Where the fault can be had: x86_64 only, and why not on arm64.

use kvmfi::{Error, Result};

/// Why the fault cannot be had on arm64, in one paragraph (also in the man page).
pub const ARM64_REASON: &str = "arm64: TLB maintenance is a broadcast TLBI instruction emitted inline at every call \
site (flush_tlb_mm, flush_tlb_range, flush_tlb_page and __flush_tlb_range are static inline; the out-of-line \
copies in kallsyms are per-file duplicates that most callers never use), and the mmu_gather of munmap and \
madvise is flushed by the inlined tlb_end_vma() before the probe-able tlb_finish_mmu() runs. No function that \
every TLB flush of an address space goes through can be probed, so no kprobe can suppress them; pt-update-fi.ko \
refuses to load there (EOPNOTSUPP).";

/// Whether this build's architecture supports the fault, and why not.
pub fn support() -> std::result::Result<(), &'static str> {
    if cfg!(target_arch = "x86_64") {
        Ok(())
    } else if cfg!(target_arch = "aarch64") {
        Err(ARM64_REASON)
    } else {
        Err("only x86_64 is supported")
    }
}

pub(crate) fn require_support() -> Result<()> {
    support().map_err(|why| Error::unsupported(format!("unsupported on this kernel: {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_matches_arch() {
        assert_eq!(support().is_ok(), cfg!(target_arch = "x86_64"));
        assert!(ARM64_REASON.contains("TLBI"));
    }
}
