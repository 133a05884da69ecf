#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmm/esr.h>
#include <vmm/fdt.h>
#include <vmm/guest.h>
#include <vmm/reset.h>
#include <vmm/seed.h>

#include "dtb_build.h"
#include "sim_hyp.h"

struct fixture fx;
static uint8_t *fx_ram_buffer;
uint8_t fx_backend[FX_BACKEND_SIZE] __attribute__((aligned(64)));

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void fx_make_image(uint8_t *img, size_t len, uint64_t text_offset, uint64_t image_size)
{
    memset(img, 0, len);
    for (size_t i = 64; i < len; i++)
        img[i] = (uint8_t)(i * 7);
    put_le64(img + 8, text_offset);
    put_le64(img + 16, image_size);
    memcpy(img + 0x38, "ARM\x64", 4);
}

void fx_config(unsigned vcpus)
{
    if (!fx_ram_buffer)
        fx_ram_buffer = malloc(FX_RAM_SIZE);
    memset(&fx.vm, 0, sizeof(fx.vm));
    fx.ram = fx_ram_buffer;
    memset(fx.ram, 0, FX_RAM_SIZE);
    fx_make_image(fx.kernel, sizeof(fx.kernel), 0, 0x10000);
    dtbb_fixture(fx.dtb, sizeof(fx.dtb));
    for (size_t i = 0; i < sizeof(fx.initrd); i++)
        fx.initrd[i] = (uint8_t)(0x5a ^ i);
    fx.irqs[0] = (struct vmm_irq_passthrough){ FX_UART_CH, FX_UART_IRQ };
    fx.cfg = (struct vmm_config){
        .vm_name = "test",
        .num_vcpus = vcpus,
        .ram_base = FX_RAM_BASE,
        .ram_size = FX_RAM_SIZE,
        .gic_version = 2,
        .gicd_base = FX_GICD,
        .gicc_base = 0x08010000u,
        .gic_num_irqs = 64,
        .gic_num_lrs = 4,
        .vtimer_irq = FX_VTIMER,
        .ptimer_irq = FX_PTIMER,
        .wakeup_channel = FX_WAKEUP_CH,
        .irqs = fx.irqs,
        .num_irqs = 1,
        .protocol = BOOT_LINUX,
        .kernel = fx.kernel,
        .kernel_end = fx.kernel + sizeof(fx.kernel),
        .dtb = fx.dtb,
        .dtb_end = fx.dtb + sizeof(fx.dtb),
        .dtb_addr = FX_RAM_BASE + FX_RAM_SIZE - 0x200000,
        .initrd = fx.initrd,
        .initrd_end = fx.initrd + sizeof(fx.initrd),
        .initrd_addr = FX_RAM_BASE + FX_RAM_SIZE - 0x400000,
    };
}

void fx_add_virtio_console(void)
{
    memset(fx_backend, 0, sizeof(fx_backend));
    fx.virtio[0] = (struct vmm_virtio_device){
        .type = VMM_VIRTIO_CONSOLE,
        .name = "console",
        .base = FX_VIRTIO_BASE,
        .size = FX_VIRTIO_SIZE,
        .irq = FX_VIRTIO_IRQ,
        .conn = { .queue = (uintptr_t)(fx_backend + FX_BACKEND_QUEUE),
                  .capacity = FX_VIRTIO_CAP,
                  .tx_data = (uintptr_t)(fx_backend + FX_BACKEND_TX),
                  .tx_size = FX_VIRTIO_DATA,
                  .rx_data = (uintptr_t)(fx_backend + FX_BACKEND_RX),
                  .rx_size = FX_VIRTIO_DATA,
                  .channel = FX_VIRTIO_CH },
    };
    fx.cfg.virtio = fx.virtio;
    fx.cfg.num_virtio = 1;
}

