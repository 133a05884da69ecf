/* A native PD that rings the VMM's PD three times, each time it answers. */
#include <microkit.h>

#define VMM 1 /* the channel to the VMM's PD (vm_with_channel.system) */

static unsigned answers;

void init(void)
{
    microkit_notify(VMM);
}

void notified(microkit_channel ch)
{
    if (ch != VMM)
        return;
    if (++answers < 3)
        microkit_notify(VMM);
    else
        microkit_dbg_puts("bell: the VMM's PD answered 3 times\n");
}
