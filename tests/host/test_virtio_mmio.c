/*
 * The virtio-mmio transport through real MMIO exits: every register at every width, feature
 * negotiation, queue set-up and its checks, reset, the configuration space, the interrupt line,
 * and the configuration checks at VM init.
 */
#include <proto/serial.h>
#include <stdio.h>
#include <string.h>

#include "sim_hyp.h"
#include "test.h"
#include "virtio_fx.h"

#define DEV (&fx.vm.virtio[0])

/* The registers a driver reads, and what they read in the state `known_state` leaves. */
struct readable {
    uint32_t off;
    uint32_t value;
};

static const struct readable readables[] = {
    { VIO_MAGIC, 0x74726976u },
    { VIO_VERSION, 2 },
    { VIO_DEVICE_ID, 3 },
    { VIO_VENDOR_ID, 0x4c4d5653u },
    { VIO_DEVICE_FEATURES, 1 }, /* DeviceFeaturesSel 1: VERSION_1 */
    { VIO_QUEUE_NUM_MAX, VIO_QMAX },
    { VIO_QUEUE_READY, 1 }, /* QueueSel 1, enabled */
    { VIO_INTERRUPT_STATUS, 0 },
    { VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK },
    { VIO_SHM_LEN_LOW, 0xffffffffu },
    { VIO_SHM_LEN_HIGH, 0xffffffffu },
    { VIO_SHM_BASE_LOW, 0xffffffffu },
    { VIO_SHM_BASE_HIGH, 0xffffffffu },
    { VIO_CONFIG_GENERATION, 0 },
};

static int known_state(void)
{
    if (!fx_boot_virtio(1, 0) || !vdrv_setup(8))
        return 0;
    vio_write(VIO_DEVICE_FEATURES_SEL, 1);
    vio_write(VIO_QUEUE_SEL, 1);
    return 1;
}

/* What the device's registers hold, to check that an access changed nothing. */
struct snapshot {
    uint32_t status, isr, dfsel, drsel, qsel, shm;
    uint64_t features;
    bool needs_reset, beyond;
    struct virtq vq[2];
};

static void snap(struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    s->status = DEV->status;
    s->isr = DEV->isr;
    s->dfsel = DEV->device_features_sel;
    s->drsel = DEV->driver_features_sel;
    s->qsel = DEV->queue_sel;
    s->shm = DEV->shm_sel;
    s->features = DEV->driver_features;
    s->needs_reset = DEV->needs_reset;
    s->beyond = DEV->driver_features_beyond;
    memcpy(s->vq, DEV->vq, sizeof(s->vq));
}

static bool same(const struct snapshot *a)
{
    struct snapshot b;
    snap(&b);
    return memcmp(a, &b, sizeof(b)) == 0;
}

TEST(virtio_mmio_identity_and_selectors)
{
    CHECK(fx_boot_virtio(1, 0));
    CHECK_EQ(vio_read(VIO_MAGIC), 0x74726976u);
    CHECK_EQ(vio_read(VIO_VERSION), 2);
    CHECK_EQ(vio_read(VIO_DEVICE_ID), 3);
    CHECK_EQ(vio_read(VIO_VENDOR_ID), 0x4c4d5653u);
    /* Offered: VERSION_1 (bit 32) and nothing else. */
    vio_write(VIO_DEVICE_FEATURES_SEL, 0);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), 0);
    vio_write(VIO_DEVICE_FEATURES_SEL, 1);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), 1);
    vio_write(VIO_DEVICE_FEATURES_SEL, 2);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), 0);
    vio_write(VIO_DEVICE_FEATURES_SEL, 0xffffffffu);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), 0);
    /* Two queues of up to 128; any other QueueSel is an absent queue. */
    for (uint32_t q = 0; q < 4; q++) {
        vio_write(VIO_QUEUE_SEL, q);
        CHECK_EQ(vio_read(VIO_QUEUE_NUM_MAX), q < 2 ? VIO_QMAX : 0);
        CHECK_EQ(vio_read(VIO_QUEUE_READY), 0);
    }
    vio_write(VIO_SHM_SEL, 0);
    CHECK_EQ(vio_read(VIO_SHM_LEN_LOW), 0xffffffffu);
    CHECK_EQ(vio_read(VIO_SHM_LEN_HIGH), 0xffffffffu);
    CHECK_EQ(vio_read(VIO_CONFIG_GENERATION), 0);
    CHECK_EQ(vio_read(VIO_STATUS), 0);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 0);
    CHECK(sim_console_lacks("not a valid access"));
}

