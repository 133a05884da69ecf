/*
 * libFuzzer target: a guest's worth of hostile exits against one VM. Each 24-byte record is one
 * exit (emulated MMIO read/write of any width to any distributor offset or unmapped address,
 * SMC/HVC with any function ID, virtual PPIs, maintenance for any list register, notifications,
 * the guest programming the shared physical timer, stage-1 tables for ISV=0 fetches,
 * system-register traps, unknown classes, the guest reprogramming its virtual timer and then
 * waiting in WFI or WFE, load/store pairs and writeback forms across the boundaries of RAM,
 * devices and unmapped space with the MMU off and on; with a virtio console (data[0] bit 2):
 * virtio-mmio accesses of any offset and width, descriptors and available rings the guest builds
 * in its RAM (loops, huge lengths, addresses outside RAM), notifications, and a backend that
 * behaves, hands back anything, or scribbles over the shared rings); with data[0] bit 4 as well,
 * the device is a virtio network device instead, and the backend a switch sending frames of any
 * length (header-less chains, frames over the MTU, offload flags come from the guest's side).
 * The VMM must never crash,
 * never touch
 * memory outside its state (ASan/UBSan), never overwrite a list register that still holds an
 * interrupt (the simulated hypervisor aborts if it does), never put an interrupt that cannot be
 * signalled (the lowest priority) into a list register, and always keep the last free list
 * register for an interrupt of higher priority than every one held (checked after every exit).
 * A pair it emulates must have moved exactly its RAM elements; one it refuses must have changed
 * no register and no RAM (the fuzzer aborts otherwise). The virtio console's interrupt line must
 * be high exactly while its InterruptStatus is not zero, every buffer of its connection must be
 * in exactly one place, every entry it queues for the backend must name one of its buffers, and
 * it must never write what belongs to the backend (the RX data, the backend's rings and
 * indices). With data[0] bit 3 the device is a virtio block device instead, its backend a block
 * server played by the input (takes requests, answers them in any order with any status, hands
 * back any entry, says it is ready with any capacity, scribbles): every request the VMM sends
 * must name its own slot and data pages (no two requests share a page), lie inside the
 * capacity it was told, never write a read-only disk, and it must never write the server's
 * ring, indices or blk_info.
 * With data[0] bit 4 (and not bit 3) it is a network device: its frames to the switch must be
 * frames (14..MTU + 14 bytes, or the zero-length counters request), and its buffers too in
 * exactly one place.
 * With data[0] bit 5 there are three vCPUs (bit 0 alone: two); with two or three, directed
 * yields (WFE, SGI senders): a held vCPU must be stopped, wait only for other vCPUs and at most
 * the yield bound, none may still wait for the vCPU whose exit was just handled, and a WFE must
 * return at once when no other vCPU could run.
 */
#include <proto/blk.h>
#include <proto/net.h>
#include <proto/serial.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmm/esr.h>
#include <vmm/insn.h>
#include <vmm/util.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "virtio_fx.h"

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The list-register rules, checked against what the simulated hypervisor was asked to do. */
static void check_injections(unsigned from)
{
    static uint8_t held_prio[VGIC_MAX_VCPUS][VGIC_MAX_LRS];
    if (from == 0)
        memset(held_prio, 0, sizeof(held_prio));
    for (unsigned i = from; i < sim.num_inj; i++) {
        const struct sim_injection *in = &sim.inj[i];
        if (in->priority >= VGIC_PRIO_NEVER_SIGNALLED)
            __builtin_trap();
        unsigned nfree = 0, held_min = 256;
        for (unsigned l = 0; l < fx.cfg.gic_num_lrs; l++) {
            bool used = sim.vcpu[in->vcpu].lr_used[l] && l != in->lr;
            nfree += !used;
            if (used && held_prio[in->vcpu][l] < held_min)
                held_min = held_prio[in->vcpu][l];
        }
        if (nfree == 1 && held_min < 256 && in->priority >= held_min)
            __builtin_trap();
        held_prio[in->vcpu][in->lr] = in->priority;
    }
}

/* ---- directed yields ---------------------------------------------------------------------- */
#define YIELD_BOUND_TICKS (SIM_COUNTER_FREQ / 20000u) /* src/core/yield.c: 50 us */

/* After each record; `exited` is the vCPU whose exits it made, or -1. */
static void check_yields(int exited)
{
    unsigned n = fx.cfg.num_vcpus;
    for (unsigned v = 0; v < n; v++) {
        uint32_t waits = fx.vm.held_for[v];
        if (!fx.vm.sleeping[v] || !waits)
            continue;
        if (n == 1 || (waits >> v) & 1 || waits >> n)
            __builtin_trap(); /* held for itself, or for vCPUs the VM does not have */
        if ((fx.vm.held_watch & waits) != waits)
            __builtin_trap(); /* an exit that should end the hold would not be noticed */
        if (!fx.vm.wake_deadline[v] || fx.vm.wake_deadline[v] > sim.now + YIELD_BOUND_TICKS)
            __builtin_trap(); /* held longer than the bound */
        if (sim.vcpu[v].running)
            __builtin_trap(); /* the VMM restarted it but still counts it held */
        if (exited >= 0 && (unsigned)exited != v && (waits >> exited) & 1)
            __builtin_trap(); /* still waits for a vCPU that has had its turn */
    }
}

/* True if a vCPU other than `vcpu` can run, or will once `vcpu` exits (it is held for it). */
static bool others_could_run(unsigned vcpu)
{
    for (unsigned v = 0; v < fx.cfg.num_vcpus; v++) {
        if (v != vcpu &&
            (vm_vcpu_runnable(&fx.vm, v) || (fx.vm.sleeping[v] && (fx.vm.held_for[v] >> vcpu) & 1)))
            return true;
    }
    return false;
}

/* ---- pairs across region boundaries -------------------------------------------------------
 * Two extra emulated devices: one right after guest RAM, one right after the distributor, so that
 * with the MMU off pairs cross RAM/device, device/device and device/unmapped boundaries. Each is
 * 4 KiB of memory; offsets with bit 11 set refuse every access, and so may every offset. With the
 * MMU on, the guest maps four pages of a VA window onto any of these (or RAM, the redistributors,
 * nothing). */
#define RAM_END (FX_RAM_BASE + FX_RAM_SIZE)
#define DEV_SIZE 0x1000u
#define CODE (FX_RAM_BASE + 0x200000)
#define TABLES (FX_RAM_BASE + 0x300000)
#define RAM_X (FX_RAM_BASE + 0x400000)
#define WIN 0x10000000ull
#define VBAR 0x40010000u

static uint8_t dev_mem[2][DEV_SIZE];
static bool dev_refusing; /* for one pair record: the devices refuse everything */

static enum mmio_result dev_access(struct vm *vm, const void *ctx, unsigned vcpu, uint64_t off,
                                   unsigned width, bool write, uint64_t *value)
{
    uint8_t *m = ctx == dev_mem[0] ? dev_mem[0] : dev_mem[1];
    (void)vm, (void)vcpu;
    if (dev_refusing || (off & 0x800) || off + width > DEV_SIZE)
        return MMIO_ABORT;
    for (unsigned i = 0; i < width; i++) {
        if (write)
            m[off + i] = (uint8_t)(*value >> (8 * i));
        else
            *value = (i ? *value : 0) | (uint64_t)m[off + i] << (8 * i);
    }
    return MMIO_OK;
}

