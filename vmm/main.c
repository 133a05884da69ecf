/* The VMM protection domain: one VM, described by the generated vmm_config, over the library. */
#include <stdint.h>
#include <vmm/log.h>
#include <vmm/microkit.h>

/* Set by the Microkit tool (setvar_vaddr="guest_ram_vaddr"); in .data so the ELF has bytes for
 * the tool to patch. */
uintptr_t guest_ram_vaddr __attribute__((section(".data")));

extern const struct vmm_config vmm_config;

static struct vm vm;

#ifdef VMM_PROFILE
/* make VMM_PROFILE=1 (bench/blk_ratio.py): the counter ticks the VMM spends handling each
 * notification and fault, said when the guest powers off. Under QEMU's -icount shift=0 a tick
 * is 16 instructions (the counter runs at 62.5 MHz), and the guest's idle time is not in it. */
static uint64_t busy_ticks, events;

static uint64_t ticks(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(v));
    return v;
}

static void account(uint64_t start)
{
    busy_ticks += ticks() - start;
    events++;
    if (vm.state == VM_POWERED_OFF && events) {
        LOG_INFO("profile", "%llu notifications and faults handled in %llu counter ticks",
                 (unsigned long long)events, (unsigned long long)busy_ticks);
        events = 0;
    }
}
#define PROFILE_START uint64_t profile_start = ticks()
#define PROFILE_END account(profile_start)
#else
#define PROFILE_START
#define PROFILE_END
#endif

void init(void)
{
    if (vm_init(&vm, &vmm_config, (void *)guest_ram_vaddr) && !vm_boot(&vm))
        vm_stop(&vm, "boot failed");
}

void notified(microkit_channel ch)
{
    PROFILE_START;
    vm_notified(&vm, ch);
    PROFILE_END;
}

seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply_msginfo)
{
    PROFILE_START;
    seL4_Bool reply = vmm_microkit_fault(&vm, child, msginfo, reply_msginfo);
    PROFILE_END;
    return reply;
}
