//! Device-mapper and loop devices through their ioctls, with no dmsetup or
//! losetup (a busybox guest has neither).
//!
//! The structs mirror `<linux/dm-ioctl.h>` (interface version 4) and
//! `<linux/loop.h>` field for field, with compile-time size and offset
//! assertions; the request numbers mirror the C `_IOWR`/`_IO` macros (the
//! same encoding on x86_64 and aarch64). Every device-mapper call goes
//! through [`Control::call`]: one `struct dm_ioctl` header, the payload at
//! `data_start`, and a retry with a larger buffer when the kernel answers
//! `DM_BUFFER_FULL_FLAG`.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::mem::{offset_of, size_of};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `DM_NAME_LEN`.
pub const DM_NAME_LEN: usize = 128;
/// `DM_UUID_LEN`.
pub const DM_UUID_LEN: usize = 129;
/// `DM_MAX_TYPE_NAME`.
pub const DM_MAX_TYPE_NAME: usize = 16;
/// Interface version this code speaks (`DM_VERSION_MAJOR` 4; minor 0 is
/// accepted by every 4.x kernel).
pub const DM_VERSION: [u32; 3] = [4, 0, 0];

/// `struct dm_ioctl`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DmIoctl {
    pub version: [u32; 3],
    pub data_size: u32,
    pub data_start: u32,
    pub target_count: u32,
    pub open_count: i32,
    pub flags: u32,
    pub event_nr: u32,
    pub padding: u32,
    pub dev: u64,
    pub name: [u8; DM_NAME_LEN],
    pub uuid: [u8; DM_UUID_LEN],
    pub data: [u8; 7],
}
const _: () = assert!(size_of::<DmIoctl>() == 312);
const _: () = assert!(offset_of!(DmIoctl, data_size) == 12);
const _: () = assert!(offset_of!(DmIoctl, open_count) == 24);
const _: () = assert!(offset_of!(DmIoctl, flags) == 28);
const _: () = assert!(offset_of!(DmIoctl, dev) == 40);
const _: () = assert!(offset_of!(DmIoctl, name) == 48);
const _: () = assert!(offset_of!(DmIoctl, uuid) == 176);
const _: () = assert!(offset_of!(DmIoctl, data) == 305);

/// `struct dm_target_spec`; its parameter string follows it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DmTargetSpec {
    pub sector_start: u64,
    pub length: u64,
    pub status: i32,
    pub next: u32,
    pub target_type: [u8; DM_MAX_TYPE_NAME],
}
const _: () = assert!(size_of::<DmTargetSpec>() == 40);
const _: () = assert!(offset_of!(DmTargetSpec, next) == 20);
const _: () = assert!(offset_of!(DmTargetSpec, target_type) == 24);

/// `struct dm_name_list` (name follows at offset 12).
const NAME_LIST_NAME: usize = 12;
/// `struct dm_target_versions` (name follows at offset 16).
const VERSIONS_NAME: usize = 16;

/// `_IOWR(DM_IOCTL, nr, struct dm_ioctl)`.
const fn dm_iowr(nr: u32) -> u32 {
    (3 << 30) | ((size_of::<DmIoctl>() as u32) << 16) | (0xfd << 8) | nr
}
pub const DM_VERSION_IOCTL: u32 = dm_iowr(0);
pub const DM_LIST_DEVICES: u32 = dm_iowr(2);
pub const DM_DEV_CREATE: u32 = dm_iowr(3);
pub const DM_DEV_REMOVE: u32 = dm_iowr(4);
pub const DM_DEV_SUSPEND: u32 = dm_iowr(6);
pub const DM_DEV_STATUS: u32 = dm_iowr(7);
pub const DM_TABLE_LOAD: u32 = dm_iowr(9);
pub const DM_TABLE_CLEAR: u32 = dm_iowr(10);
pub const DM_TABLE_STATUS: u32 = dm_iowr(12);
pub const DM_LIST_VERSIONS: u32 = dm_iowr(13);
pub const DM_TARGET_MSG: u32 = dm_iowr(14);
const _: () = assert!(DM_VERSION_IOCTL == 0xc138_fd00);
const _: () = assert!(DM_TABLE_STATUS == 0xc138_fd0c);

