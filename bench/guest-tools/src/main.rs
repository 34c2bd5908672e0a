//! `fi-probe`: a multi-call test program for the kvmfi VM bench guests.
//!
//! It performs simple, counted system-call workloads and prints one
//! machine-readable `key=value` line, so scenario scripts (busybox sh) can
//! check what a fault injector did. It only depends on std and libc and is
//! built as a static musl binary for x86_64 and aarch64.
//!
//! Subcommands (all accept `--alarm SECS`, default 60: the process kills
//! itself with SIGALRM if it runs longer, so a hung probe never hangs the VM):
//!
//! * `fi-probe read FILE [--count N] [--size B] [--offset O]`
//!   opens FILE read-only once and does N `pread(B bytes, O)` calls; a failed
//!   open counts as an error and is retried on the next iteration. Prints
//!   `ok=N err=N errno=NAME[,NAME..] first_errno=NAME bytes=N`
//!   (`errno=none first_errno=none` when nothing failed) and exits 0.
//!   With `--direct` the file is opened O_DIRECT and the buffer is
//!   page-aligned (B and O must be multiples of the logical block size).
//! * `fi-probe pwrite FILE [--count N] [--size B] [--offset O] [--direct]`
//!   opens an existing FILE (a block device) write-only, never truncating,
//!   and does N `pwrite(B bytes, O)` calls; same output line as `read`.
//! * `fi-probe write FILE [--count N] [--size B] [--fsync]`
//!   opens FILE write-only (created, truncated) and does N `write(B bytes)`
//!   calls (optionally `fsync` after each); same output line as `read`.
//! * `fi-probe append FILE [--count N] [--size B]` like `write`, but opens
//!   with O_APPEND and never truncates, so a file's prior contents can be
//!   compared afterwards. `short=N` counts writes that moved fewer bytes.
//! * `fi-probe loop-read FILE [--count N] [--ns]`
//!   a tight loop of N 1-byte `pread` calls at offset 0, for overhead
//!   benchmarks. Prints `calls=N err=N ns_per_call=F total_ns=N` and exits 0.
//! * `fi-probe kvm-check [--dev /dev/kvm]` opens the KVM device, asks
//!   `KVM_GET_API_VERSION` and creates (and closes) one VM with
//!   `KVM_CREATE_VM`. Prints `api=N vm=ok` or `api=N vm=ERRNO` /
//!   `open=ERRNO`; exits 0 only when the VM was created.
//! * `fi-probe ioctl-fuzz DEV [--count N] [--threads T] [--seed S]` sends
//!   hostile ioctls to a kvmfi device (see fuzz.rs); prints
//!   `calls=N ok=N refused=N unexpected=N unexpected_errno=E`.
//! * `fi-probe errno NAME_OR_NUMBER` prints `NUMBER NAME`, handy in scripts.
//!
//! Exit status: 0 when the workload ran (whatever the errors), 2 on a usage
//! error. Defaults: `--count 1`, `--size 4096` (1 for loop-read), `--offset 0`.

mod fuzz;

