/*
 * Vectors for the interrupt-latency benchmark (irq_latency.c). The IRQ entry time-stamps the
 * virtual counter in its first instructions: it branches into a sled of 0-15 NOPs first (chosen
 * by lat_pad_target), so that over 16 samples the counter's 16-instruction ticks average out to
 * exact instruction counts. Every other vector is unexpected here.
 */
#include "caller_saved.inc"

    .section .text
    .balign 0x800
    .global lat_vectors
lat_vectors:
    .rept 5
    .balign 0x80
    b lat_unexpected
    .endr

    /* Current EL with SP_ELx, IRQ (offset 0x280). */
    .balign 0x80
    stp x0, x1, [sp, #-16]!       /* the handler's first instruction */
    adrp x0, lat_pad_target
    ldr x0, [x0, :lo12:lat_pad_target]
    br x0
    .global lat_sled
lat_sled:
    .rept 15
    nop
    .endr
    .global lat_sled_end
lat_sled_end:
    mrs x1, cntvct_el0            /* 4 instructions after the first, plus the sled */
    adrp x0, lat_t_entry
    str x1, [x0, :lo12:lat_t_entry]
    ldp x0, x1, [sp], #16
    b lat_irq_body

    .rept 10
    .balign 0x80
    b lat_unexpected
    .endr

/* Save the caller-saved registers, call lat_on_irq, restore, return. */
lat_irq_body:
    push_caller_saved (20 * 8)
    bl lat_on_irq
    pop_caller_saved (20 * 8)
    eret

lat_unexpected:
    bl lat_on_unexpected
1:  wfe
    b 1b