/* Every offset of the register block at every width: a valid read returns the register, any
 * other reads as zero, is reported, and changes nothing. */
TEST(virtio_mmio_every_register_every_width)
{
    static const unsigned widths[] = { 1, 2, 4, 8 };
    CHECK(known_state());
    struct snapshot before;
    snap(&before);
    unsigned valid = 0, invalid = 0;
    for (uint32_t off = 0; off < FX_VIRTIO_SIZE; off++) {
        for (unsigned w = 0; w < 4; w++) {
            unsigned width = widths[w];
            if (off + width > FX_VIRTIO_SIZE)
                continue;
            uint64_t want = 0;
            bool ok = false;
            if (off >= VIO_CONFIG) {
                ok = width <= 4 && off % width == 0 && off - VIO_CONFIG + width <= 12;
            } else if (width == 4 && off % 4 == 0) {
                for (unsigned i = 0; i < sizeof(readables) / sizeof(readables[0]); i++) {
                    if (readables[i].off == off) {
                        ok = true;
                        want = readables[i].value;
                    }
                }
            }
            uint64_t got = vio_access(off, width, 0, 0x5a5a5a5a5a5a5a5aull);
            if (got != want)
                printf("    offset 0x%x width %u: read 0x%llx, expected 0x%llx\n", off, width,
                       (unsigned long long)got, (unsigned long long)want);
            CHECK_EQ(got, want);
            valid += ok;
            invalid += !ok;
        }
    }
    CHECK(same(&before));
    CHECK_EQ(valid, sizeof(readables) / sizeof(readables[0]) + 12 + 6 + 3);
    CHECK(invalid > 1500);
    /* Reported (rate-limited), naming the register and the reason. */
    CHECK(vm_boot(&fx.vm));
    CHECK(sim_console_has("more reports of invalid virtio-mmio accesses suppressed"));
}

TEST(virtio_mmio_bad_widths_report_and_change_nothing)
{
    CHECK(known_state());
    struct snapshot before;
    snap(&before);
    /* Narrow, wide and unaligned writes of zero to Status would reset the device if taken. */
    vio_access(VIO_STATUS, 1, 1, 0);
    vio_access(VIO_STATUS, 2, 1, 0);
    vio_access(VIO_STATUS, 8, 1, 0);
    vio_access(VIO_STATUS + 2, 2, 1, 0);
    vio_access(VIO_QUEUE_SEL, 1, 1, 0);
    vio_access(VIO_QUEUE_READY, 2, 1, 0);
    vio_access(VIO_QUEUE_NOTIFY, 8, 1, 1);
    vio_access(VIO_INTERRUPT_ACK, 1, 1, 0xff);
    CHECK(same(&before));
    CHECK(sim_console_has("virtio: warning: console@0xa003e00: vCPU 0: 1-byte write of 0x0 to "
                          "offset 0x70 (Status) is not a valid access (registers take aligned "
                          "32-bit accesses); ignored"));
    CHECK_EQ(vio_access(VIO_MAGIC, 2, 0, 0), 0);
    CHECK(sim_console_has("2-byte read of offset 0x0 (MagicValue) is not a valid access "
                          "(registers take aligned 32-bit accesses); reads as zero"));
    CHECK_EQ(vio_access(VIO_MAGIC + 1, 4, 0, 0), 0);
    /* The VM goes on: none of this is an abort. */
    CHECK(fx.vm.state == VM_RUNNING);
    CHECK(sim_console_lacks("external abort"));
    /* Every offset, every width a register does not take, zeros and ones: nothing changes
     * (the configuration space is read-only for the console). */
    static const unsigned widths[] = { 1, 2, 4, 8 };
    for (uint32_t off = 0; off < FX_VIRTIO_SIZE; off++) {
        for (unsigned w = 0; w < 4; w++) {
            if ((off < VIO_CONFIG && widths[w] == 4 && off % 4 == 0) ||
                off + widths[w] > FX_VIRTIO_SIZE)
                continue;
            vio_access(off, widths[w], 1, 0);
            vio_access(off, widths[w], 1, ~0ull);
        }
    }
    CHECK(same(&before));
    CHECK(fx.vm.state == VM_RUNNING);
}

