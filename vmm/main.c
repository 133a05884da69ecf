/* The VMM protection domain: one VM, described by the generated vmm_config, over the library. */
#include <stdint.h>
#include <vmm/microkit.h>

/* Set by the Microkit tool (setvar_vaddr="guest_ram_vaddr"); in .data so the ELF has bytes for
 * the tool to patch. */
uintptr_t guest_ram_vaddr __attribute__((section(".data")));

extern const struct vmm_config vmm_config;

static struct vm vm;

void init(void)
{
    if (vm_init(&vm, &vmm_config, (void *)guest_ram_vaddr) && !vm_boot(&vm))
        vm_stop(&vm, "boot failed");
}

void notified(microkit_channel ch)
{
    vm_notified(&vm, ch);
}

seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply_msginfo)
{
    return vmm_microkit_fault(&vm, child, msginfo, reply_msginfo);
}
