//! Finding, loading and unloading kvmfi kernel modules.
//!
//! Search order for a module file: an explicit `--module PATH`, the
//! directory in `KVMFI_MODULE_DIR`, the installed module under
//! /lib/modules/$(uname -r) (extra/, updates/dkms/, updates/), then the build
//! tree next to the binary (a source checkout's kmod/).

use crate::error::{Error, Result};
use std::ffi::CString;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The kernel's name for a module file name (`file-read-fi` -> `file_read_fi`).
pub fn kernel_name(file_stem: &str) -> String {
    file_stem.replace('-', "_")
}

/// True when the module is loaded (it has a /sys/module entry).
pub fn is_loaded(file_stem: &str) -> bool {
    Path::new("/sys/module").join(kernel_name(file_stem)).join("initstate").exists()
}

/// A parameter of a loaded module as /sys/module/NAME/parameters shows
/// it, trimmed; None when the module or the parameter is not there.
pub fn param(file_stem: &str, name: &str) -> Option<String> {
    let path = Path::new("/sys/module").join(kernel_name(file_stem)).join("parameters").join(name);
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where a module file is looked for, in order.
pub fn search_paths(file_stem: &str) -> Vec<PathBuf> {
    let file = format!("{file_stem}.ko");
    let mut paths = Vec::new();
    if let Some(dir) = std::env::var_os("KVMFI_MODULE_DIR") {
        paths.push(PathBuf::from(dir).join(&file));
    }
    let release = kernel_release();
    for sub in ["extra", "updates/dkms", "updates", "extra/kvmfi"] {
        paths.push(Path::new("/lib/modules").join(&release).join(sub).join(&file));
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/{release,debug}/TOOL -> ../../kmod ; PREFIX/bin/TOOL -> ../lib/kvmfi
        for up in [&["..", "..", "kmod"][..], &["..", "lib", "kvmfi"][..], &["kmod"][..]] {
            if let Some(dir) = exe.parent() {
                let mut p = dir.to_path_buf();
                for part in up {
                    p.push(part);
                }
                paths.push(p.join(&file));
            }
        }
    }
    paths
}

/// Finds the module file: `explicit` if given, else the first search path that exists.
pub fn find(file_stem: &str, explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(Error::usage(format!("--module {}: no such file", p.display())))
        };
    }
    let paths = search_paths(file_stem);
    paths.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        Error::unsupported(format!(
            "module {file_stem}.ko not found (looked in: {}); build it with `make` in the source tree \
             (needs linux-headers-{}), install it with `make install`, or pass --module PATH",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            kernel_release()
        ))
    })
}

/// Loads a module file with parameters such as `symbol=vfs_read`.
pub fn load(path: &Path, params: &[(String, String)]) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let joined = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    let cparams = CString::new(joined.clone()).map_err(|_| Error::usage("module parameter contains a NUL byte"))?;
    nix::kmod::finit_module(&file, &cparams, nix::kmod::ModuleInitFlags::empty()).map_err(|errno| {
        let what = format!("loading {} ({joined})", path.display());
        match errno {
            nix::errno::Errno::EEXIST => Error::failed(format!("{what}: a module of that name is already loaded")),
            nix::errno::Errno::ENOENT => Error::unsupported(format!(
                "{what}: the kernel could not probe the function (absent, inlined or blacklisted for kprobes); see dmesg"
            )),
            nix::errno::Errno::ENOEXEC | nix::errno::Errno::EINVAL => Error::unsupported(format!(
                "{what}: the module was built for another kernel ({errno}); rebuild it against this kernel's headers"
            )),
            nix::errno::Errno::EKEYREJECTED | nix::errno::Errno::EBADMSG => Error::unsupported(format!(
                "{what}: the kernel requires signed modules (module.sig_enforce or lockdown); sign the module or disable enforcement"
            )),
            nix::errno::Errno::ENOSYS => Error::unsupported(format!(
                "{what}: this kernel cannot load modules (built without CONFIG_MODULES)"
            )),
            nix::errno::Errno::EPERM => Error::permission(format!(
                "{what}: not permitted; run as root (or the kernel is locked down, or module loading is disabled)"
            )),
            e => Error::io(what, std::io::Error::from_raw_os_error(e as i32)),
        }
    })
}

/// Unloads a module by file stem. Not loaded is not an error.
pub fn unload(file_stem: &str) -> Result<bool> {
    if !is_loaded(file_stem) {
        return Ok(false);
    }
    let name = CString::new(kernel_name(file_stem)).expect("module names contain no NUL");
    nix::kmod::delete_module(&name, nix::kmod::DeleteModuleFlags::O_NONBLOCK).map_err(|errno| match errno {
        nix::errno::Errno::EWOULDBLOCK | nix::errno::Errno::EBUSY => Error::failed(format!(
            "cannot unload {}: it is in use (a tool still holds /dev/kvmfi/{}); stop it and retry",
            kernel_name(file_stem),
            kernel_name(file_stem)
        )),
        nix::errno::Errno::EPERM => Error::permission("unloading a module needs root"),
        e => Error::io(format!("unloading {}", kernel_name(file_stem)), std::io::Error::from_raw_os_error(e as i32)),
    })?;
    Ok(true)
}