/// The C name of a device-mapper request, for messages.
fn dm_cmd_name(cmd: u32) -> &'static str {
    match cmd {
        DM_VERSION_IOCTL => "DM_VERSION",
        DM_LIST_DEVICES => "DM_LIST_DEVICES",
        DM_DEV_CREATE => "DM_DEV_CREATE",
        DM_DEV_REMOVE => "DM_DEV_REMOVE",
        DM_DEV_SUSPEND => "DM_DEV_SUSPEND",
        DM_DEV_STATUS => "DM_DEV_STATUS",
        DM_TABLE_LOAD => "DM_TABLE_LOAD",
        DM_TABLE_CLEAR => "DM_TABLE_CLEAR",
        DM_TABLE_STATUS => "DM_TABLE_STATUS",
        DM_LIST_VERSIONS => "DM_LIST_VERSIONS",
        DM_TARGET_MSG => "DM_TARGET_MSG",
        _ => "device-mapper ioctl",
    }
}

pub const DM_READONLY_FLAG: u32 = 1 << 0;
pub const DM_SUSPEND_FLAG: u32 = 1 << 1;
pub const DM_STATUS_TABLE_FLAG: u32 = 1 << 4;
pub const DM_ACTIVE_PRESENT_FLAG: u32 = 1 << 5;
pub const DM_BUFFER_FULL_FLAG: u32 = 1 << 8;

/// `struct loop_info64`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LoopInfo64 {
    pub lo_device: u64,
    pub lo_inode: u64,
    pub lo_rdevice: u64,
    pub lo_offset: u64,
    pub lo_sizelimit: u64,
    pub lo_number: u32,
    pub lo_encrypt_type: u32,
    pub lo_encrypt_key_size: u32,
    pub lo_flags: u32,
    pub lo_file_name: [u8; 64],
    pub lo_crypt_name: [u8; 64],
    pub lo_encrypt_key: [u8; 32],
    pub lo_init: [u64; 2],
}
const _: () = assert!(size_of::<LoopInfo64>() == 232);
const _: () = assert!(offset_of!(LoopInfo64, lo_flags) == 52);
const _: () = assert!(offset_of!(LoopInfo64, lo_file_name) == 56);
const _: () = assert!(offset_of!(LoopInfo64, lo_init) == 216);

/// `struct loop_config` (LOOP_CONFIGURE, Linux 5.8).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LoopConfig {
    pub fd: u32,
    pub block_size: u32,
    pub info: LoopInfo64,
    pub reserved: [u64; 8],
}
const _: () = assert!(size_of::<LoopConfig>() == 304);
const _: () = assert!(offset_of!(LoopConfig, info) == 8);

pub const LOOP_SET_FD: u32 = 0x4C00;
pub const LOOP_CLR_FD: u32 = 0x4C01;
pub const LOOP_SET_STATUS64: u32 = 0x4C04;
pub const LOOP_GET_STATUS64: u32 = 0x4C05;
pub const LOOP_CONFIGURE: u32 = 0x4C0A;
pub const LOOP_CTL_GET_FREE: u32 = 0x4C82;
pub const LO_FLAGS_READ_ONLY: u32 = 1;
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// `BLKGETSIZE64` = `_IOR(0x12, 114, size_t)`.
pub const BLKGETSIZE64: u32 = (2 << 30) | (8 << 16) | (0x12 << 8) | 114;
const _: () = assert!(BLKGETSIZE64 == 0x8008_1272);

