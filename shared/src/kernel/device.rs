//! The control device of one loaded module: /dev/kvmfi/<module>.
//!
//! [`Device::open`] performs the version handshake first, as KVM's
//! KVM_GET_API_VERSION does, so a binary never talks to a module of an
//! incompatible ABI.

use crate::kernel::abi::{self, Arm, Event, Events, Status, Version};
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An open, handshaken control device.
pub struct Device {
    file: File,
    path: PathBuf,
    pub version: Version,
}

fn errno_error(what: String, errno: nix::errno::Errno) -> Error {
    Error::io(what, std::io::Error::from_raw_os_error(errno as i32))
}

/// Makes the device node from sysfs when no devtmpfs/udev created it.
fn ensure_node(kernel_name: &str, path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !path.exists() {
        let sys = Path::new("/sys/class/misc").join(kernel_name).join("dev");
        if let Ok(text) = std::fs::read_to_string(&sys) {
            if Instant::now() >= deadline {
                let (major, minor) = text
                    .trim()
                    .split_once(':')
                    .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
                    .ok_or_else(|| Error::failed(format!("unexpected contents of {}", sys.display())))?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
                }
                nix::sys::stat::mknod(
                    path,
                    nix::sys::stat::SFlag::S_IFCHR,
                    nix::sys::stat::Mode::from_bits_truncate(0o600),
                    nix::sys::stat::makedev(major, minor),
                )
                .map_err(|e| errno_error(format!("creating device node {}", path.display()), e))?;
                break;
            }
        } else if Instant::now() >= deadline {
            return Err(Error::not_found(format!(
                "{} does not exist: the module is not loaded (run the tool's `arm`, or insmod it)",
                path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

impl Device {
    /// Path of the control device of module `kernel_name` (underscored).
    pub fn path_for(kernel_name: &str) -> PathBuf {
        Path::new("/dev/kvmfi").join(kernel_name)
    }

    /// Opens the device of a loaded module and checks its ABI version.
    pub fn open(kernel_name: &str) -> Result<Device> {
        let path = Self::path_for(kernel_name);
        ensure_node(kernel_name, &path)?;
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                Error::permission(format!("{}: permission denied; the kvmfi devices are root-only (run with sudo)", path.display()))
            } else {
                Error::io(format!("opening {}", path.display()), e)
            }
        })?;
        let mut version = Version::default();
        // SAFETY: the fd is open on a kvmfi device and `version` is a valid,
        // writable struct of exactly the size encoded in the request number.
        unsafe { abi::ioc_version(file.as_raw_fd(), &mut version) }
            .map_err(|e| errno_error(format!("version handshake with {}", path.display()), e))?;
        if version.abi_major != abi::ABI_MAJOR {
            return Err(Error::unsupported(format!(
                "{} speaks kvmfi ABI {}.{}, this tool speaks {}.{}: install matching tools and modules",
                path.display(),
                version.abi_major,
                version.abi_minor,
                abi::ABI_MAJOR,
                abi::ABI_MINOR
            )));
        }
        Ok(Device { file, path, version })
    }

    /// Arms a fault; returns the experiment id.
    pub fn arm(&self, req: &mut Arm) -> Result<u64> {
        crate::halt::refuse_if_halted()?;
        // SAFETY: `req` is a valid Arm of the size encoded in the request; the
        // kernel reads it and writes the experiment id back into it.
        unsafe { abi::ioc_arm(self.file.as_raw_fd(), req) }.map_err(|e| {
            let what = format!("arming {}", self.path.display());
            match e {
                nix::errno::Errno::EBUSY => Error::failed(format!(
                    "{what}: a fault is already armed; disarm it with `off` or pass --replace"
                )),
                nix::errno::Errno::ESRCH => Error::not_found(format!("{what}: no such process (--pid/--tgid)")),
                nix::errno::Errno::EBADF => Error::usage(format!("{what}: the cgroup or path could not be used")),
                nix::errno::Errno::EINVAL => Error::usage(format!("{what}: the module rejected a value (see dmesg)")),
                nix::errno::Errno::ENOLINK => Error::unsupported(format!(
                    "{what}: the kernel module holding the probed function was unloaded (see dmesg); \
                     load it again (modprobe kvm ...), then arm"
                )),
                e => errno_error(what, e),
            }
        })?;
        Ok(req.experiment_id)
    }

    /// Disarms the fault, if any.
    pub fn disarm(&self) -> Result<()> {
        // SAFETY: KVMFI_IOC_DISARM takes no argument.
        unsafe { abi::ioc_disarm(self.file.as_raw_fd()) }
            .map(|_| ())
            .map_err(|e| errno_error(format!("disarming {}", self.path.display()), e))
    }

    /// Reads events with sequence numbers from `from_seq` on (at most one
    /// batch); returns them with the next sequence number and the count lost.
    pub fn events(&self, from_seq: u64) -> Result<(Vec<Event>, u64, u64)> {
        let mut buf = vec![Event::default(); 256];
        let mut req = Events { max: buf.len() as u32, from_seq, buf: buf.as_mut_ptr() as u64, ..Events::default() };
        // SAFETY: `req` is a valid Events of the encoded size; `buf` points at
        // `max` writable Events that outlive the call.
        unsafe { abi::ioc_events(self.file.as_raw_fd(), &mut req) }
            .map_err(|e| errno_error(format!("reading events of {}", self.path.display()), e))?;
        buf.truncate(req.count as usize);
        Ok((buf, req.next_seq, req.lost))
    }

    /// Reads the status counters.
    pub fn status(&self) -> Result<Status> {
        let mut st = Status::default();
        // SAFETY: `st` is a valid, writable Status of the encoded size.
        unsafe { abi::ioc_status(self.file.as_raw_fd(), &mut st) }
            .map_err(|e| errno_error(format!("reading status of {}", self.path.display()), e))?;
        Ok(st)
    }
}