TEST(virtio_mmio_direction_and_holes)
{
    CHECK(known_state());
    struct snapshot before;
    snap(&before);
    vio_write(VIO_MAGIC, 0);
    vio_write(VIO_QUEUE_NUM_MAX, 4);
    vio_write(VIO_INTERRUPT_STATUS, 3);
    vio_write(VIO_CONFIG_GENERATION, 9);
    CHECK(same(&before));
    CHECK(sim_console_has("(MagicValue) is not a valid access (read-only); ignored"));
    CHECK_EQ(vio_read(VIO_MAGIC), 0x74726976u);
    CHECK_EQ(vio_read(VIO_QUEUE_SEL), 0);
    CHECK_EQ(vio_read(VIO_DRIVER_FEATURES), 0);
    CHECK_EQ(vio_read(VIO_QUEUE_NOTIFY), 0);
    CHECK(sim_console_has("offset 0x30 (QueueSel) is not a valid access (write-only); reads as "
                          "zero"));
    /* Holes, and QueueReset (VIRTIO_F_RING_RESET is not offered). */
    CHECK_EQ(vio_read(0x018), 0);
    CHECK_EQ(vio_read(VIO_QUEUE_RESET), 0);
    vio_write(VIO_QUEUE_RESET, 1);
    CHECK(sim_console_has("offset 0xc0 (no register) is not a valid access (nothing is there)"));
    CHECK(same(&before));
    /* A 32-bit write to any offset with no writable register changes nothing. */
    static const uint32_t writable[] = { VIO_DEVICE_FEATURES_SEL,
                                         VIO_DRIVER_FEATURES,
                                         VIO_DRIVER_FEATURES_SEL,
                                         VIO_QUEUE_SEL,
                                         VIO_QUEUE_NUM,
                                         VIO_QUEUE_READY,
                                         VIO_QUEUE_NOTIFY,
                                         VIO_INTERRUPT_ACK,
                                         VIO_STATUS,
                                         VIO_QUEUE_DESC_LOW,
                                         VIO_QUEUE_DESC_HIGH,
                                         VIO_QUEUE_DRIVER_LOW,
                                         VIO_QUEUE_DRIVER_HIGH,
                                         VIO_QUEUE_DEVICE_LOW,
                                         VIO_QUEUE_DEVICE_HIGH,
                                         VIO_SHM_SEL };
    unsigned tried = 0;
    for (uint32_t off = 0; off < VIO_CONFIG; off += 4) {
        bool w = false;
        for (unsigned i = 0; i < sizeof(writable) / sizeof(writable[0]); i++)
            w |= writable[i] == off;
        if (w)
            continue;
        vio_write(off, 0);
        vio_write(off, 0xffffffffu);
        tried++;
    }
    CHECK_EQ(tried, 64 - 16);
    CHECK(same(&before));
    CHECK_EQ(vio_read(VIO_MAGIC), 0x74726976u);
}

