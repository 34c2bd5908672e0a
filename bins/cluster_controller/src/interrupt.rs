//! Ctrl-C and SIGTERM as a flag: a running action finishes (every remote
//! command is bounded by its timeout), a waiting scenario heals at once,
//! and the menu returns to its prompt instead of dying with faults in force.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static FLAG: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    FLAG.store(true, Ordering::SeqCst);
}

/// Catches SIGINT and SIGTERM from now on. Without SA_RESTART, so a
/// blocking read of the terminal returns EINTR and the menu sees it.
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an
        // atomic (async-signal-safe); sa_mask is initialised by sigemptyset.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = 0;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// True (once) when a signal came since the last call.
pub fn take() -> bool {
    FLAG.swap(false, Ordering::SeqCst)
}

/// True when a signal came and was not taken yet.
pub fn pending() -> bool {
    FLAG.load(Ordering::SeqCst)
}

/// Sleeps `d`, calling `tick` with the time left about once a second;
/// returns false at once when interrupted.
pub fn sleep(d: Duration, mut tick: impl FnMut(Duration)) -> bool {
    let end = Instant::now() + d;
    let mut last_tick = Instant::now();
    loop {
        if pending() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        if now.duration_since(last_tick) >= Duration::from_secs(1) {
            last_tick = now;
            tick(end - now);
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}
