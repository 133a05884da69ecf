/* What the seL4 seam calls: the VMM program's three entry points, free of seL4 types. */
#ifndef VMM_ENTRY_H
#define VMM_ENTRY_H

#include <vmm/exit.h>

void vmm_entry_init(void);
void vmm_entry_notified(unsigned channel);
void vmm_entry_exit(const struct vm_exit *exit, struct exit_reply *reply);

#endif