/* FEATURES_OK sticks only for a subset of the offered features that includes VERSION_1. */
TEST(virtio_feature_negotiation)
{
    CHECK(fx_boot_virtio(1, 0));
    CHECK_EQ(vdrv_negotiate(VIO_F_VERSION_1_HI, 0), VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK);
    CHECK_EQ(DEV->driver_features, 1ull << 32);
    /* A legacy driver (no VERSION_1). */
    CHECK_EQ(vdrv_negotiate(0, 0), VIO_S_ACK | VIO_S_DRIVER);
    CHECK(sim_console_has("driver features 0x0 are not a subset of 0x100000000 with VERSION_1; "
                          "FEATURES_OK stays clear"));
    /* Features not offered: SIZE (0), MULTIPORT (1), EMERG_WRITE (2), INDIRECT_DESC (28),
     * EVENT_IDX (29), ACCESS_PLATFORM (33), RING_PACKED (34). */
    static const unsigned unknown[] = { 0, 1, 2, 28, 29, 33, 34, 63 };
    for (unsigned i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        unsigned bit = unknown[i];
        uint32_t hi = VIO_F_VERSION_1_HI | (bit >= 32 ? 1u << (bit - 32) : 0);
        uint32_t lo = bit < 32 ? 1u << bit : 0;
        CHECK_EQ(vdrv_negotiate(hi, lo), VIO_S_ACK | VIO_S_DRIVER);
    }
    /* Bits beyond 63 (DriverFeaturesSel 2) are not offered either. */
    vio_write(VIO_STATUS, 0);
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER);
    vio_write(VIO_DRIVER_FEATURES_SEL, 1);
    vio_write(VIO_DRIVER_FEATURES, VIO_F_VERSION_1_HI);
    vio_write(VIO_DRIVER_FEATURES_SEL, 2);
    vio_write(VIO_DRIVER_FEATURES, 1);
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK);
    CHECK_EQ(vio_read(VIO_STATUS), VIO_S_ACK | VIO_S_DRIVER);
    /* ...but zero written there is fine. */
    vio_write(VIO_STATUS, 0);
    vio_write(VIO_DRIVER_FEATURES_SEL, 1);
    vio_write(VIO_DRIVER_FEATURES, VIO_F_VERSION_1_HI);
    vio_write(VIO_DRIVER_FEATURES_SEL, 5);
    vio_write(VIO_DRIVER_FEATURES, 0);
    vio_write(VIO_STATUS, VIO_S_FEATURES_OK);
    CHECK_EQ(vio_read(VIO_STATUS), VIO_S_FEATURES_OK);
    /* Once FEATURES_OK holds, the features are fixed. (A new boot: the warnings above used up
     * the rate limit.) */
    CHECK(vm_boot(&fx.vm));
    CHECK(vdrv_negotiate(VIO_F_VERSION_1_HI, 0) & VIO_S_FEATURES_OK);
    vio_write(VIO_DRIVER_FEATURES_SEL, 0);
    vio_write(VIO_DRIVER_FEATURES, 0xffffffffu);
    CHECK_EQ(DEV->driver_features, 1ull << 32);
    CHECK(
        sim_console_has("DriverFeatures written (0xffffffff, word 0) after FEATURES_OK; ignored"));
    /* DRIVER_OK without FEATURES_OK does not make the device live. */
    CHECK(vdrv_negotiate(0, 0) == (VIO_S_ACK | VIO_S_DRIVER));
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_DRIVER_OK);
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_DRIVER_OK | VIO_S_FEATURES_OK);
    CHECK_EQ(vio_read(VIO_STATUS) & VIO_S_FEATURES_OK, 0);
    /* The driver cannot set DEVICE_NEEDS_RESET itself. */
    vio_write(VIO_STATUS, 0);
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_NEEDS_RESET);
    CHECK_EQ(vio_read(VIO_STATUS), VIO_S_ACK);
}

TEST(virtio_queue_num_max_and_num)
{
    CHECK(fx_boot_virtio(1, 0));
    static const uint32_t bad[] = { 0, 3, 100, VIO_QMAX * 2, 0x10000, 0xffffffffu };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(vdrv_negotiate(VIO_F_VERSION_1_HI, 0) & VIO_S_FEATURES_OK);
        vio_write(VIO_QUEUE_SEL, 0);
        vio_write(VIO_QUEUE_NUM, bad[i]);
        vio_write(VIO_QUEUE_DESC_LOW, VIO_QAREA(0));
        vio_write(VIO_QUEUE_DRIVER_LOW, VIO_QAREA(0) + 0x1000);
        vio_write(VIO_QUEUE_DEVICE_LOW, VIO_QAREA(0) + 0x2000);
        vio_write(VIO_QUEUE_READY, 1);
        CHECK_EQ(vio_read(VIO_QUEUE_READY), 0);
        CHECK(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET);
    }
    CHECK(sim_console_has("virtio: error: console@0xa003e00: receiveq0: cannot be enabled: "
                          "QueueNum 3 is not a power of two from 1 to 128; the device needs a "
                          "reset (DEVICE_NEEDS_RESET)"));
    CHECK(sim_console_has("QueueNum 4294967295 is not a power of two"));
    CHECK(sim_console_has("QueueNum 65536 is not a power of two"));
    /* Every power of two up to QueueNumMax works; so does not writing QueueNum at all (the
     * maximum). */
    for (uint16_t n = 1; n <= VIO_QMAX; n *= 2) {
        CHECK(vdrv_negotiate(VIO_F_VERSION_1_HI, 0) & VIO_S_FEATURES_OK);
        vdrv_queue_setup(1, n);
        CHECK_EQ(vio_read(VIO_QUEUE_READY), 1);
        CHECK_EQ(DEV->vq[1].num, n);
        CHECK(!(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET));
    }
    vio_write(VIO_STATUS, 0);
    vio_write(VIO_QUEUE_SEL, 0);
    vio_write(VIO_QUEUE_DESC_LOW, VIO_QAREA(0));
    vio_write(VIO_QUEUE_DRIVER_LOW, VIO_QAREA(0) + 0x1000);
    vio_write(VIO_QUEUE_DEVICE_LOW, VIO_QAREA(0) + 0x2000);
    vio_write(VIO_QUEUE_READY, 1);
    CHECK_EQ(vio_read(VIO_QUEUE_READY), 1);
    CHECK_EQ(DEV->vq[0].num, VIO_QMAX);
}

