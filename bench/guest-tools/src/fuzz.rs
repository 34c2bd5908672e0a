//! `fi-probe ioctl-fuzz DEV [--count N] [--threads T] [--seed S]`: hostile
//! ioctls against a kvmfi control device, from several threads at once.
//!
//! Requests: fully random command numbers and arguments; kvmfi's magic with
//! random number, direction and size; every real command with random
//! payloads, truncated or oversized structures, and bad pointers (NULL, a
//! kernel address, freshly unmapped memory). Structurally valid ARM requests
//! are scoped to a sacrificial sleeping child, so an accepted random request
//! can only ever hit that child. Every refusal must carry one of the errnos a
//! well-behaved driver returns; anything else is counted as unexpected.
//! Prints `calls=N ok=N refused=N unexpected=N unexpected_errnos=...`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// xorshift64*: deterministic per thread from the seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const MAGIC: u64 = 0xF1;
const ARM_SIZE: u64 = 184;
const FILTER_PID: u32 = 1;

const fn ioc(dir: u64, nr: u64, size: u64) -> u64 {
    (dir << 30) | (size << 16) | (MAGIC << 8) | nr
}

/// Errnos a driver may answer to bad input.
const ALLOWED: &[i32] = &[
    libc::EINVAL, libc::ENOTTY, libc::EFAULT, libc::EPERM, libc::EBUSY, libc::ESRCH,
    libc::EBADF, libc::E2BIG, libc::EOPNOTSUPP, libc::ENOENT, libc::ERANGE, libc::ENOMEM,
];

struct Counters {
    calls: AtomicU64,
    ok: AtomicU64,
    refused: AtomicU64,
    unexpected: AtomicU64,
    unexpected_errno: AtomicU64,
}

fn bad_pointer(rng: &mut Rng, unmapped: u64) -> u64 {
    match rng.below(4) {
        0 => 0,
        1 => 0xffff_8000_0000_0000 | (rng.next() & 0xffff_fff8),
        2 => unmapped,
        _ => rng.next(),
    }
}

fn fill_arm(rng: &mut Rng, buf: &mut [u8], victim: i32) {
    for b in buf.iter_mut() {
        *b = rng.next() as u8;
    }
    // size, and a scope that can only match the sacrificial child
    buf[0..4].copy_from_slice(&(ARM_SIZE as u32).to_ne_bytes());
    let filter = u32::from_ne_bytes(buf[4..8].try_into().unwrap()) | FILTER_PID;
    buf[4..8].copy_from_slice(&filter.to_ne_bytes());
    buf[8..12].copy_from_slice(&victim.to_ne_bytes());
    if rng.below(2) == 0 {
        // plausible bounds, so that the acceptance path is exercised too
        buf[40..44].copy_from_slice(&(rng.below(101) as u32).to_ne_bytes());
        buf[48..56].copy_from_slice(&(rng.below(5) as i64 - 1).to_ne_bytes());
        buf[64..72].copy_from_slice(&rng.below(2000).to_ne_bytes());
        buf[72..76].copy_from_slice(&(rng.below(40) as i32).to_ne_bytes());
        buf[80..84].copy_from_slice(&(rng.below(3) as u32).to_ne_bytes());
        for b in &mut buf[152..184] {
            *b = 0; // experiment id (out) and reserved
        }
        if rng.below(2) == 0 {
            for b in &mut buf[88..152] {
                *b = 0; // module arguments
            }
        }
    }
}

fn worker(dev: &str, calls: u64, seed: u64, victim: i32, c: &Counters) -> Result<(), String> {
    let path = std::ffi::CString::new(dev).map_err(|_| "bad path")?;
    // SAFETY: valid NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!("open {dev}: {}", std::io::Error::last_os_error()));
    }
    // A page that is mapped and then unmapped: a pointer the kernel must refuse.
    // SAFETY: anonymous mapping; unmapped right away, never dereferenced here.
    let unmapped = unsafe {
        let p = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        libc::munmap(p, 4096);
        p as u64
    };
    let mut rng = Rng(seed | 1);
    let mut buf = vec![0u8; 4096];
    for _ in 0..calls {
        let (cmd, arg): (u64, u64) = match rng.below(6) {
            0 => (rng.next() & 0xffff_ffff, rng.next()),
            1 => {
                let size = rng.below(1 << 14);
                (ioc(rng.below(4), rng.below(16), size), if rng.below(2) == 0 { buf.as_mut_ptr() as u64 } else { bad_pointer(&mut rng, unmapped) })
            }
            2 | 3 => {
                fill_arm(&mut rng, &mut buf[..ARM_SIZE as usize], victim);
                let size = match rng.below(5) {
                    0 => rng.below(ARM_SIZE),
                    1 => ARM_SIZE + 8 * rng.below(64),
                    _ => ARM_SIZE,
                };
                let ptr = if rng.below(10) == 0 { bad_pointer(&mut rng, unmapped) } else { buf.as_mut_ptr() as u64 };
                (ioc(3, 0x01, size), ptr)
            }
            4 => {
                // events with a random capacity and destination
                for b in buf[..64].iter_mut() {
                    *b = rng.next() as u8;
                }
                buf[0..4].copy_from_slice(&64u32.to_ne_bytes());
                let dst = if rng.below(2) == 0 { buf.as_mut_ptr() as u64 + 64 } else { bad_pointer(&mut rng, unmapped) };
                buf[16..24].copy_from_slice(&dst.to_ne_bytes());
                buf[4..8].copy_from_slice(&((rng.below(40)) as u32).to_ne_bytes());
                if rng.below(2) == 0 {
                    for b in &mut buf[24..64] {
                        *b = 0;
                    }
                }
                (ioc(3, 0x04, 64), buf.as_mut_ptr() as u64)
            }
            _ => match rng.below(3) {
                0 => (ioc(0, 0x02, 0), 0),
                1 => (ioc(2, 0x03, 352), if rng.below(3) == 0 { bad_pointer(&mut rng, unmapped) } else { buf.as_mut_ptr() as u64 }),
                _ => (ioc(2, 0x00, 88), if rng.below(3) == 0 { bad_pointer(&mut rng, unmapped) } else { buf.as_mut_ptr() as u64 }),
            },
        };
        // SAFETY: the kernel validates cmd and arg; user memory passed is
        // either `buf` (4096 writable bytes, enough for the largest size the
        // kernel copies for a kvmfi command: events writes at most 40 events
        // of 96 bytes after offset 64) or an address the kernel must refuse.
        let r = unsafe { libc::ioctl(fd, cmd as _, arg) };
        c.calls.fetch_add(1, Ordering::Relaxed);
        if r >= 0 {
            c.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if ALLOWED.contains(&e) {
                c.refused.fetch_add(1, Ordering::Relaxed);
            } else {
                c.unexpected.fetch_add(1, Ordering::Relaxed);
                c.unexpected_errno.store(e as u64, Ordering::Relaxed);
            }
        }
    }
    // leave nothing armed
    // SAFETY: KVMFI_IOC_DISARM takes no argument.
    unsafe { libc::ioctl(fd, ioc(0, 0x02, 0) as _, 0) };
    // SAFETY: closing our own descriptor.
    unsafe { libc::close(fd) };
    Ok(())
}