void fx_add_virtio_blk(uint8_t *queue, unsigned capacity, uint8_t *data, uint32_t data_size,
                       bool read_only)
{
    fx.virtio[0] = (struct vmm_virtio_device){
        .type = VMM_VIRTIO_BLK,
        .name = "blk",
        .base = FX_VIRTIO_BASE,
        .size = FX_VIRTIO_SIZE,
        .irq = FX_VIRTIO_IRQ,
        .conn = { .queue = (uintptr_t)queue,
                  .capacity = capacity,
                  .tx_data = (uintptr_t)data,
                  .tx_size = data_size,
                  .channel = FX_VIRTIO_CH },
        .u.blk = { .read_only = read_only },
    };
    fx.cfg.virtio = fx.virtio;
    fx.cfg.num_virtio = 1;
}

int fx_boot_virtio(unsigned vcpus, int v3)
{
    fx_config(vcpus);
    if (v3) {
        fx.cfg.gic_version = 3;
        fx.cfg.gicr_base = FX_GICR;
    }
    fx_add_virtio_console();
    if (!vm_init(&fx.vm, &fx.cfg, fx.ram))
        return 0;
    return vm_boot(&fx.vm);
}

int fx_boot_v3(unsigned vcpus)
{
    fx_config(vcpus);
    fx.cfg.gic_version = 3;
    fx.cfg.gicr_base = FX_GICR;
    if (!vm_init(&fx.vm, &fx.cfg, fx.ram))
        return 0;
    return vm_boot(&fx.vm);
}

/* A 64-bit register access through x5 at `addr`; returns x5 afterwards (the value read). */
static uint64_t access_via_x5(unsigned vcpu, uint64_t addr, unsigned width, int write, uint64_t val)
{
    struct exit_reply r;
    sim.vcpu[vcpu].regs.x[5] = val;
    fx_mmio(vcpu, addr, width, write, 5, 0, 1, &r);
    return sim.vcpu[vcpu].regs.x[5];
}

uint64_t fx_gicr_access(unsigned vcpu, uint32_t off, unsigned width, int write, uint64_t val)
{
    return access_via_x5(vcpu, FX_GICR + off, width, write, val);
}

void fx_msr_sgi1r(unsigned vcpu, uint64_t value)
{
    struct exit_reply r;
    /* MSR ICC_SGI1R_EL1, x6: op0=3 op1=0 CRn=12 CRm=11 op2=5, write. */
    uint32_t iss = 3u << 20 | 5u << 17 | 0u << 14 | 12u << 10 | 6u << 5 | 11u << 1 | 0u;
    sim.vcpu[vcpu].regs.x[6] = value;
    struct vm_exit e = { .kind = EXIT_VCPU,
                         .vcpu = vcpu,
                         .esr = (uint64_t)ESR_EC_SYSREG << 26 | iss };
    fx_exit(&e, &r);
}

int fx_ram_dtb_is_pristine_with_seeds(void)
{
    const uint8_t *ram_dtb = fx.ram + (fx.cfg.dtb_addr - FX_RAM_BASE);
    const uint8_t *kaslr, *rng;
    uint32_t klen, rlen;
    static uint8_t expect[4096];
    struct fdt_info info;
    if (fdt_get_prop(ram_dtb, sizeof(expect), "/chosen", "kaslr-seed", &kaslr, &klen) != FDT_OK ||
        fdt_get_prop(ram_dtb, sizeof(expect), "/chosen", "rng-seed", &rng, &rlen) != FDT_OK ||
        klen != SEED_KASLR_BYTES || rlen != SEED_RNG_BYTES)
        return 0;
    memset(expect, 0, sizeof(expect));
    memcpy(expect, fx.dtb, sizeof(fx.dtb));
    if (seed_write_chosen(expect, sizeof(expect), kaslr, rng) != FDT_OK ||
        fdt_check(expect, sizeof(expect), &info) != FDT_OK)
        return 0;
    return memcmp(expect, ram_dtb, info.total_size) == 0;
}

int fx_boot(unsigned vcpus)
{
    fx_config(vcpus);
    if (!vm_init(&fx.vm, &fx.cfg, fx.ram))
        return 0;
    return vm_boot(&fx.vm);
}