fn os_err(what: impl std::fmt::Display, errno: i32) -> Error {
    Error::io(what, std::io::Error::from_raw_os_error(errno))
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Loads a kernel module with `modprobe` (best effort; the caller checks
/// the result).
pub fn modprobe(module: &str) {
    if let Some(mp) = super::exec::which("modprobe", &[PathBuf::from("/sbin"), PathBuf::from("/usr/sbin")]) {
        let argv = vec![mp.to_string_lossy().into_owned(), "-q".into(), module.into()];
        let _ = super::exec::run(&argv, None, Duration::from_secs(30));
    }
}

/// Makes a device node from `sys` (`/sys/.../dev`, "MAJ:MIN") when no
/// devtmpfs or udev created it within two seconds.
fn ensure_node(path: &Path, sys: &Path, block: bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !path.exists() {
        if Instant::now() >= deadline {
            let text = std::fs::read_to_string(sys).map_err(|e| Error::io(format!("reading {}", sys.display()), e))?;
            let (ma, mi) = parse_majmin(text.trim())
                .ok_or_else(|| Error::failed(format!("unexpected contents of {}", sys.display())))?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
            }
            let kind = if block { nix::sys::stat::SFlag::S_IFBLK } else { nix::sys::stat::SFlag::S_IFCHR };
            nix::sys::stat::mknod(path, kind, nix::sys::stat::Mode::from_bits_truncate(0o600), nix::sys::stat::makedev(ma, mi))
                .map_err(|e| os_err(format!("creating {}", path.display()), e as i32))?;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Parses "MAJ:MIN".
pub fn parse_majmin(text: &str) -> Option<(u64, u64)> {
    let (a, b) = text.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The kernel's `dev_t` encoding of the `dev` field (`huge_encode_dev`).
pub fn dev_majmin(dev: u64) -> (u64, u64) {
    (nix::sys::stat::major(dev), nix::sys::stat::minor(dev))
}

/// One table line: start sector, length, target type, parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub start: u64,
    pub len: u64,
    pub kind: String,
    pub params: String,
}

impl Target {
    /// `START LEN TYPE PARAMS`, as dmsetup prints a table.
    pub fn line(&self) -> String {
        format!("{} {} {} {}", self.start, self.len, self.kind, self.params).trim_end().to_string()
    }
    /// Parses a `START LEN TYPE PARAMS` line.
    pub fn parse(line: &str) -> Option<Target> {
        let mut it = line.trim().splitn(4, ' ');
        Some(Target {
            start: it.next()?.parse().ok()?,
            len: it.next()?.parse().ok()?,
            kind: it.next()?.to_string(),
            params: it.next().unwrap_or("").to_string(),
        })
    }
}

/// A device-mapper device as `DM_DEV_STATUS` reports it.
#[derive(Debug, Clone)]
pub struct DevStatus {
    pub name: String,
    pub dev: u64,
    pub open_count: i32,
    pub flags: u32,
    pub target_count: u32,
}

impl DevStatus {
    /// The block device node the kernel names `dm-MINOR`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/dm-{}", dev_majmin(self.dev).1))
    }
}

/// The open device-mapper control device, after the version handshake.
pub struct Control {
    file: File,
    /// Interface version the kernel answered.
    pub version: [u32; 3],
}

/// Where the control device lives.
pub const CONTROL: &str = "/dev/mapper/control";

impl Control {
    /// Opens /dev/mapper/control (loading dm-mod and making the node when
    /// needed) and checks that the kernel speaks interface version 4.
    pub fn open() -> Result<Control> {
        let sys = Path::new("/sys/class/misc/device-mapper/dev");
        if !sys.exists() {
            modprobe("dm-mod");
        }
        if !sys.exists() && !Path::new(CONTROL).exists() {
            return Err(Error::unsupported(
                "device-mapper is not available (no /sys/class/misc/device-mapper; modprobe dm-mod failed or the kernel has no CONFIG_BLK_DEV_DM)",
            ));
        }
        ensure_node(Path::new(CONTROL), sys, false)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(CONTROL)
            .map_err(|e| Error::io(format!("opening {CONTROL}"), e))?;
        let mut c = Control { file, version: [0; 3] };
        let (hdr, _) = c.call(DM_VERSION_IOCTL, None, 0, &[], 0)?;
        if hdr.version[0] != 4 {
            return Err(Error::unsupported(format!(
                "device-mapper speaks interface {}.{}.{}; this tool needs 4.x",
                hdr.version[0], hdr.version[1], hdr.version[2]
            )));
        }
        c.version = hdr.version;
        Ok(c)
    }

    /// One device-mapper ioctl: `name` (if any) in the header, `payload` at
    /// `data_start`. Returns the header the kernel wrote back and the bytes
    /// of its answer (from `data_start` to `data_size`). Retries with a
    /// bigger buffer while the kernel sets `DM_BUFFER_FULL_FLAG`.
    pub fn call(&self, cmd: u32, name: Option<&str>, flags: u32, payload: &[u8], target_count: u32) -> Result<(DmIoctl, Vec<u8>)> {
        let hsize = size_of::<DmIoctl>();
        let mut size = (hsize + payload.len()).max(16 * 1024).next_multiple_of(8);
        loop {
            // u64 words: the buffer is 8-byte aligned, as the kernel expects.
            let mut buf = vec![0u64; size / 8];
            // SAFETY: DmIoctl is plain old data; all-zero is a valid value.
            let mut hdr: DmIoctl = unsafe { std::mem::zeroed() };
            hdr.version = DM_VERSION;
            hdr.data_size = size as u32;
            hdr.data_start = hsize as u32;
            hdr.flags = flags;
            hdr.target_count = target_count;
            if let Some(n) = name {
                if n.is_empty() || n.len() >= DM_NAME_LEN || n.contains('/') {
                    return Err(Error::usage(format!("'{n}' is not a device-mapper name")));
                }
                hdr.name[..n.len()].copy_from_slice(n.as_bytes());
            }
            let bytes = buf.as_mut_ptr() as *mut u8;
            // SAFETY: the buffer holds `size` >= hsize + payload.len() bytes;
            // the copies stay inside it and do not overlap their sources.
            unsafe {
                std::ptr::copy_nonoverlapping(&hdr as *const DmIoctl as *const u8, bytes, hsize);
                std::ptr::copy_nonoverlapping(payload.as_ptr(), bytes.add(hsize), payload.len());
            }
            // SAFETY: the request number matches the struct, the buffer is
            // as large as data_size says and lives across the call.
            let r = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as _, bytes) };
            if r < 0 {
                let e = errno();
                return Err(os_err(format!("{}{}", dm_cmd_name(cmd), name.map(|n| format!(" on {n}")).unwrap_or_default()), e));
            }
            // SAFETY: the buffer starts with a DmIoctl the kernel filled in.
            let out: DmIoctl = unsafe { std::ptr::read_unaligned(bytes as *const DmIoctl) };
            if out.flags & DM_BUFFER_FULL_FLAG != 0 {
                if size >= 64 << 20 {
                    return Err(Error::failed("device-mapper answer larger than 64 MiB"));
                }
                size *= 4;
                continue;
            }
            let start = (out.data_start as usize).min(size);
            let end = (out.data_size as usize).clamp(start, size);
            // SAFETY: start..end lies within the buffer.
            let data = unsafe { std::slice::from_raw_parts(bytes.add(start), end - start) }.to_vec();
            return Ok((out, data));
        }
    }

    /// Target types the kernel has loaded (`DM_LIST_VERSIONS`).
    pub fn target_types(&self) -> Result<Vec<String>> {
        let (_, data) = self.call(DM_LIST_VERSIONS, None, 0, &[], 0)?;
        let mut out = Vec::new();
        let mut off = 0usize;
        while off + VERSIONS_NAME <= data.len() {
            let next = u32::from_ne_bytes(data[off..off + 4].try_into().expect("4 bytes")) as usize;
            let name = c_str(&data[off + VERSIONS_NAME..]);
            if !name.is_empty() {
                out.push(name);
            }
            if next == 0 {
                break;
            }
            off += next;
        }
        Ok(out)
    }

    /// Makes sure target type `kind` is available, loading `dm-KIND` with
    /// modprobe if needed; an unsupported error (exit 4) otherwise.
    pub fn require_target(&self, kind: &str) -> Result<()> {
        if self.target_types()?.iter().any(|t| t == kind) {
            return Ok(());
        }
        modprobe(&format!("dm-{kind}"));
        if self.target_types()?.iter().any(|t| t == kind) {
            return Ok(());
        }
        Err(Error::unsupported(format!(
            "the device-mapper target '{kind}' is not available on this kernel (modprobe dm-{kind} failed; CONFIG_DM_{} off?)",
            kind.to_uppercase()
        )))
    }

    /// Every device-mapper device: (name, dev).
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        let (_, data) = self.call(DM_LIST_DEVICES, None, 0, &[], 0)?;
        let mut out = Vec::new();
        let mut off = 0usize;
        while off + NAME_LIST_NAME <= data.len() {
            let dev = u64::from_ne_bytes(data[off..off + 8].try_into().expect("8 bytes"));
            let next = u32::from_ne_bytes(data[off + 8..off + 12].try_into().expect("4 bytes")) as usize;
            let name = c_str(&data[off + NAME_LIST_NAME..]);
            if dev != 0 || !name.is_empty() {
                out.push((name, dev));
            }
            if next == 0 {
                break;
            }
            off += next;
        }
        Ok(out)
    }

    /// `DM_DEV_STATUS`, or `None` when no device has that name.
    pub fn status(&self, name: &str) -> Result<Option<DevStatus>> {
        match self.call(DM_DEV_STATUS, Some(name), 0, &[], 0) {
            Ok((h, _)) => Ok(Some(DevStatus {
                name: c_str(&h.name),
                dev: h.dev,
                open_count: h.open_count,
                flags: h.flags,
                target_count: h.target_count,
            })),
            Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::ENXIO) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The active table of `name` (`DM_TABLE_STATUS` with
    /// `DM_STATUS_TABLE_FLAG`).
    pub fn table(&self, name: &str) -> Result<Vec<Target>> {
        let (h, data) = self.call(DM_TABLE_STATUS, Some(name), DM_STATUS_TABLE_FLAG, &[], 0)?;
        let mut out = Vec::new();
        let mut off = 0usize;
        let spec_len = size_of::<DmTargetSpec>();
        for _ in 0..h.target_count {
            if off + spec_len > data.len() {
                break;
            }
            // SAFETY: off + 40 bytes are inside `data`; DmTargetSpec is POD.
            let spec: DmTargetSpec = unsafe { std::ptr::read_unaligned(data[off..].as_ptr() as *const DmTargetSpec) };
            out.push(Target {
                start: spec.sector_start,
                len: spec.length,
                kind: c_str(&spec.target_type),
                params: c_str(&data[off + spec_len..]),
            });
            // On output `next` counts from the start of the data area.
            if spec.next as usize <= off {
                break;
            }
            off = spec.next as usize;
        }
        Ok(out)
    }

    /// Creates device `name` (no table yet); returns its status.
    pub fn create(&self, name: &str) -> Result<DevStatus> {
        self.call(DM_DEV_CREATE, Some(name), 0, &[], 0).map_err(|e| match e {
            Error::Io { source, .. } if source.raw_os_error() == Some(libc::EBUSY) => {
                Error::failed(format!("a device-mapper device named {name} already exists"))
            }
            e => e,
        })?;
        self.status(name)?.ok_or_else(|| Error::failed(format!("{name} vanished right after it was created")))
    }

    /// Loads `table` into the inactive slot of `name`.
    pub fn load(&self, name: &str, table: &[Target], readonly: bool) -> Result<()> {
        let mut payload = Vec::new();
        for t in table {
            if t.kind.len() >= DM_MAX_TYPE_NAME {
                return Err(Error::usage(format!("target type '{}' is too long", t.kind)));
            }
            let start = payload.len();
            // SAFETY: DmTargetSpec is plain old data; all-zero is valid.
            let mut spec: DmTargetSpec = unsafe { std::mem::zeroed() };
            spec.sector_start = t.start;
            spec.length = t.len;
            spec.target_type[..t.kind.len()].copy_from_slice(t.kind.as_bytes());
            let total = (size_of::<DmTargetSpec>() + t.params.len() + 1).next_multiple_of(8);
            // On input `next` is the offset from this spec to the next one.
            spec.next = total as u32;
            // SAFETY: viewing a POD struct as its bytes.
            let raw = unsafe { std::slice::from_raw_parts(&spec as *const DmTargetSpec as *const u8, size_of::<DmTargetSpec>()) };
            payload.extend_from_slice(raw);
            payload.extend_from_slice(t.params.as_bytes());
            payload.resize(start + total, 0);
        }
        let flags = if readonly { DM_READONLY_FLAG } else { 0 };
        self.call(DM_TABLE_LOAD, Some(name), flags, &payload, table.len() as u32).map(|_| ())
    }

    /// Resumes `name`, swapping in a loaded inactive table (the kernel
    /// suspends the device first when it has to).
    pub fn resume(&self, name: &str) -> Result<()> {
        self.call(DM_DEV_SUSPEND, Some(name), 0, &[], 0).map(|_| ())
    }

    /// Loads `table` and makes it live.
    pub fn replace_table(&self, name: &str, table: &[Target]) -> Result<()> {
        self.load(name, table, false)?;
        self.resume(name)
    }

    /// Sends a target message (`DM_TARGET_MSG`, sector 0), e.g. to dm-dust.
    pub fn message(&self, name: &str, msg: &str) -> Result<()> {
        let mut payload = 0u64.to_ne_bytes().to_vec();
        payload.extend_from_slice(msg.as_bytes());
        payload.push(0);
        self.call(DM_TARGET_MSG, Some(name), 0, &payload, 0).map(|_| ())
    }

    /// Removes `name`. `EBUSY` (still open) comes back as an error.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.call(DM_DEV_REMOVE, Some(name), 0, &[], 0).map(|_| ())
    }
}

/// The size in bytes of a block device (`BLKGETSIZE64`).
pub fn blockdev_size(path: &Path) -> Result<u64> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 to the pointer we pass.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64 as _, &mut size as *mut u64) };
    crate::error::cvt(r, format!("BLKGETSIZE64 on {}", path.display()))?;
    Ok(size)
}

