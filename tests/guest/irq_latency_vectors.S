/*
 * Vectors for the interrupt-latency benchmark (irq_latency.c). The IRQ entry time-stamps the
 * virtual counter in its first instructions: it branches into a sled of 0-15 NOPs first (chosen
 * by lat_pad_target), so that over 16 samples the counter's 16-instruction ticks average out to
 * exact instruction counts. Every other vector is unexpected here.
 */
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
    sub sp, sp, #(20 * 8)
    stp x0, x1, [sp, #0]
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x30, [sp, #144]
    bl lat_on_irq
    ldp x0, x1, [sp, #0]
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x30, [sp, #144]
    add sp, sp, #(20 * 8)
    eret

lat_unexpected:
    bl lat_on_unexpected
1:  wfe
    b 1b