TEST(virtio_queue_registers_while_enabled_or_absent)
{
    CHECK(known_state());
    struct snapshot before;
    snap(&before);
    /* Queue 1 is enabled: its set-up registers are fixed. */
    vio_write(VIO_QUEUE_NUM, 2);
    vio_write(VIO_QUEUE_DESC_LOW, 0x1000);
    vio_write(VIO_QUEUE_DEVICE_HIGH, 1);
    CHECK(same(&before));
    CHECK(sim_console_has("QueueNum written (0x2) while transmitq0 is enabled; ignored"));
    CHECK(sim_console_has("QueueDeviceHigh written (0x1) while transmitq0 is enabled; ignored"));
    /* No queue 7. */
    vio_write(VIO_QUEUE_SEL, 7);
    snap(&before);
    vio_write(VIO_QUEUE_NUM, 2);
    vio_write(VIO_QUEUE_READY, 1);
    vio_write(VIO_QUEUE_NOTIFY, 7);
    CHECK(same(&before));
    CHECK(sim_console_has("QueueNum written (0x2) with QueueSel 7, which is no queue; ignored"));
    CHECK(sim_console_has("QueueNotify for queue 7, which the device does not have; ignored"));
    CHECK_EQ(vio_read(VIO_QUEUE_READY), 0);
    /* QueueReady takes 0 or 1. */
    vio_write(VIO_QUEUE_SEL, 1);
    vio_write(VIO_QUEUE_READY, 2);
    CHECK_EQ(vio_read(VIO_QUEUE_READY), 1);
    /* Disabled, it reads back 0 at once and may be set up again. */
    vio_write(VIO_QUEUE_READY, 0);
    CHECK_EQ(vio_read(VIO_QUEUE_READY), 0);
    vio_write(VIO_QUEUE_NUM, 4);
    CHECK_EQ(DEV->vq[1].num, 4);
}

/* A queue whose areas are not aligned, not in guest RAM or wrap around the address space is
 * not enabled, and the device needs a reset. */
