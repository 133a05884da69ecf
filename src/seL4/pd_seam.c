/*
 * The Microkit seam for native components (include/pd/pd.h, include/pd/mmio.h): the only
 * component-side file that includes microkit.h. Microkit's entry points become pd_init and
 * pd_notified; everything a component asks of the system goes through the functions below.
 */
#include <microkit.h>
#include <pd/mmio.h>
#include <pd/pd.h>

#include "generic_timer.h"

void init(void)
{
    pd_init();
}

void notified(microkit_channel ch)
{
    pd_notified(ch);
}

void pd_notify(unsigned channel)
{
    microkit_notify(channel);
}

void pd_notify_last(unsigned channel)
{
    if (microkit_have_signal)
        microkit_notify(channel); /* the one deferred action is taken */
    else
        microkit_deferred_notify(channel);
}

void pd_irq_ack(unsigned channel)
{
    microkit_irq_ack(channel);
}

void pd_puts(const char *s)
{
    microkit_dbg_puts(s);
}

uint64_t pd_counter_now(void)
{
    return generic_counter_now();
}

uint64_t pd_counter_freq(void)
{
    return generic_counter_freq();
}

void pd_ptimer_write(uint64_t ctl, uint64_t cval)
{
    generic_ptimer_write(ctl, cval);
}

const char *pd_name(void)
{
    return microkit_name;
}

uint32_t pd_mmio_read32(uintptr_t addr)
{
    return *(const volatile uint32_t *)addr;
}

void pd_mmio_write32(uintptr_t addr, uint32_t value)
{
    *(volatile uint32_t *)addr = value;
}

void pd_dma_fence(void)
{
    __asm__ volatile("dmb sy" ::: "memory");
}