use std::ffi::CString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// errno names the scenarios are likely to see, in numeric order (Linux
/// generic numbering, identical on x86_64 and aarch64 for these values).
const ERRNO_NAMES: &[(i32, &str)] = &[
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::ESRCH, "ESRCH"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::ENXIO, "ENXIO"),
    (libc::E2BIG, "E2BIG"),
    (libc::ENOEXEC, "ENOEXEC"),
    (libc::EBADF, "EBADF"),
    (libc::ECHILD, "ECHILD"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EACCES, "EACCES"),
    (libc::EFAULT, "EFAULT"),
    (libc::EBUSY, "EBUSY"),
    (libc::EEXIST, "EEXIST"),
    (libc::EXDEV, "EXDEV"),
    (libc::ENODEV, "ENODEV"),
    (libc::ENOTDIR, "ENOTDIR"),
    (libc::EISDIR, "EISDIR"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENFILE, "ENFILE"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENOTTY, "ENOTTY"),
    (libc::EFBIG, "EFBIG"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::ESPIPE, "ESPIPE"),
    (libc::EROFS, "EROFS"),
    (libc::EPIPE, "EPIPE"),
    (libc::ERANGE, "ERANGE"),
    (libc::EDEADLK, "EDEADLK"),
    (libc::ENOSYS, "ENOSYS"),
    (libc::ENODATA, "ENODATA"),
    (libc::ETIME, "ETIME"),
    (libc::ENOLINK, "ENOLINK"),
    (libc::EPROTO, "EPROTO"),
    (libc::EOVERFLOW, "EOVERFLOW"),
    (libc::EBADFD, "EBADFD"),
    (libc::EILSEQ, "EILSEQ"),
    (libc::ENOTSOCK, "ENOTSOCK"),
    (libc::EMSGSIZE, "EMSGSIZE"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::ENETDOWN, "ENETDOWN"),
    (libc::ENETUNREACH, "ENETUNREACH"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::ENOTCONN, "ENOTCONN"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::ECONNREFUSED, "ECONNREFUSED"),
    (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    (libc::EALREADY, "EALREADY"),
    (libc::EINPROGRESS, "EINPROGRESS"),
    (libc::ESTALE, "ESTALE"),
    (libc::EDQUOT, "EDQUOT"),
    (libc::ECANCELED, "ECANCELED"),
];

/// Symbolic name of an errno value, `E<number>` when unknown.
fn errno_name(e: i32) -> String {
    ERRNO_NAMES
        .iter()
        .find(|(n, _)| *n == e)
        .map(|(_, s)| (*s).to_string())
        .unwrap_or_else(|| format!("E{e}"))
}

/// errno value of a name (`EIO`) or a number (`5`).
fn errno_value(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Some(n);
    }
    ERRNO_NAMES.iter().find(|(_, name)| name.eq_ignore_ascii_case(s)).map(|(n, _)| *n)
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Parsed command line options shared by the subcommands.
struct Opts {
    file: Option<String>,
    count: u64,
    size: usize,
    offset: i64,
    fsync: bool,
    /// O_DIRECT with a page-aligned buffer.
    direct: bool,
    alarm: u32,
    dev: String,
    threads: u64,
    seed: u64,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: fi-probe read FILE [--count N] [--size B] [--offset O] [--direct]\n\
         \x20      fi-probe pwrite FILE [--count N] [--size B] [--offset O] [--direct]\n\
         \x20      fi-probe write FILE [--count N] [--size B] [--fsync]\n\
         \x20      fi-probe loop-read FILE [--count N] [--ns]\n\
         \x20      fi-probe kvm-check [--dev /dev/kvm]\n\
         \x20      fi-probe errno NAME_OR_NUMBER\n\
         \x20      fi-probe nocap DEV [KNOB...]   (root: what the module refuses without CAP_SYS_ADMIN)\n\
         \x20      fi-probe arm-mode DEV MODE...  (ARM with each mode, scoped to a sleeper: ok or the errno)\n\
         common: --alarm SECS (default 60, 0 = none)"
    );
    ExitCode::from(2)
}

fn parse_opts(args: &[String], default_size: usize) -> Result<Opts, String> {
    let mut o = Opts {
        file: None,
        count: 1,
        size: default_size,
        offset: 0,
        fsync: false,
        direct: false,
        alarm: 60,
        dev: "/dev/kvm".into(),
        threads: 4,
        seed: 1,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<String, String> {
            it.next().cloned().ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--count" | "-n" => o.count = num(&value(a)?)?,
            "--size" | "-s" => o.size = num(&value(a)?)?,
            "--offset" => o.offset = num(&value(a)?)?,
            "--alarm" => o.alarm = num(&value(a)?)?,
            "--fsync" => o.fsync = true,
            "--direct" => o.direct = true,
            "--dev" => o.dev = value(a)?,
            "--threads" => o.threads = num(&value(a)?)?,
            "--seed" => o.seed = num(&value(a)?)?,
            "--ns" => {}
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            s => {
                if o.file.is_some() {
                    return Err(format!("unexpected argument {s}"));
                }
                o.file = Some(s.to_string());
            }
        }
    }
    Ok(o)
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("not a number: {s}"))
}

/// Counts of a workload and the distinct errnos it saw, in first-seen order.
#[derive(Default)]
struct Tally {
    ok: u64,
    err: u64,
    bytes: u64,
    /// Calls that succeeded but moved fewer bytes than asked (0 included).
    short: u64,
    errnos: Vec<i32>,
}

impl Tally {
    fn failed(&mut self, e: i32) {
        self.err += 1;
        if !self.errnos.contains(&e) {
            self.errnos.push(e);
        }
    }

    fn line(&self) -> String {
        let names: Vec<String> = self.errnos.iter().map(|e| errno_name(*e)).collect();
        let (list, first) = if names.is_empty() {
            ("none".to_string(), "none".to_string())
        } else {
            (names.join(","), names[0].clone())
        };
        format!(
            "ok={} err={} errno={list} first_errno={first} bytes={} short={}",
            self.ok, self.err, self.bytes, self.short
        )
    }
}

fn open(path: &CString, flags: i32) -> Result<i32, i32> {
    // SAFETY: `path` is a valid NUL-terminated string; open has no other
    // memory-safety preconditions.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd < 0 {
        Err(last_errno())
    } else {
        Ok(fd)
    }
}

fn close(fd: i32) {
    // SAFETY: `fd` is a descriptor this program opened and closes once.
    unsafe { libc::close(fd) };
}

fn cpath(o: &Opts) -> Result<CString, String> {
    let f = o.file.as_deref().ok_or("missing FILE")?;
    CString::new(f).map_err(|_| "FILE contains a NUL byte".to_string())
}

/// A buffer of `size` bytes that starts on a page boundary (O_DIRECT).
struct Aligned {
    mem: Vec<u8>,
    start: usize,
}

impl Aligned {
    fn new(size: usize, fill: u8) -> Aligned {
        let mem = vec![fill; size.max(1) + 4096];
        let start = mem.as_ptr().align_offset(4096);
        Aligned { mem, start }
    }
    fn ptr(&mut self) -> *mut libc::c_void {
        self.mem[self.start..].as_mut_ptr().cast()
    }
}

fn direct_flag(o: &Opts) -> i32 {
    if o.direct {
        libc::O_DIRECT
    } else {
        0
    }
}

fn cmd_read(o: &Opts) -> Result<String, String> {
    let path = cpath(o)?;
    let mut buf = Aligned::new(o.size, 0);
    let mut t = Tally::default();
    let mut fd: Option<i32> = None;
    for _ in 0..o.count {
        let f = match fd {
            Some(f) => f,
            None => match open(&path, libc::O_RDONLY | direct_flag(o)) {
                Ok(f) => {
                    fd = Some(f);
                    f
                }
                Err(e) => {
                    t.failed(e);
                    continue;
                }
            },
        };
        // SAFETY: `buf` is a live, writable buffer of at least `o.size` bytes.
        let r = unsafe { libc::pread(f, buf.ptr(), o.size, o.offset) };
        if r < 0 {
            t.failed(last_errno());
        } else {
            t.ok += 1;
            t.bytes += r as u64;
        }
    }
    if let Some(f) = fd {
        close(f);
    }
    Ok(t.line())
}

fn cmd_write(o: &Opts, open_flags: i32) -> Result<String, String> {
    let path = cpath(o)?;
    let mut buf = Aligned::new(o.size, b'x');
    let positional = open_flags & (libc::O_APPEND | libc::O_TRUNC) == 0;
    let mut t = Tally::default();
    let mut fd: Option<i32> = None;
    for _ in 0..o.count {
        let f = match fd {
            Some(f) => f,
            None => match open(&path, open_flags) {
                Ok(f) => {
                    fd = Some(f);
                    f
                }
                Err(e) => {
                    t.failed(e);
                    continue;
                }
            },
        };
        let r = if positional {
            // SAFETY: `buf` is a live buffer of at least `o.size` bytes.
            unsafe { libc::pwrite(f, buf.ptr(), o.size, o.offset) }
        } else {
            // SAFETY: `buf` is a live buffer of at least `o.size` bytes.
            unsafe { libc::write(f, buf.ptr(), o.size) }
        };
        if r < 0 {
            t.failed(last_errno());
            continue;
        }
        // SAFETY: fsync on a descriptor we own.
        if o.fsync && unsafe { libc::fsync(f) } < 0 {
            t.failed(last_errno());
            continue;
        }
        t.ok += 1;
        t.bytes += r as u64;
        if (r as usize) < o.size {
            t.short += 1;
        }
    }
    if let Some(f) = fd {
        close(f);
    }
    Ok(t.line())
}