TEST(virtio_queue_bad_addresses)
{
    const uint64_t ram_end = FX_RAM_BASE + FX_RAM_SIZE;
    struct {
        uint64_t desc, driver, device;
        const char *why;
    } cases[] = {
        { 0x1000, VIO_QAREA(0) + 0x1000, VIO_QAREA(0) + 0x2000,
          "descriptor table (0x80 bytes "
          "at 0x1000) is not inside" },
        { FX_RAM_BASE - 0x40, VIO_QAREA(0) + 0x1000, VIO_QAREA(0) + 0x2000, "not inside" },
        { ram_end - 0x40, VIO_QAREA(0) + 0x1000, VIO_QAREA(0) + 0x2000, "not inside" },
        { ram_end, VIO_QAREA(0) + 0x1000, VIO_QAREA(0) + 0x2000, "not inside" },
        { 0xfffffffffffffff0ull, VIO_QAREA(0) + 0x1000, VIO_QAREA(0) + 0x2000, "not inside" },
        { FX_RAM_BASE + (1ull << 32), VIO_QAREA(0) + 0x1000, VIO_QAREA(0) + 0x2000, "not inside" },
        { VIO_QAREA(0) + 8, VIO_QAREA(0) + 0x1000, VIO_QAREA(0) + 0x2000, "not 16-byte aligned" },
        { VIO_QAREA(0), VIO_QAREA(0) + 0x1001, VIO_QAREA(0) + 0x2000,
          "driver area at "
          "0x40801001 is not "
          "2-byte aligned" },
        { VIO_QAREA(0), ram_end - 6, VIO_QAREA(0) + 0x2000, "driver area (0x16 bytes" },
        { VIO_QAREA(0), 0xfffffffffffffffeull, VIO_QAREA(0) + 0x2000, "driver area" },
        { VIO_QAREA(0), VIO_QAREA(0) + 0x1000, VIO_QAREA(0) + 0x2002, "not 4-byte aligned" },
        { VIO_QAREA(0), VIO_QAREA(0) + 0x1000, ram_end - 0x20, "device area (0x46 bytes" },
        { VIO_QAREA(0), VIO_QAREA(0) + 0x1000, 0xfffffffffffffffcull, "device area" },
    };
    CHECK(fx_boot_virtio(1, 0));
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(vm_boot(&fx.vm)); /* the reports are rate-limited: each case on a new boot */
        sim_reset();
        CHECK(vdrv_negotiate(VIO_F_VERSION_1_HI, 0) & VIO_S_FEATURES_OK);
        CHECK(!vio_line());
        vio_write(VIO_QUEUE_SEL, 0);
        vio_write(VIO_QUEUE_NUM, 8);
        vio_write(VIO_QUEUE_DESC_LOW, (uint32_t)cases[i].desc);
        vio_write(VIO_QUEUE_DESC_HIGH, (uint32_t)(cases[i].desc >> 32));
        vio_write(VIO_QUEUE_DRIVER_LOW, (uint32_t)cases[i].driver);
        vio_write(VIO_QUEUE_DRIVER_HIGH, (uint32_t)(cases[i].driver >> 32));
        vio_write(VIO_QUEUE_DEVICE_LOW, (uint32_t)cases[i].device);
        vio_write(VIO_QUEUE_DEVICE_HIGH, (uint32_t)(cases[i].device >> 32));
        vio_write(VIO_QUEUE_READY, 1);
        if (!sim_console_has(cases[i].why))
            printf("    case %u: no \"%s\" in:\n%s", i, cases[i].why, sim.console);
        CHECK(sim_console_has(cases[i].why));
        CHECK(sim_console_has("receiveq0: cannot be enabled"));
        CHECK_EQ(vio_read(VIO_QUEUE_READY), 0);
        CHECK_EQ(vio_read(VIO_STATUS),
                 VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_NEEDS_RESET);
        /* The configuration-change interrupt tells the driver. */
        CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 2);
        CHECK(vio_line());
        /* Nothing works until a reset. */
        vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
        CHECK(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET);
        vio_write(VIO_STATUS, 0);
        CHECK_EQ(vio_read(VIO_STATUS), 0);
        CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 0);
        CHECK(!vio_line());
    }
}

TEST(virtio_reset_clears_registers_and_queues)
{
    CHECK(known_state());
    vio_write(VIO_DRIVER_FEATURES_SEL, 1);
    vio_write(VIO_SHM_SEL, 3);
    DEV->isr = 1; /* as if a buffer had been used */
    vio_write(VIO_STATUS, 0);
    CHECK_EQ(vio_read(VIO_STATUS), 0);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 0);
    CHECK(!vio_line());
    CHECK_EQ(DEV->driver_features, 0);
    CHECK_EQ(DEV->device_features_sel, 0);
    CHECK_EQ(DEV->driver_features_sel, 0);
    CHECK_EQ(DEV->queue_sel, 0);
    for (uint32_t q = 0; q < 2; q++) {
        vio_write(VIO_QUEUE_SEL, q);
        CHECK_EQ(vio_read(VIO_QUEUE_READY), 0);
        CHECK_EQ(DEV->vq[q].num, VIO_QMAX);
        CHECK_EQ(DEV->vq[q].desc, 0);
    }
    /* And it can be set up again. */
    CHECK(vdrv_setup(16));
}

