//! memslot-fi: KVM memory regions, or guest-frame to host-address
//! translations, fail for a chosen VMM (see `man memslot-fi`).
//! Module memory.ko (the original memory-manage-fi).

use clap::{ArgGroup, Args};
use kvmfi::abi::Arm;
use kvmfi::cli::Held;
use kvmfi::kernel_tool::{ArmArgs, Doc, KernelTool};
use kvmfi::kvmtool;
use kvmfi::symbols::{ModuleSpec, MEMSLOT};
use kvmfi::{errno, Error, Result};

use kvmfi::request::{self, memslot};

/// The fault's own options.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("class").required(true).args(["region", "gfn"])))]
pub struct Fault {
    /// Memory-region setup fails: the VMM's KVM_SET_USER_MEMORY_REGION gets the errno (the original class 1)
    #[arg(long, help_heading = "Fault")]
    region: bool,
    /// With --region: only this memory slot
    #[arg(long, value_name = "SLOT", requires = "region", help_heading = "Fault")]
    slot: Option<u32>,
    /// Error of --region: a name or a number [default: ENOMEM]
    #[arg(long, value_name = "ERRNO", value_parser = errno::parse, requires = "region", help_heading = "Fault")]
    errno: Option<i32>,
    /// Guest frames whose host-address translation fails: FIRST-LAST (inclusive) or one frame, 0x hex or decimal, or `all` (the original class 2)
    #[arg(long, value_name = "RANGE", value_parser = parse_range, help_heading = "Fault")]
    gfn: Option<(u64, u64)>,
}

fn parse_num(t: &str) -> Option<u64> {
    let t = t.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

/// `all`, `N` or `A-B` (inclusive) as a half-open range; (0, 0) = every frame.
fn parse_range(text: &str) -> std::result::Result<(u64, u64), String> {
    let bad = || format!("'{text}': a guest frame number, FIRST-LAST, or all");
    if text.trim() == "all" {
        return Ok((0, 0));
    }
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (parse_num(a).ok_or_else(bad)?, parse_num(b).ok_or_else(bad)?),
        None => {
            let n = parse_num(text).ok_or_else(bad)?;
            (n, n)
        }
    };
    if b < a || b == u64::MAX {
        return Err(bad());
    }
    Ok((a, b + 1))
}

const EXAMPLES: &str = "  \
memslot-fi arm --tgid $(pidof qemu-system-x86_64) --region --errno ENOMEM --times 1\n  \
memslot-fi arm --comm firecracker --region --slot 1 --errno EFAULT\n  \
memslot-fi arm --tgid 4242 --gfn 0x100-0x1ff          # guest accesses there fail (EFAULT / MMIO exits)\n  \
memslot-fi status; memslot-fi off";

/// The tool, for the shared skeleton ([`kvmfi::kernel_tool`]).
pub struct Memslot;

impl KernelTool for Memslot {
    type Arm = ArmArgs<Fault>;
    const SPEC: &'static ModuleSpec = &MEMSLOT;

    fn doc() -> Doc {
        let spec = Self::SPEC;
        kvmtool::doc(
            spec,
            "Make KVM memory regions or guest-frame translations fail for a chosen VMM",
            format!(
            "Make KVM memory regions or guest-frame translations fail for a chosen VMM.\n\n\
             The kernel module memory.ko (the original memory-manage-fi) has two kinds of fault. --region (class 1): \
             the memory-region function that really runs for KVM_SET_USER_MEMORY_REGION is skipped at its \
             entry, so no memslot changes and the VMM gets the errno (KVM's internal slots are never \
             touched). Which one runs differs per kernel: kvm_set_memory_region, the original hook, is \
             inlined into the ioctl on Debian 6.1 and 6.12 x86_64 and arm64 6.1 (it registers but never \
             fires; __kvm_set_memory_region does), while on arm64 6.12 the ioctl calls kvm_set_memory_region, \
             which calls a .part clone of __kvm_set_memory_region. Both are probed; a call is judged once. --gfn (class 2): an out-of-line guest-frame translation that guest page faults \
             really reach (gfn_to_hva_many is inlined everywhere) fails for the chosen frames: on x86_64 \
             (__gfn_to_pfn_memslot) the guest's fault on them fails and KVM_RUN returns EFAULT to the VMM; \
             on arm64 (gfn_to_hva_memslot_prot) KVM takes them for unbacked, so the guest's accesses become \
             MMIO exits to the VMM. KVM's own accesses to them fail with EFAULT.\n\n\
             Hook candidates (first present is used): {}.\n\
             Legacy control files: /proc/memory-manage-fi/{{signal,class,time,position,type,style}}: class 1 \
             or 2; type 1 flip, 2 set, 3 clear a random bit 0-31 of position 2 (the region's guest address, \
             or the gfn), 0 = fail plainly; position 1 (a kernel pointer) is refused; time = injections (-1 = \
             unlimited); style is unused. The legacy interface acts on every process. Invoked as memory-main (a link made by \
             `make install`), the program is the original one: `memory-main [CLASS [POSITION [TYPE [COUNT]]]]`, \
             or with no arguments the original prompts (class, position, type, count).",
            kvmtool::hooks_sentence(spec)
        ),
            EXAMPLES,
        )
    }

    fn prepare(_: &mut Self::Arm) -> Result<()> {
        kvmtool::require_kvm(Self::SPEC)
    }

    fn fill(a: &Self::Arm, req: &mut Arm, _: &mut Held) -> Result<()> {
        let args = if a.own.region {
            req.error = a.own.errno.unwrap_or(libc::ENOMEM);
            let slot = a.own.slot.map_or(0, |s| u64::from(s) + 1);
            memslot::Args { class: memslot::CLASS_REGION, slot, ..Default::default() }
        } else if let Some((gfn_first, gfn_end)) = a.own.gfn {
            memslot::Args { class: memslot::CLASS_GFN, gfn_first, gfn_end, ..Default::default() }
        } else {
            return Err(Error::usage("--region or --gfn is needed"));
        };
        request::set(req, memslot::MODE_FAIL, args);
        Ok(())
    }
}

kvmfi::kernel_tool_entry_points!(Memslot);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("all").unwrap(), (0, 0));
        assert_eq!(parse_range("0x10-0x1f").unwrap(), (0x10, 0x20));
        assert_eq!(parse_range("5").unwrap(), (5, 6));
        assert!(parse_range("9-3").is_err());
        assert!(parse_range("x").is_err());
    }
}