static uint64_t dist_end(bool v3)
{
    return FX_GICD + (v3 ? GICV3_DIST_SIZE : GICV2_DIST_SIZE);
}

static bool edge_seen; /* the guest made the virtio interrupt edge-triggered since boot */
/* A virtual PPI exit named the virtio SPI (the kernel reports only PPIs; the record may name
 * anything) and raised its line: until the device lowers it, the line is not the device's. */
static bool line_forced;

static bool blk_mode; /* the virtio device is a block device (data[0] bit 3) */
static int blk_boot(bool v3, unsigned vcpus);
static bool net; /* the virtio device is a network device (data[0] bit 4, not bit 3) */

/* The fixture's virtio device as a network device on the same slot and connection (its data
 * regions hold two buffers each). */
static int boot_net(unsigned vcpus, bool v3)
{
    fx_config(vcpus);
    if (v3) {
        fx.cfg.gic_version = 3;
        fx.cfg.gicr_base = FX_GICR;
    }
    fx_add_virtio_console();
    static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x0a };
    fx.virtio[0].type = VMM_VIRTIO_NET;
    fx.virtio[0].name = "net";
    memcpy(fx.virtio[0].u.net.mac, mac, 6);
    fx.virtio[0].u.net.mtu = NET_MTU;
    return vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm);
}

static int boot(bool v3, unsigned vcpus, bool virtio)
{
    edge_seen = line_forced = false;
    if (virtio && blk_mode) {
        if (!blk_boot(v3, vcpus))
            return 0;
    } else if (virtio) {
        if (!(net ? boot_net(vcpus, v3) : fx_boot_virtio(vcpus, v3)))
            return 0;
        fb_attach();
    } else if (!(v3 ? fx_boot_v3(vcpus) : fx_boot(vcpus)))
        return 0;
    memset(dev_mem, 0, sizeof(dev_mem));
    return vm_add_mmio(&fx.vm, RAM_END, DEV_SIZE, "fuzz device A", dev_access, dev_mem[0]) &&
           vm_add_mmio(&fx.vm, dist_end(v3), DEV_SIZE, "fuzz device B", dev_access, dev_mem[1]);
}

static void fail(const char *what, uint32_t insn)
{
    fprintf(stderr, "fuzz_exits: pair 0x%08x: %s\n", insn, what);
    abort();
}

static bool read_ram_u64(void *ctx, uint64_t ipa, uint64_t *value)
{
    (void)ctx;
    if (ipa & 7 || !range_inside(ipa, 8, FX_RAM_BASE, FX_RAM_SIZE))
        return false;
    memcpy(value, fx.ram + (ipa - FX_RAM_BASE), 8);
    return true;
}

static void put_ram_u64(uint64_t ipa, uint64_t value)
{
    memcpy(fx.ram + (ipa - FX_RAM_BASE), &value, 8);
}

static uint64_t ram_bytes(uint64_t ipa, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, fx.ram + (ipa - FX_RAM_BASE), size);
    return v;
}

/* The RAM a pair may reach: around RAM_X (the guest's pages) and both ends of RAM. */
#define WATCHED_SIZE 0x4000u
static const uint64_t watched[3] = { RAM_X, RAM_END - WATCHED_SIZE, FX_RAM_BASE };
static uint8_t snapshot[3][WATCHED_SIZE];

/* True if a watched byte changed that is not in one of the elements (of `size` bytes; 0: none). */
static bool ram_changed_outside(const uint64_t ipa[2], const bool in_ram[2], unsigned size)
{
    for (unsigned w = 0; w < ARRAY_SIZE(watched); w++) {
        const uint8_t *now = fx.ram + (watched[w] - FX_RAM_BASE);
        for (uint64_t i = 0; i < WATCHED_SIZE; i++) {
            uint64_t at = watched[w] + i;
            bool allowed = (in_ram[0] && at - ipa[0] < size) || (in_ram[1] && at - ipa[1] < size);
            if (now[i] != snapshot[w][i] && !allowed)
                return true;
        }
    }
    return false;
}

/* The IPA of a guest address as its tables say (no permission checks). */
static bool translate(const struct sim_vcpu *v, uint64_t va, uint64_t *ipa)
{
    return s1_translate(va, v->sctlr, v->sysreg[VCPU_TCR_EL1], v->sysreg[VCPU_TTBR0_EL1], 0,
                        read_ram_u64, NULL, ipa);
}

/* The guest maps WIN + 0x1000 and WIN + 0x2000 (the boundary between them is where pairs go)
 * onto RAM, a device, the redistributors, an IPA nothing answers or nothing at all, with any
 * permissions (usually read/write for EL1 only) and now and then the access flag clear; RAM
 * around them; its code at WIN + 0x8000. */
static void guest_tables(struct sim_vcpu *v, bool v3, uint8_t sel, uint64_t a)
{
    const uint64_t targets[8] = { RAM_X,        RAM_X + 0x1000, FX_GICD,    RAM_END,
                                  dist_end(v3), FX_GICR,        0x0a000000, 0 };
    uint64_t l1 = TABLES, l2 = TABLES + 0x1000, l3 = TABLES + 0x2000;
    put_ram_u64(l1 + ((WIN >> 30) & 0x1ff) * 8, l2 | 3);
    put_ram_u64(l2 + ((WIN >> 21) & 0x1ff) * 8, l3 | 3);
    put_ram_u64(l3, (RAM_X + 0x2000) | 0x403);
    put_ram_u64(l3 + 3 * 8, (RAM_X + 0x3000) | 0x403);
    for (unsigned pg = 1; pg <= 2; pg++) {
        uint64_t target = targets[(sel >> (3 * (pg - 1))) & 7], bits = a >> (20 + 6 * pg);
        uint64_t attrs = (bits & 7) == 7 ? 0x3 : 0x403;
        if (bits & 8)
            attrs |= ((bits >> 4) & 3) << 6; /* AP[2:1] */
        put_ram_u64(l3 + pg * 8, target ? target | attrs : 0);
    }
    put_ram_u64(l3 + 8 * 8, CODE | 0x443);
    v->sctlr = 1;
    /* T0SZ 25 (39-bit VAs, 4 KiB granule), sometimes TBI0 and HPD0. */
    v->sysreg[VCPU_TCR_EL1] = 25 | ((a >> 40) & 1) << 37 | ((a >> 41) & 1) << 41;
    v->sysreg[VCPU_TTBR0_EL1] = l1;
}

/* A pair (or single writeback) load/store across a boundary, reported without a syndrome.
 * r[2]: boundary (MMU off) or what the two pages map (MMU on); r[3]: opc, mode, L, MMU, faulting
 * element, S1PTW; r[4]: Rt, EL and PAN; r[5]: Rt2; r[6]: Rn; r[7]: imm7, single form; a: offset
 * from the boundary, fault offset, page attributes, TBI, HPD, devices refusing; b: register and
 * RAM values. */