TEST(virtio_config_space)
{
    CHECK(known_state());
    struct snapshot before;
    snap(&before);
    /* cols, rows, max_nr_ports, emerg_wr: not in use without SIZE/MULTIPORT/EMERG_WRITE. */
    for (uint32_t off = 0; off < 12; off++) {
        CHECK_EQ(vio_access(VIO_CONFIG + off, 1, 0, 7), 0);
        if (off % 2 == 0)
            CHECK_EQ(vio_access(VIO_CONFIG + off, 2, 0, 7), 0);
    }
    CHECK(sim_console_lacks("configuration space"));
    /* 64-bit, unaligned, beyond the 12 bytes, writes: reported. */
    CHECK_EQ(vio_access(VIO_CONFIG, 8, 0, 7), 0);
    CHECK(sim_console_has("8-byte read of offset 0x100 (configuration space) is not a valid "
                          "access (it takes aligned 8, 16 or 32-bit accesses)"));
    CHECK_EQ(vio_access(VIO_CONFIG + 1, 2, 0, 7), 0);
    CHECK_EQ(vio_access(VIO_CONFIG + 12, 4, 0, 7), 0);
    CHECK(sim_console_has("(beyond the device's configuration space)"));
    CHECK_EQ(vio_access(VIO_CONFIG + 0xfc, 4, 0, 7), 0);
    vio_access(VIO_CONFIG + 8, 4, 1, 'x'); /* emerg_wr: EMERG_WRITE is not offered */
    CHECK(sim_console_has("(the configuration space is read-only); ignored"));
    CHECK(same(&before));
    CHECK_EQ(vio_read(VIO_CONFIG_GENERATION), 0);
}

/* The line is high exactly while InterruptStatus is not zero. */
TEST(virtio_interrupt_line_follows_interrupt_status)
{
    CHECK(known_state());
    fb_attach();
    fx_gicd_write(0, 0x000, 1);                                   /* distributor on */
    fx_gicd_write(0, 0x100 + 4 * (FX_VIRTIO_IRQ / 32), 1u << 16); /* enable SPI 48 */
    unsigned injected = sim_injections_of(0, FX_VIRTIO_IRQ);
    uint64_t gpa = VIO_DATA;
    uint32_t len = 3;
    memcpy(vio_ram(gpa), "hi\n", 3);
    vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 1);
    CHECK(vio_line());
    CHECK_EQ(sim_injections_of(0, FX_VIRTIO_IRQ), injected + 1);
    /* Acknowledging an event that did not happen changes nothing. */
    vio_write(VIO_INTERRUPT_ACK, 2);
    CHECK(vio_line());
    vio_write(VIO_INTERRUPT_ACK, 1);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 0);
    CHECK(!vio_line());
    /* The guest EOIs: a level interrupt whose line is low is not pending again. */
    CHECK(fx_guest_handles(0, FX_VIRTIO_IRQ));
    CHECK_EQ(sim_injections_of(0, FX_VIRTIO_IRQ), injected + 1);
    /* Two events before the guest looks: one line, both bits, cleared one at a time. */
    memcpy(vio_ram(gpa), "x", 1);
    vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
    vdrv_notify(VIO_TXQ);
    vio_write(VIO_QUEUE_SEL, 1);
    vio_write(VIO_QUEUE_NUM, 1); /* while enabled: a warning, no interrupt */
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 1);
    CHECK(vio_line());
    CHECK(fx_guest_handles(0, FX_VIRTIO_IRQ));
    /* Still high after EOI: delivered again. */
    CHECK_EQ(sim_injections_of(0, FX_VIRTIO_IRQ), injected + 3);
    vio_write(VIO_INTERRUPT_ACK, 3);
    CHECK(!vio_line());
}

/* ---- the configuration, checked at VM init ---- */

static bool init_refuses(const char *line)
{
    sim_reset();
    bool refused = !vm_init(&fx.vm, &fx.cfg, fx.ram);
    if (!refused || !sim_console_has(line))
        printf("    expected a refusal with \"%s\", got:\n%s", line, sim.console);
    return refused && sim_console_has(line);
}