/// Runs the fuzzer; returns the result line.
pub fn run(dev: &str, count: u64, threads: u64, seed: u64) -> Result<String, String> {
    // SAFETY: fork in a single-threaded moment (threads start afterwards); the
    // child only sleeps until it is killed.
    let victim = unsafe { libc::fork() };
    if victim < 0 {
        return Err("fork failed".into());
    }
    if victim == 0 {
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
    }
    let c = Arc::new(Counters {
        calls: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        unexpected: AtomicU64::new(0),
        unexpected_errno: AtomicU64::new(0),
    });
    let threads = threads.max(1);
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let c = Arc::clone(&c);
            let dev = dev.to_string();
            std::thread::spawn(move || worker(&dev, count / threads, seed.wrapping_add(i * 0x9E37_79B9), victim, &c))
        })
        .collect();
    let mut err = None;
    for h in handles {
        if let Err(e) = h.join().unwrap_or_else(|_| Err("worker panicked".into())) {
            err = Some(e);
        }
    }
    // SAFETY: killing and reaping our own child.
    unsafe {
        libc::kill(victim, libc::SIGKILL);
        libc::waitpid(victim, std::ptr::null_mut(), 0);
    }
    if let Some(e) = err {
        return Err(e);
    }
    Ok(format!(
        "calls={} ok={} refused={} unexpected={} unexpected_errno={}",
        c.calls.load(Ordering::Relaxed),
        c.ok.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.unexpected.load(Ordering::Relaxed),
        c.unexpected_errno.load(Ordering::Relaxed)
    ))
}

/// `fi-probe arm-mode DEV MODE...`: one ARM request per MODE, otherwise
/// valid (module arguments zero) and scoped to a sleeping child; disarms
/// what was accepted. Prints `MODE=ok` or `MODE=ERRNO` for each.
pub fn arm_modes(dev: &str, modes: &[String]) -> Result<String, String> {
    let path = std::ffi::CString::new(dev).map_err(|_| "NUL in path")?;
    // SAFETY: valid NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!("open {dev}: {}", std::io::Error::last_os_error()));
    }
    let mut child = std::process::Command::new("sleep").arg("600").spawn().map_err(|e| format!("sleep: {e}"))?;
    let mut out = Vec::new();
    for m in modes {
        let mode: u32 = m.parse().map_err(|_| format!("'{m}' is not a mode number"))?;
        // struct kvmfi_arm: size, filter PID, pid, times 1, mode; the rest 0.
        let mut buf = [0u8; ARM_SIZE as usize];
        buf[0..4].copy_from_slice(&(ARM_SIZE as u32).to_ne_bytes());
        buf[4..8].copy_from_slice(&FILTER_PID.to_ne_bytes());
        buf[8..12].copy_from_slice(&(child.id() as i32).to_ne_bytes());
        buf[48..56].copy_from_slice(&1i64.to_ne_bytes());
        buf[76..80].copy_from_slice(&mode.to_ne_bytes());
        // SAFETY: buf is ARM_SIZE bytes, the size the command declares.
        let r = unsafe { libc::ioctl(fd, ioc(3, 0x01, ARM_SIZE) as _, buf.as_mut_ptr()) };
        if r == 0 {
            out.push(format!("{mode}=ok"));
            // SAFETY: KVMFI_IOC_DISARM takes no argument.
            unsafe { libc::ioctl(fd, ioc(0, 0x02, 0) as _, 0) };
        } else {
            out.push(format!("{mode}={}", crate::errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    // SAFETY: closing our own descriptor.
    unsafe { libc::close(fd) };
    Ok(out.join(" "))
}
