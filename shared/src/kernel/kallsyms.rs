//! Which kernel functions exist on this host, from /proc/kallsyms.
//!
//! Names are listed even to unprivileged readers (only addresses are
//! hidden), so presence checks work without root. The file is large and slow
//! to read under emulation, so it is streamed once for all the names asked.

use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The text symbols among `wanted` that the running kernel has.
pub fn present(wanted: &[&str]) -> Result<BTreeSet<String>> {
    present_in(Path::new("/proc/kallsyms"), wanted)
}

/// Same as [`present`], reading a kallsyms-format file (for tests).
pub fn present_in(path: &Path, wanted: &[&str]) -> Result<BTreeSet<String>> {
    let file = File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut found = BTreeSet::new();
    for line in BufReader::with_capacity(1 << 16, file).lines() {
        let line = line.map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        // "ffffffff81234560 T vfs_read" or "... t name\t[module]"
        let mut parts = line.split_ascii_whitespace();
        let (_addr, kind, name) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(k), Some(n)) => (a, k, n),
            _ => continue,
        };
        if !matches!(kind, "T" | "t") {
            continue;
        }
        if wanted.contains(&name) {
            found.insert(name.to_string());
            if found.len() == wanted.len() {
                break;
            }
        }
    }
    Ok(found)
}

/// The first candidate this kernel has, or an error naming every one tried.
pub fn choose(hook: &str, candidates: &[&str], present: &BTreeSet<String>) -> Result<String> {
    candidates
        .iter()
        .find(|c| present.contains(**c))
        .map(|c| c.to_string())
        .ok_or_else(|| {
            Error::unsupported(format!(
                "this kernel has none of the candidate functions for the {hook} hook (tried: {}); \
                 run kvmfi-check for details, or pass --symbol NAME to probe another function",
                candidates.join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn finds_text_symbols_only() {
        let mut f = tempfile_like();
        writeln!(f.1, "ffffffff81000000 T vfs_read").unwrap();
        writeln!(f.1, "ffffffff81000010 D vfs_write").unwrap();
        writeln!(f.1, "ffffffff81000020 t kvm_vm_ioctl\t[kvm]").unwrap();
        let got = present_in(&f.0, &["vfs_read", "vfs_write", "kvm_vm_ioctl", "nope"]).unwrap();
        assert!(got.contains("vfs_read"));
        assert!(!got.contains("vfs_write"));
        assert!(got.contains("kvm_vm_ioctl"));
        let chosen = choose("read", &["nope", "kvm_vm_ioctl"], &got).unwrap();
        assert_eq!(chosen, "kvm_vm_ioctl");
        let err = choose("read", &["a", "b"], &got).unwrap_err().to_string();
        assert!(err.contains("tried: a, b"), "{err}");
    }

    fn tempfile_like() -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!("kvmfi-kallsyms-{}", std::process::id()));
        let f = File::create(&path).unwrap();
        (path, f)
    }
}
