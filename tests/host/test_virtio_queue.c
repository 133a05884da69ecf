/*
 * Split virtqueues against a hostile driver: descriptor loops, chains longer than the queue,
 * indices beyond it, buffers outside guest RAM or wrapping around, oversize buffers, the wrong
 * direction, indirect descriptors. Each puts the device in DEVICE_NEEDS_RESET with a decoded
 * report and a configuration-change interrupt; nothing more happens until a reset, after which
 * the device works again.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE */
#include <proto/serial.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "../../src/virtio/virtio_internal.h"
#include "sim_hyp.h"
#include "test.h"
#include "virtio_fx.h"

#define DEV (&fx.vm.virtio[0])
#define RAM_END (FX_RAM_BASE + FX_RAM_SIZE)
#define QN 8u

static int console_up(void)
{
    if (!fx_boot_virtio(1, 0))
        return 0;
    fb_attach();
    return vdrv_setup(QN);
}

/* The device refused what the driver did: NEEDS_RESET, the configuration interrupt, a report
 * with `line`, no used entry. (Bytes of a chain copied before its bad descriptor may have gone
 * to the backend.) */
static bool refused(unsigned q, uint16_t used_before, const char *line)
{
    bool ok = (vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET) && (vio_read(VIO_INTERRUPT_STATUS) & 2) &&
              vio_line() && sim_console_has(line) && vdrv_used_idx(q) == used_before &&
              sim_console_has("the device needs a reset (DEVICE_NEEDS_RESET)");
    if (!ok)
        printf("    expected a refusal with \"%s\": status 0x%x, isr 0x%x, used %u (was %u), "
               "console:\n%s",
               line, vio_read(VIO_STATUS), vio_read(VIO_INTERRUPT_STATUS), vdrv_used_idx(q),
               used_before, sim.console);
    return ok;
}

/* After a refusal: notifications do nothing; a reset and a fresh set-up work again. */
static bool recovers(void)
{
    uint16_t used = vdrv_used_idx(VIO_TXQ);
    uint64_t gpa = VIO_DATA + 0x8000;
    uint32_t len = 2;
    memcpy(vio_ram(gpa), "ok", 2);
    vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
    vdrv_notify(VIO_TXQ);
    vdrv_notify(VIO_RXQ);
    if (vdrv_used_idx(VIO_TXQ) != used)
        return false;
    if (!vdrv_setup(QN))
        return false;
    fb_take_output(16, true);
    fb.out_len = 0;
    vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
    vdrv_notify(VIO_TXQ);
    fb_take_output(16, true);
    return vdrv_used_idx(VIO_TXQ) == 1 && fb.out_len == 2 && memcmp(fb.out, "ok", 2) == 0;
}

struct bad_chain {
    const char *name;
    void (*build)(void);
    const char *line;
};

static void d(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    vdrv_desc(VIO_TXQ, i, addr, len, flags, next);
}

