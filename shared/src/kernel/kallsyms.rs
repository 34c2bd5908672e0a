//! Which kernel functions exist on this host, from /proc/kallsyms.
//!
//! Names are listed even to unprivileged readers (only addresses are
//! hidden), so presence checks work without root. The file is large and slow
//! to read under emulation, so it is streamed once for all the names asked.

use crate::error::{Error, Result};
use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The text symbols among `wanted` that the running kernel has.
pub fn present(wanted: &[&str]) -> Result<BTreeSet<String>> {
    present_in(Path::new("/proc/kallsyms"), wanted)
}

/// Same as [`present`], reading a kallsyms-format file (for tests).
///
/// 7.3 lists 218k symbols and a TCG guest reads them slowly: one buffer is
/// reused for every line (no allocation per line), names are looked up in a
/// hash set, and the pass stops once every wanted name was seen.
pub fn present_in(path: &Path, wanted: &[&str]) -> Result<BTreeSet<String>> {
    let file = File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let want: HashSet<&[u8]> = wanted.iter().map(|w| w.as_bytes()).collect();
    let mut found = BTreeSet::new();
    let mut reader = BufReader::with_capacity(1 << 17, file);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        // "ffffffff81234560 T vfs_read" or "... t name\t[module]"
        let mut parts = line.split(|b| b.is_ascii_whitespace()).filter(|p| !p.is_empty());
        let (kind, name) = match (parts.next(), parts.next(), parts.next()) {
            (Some(_addr), Some(k), Some(n)) => (k, n),
            _ => continue,
        };
        if kind != b"T" && kind != b"t" {
            continue;
        }
        if want.contains(name) {
            found.insert(String::from_utf8_lossy(name).into_owned());
            if found.len() == want.len() {
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

/// A kernel function name as /proc/kallsyms spells it (clones too:
/// `name.part.0`), for an option naming the function to probe.
pub fn parse_function(text: &str) -> std::result::Result<String, String> {
    const WHAT: &str = "a kernel function name (letters, digits, '_' and '.', as in /proc/kallsyms)";
    let name = crate::cliparse::plain_word(text, 256, "_.", WHAT)?;
    if name.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return Err(format!("'{text}' is not {WHAT}"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_text_symbols_only() {
        let f = crate::testutil::TempPath::file(
            "kallsyms",
            "ffffffff81000000 T vfs_read\nffffffff81000010 D vfs_write\nffffffff81000020 t kvm_vm_ioctl\t[kvm]\n",
        );
        let got = present_in(&f, &["vfs_read", "vfs_write", "kvm_vm_ioctl", "nope"]).unwrap();
        assert!(got.contains("vfs_read"));
        assert!(!got.contains("vfs_write"));
        assert!(got.contains("kvm_vm_ioctl"));
        let chosen = choose("read", &["nope", "kvm_vm_ioctl"], &got).unwrap();
        assert_eq!(chosen, "kvm_vm_ioctl");
        let err = choose("read", &["a", "b"], &got).unwrap_err().to_string();
        assert!(err.contains("tried: a, b"), "{err}");
    }
}