/// Where a block device (MAJ, MIN) is mounted, from /proc/self/mountinfo.
pub fn mounted_at(majmin: (u64, u64)) -> Vec<String> {
    let want = format!("{}:{}", majmin.0, majmin.1);
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(2) == Some(&want.as_str())).then(|| f.get(4).map(|s| s.to_string())).flatten()
        })
        .collect()
}

/// The loop control device.
pub const LOOP_CONTROL: &str = "/dev/loop-control";

/// Asks the kernel for a free loop device number (`LOOP_CTL_GET_FREE`),
/// loading the loop driver if needed.
pub fn loop_get_free() -> Result<u32> {
    if !Path::new("/sys/class/misc/loop-control").exists() {
        modprobe("loop");
    }
    if !Path::new("/sys/class/misc/loop-control").exists() && !Path::new(LOOP_CONTROL).exists() {
        return Err(Error::unsupported("the loop driver is not available (no /dev/loop-control; modprobe loop failed)"));
    }
    ensure_node(Path::new(LOOP_CONTROL), Path::new("/sys/class/misc/loop-control/dev"), false)?;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(LOOP_CONTROL)
        .map_err(|e| Error::io(format!("opening {LOOP_CONTROL}"), e))?;
    // SAFETY: LOOP_CTL_GET_FREE takes no argument.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), LOOP_CTL_GET_FREE as _, 0) };
    let n = crate::error::cvt(r, "LOOP_CTL_GET_FREE")?;
    Ok(n as u32)
}

