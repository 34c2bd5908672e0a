//! `mm-test`: guest test programs for the process and memory fault tools
//! (cpu-reg-main, mm-fault-fi, kswapd-fi, tlb-flush-fi).
//!
//! Each subcommand does one small, deterministic thing and prints one
//! `key=value` line. A fault that kills the program shows as the exit status
//! 128+signal in the calling shell. Every subcommand arms `alarm(--alarm)`
//! (default 20 s), so a hang ends with SIGALRM (exit 142).
//!
//! * `mm-test thread [--value V]` creates one thread with a raw clone(2).
//!   The new thread copies a marker register (x86_64 R12, arm64 X22, which
//!   hold V = 0x1234 by default when the thread starts) through its stack
//!   into memory and exits. Prints `child_reg=0x...`. A corrupted PC or SP of
//!   the new thread kills the whole process with the signal it caused.
//! * `mm-test fork` forks a child that exits with status 7; prints
//!   `child=exit:7` or `child=signal:N`.
//! * `mm-test touch --addr A --pages N` maps N fresh anonymous pages at
//!   address A (fixed) and writes one byte to each; prints `touched=N`.
//! * `mm-test read-into --addr A --pages N FILE` maps N fresh pages at A and
//!   read(2)s FILE into them, so the kernel itself faults the pages in;
//!   prints `read=BYTES errno=none` or `read=-1 errno=NAME`.
//! * `mm-test hog --mb N [--hold-ms M]` maps N MiB of anonymous memory in
//!   base pages, writes every page and keeps it M ms longer; prints
//!   `hogged=N ms=T`.
//! * `mm-test dentries [--count N] [DIR]` looks up N names that do not exist
//!   in DIR (default /sys/kernel): each lookup leaves a negative dentry, a
//!   small, reclaimable, memory-cgroup-charged kernel object, so a memory
//!   cgroup whose limit is below N dentries can only go on by reclaim.
//!   Prints `dentries=N ms=T`.
//! * `mm-test tlb-stale [--rounds N]` (two threads, pinned to CPUs 0 and 1):
//!   a reader keeps reading a page while the writer repeatedly replaces the
//!   physical page behind that address (MADV_DONTNEED, then a new value);
//!   a seqlock tells when the reader must see the new value, so any other
//!   value is a stale translation on the reader's CPU. Prints
//!   `rounds=N stale_rounds=S stale_reads=R foreign_reads=F` (foreign: the
//!   stale read saw the page's next owner's data).
//! * `mm-test mprotect-loop [--rounds N]` (two threads): mprotect()s a page
//!   that another thread keeps touching, N times, so that every round needs
//!   a TLB flush on both CPUs; prints `rounds=N`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// The marker value the new thread starts with unless --value is given.
const DEFAULT_VALUE: u64 = 0x1234;
const PAGE: usize = 4096;

struct Opts {
    value: u64,
    addr: u64,
    pages: usize,
    mb: usize,
    rounds: u64,
    hold_ms: u64,
    alarm: u32,
    file: Option<String>,
}

fn num(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let r = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else {
        t.parse()
    };
    r.map_err(|_| format!("'{text}' is not a number"))
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts { value: DEFAULT_VALUE, addr: 0, pages: 1, mb: 64, rounds: 1000, hold_ms: 0, alarm: 20, file: None };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value")).and_then(|v| num(v));
        match a.as_str() {
            "--value" => o.value = val()?,
            "--addr" => o.addr = val()?,
            "--pages" => o.pages = val()? as usize,
            "--mb" => o.mb = val()? as usize,
            "--rounds" | "--count" => o.rounds = val()?,
            "--alarm" => o.alarm = val()? as u32,
            "--hold-ms" => o.hold_ms = val()?,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => o.file = Some(s.to_string()),
        }
    }
    Ok(o)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn errno_name(e: i32) -> String {
    match e {
        libc::EFAULT => "EFAULT".into(),
        libc::ENOMEM => "ENOMEM".into(),
        libc::EIO => "EIO".into(),
        libc::EINTR => "EINTR".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ENOENT => "ENOENT".into(),
        n => format!("E{n}"),
    }
}

