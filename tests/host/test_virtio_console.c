/*
 * The virtio console between a guest driver (real MMIO exits, queues in guest RAM) and a fake
 * serial multiplexer (the server side of the connection): output and input, packing and
 * splitting, backpressure, a backend that hands back bad entries or corrupts its indices,
 * resets in the middle of requests, guest reboot and power-off.
 */
#include <proto/serial.h>
#include <stdio.h>
#include <string.h>
#include <vmm/psci.h>

#include "sim_hyp.h"
#include "test.h"
#include "virtio_fx.h"

#define DEV (&fx.vm.virtio[0])
#define CON (&fx.vm.virtio[0].u.console)
#define QN 8u

static int console_up(void)
{
    if (!fx_boot_virtio(1, 0))
        return 0;
    fb_attach();
    return vdrv_setup(QN);
}

/* The guest writes `s` as one chain of one buffer at VIO_DATA + at. */
static uint16_t guest_write(const char *s, uint32_t at)
{
    uint64_t gpa = VIO_DATA + at;
    uint32_t len = (uint32_t)strlen(s);
    memcpy(vio_ram(gpa), s, len);
    return vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
}

/* The guest offers a receive buffer of `len` bytes at VIO_DATA + 0x10000 + at. */
static uint16_t guest_rx_buffer(uint32_t at, uint32_t len)
{
    uint64_t gpa = VIO_DATA + 0x10000 + at;
    memset(vio_ram(gpa), '.', len);
    return vdrv_chain(VIO_RXQ, &gpa, &len, 1, true);
}

static const char *rx_bytes(uint32_t at)
{
    return (const char *)vio_ram(VIO_DATA + 0x10000 + at);
}

/* Every buffer is in exactly one place. */
static bool buffers_accounted(void)
{
    return vio_buffers_accounted(&CON->bc, CON->tx_fill);
}

TEST(virtio_console_attach_lends_rx_buffers)
{
    CHECK(fx_boot_virtio(1, 0));
    fb_attach();
    CHECK_EQ(CON->bc.tx_bufs, 8);
    CHECK_EQ(CON->bc.rx_bufs, 8);
    CHECK_EQ(fb_count(CONN_RX_FREE), 8);
    CHECK_EQ(fb_count(CONN_TX_ACTIVE), 0);
    CHECK_EQ(sim.notifies[FX_VIRTIO_CH], 1); /* RX_FREE went from empty to non-empty */
    /* Each buffer once, aligned, inside the RX region, at full size. */
    struct ring_entry e;
    uint32_t seen = 0;
    while (ring_pop(&fb.conn.ring[CONN_RX_FREE], &e)) {
        CHECK(e.id < 8);
        CHECK(!(seen & (1u << e.id)));
        seen |= 1u << e.id;
        CHECK_EQ(e.offset, e.id * SERIAL_BUF_SIZE);
        CHECK_EQ(e.len, SERIAL_BUF_SIZE);
    }
    CHECK_EQ(seen, 0xff);
    CHECK(sim_console_lacks("virtio"));
}

TEST(virtio_console_output_reaches_backend)
{
    CHECK(console_up());
    unsigned notifies = sim.notifies[FX_VIRTIO_CH];
    uint64_t gpa[2] = { VIO_DATA, VIO_DATA + 100 };
    uint32_t len[2] = { 3, 3 };
    memcpy(vio_ram(gpa[0]), "hel", 3);
    memcpy(vio_ram(gpa[1]), "lo\n", 3);
    uint16_t head = vdrv_chain(VIO_TXQ, gpa, len, 2, false);
    vdrv_notify(VIO_TXQ);
    /* Copied at once: the chain is used, the driver interrupted, the backend notified. */
    uint32_t id, n;
    CHECK(vdrv_next_used(VIO_TXQ, &id, &n));
    CHECK_EQ(id, head);
    CHECK_EQ(n, 0);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 1);
    CHECK(vio_line());
    CHECK_EQ(sim.notifies[FX_VIRTIO_CH], notifies + 1);
    CHECK_EQ(fb_count(CONN_TX_ACTIVE), 1);
    CHECK_EQ(fb_take_output(16, true), 1);
    CHECK_EQ(fb.out_len, 6);
    CHECK(memcmp(fb.out, "hello\n", 6) == 0);
    /* The buffer came back with the backend's notification. */
    CHECK_EQ(fb.notified, 1);
    CHECK_EQ(CON->bc.tx_lent, 0);
    CHECK_EQ(CON->bc.tx_free, 0xff);
    CHECK(buffers_accounted());
    CHECK_EQ(CON->bc.bad_entries, 0);
    CHECK(sim_console_lacks("virtio"));
}

