/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences between the kernels kvmfi supports, by version,
 * in one place: Debian 5.10 (bullseye), 6.1 (bookworm), 6.12
 * (bookworm-backports), 7.3 (trixie-backports), and what lies between.
 * A module uses these names instead of testing LINUX_VERSION_CODE itself.
 */
#ifndef KVMFI_COMPAT_H
#define KVMFI_COMPAT_H

#include <linux/proc_fs.h>
#include <linux/types.h>
#include <linux/version.h>

/* PDE_DATA() became pde_data() in 5.17. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 17, 0)
#define pde_data(inode) PDE_DATA(inode)
#endif

/*
 * struct kvm's count of MMU-notifier invalidations in progress: 6.1 renamed
 * mmu_notifier_count to mmu_invalidate_in_progress.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#define kvmfi_kvm_invalidations(kvm) ((kvm)->mmu_invalidate_in_progress)
#else
#define kvmfi_kvm_invalidations(kvm) ((kvm)->mmu_notifier_count)
#endif

#ifdef CONFIG_X86_64
/*
 * The leading fields of arch/x86's struct flush_tlb_info (kept from
 * modules by its header from 5.13) and the function that sends a flush to
 * other CPUs, taking (const struct cpumask *, const struct flush_tlb_info *).
 *
 * 5.4-5.12: native_flush_tlb_others; mm, start, end, new_tlb_gen, then
 *           unsigned int stride_shift and bool freed_tables.
 * 5.13-7.3: native_flush_tlb_multi (the caller's own CPU may be in the
 *           mask); initiating_cpu inserted before u8 stride_shift and u8
 *           freed_tables (6.14 appends trim_cpumask behind them).
 * Any other kernel: KVMFI_FLUSH_TLB_INFO_KNOWN is 0 and a module reading
 * these fields must refuse to load rather than guess an offset (a wrong
 * freed_tables offset would let a page-table-freeing flush be dropped).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 4, 0) && LINUX_VERSION_CODE < KERNEL_VERSION(5, 13, 0)
#define KVMFI_FLUSH_TLB_INFO_KNOWN 1
#define KVMFI_FLUSH_TLB_OTHERS "native_flush_tlb_others"
struct kvmfi_flush_tlb_info {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	u64 new_tlb_gen;
	unsigned int stride_shift;
	bool freed_tables;
};
#define kvmfi_flush_initiated_here(info, cpu) true	/* no such field */
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(5, 13, 0) && LINUX_VERSION_CODE < KERNEL_VERSION(7, 4, 0)
#define KVMFI_FLUSH_TLB_INFO_KNOWN 1
#define KVMFI_FLUSH_TLB_OTHERS "native_flush_tlb_multi"
struct kvmfi_flush_tlb_info {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	u64 new_tlb_gen;
	unsigned int initiating_cpu;
	u8 stride_shift;
	u8 freed_tables;
};
/* A cross-check of the layout: the flush is the current CPU's own. */
#define kvmfi_flush_initiated_here(info, cpu) ((info)->initiating_cpu == (cpu))
#else
#define KVMFI_FLUSH_TLB_INFO_KNOWN 0
#define KVMFI_FLUSH_TLB_OTHERS "native_flush_tlb_multi"
#endif
#endif /* CONFIG_X86_64 */

/*
 * fprobe (the benchmark's floor): from 5.18, where CONFIG_FPROBE is set
 * (Debian: x86_64 6.12 and 7.3, arm64 from 6.14). The entry handler:
 * 6.1-6.4  void (fp, entry_ip, pt_regs *, entry_data);
 * 6.5-6.13 int (fp, entry_ip, ret_ip, pt_regs *, entry_data);
 * 6.14-    int (fp, entry_ip, ret_ip, ftrace_regs *, entry_data).
 * KVMFI_FPROBE_ENTRY(name) declares one; end it with KVMFI_FPROBE_RETURN.
 */
#if IS_ENABLED(CONFIG_FPROBE) && LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#include <linux/fprobe.h>
#define KVMFI_HAVE_FPROBE 1
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define KVMFI_FPROBE_ENTRY(name) \
	static void name(struct fprobe *fp, unsigned long entry_ip, struct pt_regs *regs, void *data)
#define KVMFI_FPROBE_RETURN return
#elif LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0)
#define KVMFI_FPROBE_ENTRY(name) \
	static int name(struct fprobe *fp, unsigned long entry_ip, unsigned long ret_ip, \
			struct pt_regs *regs, void *data)
#define KVMFI_FPROBE_RETURN return 0
#else
#define KVMFI_FPROBE_ENTRY(name) \
	static int name(struct fprobe *fp, unsigned long entry_ip, unsigned long ret_ip, \
			struct ftrace_regs *fregs, void *data)
#define KVMFI_FPROBE_RETURN return 0
#endif
#else
#define KVMFI_HAVE_FPROBE 0
#endif

#endif /* KVMFI_COMPAT_H */
