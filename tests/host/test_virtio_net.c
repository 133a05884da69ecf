/*
 * The virtio network device between a guest driver (real MMIO exits, queues in guest RAM) and a
 * fake switch (the server side of the connection): features and configuration space, frames
 * both ways with the virtio-net header, headers and frames split across descriptors, malformed
 * chains (no header, offloads not offered, frames too short or over the MTU, buffers outside
 * guest RAM), backpressure, receive chains too small, frames while no driver runs, the link
 * going down with a corrupt ring, the counters request at reset, reboot and power-off.
 */
#include <proto/net.h>
#include <stdio.h>
#include <string.h>
#include <vmm/psci.h>

#include "net_dev_fx.h"
#include "sim_hyp.h"
#include "test.h"
#include "virtio_fx.h"

#define NET (&fx.vm.virtio[0].u.net)
#define QN NDFX_QN
#define NBUFS NDFX_BUFS
#define HDR NDFX_HDR
#define F_MTU NDFX_F_MTU
#define F_MAC NDFX_F_MAC
#define F_STATUS NDFX_F_STATUS
#define F_CSUM (1u << 0)

static const uint8_t *const vm_mac = ndfx_mac;
static uint8_t frame[2048], got[2048];

static void net_config(uint16_t mtu)
{
    ndfx_config(mtu);
}

static bool driver_up(void)
{
    return ndfx_driver_up();
}

static bool net_up(void)
{
    return ndfx_up();
}

/* A frame of `len` bytes: to broadcast, from the VM's MAC, pattern `seed`. */
static void make_frame(uint32_t len, uint8_t seed)
{
    memset(frame, 0xff, 6);
    memcpy(frame + 6, vm_mac, 6);
    frame[12] = 0x08;
    frame[13] = 0x00;
    for (uint32_t i = 14; i < len; i++)
        frame[i] = (uint8_t)(seed + i * 11);
}

/* The guest sends header + frame (`len` bytes) as one buffer at VIO_DATA + at. */
static uint16_t guest_send(uint32_t len, uint32_t at, uint8_t seed)
{
    make_frame(len, seed);
    uint64_t gpa = VIO_DATA + at;
    memset(vio_ram(gpa), 0, HDR);
    memcpy(vio_ram(gpa + HDR), frame, len);
    uint32_t l = HDR + len;
    return vdrv_chain(VIO_TXQ, &gpa, &l, 1, false);
}

/* The guest offers one receive buffer of `len` bytes at VIO_DATA + 0x40000 + at. */
static uint16_t guest_rx_buffer(uint32_t at, uint32_t len)
{
    uint64_t gpa = VIO_DATA + 0x40000 + at;
    memset(vio_ram(gpa), '.', len);
    return vdrv_chain(VIO_RXQ, &gpa, &len, 1, true);
}

static const uint8_t *rx_at(uint32_t at)
{
    return vio_ram(VIO_DATA + 0x40000 + at);
}

/* The switch takes the next TX_ACTIVE entry: its length (and the bytes into `got`), -1 if none;
 * gives it back if `give_back`. */
static int64_t switch_take(bool give_back)
{
    struct ring_entry e;
    if (!ring_pop(&fb.conn.ring[CONN_TX_ACTIVE], &e))
        return -1;
    if (!ring_entry_inside(&e, fb.conn.tx_size) || e.len > sizeof(got))
        return -2;
    memcpy(got, fb.conn.tx_data + e.offset, e.len);
    if (give_back)
        fb_push(CONN_TX_FREE, e.offset, e.len, e.id);
    return e.len;
}

/* Every buffer is in exactly one place. */
static bool buffers_accounted(void)
{
    return vio_buffers_accounted(&NET->bc, -1);
}

static uint64_t tx_dropped(void)
{
    const struct virtio_net_counters *c = &NET->count;
    return c->tx_no_header + c->tx_bad_header + c->tx_too_short + c->tx_too_long;
}

/* ---- the device as the driver finds it --------------------------------------------------- */