static void pair_across_boundary(unsigned vcpu, bool v3, const uint8_t *r, uint64_t a, uint64_t b)
{
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    unsigned opc = r[3] & 3, mode = (r[3] >> 2) & 3, load = (r[3] >> 4) & 1;
    bool mmu = r[3] & 0x20, second = r[3] & 0x40;
    unsigned rt = r[4] & 31, rt2 = r[5] & 31, rn = r[6] & 31, imm7 = r[7] & 0x7f;
    static const uint64_t spsrs[4] = { 0x3c5, 0x3c4, 0x0, 0x3c5 | 1u << 22 };
    uint64_t spsr = spsrs[r[4] >> 6];
    /* LDP/STP/LDPSW, 32 or 64-bit, post-index, offset or pre-index; or LDR/STR (32 or 64-bit)
     * with a post- or pre-index write-back. */
    uint32_t insn = (opc == 3 ? 2u : opc) << 30 | 5u << 27 | (mode ? mode : 2u) << 23 | load << 22 |
                    imm7 << 15 | rt2 << 10 | rn << 5 | rt;
    if (r[7] & 0x80)
        insn = (opc | 2u) << 30 | 7u << 27 | load << 22 | (uint32_t)(a & 0x1ff) << 12 |
               ((mode & 1) ? 1u : 3u) << 10 | rn << 5 | rt;
    struct ldst d;
    if (!insn_decode_ldst(insn, &d))
        d = (struct ldst){ .size = 4 }; /* refused whatever the addresses: still try them */
    uint64_t boundary;
    if (mmu) {
        guest_tables(v, v3, r[2], a);
        boundary = WIN + 0x2000;
        v->regs.pc = WIN + 0x8000;
    } else {
        const uint64_t boundaries[8] = { RAM_END,
                                         RAM_END,
                                         FX_GICD,
                                         dist_end(v3),
                                         dist_end(v3) + DEV_SIZE,
                                         RAM_END + DEV_SIZE,
                                         FX_RAM_BASE,
                                         FX_GICR };
        boundary = boundaries[r[2] & 7];
        v->sctlr = 0;
        v->sysreg[VCPU_TCR_EL1] = 0;
        v->regs.pc = CODE;
    }
    memcpy(fx.ram + (CODE - FX_RAM_BASE), &insn, 4);
    /* Element 0 ends at the boundary, or a few bytes off (misaligned, straddling). */
    uint64_t va = boundary - d.size + ((a & 0x100) ? (uint64_t)((int8_t)(a & 0xff) % 16) : 0);
    uint64_t base = va - (d.post_index ? 0 : (uint64_t)d.offset);
    bool el1h = (spsr & 0xf) == 5;
    v->regs.spsr = spsr;
    v->sysreg[VCPU_VBAR_EL1] = VBAR;
    v->regs.x[rt == 31 ? 0 : rt] = b;
    v->regs.x[rt2 == 31 ? 0 : rt2] = ~b * 3;
    if (rn != 31)
        v->regs.x[rn] = base;
    else if (el1h)
        v->sysreg[VCPU_SP_EL1] = base;
    else
        v->regs.sp = base;
    /* Each element's IPA as the tables say (both ends, which must be contiguous), what RAM held
     * there, and the RAM where the elements may be. */
    unsigned count = d.pair ? 2 : 1;
    uint64_t ipa[2] = { 0, 0 }, before[2] = { 0, 0 };
    bool in_ram[2] = { false, false };
    for (unsigned i = 0; i < count; i++) {
        uint64_t eva = va + i * d.size, last;
        if (!translate(v, eva, &ipa[i]))
            ipa[i] = 0x0a000000 + (eva & 0xfff);
        in_ram[i] = translate(v, eva + d.size - 1, &last) && last == ipa[i] + d.size - 1 &&
                    range_inside(ipa[i], d.size, FX_RAM_BASE, FX_RAM_SIZE);
        if (in_ram[i]) { /* RAM holds something else than the registers, bit 0 set */
            before[i] = (b * 0x9e3779b97f4a7c15ull + i) | 1;
            memcpy(fx.ram + (ipa[i] - FX_RAM_BASE), &before[i], d.size);
            before[i] = ram_bytes(ipa[i], d.size);
        }
    }
    for (unsigned w = 0; w < ARRAY_SIZE(watched); w++)
        memcpy(snapshot[w], fx.ram + (watched[w] - FX_RAM_BASE), WATCHED_SIZE);
    /* The hardware faults on an element that is not RAM (RAM is mapped): the first such in the
     * order the record picks. */
    unsigned faulting = second && count == 2 ? 1 : 0;
    if (in_ram[faulting] && count == 2)
        faulting = 1 - faulting;
    struct vm_exit e = { .kind = EXIT_VM_FAULT,
                         .vcpu = vcpu,
                         .pc = v->regs.pc,
                         .addr = ipa[faulting] + ((a >> 16) & (d.size - 1)),
                         .esr = (uint64_t)ESR_EC_DABT_LOW << 26 | (r[3] & 0x80u) |
                                (load ? 0u : 1u << 6) | 0x07 };
    const struct vcpu_regs old = v->regs;
    uint64_t old_sp_el1 = v->sysreg[VCPU_SP_EL1];
    struct exit_reply rep;
    dev_refusing = (a >> 42) & 1;
    fx_exit(&e, &rep);
    dev_refusing = false;
    if (fx.vm.state != VM_RUNNING)
        return;
    uint64_t vector = VBAR + ((spsr & 0xc) == 0 ? 0x400 : (spsr & 1) ? 0x200 : 0);
    if (v->regs.pc == vector) {
        /* Refused: no register, no write-back, no RAM changed. */
        if (memcmp(old.x, v->regs.x, sizeof(old.x)) || old.sp != v->regs.sp ||
            old_sp_el1 != v->sysreg[VCPU_SP_EL1])
            fail("refused, but registers changed", insn);
        if (ram_changed_outside(ipa, in_ram, 0))
            fail("refused, but RAM changed", insn);
        return;
    }
    if (v->regs.pc != old.pc + 4)
        fail("neither emulated nor refused", insn);
    if (ram_changed_outside(ipa, in_ram, d.load ? 0 : d.size))
        fail("RAM changed outside the stored elements", insn);
    /* Emulated: RAM elements moved between RAM and their registers, the base written back. */
    const unsigned rts[2] = { d.rt, d.pair ? d.rt2 : 31 };
    uint64_t mask = d.size == 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * d.size)) - 1;
    for (unsigned i = 0; i < count; i++) {
        if (!in_ram[i])
            continue;
        uint64_t reg = rts[i] == 31 ? 0 : old.x[rts[i]];
        if (!d.load && ram_bytes(ipa[i], d.size) != (reg & mask))
            fail("stored element not in RAM", insn);
        bool clobbered = rts[i] == 31 || (d.writeback && rts[i] == d.rn) || rts[0] == rts[1];
        uint64_t want =
            d.sign_extend && d.size == 4 ? (uint64_t)(int64_t)(int32_t)before[i] : before[i];
        if (!d.dest64)
            want &= 0xffffffffu;
        if (d.load && !clobbered && v->regs.x[rts[i]] != want)
            fail("loaded element not from RAM", insn);
    }
    uint64_t wb = d.rn != 31 ? v->regs.x[d.rn] : el1h ? v->sysreg[VCPU_SP_EL1] : v->regs.sp;
    if (d.writeback && wb != base + (uint64_t)d.offset)
        fail("write-back wrong", insn);
    if (!d.writeback && wb != base && !(d.load && (d.rn == rts[0] || d.rn == rts[1])))
        fail("base changed without write-back", insn);
}

