//! Every kernel hook of every tool, with its candidate functions, in one
//! table. Kernels rename and inline functions across versions; the tools and
//! kvmfi-check pick the first candidate the running kernel has, so users
//! never edit source when a symbol moves. Each man page lists its entries.


/// One probe point of a module: the module parameter that names the
/// function, and the candidates in order of preference.
#[derive(Debug, Clone, Copy)]
pub struct HookSpec {
    /// Module parameter receiving the chosen function name.
    pub param: &'static str,
    /// What the hook is for, in words.
    pub role: &'static str,
    /// Candidate functions, preferred first.
    pub candidates: &'static [&'static str],
}

impl HookSpec {
    /// A module's first (often only) hook: its parameter is `symbol`.
    pub const fn symbol(role: &'static str, candidates: &'static [&'static str]) -> HookSpec {
        HookSpec { param: "symbol", role, candidates }
    }
}

/// One value the original program asked for, and the knob it went to.
#[derive(Debug, Clone, Copy)]
pub struct Prompt {
    pub knob: &'static str,
    pub question: &'static str,
    pub min: i64,
    pub max: i64,
}

impl Prompt {
    /// A number of injections, -1 for unlimited (the original knobs
    /// `times` and `time` take any int).
    pub const fn count(knob: &'static str, question: &'static str) -> Prompt {
        Prompt { knob, question, min: -1, max: i32::MAX as i64 }
    }
}

/// An original control program (see [`crate::kernel::legacy`]).
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Its name, e.g. `file-read-fi-main`.
    pub name: &'static str,
    /// The module's /proc directory, e.g. `file-read-fi`.
    pub proc_dir: &'static str,
    pub prompts: &'static [Prompt],
}

/// A kernel tool: its binary, its module file, its hooks and the original
/// control programs that run as it.
#[derive(Debug, Clone, Copy)]
pub struct ModuleSpec {
    /// Binary name, e.g. `vfs-read-fi`.
    pub tool: &'static str,
    /// Module file stem (the original tools' name), e.g. `file-read-fi`.
    pub module: &'static str,
    pub hooks: &'static [HookSpec],
    /// The original tools' control programs (`file-read-fi-main`, ...),
    /// installed as links to `tool`, which acts as the original when invoked
    /// by that name. The one list of those names: the Makefile's links, the
    /// bench's and the bad-input suite's come from it (`make legacy-links`).
    pub legacy: &'static [Program],
}

pub const FILE_READ: ModuleSpec = ModuleSpec {
    tool: "vfs-read-fi",
    module: "file-read-fi",
    hooks: &[HookSpec::symbol("read path", &["vfs_read"])],
    legacy: &[
        Program {
            name: "file-read-fi-main",
            proc_dir: "file-read-fi",
            prompts: &[
                Prompt { knob: "type", question: "type (0: reads return nothing, 1: reads fail with EFAULT)", min: 0, max: 1 },
                Prompt::count("times", "times (number of injections, -1 unlimited)"),
            ],
        },
    ],
};

pub const FILE_WRITE: ModuleSpec = ModuleSpec {
    tool: "vfs-write-fi",
    module: "file-write-fi",
    hooks: &[HookSpec::symbol("write path", &["vfs_write"])],
    legacy: &[
        Program {
            name: "file-write-fi-main",
            proc_dir: "file-write-fi",
            prompts: &[
                Prompt { knob: "type", question: "type (0: writes write nothing, 1: writes fail with EFAULT)", min: 0, max: 1 },
                Prompt::count("times", "times (number of injections, -1 unlimited)"),
            ],
        },
    ],
};

