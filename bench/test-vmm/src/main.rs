//! `test-vmm`: a tiny KVM virtual machine monitor for the kvmfi bench guests.
//!
//! It shows, with real KVM ioctls, what the KVM-layer fault tools do to a VMM
//! (it never depends on them: the tools work on any VMM; this one only prints
//! what it saw). Every subcommand prints one machine-readable line of
//! `key=value` words and exits 0 when the workload ran, whatever KVM
//! answered; 1 on an unexpected failure, 2 on a usage error.
//!
//! * `test-vmm version [--cap N]...`: `KVM_GET_API_VERSION`, one
//!   `KVM_CHECK_EXTENSION` per `--cap`, `KVM_CREATE_VM`. Prints
//!   `api=12 create_vm=ok cap<N>=V...` (errno names instead of values on failure).
//! * `test-vmm vcpu [--count N]`: creates a VM, its in-kernel irqchip
//!   (x86_64; `none` on arm64) and N vCPUs. Prints
//!   `create_vm=ok irqchip=ok|ERRNO|none vcpus_ok=N vcpus_err=N errno=NAME`.
//! * `test-vmm memslot [--count N]`: creates a VM and N 1 MiB memory regions.
//!   Prints `create_vm=ok regions_ok=N regions_err=N errno=NAME`.
//! * `test-vmm run [--pages N] [--regs]`: runs the guest program, which asks
//!   the VMM for a page to write (an I/O port read on x86_64, an MMIO read on
//!   arm64), increments one byte of it, and asks again; N pages, then it
//!   stops (hlt / an MMIO write). With `--regs`, the VMM reads the program
//!   counter and flags (KVM_GET_REGS on x86_64, KVM_GET_ONE_REG on arm64) at
//!   every exit, as a debugger or a migration would, and never writes them
//!   back. Prints `run pages=N exits=N unexpected=N first_unexpected=GPA
//!   reads=N pc_first=X pc_last=X pc_values=N flags_first=X guest=ok|bad`.
//!   `guest=ok` means the guest wrote exactly the pages it was asked to,
//!   each once, and stopped where it should: its real state was intact.
//!   `unexpected` counts MMIO exits at guest RAM addresses (a failed
//!   guest-frame translation makes KVM treat RAM as MMIO).
//! * `test-vmm migrate [--pages N] [--rounds R]`: a simulated pre-copy live
//!   migration. The memory slot has dirty logging on; the VMM copies all of
//!   guest memory to a destination buffer, then runs the guest, which writes
//!   N distinct pages in R rounds; after each round the VMM fetches the dirty
//!   log (KVM_GET_DIRTY_LOG) and copies the dirty pages; a final pass follows
//!   the guest's stop. Prints `migrate pages=N rounds=R syncs=S
//!   dirty_reported=D dirty_other=PAGES mismatched=M guest=ok|bad`
//!   (D counts data pages; PAGES lists other pages reported, or `none`): each page the dirty log
//!   failed to report is a page that differs between source and destination.
//!
//! Every subcommand takes `--alarm SECS` (default 60): SIGALRM ends a hung run.
//! The whole guest lives in one memory slot (slot 0, 1 MiB, at guest
//! physical 0 on x86_64 and 0x40000000 on arm64); the program is at +0x1000;
//! data pages start at page 16.

use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use std::process::ExitCode;

/// Guest memory: one slot of 1 MiB.
const MEM_SIZE: usize = 1 << 20;
const PAGE: usize = 4096;
/// First page the guest may be asked to write.
const FIRST_DATA_PAGE: usize = 16;
/// Offset of the guest program in the slot.
const CODE_OFFSET: usize = 0x1000;