/* Chains of one batch share buffers; a long one spans several; the order holds. */
TEST(virtio_console_output_packs_and_splits)
{
    CHECK(console_up());
    guest_write("a", 0);
    guest_write("bc", 16);
    guest_write("d", 32);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 3);
    CHECK_EQ(fb_count(CONN_TX_ACTIVE), 1);
    char big[1301];
    for (int i = 0; i < 1300; i++)
        big[i] = (char)('A' + i % 26);
    big[1300] = 0;
    guest_write(big, 0x1000);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(fb_count(CONN_TX_ACTIVE), 4); /* "abcd", 512, 512, 276 */
    struct ring_entry e;
    uint32_t lens[4];
    for (int i = 0; i < 4; i++) {
        struct ring_entry *slot =
            &fb.conn.ring[CONN_TX_ACTIVE]
                 .shm->entries[(fb.conn.ring[CONN_TX_ACTIVE].shm->tail + i) % FX_VIRTIO_CAP];
        lens[i] = slot->len;
    }
    (void)e;
    CHECK_EQ(lens[0], 4);
    CHECK_EQ(lens[1], 512);
    CHECK_EQ(lens[2], 512);
    CHECK_EQ(lens[3], 276);
    fb_take_output(16, true);
    CHECK_EQ(fb.out_len, 1304);
    CHECK(memcmp(fb.out, "abcd", 4) == 0);
    CHECK(memcmp(fb.out + 4, big, 1300) == 0);
    CHECK(buffers_accounted());
}

/* Out of TX buffers: the chain waits, nothing is dropped, the guest's chain is used only once
 * all of it went out; buffers coming back let it continue. */
TEST(virtio_console_backpressure)
{
    fx_config(1);
    fx_add_virtio_console();
    fx.virtio[0].conn.tx_size = 2 * SERIAL_BUF_SIZE;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    fb_attach();
    CHECK(vdrv_setup(QN));
    CHECK_EQ(CON->bc.tx_bufs, 2);
    static char data[3000];
    for (int i = 0; i < 3000; i++)
        data[i] = (char)(' ' + i % 90);
    uint64_t gpa[3] = { VIO_DATA, VIO_DATA + 0x1000, VIO_DATA + 0x2000 };
    uint32_t len[3] = { 1000, 1000, 1000 };
    for (int i = 0; i < 3; i++)
        memcpy(vio_ram(gpa[i]), data + 1000 * i, 1000);
    vdrv_chain(VIO_TXQ, gpa, len, 3, false);
    guest_write("Z", 0x3000);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(fb_count(CONN_TX_ACTIVE), 2);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 0);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 0);
    CHECK(CON->tx_pending);
    CHECK_EQ(CON->tx_done, 1024);
    /* More notifications change nothing while the backend holds every buffer. */
    vdrv_notify(VIO_TXQ);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(fb_count(CONN_TX_ACTIVE), 2);
    CHECK_EQ(CON->tx_done, 1024);
    /* The backend returns one buffer at a time. */
    unsigned rounds = 0;
    while (fb.out_len < 3001 && rounds++ < 20)
        fb_take_output(1, true);
    CHECK_EQ(fb.out_len, 3001);
    CHECK(memcmp(fb.out, data, 3000) == 0);
    CHECK_EQ(fb.out[3000], 'Z');
    CHECK(rounds <= 8);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 2);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 1);
    CHECK(!CON->tx_pending);
    CHECK_EQ(CON->tx_dropped, 0);
    fb_take_output(16, true);
    CHECK_EQ(CON->bc.tx_free, 3);
    CHECK(buffers_accounted());
}