void fx_exit(const struct vm_exit *e, struct exit_reply *r)
{
    vm_handle_exit(&fx.vm, e, r);
}

void fx_mmio(unsigned vcpu, uint64_t addr, unsigned width, int write, unsigned rt, int sign,
             int reg64, struct exit_reply *r)
{
    unsigned sas = width == 1 ? 0 : width == 2 ? 1 : width == 4 ? 2 : 3;
    uint64_t esr = (uint64_t)ESR_EC_DABT_LOW << 26 | 1u << 25 | 1u << 24 | sas << 22 |
                   (unsigned)sign << 21 | rt << 16 | (unsigned)reg64 << 15 | (unsigned)write << 6 |
                   0x07;
    struct vm_exit e = {
        .kind = EXIT_VM_FAULT, .vcpu = vcpu, .pc = sim.vcpu[vcpu].regs.pc, .esr = esr, .addr = addr
    };
    fx_exit(&e, r);
}

uint64_t fx_gicd_access(unsigned vcpu, uint32_t off, unsigned width, int write, uint64_t val)
{
    return access_via_x5(vcpu, FX_GICD + off, width, write, val);
}

uint32_t fx_gicd_read(unsigned vcpu, uint32_t off)
{
    return (uint32_t)fx_gicd_access(vcpu, off, 4, 0, 0);
}

void fx_gicd_write(unsigned vcpu, uint32_t off, uint32_t val)
{
    fx_gicd_access(vcpu, off, 4, 1, val);
}

void fx_maintenance(unsigned vcpu, int lr)
{
    struct exit_reply r;
    struct vm_exit e = { .kind = EXIT_VGIC_MAINTENANCE, .vcpu = vcpu, .lr_index = lr };
    fx_exit(&e, &r);
}

int fx_guest_handles(unsigned vcpu, unsigned irq)
{
    for (unsigned lr = 0; lr < VGIC_MAX_LRS; lr++) {
        if (sim.vcpu[vcpu].lr_used[lr] && sim.vcpu[vcpu].lr_irq[lr] == irq) {
            sim_guest_eoi(vcpu, lr);
            fx_maintenance(vcpu, (int)lr);
            return 1;
        }
    }
    return 0;
}

void fx_wfx(unsigned vcpu, int wfe, struct exit_reply *r)
{
    struct vm_exit e = { .kind = EXIT_VCPU,
                         .vcpu = vcpu,
                         .esr = (uint64_t)ESR_EC_WFX << 26 | 1u << 25 | (unsigned)wfe };
    fx_exit(&e, r);
}

uint64_t fx_smc(unsigned vcpu, uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3,
                struct exit_reply *r)
{
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    v->regs.x[0] = x0;
    v->regs.x[1] = x1;
    v->regs.x[2] = x2;
    v->regs.x[3] = x3;
    struct vm_exit e = { .kind = EXIT_VCPU,
                         .vcpu = vcpu,
                         .pc = v->regs.pc,
                         .esr = (uint64_t)ESR_EC_SMC64 << 26 | 1u << 25 };
    fx_exit(&e, r);
    return v->regs.x[0];
}

unsigned fx_run_drain_stubs(void)
{
    struct exit_reply r;
    unsigned ran = 0;
    for (unsigned v = 0; v < fx.cfg.num_vcpus; v++) {
        if (!fx.vm.draining[v])
            continue;
        for (unsigned l = 0; l < VGIC_MAX_LRS; l++) {
            if (sim_guest_eoi(v, l) >= 0)
                fx_maintenance(v, (int)l);
        }
        fx_smc(v, VMM_FID_GIC_DRAINED, 0, 0, 0, &r);
        ran++;
    }
    return ran;
}

int fx_plan_refused_with(const char *needle)
{
    struct guest_layout l;
    char why[256] = "";
    if (guest_plan(&fx.cfg, &l, why, sizeof(why)))
        return 0;
    if (!strstr(why, needle)) {
        printf("    reason was: %s\n", why);
        return 0;
    }
    return 1;
}