#[cfg(target_arch = "x86_64")]
mod arch {
    //! Real-mode guest (assembled with GNU as, `.code16`):
    //! ```text
    //! 0:  mov  $0x10, %dx
    //! 3:  in   %dx, %ax          ; ask the VMM: segment of the next page, 0 = stop
    //! 4:  test %ax, %ax
    //! 6:  jz   11
    //! 8:  mov  %ax, %es
    //! a:  incb %es:0             ; write the page
    //! f:  jmp  3
    //! 11: out  %ax, %dx          ; stop (the in-kernel LAPIC would keep a hlt inside KVM)
    //! 12: jmp  11
    //! ```
    pub const CODE: &[u8] = &[
        0xba, 0x10, 0x00, 0xed, 0x85, 0xc0, 0x74, 0x09, 0x8e, 0xc0, 0x26, 0xfe, 0x06, 0x00, 0x00, 0xeb,
        0xf2, 0xef, 0xeb, 0xfd,
    ];
    /// Guest physical address of the slot.
    pub const MEM_BASE: u64 = 0;
    /// I/O port of the command channel.
    pub const CMD_PORT: u16 = 0x10;
}

#[cfg(target_arch = "aarch64")]
mod arch {
    //! AArch64 guest, MMU off (assembled with GNU as):
    //! ```text
    //! 0:  mov  x10, #0x10000000  ; command channel (MMIO, outside every slot)
    //! 4:  ldr  x1, [x10]         ; ask the VMM: address of the next page, 0 = stop
    //! 8:  cbz  x1, 1c
    //! c:  ldr  w2, [x1]          ; write the page (increment its first word)
    //! 10: add  w2, w2, #1
    //! 14: str  w2, [x1]
    //! 18: b    4
    //! 1c: str  xzr, [x10, #8]    ; stop: an MMIO write the VMM recognises
    //! 20: b    1c
    //! ```
    pub const CODE: &[u8] = &[
        0x0a, 0x00, 0xa2, 0xd2, 0x41, 0x01, 0x40, 0xf9, 0xa1, 0x00, 0x00, 0xb4, 0x22, 0x00, 0x40, 0xb9,
        0x42, 0x04, 0x00, 0x11, 0x22, 0x00, 0x00, 0xb9, 0xfb, 0xff, 0xff, 0x17, 0x5f, 0x05, 0x00, 0xf9,
        0xff, 0xff, 0xff, 0x17,
    ];
    pub const MEM_BASE: u64 = 0x4000_0000;
    pub const CMD_ADDR: u64 = 0x1000_0000;
    /// KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset in struct kvm_regs / 4).
    pub const fn core_reg(index_u64: u64) -> u64 {
        0x6000_0000_0000_0000 | 0x0030_0000_0000_0000 | 0x0010_0000 | (index_u64 * 2)
    }
    /// regs.pc is the 33rd u64 of struct kvm_regs (x0..x30, sp, pc, pstate).
    pub const REG_PC: u64 = core_reg(32);
    pub const REG_PSTATE: u64 = core_reg(33);
}

/// errno names the scenarios compare against.
fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => return format!("E{e}"),
    };
    name.to_string()
}

fn err_name(e: &kvm_ioctls::Error) -> String {
    errno_name(e.errno())
}

/// Anonymous memory for the guest, unmapped on drop.
struct GuestMem {
    ptr: *mut u8,
    len: usize,
}

impl GuestMem {
    fn new(len: usize) -> Result<Self, String> {
        // SAFETY: a fresh private anonymous mapping; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        Ok(GuestMem { ptr: ptr.cast(), len })
    }