static void loop2(void)
{
    d(0, VIO_DATA, 2, VIO_D_NEXT, 1);
    d(1, VIO_DATA, 2, VIO_D_NEXT, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static void self_loop(void)
{
    d(3, VIO_DATA, 2, VIO_D_NEXT, 3);
    vdrv_avail(VIO_TXQ, 3);
}

static void longer_than_queue(void)
{
    for (uint16_t i = 0; i < QN; i++)
        d(i, VIO_DATA + i, 1, VIO_D_NEXT, (uint16_t)((i + 1) % QN));
    vdrv_avail(VIO_TXQ, 0);
}

static void next_beyond(void)
{
    d(0, VIO_DATA, 2, VIO_D_NEXT, QN);
    vdrv_avail(VIO_TXQ, 0);
}

static void next_huge(void)
{
    d(5, VIO_DATA, 2, VIO_D_NEXT, 0xffff);
    vdrv_avail(VIO_TXQ, 5);
}

static void head_beyond(void)
{
    d(0, VIO_DATA, 2, 0, 0);
    vdrv_avail(VIO_TXQ, 9);
}

static void avail_index_jumps(void)
{
    d(0, VIO_DATA, 2, 0, 0);
    vdrv_avail(VIO_TXQ, 0);
    uint16_t idx = 100;
    memcpy(vio_ram(vdrv_q[VIO_TXQ].avail + 2), &idx, 2);
}

static void outside_ram(void)
{
    d(0, 0x1000, 16, 0, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static void below_ram(void)
{
    d(0, FX_RAM_BASE - 1, 2, 0, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static void wraps_around(void)
{
    d(0, 0xffffffffffffff00ull, 0x200, 0, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static void straddles_ram_end(void)
{
    d(0, RAM_END - 4, 8, 0, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static void oversize(void)
{
    d(0, FX_RAM_BASE, 0xffffffffu, 0, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static void second_outside(void)
{
    d(0, VIO_DATA, 2, VIO_D_NEXT, 1);
    d(1, RAM_END, 1, 0, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static void writable_in_tx(void)
{
    d(0, VIO_DATA, 2, VIO_D_WRITE, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static void indirect(void)
{
    d(0, VIO_DATA, 32, 4, 0);
    vdrv_avail(VIO_TXQ, 0);
}

static const struct bad_chain bad_chains[] = {
    { "loop", loop2,
      "transmitq0: chain from descriptor 0 loops back to descriptor 0 after 2 "
      "descriptors" },
    { "self loop", self_loop, "chain from descriptor 3 loops back to descriptor 3 after 1" },
    { "longer than the queue", longer_than_queue,
      "chain from descriptor 0 goes on after all 8 descriptors of the queue, back to "
      "descriptor 0" },
    { "next beyond", next_beyond, "descriptor 8 is beyond the queue's 8 (after 1 descriptors)" },
    { "next huge", next_huge, "descriptor 65535 is beyond the queue's 8" },
    { "head beyond", head_beyond, "available entry 0 names descriptor 9, beyond the queue's 8" },
    { "available index", avail_index_jumps,
      "the available index moved to 100, 100 entries past the 0 taken, more than the queue's 8" },
    { "outside RAM", outside_ram,
      "descriptor 0 (0x10 bytes at 0x1000, flags 0x0 ) is not inside "
      "guest RAM" },
    { "below RAM", below_ram, "(0x2 bytes at 0x3fffffff, flags 0x0 ) is not inside guest RAM" },
    { "wraps around", wraps_around,
      "(0x200 bytes at 0xffffffffffffff00, flags 0x0 ) is not "
      "inside" },
    { "straddles RAM end", straddles_ram_end,
      "(0x8 bytes at 0x40fffffc, flags 0x0 ) is not "
      "inside" },
    { "oversize", oversize, "(0xffffffff bytes at 0x40000000, flags 0x0 ) is not inside" },
    { "second outside", second_outside,
      "descriptor 1 (0x1 bytes at 0x41000000, flags 0x0 ) is "
      "not inside" },
    { "device-writable", writable_in_tx,
      "descriptor 0 (0x2 bytes at 0x40900000, flags 0x2 "
      "WRITE) is device-writable in a queue of buffers the "
      "device only reads" },
    { "indirect", indirect,
      "(0x20 bytes at 0x40900000, flags 0x4 INDIRECT) is indirect, and "
      "VIRTIO_F_INDIRECT_DESC was not negotiated" },
};

TEST(virtio_queue_hostile_chains)
{
    for (unsigned i = 0; i < sizeof(bad_chains) / sizeof(bad_chains[0]); i++) {
        const struct bad_chain *b = &bad_chains[i];
        CHECK(console_up());
        sim_reset();
        b->build();
        vdrv_notify(VIO_TXQ);
        if (!refused(VIO_TXQ, 0, b->line))
            printf("    case: %s\n", b->name);
        CHECK(refused(VIO_TXQ, 0, b->line));
        CHECK(fx.vm.state == VM_RUNNING);
        bool ok = recovers();
        if (!ok)
            printf("    case %s: no recovery\n", b->name);
        CHECK(ok);
    }
}

/* A device-readable buffer in receiveq0 (the device only writes there). */
TEST(virtio_queue_readable_buffer_in_receive_queue)
{
    CHECK(console_up());
    CHECK(fb_send_input("x", 1));
    uint8_t canary[64];
    memset(vio_ram(VIO_DATA), 0xee, sizeof(canary));
    memcpy(canary, vio_ram(VIO_DATA), sizeof(canary));
    uint64_t gpa = VIO_DATA;
    uint32_t len = 64;
    vdrv_chain(VIO_RXQ, &gpa, &len, 1, false);
    vdrv_notify(VIO_RXQ);
    CHECK(refused(VIO_RXQ, 0,
                  "receiveq0: chain from descriptor 0: descriptor 0 (0x40 bytes at "
                  "0x40900000, flags 0x0 ) is device-readable in a queue of buffers "
                  "the device only writes"));
    CHECK(memcmp(canary, vio_ram(VIO_DATA), sizeof(canary)) == 0);
    /* After a reset and a proper set-up, the held input is delivered. */
    CHECK(vdrv_setup(QN));
    len = 64;
    vdrv_chain(VIO_RXQ, &gpa, &len, 1, true);
    vdrv_notify(VIO_RXQ);
    uint32_t id, n;
    CHECK(vdrv_next_used(VIO_RXQ, &id, &n));
    CHECK_EQ(n, 1);
    CHECK_EQ(*vio_ram(VIO_DATA), 'x');
    CHECK_EQ(fb_count(CONN_RX_FREE), 8);
}

/* Zero-length and unaligned buffers are fine; so is a chain using every descriptor. */
TEST(virtio_queue_legal_odd_chains)
{
    CHECK(console_up());
    uint64_t gpa[QN];
    uint32_t len[QN];
    for (unsigned i = 0; i < QN; i++) {
        gpa[i] = VIO_DATA + 1 + 3 * i;
        len[i] = i % 3 == 0 ? 0 : 3;
        memcpy(vio_ram(gpa[i]), "abc", 3);
    }
    vdrv_chain(VIO_TXQ, gpa, len, QN, false);
    vdrv_notify(VIO_TXQ);
    CHECK(!(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET));
    uint32_t id, n;
    CHECK(vdrv_next_used(VIO_TXQ, &id, &n));
    CHECK_EQ(id, 0);
    CHECK_EQ(n, 0);
    fb_take_output(16, true);
    CHECK_EQ(fb.out_len, 15);
    CHECK(memcmp(fb.out, "abcabcabcabcabc", 15) == 0);
    /* A buffer ending exactly at the end of guest RAM. */
    uint64_t last = RAM_END - 5;
    uint32_t five = 5;
    memcpy(vio_ram(last), "tail!", 5);
    vdrv_chain(VIO_TXQ, &last, &five, 1, false);
    vdrv_notify(VIO_TXQ);
    fb_take_output(16, true);
    CHECK_EQ(fb.out_len, 20);
    CHECK(memcmp(fb.out + 15, "tail!", 5) == 0);
    CHECK(sim_console_lacks("needs a reset"));
}

/* After a refusal, the device takes nothing more from its queues until it is reset. */
TEST(virtio_queue_nothing_runs_in_needs_reset)
{
    CHECK(console_up());
    loop2();
    vdrv_notify(VIO_TXQ);
    CHECK(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET);
    fb_take_output(16, true); /* what the loop's first descriptors held */
    uint64_t gpa = VIO_DATA;
    uint32_t len = 4;
    for (int i = 0; i < 5; i++) {
        vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
        vdrv_notify(VIO_TXQ);
    }
    CHECK(fb_send_input("in", 2));
    vdrv_chain(VIO_RXQ, &gpa, &len, 1, true);
    vdrv_notify(VIO_RXQ);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 0);
    CHECK_EQ(vdrv_used_idx(VIO_RXQ), 0);
    CHECK_EQ(fb_count(CONN_TX_ACTIVE), 0);
    /* DRIVER_OK written again does not revive it. */
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 0);
    CHECK_EQ(sim_console_count("needs a reset"), 1);
}

/* With more than 4 GiB of guest RAM a chain could name more bytes than a used length can say:
 * refused. (Guest RAM here is a sparse mapping; only what is touched exists.) */
TEST(virtio_queue_chain_longer_than_4gib)
{
    const uint64_t big = 6ull << 30;
    uint8_t *ram =
        mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        SKIP("cannot map 6 GiB of address space for guest RAM");
    fx_config(1);
    fx_add_virtio_console();
    fx.ram = ram;
    fx.cfg.ram_size = big;
    bool up = vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm);
    fb_attach();
    up = up && vdrv_setup(QN);
    uint16_t head = 0;
    d(0, FX_RAM_BASE, 0xffffffffu, VIO_D_NEXT, 1);
    d(1, FX_RAM_BASE + 0x100000000ull, 2, 0, 0);
    vdrv_avail(VIO_TXQ, 0);
    int popped = up ? virtq_pop_avail(DEV, VIO_TXQ, &head) : -2;
    struct virtq_chain c;
    struct virtq_seg seg;
    int first = 0, second = 0;
    if (popped == 1) {
        virtq_chain_start(&c, DEV, VIO_TXQ, head, VIRTQ_DEVICE_READS);
        first = virtq_chain_next(&c, &seg);
        second = virtq_chain_next(&c, &seg);
    }
    munmap(ram, big);
    fx.ram = NULL;
    fx_config(1); /* back to the fixture's own RAM */
    CHECK(up);
    CHECK_EQ(popped, 1);
    CHECK_EQ(first, 1);
    CHECK_EQ(second, -1);
    CHECK(sim_console_has("descriptor 1 (0x2 bytes at 0x140000000, flags 0x0 ) makes the chain "
                          "longer than 4 GiB"));
}
