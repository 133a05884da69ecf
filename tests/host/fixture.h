/* A small VM for tests: 16 MiB of guest RAM at 0x40000000, a crafted Linux Image, DTB and initrd,
 * GICv2 distributor at 0x08000000, UART interrupt 33 on channel 1, virtual timer 27. */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <stdint.h>
#include <vmm/config.h>
#include <vmm/vm.h>

#define FX_RAM_BASE 0x40000000u
#define FX_RAM_SIZE (16u << 20)
#define FX_GICD 0x08000000u
#define FX_GICR 0x080a0000u
#define FX_UART_IRQ 33u
#define FX_UART_CH 1u
#define FX_VTIMER 27u
#define FX_PTIMER 30u
#define FX_WAKEUP_CH 2u
/* The virtio console fx_add_virtio_console adds (in QEMU's last virtio-mmio slot; the first
 * slot stays an address nothing answers). */
#define FX_VIRTIO_BASE 0x0a003e00u
#define FX_VIRTIO_SIZE 0x200u
#define FX_VIRTIO_IRQ 48u
#define FX_VIRTIO_CH 3u
#define FX_VIRTIO_CAP 16u    /* ring capacity */
#define FX_VIRTIO_DATA 4096u /* bytes of each data region: 8 buffers */
#define FX_BACKEND_QUEUE 0u
#define FX_BACKEND_TX 4096u
#define FX_BACKEND_RX 8192u
#define FX_BACKEND_SIZE 12288u

struct fixture {
    struct vmm_config cfg;
    struct vm vm;
    uint8_t *ram;
    uint8_t kernel[8192];
    uint8_t dtb[256];
    uint8_t initrd[1024];
    struct vmm_irq_passthrough irqs[1];
    struct vmm_virtio_device virtio[VIRTIO_MAX_DEVICES + 1];
};

/* The memory a virtio device's backend connection uses: queue region, TX and RX data. */
extern uint8_t fx_backend[FX_BACKEND_SIZE];

extern struct fixture fx;

/* Fill fx with a valid configuration for `vcpus` vCPUs (images not yet loaded). */
void fx_config(unsigned vcpus);
/* Add a virtio console to the configuration fx_config made (FX_VIRTIO_*, its connection over
 * fx_backend, which is zeroed). */
void fx_add_virtio_console(void);
/* A virtio block device in the same slot, on the connection `queue` (rings and blk_info, for
 * `capacity` requests) and `data` (its data region), read-only if `read_only`. */
void fx_add_virtio_blk(uint8_t *queue, unsigned capacity, uint8_t *data, uint32_t data_size,
                       bool read_only);
/* fx_config + fx_add_virtio_console + vm_init + vm_boot (GICv3 if `v3`). */
int fx_boot_virtio(unsigned vcpus, int v3);
/* fx_config + vm_init + vm_boot; returns false if either failed. */
int fx_boot(unsigned vcpus);
/* The same with a GICv3 (distributor at FX_GICD, redistributors at FX_GICR). */
int fx_boot_v3(unsigned vcpus);
uint64_t fx_gicr_access(unsigned vcpu, uint32_t off, unsigned width, int write, uint64_t val);
/* A trapped MSR to ICC_SGI1R_EL1 from `vcpu`. */
void fx_msr_sgi1r(unsigned vcpu, uint64_t value);
/* True if the DTB in guest RAM is the configured one with nothing changed but the kaslr-seed and
 * rng-seed the VMM writes into /chosen at each boot. */
int fx_ram_dtb_is_pristine_with_seeds(void);
/* Make `kernel` a minimal arm64 Image header with the given image_size. */
void fx_make_image(uint8_t *img, size_t len, uint64_t text_offset, uint64_t image_size);
/* guest_plan refuses fx.cfg with a reason containing `needle` (else it prints the reason). */
int fx_plan_refused_with(const char *needle);

/* Exits as the seam would report them. */
void fx_exit(const struct vm_exit *e, struct exit_reply *r);
void fx_mmio(unsigned vcpu, uint64_t addr, unsigned width, int write, unsigned rt, int sign,
             int reg64, struct exit_reply *r);
uint32_t fx_gicd_read(unsigned vcpu, uint32_t off);
void fx_gicd_write(unsigned vcpu, uint32_t off, uint32_t val);
uint64_t fx_gicd_access(unsigned vcpu, uint32_t off, unsigned width, int write, uint64_t val);
void fx_maintenance(unsigned vcpu, int lr);
/* The guest takes and EOIs the interrupt in the first used list register holding `irq`. */
int fx_guest_handles(unsigned vcpu, unsigned irq);
/* A trapped WFI (wfe = 0) or WFE (wfe = 1) from `vcpu`. */
void fx_wfx(unsigned vcpu, int wfe, struct exit_reply *r);
uint64_t fx_smc(unsigned vcpu, uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3,
                struct exit_reply *r);
/* After a SYSTEM_RESET: every draining vCPU runs its stub (EOIs what its list registers hold,
 * then signals); returns the number of vCPUs that did. */
unsigned fx_run_drain_stubs(void);

#endif