    fn slice(&self) -> &[u8] {
        // SAFETY: the mapping is valid for `len` bytes while self lives; the
        // guest may write it concurrently only while a vCPU runs, and this
        // program only reads it between KVM_RUN calls of its single vCPU.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn slice_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above; &mut self makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for GuestMem {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in new().
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// A VM with one memory slot holding the guest program, and one vCPU.
struct Machine {
    vm: VmFd,
    mem: GuestMem,
    vcpu: VcpuFd,
}

const KVM_MEM_LOG_DIRTY_PAGES: u32 = 1;

/// x86_64: an in-kernel irqchip, as real VMMs have. Without one, every vCPU
/// created and destroyed flips a kernel static key (kvm_has_noapic_vcpu),
/// i.e. live code patching, which multi-threaded TCG emulates unreliably.
#[cfg(target_arch = "x86_64")]
fn irqchip(vm: &VmFd) -> Result<(), String> {
    vm.create_irq_chip().map_err(|e| format!("create_irqchip={}", err_name(&e)))
}

#[cfg(not(target_arch = "x86_64"))]
fn irqchip(_vm: &VmFd) -> Result<(), String> {
    Err("irqchip=none".into())
}

fn add_slot(vm: &VmFd, slot: u32, gpa: u64, mem: &GuestMem, flags: u32) -> Result<(), kvm_ioctls::Error> {
    let region = kvm_bindings::kvm_userspace_memory_region {
        slot,
        flags,
        guest_phys_addr: gpa,
        memory_size: mem.len as u64,
        userspace_addr: mem.ptr as u64,
    };
    // SAFETY: the region describes `mem`, which outlives the VM in every caller
    // (the VM fd is dropped first: fields drop in declaration order).
    unsafe { vm.set_user_memory_region(region) }
}

impl Machine {
    fn new(kvm: &Kvm, dirty_log: bool) -> Result<Self, String> {
        let vm = kvm.create_vm().map_err(|e| format!("create_vm={}", err_name(&e)))?;
        let mut mem = GuestMem::new(MEM_SIZE)?;
        mem.slice_mut()[CODE_OFFSET..CODE_OFFSET + arch::CODE.len()].copy_from_slice(arch::CODE);
        let flags = if dirty_log { KVM_MEM_LOG_DIRTY_PAGES } else { 0 };
        add_slot(&vm, 0, arch::MEM_BASE, &mem, flags).map_err(|e| format!("set_memory_region={}", err_name(&e)))?;
        #[cfg(target_arch = "x86_64")]
        irqchip(&vm)?;
        let vcpu = vm.create_vcpu(0).map_err(|e| format!("create_vcpu={}", err_name(&e)))?;
        let m = Machine { vm, mem, vcpu };
        m.setup_vcpu()?;
        Ok(m)
    }

    #[cfg(target_arch = "x86_64")]
    fn setup_vcpu(&self) -> Result<(), String> {
        let mut sregs = self.vcpu.get_sregs().map_err(|e| format!("get_sregs={}", err_name(&e)))?;
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        self.vcpu.set_sregs(&sregs).map_err(|e| format!("set_sregs={}", err_name(&e)))?;
        let regs = kvm_bindings::kvm_regs { rip: CODE_OFFSET as u64, rflags: 2, ..Default::default() };
        self.vcpu.set_regs(&regs).map_err(|e| format!("set_regs={}", err_name(&e)))
    }

    #[cfg(target_arch = "aarch64")]
    fn setup_vcpu(&self) -> Result<(), String> {
        let mut kvi = kvm_bindings::kvm_vcpu_init::default();
        self.vm.get_preferred_target(&mut kvi).map_err(|e| format!("preferred_target={}", err_name(&e)))?;
        self.vcpu.vcpu_init(&kvi).map_err(|e| format!("vcpu_init={}", err_name(&e)))?;
        let pc = arch::MEM_BASE + CODE_OFFSET as u64;
        self.vcpu.set_one_reg(arch::REG_PC, &pc.to_le_bytes()).map_err(|e| format!("set_pc={}", err_name(&e)))?;
        Ok(())
    }

    /// Program counter and flags as user space reads them.
    #[cfg(target_arch = "x86_64")]
    fn read_pc_flags(&self) -> Result<(u64, u64), String> {
        let r = self.vcpu.get_regs().map_err(|e| format!("get_regs={}", err_name(&e)))?;
        Ok((r.rip, r.rflags))
    }

    #[cfg(target_arch = "aarch64")]
    fn read_pc_flags(&self) -> Result<(u64, u64), String> {
        let mut b = [0u8; 8];
        self.vcpu.get_one_reg(arch::REG_PC, &mut b).map_err(|e| format!("get_one_reg_pc={}", err_name(&e)))?;
        let pc = u64::from_le_bytes(b);
        self.vcpu
            .get_one_reg(arch::REG_PSTATE, &mut b)
            .map_err(|e| format!("get_one_reg_pstate={}", err_name(&e)))?;
        Ok((pc, u64::from_le_bytes(b)))
    }

    /// Runs until the guest asks for a command (Some) or stops (None).
    /// `answer` is given to the previous command request on re-entry.
    fn step(&mut self, answer: &mut Option<u64>, unexpected: &mut Vec<u64>) -> Result<Option<()>, String> {
        loop {
            let exit = self.vcpu.run().map_err(|e| format!("run={}", err_name(&e)))?;
            match exit {
                #[cfg(target_arch = "x86_64")]
                VcpuExit::IoIn(port, data) if port == arch::CMD_PORT => {
                    let seg = answer.take().map(|gpa| (gpa >> 4) as u16).unwrap_or(0);
                    let bytes = seg.to_le_bytes();
                    let n = data.len().min(2);
                    data[..n].copy_from_slice(&bytes[..n]);
                    return Ok(Some(()));
                }
                #[cfg(target_arch = "x86_64")]
                VcpuExit::IoOut(port, _) if port == arch::CMD_PORT => return Ok(None),
                #[cfg(target_arch = "aarch64")]
                VcpuExit::MmioRead(addr, data) if addr == arch::CMD_ADDR => {
                    let v = answer.take().unwrap_or(0).to_le_bytes();
                    let n = data.len().min(8);
                    data[..n].copy_from_slice(&v[..n]);
                    return Ok(Some(()));
                }
                #[cfg(target_arch = "aarch64")]
                VcpuExit::MmioWrite(addr, _) if addr == arch::CMD_ADDR + 8 => return Ok(None),
                VcpuExit::MmioRead(addr, data) => {
                    data.fill(0);
                    unexpected.push(addr);
                }
                VcpuExit::MmioWrite(addr, _) => unexpected.push(addr),
                other => return Err(format!("unexpected_exit={other:?}")),
            }
        }
    }
}

/// Parsed `--key value` options with defaults.
struct Opts {
    args: Vec<String>,
}

impl Opts {
    fn num(&self, key: &str, default: u64) -> Result<u64, String> {
        match self.args.iter().position(|a| a == key) {
            Some(i) => {
                let v = self.args.get(i + 1).ok_or(format!("{key} needs a value"))?;
                parse_num(v).ok_or(format!("{key}: '{v}' is not a number"))
            }
            None => Ok(default),
        }
    }
    fn all(&self, key: &str) -> Result<Vec<u64>, String> {
        let mut out = Vec::new();
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if a == key {
                let v = it.next().ok_or(format!("{key} needs a value"))?;
                out.push(parse_num(v).ok_or(format!("{key}: '{v}' is not a number"))?);
            }
        }
        Ok(out)
    }
    fn flag(&self, key: &str) -> bool {
        self.args.iter().any(|a| a == key)
    }
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn open_kvm() -> Result<Kvm, String> {
    Kvm::new().map_err(|e| format!("open={}", err_name(&e)))
}

fn cmd_version(o: &Opts) -> Result<String, String> {
    let kvm = open_kvm()?;
    let mut out = Vec::new();
    let api = kvm.get_api_version();
    if api < 0 {
        out.push(format!("api={}", errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))));
    } else {
        out.push(format!("api={api}"));
    }
    for cap in o.all("--cap")? {
        let r = kvm.check_extension_raw(cap as libc::c_ulong);
        if r < 0 {
            out.push(format!("cap{cap}={}", errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))));
        } else {
            out.push(format!("cap{cap}={r}"));
        }
    }
    out.push(match kvm.create_vm() {
        Ok(_) => "create_vm=ok".to_string(),
        Err(e) => format!("create_vm={}", err_name(&e)),
    });
    Ok(out.join(" "))
}

