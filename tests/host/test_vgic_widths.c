/*
 * Every offset of the GICv2 distributor and of the GICv3 distributor and redistributor frames,
 * at every access width: an access that is not a valid write to a writable register must leave
 * the whole vGIC state untouched and inject nothing; reads of reserved offsets return zero.
 */
#include <stdio.h>
#include <string.h>
#include <vmm/vgic.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

static struct vgic snapshot;

/* Write all ones at `off` with `width` through `access`: true if the whole vGIC state is as it
 * was (but for the count of the VMM's activations, which every exit moves on) and nothing was
 * injected. */
static int write_changes_nothing(uint64_t (*access)(unsigned, uint32_t, unsigned, int, uint64_t),
                                 unsigned vcpu, unsigned off, unsigned width)
{
    memcpy(&snapshot, &fx.vm.gic, sizeof(snapshot));
    unsigned inj = sim.num_inj;
    access(vcpu, off, width, 1, ~0ull);
    /* Not interrupt state: the count of the VMM's activations, which every exit moves on, and
     * the rate limit of the vGIC's reports, which counts invalid accesses. */
    snapshot.epoch = fx.vm.gic.epoch;
    snapshot.log_access = fx.vm.gic.log_access;
    snapshot.log_lr = fx.vm.gic.log_lr;
    if (memcmp(&snapshot, &fx.vm.gic, sizeof(snapshot)) == 0 && sim.num_inj == inj)
        return 1;
    printf("    %u-byte write at offset 0x%x changed the vGIC\n", width, off);
    return 0;
}

static int in(unsigned off, unsigned lo, unsigned hi)
{
    return off >= lo && off < hi;
}

/* Writable GICv2 registers and the widths they take. */
static int v2_writable(unsigned off, unsigned width)
{
    if (off % width)
        return 0;
    if (width == 1 || width == 2)
        return in(off, 0x400, 0x800) || in(off, 0x800 + 32, 0xc00) || in(off, 0xf10, 0xf30);
    if (width != 4)
        return 0;
    return off == 0x000 || in(off, 0x080, 0x400) || in(off, 0x400, 0xc00) ||
           in(off, 0xc00, 0xd00) || off == 0xf00 || in(off, 0xf10, 0xf30);
}

/* GICv2 offsets that read as zero whatever the state (reserved, write-only, IMPDEF). */
static int v2_raz(unsigned off)
{
    return in(off, 0x00c, 0x080) || in(off, 0xd00, 0xf10) || in(off, 0xf30, 0xfd0);
}

TEST(widths_gicv2_distributor_every_offset)
{
    CHECK(fx_boot(2));
    fx_gicd_write(0, 0, 1);
    for (unsigned off = 0; off < 0x1000; off++) {
        for (unsigned width = 1; width <= 8; width *= 2) {
            if (v2_writable(off, width))
                continue;
            CHECK(write_changes_nothing(fx_gicd_access, 0, off, width));
            if (v2_raz(off) || off % width || width == 8)
                CHECK_EQ(fx_gicd_access(1, off, width, 0, 0), 0);
        }
    }
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

static int v3d_writable(unsigned off, unsigned width)
{
    if (off % width)
        return 0;
    if (in(off, 0x6000 + 8 * 32, 0x7fe0))
        return width == 4 || width == 8;
    if (width == 1 || width == 2)
        return in(off, 0x400 + 32, 0x800);
    if (width != 4)
        return 0;
    return off == 0 || in(off, 0x084, 0x400) || in(off, 0x420, 0x800) || in(off, 0xc08, 0xd00);
}

TEST(widths_gicv3_distributor_every_offset)
{
    CHECK(fx_boot_v3(2));
    fx_gicd_write(0, 0, 0x12);
    for (unsigned off = 0; off < 0x10000; off++) {
        for (unsigned width = 1; width <= 8; width *= 2) {
            if (v3d_writable(off, width))
                continue;
            CHECK(write_changes_nothing(fx_gicd_access, 0, off, width));
        }
        sim.num_inj = 0;
    }
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

static int v3r_writable(unsigned off, unsigned width)
{
    unsigned fo = off % 0x20000;
    if (off % width)
        return 0;
    if (in(fo, 0x10400, 0x10420))
        return width <= 4;
    if (width != 4)
        return 0;
    return fo == 0x14 || fo == 0x10080 || fo == 0x10100 || fo == 0x10180 || fo == 0x10200 ||
           fo == 0x10280 || fo == 0x10300 || fo == 0x10380 || fo == 0x10c04;
}

TEST(widths_gicv3_redistributors_every_offset)
{
    CHECK(fx_boot_v3(2));
    for (unsigned off = 0; off < 2 * 0x20000; off++) {
        for (unsigned width = 1; width <= 8; width *= 2) {
            if (v3r_writable(off, width))
                continue;
            CHECK(write_changes_nothing(fx_gicr_access, 1, off, width));
        }
    }
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}
