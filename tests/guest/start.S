/* Bare-metal test guest: entry, per-CPU stacks, exception vectors. */
#include "caller_saved.inc"
    .section .text.start, "ax"
    .global _start
_start:
    /* x0 = DTB (boot CPU) or the CPU_ON context id (secondaries: their index). */
    mrs x20, CurrentEL
    lsr x20, x20, #2              /* the EL this CPU starts at: 2 natively (no hypervisor) */
    cmp x20, #2
    b.ne 4f
    /* Natively under QEMU (virtualization=on, no firmware) the CPU starts at EL2: go to EL1 with
     * the counters and the physical timer open to it, nothing trapped, as a hypervisor runs it. */
    mov x9, #(1 << 31)            /* HCR_EL2.RW: EL1 is AArch64 */
    msr hcr_el2, x9
    mov x9, #3                    /* CNTHCTL_EL2.EL1PCTEN | EL1PCEN */
    msr cnthctl_el2, x9
    msr cntvoff_el2, xzr
    mrs x9, midr_el1
    msr vpidr_el2, x9
    mrs x9, mpidr_el1
    msr vmpidr_el2, x9
    mov x9, #0x3c5                /* EL1h, interrupts masked */
    msr spsr_el2, x9
    adr x9, 4f
    msr elr_el2, x9
    eret
4:  mrs x1, mpidr_el1
    and x1, x1, #0xff
    cbnz x1, 2f
    /* The boot CPU clears .bss: a reset does not clear guest RAM. */
    adrp x2, __bss_start
    add x2, x2, :lo12:__bss_start
    adrp x3, __bss_end
    add x3, x3, :lo12:__bss_end
3:  cmp x2, x3
    b.hs 2f
    str xzr, [x2], #8
    b 3b
2:
    adrp x2, stacks_end
    add x2, x2, :lo12:stacks_end
    lsl x3, x1, #14               /* 16 KiB per CPU */
    sub sp, x2, x3
    adrp x2, vectors
    add x2, x2, :lo12:vectors
    msr vbar_el1, x2
    isb
    mov x19, x0
    mov x0, x1                    /* cpu index */
    mov x1, x19                   /* dtb or context */
    mov x2, x20                   /* the EL it started at */
    bl guest_main
1:  wfe
    b 1b

/* Save the caller-saved registers, call the C handler with the frame, restore, return. */
.macro entry handler
    .balign 0x80
    push_caller_saved (32 * 8)
    mov x0, sp
    bl \handler
    pop_caller_saved (32 * 8)
    eret
.endm

    .balign 0x800
vectors:
    entry on_sync       /* current EL, SP_EL0 */
    entry on_irq
    entry on_other
    entry on_other
    entry on_sync       /* current EL, SP_ELx */
    entry on_irq
    entry on_other
    entry on_other
    entry on_other      /* lower EL */
    entry on_other
    entry on_other
    entry on_other
    entry on_other
    entry on_other
    entry on_other
    entry on_other

    .section .bss
    .balign 16
stacks:
    .space 4 * 16384
stacks_end:
