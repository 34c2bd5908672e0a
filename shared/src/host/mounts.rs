//! Mount points from /proc/self/mountinfo, and read-only / read-write
//! switching of ONE mount point (a bind remount of its per-mount flags), so
//! other mounts of the same file system are never affected.

use crate::error::{Error, Result};
use std::path::Path;

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
pub struct Mount {
    pub mount_point: String,
    /// Per-mount options (ro/rw, nosuid, nodev, noexec, atime flags).
    pub options: Vec<String>,
    pub fstype: String,
    pub source: String,
}

impl Mount {
    /// True when this mount point is read-only.
    pub fn readonly(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

/// Undoes the octal escapes (`\040` for space) of mountinfo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// All mounts of this process's mount namespace, in mount order.
pub fn all() -> Result<Vec<Mount>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("reading /proc/self/mountinfo", e))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(Mount {
                mount_point: unescape(l.get(4)?),
                options: l.get(5)?.split(',').map(String::from).collect(),
                fstype: r.first()?.to_string(),
                source: unescape(r.get(1).unwrap_or(&"")),
            })
        })
        .collect())
}

/// The mount whose mount point is exactly `path` (the topmost one when
/// several are stacked), or `None` when `path` is not a mount point.
pub fn at(path: &Path) -> Result<Option<Mount>> {
    let want = path.to_string_lossy();
    Ok(all()?.into_iter().rev().find(|m| m.mount_point == want))
}

/// Makes the mount point `path` read-only (`ro = true`) or writable,
/// keeping its other per-mount flags. Idempotent.
pub fn set_readonly(path: &Path, ro: bool) -> Result<()> {
    let m = at(path)?.ok_or_else(|| Error::failed(format!("{} is no longer a mount point", path.display())))?;
    if m.readonly() == ro {
        return Ok(());
    }
    let mut flags = libc::MS_REMOUNT | libc::MS_BIND;
    for o in &m.options {
        flags |= match o.as_str() {
            "nosuid" => libc::MS_NOSUID,
            "nodev" => libc::MS_NODEV,
            "noexec" => libc::MS_NOEXEC,
            "noatime" => libc::MS_NOATIME,
            "nodiratime" => libc::MS_NODIRATIME,
            "relatime" => libc::MS_RELATIME,
            "strictatime" => libc::MS_STRICTATIME,
            _ => 0,
        };
    }
    if ro {
        flags |= libc::MS_RDONLY;
    }
    let target = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::usage("path contains a NUL byte"))?;
    // SAFETY: all pointers are either null or point to NUL-terminated strings
    // that live across the call.
    let r = unsafe {
        libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), flags, std::ptr::null())
    };
    crate::error::cvt(r, format!("remounting {} {}", path.display(), if ro { "read-only" } else { "read-write" }))?;
    Ok(())
}

/// The kernel NFS server's current exports table.
pub const NFS_ETAB: &str = "/var/lib/nfs/etab";

/// The NFS exports of directory `path` as (client, options) pairs, read
/// from `etab` (normally [`NFS_ETAB`]); empty when it is not exported.
pub fn nfs_exports(etab: &Path, path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(etab).unwrap_or_default();
    let want = path.to_string_lossy();
    text.lines()
        .filter_map(|l| {
            let (dir, rest) = l.split_once(char::is_whitespace)?;
            if unescape(dir) != want {
                return None;
            }
            let rest = rest.trim();
            let open = rest.find('(')?;
            let opts = rest.get(open + 1..rest.rfind(')')?)?;
            Some((rest[..open].to_string(), opts.to_string()))
        })
        .collect()
}

/// `opts` with `rw` replaced by `ro` (added when neither is there).
pub fn readonly_options(opts: &str) -> String {
    let mut v: Vec<&str> = opts.split(',').filter(|o| *o != "rw" && *o != "ro" && !o.is_empty()).collect();
    v.insert(0, "ro");
    v.join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn exports() {
        let d = crate::testutil::TempPath::file("etab", "/srv/primary\t*(rw,sync,wdelay,no_root_squash)\n/other\t10.0.0.0/8(rw)\n");
        let e = nfs_exports(&d, Path::new("/srv/primary"));
        assert_eq!(e, vec![("*".to_string(), "rw,sync,wdelay,no_root_squash".to_string())]);
        assert_eq!(readonly_options(&e[0].1), "ro,sync,wdelay,no_root_squash");
    }

    use super::*;

    #[test]
    fn reads_root() {
        assert!(all().unwrap().iter().any(|m| m.mount_point == "/"));
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