fn cmd_loop_read(o: &Opts) -> Result<String, String> {
    let path = cpath(o)?;
    let fd = open(&path, libc::O_RDONLY).map_err(|e| format!("open: {}", errno_name(e)))?;
    let mut b = [0u8; 1];
    let mut err = 0u64;
    let start = Instant::now();
    for _ in 0..o.count {
        // SAFETY: `b` is a live, writable 1-byte buffer.
        if unsafe { libc::pread(fd, b.as_mut_ptr().cast(), 1, 0) } < 0 {
            err += 1;
        }
    }
    let total = start.elapsed().as_nanos();
    close(fd);
    let per = if o.count > 0 { total as f64 / o.count as f64 } else { 0.0 };
    Ok(format!("calls={} err={err} ns_per_call={per:.1} total_ns={total}", o.count))
}

/// `_IO(KVMIO, 0x00)`: same number on every architecture.
const KVM_GET_API_VERSION: u64 = 0xAE00;
/// `_IO(KVMIO, 0x01)`.
const KVM_CREATE_VM: u64 = 0xAE01;

/// Returns the report line and whether a VM could be created.
fn cmd_kvm_check(o: &Opts) -> (String, bool) {
    let Ok(path) = CString::new(o.dev.as_str()) else {
        return ("open=EINVAL".into(), false);
    };
    let fd = match open(&path, libc::O_RDWR) {
        Ok(fd) => fd,
        Err(e) => return (format!("open={}", errno_name(e)), false),
    };
    // SAFETY: KVM_GET_API_VERSION takes no argument and touches no memory.
    let api = unsafe { libc::ioctl(fd, KVM_GET_API_VERSION as _, 0) };
    // SAFETY: KVM_CREATE_VM takes the machine type by value (0 = default).
    let vm = unsafe { libc::ioctl(fd, KVM_CREATE_VM as _, 0) };
    let res = if vm >= 0 {
        close(vm);
        (format!("api={api} vm=ok"), true)
    } else {
        (format!("api={api} vm={}", errno_name(last_errno())), false)
    };
    close(fd);
    res
}