TEST(virtio_config_checked_at_init)
{
    struct vmm_virtio_device *v = &fx.virtio[0];
#define CASE(change, line)         \
    do {                           \
        fx_config(1);              \
        fx_add_virtio_console();   \
        change;                    \
        CHECK(init_refuses(line)); \
    } while (0)
    CASE(v->base += 0x100, "virtio console 'console': its registers (0x200 bytes at 0xa003f00) "
                           "are not a multiple of 0x200 bytes at an address aligned to 0x200");
    CASE(v->size = 0x100, "are not a multiple of 0x200 bytes");
    CASE(v->size = 0x300, "are not a multiple of 0x200 bytes");
    CASE((v->base = 0xfffffffffffffe00ull, v->size = 0x400), "wrap around the address space");
    CASE(v->base = FX_RAM_BASE + 0x1000, "its registers at 0x40001000 overlap guest RAM");
    CASE(v->base = FX_GICD, "console at 0x8000000 overlaps GICv2 distributor");
    CASE(v->irq = 27, "interrupt 27 is not an SPI of this VM's GIC (32..63)");
    CASE(v->irq = 64, "interrupt 64 is not an SPI");
    CASE(v->irq = FX_UART_IRQ, "the passthrough interrupt 33 on channel 1 has one of them");
    CASE(v->conn.channel = FX_UART_CH, "the passthrough interrupt 33 on channel 1");
    CASE(v->conn.channel = FX_WAKEUP_CH, "channel 2 is the wake-up timer's");
    CASE(v->conn.capacity = 12, "its ring capacity is not a power of two");
    CASE(v->conn.capacity = 0, "its ring capacity is not a power of two");
    CASE(v->conn.rx_data = 0, "a region of its backend connection is not mapped");
    CASE(v->conn.tx_size = 100, "a data region of its backend connection is smaller than one "
                                "buffer");
    CASE(v->type = VMM_VIRTIO_BLK, "virtio block device 'console': its data region is smaller "
                                   "than two pages");
    CASE(v->type = (enum vmm_virtio_type)77, "type 77 (unknown type) is not supported");
    CASE(v->name = NULL, "virtio device 0 has no name");
    CASE((fx.virtio[1] = fx.virtio[0], fx.virtio[1].name = "second", fx.virtio[1].base += 0x200,
          fx.cfg.num_virtio = 2),
         "virtio console 'second': interrupt 48 / channel 3: virtio device 'console' has one of "
         "them already");
    CASE((fx.virtio[1] = fx.virtio[0], fx.virtio[1].name = "second", fx.virtio[1].irq = 49,
          fx.virtio[1].conn.channel = 4, fx.cfg.num_virtio = 2),
         "second at 0xa003e00 overlaps console");
    CASE(fx.cfg.num_virtio = VIRTIO_MAX_DEVICES + 1, "9 virtio devices configured (at most 8)");
#undef CASE
    /* Eight devices, each with its own registers, interrupt and channel, are fine. */
    fx_config(1);
    fx_add_virtio_console();
    for (unsigned i = 1; i < VIRTIO_MAX_DEVICES; i++) {
        fx.virtio[i] = fx.virtio[0];
        fx.virtio[i].base -= 0x200u * i;
        fx.virtio[i].irq = FX_VIRTIO_IRQ + i;
        fx.virtio[i].conn.channel = 10 + i;
    }
    fx.cfg.num_virtio = VIRTIO_MAX_DEVICES;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram));
    CHECK_EQ(fx.vm.num_virtio, VIRTIO_MAX_DEVICES);
    CHECK_EQ(fx.vm.num_mmio, 1 + VIRTIO_MAX_DEVICES);
}

/* A VM without virtio devices has what it had before: one MMIO region, no device. */
TEST(virtio_none_configured_changes_nothing)
{
    CHECK(fx_boot(1));
    CHECK_EQ(fx.vm.num_virtio, 0);
    CHECK_EQ(fx.vm.num_mmio, 1);
    vm_notified(&fx.vm, FX_VIRTIO_CH);
    CHECK(sim_console_has("notification on channel 3, which carries no guest interrupt"));
    struct exit_reply r;
    fx_mmio(0, FX_VIRTIO_BASE, 4, 0, 1, 0, 0, &r);
    CHECK(sim_console_has("not RAM nor a device this VM has"));
}
