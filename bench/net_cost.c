/*
 * Instructions the VMM's network device, the virtual switch and the echo service spend per
 * frame on the host build, for callgrind: `net_cost OP N` runs N operations of one kind after a
 * fixed setup; only the functions named measured_* are counted (bench/net_cost.sh passes
 * --toggle-collect), so the fake peers and the guest's own work between them are not. The
 * script runs two N and divides the difference.
 *
 * The VMM's operations go through the same path as on the target (exit decode, dispatch,
 * emulation, register write-back, vGIC delivery), with the simulated hypervisor standing in for
 * seL4; the switch and the echo service run their real code over the simulated component seam.
 */
#include <echo/echo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "net_dev_fx.h"
#include "net_fixture.h"
#include "sim_hyp.h"
#include "sim_pd.h"
#include "virtio_fx.h"

static uint8_t frame[NET_BUF_SIZE];

/* ---- the VMM -------------------------------------------------------------------------------- */

__attribute__((noinline)) void measured_tx_notify(void)
{
    vdrv_notify(VIO_TXQ);
}

__attribute__((noinline)) void measured_switch_notification(void)
{
    vm_notified(&fx.vm, FX_VIRTIO_CH);
}

/* The guest's interrupt handler (not measured) and the used entries it takes back. */
static void guest_takes_interrupt(unsigned q)
{
    uint32_t id, len;
    vio_write(VIO_INTERRUPT_ACK, vio_read(VIO_INTERRUPT_STATUS));
    fx_guest_handles(0, FX_VIRTIO_IRQ);
    while (vdrv_next_used(q, &id, &len))
        ;
}

/* The guest sends one frame of `len` bytes (header + frame in one buffer), the switch takes it
 * and gives the buffer back; only the guest's QueueNotify exit is measured. */
static void vmm_tx(unsigned long n, uint32_t len)
{
    uint64_t gpa = VIO_DATA;
    uint32_t l = NDFX_HDR + len;
    memset(vio_ram(gpa), 0, NDFX_HDR);
    memset(vio_ram(gpa) + NDFX_HDR, 0xff, len);
    for (unsigned long i = 0; i < n; i++) {
        vdrv_chain(VIO_TXQ, &gpa, &l, 1, false);
        measured_tx_notify();
        fb_take_output(1, true); /* gives back, notifying the VMM: not measured */
        guest_takes_interrupt(VIO_TXQ);
    }
}

/* The switch delivers one frame of `len` bytes into a waiting receive chain: its notification
 * (RX_ACTIVE), the copy into the guest, the used entry, the interrupt, RX_FREE. */
static void vmm_rx(unsigned long n, uint32_t len)
{
    uint64_t gpa = VIO_DATA + 0x40000;
    uint32_t l = NDFX_HDR + NET_MAX_FRAME;
    memset(frame, 0x5a, len);
    for (unsigned long i = 0; i < n; i++) {
        vdrv_chain(VIO_RXQ, &gpa, &l, 1, true);
        vdrv_notify(VIO_RXQ);
        struct ring_entry e;
        if (!ring_pop(&fb.conn.ring[CONN_RX_FREE], &e))
            exit(1);
        memcpy(fb.conn.rx_data + e.offset, frame, len);
        ring_push(&fb.conn.ring[CONN_RX_ACTIVE], &(struct ring_entry){ e.offset, len, e.id }, NULL);
        measured_switch_notification();
        guest_takes_interrupt(VIO_RXQ);
    }
}

/* ---- the switch and the echo service -------------------------------------------------------- */

__attribute__((noinline)) void measured_switch(void)
{
    vswitch_notified(&nfx.sw, NFX_SW_CH(0));
}

/* Port 1 sends a frame of `len` bytes to `dst`; the receivers take theirs (not measured). */
static void switch_frames(unsigned long n, const uint8_t *dst, uint32_t len)
{
    uint8_t src[6], got[NET_BUF_SIZE];
    nfx_mac(0, src);
    nfx_frame(frame, dst, src, len - 14, 1);
    for (unsigned long i = 0; i < n; i++) {
        net_client_send(&nfx.p[0].cl, frame, len);
        measured_switch();
        for (unsigned p = 0; p < nfx.n; p++) {
            net_client_notified(&nfx.p[p].cl);
            while (net_client_recv(&nfx.p[p].cl, got, sizeof(got)))
                ;
        }
    }
}