TEST(virtio_console_input_reaches_guest)
{
    CHECK(console_up());
    uint16_t head = guest_rx_buffer(0, 64);
    vdrv_notify(VIO_RXQ); /* nothing to give yet */
    CHECK_EQ(vdrv_used_idx(VIO_RXQ), 0);
    CHECK(fb_send_input("abc", 3));
    CHECK_EQ(fb.notified, 1);
    uint32_t id, n;
    CHECK(vdrv_next_used(VIO_RXQ, &id, &n));
    CHECK_EQ(id, head);
    CHECK_EQ(n, 3);
    CHECK(memcmp(rx_bytes(0), "abc.", 4) == 0);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 1);
    /* The RX buffer is lent again. */
    CHECK_EQ(fb_count(CONN_RX_FREE), 8);
    CHECK(buffers_accounted());
}

/* Input waits for the guest's buffers, in order, split across small ones. */
TEST(virtio_console_input_held_in_order)
{
    CHECK(console_up());
    CHECK(fb_send_input("hello", 5));
    CHECK(fb_send_input("world", 5));
    CHECK_EQ(CON->bc.rx_held_count, 2);
    CHECK_EQ(fb_count(CONN_RX_FREE), 6);
    for (uint32_t i = 0; i < 4; i++)
        guest_rx_buffer(16 * i, 3);
    vdrv_notify(VIO_RXQ);
    static const char *const want[4] = { "hel", "low", "orl", "d.." };
    static const uint32_t want_len[4] = { 3, 3, 3, 1 };
    for (uint32_t i = 0; i < 4; i++) {
        uint32_t id, n;
        CHECK(vdrv_next_used(VIO_RXQ, &id, &n));
        CHECK_EQ(n, want_len[i]);
        CHECK(memcmp(rx_bytes(16 * i), want[i], 3) == 0);
    }
    CHECK_EQ(CON->bc.rx_held_count, 0);
    CHECK_EQ(fb_count(CONN_RX_FREE), 8);
    CHECK(buffers_accounted());
}

/* A guest that does not read: input is held up to the RX buffers, then the backend has no free
 * buffer (it drops and counts); one large guest buffer then takes everything held. */
TEST(virtio_console_input_bounded_when_guest_does_not_read)
{
    CHECK(console_up());
    for (unsigned i = 0; i < 8; i++) {
        char s[4] = { 'i', 'n', (char)('0' + i), ';' };
        CHECK(fb_send_input(s, 4));
    }
    CHECK(!fb_send_input("lost", 4));
    CHECK_EQ(CON->bc.rx_held_count, 8);
    guest_rx_buffer(0, 4096);
    vdrv_notify(VIO_RXQ);
    uint32_t id, n;
    CHECK(vdrv_next_used(VIO_RXQ, &id, &n));
    CHECK_EQ(n, 32);
    CHECK(memcmp(rx_bytes(0), "in0;in1;in2;in3;in4;in5;in6;in7;", 32) == 0);
    CHECK_EQ(fb_count(CONN_RX_FREE), 8);
}