/// `fi-probe nocap DEV [KNOB...]`: as root, opens DEV, then drops
/// CAP_SYS_ADMIN from its effective set and tries what a caller without it
/// must be refused by the module itself (file modes let root through):
/// opening DEV again, an ioctl on the descriptor opened before, opening each
/// legacy /proc KNOB. Prints `open=E ioctl=E knob=E,...` (E = errno name or ok).
fn cmd_nocap(args: &[String]) -> Result<String, String> {
    let dev = args.first().ok_or("nocap needs a device")?;
    let dev_c = CString::new(dev.as_str()).map_err(|_| "NUL in path")?;
    let before = open(&dev_c, libc::O_RDWR).map_err(|e| format!("open {dev} with CAP_SYS_ADMIN: {}", errno_name(e)))?;
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    const CAP_SYS_ADMIN: u32 = 21;
    let mut hdr = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget fills the header and the two data words we own.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut CapHeader, data.as_mut_ptr()) } != 0 {
        return Err(format!("capget: {}", errno_name(last_errno())));
    }
    data[0].effective &= !(1 << CAP_SYS_ADMIN);
    // SAFETY: capset reads the header and the two data words we own.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) } != 0 {
        return Err(format!("capset: {}", errno_name(last_errno())));
    }
    let name = |r: Result<i32, i32>| match r {
        Ok(fd) => {
            close(fd);
            "ok".to_string()
        }
        Err(e) => errno_name(e),
    };
    let open_again = name(open(&dev_c, libc::O_RDWR));
    let mut version = [0u8; 88];
    // VERSION: _IOR(0xF1, 0x00, 88 bytes), the one every tool calls first.
    let cmd = (2u64 << 30) | (88 << 16) | (0xF1 << 8);
    // SAFETY: the buffer is 88 bytes, the size the command declares.
    let r = unsafe { libc::ioctl(before, cmd as _, version.as_mut_ptr()) };
    let ioctl = if r == 0 { "ok".to_string() } else { errno_name(last_errno()) };
    close(before);
    let knobs: Vec<String> = args[1..]
        .iter()
        .map(|k| CString::new(k.as_str()).map(|c| name(open(&c, libc::O_RDWR))).unwrap_or_else(|_| "EINVAL".into()))
        .collect();
    Ok(format!("open={open_again} ioctl={ioctl} knob={}", knobs.join(",")))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // Multi-call: `fi-probe SUB ...`, or a link named after the subcommand.
    let argv0 = args.first().map(|a| a.rsplit('/').next().unwrap_or(a).to_string()).unwrap_or_default();
    let (sub, rest) = if argv0 != "fi-probe" && argv0.starts_with("fi-") {
        (argv0.trim_start_matches("fi-").to_string(), &args[1..])
    } else if args.len() >= 2 {
        (args[1].clone(), &args[2..])
    } else {
        return usage();
    };
    if sub == "errno" {
        return match rest.first().and_then(|s| errno_value(s)) {
            Some(n) => {
                println!("{n} {}", errno_name(n));
                ExitCode::SUCCESS
            }
            None => usage(),
        };
    }
    if sub == "nocap" || sub == "arm-mode" {
        let done = if sub == "nocap" { cmd_nocap(rest) } else { fuzz::arm_modes(rest.first().map_or("", |d| d.as_str()), rest.get(1..).unwrap_or(&[])) };
        return match done {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("fi-probe: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let default_size = if sub == "loop-read" { 1 } else { 4096 };
    let o = match parse_opts(rest, default_size) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fi-probe: {e}");
            return usage();
        }
    };
    if o.alarm > 0 {
        // SAFETY: alarm(2) has no memory-safety preconditions; SIGALRM's
        // default action ends the process, which is the intent.
        unsafe { libc::alarm(o.alarm) };
    }
    let res = match sub.as_str() {
        "read" => cmd_read(&o),
        "write" => cmd_write(&o, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC),
        "append" => cmd_write(&o, libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND),
        "pwrite" => cmd_write(&o, libc::O_WRONLY | direct_flag(&o)),
        "loop-read" => cmd_loop_read(&o),
        "ioctl-fuzz" => fuzz::run(o.file.as_deref().unwrap_or(""), o.count, o.threads, o.seed),
        "kvm-check" => {
            let (line, ok) = cmd_kvm_check(&o);
            println!("{line}");
            return if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
        "-h" | "--help" | "help" => {
            usage();
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown subcommand {other}")),
    };
    match res {
        Ok(line) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fi-probe: {e}");
            usage()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_round_trip() {
        assert_eq!(errno_name(libc::EIO), "EIO");
        assert_eq!(errno_value("EIO"), Some(libc::EIO));
        assert_eq!(errno_value("5"), Some(5));
        assert_eq!(errno_name(4095), "E4095");
    }

    #[test]
    fn tally_line() {
        let mut t = Tally::default();
        assert_eq!(t.line(), "ok=0 err=0 errno=none first_errno=none bytes=0 short=0");
        t.ok = 2;
        t.failed(libc::EIO);
        t.failed(libc::ENOMEM);
        t.failed(libc::EIO);
        assert_eq!(t.line(), "ok=2 err=3 errno=EIO,ENOMEM first_errno=EIO bytes=0 short=0");
    }

    #[test]
    fn read_dev_zero() {
        let o = parse_opts(&["/dev/zero".into(), "--count".into(), "3".into(), "--size".into(), "8".into()], 4096).unwrap();
        assert_eq!(cmd_read(&o).unwrap(), "ok=3 err=0 errno=none first_errno=none bytes=24 short=0");
    }

    #[test]
    fn read_missing_file() {
        let o = parse_opts(&["/nonexistent/x".into(), "--count".into(), "2".into()], 4096).unwrap();
        assert_eq!(cmd_read(&o).unwrap(), "ok=0 err=2 errno=ENOENT first_errno=ENOENT bytes=0 short=0");
    }
}
