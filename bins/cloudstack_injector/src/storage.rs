//! Primary storage: made read-only (a mount point, or an NFS export),
//! unmounted (recover mounts it again the same way) and filled.

use crate::TOOL;
use kvmfi::injector::{stress, Ctx};
use kvmfi::journal::{self, Fault, Step};
use kvmfi::{exec, mounts, Error, Result};
use std::path::{Path, PathBuf};

/// `path` made absolute and free of symlinks; a missing path is a usage error.
pub fn canonical_export(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path)
        .map_err(|e| Error::usage(format!("{}: {e}; give the primary storage mount point or export", path.display())))
}

pub fn storage_ro(ctx: &Ctx, path: &Path) -> Result<()> {
    let path = canonical_export(path)?;
    if !path.is_dir() {
        return Err(Error::usage(format!("{} is not a directory; give the primary storage mount point or export", path.display())));
    }
    let target = path.display().to_string();
    if let Some(m) = mounts::at(&path)? {
        let ours = journal::read_entries(&journal::dir())
            .unwrap_or_default()
            .into_iter()
            .any(|e| e.tool == TOOL && e.kind == "storage-ro" && e.target == target);
        if m.readonly() && !ours {
            return Err(Error::failed(format!("{target} is already read-only (not by kvmfi); nothing changed")));
        }
        ctx.require_root()?;
        return ctx.inject_once(|e| e.kind == "storage-ro" && e.target == target, |_| {
            Ok(Fault {
                kind: "storage-ro".into(),
                target: target.clone(),
                desc: format!("mount point {target} ({} {}) read-only", m.fstype, m.source),
                apply: vec![Step::MountReadonly { path: target.clone(), readonly: true }],
                undo: journal::in_this_mountns(vec![Step::MountReadonly { path: target.clone(), readonly: false }]),
            })
        });
    }
    // Not a mount point: an NFS export?
    let exportfs = exec::which("exportfs", &[]).ok_or_else(|| {
        Error::unsupported(format!(
            "{target} is not a mount point, and 'exportfs' is missing to treat it as an NFS export; install nfs-kernel-server"
        ))
    })?;
    let exportfs = exportfs.to_string_lossy().into_owned();
    let exports = mounts::nfs_exports(Path::new(mounts::NFS_ETAB), &path);
    if exports.is_empty() {
        return Err(Error::usage(format!(
            "{target} is neither a mount point nor an NFS export (see 'exportfs -v'); give the primary storage path"
        )));
    }
    ctx.require_root()?;
    if journal::read_entries(&journal::dir()).unwrap_or_default().iter().any(|e| e.tool == TOOL && e.kind == "storage-ro" && e.target == target) {
        eprintln!("{TOOL}: {target} is already read-only by kvmfi; nothing changed");
        return Ok(());
    }
    let mut apply = Vec::new();
    let mut undo = Vec::new();
    for (client, opts) in &exports {
        let spec = format!("{client}:{target}");
        apply.push(Step::Run { argv: exec::argv([exportfs.as_str(), "-o", &mounts::readonly_options(opts), &spec]), stdin: None });
        undo.push(Step::Run { argv: exec::argv([exportfs.as_str(), "-o", opts.as_str(), &spec]), stdin: None });
    }
    ctx.inject(|_| {
        Ok(Fault {
            kind: "storage-ro".into(),
            target: target.clone(),
            desc: format!("NFS export {target} read-only for {}", exports.iter().map(|e| e.0.as_str()).collect::<Vec<_>>().join(",")),
            apply,
            undo,
        })
    })
}
/// `storage-rw PATH`.
pub fn storage_rw(ctx: &Ctx, path: &Path) -> Result<()> {
    ctx.clear("storage-ro", &canonical_export(path)?.display().to_string())
}

/// `path` made absolute and free of symlinks; a missing path is a usage error.
fn canonical_mount(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).map_err(|e| Error::usage(format!("{}: {e}; give the primary storage mount point", path.display())))
}