/* Entries a backend must not hand back: dropped and counted, the buffers stay accounted. */
TEST(virtio_console_backend_bad_entries)
{
    CHECK(console_up());
    guest_write("x", 0);
    vdrv_notify(VIO_TXQ);
    fb_take_output(16, false); /* buffer 0 now at the backend */
    CHECK_EQ(CON->bc.tx_lent, 1);
    fb.auto_notify = false;
    fb_push(CONN_TX_FREE, 0, 1, 99);                  /* no such buffer */
    fb_push(CONN_TX_FREE, 5 * SERIAL_BUF_SIZE, 1, 5); /* not lent */
    fb_notify_vmm();
    CHECK_EQ(CON->bc.bad_entries, 2);
    CHECK(sim_console_has("virtio: warning: console@0xa003e00: backend on channel 3: TX_FREE "
                          "entry (id 99, offset 0x0, 1 bytes) is not a buffer the backend holds; "
                          "dropped (1 bad entries so far)"));
    CHECK_EQ(CON->bc.tx_lent, 1);
    /* Its own buffer at a wrong offset: counted, but the buffer is the VMM's again. */
    fb_push(CONN_TX_FREE, 0x10000, 1, 0);
    fb_push(CONN_TX_FREE, 0, 1, 0); /* and once more: it no longer holds it */
    fb_notify_vmm();
    CHECK_EQ(CON->bc.bad_entries, 4);
    CHECK(sim_console_has("does not match the buffer of that id (taken back)"));
    CHECK_EQ(CON->bc.tx_lent, 0);
    CHECK(buffers_accounted());
    /* RX_ACTIVE: a buffer handed over twice, one that does not exist. */
    struct ring_entry e;
    CHECK(ring_pop(&fb.conn.ring[CONN_RX_FREE], &e)); /* the backend takes buffer e.id */
    memcpy(fb.conn.rx_data + e.offset, "good", 4);
    fb_push(CONN_RX_ACTIVE, e.offset, 4, e.id);
    fb_push(CONN_RX_ACTIVE, e.offset, 4, e.id);
    fb_push(CONN_RX_ACTIVE, 0, 4, 99);
    fb_notify_vmm();
    CHECK_EQ(CON->bc.bad_entries, 6);
    CHECK_EQ(CON->bc.rx_held_count, 1);
    CHECK(buffers_accounted());
    /* Wrong offset, no bytes, too many, outside the region: dropped, the buffer lent again. */
    static const struct {
        int64_t offset; /* from the buffer's own */
        uint32_t len;
    } bad[] = { { 0, 0 }, { 1, 4 }, { 0, SERIAL_BUF_SIZE + 1 }, { 1ll << 40, 4 } };
    for (unsigned i = 0; i < 4; i++) {
        struct ring_entry b;
        CHECK(ring_pop(&fb.conn.ring[CONN_RX_FREE], &b));
        fb_push(CONN_RX_ACTIVE, b.offset + (uint64_t)bad[i].offset, bad[i].len, b.id);
        fb_notify_vmm();
        CHECK_EQ(CON->bc.bad_entries, 7 + i);
        CHECK(buffers_accounted());
        CHECK_EQ(fb_count(CONN_RX_FREE), 7);
        CHECK_EQ(CON->bc.rx_held_count, 1);
    }
    CHECK(sim_console_has("does not match the buffer of that id, or holds no bytes (lent again)"));
    /* Only the good input reaches the guest, and the connection still works. */
    guest_rx_buffer(0, 64);
    vdrv_notify(VIO_RXQ);
    uint32_t id, n;
    CHECK(vdrv_next_used(VIO_RXQ, &id, &n));
    CHECK_EQ(n, 4);
    CHECK(memcmp(rx_bytes(0), "good.", 5) == 0);
    CHECK(!CON->bc.conn_dead);
    CHECK(fb_send_input("more", 4));
    fb_notify_vmm();
    CHECK_EQ(CON->bc.rx_held_count, 1);
}

/* A TX buffer handed back with a length over a buffer: counted, but the buffer is the VMM's
 * again (the console checks a returned buffer's length; the network device does not). */
TEST(virtio_console_backend_returns_tx_buffer_too_long)
{
    CHECK(console_up());
    guest_write("x", 0);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(fb_take_output(16, false), 1); /* buffer 0 now at the backend */
    CHECK_EQ(CON->bc.tx_lent, 1);
    fb_push(CONN_TX_FREE, 0, SERIAL_BUF_SIZE + 1, 0);
    fb_notify_vmm();
    CHECK_EQ(CON->bc.bad_entries, 1);
    CHECK(sim_console_has("TX_FREE entry (id 0, offset 0x0, 513 bytes) does not match the buffer "
                          "of that id (taken back)"));
    CHECK_EQ(CON->bc.tx_lent, 0);
    CHECK(buffers_accounted());
}

/* A corrupt ring index stops the connection, reported once; the guest's output then goes
 * nowhere but the guest never waits for it. */