/// /dev/loopN.
pub fn loop_path(n: u32) -> PathBuf {
    PathBuf::from(format!("/dev/loop{n}"))
}

fn open_loop(n: u32) -> Result<File> {
    let path = loop_path(n);
    ensure_node(&path, &PathBuf::from(format!("/sys/block/loop{n}/dev")), true)?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))
}

/// Binds `file` to loop device `n` with `LO_FLAGS_AUTOCLEAR` (the device
/// detaches itself once its last user closes it), through LOOP_CONFIGURE,
/// or LOOP_SET_FD + LOOP_SET_STATUS64 on kernels before 5.8. Returns the
/// open loop device: keep it open until something else (a dm table) holds
/// the device, or autoclear detaches it at once.
pub fn loop_attach(n: u32, file: &Path, readonly: bool) -> Result<File> {
    let backing = OpenOptions::new()
        .read(true)
        .write(!readonly)
        .custom_flags(libc::O_CLOEXEC)
        .open(file)
        .map_err(|e| Error::io(format!("opening {}", file.display()), e))?;
    let dev = open_loop(n)?;
    // SAFETY: LoopConfig is plain old data; all-zero is valid.
    let mut cfg: LoopConfig = unsafe { std::mem::zeroed() };
    cfg.fd = backing.as_raw_fd() as u32;
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | if readonly { LO_FLAGS_READ_ONLY } else { 0 };
    let name = file.as_os_str().as_encoded_bytes();
    let l = name.len().min(63);
    cfg.info.lo_file_name[..l].copy_from_slice(&name[..l]);
    // SAFETY: LOOP_CONFIGURE reads one struct loop_config we own.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CONFIGURE as _, &cfg as *const LoopConfig) };
    if r == 0 {
        return Ok(dev);
    }
    let e = errno();
    if e == libc::EBUSY {
        return Err(Error::failed(format!("loop device {} was taken by someone else meanwhile; try again", loop_path(n).display())));
    }
    if e != libc::EINVAL && e != libc::ENOTTY {
        return Err(os_err(format!("LOOP_CONFIGURE {} on {}", file.display(), loop_path(n).display()), e));
    }
    // Before Linux 5.8: LOOP_SET_FD, then the flags.
    // SAFETY: LOOP_SET_FD takes the backing file descriptor by value.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_SET_FD as _, backing.as_raw_fd() as libc::c_ulong) };
    crate::error::cvt(r, format!("LOOP_SET_FD {} on {}", file.display(), loop_path(n).display()))?;
    let info = cfg.info;
    // SAFETY: LOOP_SET_STATUS64 reads one struct loop_info64 we own.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_SET_STATUS64 as _, &info as *const LoopInfo64) };
    if r < 0 {
        let e = errno();
        // SAFETY: LOOP_CLR_FD takes no argument.
        unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CLR_FD as _, 0) };
        return Err(os_err(format!("LOOP_SET_STATUS64 on {}", loop_path(n).display()), e));
    }
    Ok(dev)
}

