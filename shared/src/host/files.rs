//! Files as the injectors change them: written durably (temporary file,
//! fsync, rename), filled to take disk space, and the free space left.

use crate::error::{Error, Result};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `data` to `path` through a temporary file, fsync and rename.
pub fn write_file_durably(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension("kvmfi-tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    f.write_all(data).and_then(|_| f.sync_all()).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("replacing {}", path.display()), e))?;
    Ok(())
}

/// Creates `path` (which must not exist) with `bytes` of allocated space.
pub fn fill_file(path: &Path, bytes: u64) -> Result<()> {
    use std::os::fd::AsRawFd;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    let result = (|| -> Result<()> {
        // SAFETY: fallocate on a file descriptor we own.
        let r = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, bytes as libc::off_t) };
        if r != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EOPNOTSUPP) {
                return Err(Error::io(format!("allocating {bytes} bytes for {}", path.display()), err));
            }
            let chunk = vec![0u8; 1 << 20];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                f.write_all(&chunk[..n]).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
                left -= n as u64;
            }
        }
        f.sync_all().map_err(|e| Error::io(format!("syncing {}", path.display()), e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// Free bytes on the file system holding `dir` for this writer (root
/// counts the reserved blocks).
pub fn free_bytes(dir: &Path) -> Result<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|_| Error::usage("path has a NUL byte"))?;
    // SAFETY: statvfs is plain old data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs fills the struct we pass; the path is NUL-terminated.
    let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    crate::error::cvt(r, format!("statvfs {}", dir.display()))?;
    // root may also use the blocks reserved for it (ext4's 5%).
    // SAFETY: geteuid has no preconditions.
    let blocks = if unsafe { libc::geteuid() } == 0 { st.f_bfree } else { st.f_bavail };
    Ok(blocks as u64 * st.f_frsize as u64)
}