TEST(virtio_net_identity_features_and_configuration)
{
    net_config(1500);
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    CHECK_EQ(vio_read(VIO_DEVICE_ID), 1);
    vio_write(VIO_DEVICE_FEATURES_SEL, 0);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), F_MAC | F_MTU | F_STATUS);
    vio_write(VIO_DEVICE_FEATURES_SEL, 1);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), 1); /* VERSION_1 */
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(vio_access(VIO_CONFIG + i, 1, 0, 0), vm_mac[i]);
    CHECK_EQ(vio_access(VIO_CONFIG, 4, 0, 0), 0x00000002);
    CHECK_EQ(vio_access(VIO_CONFIG + 6, 2, 0, 0), 1);     /* status: link up */
    CHECK_EQ(vio_access(VIO_CONFIG + 10, 2, 0, 0), 1500); /* mtu */
    CHECK_EQ(vio_access(VIO_CONFIG + 8, 4, 0, 0), 1500u << 16 | 1);
    /* Beyond the 12 bytes: zero, reported; writes are refused (read-only). */
    CHECK_EQ(vio_access(VIO_CONFIG + 12, 4, 0, 0), 0);
    vio_access(VIO_CONFIG, 1, 1, 0x55);
    CHECK_EQ(vio_access(VIO_CONFIG, 1, 0, 0), 0x02);
    CHECK(sim_console_has("net_lan@0xa003e00"));
    CHECK(sim_console_has("the configuration space is read-only"));
    /* Offloads not offered are refused. */
    CHECK_EQ(vdrv_negotiate(VIO_F_VERSION_1_HI, F_MAC | F_CSUM) & VIO_S_FEATURES_OK, 0);
    /* A driver taking fewer features than offered is fine. */
    CHECK(vdrv_negotiate(VIO_F_VERSION_1_HI, 0) & VIO_S_FEATURES_OK);
}

TEST(virtio_net_refuses_a_bad_configuration)
{
    net_config(9000);
    CHECK(!vm_init(&fx.vm, &fx.cfg, fx.ram));
    CHECK(sim_console_has("virtio network device 'net_lan': its MTU is not 68..1500 bytes"));
    net_config(1500);
    fx.virtio[0].u.net.mac[0] = 0x01;
    CHECK(!vm_init(&fx.vm, &fx.cfg, fx.ram));
    CHECK(sim_console_has("its MAC is a group (multicast) address"));
    net_config(1500);
    fx.virtio[0].conn.tx_size = NET_BUF_SIZE - 1;
    CHECK(!vm_init(&fx.vm, &fx.cfg, fx.ram));
    CHECK(sim_console_has("a data region of its backend connection is smaller than one buffer"));
}

TEST(virtio_net_attach_lends_every_rx_buffer)
{
    CHECK(net_up());
    CHECK_EQ(NET->bc.tx_bufs, NBUFS);
    CHECK_EQ(NET->bc.rx_bufs, NBUFS);
    CHECK_EQ(fb_count(CONN_RX_FREE), NBUFS);
    CHECK(buffers_accounted());
    CHECK(sim_console_lacks("virtio"));
}

/* ---- transmit ------------------------------------------------------------------------------- */

TEST(virtio_net_sends_frames_without_the_header)
{
    CHECK(net_up());
    uint32_t lens[] = { 14, 60, 1514 };
    for (unsigned k = 0; k < 3; k++) {
        uint16_t head = guest_send(lens[k], 0x1000 * k, (uint8_t)k);
        vdrv_notify(VIO_TXQ);
        CHECK_EQ(switch_take(true), lens[k]);
        CHECK(memcmp(got, frame, lens[k]) == 0);
        uint32_t id, len;
        CHECK(vdrv_next_used(VIO_TXQ, &id, &len));
        CHECK_EQ(id, head);
        CHECK_EQ(len, 0);
    }
    CHECK_EQ(NET->count.tx_frames, 3);
    CHECK_EQ(NET->count.tx_bytes, 14 + 60 + 1514);
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 1);
    CHECK(vio_line());
    CHECK(sim.notifies[FX_VIRTIO_CH] >= 1);
    CHECK(buffers_accounted());
}