fn cmd_vcpu(o: &Opts) -> Result<String, String> {
    let count = o.num("--count", 1)?;
    let kvm = open_kvm()?;
    let vm = kvm.create_vm().map_err(|e| format!("create_vm={}", err_name(&e)))?;
    // Reported, not fatal: a fault may hit this first VM ioctl instead.
    let chip = match irqchip(&vm) {
        Ok(()) => "ok".to_string(),
        Err(e) => e.rsplit('=').next().unwrap_or("error").to_string(),
    };
    let (mut ok, mut err, mut errno) = (0, 0, "none".to_string());
    let mut keep = Vec::new();
    for id in 0..count {
        match vm.create_vcpu(id) {
            Ok(v) => {
                ok += 1;
                keep.push(v);
            }
            Err(e) => {
                if err == 0 {
                    errno = err_name(&e);
                }
                err += 1;
            }
        }
    }
    Ok(format!("create_vm=ok irqchip={chip} vcpus_ok={ok} vcpus_err={err} errno={errno}"))
}

fn cmd_memslot(o: &Opts) -> Result<String, String> {
    let count = o.num("--count", 1)?;
    let kvm = open_kvm()?;
    let vm = kvm.create_vm().map_err(|e| format!("create_vm={}", err_name(&e)))?;
    let (mut ok, mut err, mut errno) = (0, 0, "none".to_string());
    let mut keep = Vec::new();
    for slot in 0..count as u32 {
        let mem = GuestMem::new(MEM_SIZE)?;
        match add_slot(&vm, slot, arch::MEM_BASE + slot as u64 * MEM_SIZE as u64, &mem, 0) {
            Ok(()) => ok += 1,
            Err(e) => {
                if err == 0 {
                    errno = err_name(&e);
                }
                err += 1;
            }
        }
        keep.push(mem);
    }
    drop(vm);
    Ok(format!("create_vm=ok regions_ok={ok} regions_err={err} errno={errno}"))
}

