/* The simulated component seam (see sim_pd.h). */
#include "sim_pd.h"

#include <pd/mmio.h>
#include <pd/pd.h>
#include <stdio.h>
#include <string.h>

struct sim_pd_state sim_pd;

void sim_pd_reset(void)
{
    memset(&sim_pd, 0, offsetof(struct sim_pd_state, console));
    sim_pd.console[0] = '\0';
    sim_pd.freq = 62500000;
    sim_pd.name = "sim_pd";
}

void sim_pd_map_device(uintptr_t base, size_t size, sim_mmio_read_fn read, sim_mmio_write_fn write,
                       void *model)
{
    for (unsigned i = 0; i < sim_pd.num_devices; i++) {
        if (sim_pd.device[i].base == base) { /* the same place mapped again: the new model */
            sim_pd.device[i] = (struct sim_pd_device){ base, size, read, write, model };
            return;
        }
    }
    if (sim_pd.num_devices >= SIM_PD_DEVICES) {
        fprintf(stderr, "sim_pd: too many simulated devices\n");
        __builtin_trap();
    }
    sim_pd.device[sim_pd.num_devices++] = (struct sim_pd_device){ base, size, read, write, model };
}

unsigned sim_pd_take_notify(unsigned channel)
{
    if (channel >= SIM_PD_CHANNELS)
        return 0;
    unsigned n = sim_pd.pending[channel];
    sim_pd.pending[channel] = 0;
    return n;
}

bool sim_pd_console_has(const char *needle)
{
    return strstr(sim_pd.console, needle) != NULL;
}

bool sim_pd_console_lacks(const char *needle)
{
    if (sim_pd.console_lost) {
        printf("    sim_pd: %lu bytes of console output were lost: cannot tell \"%s\" is absent\n",
               sim_pd.console_lost, needle);
        return false;
    }
    return !sim_pd_console_has(needle);
}

/* ---- the seam ---------------------------------------------------------------------------- */

void pd_notify(unsigned channel)
{
    if (channel >= SIM_PD_CHANNELS) {
        sim_pd.bad_channel_calls++;
        return;
    }
    sim_pd.notifies[channel]++;
    sim_pd.pending[channel]++;
}

void pd_notify_last(unsigned channel)
{
    pd_notify(channel);
}

void pd_irq_ack(unsigned channel)
{
    if (channel >= SIM_PD_CHANNELS) {
        sim_pd.bad_channel_calls++;
        return;
    }
    sim_pd.irq_acks[channel]++;
}

void pd_puts(const char *s)
{
    size_t n = strlen(s), room = sizeof(sim_pd.console) - 1 - sim_pd.console_len;
    size_t take = n < room ? n : room;
    memcpy(sim_pd.console + sim_pd.console_len, s, take);
    sim_pd.console_len += take;
    sim_pd.console[sim_pd.console_len] = '\0';
    sim_pd.console_lost += n - take;
}

uint64_t pd_counter_now(void)
{
    return sim_pd.now;
}

uint64_t pd_counter_freq(void)
{
    return sim_pd.freq;
}

void pd_ptimer_write(uint64_t ctl, uint64_t cval)
{
    sim_pd.ptimer_ctl = ctl & 3;
    sim_pd.ptimer_cval = cval;
    sim_pd.ptimer_writes++;
}

const char *pd_name(void)
{
    return sim_pd.name;
}

static struct sim_pd_device *device_at(uintptr_t addr)
{
    for (unsigned i = 0; i < sim_pd.num_devices; i++) {
        struct sim_pd_device *d = &sim_pd.device[i];
        if (addr >= d->base && addr - d->base < d->size)
            return d;
    }
    return NULL;
}

uint32_t pd_mmio_read32(uintptr_t addr)
{
    sim_pd.mmio_reads++;
    struct sim_pd_device *d = device_at(addr);
    if (d)
        return d->read(d->model, (uint32_t)(addr - d->base));
    return *(const volatile uint32_t *)addr;
}

void pd_mmio_write32(uintptr_t addr, uint32_t value)
{
    sim_pd.mmio_writes++;
    struct sim_pd_device *d = device_at(addr);
    if (d)
        d->write(d->model, (uint32_t)(addr - d->base), value);
    else
        *(volatile uint32_t *)addr = value;
}

void pd_dma_fence(void)
{
    sim_pd.dma_fences++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
