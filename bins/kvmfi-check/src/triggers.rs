//! Harmless actions that make a hooked function run, so that kvmfi-check
//! can tell whether a probe really fires, not only whether it registers.

use std::io::{Read, Write};

/// What makes the hook of a tool run, if anything harmless does.
pub fn for_symbol(symbol: &str) -> Option<(&'static str, fn() -> Result<(), String>)> {
    match symbol {
        "vfs_read" => Some(("read of a temporary file", read_tmp)),
        "vfs_write" => Some(("write of a temporary file", write_tmp)),
        "wake_up_new_task" | "kernel_clone" | "_do_fork" => Some(("a new thread", new_thread)),
        "handle_mm_fault" => Some(("touching a fresh page", touch_page)),
        "flush_tlb_mm_range" | "tlb_finish_mmu" => Some(("unmapping a touched page", unmap_page)),
        "native_flush_tlb_multi" | "flush_tlb_multi" | "native_flush_tlb_others" | "flush_tlb_others" => {
            Some(("unmapping a page while a thread runs on another CPU", cross_cpu_unmap))
        }
        // memslot-fi's guest-frame hooks: the throw-away VM's vCPU faults in its first page.
        "__gfn_to_pfn_memslot" | "gfn_to_hva_memslot_prot" | "__gfn_to_hva_many" | "gfn_to_hva_memslot" => {
            Some(("a throw-away KVM VM", kvm::throwaway_vm))
        }
        // KVM's remote TLB flushes come from a guest's mappings changing under
        // it (dirty logging, a migration); a VM that only starts does not flush.
        "kvm_flush_remote_tlbs" | "kvm_flush_remote_tlbs_range" | "kvm_arch_flush_remote_tlbs_range" => None,
        s if s.starts_with("kvm_") || s.starts_with("__kvm_") => Some(("a throw-away KVM VM", kvm::throwaway_vm)),
        _ => None,
    }
}

fn tmp_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("kvmfi-check.{}", std::process::id()))
}

fn read_tmp() -> Result<(), String> {
    let p = tmp_path();
    std::fs::write(&p, b"kvmfi-check").map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let r = std::fs::File::open(&p).and_then(|mut f| f.read_to_end(&mut buf));
    std::fs::remove_file(&p).ok();
    r.map(|_| ()).map_err(|e| e.to_string())
}

fn write_tmp() -> Result<(), String> {
    let p = tmp_path();
    let r = std::fs::File::create(&p).and_then(|mut f| f.write_all(b"kvmfi-check"));
    std::fs::remove_file(&p).ok();
    r.map_err(|e| e.to_string())
}

fn new_thread() -> Result<(), String> {
    std::thread::spawn(|| ()).join().map_err(|_| "thread panicked".to_string())
}