/* ---- the virtio console ------------------------------------------------------------------ */

static uint8_t *ram_at(uint64_t gpa, uint64_t len)
{
    return range_inside(gpa, len, FX_RAM_BASE, FX_RAM_SIZE) ? fx.ram + (gpa - FX_RAM_BASE) : NULL;
}

static void virtio_fail(const char *what)
{
    fprintf(stderr, "fuzz_exits: virtio: %s\n", what);
    abort();
}

/* A register access of any width at any offset; often a register, a 32-bit access, and a
 * queue address inside RAM. r[2]: width, write; r[3]: register or any offset; r[4]: Rt;
 * r[5]: 32-bit; r[6]: address-like value. */
static void virtio_mmio(unsigned vcpu, const uint8_t *r, uint64_t a, uint64_t b)
{
    static const unsigned widths[4] = { 1, 2, 4, 8 };
    struct exit_reply rep;
    unsigned width = (r[5] & 1) ? 4 : widths[r[2] & 3];
    uint64_t off = (r[3] & 1) ? (a & 0xfc) : a % FX_VIRTIO_SIZE;
    if (r[6] & 1)
        b = VIO_QAREA(r[6] >> 7) + ((b & 0x3f) << 6);
    sim.vcpu[vcpu].regs.x[r[4] % 31] = b;
    fx_mmio(vcpu, FX_VIRTIO_BASE + off, width, (r[2] >> 2) & 1, r[4] % 32, 0, 1, &rep);
}

/* The guest writes one descriptor of a queue, where it told the device the table is: index
 * r[3], address a (anywhere, in RAM, at its end, among the data buffers: r[4]), length b (any,
 * small, tiny: r[5]), flags r[6], next r[7] (raw when bit 7). */