TEST(virtio_console_corrupt_ring_stops_connection)
{
    static const unsigned rings[] = { CONN_TX_FREE, CONN_RX_ACTIVE };
    for (unsigned r = 0; r < 2; r++) {
        CHECK(console_up());
        sim_reset();
        struct ring_shm *s = fb.conn.ring[rings[r]].shm;
        s->head = s->tail + 1000;
        for (int i = 0; i < 5; i++)
            fb_notify_vmm();
        CHECK(CON->bc.conn_dead);
        CHECK_EQ(sim_console_count("ring is corrupt"), 1);
        char line[160];
        snprintf(line, sizeof(line),
                 "backend on channel 3: its %s ring is corrupt (head %u, tail "
                 "0, capacity 16): connection stopped",
                 rings[r] == CONN_TX_FREE ? "TX_FREE" : "RX_ACTIVE", 1000u);
        CHECK(sim_console_has(line));
        uint32_t tx_before = fb_count(CONN_TX_ACTIVE);
        guest_write("dropped", 0);
        vdrv_notify(VIO_TXQ);
        CHECK_EQ(vdrv_used_idx(VIO_TXQ), 1);
        CHECK_EQ(fb_count(CONN_TX_ACTIVE), tx_before);
        CHECK_EQ(CON->tx_dropped, 7);
        CHECK_EQ(sim_console_count("ring is corrupt"), 1);
    }
    /* The VMM's own rings, as the backend sees them: a tail that overtook the head. */
    CHECK(console_up());
    fb.conn.ring[CONN_TX_ACTIVE].shm->tail = 5;
    guest_write("x", 0);
    vdrv_notify(VIO_TXQ);
    CHECK(CON->bc.conn_dead);
    CHECK(sim_console_has("its TX_ACTIVE ring is corrupt"));
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 1);
    CHECK(console_up());
    guest_rx_buffer(0, 16);
    vdrv_notify(VIO_RXQ);
    fb.conn.ring[CONN_RX_FREE].shm->tail = 100;
    CHECK(fb_push(CONN_RX_ACTIVE, 0, 1, 0)); /* delivered; the buffer goes back to RX_FREE,
                                                whose tail makes no sense */
    CHECK(CON->bc.conn_dead);
    CHECK(sim_console_has("its RX_FREE ring is corrupt"));
}

/* A reset while output waits for buffers: the chain is abandoned with its queue, nothing is
 * written into guest RAM afterwards, the buffers come back, and the next driver works. */
TEST(virtio_console_reset_in_the_middle_of_output)
{
    fx_config(1);
    fx_add_virtio_console();
    fx.virtio[0].conn.tx_size = 2 * SERIAL_BUF_SIZE;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    fb_attach();
    CHECK(vdrv_setup(QN));
    static char data[2000];
    memset(data, 'q', sizeof(data) - 1);
    guest_write(data, 0);
    vdrv_notify(VIO_TXQ);
    CHECK(CON->tx_pending);
    uint8_t used_ring[8 + 8 * QN];
    memcpy(used_ring, vio_ram(vdrv_q[VIO_TXQ].used), sizeof(used_ring));
    vio_write(VIO_STATUS, 0);
    CHECK(!CON->tx_pending);
    fb_take_output(16, true);
    CHECK_EQ(fb.out_len, 1024);
    CHECK(memcmp(used_ring, vio_ram(vdrv_q[VIO_TXQ].used), sizeof(used_ring)) == 0);
    CHECK_EQ(CON->bc.tx_free, 3);
    CHECK(buffers_accounted());
    CHECK(vdrv_setup(QN));
    guest_write("new\n", 0);
    vdrv_notify(VIO_TXQ);
    fb_take_output(16, true);
    CHECK_EQ(fb.out_len, 1028);
    CHECK(memcmp(fb.out + 1024, "new\n", 4) == 0);
    CHECK_EQ(CON->bc.bad_entries, 0);
}

/* A reset keeps the input held for the old driver; with what arrives before the new driver is
 * ready (Linux resets the device again as it probes), it goes to the new driver once its
 * receive queue is set up. */
TEST(virtio_console_reset_with_input_held)
{
    CHECK(console_up());
    CHECK(fb_send_input("old", 3));
    CHECK_EQ(CON->bc.rx_held_count, 1);
    vio_write(VIO_STATUS, 0);
    CHECK_EQ(CON->bc.rx_held_count, 1);
    CHECK(fb_send_input("new", 3));
    CHECK(vdrv_negotiate(VIO_F_VERSION_1_HI, 0) & VIO_S_FEATURES_OK);
    CHECK(fb_send_input("er", 2));
    CHECK_EQ(CON->bc.rx_held_count, 3);
    CHECK(vdrv_setup(QN));
    CHECK_EQ(vdrv_used_idx(VIO_RXQ), 0);
    guest_rx_buffer(0, 64);
    vdrv_notify(VIO_RXQ);
    uint32_t id, n;
    CHECK(vdrv_next_used(VIO_RXQ, &id, &n));
    CHECK_EQ(n, 8);
    CHECK(memcmp(rx_bytes(0), "oldnewer", 8) == 0);
    CHECK_EQ(fb_count(CONN_RX_FREE), 8);
    CHECK(buffers_accounted());
}

