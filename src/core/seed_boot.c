/* At every boot (vm_boot, also after SYSTEM_RESET): fresh kaslr-seed and rng-seed into the
 * guest's DTB in guest RAM, with one log line naming their source (src/core/seed.c mixes them). */
#include <vmm/guest.h>
#include <vmm/log.h>
#include <vmm/seed.h>
#include <vmm/util.h>
#include <vmm/vm.h>

static const char *source_name(const struct vmm_config *cfg, enum seed_source src)
{
    switch (src) {
    case SEED_FROM_HW_RNG: return cfg->hw_rng_name ? cfg->hw_rng_name : "the hardware RNG";
    case SEED_HW_RNG_FAILED: return "the counter mix: the hardware RNG delivered nothing";
    default: break;
    }
    return "the counter mix (physical counter, boot count, build secret; no hardware RNG)";
}

void vm_seed_guest_dtb(struct vm *vm)
{
    const struct vmm_config *cfg = vm->cfg;
    unsigned boot = vm->boots + 1;
    if (!vm->layout.dtb_size)
        return; /* a raw guest built without a device tree */
    /* The DTB may grow to the end of its 2 MiB slot (guest_plan checked it lies in RAM). */
    uint64_t room = cfg->ram_base + cfg->ram_size - vm->layout.dtb_addr;
    size_t capacity = room < DTB_MAX_SIZE ? (size_t)room : DTB_MAX_SIZE;
    uint8_t *dtb = (uint8_t *)vm->ram + (vm->layout.dtb_addr - cfg->ram_base);
    uint8_t seeds[SEED_KASLR_BYTES + SEED_RNG_BYTES];
    enum seed_source src =
        seed_generate(&vm->seeds, cfg, boot, hyp_counter_now(), seeds, sizeof(seeds));
    enum fdt_status st = seed_write_chosen(dtb, capacity, seeds, seeds + SEED_KASLR_BYTES);
    vmm_memset(seeds, 0, sizeof(seeds));
    if (st != FDT_OK) {
        LOG_WARNING("boot", "no kaslr-seed or rng-seed for boot #%u: the guest's device tree %s",
                    boot, fdt_strerror(st));
        return;
    }
    LOG_INFO("boot", "fresh kaslr-seed and rng-seed for boot #%u in /chosen, from %s", boot,
             source_name(cfg, src));
}