/// The (device, inode) of the file bound to loop device `n`, or `None`
/// when it is unbound or absent.
pub fn loop_backing(n: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/sys/block/loop{n}/loop/backing_file")).ok()?;
    let dev = open_loop(n).ok()?;
    // SAFETY: LoopInfo64 is plain old data; all-zero is valid.
    let mut info: LoopInfo64 = unsafe { std::mem::zeroed() };
    // SAFETY: LOOP_GET_STATUS64 fills one struct loop_info64 we own.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_GET_STATUS64 as _, &mut info as *mut LoopInfo64) };
    (r == 0 && !text.trim().is_empty()).then_some((info.lo_device, info.lo_inode))
}

/// Detaches loop device `n` if it is still bound to the file with this
/// (device, inode). Idempotent: unbound, absent or bound to another file
/// is nothing to do. A loop device someone still holds open is left to
/// autoclear (the kernel detaches it when that user closes it).
pub fn loop_detach_if(n: u32, file_dev: u64, file_ino: u64) -> Result<()> {
    match loop_backing(n) {
        Some((d, i)) if d == file_dev && i == file_ino => {}
        _ => return Ok(()),
    }
    // Held by a device above it (the dm device left in use): it was bound
    // with autoclear, so it detaches itself when that device goes.
    let holders = std::fs::read_dir(format!("/sys/block/loop{n}/holders")).map(|d| d.count()).unwrap_or(0);
    if holders > 0 {
        return Ok(());
    }
    let dev = open_loop(n)?;
    // SAFETY: LOOP_CLR_FD takes no argument.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CLR_FD as _, 0) };
    if r < 0 {
        let e = errno();
        if e != libc::ENXIO {
            return Err(os_err(format!("LOOP_CLR_FD on {}", loop_path(n).display()), e));
        }
    }
    drop(dev);
    // Detaching completes when the last opener (we) closes the device.
    let deadline = Instant::now() + Duration::from_secs(3);
    while loop_backing(n).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// (st_dev, st_ino) of a file, as the loop driver records them.
pub fn file_id(path: &Path) -> Result<(u64, u64)> {
    let m = std::fs::metadata(path).map_err(|e| Error::io(format!("{}", path.display()), e))?;
    Ok((m.dev(), m.ino()))
}

/// What a disk target is.
#[derive(Debug, Clone)]
pub enum Backing {
    /// A regular file, attached through a loop device.
    File { path: PathBuf, bytes: u64 },
    /// A block device (MAJ, MIN).
    Block { path: PathBuf, majmin: (u64, u64), bytes: u64 },
}

impl Backing {
    /// Checks `path`: a regular file or a block device, at least one
    /// sector, not a mounted block device. Usage errors (exit 2) otherwise.
    pub fn inspect(path: &Path) -> Result<Backing> {
        let m = std::fs::metadata(path).map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
        let ft = m.file_type();
        if ft.is_file() {
            let path = path.canonicalize().map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
            if m.len() < 512 {
                return Err(Error::usage(format!("{}: an image needs at least one 512-byte sector", path.display())));
            }
            return Ok(Backing::File { path, bytes: m.len() });
        }
        if ft.is_block_device() {
            let majmin = dev_majmin(m.rdev());
            let mounts = mounted_at(majmin);
            if !mounts.is_empty() {
                return Err(Error::usage(format!(
                    "{} is mounted on {}: disk-fi goes under a file system, so unmount it first",
                    path.display(),
                    mounts.join(", ")
                )));
            }
            let bytes = blockdev_size(path).map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
            if bytes < 512 {
                return Err(Error::usage(format!("{}: empty block device", path.display())));
            }
            return Ok(Backing::Block { path: path.to_path_buf(), majmin, bytes });
        }
        Err(Error::usage(format!("{}: not an image file or a block device", path.display())))
    }

    /// Size in 512-byte sectors (a partial last sector is not used).
    pub fn sectors(&self) -> u64 {
        match self {
            Backing::File { bytes, .. } | Backing::Block { bytes, .. } => bytes / 512,
        }
    }

    /// The path given.
    pub fn path(&self) -> &Path {
        match self {
            Backing::File { path, .. } | Backing::Block { path, .. } => path,
        }
    }
}

/// Makes sure /dev/dm-MINOR exists for a device (devtmpfs or udev
/// normally create it); returns its path.
pub fn ensure_dm_node(st: &DevStatus) -> Result<PathBuf> {
    let path = st.path();
    let minor = dev_majmin(st.dev).1;
    ensure_node(&path, &PathBuf::from(format!("/sys/block/dm-{minor}/dev")), true)?;
    Ok(path)
}

/// Parses journal table lines.
fn parse_table(lines: &[String]) -> Result<Vec<Target>> {
    lines
        .iter()
        .map(|l| Target::parse(l).ok_or_else(|| Error::failed(format!("bad table line '{l}' in the journal"))))
        .collect()
}

/// Creates `name` with `table`, first binding `loop_file` to loop device
/// `loop_nr` (held open until the table holds the loop device).
pub fn create_device(name: &str, table: &[String], loop_file: Option<&str>, loop_nr: Option<u32>, messages: &[String]) -> Result<()> {
    let ctl = Control::open()?;
    let targets = parse_table(table)?;
    let mut kinds: Vec<&str> = targets.iter().map(|t| t.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        ctl.require_target(kind)?;
    }
    let _held = match (loop_file, loop_nr) {
        (Some(f), Some(n)) => Some(loop_attach(n, Path::new(f), false)?),
        _ => None,
    };
    ctl.create(name)?;
    let live = ctl.load(name, &targets, false).and_then(|_| ctl.resume(name));
    if let Err(e) = live {
        let _ = ctl.remove(name);
        return Err(match e {
            Error::Io { source, .. } if source.raw_os_error() == Some(libc::EINVAL) => Error::unsupported(format!(
                "the kernel refused the table '{}' (Invalid argument): this kernel's target lacks a feature it needs, see dmesg",
                table.join("; ")
            )),
            e => e,
        });
    }
    for m in messages {
        ctl.message(name, m)?;
    }
    let st = ctl.status(name)?.ok_or_else(|| Error::failed(format!("{name} vanished after it was created")))?;
    ensure_dm_node(&st)?;
    Ok(())
}

/// True when `table` is one `linear` target (the fault is disarmed).
pub fn is_plain(table: &[Target]) -> bool {
    table.len() == 1 && table[0].kind == "linear"
}

/// Replaces the table of `name` by the plain `linear` line, unless the
/// device is gone or already plain. Returns true when it swapped.
pub fn disarm(ctl: &Control, name: &str, linear: &str) -> Result<bool> {
    if ctl.status(name)?.is_none() {
        return Ok(false);
    }
    if is_plain(&ctl.table(name)?) {
        return Ok(false);
    }
    let t = Target::parse(linear).ok_or_else(|| Error::failed(format!("bad table line '{linear}'")))?;
    ctl.replace_table(name, &[t])?;
    Ok(true)
}

/// Removes `name` if it exists and nobody holds it open; an open device is
/// disarmed instead and reported as an error.
pub fn remove_device(name: &str, linear: &str) -> Result<()> {
    let ctl = Control::open()?;
    let Some(st) = ctl.status(name)? else { return Ok(()) };
    if st.open_count > 0 {
        let _ = disarm(&ctl, name, linear);
        return Err(busy_error(&st, "its fault is disarmed (plain linear mapping) and the device is left in place"));
    }
    match ctl.remove(name) {
        Ok(()) => {}
        Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::ENXIO) => {}
        Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EBUSY) => {
            let _ = disarm(&ctl, name, linear);
            let st = ctl.status(name)?.unwrap_or(st);
            return Err(busy_error(&st, "its fault is disarmed (plain linear mapping) and the device is left in place"));
        }
        Err(e) => return Err(e),
    }
    // A node we made ourselves (no devtmpfs) goes with the device.
    let mapper = Path::new("/dev/mapper").join(name);
    if mapper.symlink_metadata().map(|m| m.file_type().is_symlink()).unwrap_or(false) {
        let _ = std::fs::remove_file(mapper);
    }
    Ok(())
}