TEST(virtio_net_header_and_frame_split_across_descriptors)
{
    CHECK(net_up());
    make_frame(300, 7);
    uint8_t whole[HDR + 300];
    memset(whole, 0, HDR);
    memcpy(whole + HDR, frame, 300);
    /* 5 + 7 bytes of header, then the frame in pieces of 1, 100 and the rest. */
    uint32_t cuts[] = { 5, 7, 1, 100, 199 };
    uint64_t gpa[5];
    uint32_t at = 0;
    for (unsigned i = 0; i < 5; i++) {
        gpa[i] = VIO_DATA + 0x100 * i;
        memcpy(vio_ram(gpa[i]), whole + at, cuts[i]);
        at += cuts[i];
    }
    vdrv_chain(VIO_TXQ, gpa, cuts, 5, false);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(switch_take(true), 300);
    CHECK(memcmp(got, frame, 300) == 0);
    CHECK_EQ(tx_dropped(), 0);
}

TEST(virtio_net_drops_and_counts_malformed_transmit_chains)
{
    CHECK(net_up());
    /* Header missing: 10 bytes. */
    uint64_t gpa = VIO_DATA;
    uint32_t len = 10;
    memset(vio_ram(gpa), 0, 64);
    vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
    /* A frame shorter than an Ethernet header. */
    len = HDR + 13;
    vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
    /* Over MTU + header: 1515 bytes of frame. */
    guest_send(1515, 0x1000, 1);
    /* Checksum offload asked for, and GSO. */
    guest_send(100, 0x2000, 2);
    vio_ram(VIO_DATA + 0x2000)[0] = 1;
    guest_send(100, 0x3000, 3);
    vio_ram(VIO_DATA + 0x3000)[1] = 1;
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(NET->count.tx_no_header, 1);
    CHECK_EQ(NET->count.tx_too_short, 1);
    CHECK_EQ(NET->count.tx_too_long, 1);
    CHECK_EQ(NET->count.tx_bad_header, 2);
    CHECK_EQ(NET->count.tx_frames, 0);
    CHECK_EQ(switch_take(true), -1);     /* nothing went to the switch */
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 5); /* every chain came back to the guest */
    CHECK(sim_console_has("virtio: warning: net_lan@0xa003e00: transmitq0: chain from "
                          "descriptor 0: shorter than the 12-byte virtio-net header: dropped (1 "
                          "so far)"));
    CHECK(sim_console_has("longer than the MTU and an Ethernet header"));
    CHECK(sim_console_has("asks for checksum or segmentation offload"));
    /* The device still works. */
    CHECK_EQ(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET, 0);
    guest_send(60, 0x4000, 4);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(switch_take(true), 60);
    CHECK(buffers_accounted());
}

TEST(virtio_net_a_smaller_mtu_is_enforced)
{
    net_config(1000);
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    fb_attach();
    CHECK(driver_up());
    CHECK_EQ(vio_access(VIO_CONFIG + 10, 2, 0, 0), 1000);
    guest_send(1014, 0, 1);
    guest_send(1015, 0x1000, 2);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(switch_take(true), 1014);
    CHECK_EQ(switch_take(true), -1);
    CHECK_EQ(NET->count.tx_too_long, 1);
}

TEST(virtio_net_transmit_chain_outside_guest_ram_needs_a_reset)
{
    CHECK(net_up());
    uint64_t gpa = FX_RAM_BASE + FX_RAM_SIZE - 8; /* runs past the end of RAM */
    uint32_t len = 100;
    vdrv_chain(VIO_TXQ, &gpa, &len, 1, false);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(NET->count.bad_chains, 1);
    CHECK(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET);
    CHECK(sim_console_has("is not inside guest RAM"));
    CHECK_EQ(switch_take(true), -1);
    CHECK(buffers_accounted());
    /* The driver resets and starts again. */
    vio_write(VIO_STATUS, 0);
    CHECK(driver_up());
    guest_send(80, 0, 1);
    vdrv_notify(VIO_TXQ);
    while (switch_take(true) == 0) /* the counters request the reset sent */
        ;
    CHECK_EQ(NET->count.tx_frames, 1);
}