/// kvm-ioctl-fi: VM ioctls at kvm_vm_ioctl, vCPU ioctls at kvm_vcpu_ioctl.
pub const KVM_IOCTL: ModuleSpec = ModuleSpec {
    tool: "kvm-ioctl-fi",
    module: "resource",
    hooks: &[
        HookSpec::symbol("VM ioctl", &["kvm_vm_ioctl"]),
        HookSpec { param: "vcpu_symbol", role: "vCPU ioctl", candidates: &["kvm_vcpu_ioctl"] },
    ],
    legacy: &[
        Program {
            name: "resource-main",
            proc_dir: "resource",
            prompts: &[
                Prompt { knob: "position", question: "position (1: the ioctl command, 2: its argument)", min: 1, max: 2 },
                Prompt { knob: "type", question: "type (0: fail with EPERM, 1: flip, 2: set, 3: clear a random bit 0-31)", min: 0, max: 3 },
                Prompt::count("time", "count (number of injections, -1 unlimited)"),
            ],
        },
    ],
};

/// memslot-fi: kvm_set_memory_region is inlined into the ioctl on 6.1/6.12
/// (it registers but never fires), __kvm_set_memory_region does fire; 7.3
/// has no __kvm_set_memory_region and its kvm_set_memory_region fires (the
/// module then probes it once, for both region hooks);
/// gfn_to_hva_many is inlined everywhere: its out-of-line relatives are used.
pub const MEMSLOT: ModuleSpec = ModuleSpec {
    tool: "memslot-fi",
    module: "memory",
    hooks: &[
        HookSpec::symbol("memory region", &["__kvm_set_memory_region", "kvm_set_memory_region"]),
        HookSpec { param: "gfn_symbol", role: "guest frame translation", candidates: GFN_CANDIDATES },
        // arm64 6.12: the ioctl calls kvm_set_memory_region, whose callee is a
        // .part clone of __kvm_set_memory_region; both are probed.
        HookSpec { param: "region2_symbol", role: "outer memory region", candidates: &["kvm_set_memory_region"] },
    ],
    legacy: &[
        Program {
            name: "memory-main",
            proc_dir: "memory-manage-fi",
            prompts: &[
                Prompt { knob: "class", question: "class (1: memory regions, 2: guest-frame translations)", min: 1, max: 2 },
                Prompt { knob: "position", question: "position (argument 1-8; only 2 can be corrupted)", min: 1, max: 8 },
                Prompt { knob: "type", question: "type (0: fail, 1: flip, 2: set, 3: clear a random bit 0-31)", min: 0, max: 3 },
                Prompt::count("time", "count (number of injections, -1 unlimited)"),
            ],
        },
    ],
};

/// 6.13 on (7.3): __gfn_to_pfn_memslot is gone; x86 EPT/NPT faults go
/// through kvm_mmu_faultin_pfn to __kvm_faultin_pfn and never call
/// gfn_to_hva_memslot_prot (which would register and never fire there);
/// arm64's user_mem_abort still calls gfn_to_hva_memslot_prot first.
#[cfg(target_arch = "aarch64")]
const GFN_CANDIDATES: &[&str] =
    &["gfn_to_hva_memslot_prot", "__gfn_to_pfn_memslot", "__kvm_faultin_pfn", "gfn_to_hva_memslot"];
#[cfg(not(target_arch = "aarch64"))]
const GFN_CANDIDATES: &[&str] =
    &["__gfn_to_pfn_memslot", "__kvm_faultin_pfn", "gfn_to_hva_memslot_prot", "__gfn_to_hva_many"];

/// vcpu-state-fi: the function whose result user space reads as registers.
pub const VCPU_STATE: ModuleSpec = ModuleSpec {
    tool: "vcpu-state-fi",
    module: "kvm-state-fi",
    hooks: &[HookSpec::symbol("register read", STATE_CANDIDATES)],
    legacy: &[
        Program {
            name: "kvm-state-fi-main",
            proc_dir: "kvm-state-fi",
            prompts: &[Prompt::count("times", "times (register reads to falsify, -1 unlimited)")],
        },
    ],
};

/// x86_64: KVM_GET_REGS fills a kernel struct; arm64: KVM_GET_ONE_REG.
#[cfg(target_arch = "aarch64")]
const STATE_CANDIDATES: &[&str] = &["kvm_arm_get_reg"];
#[cfg(not(target_arch = "aarch64"))]
const STATE_CANDIDATES: &[&str] = &["kvm_arch_vcpu_ioctl_get_regs"];

