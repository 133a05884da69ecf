/* The virtio-mmio network device driver (see virtio_net.h). */
#include "virtio_net.h"

#include <pd/mmio.h>
#include <stddef.h>

/* virtio-mmio registers (virtio 1.2, 4.2.2) */
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEVICE_FEATURES 0x010
#define R_DEVICE_FEATURES_SEL 0x014
#define R_DRIVER_FEATURES 0x020
#define R_DRIVER_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INTERRUPT_STATUS 0x060
#define R_INTERRUPT_ACK 0x064
#define R_STATUS 0x070
#define R_QUEUE_DESC 0x080
#define R_QUEUE_DRIVER 0x090
#define R_QUEUE_DEVICE 0x0a0
#define R_CONFIG 0x100

#define MAGIC 0x74726976u /* "virt" */
#define DEVICE_NET 1u
#define S_ACK 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_FAILED 0x80u
#define F_MAC 5
#define F_VERSION_1 32
#define D_WRITE 2u

enum { RXQ, TXQ };

/* Where things are in the DMA region. */
#define Q_DESC(q) ((q)*0x1000u)
#define Q_AVAIL(q) ((q)*0x1000u + 0x200u)
#define Q_USED(q) ((q)*0x1000u + 0x400u)
#define BUF(q, i) (0x2000u + ((q)*VNET_QUEUE_SIZE + (i)) * VNET_BUF_SIZE)

_Static_assert(16u * VNET_QUEUE_SIZE <= 0x200u && 6u + 2u * VNET_QUEUE_SIZE <= 0x200u &&
                   6u + 8u * VNET_QUEUE_SIZE <= 0xc00u,
               "the rings fit their places");

static uint32_t rd(const struct vnet *n, unsigned off)
{
    return pd_mmio_read32(n->regs + off);
}

static void wr(const struct vnet *n, unsigned off, uint32_t v)
{
    pd_mmio_write32(n->regs + off, v);
}

/* Orders the driver's writes to the DMA region before what follows (a ring index, a register
 * write the device acts on), and the device's before the driver's reads. */
