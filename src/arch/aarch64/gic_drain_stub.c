/*
 * A few instructions the VMM runs inside a vCPU at reset to empty its list registers.
 *
 * A guest reset through PSCI usually leaves other vCPUs parked inside an interrupt handler
 * (Linux stops them with an IPI it never EOIs), so their list registers hold active interrupts
 * and the GIC's active-priority state blocks any new interrupt of that priority. seL4 offers no
 * call to clear a list register, but the guest's own CPU interface can: the stub EOIs the
 * interrupts the VMM knows are active, acknowledges and EOIs anything still pending until the
 * interface reports none (1023), then signals the VMM with an SMC.
 *
 * In: x0 = GIC CPU interface base (GICv2), x2 = list of 32-bit INTIDs, x3 = their count,
 * x4 = the SMC function ID to signal with. Runs with the MMU off and interrupts masked.
 * Assembled with aarch64-linux-gnu-as from the listing in the comments.
 */
#include <vmm/reset.h>

const uint32_t gic_drain_stub_v2[] = {
    0xb40000a3, /* 1: cbz  x3, 2f                                    */
    0xb8404441, /*    ldr  w1, [x2], #4                              */
    0xb9001001, /*    str  w1, [x0, #0x10]     GICC_EOIR             */
    0xd1000463, /*    sub  x3, x3, #1                                */
    0x17fffffc, /*    b    1b                                        */
    0xb9400c01, /* 2: ldr  w1, [x0, #0xc]      GICC_IAR              */
    0x12002425, /*    and  w5, w1, #0x3ff                            */
    0x710ff0bf, /*    cmp  w5, #1020                                 */
    0x54000062, /*    b.hs 3f                                        */
    0xb9001001, /*    str  w1, [x0, #0x10]     GICC_EOIR             */
    0x17fffffb, /*    b    2b                                        */
    0xd5033f9f, /* 3: dsb  sy                                        */
    0xaa0403e0, /*    mov  x0, x4                                    */
    0xd4000003, /*    smc  #0                                        */
    0x14000000, /*    b    .                                         */
};

const uint32_t gic_drain_stub_v3[] = {
    0xb40000a3, /* 1: cbz  x3, 2f                                    */
    0xb8404441, /*    ldr  w1, [x2], #4                              */
    0xd518cc21, /*    msr  ICC_EOIR1_EL1, x1                         */
    0xd1000463, /*    sub  x3, x3, #1                                */
    0x17fffffc, /*    b    1b                                        */
    0xd538cc01, /* 2: mrs  x1, ICC_IAR1_EL1                          */
    0x92405c25, /*    and  x5, x1, #0xffffff                         */
    0xf10ff0bf, /*    cmp  x5, #1020                                 */
    0x54000062, /*    b.hs 3f                                        */
    0xd518cc21, /*    msr  ICC_EOIR1_EL1, x1                         */
    0x17fffffb, /*    b    2b                                        */
    0xd5033fdf, /* 3: isb                                            */
    0xd5033f9f, /*    dsb  sy                                        */
    0xaa0403e0, /*    mov  x0, x4                                    */
    0xd4000003, /*    smc  #0                                        */
    0x14000000, /*    b    .                                         */
};

const unsigned gic_drain_stub_v2_words = sizeof(gic_drain_stub_v2) / sizeof(uint32_t);
const unsigned gic_drain_stub_v3_words = sizeof(gic_drain_stub_v3) / sizeof(uint32_t);