/// Guest physical address of data page `i` (0-based).
fn data_gpa(i: usize) -> u64 {
    arch::MEM_BASE + ((FIRST_DATA_PAGE + i) * PAGE) as u64
}

fn check_pages(mem: &[u8], pages: usize) -> bool {
    (0..MEM_SIZE / PAGE).all(|p| {
        let want = if (FIRST_DATA_PAGE..FIRST_DATA_PAGE + pages).contains(&p) { 1 } else { 0 };
        p * PAGE == CODE_OFFSET || mem[p * PAGE] == want
    })
}

fn max_pages() -> u64 {
    (MEM_SIZE / PAGE - FIRST_DATA_PAGE) as u64
}

fn cmd_run(o: &Opts) -> Result<String, String> {
    let pages = o.num("--pages", 16)?.min(max_pages()) as usize;
    let regs = o.flag("--regs");
    let kvm = open_kvm()?;
    let mut m = Machine::new(&kvm, false)?;
    let mut unexpected = Vec::new();
    let (mut exits, mut next) = (0usize, 0usize);
    let mut pcs: Vec<u64> = Vec::new();
    let mut flags_first = None;
    loop {
        let mut answer = (next < pages).then(|| data_gpa(next));
        let asked = m.step(&mut answer, &mut unexpected)?;
        exits += 1;
        if regs {
            let (pc, fl) = m.read_pc_flags()?;
            pcs.push(pc);
            flags_first.get_or_insert(fl);
        }
        if asked.is_none() {
            break;
        }
        next += 1;
        if next > pages + 1 {
            return Err("guest_loops=1".into());
        }
    }
    // The first exit is the first request: `next` counts answers given.
    let guest_ok = next == pages + 1 && check_pages(m.mem.slice(), pages) && unexpected.is_empty();
    let mut distinct = pcs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    Ok(format!(
        "run pages={pages} exits={exits} unexpected={} first_unexpected={} reads={} pc_first={} pc_last={} pc_values={} flags_first={} guest={}",
        unexpected.len(),
        unexpected.first().map_or("none".into(), |a| format!("{a:#x}")),
        pcs.len(),
        pcs.first().map_or("none".into(), |v| format!("{v:#x}")),
        pcs.last().map_or("none".into(), |v| format!("{v:#x}")),
        distinct.len(),
        flags_first.map_or("none".into(), |v| format!("{v:#x}")),
        if guest_ok { "ok" } else { "bad" }
    ))
}

