/*
 * A few instructions the VMM runs inside every vCPU at reset to empty its list registers and put
 * its virtual CPU interface back to its reset state.
 *
 * A guest reset through PSCI usually leaves other vCPUs parked inside an interrupt handler
 * (Linux stops them with an IPI it never EOIs), so their list registers hold active interrupts
 * and the GIC's active-priority state blocks any new interrupt of that priority; and the guest's
 * CPU interface settings (GICV_CTLR with EOImode, the priority mask, the binary points, group
 * enables: the VMCR, which seL4 neither exposes nor resets) would survive into the next boot.
 * seL4 offers no call to clear a list register or the VMCR, but the guest's own CPU interface
 * can: the stub enables both groups with EOImode 0 (so an EOI also deactivates) and the widest
 * priority mask, EOIs the interrupts the VMM knows are in list registers, acknowledges and EOIs
 * anything still pending until the interface reports none (1020 and up), writes the reset values
 * (everything zero), then signals the VMM with an SMC.
 *
 * In: x0 = GIC CPU interface base (GICv2), x2 = list of 32-bit INTIDs (GICv3: bit 31 set for
 * group 1), x3 = their count, x4 = the SMC function ID to signal with. Runs with the MMU off and
 * interrupts masked. Assembled with aarch64-linux-gnu-as from the listing in the comments.
 */
#include <vmm/reset.h>

const uint32_t gic_drain_stub_v2[] = {
    0x528000e1, /*    mov  w1, #7                                        */
    0xb9000001, /*    str  w1, [x0]            GICC_CTLR: groups, AckCtl */
    0x52801fe1, /*    mov  w1, #0xff                                     */
    0xb9000401, /*    str  w1, [x0, #4]        GICC_PMR                  */
    0xb40000a3, /* 1: cbz  x3, 2f                                        */
    0xb8404441, /*    ldr  w1, [x2], #4                                  */
    0xb9001001, /*    str  w1, [x0, #0x10]     GICC_EOIR                 */
    0xd1000463, /*    sub  x3, x3, #1                                    */
    0x17fffffc, /*    b    1b                                            */
    0xb9400c01, /* 2: ldr  w1, [x0, #0xc]      GICC_IAR                  */
    0x12002425, /*    and  w5, w1, #0x3ff                                */
    0x710ff0bf, /*    cmp  w5, #1020                                     */
    0x54000062, /*    b.hs 3f                                            */
    0xb9001001, /*    str  w1, [x0, #0x10]     GICC_EOIR                 */
    0x17fffffb, /*    b    2b                                            */
    0xb900001f, /* 3: str  wzr, [x0]           GICC_CTLR                 */
    0xb900041f, /*    str  wzr, [x0, #4]       GICC_PMR                  */
    0xb900081f, /*    str  wzr, [x0, #8]       GICC_BPR                  */
    0xb9001c1f, /*    str  wzr, [x0, #0x1c]    GICC_ABPR                 */
    0xd5033f9f, /*    dsb  sy                                            */
    0xaa0403e0, /*    mov  x0, x4                                        */
    0xd4000003, /*    smc  #0                                            */
    0x14000000, /*    b    .                                             */
};

const uint32_t gic_drain_stub_v3[] = {
    0xd518cc9f, /*    msr  ICC_CTLR_EL1, xzr                             */
    0xd2801fe1, /*    mov  x1, #0xff                                     */
    0xd5184601, /*    msr  ICC_PMR_EL1, x1                               */
    0xd2800021, /*    mov  x1, #1                                        */
    0xd518ccc1, /*    msr  ICC_IGRPEN0_EL1, x1                           */
    0xd518cce1, /*    msr  ICC_IGRPEN1_EL1, x1                           */
    0xd5033fdf, /*    isb                                                */
    0xb4000123, /* 1: cbz  x3, 2f                                        */
    0xb8404441, /*    ldr  w1, [x2], #4                                  */
    0xd1000463, /*    sub  x3, x3, #1                                    */
    0x36f80081, /*    tbz  w1, #31, 5f                                   */
    0x92405c21, /*    and  x1, x1, #0xffffff                             */
    0xd518cc21, /*    msr  ICC_EOIR1_EL1, x1                             */
    0x17fffffa, /*    b    1b                                            */
    0xd518c821, /* 5: msr  ICC_EOIR0_EL1, x1                             */
    0x17fffff8, /*    b    1b                                            */
    0xd538cc01, /* 2: mrs  x1, ICC_IAR1_EL1                              */
    0x92405c25, /*    and  x5, x1, #0xffffff                             */
    0xf10ff0bf, /*    cmp  x5, #1020                                     */
    0x54000062, /*    b.hs 4f                                            */
    0xd518cc21, /*    msr  ICC_EOIR1_EL1, x1                             */
    0x17fffffb, /*    b    2b                                            */
    0xd538c801, /* 4: mrs  x1, ICC_IAR0_EL1                              */
    0x92405c25, /*    and  x5, x1, #0xffffff                             */
    0xf10ff0bf, /*    cmp  x5, #1020                                     */
    0x54000062, /*    b.hs 3f                                            */
    0xd518c821, /*    msr  ICC_EOIR0_EL1, x1                             */
    0x17fffffb, /*    b    4b                                            */
    0xd518461f, /* 3: msr  ICC_PMR_EL1, xzr                              */
    0xd518c87f, /*    msr  ICC_BPR0_EL1, xzr                             */
    0xd518cc7f, /*    msr  ICC_BPR1_EL1, xzr                             */
    0xd518ccdf, /*    msr  ICC_IGRPEN0_EL1, xzr                          */
    0xd518ccff, /*    msr  ICC_IGRPEN1_EL1, xzr                          */
    0xd5033fdf, /*    isb                                                */
    0xd5033f9f, /*    dsb  sy                                            */
    0xaa0403e0, /*    mov  x0, x4                                        */
    0xd4000003, /*    smc  #0                                            */
    0x14000000, /*    b    .                                             */
};

const unsigned gic_drain_stub_v2_words = sizeof(gic_drain_stub_v2) / sizeof(uint32_t);
const unsigned gic_drain_stub_v3_words = sizeof(gic_drain_stub_v3) / sizeof(uint32_t);
