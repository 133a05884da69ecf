/* The VMM protection domain: one VM described by the generated vmm_config. */
#include <stdint.h>
#include <vmm/config.h>
#include <vmm/log.h>
#include <vmm/vm.h>
#include <vmm/vmm_entry.h>

/* Set by the Microkit tool (setvar_vaddr="guest_ram_vaddr"); kept in .data so it has file bytes
 * for the tool to patch. */
uintptr_t guest_ram_vaddr __attribute__((section(".data")));

extern const struct vmm_config vmm_config;

static struct vm the_vm;

void vmm_entry_init(void)
{
    log_set_vm_name(vmm_config.vm_name);
    LOG_INFO("vmm", "starting VM '%s' (guest RAM mapped at 0x%lx in the VMM)", vmm_config.vm_name,
             (unsigned long)guest_ram_vaddr);
    if (!vm_init(&the_vm, &vmm_config, (void *)guest_ram_vaddr))
        return;
    if (!vm_boot(&the_vm))
        vm_stop(&the_vm, "boot failed");
}

void vmm_entry_notified(unsigned channel)
{
    vm_notified(&the_vm, channel);
}

void vmm_entry_exit(const struct vm_exit *exit, struct exit_reply *reply)
{
    vm_handle_exit(&the_vm, exit, reply);
}