static void virtio_descriptor(const uint8_t *r, uint64_t a, uint64_t b)
{
    const struct virtq *q = &fx.vm.virtio[0].vq[r[2] & 1];
    unsigned num = q->num && q->num <= VIRTQ_MAX_SIZE ? q->num : 1; /* as the guest set it */
    uint16_t idx = (uint16_t)(r[3] % (num + (r[3] >> 7)));
    uint8_t *p = ram_at(q->desc + 16u * idx, 16);
    if (!p)
        return;
    const uint64_t addrs[4] = { a, FX_RAM_BASE + a % FX_RAM_SIZE, RAM_END - (a & 0xfff),
                                VIO_DATA + (a & 0xffff) };
    const uint32_t lens[4] = { (uint32_t)b, (uint32_t)b & 0xffff, (uint32_t)b & 0x3f,
                               (uint32_t)b & 0x1ff };
    uint64_t addr = addrs[r[4] & 3];
    uint32_t len = lens[r[5] & 3];
    uint16_t flags = (uint16_t)((r[6] & 0x80) ? r[6] | (b >> 48) : r[6] & 3);
    uint16_t next = (uint16_t)((r[7] & 0x80) ? (b >> 32) : (r[7] & 0x7f) % num);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

/* The guest publishes a head (r[4]) in the available ring and notifies, or moves the index
 * anywhere, sets the flags, notifies a queue, or takes its interrupt (reads and acknowledges
 * InterruptStatus). r[2]: queue; r[3]: what. */
static void virtio_driver(unsigned vcpu, const uint8_t *r, uint64_t b)
{
    unsigned qi = r[2] & 1;
    const struct virtq *q = &fx.vm.virtio[0].vq[qi];
    unsigned num = q->num && q->num <= VIRTQ_MAX_SIZE ? q->num : 1; /* as the guest set it */
    uint8_t *avail = ram_at(q->driver, 4 + 2u * num);
    struct exit_reply rep;
    uint16_t idx = avail ? (uint16_t)(avail[2] | avail[3] << 8) : 0;
    switch (r[3] % 6) {
    case 0:
    case 1:
        if (avail) {
            uint16_t head = (uint16_t)((r[4] & 0x80) ? r[4] : r[4] % num);
            memcpy(avail + 4 + 2u * (idx % num), &head, 2);
            idx++;
            memcpy(avail + 2, &idx, 2);
        }
        if (r[3] % 6 == 1)
            break;
        /* fall through: notify */
    case 4:
        sim.vcpu[vcpu].regs.x[1] = (r[5] & 1) ? (uint32_t)b : qi;
        fx_mmio(vcpu, FX_VIRTIO_BASE + VIO_QUEUE_NOTIFY, 4, 1, 1, 0, 0, &rep);
        break;
    case 2:
        if (avail)
            memcpy(avail + 2, &b, 2);
        sim.vcpu[vcpu].regs.x[1] = qi;
        fx_mmio(vcpu, FX_VIRTIO_BASE + VIO_QUEUE_NOTIFY, 4, 1, 1, 0, 0, &rep);
        break;
    case 3:
        if (avail)
            avail[0] = (uint8_t)(b & 1);
        break;
    default:
        fx_mmio(vcpu, FX_VIRTIO_BASE + VIO_INTERRUPT_STATUS, 4, 0, 2, 0, 0, &rep);
        if (r[4] & 1)
            sim.vcpu[vcpu].regs.x[2] = b;
        fx_mmio(vcpu, FX_VIRTIO_BASE + VIO_INTERRUPT_ACK, 4, 1, 2, 0, 0, &rep);
        break;
    }
}

/* The backend: takes output (giving the buffers back or not), sends input, hands back any
 * entry, scribbles over the shared region, or only notifies. Returns true if it wrote the
 * shared region other than through the protocol. */
static bool virtio_backend(const uint8_t *r, uint64_t a, uint64_t b)
{
    const uint64_t buf = net ? NET_BUF_SIZE : SERIAL_BUF_SIZE;
    switch (r[2] % 5) {
    case 0: fb_take_output(r[3] % 17, r[4] & 1); return false;
    case 1:
        if (net) { /* a frame of 14 bytes and more (any length when r[4] bit 0) */
            static uint8_t frame[NET_BUF_SIZE];
            uint32_t len =
                (r[4] & 1) ? (uint32_t)(a % (NET_BUF_SIZE + 1)) : NET_MIN_FRAME + r[3] * 6u;
            for (uint32_t i = 0; i < len; i++)
                frame[i] = (uint8_t)(b >> (8 * (i % 8)));
            fb_send_input(frame, len);
            return false;
        }
        fb_send_input(&b, r[3] % 9);
        return false;
    case 2: {
        uint64_t off = (r[3] & 1) ? a % FX_BACKEND_SIZE : a % conn_queue_bytes(FX_VIRTIO_CAP);
        size_t n = FX_BACKEND_SIZE - off < 8 ? FX_BACKEND_SIZE - off : 8;
        memcpy(fx_backend + off, &b, n);
        fb_notify_vmm();
        return true;
    }
    case 3: {
        unsigned ring = (r[3] & 1) ? CONN_RX_ACTIVE : CONN_TX_FREE;
        uint64_t offset = (r[4] & 1) ? a : (a % 10) * buf + ((r[4] >> 1) & 1);
        uint32_t len = (r[5] & 1) ? (uint32_t)b : (uint32_t)(b % (buf + 2));
        uint32_t id = (r[6] & 1) ? (uint32_t)(b >> 32) : (uint32_t)((b >> 32) % 10);
        fb_push(ring, offset, len, id);
        fb_notify_vmm();
        return false;
    }
    default: fb_notify_vmm(); return false;
    }
}

/* What only the backend may write: the RX data, its own rings (TX_FREE, RX_ACTIVE) but for their
 * tails, and the tails of the VMM's rings (TX_ACTIVE, RX_FREE). */
static uint8_t backend_before[FX_BACKEND_SIZE];
static bool backend_owned[FX_BACKEND_SIZE]; /* filled once */

static bool backend_part(uint64_t off)
{
    if (off >= FX_BACKEND_RX)
        return true;
    if (off >= conn_queue_bytes(FX_VIRTIO_CAP))
        return false; /* TX data: the VMM's */
    for (unsigned ring = 0; ring < CONN_RINGS; ring++) {
        uint64_t start = conn_ring_offset(FX_VIRTIO_CAP, ring);
        if (off < start || off >= start + RING_BYTES(FX_VIRTIO_CAP))
            continue;
        bool tail = off - start >= offsetof(struct ring_shm, tail) &&
                    off - start < offsetof(struct ring_shm, pad1);
        /* The backend produces TX_FREE and RX_ACTIVE (the VMM writes only their tails) and
         * consumes TX_ACTIVE and RX_FREE (it writes only their tails). */
        return (ring == CONN_TX_FREE || ring == CONN_RX_ACTIVE) ? !tail : tail;
    }
    return false;
}

/* Entries the VMM queued during the record on one of its rings name its buffers. */
static void check_queued(unsigned ring, uint32_t head0)
{
    const struct virtio_bufconn *b =
        net ? &fx.vm.virtio[0].u.net.bc : &fx.vm.virtio[0].u.console.bc;
    const struct ring_shm *s =
        (const struct ring_shm *)(fx_backend + conn_ring_offset(FX_VIRTIO_CAP, ring));
    uint32_t head1 = s->head, n = head1 - head0;
    if (n > FX_VIRTIO_CAP)
        head0 = head1 - FX_VIRTIO_CAP; /* the backend took some meanwhile: the newest */
    for (uint32_t i = head0; i != head1; i++) {
        const struct ring_entry *e = &s->entries[i % FX_VIRTIO_CAP];
        bool tx = ring == CONN_TX_ACTIVE;
        if (net) {
            if (e->id >= (tx ? b->tx_bufs : b->rx_bufs) || e->offset != e->id * NET_BUF_SIZE ||
                (tx ? (e->len && e->len < NET_MIN_FRAME) || e->len > NET_MAX_FRAME
                    : e->len != NET_BUF_SIZE))
                virtio_fail("queued an entry that is not one of its buffers, or not a frame");
            continue;
        }
        if (e->id >= (tx ? b->tx_bufs : b->rx_bufs) || e->offset != e->id * SERIAL_BUF_SIZE ||
            (tx ? e->len == 0 || e->len > SERIAL_BUF_SIZE : e->len != SERIAL_BUF_SIZE))
            virtio_fail("queued an entry that is not one of its buffers");
    }
}

static uint32_t ring_head(unsigned ring)
{
    return ((const struct ring_shm *)(fx_backend + conn_ring_offset(FX_VIRTIO_CAP, ring)))->head;
}

/* The interrupt line follows InterruptStatus (unless the guest made it edge-triggered). */
static void check_virtio_line(void)
{
    const struct virtio_dev *d = &fx.vm.virtio[0];
    const struct vgic_bank *bank = &fx.vm.gic.spi[FX_VIRTIO_IRQ / 32];
    uint32_t bit = 1u << (FX_VIRTIO_IRQ % 32);
    edge_seen |= (bank->edge & bit) != 0;
    bool line = bank->line & bit;
    line_forced &= line;
    if (line && !d->isr && !line_forced)
        virtio_fail("interrupt line high with InterruptStatus 0");
    if (d->isr && !line && !edge_seen && fx.vm.state == VM_RUNNING)
        virtio_fail("InterruptStatus set but the line is low");
}

static void check_virtio(uint32_t tx_head0, uint32_t rx_head0, bool scribbled)
{
    check_virtio_line();
    /* Every buffer of the connection in one place. */
    const struct virtio_dev *d = &fx.vm.virtio[0];
    if (!vio_buffers_accounted(net ? &d->u.net.bc : &d->u.console.bc,
                               net ? -1 : d->u.console.tx_fill))
        virtio_fail("a buffer is in two places or none");
    if (scribbled)
        return;
    check_queued(CONN_TX_ACTIVE, tx_head0);
    check_queued(CONN_RX_FREE, rx_head0);
}

/* ---- the virtio block device (data[0] bit 3) ------------------------------------------------ */

#define BLK_CAP 16u
#define BLK_DATA (17u * 4096u) /* page 0: headers; 16 data pages */
static _Alignas(4096) uint8_t blk_queue[4096];
static _Alignas(4096) uint8_t blk_data[BLK_DATA];
static struct conn blk_srv;                      /* the server's view */
static struct ring_entry blk_taken[BLK_CAP * 2]; /* requests the server holds */
static unsigned blk_taken_n;
static uint8_t blk_queue_before[sizeof(blk_queue)];

static struct blk_info *blk_info_of(void)
{
    return (struct blk_info *)(blk_queue + blk_info_offset(BLK_CAP));
}

static int blk_boot(bool v3, unsigned vcpus)
{
    fx_config(vcpus);
    if (v3) {
        fx.cfg.gic_version = 3;
        fx.cfg.gicr_base = FX_GICR;
    }
    memset(blk_queue, 0, sizeof(blk_queue));
    memset(blk_data, 0, sizeof(blk_data));
    fx_add_virtio_blk(blk_queue, BLK_CAP, blk_data, BLK_DATA, false);
    conn_attach(&blk_srv, &fx.virtio[0].conn);
    blk_taken_n = 0;
    return vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm);
}

/* The guest writes a request header where its descriptors often point: type (one of the four,
 * or any), sector b. */
static void blk_guest_header(const uint8_t *r, uint64_t a, uint64_t b)
{
    static const uint32_t types[4] = { 0, 1, 4, 8 };
    uint32_t type = (r[5] & 4) ? (uint32_t)(a >> 32) : types[r[5] & 3];
    uint8_t *p = ram_at(VIO_DATA + (a & 0xfff0), 16);
    if (!p)
        return;
    memset(p, 0, 16);
    memcpy(p, &type, 4);
    memcpy(p + 8, &b, 8);
}

/* The block server: takes requests, answers one it holds (with a read's data), hands back any
 * entry, becomes ready, scribbles over the queue region, or only notifies. Returns true if it
 * wrote the shared region other than through the protocol. */
