//! Namespaces of this process: which network and mount namespace it is in
//! (by inode), and how to find a network namespace again by its inode.

use std::fs;
use std::path::PathBuf;

/// The inode of this process's namespace of `kind` (`net`, `mnt`).
pub fn ns_inode(kind: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    // thread-self: setns() moves only the calling thread.
    fs::metadata(format!("/proc/thread-self/ns/{kind}")).ok().map(|m| m.ino())
}

/// The /run/netns entry (`ip netns` name) of the network namespace with
/// this inode, if it has one.
pub fn netns_named(inode: u64) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| fs::metadata(p).map(|m| m.ino() == inode).unwrap_or(false))
}

/// A file naming the network namespace with this inode: a /run/netns
/// entry, else /proc/PID/ns/net of a process in it.
pub fn netns_path(inode: u64) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let named = fs::read_dir("/run/netns").into_iter().flatten().filter_map(|e| e.ok()).map(|e| e.path());
    let procs = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .map(|e| e.path().join("ns/net"));
    named.chain(procs).find(|p| fs::metadata(p).map(|m| m.ino() == inode).unwrap_or(false))
}