/// "NAME (/dev/dm-N) is in use (open count N, mounted on M): WHAT; unmount it or stop the VM first".
pub fn busy_error(st: &DevStatus, what: &str) -> Error {
    let mounts = mounted_at(dev_majmin(st.dev));
    let on = if mounts.is_empty() { String::new() } else { format!(", mounted on {}", mounts.join(", ")) };
    Error::failed(format!(
        "{} ({}) is in use (open count {}{on}): {what}; unmount it or stop the VM using it first",
        st.name,
        st.path().display(),
        st.open_count
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_line_round_trip() {
        let t = Target { start: 0, len: 8, kind: "linear".into(), params: "/dev/loop0 0".into() };
        assert_eq!(t.line(), "0 8 linear /dev/loop0 0");
        assert_eq!(Target::parse(&t.line()), Some(t));
        let e = Target { start: 8, len: 1, kind: "error".into(), params: String::new() };
        assert_eq!(e.line(), "8 1 error");
        assert_eq!(Target::parse("8 1 error"), Some(e));
        assert_eq!(Target::parse("x 1 error"), None);
    }

    #[test]
    fn ioctl_numbers() {
        assert_eq!(DM_DEV_CREATE, 0xc138_fd03);
        assert_eq!(DM_LIST_DEVICES, 0xc138_fd02);
        assert_eq!(parse_majmin("7:3"), Some((7, 3)));
    }
}