/// kvm-version-fi: /dev/kvm ioctls.
pub const KVM_VERSION: ModuleSpec = ModuleSpec {
    tool: "kvm-version-fi",
    module: "kvm-version-fi",
    hooks: &[HookSpec::symbol("/dev/kvm ioctl", &["kvm_dev_ioctl"])],
    legacy: &[
        Program {
            name: "kvm-version-fi-main",
            proc_dir: "kvm-version-fi",
            prompts: &[Prompt::count("times", "times (KVM_GET_API_VERSION calls answering 0, -1 unlimited)")],
        },
    ],
};

/// dirty-log-fi: kvm_vm_ioctl_get_dirty_log is inlined on Debian kernels;
/// the VM ioctl itself, filtered on KVM_GET_DIRTY_LOG, is hooked.
pub const DIRTY_LOG: ModuleSpec = ModuleSpec {
    tool: "dirty-log-fi",
    module: "vm-migration-fi",
    hooks: &[HookSpec::symbol("dirty log", &["kvm_vm_ioctl"])],
    legacy: &[
        Program {
            name: "vm-migration-fi-main",
            proc_dir: "vm-migration-fi",
            prompts: &[],
        },
    ],
};

/// cpu-reg-main: the new task's registers are edited at wake_up_new_task,
/// which kernel_clone (older: _do_fork) calls before the child can run; at
/// kernel_clone's return the child may already be running.
pub const CPU_REG: ModuleSpec = ModuleSpec {
    tool: "cpu-reg-main",
    module: "cpu-reg",
    hooks: &[HookSpec::symbol("new task before its first run", &["wake_up_new_task"])],
    legacy: &[],
};

/// mm-fault-fi: page faults, skipped at handle_mm_fault's entry.
pub const MM_FAULT: ModuleSpec = ModuleSpec {
    tool: "mm-fault-fi",
    module: "pt-load-fi",
    hooks: &[HookSpec::symbol("page fault", &["handle_mm_fault"])],
    legacy: &[
        Program {
            name: "pt-load-fi-main",
            proc_dir: "pt-load-fi",
            prompts: &[
                Prompt { knob: "type", question: "type (0: VM_FAULT_OOM, other: VM_FAULT_SIGBUS)", min: 0, max: i32::MAX as i64 },
                Prompt::count("times", "times (number of injections, -1 unlimited)"),
            ],
        },
    ],
};

/// kswapd-fi: memory reclaim of one node, by kswapd or a direct reclaimer.
pub const KSWAPD: ModuleSpec = ModuleSpec {
    tool: "kswapd-fi",
    module: "kswapd-fi",
    hooks: &[HookSpec::symbol("node reclaim", &["shrink_node"])],
    legacy: &[
        Program {
            name: "kswapd-fi-main",
            proc_dir: "kswapd-fi",
            prompts: &[Prompt::count("times", "times (reclaim passes of kswapd to skip, -1 unlimited)")],
        },
    ],
};

/// func-fail-fi: any function, named on the command line (no candidates;
/// not in [`ALL`], since kvmfi-check has nothing to look up for it).
pub const FUNC_FAIL: ModuleSpec = ModuleSpec {
    tool: "func-fail-fi",
    module: "func-fail-fi",
    hooks: &[HookSpec::symbol("any function", &[])],
    legacy: &[],
};

/// tlb-flush-fi: x86_64 only. flush_tlb_mm is a macro for
/// flush_tlb_mm_range, whose cross-CPU part goes through flush_tlb_multi to
/// native_flush_tlb_multi (also the end of kvm_flush_tlb_multi); before 5.13
/// flush_tlb_others to native_flush_tlb_others, with another struct
/// flush_tlb_info (the module is built for its kernel's layout). arm64
/// flushes with inline broadcast TLBI instructions and has no such point.
pub const TLB_FLUSH: ModuleSpec = ModuleSpec {
    tool: "tlb-flush-fi",
    module: "pt-update-fi",
    hooks: &[HookSpec::symbol(
        "TLB shootdown",
        &["native_flush_tlb_multi", "flush_tlb_multi", "native_flush_tlb_others", "flush_tlb_others"],
    )],
    legacy: &[
        Program {
            name: "pt-update-fi-main",
            proc_dir: "pt-update-fi",
            prompts: &[Prompt::count("times", "times (TLB shootdowns to lose, -1 unlimited)")],
        },
    ],
};

