//! tlb-flush-fi: the TLB shootdowns of a chosen process are lost (see
//! `man tlb-flush-fi`). x86_64 only; on other architectures every command
//! that would act says why it cannot. Invoked as `pt-update-fi-main`, it is
//! the original control program (prompts for times).

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use kvmfi::cli::{Bounds, Scope};
use kvmfi::symbols::TLB_FLUSH;
use kvmfi::tool::{self, CommonCmd, ModuleOpts};
use kvmfi::{legacy, run as out, Error, Result};

/// Why the fault cannot be had on arm64, in one paragraph (also in the man page).
pub const ARM64_REASON: &str = "arm64: TLB maintenance is a broadcast TLBI instruction emitted inline at every call \
site (flush_tlb_mm, flush_tlb_range, flush_tlb_page and __flush_tlb_range are static inline; the out-of-line \
copies in kallsyms are per-file duplicates that most callers never use), and the mmu_gather of munmap and \
madvise is flushed by the inlined tlb_end_vma() before the probe-able tlb_finish_mmu() runs. No function that \
every TLB flush of an address space goes through can be probed, so no kprobe can suppress them; pt-update-fi.ko \
refuses to load there (EOPNOTSUPP).";

/// Whether this build's architecture supports the fault, and why not.
pub fn support() -> std::result::Result<(), &'static str> {
    if cfg!(target_arch = "x86_64") {
        Ok(())
    } else if cfg!(target_arch = "aarch64") {
        Err(ARM64_REASON)
    } else {
        Err("only x86_64 is supported")
    }
}

fn require_support() -> Result<()> {
    support().map_err(|why| Error::unsupported(format!("unsupported on this kernel: {why}")))
}

#[derive(Parser, Debug)]
#[command(version, propagate_version = true, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Arm the fault (loads the module when needed); prints the experiment id
    Arm(Box<ArmArgs>),
    #[command(flatten)]
    Common(CommonCmd),
    /// Say whether this kernel supports the fault, and why not (exit status 4 when not)
    Support,
}

#[derive(Args, Debug)]
struct ArmArgs {
    #[command(flatten)]
    scope: Scope,
    #[command(flatten)]
    bounds: Bounds,
    #[command(flatten)]
    module: ModuleOpts,
}

const LONG_ABOUT: &str = "\
Lose the TLB shootdowns of a chosen process (x86_64; says why not elsewhere).

After a process changes its page tables (munmap, madvise MADV_DONTNEED, mprotect, mremap, copy-on-write), \
the kernel flushes the stale translations from the TLB of every CPU that ran the process: locally, and \
on the other CPUs with an inter-processor interrupt (a shootdown). With this fault armed, the shootdowns \
for the target's own address space are lost: the local flush still happens, the other CPUs running the \
target's threads keep translating the old addresses to the old physical pages, which may already belong \
to someone else. A thread on another CPU then reads (or writes) memory it no longer owns, until that CPU \
switches to another address space and back or receives a later flush of the target's address space \
(mm->context.tlb_gen tells it that it missed one).