TEST(virtio_net_waits_while_the_switch_holds_every_tx_buffer)
{
    CHECK(net_up());
    for (unsigned k = 0; k < NBUFS + 3; k++)
        guest_send(64, 0x100 * k, (uint8_t)k);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), NBUFS); /* the rest wait in the guest's queue */
    CHECK_EQ(NET->bc.tx_free, 0);
    /* The switch takes them and gives the buffers back: the rest go. */
    for (unsigned k = 0; k < NBUFS; k++) {
        CHECK_EQ(switch_take(true), 64);
        CHECK_EQ(got[14], (uint8_t)(k + 14 * 11));
    }
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), NBUFS + 3);
    for (unsigned k = NBUFS; k < NBUFS + 3; k++) {
        CHECK_EQ(switch_take(true), 64);
        CHECK_EQ(got[14], (uint8_t)(k + 14 * 11));
    }
    CHECK_EQ(tx_dropped(), 0);
    CHECK(buffers_accounted());
}

/* ---- receive -------------------------------------------------------------------------------- */

TEST(virtio_net_delivers_frames_with_the_header)
{
    CHECK(net_up());
    uint16_t head = guest_rx_buffer(0, HDR + 1514);
    vdrv_notify(VIO_RXQ);
    make_frame(200, 9);
    CHECK(fb_send_input(frame, 200));
    uint32_t id, len;
    CHECK(vdrv_next_used(VIO_RXQ, &id, &len));
    CHECK_EQ(id, head);
    CHECK_EQ(len, HDR + 200);
    static const uint8_t hdr[HDR] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
    CHECK(memcmp(rx_at(0), hdr, HDR) == 0);
    CHECK(memcmp(rx_at(HDR), frame, 200) == 0);
    CHECK_EQ(rx_at(HDR + 200)[0], '.');
    CHECK(vio_line());
    CHECK_EQ(NET->count.rx_frames, 1);
    CHECK_EQ(fb_count(CONN_RX_FREE), NBUFS); /* the buffer went back to the switch */
    CHECK(buffers_accounted());
}

TEST(virtio_net_receive_chain_of_several_buffers)
{
    CHECK(net_up());
    uint64_t gpa[3] = { VIO_DATA + 0x40000, VIO_DATA + 0x41000, VIO_DATA + 0x42000 };
    uint32_t lens[3] = { 7, 100, 2000 };
    memset(vio_ram(gpa[0]), '.', 0x3000);
    vdrv_chain(VIO_RXQ, gpa, lens, 3, true);
    make_frame(500, 3);
    CHECK(fb_send_input(frame, 500));
    vdrv_notify(VIO_RXQ);
    uint32_t id, len;
    CHECK(vdrv_next_used(VIO_RXQ, &id, &len));
    CHECK_EQ(len, HDR + 500);
    uint8_t back[HDR + 500];
    memcpy(back, vio_ram(gpa[0]), 7);
    memcpy(back + 7, vio_ram(gpa[1]), 100);
    memcpy(back + 107, vio_ram(gpa[2]), HDR + 500 - 107);
    CHECK_EQ(back[10], 1);
    CHECK(memcmp(back + HDR, frame, 500) == 0);
}

TEST(virtio_net_receive_chain_too_small_drops_the_frame)
{
    CHECK(net_up());
    uint16_t small = guest_rx_buffer(0, HDR + 100);
    uint16_t big = guest_rx_buffer(0x1000, HDR + 1514);
    vdrv_notify(VIO_RXQ);
    make_frame(101, 1);
    CHECK(fb_send_input(frame, 101));
    make_frame(60, 2);
    CHECK(fb_send_input(frame, 60));
    uint32_t id, len;
    CHECK(vdrv_next_used(VIO_RXQ, &id, &len));
    CHECK_EQ(id, small);
    CHECK_EQ(len, 0);
    CHECK(vdrv_next_used(VIO_RXQ, &id, &len));
    CHECK_EQ(id, big);
    CHECK_EQ(len, HDR + 60);
    CHECK_EQ(NET->count.rx_too_small, 1);
    CHECK(sim_console_has("receiveq0: chain from descriptor 0: too small for the virtio-net "
                          "header and the frame: dropped (1 so far)"));
    CHECK_EQ(fb_count(CONN_RX_FREE), NBUFS);
    CHECK(buffers_accounted());
}