static struct echo echo_pd;

__attribute__((noinline)) void measured_echo(void)
{
    echo_notified(&echo_pd, NFX_CLIENT_CH(1));
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i += 2)
        s += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* A 64-byte ping (98-byte frame) to the echo service, from port 1 through the switch; only the
 * echo service's notification is measured (receive, ICMP, reply, send). */
static void echo_pings(unsigned long n)
{
    static struct echo_config cfg;
    cfg =
        (struct echo_config){ .net = nfx.p[1].client_view, .ip = { 10, 0, 0, 100 }, .udp_port = 7 };
    nfx_mac(1, cfg.mac);
    echo_init(&echo_pd, &cfg, "echo");
    nfx_mac(1, frame);
    nfx_mac(0, frame + 6);
    frame[12] = 0x08;
    frame[13] = 0x00;
    uint8_t *ip = frame + 14;
    static const uint8_t hdr[20] = { 0x45, 0, 0,  84, 0, 0, 0x40, 0, 64, 1,
                                     0,    0, 10, 0,  0, 1, 10,   0, 0,  100 };
    memcpy(ip, hdr, 20);
    uint16_t c = csum(ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    uint8_t *icmp = ip + 20;
    memset(icmp, 0, 64);
    icmp[0] = 8;
    for (unsigned i = 8; i < 64; i++)
        icmp[i] = (uint8_t)i;
    c = csum(icmp, 64);
    icmp[2] = (uint8_t)(c >> 8);
    icmp[3] = (uint8_t)c;
    uint8_t got[NET_BUF_SIZE];
    for (unsigned long i = 0; i < n; i++) {
        net_client_send(&nfx.p[0].cl, frame, 98);
        vswitch_notified(&nfx.sw, NFX_SW_CH(0));
        sim_pd_take_notify(NFX_CLIENT_CH(1));
        measured_echo();
        vswitch_notified(&nfx.sw, NFX_SW_CH(1));
        if (net_client_recv(&nfx.p[0].cl, got, sizeof(got)) != 98)
            exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr,
                "usage: %s vmm_tx64|vmm_tx1514|vmm_rx64|vmm_rx1514|switch_unicast64|"
                "switch_unicast1514|switch_broadcast64|echo_ping N\n",
                argv[0]);
        return 2;
    }
    const char *op = argv[1];
    unsigned long n = strtoul(argv[2], NULL, 0);
    if (!strncmp(op, "vmm_", 4)) {
        if (!ndfx_up())
            return 1;
        fb.auto_notify = true;
        if (!strcmp(op, "vmm_tx64"))
            vmm_tx(n, 64);
        else if (!strcmp(op, "vmm_tx1514"))
            vmm_tx(n, 1514);
        else if (!strcmp(op, "vmm_rx64"))
            vmm_rx(n, 64);
        else if (!strcmp(op, "vmm_rx1514"))
            vmm_rx(n, 1514);
        else
            return 2;
        const struct virtio_net_counters *c = &fx.vm.virtio[0].u.net.count;
        return c->tx_frames + c->rx_frames == n ? 0 : 1;
    }
    nfx_setup(3, 0);
    for (unsigned i = 0; i < 3; i++) {
        if (i != 1 || strcmp(op, "echo_ping")) /* port 2 is the echo service's own */
            net_client_init(&nfx.p[i].cl, &nfx.p[i].client_view);
    }
    vswitch_init(&nfx.sw, &nfx.cfg);
    uint8_t to[6];
    nfx_mac(1, to);
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    if (!strcmp(op, "switch_unicast64"))
        switch_frames(n, to, 64);
    else if (!strcmp(op, "switch_unicast1514"))
        switch_frames(n, to, 1514);
    else if (!strcmp(op, "switch_broadcast64"))
        switch_frames(n, bcast, 64);
    else if (!strcmp(op, "echo_ping"))
        echo_pings(n);
    else
        return 2;
    return nfx.sw.port[0].count.in_frames >= n ? 0 : 1;
}