static void dma_fence(void)
{
#ifdef __aarch64__
    __asm__ volatile("dmb sy" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static volatile uint16_t *u16_at(struct vnet *n, uint32_t off)
{
    return (volatile uint16_t *)(void *)(n->dma + off);
}

static volatile uint32_t *u32_at(struct vnet *n, uint32_t off)
{
    return (volatile uint32_t *)(void *)(n->dma + off);
}

static void set_desc(struct vnet *n, unsigned q, unsigned i, uint32_t len, uint16_t flags)
{
    uint8_t *d = n->dma + Q_DESC(q) + 16u * i;
    uint64_t addr = n->dma_paddr + BUF(q, i);
    for (unsigned b = 0; b < 8; b++)
        d[b] = (uint8_t)(addr >> (8 * b));
    d[8] = (uint8_t)len;
    d[9] = (uint8_t)(len >> 8);
    d[10] = (uint8_t)(len >> 16);
    d[11] = (uint8_t)(len >> 24);
    d[12] = (uint8_t)flags;
    d[13] = (uint8_t)(flags >> 8);
    d[14] = d[15] = 0;
}

/* Makes descriptor i of queue q available (published at the next index store). */
static void make_available(struct vnet *n, unsigned q, unsigned i)
{
    uint16_t *idx = q == RXQ ? &n->rx_avail : &n->tx_avail;
    *u16_at(n, Q_AVAIL(q) + 4u + 2u * (*idx % VNET_QUEUE_SIZE)) = (uint16_t)i;
    (*idx)++;
    dma_fence();
    *u16_at(n, Q_AVAIL(q) + 2u) = *idx;
}

static const char *fail(struct vnet *n, const char *why)
{
    wr(n, R_STATUS, rd(n, R_STATUS) | S_FAILED);
    return why;
}

static const char *setup_queue(struct vnet *n, unsigned q)
{
    wr(n, R_QUEUE_SEL, q);
    if (rd(n, R_QUEUE_READY))
        return "a queue is in use already";
    if (rd(n, R_QUEUE_NUM_MAX) < VNET_QUEUE_SIZE)
        return "the device's queues are smaller than the driver's";
    wr(n, R_QUEUE_NUM, VNET_QUEUE_SIZE);
    const unsigned regs[3] = { R_QUEUE_DESC, R_QUEUE_DRIVER, R_QUEUE_DEVICE };
    const uint32_t offs[3] = { Q_DESC(q), Q_AVAIL(q), Q_USED(q) };
    for (unsigned k = 0; k < 3; k++) {
        uint64_t pa = n->dma_paddr + offs[k];
        wr(n, regs[k], (uint32_t)pa);
        wr(n, regs[k] + 4, (uint32_t)(pa >> 32));
    }
    wr(n, R_QUEUE_READY, 1);
    return NULL;
}

const char *vnet_start(struct vnet *n, uintptr_t regs, void *dma, uint64_t paddr, uint64_t size)
{
    *n = (struct vnet){ .regs = regs, .dma = dma, .dma_paddr = paddr };
    if (size < VNET_DMA_BYTES)
        return "its DMA region is too small";
    if (rd(n, R_MAGIC) != MAGIC)
        return "no virtio-mmio device there (bad magic value)";
    uint32_t version = rd(n, R_VERSION);
    if (version == 1)
        return "the device has the legacy interface only (QEMU needs -global "
               "virtio-mmio.force-legacy=false)";
    if (version != 2)
        return "the device's virtio-mmio version is not 2";
    if (rd(n, R_DEVICE_ID) != DEVICE_NET)
        return "the device there is not a network device";
    wr(n, R_STATUS, 0);
    wr(n, R_STATUS, S_ACK);
    wr(n, R_STATUS, S_ACK | S_DRIVER);
    uint64_t offered = 0;
    for (unsigned w = 0; w < 2; w++) {
        wr(n, R_DEVICE_FEATURES_SEL, w);
        offered |= (uint64_t)rd(n, R_DEVICE_FEATURES) << (32 * w);
    }
    if (!((offered >> F_VERSION_1) & 1))
        return fail(n, "the device does not offer VIRTIO_F_VERSION_1");
    uint64_t take = (UINT64_C(1) << F_VERSION_1) | (offered & (UINT64_C(1) << F_MAC));
    for (unsigned w = 0; w < 2; w++) {
        wr(n, R_DRIVER_FEATURES_SEL, w);
        wr(n, R_DRIVER_FEATURES, (uint32_t)(take >> (32 * w)));
    }
    wr(n, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    if (!(rd(n, R_STATUS) & S_FEATURES_OK))
        return fail(n, "the device refused the features (FEATURES_OK clear)");
    n->has_mac = (take >> F_MAC) & 1;
    for (unsigned i = 0; n->has_mac && i < 6; i++)
        n->mac[i] = (uint8_t)(pd_mmio_read32(n->regs + R_CONFIG + (i & ~3u)) >> (8 * (i & 3)));
    for (uint32_t off = 0; off < 0x2000u; off++)
        n->dma[off] = 0;
    for (unsigned q = 0; q < 2; q++) {
        const char *why = setup_queue(n, q);
        if (why)
            return fail(n, why);
    }
    for (unsigned i = 0; i < VNET_QUEUE_SIZE; i++) {
        set_desc(n, RXQ, i, VNET_BUF_SIZE, D_WRITE);
        make_available(n, RXQ, i);
        n->rx_out |= 1u << i;
    }
    wr(n, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    dma_fence();
    wr(n, R_QUEUE_NOTIFY, RXQ);
    return NULL;
}

/* The next used entry of queue q, if any: true with its id and length. */
static bool next_used(struct vnet *n, unsigned q, uint32_t *id, uint32_t *len)
{
    uint16_t *seen = q == RXQ ? &n->rx_used_seen : &n->tx_used_seen;
    uint16_t idx = *u16_at(n, Q_USED(q) + 2u);
    if (idx == *seen)
        return false;
    dma_fence(); /* the index before the entries it covers */
    uint32_t slot = Q_USED(q) + 4u + 8u * (*seen % VNET_QUEUE_SIZE);
    *id = *u32_at(n, slot);
    *len = *u32_at(n, slot + 4u);
    (*seen)++;
    return true;
}

uint32_t vnet_recv(struct vnet *n, uint8_t *buf, uint32_t size)
{
    uint32_t id, len;
    for (unsigned tries = 0; tries < VNET_QUEUE_SIZE && next_used(n, RXQ, &id, &len); tries++) {
        if (id >= VNET_QUEUE_SIZE || !(n->rx_out & (1u << id))) {
            n->count.rx_bad++;
            continue;
        }
        n->rx_out &= ~(1u << id);
        if (len < VNET_HDR_SIZE + 14u || len > VNET_BUF_SIZE) {
            n->count.rx_bad++;
        } else {
            uint32_t flen = len - VNET_HDR_SIZE, k = flen < size ? flen : size;
            const volatile uint8_t *src = n->dma + BUF(RXQ, id) + VNET_HDR_SIZE;
            for (uint32_t b = 0; b < k; b++)
                buf[b] = src[b];
            n->count.rx_short += k < flen;
            n->count.rx_frames++;
            set_desc(n, RXQ, id, VNET_BUF_SIZE, D_WRITE);
            make_available(n, RXQ, id);
            n->rx_out |= 1u << id;
            n->rx_added = true; /* the device hears of the buffer at the next kick */
            return k;
        }
        set_desc(n, RXQ, id, VNET_BUF_SIZE, D_WRITE);
        make_available(n, RXQ, id);
        n->rx_out |= 1u << id;
    }
    return 0;
}

uint32_t vnet_tx_room(struct vnet *n)
{
    uint32_t id, len;
    for (unsigned tries = 0; tries < VNET_QUEUE_SIZE && next_used(n, TXQ, &id, &len); tries++) {
        if (id >= VNET_QUEUE_SIZE || !(n->tx_out & (1u << id))) {
            n->count.tx_bad++;
            continue;
        }
        n->tx_out &= ~(1u << id);
    }
    return VNET_QUEUE_SIZE - (uint32_t)__builtin_popcount(n->tx_out);
}

bool vnet_send(struct vnet *n, const uint8_t *frame, uint32_t len)
{
    if (len > VNET_BUF_SIZE - VNET_HDR_SIZE || !vnet_tx_room(n)) {
        n->count.tx_full++;
        return false;
    }
    unsigned i = (unsigned)__builtin_ctz(~n->tx_out);
    volatile uint8_t *dst = n->dma + BUF(TXQ, i);
    for (uint32_t b = 0; b < VNET_HDR_SIZE; b++)
        dst[b] = 0;
    for (uint32_t b = 0; b < len; b++)
        dst[VNET_HDR_SIZE + b] = frame[b];
    set_desc(n, TXQ, i, VNET_HDR_SIZE + len, 0);
    n->tx_out |= 1u << i;
    make_available(n, TXQ, i);
    n->tx_added = true;
    n->count.tx_frames++;
    return true;
}

void vnet_kick(struct vnet *n)
{
    dma_fence();
    if (n->tx_added)
        wr(n, R_QUEUE_NOTIFY, TXQ);
    if (n->rx_added)
        wr(n, R_QUEUE_NOTIFY, RXQ);
    n->tx_added = n->rx_added = false;
}

uint32_t vnet_irq_ack(struct vnet *n)
{
    uint32_t bits = rd(n, R_INTERRUPT_STATUS);
    if (bits)
        wr(n, R_INTERRUPT_ACK, bits);
    return bits;
}
