// SPDX-License-Identifier: GPL-2.0
/*
 * kvmfi core: the primitive that skips a probed function, making it return
 * a value to its caller without running its body. #included by kvmfi_core.c.
 */

/* ------------------------------------------------------------------ */
/* Skipping a probed function                                          */
/* ------------------------------------------------------------------ */

#ifdef CONFIG_X86_64
/*
 * Where a skipped call "returns": an empty function is a bare `ret` (or a
 * jump to the return thunk) that leaves %rax, already set to the injected
 * value, alone. Popping the return address by hand instead breaks
 * ftrace-based kprobes, which ignore a changed stack pointer.
 */
static noinline notrace void kvmfi_ret_stub(void)
{
	asm volatile ("");
}
NOKPROBE_SYMBOL(kvmfi_ret_stub);
#endif

/*
 * Make the probed function return @retval to its caller without running its
 * body. Only valid from a kprobe pre-handler at the function's entry, which
 * must then return 1: the value returned here. A kretprobe cannot do this: it
 * rewrites the value only after the body has already had its effects.
 */
static __always_inline int kvmfi_skip(struct pt_regs *regs, long retval)
{
	regs_set_return_value(regs, retval);
#if defined(CONFIG_X86_64)
	instruction_pointer_set(regs, (unsigned long)kvmfi_ret_stub);
#elif defined(CONFIG_ARM64)
	instruction_pointer_set(regs, procedure_link_pointer(regs));
#else
#error "kvmfi: skipping a function is implemented for x86_64 and arm64 only"
#endif
	return 1;
}