/// One pass of pre-copy: fetch the dirty log and copy the dirty pages.
/// Returns how many of the guest's data pages were reported; other pages
/// reported (x86_64 KVM reports the program's page once) go to `other`.
fn sync_dirty(m: &Machine, dst: &mut [u8], other: &mut Vec<usize>, pages: usize) -> Result<u64, String> {
    let bitmap = m.vm.get_dirty_log(0, MEM_SIZE).map_err(|e| format!("get_dirty_log={}", err_name(&e)))?;
    let src = m.mem.slice();
    let mut n = 0;
    for (w, word) in bitmap.iter().enumerate() {
        for b in 0..64 {
            if word & (1u64 << b) != 0 {
                let p = w * 64 + b;
                if (FIRST_DATA_PAGE..FIRST_DATA_PAGE + pages).contains(&p) {
                    n += 1;
                } else {
                    other.push(p);
                }
                if (p + 1) * PAGE <= MEM_SIZE {
                    dst[p * PAGE..(p + 1) * PAGE].copy_from_slice(&src[p * PAGE..(p + 1) * PAGE]);
                }
            }
        }
    }
    Ok(n)
}

fn cmd_migrate(o: &Opts) -> Result<String, String> {
    let pages = o.num("--pages", 200)?.min(max_pages()) as usize;
    let rounds = o.num("--rounds", 4)?.clamp(1, pages.max(1) as u64) as usize;
    let kvm = open_kvm()?;
    let mut m = Machine::new(&kvm, true)?;
    // Round 0: copy everything, then start tracking from a clean log.
    let mut dst = m.mem.slice().to_vec();
    let mut other = Vec::new();
    let mut reported = sync_dirty(&m, &mut dst, &mut other, pages)?;
    let mut syncs = 1;
    let per_round = pages.div_ceil(rounds);
    let mut unexpected = Vec::new();
    let mut next = 0usize;
    loop {
        // The guest has written `next - 1` pages so far (it writes the page
        // it was given after re-entry, before asking again).
        let written = next.saturating_sub(1);
        if written > 0 && written % per_round == 0 && next <= pages + 1 {
            // A round is over.
            reported += sync_dirty(&m, &mut dst, &mut other, pages)?;
            syncs += 1;
        }
        let mut answer = (next < pages).then(|| data_gpa(next));
        if m.step(&mut answer, &mut unexpected)?.is_none() {
            break;
        }
        next += 1;
        if next > pages + 1 {
            return Err("guest_loops=1".into());
        }
    }
    // Final pass, the guest stopped.
    reported += sync_dirty(&m, &mut dst, &mut other, pages)?;
    syncs += 1;
    let src = m.mem.slice();
    let mismatched = (0..MEM_SIZE / PAGE).filter(|p| src[p * PAGE..(p + 1) * PAGE] != dst[p * PAGE..(p + 1) * PAGE]).count();
    let guest_ok = check_pages(src, pages) && unexpected.is_empty();
    Ok(format!(
        "migrate pages={pages} rounds={rounds} syncs={syncs} dirty_reported={reported} dirty_other={} mismatched={mismatched} guest={}",
        if other.is_empty() { "none".to_string() } else { other.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",") },
        if guest_ok { "ok" } else { "bad" }
    ))
}

const USAGE: &str = "usage: test-vmm version [--cap N]... | vcpu [--count N] | memslot [--count N] | \
run [--pages N] [--regs] | migrate [--pages N] [--rounds R]   (all: --alarm SECS)";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args[0] == "-h" || args[0] == "--help" {
        eprintln!("{USAGE}");
        return ExitCode::from(if args.is_empty() { 2 } else { 0 });
    }
    let cmd = args.remove(0);
    let o = Opts { args };
    let alarm = match o.num("--alarm", 60) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("test-vmm: {e}");
            return ExitCode::from(2);
        }
    };
    // SAFETY: alarm(2) has no memory-safety preconditions.
    unsafe { libc::alarm(alarm as libc::c_uint) };
    let res = match cmd.as_str() {
        "version" => cmd_version(&o),
        "vcpu" => cmd_vcpu(&o),
        "memslot" => cmd_memslot(&o),
        "run" => cmd_run(&o),
        "migrate" => cmd_migrate(&o),
        _ => {
            eprintln!("test-vmm: unknown command '{cmd}'\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match res {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Still machine-readable: the failing step names itself.
            println!("{cmd} error {e}");
            ExitCode::from(1)
        }
    }
}