fn map_page() -> Result<*mut u8, String> {
    // SAFETY: an anonymous private mapping with no address hint; the result
    // is checked before use.
    let p = unsafe {
        libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let p = p.cast::<u8>();
    // SAFETY: p points at a fresh, writable 4096-byte mapping.
    unsafe { std::ptr::write_volatile(p, 1) };
    Ok(p)
}

fn touch_page() -> Result<(), String> {
    let p = map_page()?;
    // SAFETY: unmapping the page mapped above, not used afterwards.
    unsafe { libc::munmap(p.cast(), 4096) };
    Ok(())
}

fn unmap_page() -> Result<(), String> {
    touch_page()
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Result<Vec<usize>, String> {
    // SAFETY: cpu_set_t is plain old data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the size passed is the size of the set passed.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: CPU_ISSET only reads the set, within CPU_SETSIZE.
    Ok((0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect())
}

/// Pins the calling thread to `cpus` (a restore of the old mask, or one CPU).
fn pin_thread(cpus: &[usize]) -> Result<(), String> {
    // SAFETY: as in allowed_cpus.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: c comes from allowed_cpus, below CPU_SETSIZE.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: the size passed is the size of the set passed.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    Ok(())
}

/// A TLB shootdown: the kernel flushes another CPU's TLB with an IPI only
/// when the address space is live there, so a second thread spins on
/// another CPU while this one unmaps touched pages.
fn cross_cpu_unmap() -> Result<(), String> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let cpus = allowed_cpus()?;
    if cpus.len() < 2 {
        return Err("a shootdown needs two CPUs; this process may use one".into());
    }
    let (here, there) = (cpus[0], cpus[1]);
    let stop = Arc::new(AtomicBool::new(false));
    let spinning = Arc::new(AtomicBool::new(false));
    let (stop2, spinning2) = (stop.clone(), spinning.clone());
    let spinner = std::thread::spawn(move || {
        let pinned = pin_thread(&[there]);
        spinning2.store(true, Ordering::SeqCst);
        while !stop2.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
        pinned
    });
    let result = (|| {
        pin_thread(&[here])?;
        while !spinning.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        for _ in 0..20 {
            touch_page()?;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let spun = spinner.join().map_err(|_| "spinning thread panicked".to_string())?;
    pin_thread(&cpus)?;
    result.and(spun)
}

/// A VM that is created, given one memory slot with dirty logging and one
/// vCPU, asked for its registers and dirty log, run for two instructions
/// (the fetch faults the slot's page in, as a guest's first access does,
/// then an I/O or MMIO write exits), and closed: every KVM hook of the
/// toolbox runs, and nothing is left behind.
mod kvm {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const KVMIO: u64 = 0xAE;
    const fn io(nr: u64) -> u64 {
        (KVMIO << 8) | nr
    }
    const fn iow(nr: u64, size: u64) -> u64 {
        (1 << 30) | (size << 16) | (KVMIO << 8) | nr
    }
    const fn ior(nr: u64, size: u64) -> u64 {
        (2 << 30) | (size << 16) | (KVMIO << 8) | nr
    }
    const KVM_GET_API_VERSION: u64 = io(0x00);
    const KVM_CREATE_VM: u64 = io(0x01);
    const KVM_CHECK_EXTENSION: u64 = io(0x03);
    #[cfg(target_arch = "x86_64")]
    const KVM_CREATE_IRQCHIP: u64 = io(0x60);
    const KVM_CREATE_VCPU: u64 = io(0x41);
    const KVM_GET_DIRTY_LOG: u64 = iow(0x42, 16);
    const KVM_SET_USER_MEMORY_REGION: u64 = iow(0x46, 32);
    #[cfg(target_arch = "x86_64")]
    const KVM_GET_REGS: u64 = ior(0x81, 144);
    #[cfg(target_arch = "aarch64")]
    const KVM_ARM_PREFERRED_TARGET: u64 = ior(0xaf, 32);
    #[cfg(target_arch = "aarch64")]
    const KVM_ARM_VCPU_INIT: u64 = iow(0xae, 32);
    #[cfg(target_arch = "aarch64")]
    const KVM_GET_ONE_REG: u64 = iow(0xab, 16);
    const KVM_RUN: u64 = io(0x80);
    const KVM_GET_VCPU_MMAP_SIZE: u64 = io(0x04);
    /// The exit the guest's code ends in.
    #[cfg(all(test, target_arch = "x86_64"))]
    pub(super) const EXPECTED_EXIT: u32 = 2; // KVM_EXIT_IO
    #[cfg(all(test, target_arch = "aarch64"))]
    pub(super) const EXPECTED_EXIT: u32 = 6; // KVM_EXIT_MMIO
    #[cfg(target_arch = "aarch64")]
    const KVM_SET_ONE_REG: u64 = iow(0xac, 16);
    const KVM_MEM_LOG_DIRTY_PAGES: u32 = 1;
    /// The slot: 16 pages ending at 4 GiB, so x86_64's reset vector
    /// (0xfffffff0, real mode) is in its last page.
    const SLOT_GPA: u64 = 0xffff_0000;
    /// Where the guest's code is, in the slot (x86_64: the reset vector).
    const CODE_OFFSET: usize = 0xfff0;
    /// x86_64: `out 0x10, al` (no in-kernel device at port 0x10: KVM_EXIT_IO).
    #[cfg(target_arch = "x86_64")]
    const CODE: &[u8] = &[0xe6, 0x10];
    /// arm64: `str x0, [x1]` with x1 = 0, outside every slot: KVM_EXIT_MMIO.
    #[cfg(target_arch = "aarch64")]
    const CODE: &[u8] = &0xf900_0020u32.to_le_bytes();
    /// KVM_RUN gives up after this long (a guest that never exits).
    const RUN_TIMEOUT_S: u32 = 5;

    fn ioctl(fd: i32, req: u64, arg: u64) -> Result<i32, String> {
        // SAFETY: every request used here takes either no argument or a
        // pointer to a live, correctly sized buffer owned by the caller.
        let r = unsafe { libc::ioctl(fd, req as _, arg) };
        if r < 0 {
            Err(std::io::Error::last_os_error().to_string())
        } else {
            Ok(r)
        }
    }

    fn own(fd: i32) -> OwnedFd {
        // SAFETY: fd was just returned by the kernel and is owned by nobody else.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    pub fn throwaway_vm() -> Result<(), String> {
        run_throwaway_vm().map(|_| ())
    }

    /// The throw-away VM; its vCPU's exit reason (None: the alarm ended KVM_RUN).
    pub(super) fn run_throwaway_vm() -> Result<Option<u32>, String> {
        let dev = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").map_err(|e| format!("/dev/kvm: {e}"))?;
        ioctl(dev.as_raw_fd(), KVM_GET_API_VERSION, 0)?;
        ioctl(dev.as_raw_fd(), KVM_CHECK_EXTENSION, 0)?;
        let vm = own(ioctl(dev.as_raw_fd(), KVM_CREATE_VM, 0)?);
        ioctl(vm.as_raw_fd(), KVM_CHECK_EXTENSION, 0)?;
        // An in-kernel irqchip, as real VMMs have: without one, each vCPU
        // create/destroy on x86_64 makes KVM patch kernel text, which once
        // oopsed a 6.12 guest under QEMU's multi-threaded TCG (int3 in
        // __schedule); the bench's test VMM avoids it the same way.
        #[cfg(target_arch = "x86_64")]
        ioctl(vm.as_raw_fd(), KVM_CREATE_IRQCHIP, 0)?;
        let size = 16 * 4096usize;
        // SAFETY: anonymous mapping for guest memory, checked before use.
        let mem = unsafe {
            libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if mem == libc::MAP_FAILED {
            return Err("mmap failed".into());
        }
        // struct kvm_userspace_memory_region { u32 slot, flags; u64 gpa, size, uaddr }
        // SAFETY: CODE_OFFSET + CODE.len() is within the fresh mapping of `size` bytes.
        unsafe { std::ptr::copy_nonoverlapping(CODE.as_ptr(), mem.cast::<u8>().add(CODE_OFFSET), CODE.len()) };
        let region: [u64; 4] = [(KVM_MEM_LOG_DIRTY_PAGES as u64) << 32, SLOT_GPA, size as u64, mem as u64];
        let r = ioctl(vm.as_raw_fd(), KVM_SET_USER_MEMORY_REGION, region.as_ptr() as u64);
        let mut bitmap = [0u64; 1];
        // struct kvm_dirty_log { u32 slot, pad; u64 bitmap }
        let log: [u64; 2] = [0, bitmap.as_mut_ptr() as u64];
        let _ = ioctl(vm.as_raw_fd(), KVM_GET_DIRTY_LOG, log.as_ptr() as u64);
        let vcpu = own(ioctl(vm.as_raw_fd(), KVM_CREATE_VCPU, 0)?);
        read_regs(&vm, &vcpu)?;
        let ran = if r.is_ok() { run_once(&dev, &vcpu) } else { Ok(None) };
        drop(vcpu);
        drop(vm);
        // SAFETY: unmapping the guest memory mapped above; the VM is closed.
        unsafe { libc::munmap(mem, size) };
        r.and(ran)
    }

    extern "C" fn on_alarm(_: libc::c_int) {}

    /// One KVM_RUN, bounded by an alarm (its signal makes KVM_RUN return
    /// EINTR, which counts as run: the vCPU has entered the guest); the
    /// exit reason from the vCPU's kvm_run page.
    fn run_once(dev: &std::fs::File, vcpu: &OwnedFd) -> Result<Option<u32>, String> {
        let map_size = ioctl(dev.as_raw_fd(), KVM_GET_VCPU_MMAP_SIZE, 0)? as usize;
        // SAFETY: a shared read-only mapping of the vCPU's kvm_run page, checked below.
        let run = unsafe { libc::mmap(std::ptr::null_mut(), map_size, libc::PROT_READ, libc::MAP_SHARED, vcpu.as_raw_fd(), 0) };
        if run == libc::MAP_FAILED {
            return Err(format!("mmap of the vCPU: {}", std::io::Error::last_os_error()));
        }
        let r = run_bounded(vcpu);
        // SAFETY: struct kvm_run has its u32 exit_reason at offset 8, within the mapping.
        let exit = unsafe { std::ptr::read_volatile(run.cast::<u8>().add(8).cast::<u32>()) };
        // SAFETY: unmapping the mapping made above.
        unsafe { libc::munmap(run, map_size) };
        r.map(|entered| entered.then_some(exit))
    }

    /// KVM_RUN once; false when the alarm interrupted it.
    fn run_bounded(vcpu: &OwnedFd) -> Result<bool, String> {
        #[cfg(target_arch = "aarch64")]
        {
            // PC (KVM_REG_ARM_CORE offset of regs.pc / 4) to the code.
            let pc_id: u64 = 0x6000_0000_0000_0000 | 0x0030_0000_0000_0000 | 0x0010_0000 | (32 * 8 / 4);
            let pc = SLOT_GPA + CODE_OFFSET as u64;
            let one: [u64; 2] = [pc_id, &pc as *const u64 as u64];
            ioctl(vcpu.as_raw_fd(), KVM_SET_ONE_REG, one.as_ptr() as u64)?;
        }
        // SAFETY: sigaction is plain old data; all-zero is a valid start.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as usize;
        // SAFETY: sa is a valid sigaction (an empty handler, no SA_RESTART), old one saved.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live sigaction structs.
        if unsafe { libc::sigaction(libc::SIGALRM, &sa, &mut old) } != 0 {
            return Err(format!("sigaction: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: alarm has no memory effects.
        unsafe { libc::alarm(RUN_TIMEOUT_S) };
        let r = ioctl(vcpu.as_raw_fd(), KVM_RUN, 0);
        // SAFETY: as above; the old handler is restored.
        unsafe {
            libc::alarm(0);
            libc::sigaction(libc::SIGALRM, &old, std::ptr::null_mut());
        }
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.contains("Interrupted") => Ok(false),
            Err(e) => Err(format!("KVM_RUN: {e}")),
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn read_regs(_vm: &OwnedFd, vcpu: &OwnedFd) -> Result<(), String> {
        let mut regs = [0u64; 18];
        ioctl(vcpu.as_raw_fd(), KVM_GET_REGS, regs.as_mut_ptr() as u64).map(|_| ())
    }

    #[cfg(target_arch = "aarch64")]
    fn read_regs(vm: &OwnedFd, vcpu: &OwnedFd) -> Result<(), String> {
        let mut init = [0u32; 8];
        ioctl(vm.as_raw_fd(), KVM_ARM_PREFERRED_TARGET, init.as_mut_ptr() as u64)?;
        ioctl(vcpu.as_raw_fd(), KVM_ARM_VCPU_INIT, init.as_ptr() as u64)?;
        // KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | offset of pc / 4
        let pc_id: u64 = 0x6000_0000_0000_0000 | 0x0030_0000_0000_0000 | 0x0010_0000 | (32 * 8 / 4);
        let mut value = 0u64;
        let one: [u64; 2] = [pc_id, &mut value as *mut u64 as u64];
        ioctl(vcpu.as_raw_fd(), KVM_GET_ONE_REG, one.as_ptr() as u64).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    /// The throw-away VM runs its two instructions and exits (where this
    /// host lets us open /dev/kvm; elsewhere there is nothing to run).
    #[test]
    fn throwaway_vm_runs_to_its_exit() {
        if std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_err() {
            eprintln!("no usable /dev/kvm here: nothing to run");
            return;
        }
        // the guest's code ran to its I/O (MMIO) write, not into the alarm
        assert_eq!(super::kvm::run_throwaway_vm().unwrap(), Some(super::kvm::EXPECTED_EXIT));
    }
}