/// The mountinfo line of mount point `mp`: (root, super options).
fn mount_extra(mp: &str) -> Result<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| Error::io("reading /proc/self/mountinfo", e))?;
    let mut found = None;
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.get(4).map(|m| m.replace("\\040", " ")) == Some(mp.to_string()) {
            found = Some((l.get(3).unwrap_or(&"/").to_string(), r.get(2).unwrap_or(&"").to_string()));
        }
    }
    found.ok_or_else(|| Error::usage(format!("{mp} is not a mount point")))
}

/// storage-umount: `umount MP`; the undo mounts the same source again with
/// the same type and options (unless something is mounted there by then).
pub fn storage_umount(ctx: &Ctx, mp: &Path) -> Result<()> {
    let path = canonical_mount(mp)?;
    let target = path.display().to_string();
    let m = mounts::at(&path)?.ok_or_else(|| Error::usage(format!("{target} is not a mount point")))?;
    let (root, sup) = mount_extra(&target)?;
    const NO_SOURCE: &[&str] = &["tmpfs", "ramfs", "devtmpfs", "proc", "sysfs", "overlay", "cgroup2", "devpts", "mqueue"];
    if NO_SOURCE.contains(&m.fstype.as_str()) {
        return Err(Error::failed(format!(
            "{target} is a {} mount: unmounting it would lose its content for good; kvmfi only unmounts what it can mount again",
            m.fstype
        )));
    }
    if root != "/" && !m.fstype.starts_with("nfs") {
        return Err(Error::failed(format!("{target} is a bind mount of {root}; kvmfi could not mount it again the same way")));
    }
    let umount = exec::require_tool("umount", "apt-get install mount")?.to_string_lossy().into_owned();
    let mount = exec::require_tool("mount", "apt-get install mount")?.to_string_lossy().into_owned();
    let mountpoint = exec::require_tool("mountpoint", "apt-get install util-linux")?.to_string_lossy().into_owned();
    let mut opts: Vec<String> = m.options.clone();
    for o in sup.split(',').filter(|o| !o.is_empty() && *o != "rw" && *o != "ro") {
        if !opts.iter().any(|x| x == o) {
            opts.push(o.to_string());
        }
    }
    ctx.require_root()?;
    let opts = opts.join(",");
    ctx.inject_once(|e| e.kind == "storage-umount" && e.target == target, |_| {
        Ok(Fault {
            kind: "storage-umount".into(),
            target: target.clone(),
            desc: format!("unmounted {target} ({} {} -o {opts})", m.fstype, m.source),
            apply: vec![Step::Run { argv: exec::argv([umount.as_str(), target.as_str()]), stdin: None }],
            undo: journal::in_this_mountns(vec![Step::RunIf {
                check: exec::argv([mountpoint.as_str(), target.as_str()]),
                has: "is not a mountpoint".into(),
                argv: exec::argv([mount.as_str(), "-t", m.fstype.as_str(), "-o", opts.as_str(), m.source.as_str(), target.as_str()]),
            }]),
        })
    })
}

pub fn storage_fill(ctx: &Ctx, mp: &Path, size: Option<u64>, keep_free: u64) -> Result<()> {
    let path = canonical_mount(mp)?;
    if !path.is_dir() {
        return Err(Error::usage(format!("{} is not a directory", path.display())));
    }
    let target = path.display().to_string();
    let mb = match size {
        Some(s) => s,
        None => {
            let free = kvmfi::host::files::free_bytes(&path)? >> 20;
            if free <= keep_free {
                return Err(Error::failed(format!("{target} has only {free} MB free; nothing to fill")));
            }
            free - keep_free
        }
    };
    ctx.require_root()?;
    ctx.inject_once(|e| e.kind == "storage-fill" && e.target == target, |id| {
        stress::fill(id, "storage-fill", &target, &path, mb, keep_free)
    })
}

/// `storage-clean MP`.
pub fn storage_clean(ctx: &Ctx, mp: &Path) -> Result<()> {
    let target = canonical_mount(mp)?.display().to_string();
    ctx.clear("storage-fill", &target)
}