TEST(virtio_net_holds_frames_until_the_guest_has_buffers)
{
    CHECK(net_up());
    for (unsigned k = 0; k < NBUFS; k++) {
        make_frame(60 + k, (uint8_t)k);
        CHECK(fb_send_input(frame, 60 + k));
    }
    CHECK(!fb_send_input(frame, 60)); /* every RX buffer is held: the switch would drop */
    CHECK_EQ(NET->bc.rx_held_count, NBUFS);
    CHECK(buffers_accounted());
    for (unsigned k = 0; k < NBUFS; k++)
        guest_rx_buffer(0x800 * k, HDR + 1514);
    vdrv_notify(VIO_RXQ);
    for (unsigned k = 0; k < NBUFS; k++) {
        uint32_t id, len;
        CHECK(vdrv_next_used(VIO_RXQ, &id, &len));
        CHECK_EQ(len, HDR + 60 + k);
        make_frame(60 + k, (uint8_t)k);
        CHECK(memcmp(rx_at(0x800 * k + HDR), frame, 60 + k) == 0);
    }
    CHECK_EQ(NET->bc.rx_held_count, 0);
    CHECK_EQ(fb_count(CONN_RX_FREE), NBUFS);
}

TEST(virtio_net_frames_without_a_driver_are_dropped_at_once)
{
    net_config(1500);
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    fb_attach();
    make_frame(60, 1);
    for (unsigned k = 0; k < 3 * NBUFS; k++)
        CHECK(fb_send_input(frame, 60)); /* each buffer comes straight back */
    CHECK_EQ(NET->count.rx_no_driver, 3 * NBUFS);
    CHECK_EQ(NET->bc.rx_held_count, 0);
    CHECK(driver_up());
    CHECK(fb_send_input(frame, 60));
    CHECK_EQ(NET->bc.rx_held_count, 1);
    /* A reset drops what is held. */
    vio_write(VIO_STATUS, 0);
    CHECK_EQ(NET->bc.rx_held_count, 0);
    CHECK_EQ(NET->count.rx_no_driver, 3 * NBUFS + 1);
    CHECK(buffers_accounted());
}

/* ---- the switch misbehaving ------------------------------------------------------------------ */

TEST(virtio_net_bad_entries_from_the_switch)
{
    CHECK(net_up());
    fb_push(CONN_TX_FREE, 0, 60, 3); /* never lent */
    fb_push(CONN_TX_FREE, 0, 60, 99);
    struct ring_entry e;
    CHECK(ring_pop(&fb.conn.ring[CONN_RX_FREE], &e));
    fb_push(CONN_RX_ACTIVE, e.offset, 0, e.id); /* no frame */
    CHECK(ring_pop(&fb.conn.ring[CONN_RX_FREE], &e));
    fb_push(CONN_RX_ACTIVE, e.offset, NET_MAX_FRAME + 1, e.id);
    CHECK(ring_pop(&fb.conn.ring[CONN_RX_FREE], &e));
    fb_push(CONN_RX_ACTIVE, e.offset + 8, 60, e.id); /* another place */
    fb_notify_vmm();
    CHECK_EQ(NET->bc.bad_entries, 5);
    CHECK_EQ(NET->bc.rx_held_count, 0);
    CHECK_EQ(fb_count(CONN_RX_FREE), NBUFS); /* lent again */
    CHECK(sim_console_has("backend on channel 3: TX_FREE entry (id 3, offset 0x0, 60 bytes) is not "
                          "a buffer the switch holds"));
    CHECK(buffers_accounted());
    CHECK_EQ(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET, 0);
}