/* Buffers made available before DRIVER_OK are taken when the device goes live. */
TEST(virtio_console_buffers_before_driver_ok)
{
    CHECK(fx_boot_virtio(1, 0));
    fb_attach();
    CHECK(vdrv_negotiate(VIO_F_VERSION_1_HI, 0) & VIO_S_FEATURES_OK);
    vdrv_queue_setup(VIO_RXQ, QN);
    vdrv_queue_setup(VIO_TXQ, QN);
    guest_write("early", 0);
    guest_rx_buffer(0, 16);
    vdrv_notify(VIO_TXQ);
    CHECK(fb_send_input("in", 2));
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 0);
    CHECK_EQ(vdrv_used_idx(VIO_RXQ), 0);
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 1);
    CHECK_EQ(vdrv_used_idx(VIO_RXQ), 1);
    fb_take_output(16, true);
    CHECK_EQ(fb.out_len, 5);
    CHECK(memcmp(rx_bytes(0), "in", 2) == 0);
}

/* The guest reboots with buffers at the backend: the device is reset, the buffers come back
 * later and are the VMM's again, and the new driver works. */
TEST(virtio_console_guest_reboot)
{
    struct exit_reply r;
    CHECK(console_up());
    guest_write("before", 0);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(CON->bc.tx_lent, 1);
    CHECK(fb_send_input("typed", 5));
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &r);
    fx_run_drain_stubs();
    CHECK_EQ(fx.vm.boots, 2);
    CHECK_EQ(vio_read(VIO_STATUS), 0);
    CHECK_EQ(CON->bc.rx_held_count, 1); /* for the next driver */
    CHECK_EQ(CON->bc.tx_lent, 1);
    fb_take_output(16, true);
    CHECK_EQ(CON->bc.tx_lent, 0);
    CHECK_EQ(CON->bc.bad_entries, 0);
    CHECK(buffers_accounted());
    CHECK(vdrv_setup(QN));
    guest_write("after", 0);
    vdrv_notify(VIO_TXQ);
    fb_take_output(16, true);
    CHECK_EQ(fb.out_len, 11);
    CHECK(memcmp(fb.out, "beforeafter", 11) == 0);
    guest_rx_buffer(0, 16);
    vdrv_notify(VIO_RXQ);
    CHECK(memcmp(rx_bytes(0), "typed", 5) == 0);
}

/* A powered-off guest: the backend's notifications touch no guest RAM. */
TEST(virtio_console_powered_off_guest)
{
    struct exit_reply r;
    CHECK(console_up());
    guest_rx_buffer(0, 16);
    vdrv_notify(VIO_RXQ);
    fx_smc(0, PSCI_SYSTEM_OFF, 0, 0, 0, &r);
    CHECK(fx.vm.state == VM_POWERED_OFF);
    CHECK(fb_send_input("late", 4));
    CHECK_EQ(vdrv_used_idx(VIO_RXQ), 0);
    CHECK(memcmp(rx_bytes(0), "....", 4) == 0);
    CHECK_EQ(CON->bc.rx_held_count, 1);
}

/* The driver asked not to be interrupted (VIRTQ_AVAIL_F_NO_INTERRUPT). */
TEST(virtio_console_no_interrupt_flag)
{
    CHECK(console_up());
    uint16_t flags = 1;
    memcpy(vio_ram(vdrv_q[VIO_TXQ].avail), &flags, 2);
    guest_write("quiet", 0);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 1);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 0);
    CHECK(!vio_line());
    flags = 0;
    memcpy(vio_ram(vdrv_q[VIO_TXQ].avail), &flags, 2);
    guest_write("loud", 0);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 1);
}