/* The segments of a direct request the VMM sent: inside guest RAM, as many as the server
 * offered, adding up to its sectors. Fails the run otherwise. */
static void blk_check_direct(const struct blk_request *h)
{
    const struct virtio_dev *d = &fx.vm.virtio[0];
    uint64_t sum = 0;
    if (!d->u.blk.direct_segs || h->segs == 0 || h->segs > d->u.blk.direct_segs ||
        h->data + (uint64_t)h->segs * sizeof(struct blk_seg) > BLK_DATA)
        virtio_fail("a direct request's segment table is not what the server offered");
    for (uint32_t i = 0; i < h->segs; i++) {
        struct blk_seg g;
        memcpy(&g, blk_data + h->data + (uint64_t)i * sizeof(g), sizeof(g));
        if (!g.len || g.offset >= d->mem.size || g.len > d->mem.size - g.offset)
            virtio_fail("a direct request's segment is outside guest RAM");
        sum += g.len;
    }
    if (sum != (uint64_t)h->count * 512)
        virtio_fail("a direct request's segments do not add up to its sectors");
}

/* The server's device answers a direct read: it writes every segment in guest RAM. */
static void blk_dma(const struct blk_request *h, uint8_t value)
{
    const struct virtio_dev *d = &fx.vm.virtio[0];
    if (h->segs > BLK_DIRECT_MAX_SEGS || h->data > BLK_DATA ||
        (uint64_t)h->segs * sizeof(struct blk_seg) > BLK_DATA - h->data)
        return;
    for (uint32_t i = 0; i < h->segs; i++) {
        struct blk_seg g;
        memcpy(&g, blk_data + h->data + (uint64_t)i * sizeof(g), sizeof(g));
        if (g.offset < d->mem.size && g.len <= d->mem.size - g.offset)
            memset(d->mem.ram + g.offset, value, g.len);
    }
}

static bool blk_backend(const uint8_t *r, uint64_t a, uint64_t b)
{
    struct ring_entry e;
    switch (r[2] % 6) {
    case 0:
        for (unsigned n = r[3] % 8; n && blk_taken_n < BLK_CAP * 2; n--) {
            if (!ring_pop(&blk_srv.ring[CONN_TX_ACTIVE], &e))
                break;
            blk_taken[blk_taken_n++] = e;
        }
        blk_srv.ring[CONN_TX_ACTIVE].corrupt = false;
        return false;
    case 1:
        if (blk_taken_n) {
            unsigned k = r[3] % blk_taken_n;
            e = blk_taken[k];
            blk_taken[k] = blk_taken[--blk_taken_n];
            struct blk_request q;
            if (ring_entry_inside(&e, BLK_DATA) && e.len >= sizeof(q)) {
                memcpy(&q, blk_data + e.offset, sizeof(q));
                uint64_t n = (uint64_t)q.count * 512;
                if (q.op == BLK_OP_READ && q.data <= BLK_DATA && n <= BLK_DATA - q.data)
                    memset(blk_data + q.data, (int)(b & 0xff), n);
                if (q.op == BLK_OP_READ_DIRECT)
                    blk_dma(&q, (uint8_t)b); /* the "device" writes guest RAM */
            }
            e.len = (r[4] & 1) ? (uint32_t)b : (uint32_t)(r[4] >> 1) % 3;
            ring_push(&blk_srv.ring[CONN_RX_ACTIVE], &e, NULL);
        }
        vm_notified(&fx.vm, FX_VIRTIO_CH);
        return false;
    case 2:
        e = (struct ring_entry){ (r[4] & 1) ? a : (a % BLK_CAP) * 32, (uint32_t)(b % 4),
                                 (r[5] & 1) ? (uint32_t)(b >> 32) : (uint32_t)(a % BLK_CAP) };
        ring_push(&blk_srv.ring[CONN_RX_ACTIVE], &e, NULL);
        vm_notified(&fx.vm, FX_VIRTIO_CH);
        return false;
    case 3: {
        struct blk_info *info = blk_info_of();
        info->capacity = (r[3] & 1) ? b : b % 4096;
        info->max_sectors_per_request = (r[4] & 1) ? (uint32_t)a : 2048 + (uint32_t)(a % 2000);
        info->read_only = r[5] & 1;
        info->direct_max_segs = (r[6] & 1) ? (r[6] & 2 ? (uint32_t)b : (uint32_t)(r[7] % 8)) : 0;
        info->direct_window = (r[6] & 4) ? a : FX_RAM_SIZE;
        __atomic_store_n(&info->magic, BLK_INFO_MAGIC, __ATOMIC_RELEASE);
        vm_notified(&fx.vm, FX_VIRTIO_CH);
        return false;
    }
    case 4: {
        uint64_t off = a % (sizeof(blk_queue) - 8);
        memcpy(blk_queue + off, &b, 8);
        blk_srv.ring[CONN_RX_ACTIVE].corrupt = blk_srv.ring[CONN_TX_ACTIVE].corrupt = false;
        vm_notified(&fx.vm, FX_VIRTIO_CH);
        return true;
    }
    default: vm_notified(&fx.vm, FX_VIRTIO_CH); return false;
    }
}

/* What only the server writes: RX_ACTIVE (all but its tail), TX_ACTIVE's tail, blk_info. */
static bool blk_server_part(uint64_t off)
{
    uint64_t rx = conn_ring_offset(BLK_CAP, CONN_RX_ACTIVE), tx = conn_ring_offset(BLK_CAP, 0);
    uint64_t tail = offsetof(struct ring_shm, tail);
    if (off >= blk_info_offset(BLK_CAP))
        return off < blk_info_offset(BLK_CAP) + BLK_INFO_BYTES;
    if (off >= rx && off < rx + RING_BYTES(BLK_CAP))
        return !(off - rx >= tail && off - rx < tail + 4);
    return off >= tx + tail && off < tx + tail + 4;
}