TEST(virtio_net_a_corrupt_ring_takes_the_link_down)
{
    CHECK(net_up());
    uint32_t gen = vio_read(VIO_CONFIG_GENERATION);
    vio_write(VIO_INTERRUPT_ACK, 3);
    fb.conn.ring[CONN_RX_ACTIVE].shm->head += 1000;
    fb_notify_vmm();
    CHECK(NET->bc.conn_dead);
    CHECK(sim_console_has("switch on channel 3: its RX_ACTIVE ring is corrupt"));
    CHECK(sim_console_has("connection stopped, link down"));
    CHECK_EQ(vio_access(VIO_CONFIG + 6, 2, 0, 0), 0); /* link down */
    CHECK(vio_read(VIO_CONFIG_GENERATION) != gen);
    CHECK(vio_read(VIO_INTERRUPT_STATUS) & 2);
    /* What the guest sends now goes nowhere, and its chains come back. */
    guest_send(60, 0, 1);
    guest_send(60, 0x100, 2);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(vdrv_used_idx(VIO_TXQ), 2);
    CHECK_EQ(NET->count.tx_link_down, 2);
    fb_notify_vmm(); /* further notifications change nothing */
    CHECK_EQ(sim_console_count("ring is corrupt"), 1);
}

/* ---- resets, reboots, power-off ------------------------------------------------------------- */

/* True if the next TX_ACTIVE entry is a counters request (length 0); given back. */
static bool counters_requested(void)
{
    return switch_take(true) == 0;
}

TEST(virtio_net_asks_for_counters_when_a_driver_resets_it)
{
    net_config(1500);
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    fb_attach();
    CHECK_EQ(switch_take(true), -1); /* not at start: no driver had run it */
    vio_write(VIO_STATUS, 0);
    CHECK_EQ(switch_take(true), -1);
    CHECK(driver_up());
    vio_write(VIO_STATUS, 0);
    CHECK(counters_requested());
    CHECK_EQ(switch_take(true), -1); /* once */
    CHECK(buffers_accounted());
}

TEST(virtio_net_counters_request_waits_for_a_free_buffer)
{
    CHECK(net_up());
    for (unsigned k = 0; k < NBUFS; k++)
        guest_send(64, 0x100 * k, (uint8_t)k);
    vdrv_notify(VIO_TXQ);
    CHECK_EQ(NET->bc.tx_free, 0);
    vio_write(VIO_STATUS, 0);
    CHECK(NET->counters_wanted);
    for (unsigned k = 0; k < NBUFS; k++)
        CHECK_EQ(switch_take(true), 64);
    CHECK(counters_requested());
    CHECK(!NET->counters_wanted);
}

TEST(virtio_net_guest_reboot_and_power_off)
{
    struct exit_reply r;
    CHECK(net_up());
    guest_send(60, 0, 1);
    vdrv_notify(VIO_TXQ);
    make_frame(70, 2);
    CHECK(fb_send_input(frame, 70)); /* held: no receive buffer yet */
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &r);
    fx_run_drain_stubs();
    CHECK_EQ(fx.vm.boots, 2);
    CHECK_EQ(vio_read(VIO_STATUS), 0);
    CHECK_EQ(NET->bc.rx_held_count, 0); /* stale frames are not kept for the next boot */
    CHECK_EQ(switch_take(true), 60);
    CHECK(counters_requested());
    CHECK(buffers_accounted());
    /* The new driver works. */
    CHECK(driver_up());
    guest_rx_buffer(0, HDR + 1514);
    vdrv_notify(VIO_RXQ);
    CHECK(fb_send_input(frame, 70));
    CHECK(memcmp(rx_at(HDR), frame, 70) == 0);
    /* Power-off: the device is reset, the switch asked; later frames touch no guest RAM. */
    guest_rx_buffer(0x1000, HDR + 1514);
    vdrv_notify(VIO_RXQ);
    fx_smc(0, PSCI_SYSTEM_OFF, 0, 0, 0, &r);
    CHECK(fx.vm.state == VM_POWERED_OFF);
    CHECK(counters_requested());
    CHECK(fb_send_input(frame, 70));
    CHECK_EQ(rx_at(0x1000)[0], '.');
    CHECK_EQ(NET->count.rx_no_driver, 2);
    CHECK(buffers_accounted());
}