/// Creates one thread with a raw clone(2) whose only job is to copy the
/// marker register through its stack into `result`, then to set `done`.
fn cmd_thread(o: &Opts) -> Result<String, String> {
    static RESULT: AtomicU64 = AtomicU64::new(0);
    static DONE: AtomicU32 = AtomicU32::new(0);
    let stack: &'static mut [u8] = Box::leak(vec![0u8; 64 * 1024].into_boxed_slice());
    let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
    let flags: u64 = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM) as u64;
    let res = RESULT.as_ptr();
    let done = DONE.as_ptr();
    let ret: i64;
    // SAFETY: a raw clone of a thread sharing this address space. The child
    // runs only the instructions below, on its own leaked stack: it stores
    // through `res`/`done` (valid statics for the life of the process) and
    // leaves with exit(2) without returning into Rust code. The parent's
    // registers are restored as declared (rcx/r11/r12 resp. x8/x9/x22).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!(
            "mov r12, {val}",
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "push r12",
            "pop r12",
            "mov qword ptr [{res}], r12",
            "mov dword ptr [{done}], 1",
            "mov eax, 60",
            "xor edi, edi",
            "syscall",
            "ud2",
            "2:",
            val = in(reg) o.value,
            res = in(reg) res,
            done = in(reg) done,
            inout("rax") libc::SYS_clone => ret,
            in("rdi") flags,
            in("rsi") top,
            in("rdx") 0u64,
            in("r10") 0u64,
            in("r8") 0u64,
            out("rcx") _,
            out("r11") _,
            out("r12") _,
        );
    }
    // SAFETY: as above, for arm64 (clone(flags, newsp, ptid, tls, ctid)).
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!(
            "mov x22, {val}",
            "svc #0",
            "cbnz x0, 2f",
            "str x22, [sp, #-16]!",
            "ldr x9, [sp], #16",
            "str x9, [{res}]",
            "mov w9, #1",
            "str w9, [{done}]",
            "mov x0, #0",
            "mov x8, #93",
            "svc #0",
            "brk #0",
            "2:",
            val = in(reg) o.value,
            res = in(reg) res,
            done = in(reg) done,
            inout("x0") flags => ret,
            in("x1") top,
            in("x2") 0u64,
            in("x3") 0u64,
            in("x4") 0u64,
            inout("x8") libc::SYS_clone => _,
            out("x9") _,
            out("x22") _,
        );
    }
    if ret < 0 {
        return Err(format!("clone failed: {}", errno_name(-ret as i32)));
    }
    let start = Instant::now();
    while DONE.load(Ordering::Acquire) == 0 {
        if start.elapsed().as_secs() >= 10 {
            return Ok("child_reg=timeout".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Ok(format!("child_reg={:#x}", RESULT.load(Ordering::Acquire)))
}

fn cmd_fork() -> Result<String, String> {
    // SAFETY: fork in a single-threaded program; the child only calls _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed: {}", errno_name(errno())));
    }
    if pid == 0 {
        // SAFETY: _exit is async-signal-safe and never returns.
        unsafe { libc::_exit(7) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid status pointer.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return Err(format!("waitpid failed: {}", errno_name(errno())));
    }
    Ok(if libc::WIFSIGNALED(status) {
        format!("child=signal:{}", libc::WTERMSIG(status))
    } else {
        format!("child=exit:{}", libc::WEXITSTATUS(status))
    })
}

/// Maps `pages` fresh anonymous pages at `addr` (which must be free).
fn map_at(addr: u64, pages: usize) -> Result<*mut u8, String> {
    let len = pages * PAGE;
    let hint = addr as *mut libc::c_void;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | if addr != 0 { libc::MAP_FIXED_NOREPLACE } else { 0 };
    // SAFETY: an anonymous mapping; MAP_FIXED_NOREPLACE never replaces an
    // existing mapping, so no memory of this program is invalidated.
    let p = unsafe { libc::mmap(hint, len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return Err(format!("mmap at {addr:#x} failed: {}", errno_name(errno())));
    }
    if addr != 0 && p as u64 != addr {
        return Err(format!("mmap returned {p:p}, not {addr:#x} (kernel without MAP_FIXED_NOREPLACE?)"));
    }
    Ok(p as *mut u8)
}

fn cmd_touch(o: &Opts) -> Result<String, String> {
    let p = map_at(o.addr, o.pages)?;
    for i in 0..o.pages {
        // SAFETY: within the mapping just created.
        unsafe { std::ptr::write_volatile(p.add(i * PAGE), 1u8) };
    }
    Ok(format!("touched={}", o.pages))
}

fn cmd_read_into(o: &Opts) -> Result<String, String> {
    let file = o.file.as_deref().ok_or("read-into needs a FILE")?;
    let p = map_at(o.addr, o.pages)?;
    let c = std::ffi::CString::new(file).map_err(|_| "bad file name")?;
    // SAFETY: a valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY) };
    if fd < 0 {
        return Err(format!("open {file}: {}", errno_name(errno())));
    }
    // SAFETY: reading into our own (not yet faulted-in) mapping of that size.
    let n = unsafe { libc::read(fd, p as *mut libc::c_void, o.pages * PAGE) };
    let e = errno();
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(fd) };
    Ok(if n < 0 { format!("read=-1 errno={}", errno_name(e)) } else { format!("read={n} errno=none") })
}

fn cmd_hog(o: &Opts) -> Result<String, String> {
    let start = Instant::now();
    let pages = o.mb * 256;
    let p = map_at(0, pages)?;
    // Base pages, as an ordinary allocation takes them: a transparent huge
    // page fault (defrag "madvise", the default) never wakes kswapd and may
    // take memory down to the min watermark, so a hog of THPs would not show
    // what kswapd does below the low one.
    // SAFETY: advice on the mapping just created, which holds nothing yet.
    unsafe { libc::madvise(p as *mut libc::c_void, pages * PAGE, libc::MADV_NOHUGEPAGE) };
    for i in 0..pages {
        // SAFETY: within the mapping just created.
        unsafe { std::ptr::write_volatile(p.add(i * PAGE), (i % 251) as u8 + 1) };
    }
    let ms = start.elapsed().as_millis();
    std::thread::sleep(std::time::Duration::from_millis(o.hold_ms));
    Ok(format!("hogged={} ms={ms}", o.mb))
}

fn cmd_dentries(o: &Opts) -> Result<String, String> {
    let start = Instant::now();
    let dir = o.file.as_deref().unwrap_or("/sys/kernel");
    let mut st: libc::stat = unsafe_zeroed_stat();
    for i in 0..o.rounds {
        let name = std::ffi::CString::new(format!("{dir}/kvmfi-neg-{i:09}")).map_err(|_| "bad dir")?;
        // SAFETY: a valid C string and a valid stat buffer.
        unsafe { libc::stat(name.as_ptr(), &mut st) };
    }
    Ok(format!("dentries={} ms={}", o.rounds, start.elapsed().as_millis()))
}

fn unsafe_zeroed_stat() -> libc::stat {
    // SAFETY: struct stat is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET writes inside it; the
    // affinity call affects only the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A page whose physical backing the writer replaces while a reader on the
/// other CPU keeps its translation hot. Seqlock protocol: SEQ is odd while
/// the writer replaces the page (MADV_DONTNEED, then a write of the round
/// number into a fresh page) and even (2 * round) once the page holds the
/// round number. A reader that sees the same even SEQ before and after its
/// read must read the round number, unless its CPU still translates the
/// address to the old physical page: a stale TLB entry. The old page is
/// handed to a "sink" mapping right away (its first write gets it back
/// from the allocator's per-CPU list), so a stale read shows the sink's
/// marker 0xdead0000+round or the allocator's zeroing, never the value.
fn cmd_tlb_stale(o: &Opts) -> Result<String, String> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    static STOP: AtomicBool = AtomicBool::new(false);
    static STALE_READS: AtomicU64 = AtomicU64::new(0);
    static STALE_ROUND: AtomicU64 = AtomicU64::new(0);
    static STALE_ROUNDS: AtomicU64 = AtomicU64::new(0);
    static FOREIGN: AtomicU64 = AtomicU64::new(0);
    let page = map_at(0, 1)? as usize;
    let sink = map_at(0, o.rounds as usize + 1)? as usize;
    // SAFETY: `page` is a live, writable mapping for the whole program.
    unsafe { std::ptr::write_volatile(page as *mut u64, 0) };
    let reader = std::thread::spawn(move || {
        pin(1);
        while !STOP.load(Ordering::SeqCst) {
            let s1 = SEQ.load(Ordering::SeqCst);
            if s1 & 1 == 1 {
                continue;
            }
            // SAFETY: reading the live mapping (never unmapped, only emptied).
            let v = unsafe { std::ptr::read_volatile(page as *const u64) };
            std::sync::atomic::fence(Ordering::SeqCst);
            if SEQ.load(Ordering::SeqCst) == s1 && v != s1 / 2 {
                STALE_READS.fetch_add(1, Ordering::Relaxed);
                if v >> 16 == 0xdead {
                    FOREIGN.fetch_add(1, Ordering::Relaxed);
                }
                if STALE_ROUND.swap(s1 / 2, Ordering::Relaxed) != s1 / 2 {
                    STALE_ROUNDS.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    pin(0);
    for r in 1..=o.rounds {
        SEQ.store(2 * r - 1, Ordering::SeqCst);
        // SAFETY: discarding our own anonymous page; it stays mapped.
        unsafe { libc::madvise(page as *mut libc::c_void, PAGE, libc::MADV_DONTNEED) };
        // SAFETY: the sink has rounds + 1 pages; each round takes the next.
        unsafe { std::ptr::write_volatile((sink + r as usize * PAGE) as *mut u64, 0xdead_0000 + r) };
        // SAFETY: writing the live mapping (faults in a new page).
        unsafe { std::ptr::write_volatile(page as *mut u64, r) };
        SEQ.store(2 * r, Ordering::SeqCst);
        // Let the reader look at the stable page for a while.
        let t = Instant::now();
        while t.elapsed().as_micros() < 2000 {
            std::hint::spin_loop();
        }
    }
    STOP.store(true, Ordering::SeqCst);
    let _ = reader.join();
    Ok(format!(
        "rounds={} stale_rounds={} stale_reads={} foreign_reads={}",
        o.rounds,
        STALE_ROUNDS.load(Ordering::Relaxed),
        STALE_READS.load(Ordering::Relaxed),
        FOREIGN.load(Ordering::Relaxed)
    ))
}

fn cmd_mprotect_loop(o: &Opts) -> Result<String, String> {
    let page = map_at(0, 1)? as usize;
    static STOP: AtomicBool = AtomicBool::new(false);
    let toucher = std::thread::spawn(move || {
        pin(1);
        while !STOP.load(Ordering::Relaxed) {
            // SAFETY: reading the mapping; it stays readable in every round.
            unsafe { std::ptr::read_volatile(page as *const u8) };
        }
    });
    pin(0);
    for r in 0..o.rounds {
        let prot = if r % 2 == 0 { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_WRITE };
        // SAFETY: changing the protection of our own page (always readable).
        unsafe { libc::mprotect(page as *mut libc::c_void, PAGE, prot) };
    }
    STOP.store(true, Ordering::Relaxed);
    let _ = toucher.join();
    Ok(format!("rounds={}", o.rounds))
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: mm-test thread [--value V] | fork | touch --addr A --pages N | \
         read-into --addr A --pages N FILE | hog --mb N | dentries [--count N] [DIR] | tlb-stale [--rounds N] | \
         mprotect-loop [--rounds N]   (all: --alarm SECS, default 20)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(sub) = args.get(1) else { return usage() };
    let o = match parse(&args[2..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mm-test: {e}");
            return usage();
        }
    };
    if o.alarm > 0 {
        // SAFETY: alarm(2) has no memory-safety preconditions.
        unsafe { libc::alarm(o.alarm) };
    }
    let res = match sub.as_str() {
        "thread" => cmd_thread(&o),
        "fork" => cmd_fork(),
        "touch" => cmd_touch(&o),
        "read-into" => cmd_read_into(&o),
        "hog" => cmd_hog(&o),
        "dentries" => cmd_dentries(&o),
        "tlb-stale" => cmd_tlb_stale(&o),
        "mprotect-loop" => cmd_mprotect_loop(&o),
        _ => return usage(),
    };
    match res {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mm-test: {e}");
            ExitCode::FAILURE
        }
    }
}
