/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The QEMU scenarios' guest for x86_64: a 64 KiB "BIOS" (QEMU's -bios), no
 * firmware and no kernel. It stays in real mode, prints KVMFI-PAYLOAD-UP on
 * the first serial port, then forever writes its pass counter into the first
 * word of every page of 0x10000-0x7ffff (112 pages) and stores the number of
 * finished passes at 0x500, so a monitor (QMP xp / pmemsave) sees it
 * progress and a migration has pages that keep changing.
 */
	.code16
	.section .text
	.globl _start
_start:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %ss
	movw	$0x7000, %sp
	movw	$msg, %si
	movw	$0x3f8, %dx
1:	movb	%cs:(%si), %al
	testb	%al, %al
	jz	2f
	outb	%al, %dx
	incw	%si
	jmp	1b
2:	xorl	%ebp, %ebp		/* pass counter */
pass:
	incl	%ebp
	movw	$0x1000, %bx		/* segment of the first page */
page:
	movw	%bx, %es
	movl	%ebp, %es:0
	addw	$0x100, %bx		/* next 4 KiB page */
	cmpw	$0x8000, %bx
	jb	page
	movl	%ebp, 0x500		/* passes done, ds = 0 */
	jmp	pass
msg:	.asciz	"KVMFI-PAYLOAD-UP\r\n"

	/* reset vector: the last 16 bytes of the image (0xffff0) */
	.org	0xfff0
	ljmp	$0xf000, $_start
	.org	0x10000