static void check_blk(uint32_t tx_head0, bool scribbled, bool server_acted)
{
    const struct virtio_dev *d = &fx.vm.virtio[0];
    const struct virtio_blk *k = &d->u.blk;
    /* Each slot at the server holds its own pages; the page map is their union, page 0 free. */
    uint64_t pages[VIRTIO_BLK_MAX_PAGES / 64] = { 0 };
    for (unsigned s = 0; s < k->num_reqs; s++) {
        if ((k->req_free >> s) & 1)
            continue;
        const struct virtio_blk_req *q = &k->req[s];
        if (q->pages && (q->first_page == 0 || q->first_page + q->pages > k->pages))
            virtio_fail("a request's pages are outside the data pages");
        for (uint32_t p = q->first_page; p < q->first_page + q->pages; p++) {
            if ((pages[p / 64] >> (p % 64)) & 1)
                virtio_fail("two requests share a data page");
            pages[p / 64] |= UINT64_C(1) << (p % 64);
        }
    }
    if (memcmp(pages, k->page_used, sizeof(pages)))
        virtio_fail("the page map is not the pages of the requests at the server");
    unsigned direct = 0;
    for (unsigned sl = 0; sl < k->num_reqs; sl++)
        direct += !((k->req_free >> sl) & 1) && k->req[sl].direct;
    if (direct != k->dma_pending)
        virtio_fail("the DMA count is not the direct requests at the server");
    if (fx.vm.reset_waits_dma && (fx.vm.state != VM_RESETTING || !k->dma_pending))
        virtio_fail("a reset waits for DMA that nothing owes");
    if (scribbled)
        return;
    /* The server's part of the queue region is as it was (unless the server wrote it). */
    for (uint64_t i = 0; i < sizeof(blk_queue) && !server_acted; i++) {
        if (blk_server_part(i) && blk_queue[i] != blk_queue_before[i])
            virtio_fail("the VMM wrote the server's part of the connection");
    }
    /* What it sent during the record names its own slot, inside what it was told. */
    const struct ring_shm *s = (const struct ring_shm *)blk_queue;
    uint32_t head1 = s->head;
    if (head1 - tx_head0 > BLK_CAP)
        tx_head0 = head1 - BLK_CAP;
    for (uint32_t i = tx_head0; i != head1; i++) {
        const struct ring_entry *e = &s->entries[i % BLK_CAP];
        if (e->id >= k->num_reqs || e->offset != 32u * e->id ||
            e->len != sizeof(struct blk_request))
            virtio_fail("sent an entry that is not one of its request slots");
        const struct virtio_blk_req *q = &k->req[e->id];
        struct blk_request h;
        memcpy(&h, blk_data + e->offset, sizeof(h));
        if ((k->req_free >> e->id) & 1)
            continue; /* answered meanwhile (a late answer of a reset can free it) */
        if (h.op != BLK_OP_READ && h.op != BLK_OP_WRITE && h.op != BLK_OP_FLUSH &&
            h.op != BLK_OP_GET_ID && h.op != BLK_OP_READ_DIRECT && h.op != BLK_OP_WRITE_DIRECT)
            virtio_fail("sent an op the protocol does not have");
        bool direct = h.op == BLK_OP_READ_DIRECT || h.op == BLK_OP_WRITE_DIRECT;
        if (direct != q->direct || (direct && q->pages != 1))
            virtio_fail("a direct request is not marked so, or has more than its table page");
        if (direct) {
            blk_check_direct(&h);
            if (h.data != (uint64_t)q->first_page * VIRTIO_BLK_PAGE)
                virtio_fail("a direct request's table is not in its own page");
            if (!k->ready || h.count == 0 || h.sector >= k->capacity ||
                h.count > k->capacity - h.sector)
                virtio_fail("sent sectors outside the capacity it was told");
            if (h.op == BLK_OP_WRITE_DIRECT && (d->cfg->u.blk.read_only || k->server_ro))
                virtio_fail("sent a write to a read-only disk");
            continue;
        }
        if (h.data != (uint64_t)q->first_page * VIRTIO_BLK_PAGE ||
            (uint64_t)h.count * 512 > (uint64_t)q->pages * VIRTIO_BLK_PAGE)
            virtio_fail("a request's buffer is not its own pages");
        if ((h.op == BLK_OP_READ || h.op == BLK_OP_WRITE) &&
            (!k->ready || h.count == 0 || h.sector >= k->capacity ||
             h.count > k->capacity - h.sector))
            virtio_fail("sent sectors outside the capacity it was told");
        if (h.op == BLK_OP_WRITE && (d->cfg->u.blk.read_only || k->server_ro))
            virtio_fail("sent a write to a read-only disk");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_reset();
    unsigned vcpus = !size ? 1 : (data[0] & 32) ? 3 : (data[0] & 1) ? 2 : 1;
    bool v3 = size && (data[0] & 2), virtio = size && (data[0] & 4);
    blk_mode = virtio && (data[0] & 8);
    net = virtio && !blk_mode && (data[0] & 16);
    if (!backend_owned[FX_BACKEND_RX]) {
        for (uint64_t i = 0; i < FX_BACKEND_SIZE; i++)
            backend_owned[i] = backend_part(i);
    }
    if (!boot(v3, vcpus, virtio))
        return 0;
    unsigned nvcpus = fx.cfg.num_vcpus;
    check_injections(0);
    for (size_t off = 1; off + 24 <= size; off += 24) {
        const uint8_t *r = data + off;
        unsigned op = r[0] % 15, vcpu = r[1] % nvcpus;
        unsigned injections_before = sim.num_inj;
        uint64_t a = rd64(r + 8), b = rd64(r + 16);
        struct exit_reply rep;
        struct vm_exit e = { .vcpu = vcpu, .lr_index = -1 };
        /* A resetting VM's vCPUs run the drain stub, as they would; a VM still not running
         * gets a fresh VMM, whose vCPUs start with empty list registers (sim keeps them across
         * boots, as seL4 does, and a new vGIC knows nothing of what they held). */
        if (fx.vm.state == VM_RESETTING)
            fx_run_drain_stubs();
        if (fx.vm.state != VM_RUNNING) {
            for (unsigned v = 0; v < VGIC_MAX_VCPUS; v++)
                memset(sim.vcpu[v].lr_used, 0, sizeof(sim.vcpu[v].lr_used));
            boot(v3, nvcpus, virtio);
        }
        uint32_t tx_head0 = blk_mode ? ((const struct ring_shm *)blk_queue)->head
                            : virtio ? ring_head(CONN_TX_ACTIVE)
                                     : 0;
        uint32_t rx_head0 = virtio && !blk_mode ? ring_head(CONN_RX_FREE) : 0;
        bool scribbled = false;
        unsigned boots_before = fx.vm.boots;
        uint64_t exits_before = fx.vm.exits;
        if (blk_mode)
            memcpy(blk_queue_before, blk_queue, sizeof(blk_queue));
        else if (virtio)
            memcpy(backend_before, fx_backend, sizeof(backend_before));
        switch (op) {
        case 0: /* distributor access */
        case 1: {
            static const unsigned widths[4] = { 1, 2, 4, 8 };
            unsigned width = widths[r[2] & 3];
            uint64_t addr = FX_GICD + (a & 0x1fff);
            if (v3 && (r[5] & 1))
                addr = FX_GICR + a % (nvcpus * GICV3_REDIST_STRIDE + 0x1000);
            else if (v3)
                addr = FX_GICD + (a & 0xffff);
            sim.vcpu[vcpu].regs.x[r[3] % 31] = b;
            fx_mmio(vcpu, addr, width, op == 1, r[3] % 32, r[4] & 1, r[4] & 2, &rep);
            break;
        }
        case 2: /* raw data abort with arbitrary syndrome and address */
            if (r[4] & 1) {
                /* The guest turns its MMU on with any TCR and writes a word into its RAM, so
                 * records build stage-1 tables that an ISV=0 fetch will walk. */
                uint64_t off = (b % FX_RAM_SIZE) & ~UINT64_C(7);
                memcpy(fx.ram + off, &a, 8);
                sim.vcpu[vcpu].sctlr = 1;
                sim.vcpu[vcpu].sysreg[VCPU_TCR_EL1] = a ^ b;
                sim.vcpu[vcpu].sysreg[(r[5] & 1) ? VCPU_TTBR1_EL1 : VCPU_TTBR0_EL1] =
                    FX_RAM_BASE + (a % FX_RAM_SIZE);
                sim.vcpu[vcpu].regs.pc = (r[6] & 1) ? (b | UINT64_C(0xffff000000000000)) : b;
            }
            e.kind = EXIT_VM_FAULT;
            e.esr = (uint64_t)ESR_EC_DABT_LOW << 26 | (uint32_t)(a & 0x1ffffff);
            e.addr = (r[2] & 1) ? FX_GICD + (b & 0xfff) : b;
            e.instruction_fault = r[3] & 1;
            fx_exit(&e, &rep);
            break;
        case 3: /* SMC with any function and arguments */
            fx_smc(vcpu, (r[2] & 1) ? (0x84000000u | (a & 0xff)) : a, b, a ^ b, ~b, &rep);
            break;
        case 4: /* HVC */
            e.kind = EXIT_HVC;
            e.x[0] = (r[2] & 1) ? (0xc4000000u | (a & 0xff)) : a;
            e.x[1] = b;
            e.pc = FX_RAM_BASE;
            fx_exit(&e, &rep);
            break;
        case 5: /* virtual PPI */
            e.kind = EXIT_VPPI;
            e.irq = (r[2] & 1) ? FX_VTIMER : (uint32_t)a;
            line_forced |= e.irq == FX_VIRTIO_IRQ;
            fx_exit(&e, &rep);
            break;
        case 6: { /* the guest EOIs a list register (or the kernel reports a bogus one) */
            int lr = (r[2] & 1) ? (int)(a % 8) - 2 : (int)a;
            if (lr >= 0 && lr < VGIC_MAX_LRS)
                sim_guest_eoi(vcpu, (unsigned)lr);
            fx_maintenance(vcpu, lr);
            break;
        }
        case 7: /* passthrough interrupt, the physical timer, or a stray channel */
            if ((r[2] & 3) == 2) {
                /* The guest programs the physical timer directly; time moves on; it fires. */
                sim.ptimer_ctl = a & 3;
                sim.ptimer_cval = b;
                sim.now += r[4];
                vm_notified(&fx.vm, FX_WAKEUP_CH);
                break;
            }
            vm_notified(&fx.vm, (r[2] & 1) ? FX_UART_CH : (unsigned)(a % 64));
            break;
        case 9: /* the guest reprograms its virtual timer (no exit), time moves, then WFI/WFE */
            sim.vcpu[vcpu].cntv_ctl = a & 3;
            sim.vcpu[vcpu].cntv_cval = b;
            sim.now += r[4] * (uint64_t)r[5];
            if (r[3] & 1) {
                e.kind = EXIT_VPPI; /* the timer fired while the vCPU ran */
                e.irq = FX_VTIMER;
                fx_exit(&e, &rep);
            }
            if (r[2] & 1) {
                bool alone = !others_could_run(vcpu) && fx.vm.state == VM_RUNNING;
                fx_wfx(vcpu, 1, &rep);
                if (alone && !rep.resume)
                    __builtin_trap(); /* a WFE nobody else could end must return at once */
            } else {
                fx_wfx(vcpu, 0, &rep);
            }
            break;
        case 10: /* a pair across RAM, device and unmapped boundaries, MMU off or on */
            pair_across_boundary(vcpu, v3, r, a, b);
            break;
        case 11: /* virtio-mmio register access */
            if (virtio)
                virtio_mmio(vcpu, r, a, b);
            break;
        case 12: /* the guest writes a descriptor (or a block request's header) */
            if (blk_mode && (r[2] & 2))
                blk_guest_header(r, a, b);
            else if (virtio)
                virtio_descriptor(r, a, b);
            break;
        case 13: /* the guest publishes, notifies, takes its interrupt */
            if (virtio)
                virtio_driver(vcpu, r, b);
            break;
        case 14: /* the backend */
            if (blk_mode)
                scribbled = blk_backend(r, a, b);
            else if (virtio)
                scribbled = virtio_backend(r, a, b);
            break;
        default: /* any trapped instruction class; often a GICv3 SGI register write */
            if (r[3] & 1) {
                fx_msr_sgi1r(vcpu, b);
                break;
            }
            e.kind = EXIT_VCPU;
            e.esr = (uint64_t)(r[2] & 0x3f) << 26 | (uint32_t)(a & 0x1ffffff);
            fx_exit(&e, &rep);
            break;
        }
        if (sim.num_inj >= injections_before)
            check_injections(injections_before);
        check_yields(fx.vm.exits != exits_before && fx.vm.boots == boots_before ? (int)vcpu : -1);
        if (blk_mode && fx.vm.num_virtio) {
            check_virtio_line();
            check_blk(tx_head0, scribbled || fx.vm.boots != boots_before, op == 14);
        } else if (virtio && fx.vm.num_virtio) {
            /* The VMM wrote nothing of the backend's (a boot zeroes it all: skip then). */
            if (op != 14 && fx.vm.boots == boots_before &&
                memcmp(fx_backend, backend_before, FX_BACKEND_SIZE)) {
                for (uint64_t i = 0; i < FX_BACKEND_SIZE; i++) {
                    if (backend_owned[i] && fx_backend[i] != backend_before[i])
                        virtio_fail("the VMM wrote the backend's part of the connection");
                }
            }
            check_virtio(tx_head0, rx_head0, scribbled || fx.vm.boots != boots_before);
        }
    }
    if (getenv("FUZZ_EXITS_SUMMARY") && nvcpus > 1) /* to see what a seed makes the yields do */
        fprintf(stderr,
                "yields: %llu WFEs held, %llu at once, %llu SGI senders held, %llu ended "
                "by an exit\n",
                (unsigned long long)fx.vm.yields.wfe_held,
                (unsigned long long)fx.vm.yields.wfe_at_once,
                (unsigned long long)fx.vm.yields.sgi_held,
                (unsigned long long)fx.vm.yields.ended_by_exit);
    if (blk_mode && fx.vm.num_virtio && getenv("FUZZ_EXITS_SUMMARY")) {
        const struct virtio_dev *d = &fx.vm.virtio[0];
        fprintf(stderr,
                "virtio-blk: status 0x%x, ready %d, used %u, slots free 0x%llx, refused %llu, "
                "dropped %llu\n",
                d->status | (d->needs_reset ? 0x40u : 0), d->u.blk.ready, d->vq[0].used_idx,
                (unsigned long long)d->u.blk.req_free, (unsigned long long)d->u.blk.refused_reqs,
                (unsigned long long)d->u.blk.dropped);
    }
    if (virtio && !blk_mode && fx.vm.num_virtio && getenv("FUZZ_EXITS_SUMMARY")) {
        /* To see where a seed leaves the device (make_exit_seeds.py's). */
        const struct virtio_dev *d = &fx.vm.virtio[0];
        fprintf(stderr,
                "virtio: status 0x%x isr 0x%x, used rx %u tx %u, output %zu bytes, "
                "input held %u\n",
                d->status | (d->needs_reset ? 0x40u : 0), d->isr, d->vq[0].used_idx,
                d->vq[1].used_idx, fb.out_len,
                net ? d->u.net.bc.rx_held_count : d->u.console.bc.rx_held_count);
    }
    return 0;
}