/// tlb-flush-fi kvm (kvm-tlb-fi.ko): KVM's remote TLB flushes of one VM.
/// kvm_flush_remote_tlbs is out of line and exported on every kernel (arm64
/// 6.1: its own in arch/arm64/kvm/mmu.c); from 6.6 the ranged flush of dirty
/// logging goes through kvm_flush_remote_tlbs_range, which on arm64 does not
/// reach kvm_flush_remote_tlbs and which arm64 6.12 inlines into
/// kvm_main.c's callers (a probe there never fires during a migration): the
/// arch function it calls from another file, kvm_arch_flush_remote_tlbs_range,
/// is probed first. Before 6.6 the range hook falls back to
/// kvm_flush_remote_tlbs, which the module then probes once. Not in [`ALL`]:
/// a second module of tlb-flush-fi, reached by its `kvm` subcommands
/// (listed in [`SUBCOMMAND_MODULES`]).
pub const KVM_TLB_FLUSH: ModuleSpec = ModuleSpec {
    tool: "tlb-flush-fi",
    module: "kvm-tlb-fi",
    hooks: &[
        HookSpec::symbol("KVM remote TLB flush", &["kvm_flush_remote_tlbs"]),
        HookSpec {
            param: "range_symbol",
            role: "KVM ranged remote TLB flush",
            candidates: &["kvm_arch_flush_remote_tlbs_range", "kvm_flush_remote_tlbs_range", "kvm_flush_remote_tlbs"],
        },
    ],
    legacy: &[],
};

/// Every kernel tool, for kvmfi-check and documentation.
pub const ALL: &[ModuleSpec] = &[FILE_READ, FILE_WRITE, KVM_IOCTL, MEMSLOT, VCPU_STATE, KVM_VERSION, DIRTY_LOG, CPU_REG, MM_FAULT, KSWAPD, TLB_FLUSH];

/// The second modules of tools, each with the subcommand that reaches it:
/// kvmfi-check and kvmfi-halt cover them after [`ALL`] (kvmfi-check names
/// them "TOOL SUBCOMMAND").
pub const SUBCOMMAND_MODULES: &[(&str, &ModuleSpec)] = &[("kvm", &KVM_TLB_FLUSH)];

/// The candidates of a hook: the table's, unless the environment variable
/// `KVMFI_CANDIDATES` overrides them, as `TOOL.PARAM=fn1,fn2;TOOL.PARAM=...`
/// (e.g. `vfs-read-fi.symbol=vfs_read,ksys_read`): users of a kernel that
/// renamed a function list the new name without editing any source.
pub fn candidates(spec: &ModuleSpec, hook: &HookSpec) -> Vec<String> {
    if let Ok(text) = std::env::var("KVMFI_CANDIDATES") {
        let key = format!("{}.{}", spec.tool, hook.param);
        for entry in text.split(';') {
            if let Some((k, v)) = entry.split_once('=') {
                if k.trim() == key {
                    return v.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
                }
            }
        }
    }
    hook.candidates.iter().map(|c| c.to_string()).collect()
}

/// The spec of a tool by binary or module name.
pub fn lookup(name: &str) -> Option<&'static ModuleSpec> {
    ALL.iter().find(|s| s.tool == name || s.module == name)
}

/// A second module by its module name or as "TOOL SUBCOMMAND", with its subcommand.
pub fn lookup_subcommand_module(name: &str) -> Option<(&'static str, &'static ModuleSpec)> {
    SUBCOMMAND_MODULES
        .iter()
        .find(|(sub, s)| s.module == name || name == format!("{} {sub}", s.tool))
        .map(|(sub, s)| (*sub, *s))
}
