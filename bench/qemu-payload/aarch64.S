/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The QEMU scenarios' guest for arm64 (-M virt, loaded with -kernel as an
 * ELF at the start of RAM), no firmware and no kernel: prints
 * KVMFI-PAYLOAD-UP on the PL011 at 0x09000000, then forever writes its pass
 * counter into the first word of every page of 0x40100000-0x4016ffff (112
 * pages) and stores the number of finished passes at 0x40000f00, so a
 * monitor (QMP xp / pmemsave) sees it progress.
 */
	.section .text
	.globl _start
_start:
	ldr	x1, =0x09000000		/* PL011 data register */
	adr	x2, msg
1:	ldrb	w3, [x2], #1
	cbz	w3, 2f
	str	w3, [x1]
	b	1b
2:	mov	x5, #0			/* pass counter */
	ldr	x6, =0x40000f00
pass:
	add	x5, x5, #1
	ldr	x4, =0x40100000
	ldr	x7, =0x40170000
page:
	str	w5, [x4]
	add	x4, x4, #0x1000
	cmp	x4, x7
	b.lo	page
	str	w5, [x6]
	b	pass
msg:	.asciz	"KVMFI-PAYLOAD-UP\r\n"
	.ltorg