x86_64: flush_tlb_mm is a macro for flush_tlb_mm_range, which flushes locally and calls \
flush_tlb_multi() for the other CPUs; the module pt-update-fi.ko (kernel name pt_update_fi) probes \
native_flush_tlb_multi (the paravirt target, also reached from kvm_flush_tlb_multi; before 5.13 \
native_flush_tlb_others, whose struct flush_tlb_info differs: the module is built for its kernel's layout \
and refuses a kernel whose layout it does not know) and, for a flush of \
the current task's address space by a task in scope, narrows the CPU mask to the current CPU. Flushes \
that free page tables are never touched (a stale walk over a freed page table could reach arbitrary \
memory), nor flushes for other address spaces, of kernel threads or of init. " ;

const LONG_ABOUT_2: &str = "Unsupported elsewhere, which the tool says (exit status 4). ";

const LONG_ABOUT_3: &str = "\n\nDANGER: a thread that writes through a stale translation corrupts memory \
that now belongs to another process or to the kernel; use a test machine or VM, a tight scope and --times. \
Every fault is bounded by --times (lost shootdowns), --probability, --interval and a lease (--duration, \
10 minutes unless given); `off`, `unload` and rmmod disarm at once. Hook candidates (first present is used): \
native_flush_tlb_multi, flush_tlb_multi, native_flush_tlb_others, flush_tlb_others. Legacy control files: /proc/pt-update-fi/{signal,times} (every \
process, `times` lost shootdowns, 10-minute lease; the original only counted hits). Invoked as \
pt-update-fi-main (a link made by `make install`), the program is the original one: `pt-update-fi-main \
[TIMES]`, or with no arguments the original prompt (times).";

const AFTER_HELP: &str = "\
EXIT STATUS: 0 success; 1 failed at run time; 2 usage error (nothing changed); 3 needs root; \
4 unsupported on this kernel or architecture (arm64; module or function missing); 5 target not found.
FILES: /dev/kvmfi/pt_update_fi (control device, root only); /proc/pt-update-fi/{signal,times} (original control files).
EXAMPLES:
  tlb-flush-fi support
  tlb-flush-fi arm --tgid $(pidof myapp) --times 10 --duration 30s
  tlb-flush-fi status
  tlb-flush-fi off";

/// The original control program.
pub static LEGACY: [legacy::Program; 1] = [legacy::Program {
    name: "pt-update-fi-main",
    spec: &TLB_FLUSH,
    proc_dir: "pt-update-fi",
    prompts: &[legacy::Prompt {
        knob: "times",
        question: "times (TLB shootdowns to lose, -1 unlimited)",
        min: -1,
        max: i32::MAX as i64,
    }],
}];

/// The clap command (also used to generate the man page).
pub fn command() -> clap::Command {
    Cli::command()
        .name(TLB_FLUSH.tool)
        .bin_name(TLB_FLUSH.tool)
        .about("Lose the TLB shootdowns of a chosen process (x86_64; says why not elsewhere)")
        .long_about(format!("{LONG_ABOUT}\n\n{LONG_ABOUT_2}{ARM64_REASON}{LONG_ABOUT_3}"))
        .after_long_help(AFTER_HELP)
}

/// Runs the tool with the process arguments (or, invoked as
/// pt-update-fi-main, the original program).
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<()> {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    if let Some(prog) = args.first().and_then(|a0| legacy::invoked_as(a0, &LEGACY)) {
        let rest: Vec<String> = args[1..].iter().map(|a| a.to_string_lossy().into_owned()).collect();
        if !rest.iter().any(|a| a == "-h" || a == "--help") {
            require_support()?;
        }
        return legacy::run(prog, &rest);
    }
    let Some(matches) = kvmfi::cliparse::parse(command(), args)? else { return Ok(()) };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let spec = &TLB_FLUSH;
    match cli.cmd {
        Cmd::Arm(a) => {
            require_support()?;
            tool::arm(spec, &a.module, &a.scope, &a.bounds, false, |_, _| Ok(()))
        }
        Cmd::Common(c) => c.run(spec),
        Cmd::Support => {
            require_support()?;
            // The function this kernel has (native_flush_tlb_others before 5.13).
            let hook = &spec.hooks[0];
            let cands = kvmfi::symbols::candidates(spec, hook);
            let cands: Vec<&str> = cands.iter().map(String::as_str).collect();
            let present = kvmfi::kallsyms::present(&cands)?;
            let symbol = kvmfi::kallsyms::choose(hook.role, &cands, &present)?;
            out::out(format!("supported: x86_64, lost shootdowns at {symbol}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn support_matches_arch() {
        assert_eq!(support().is_ok(), cfg!(target_arch = "x86_64"));
        assert!(ARM64_REASON.contains("TLBI"));
    }
}
