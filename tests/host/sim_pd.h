/* The simulated Microkit seam behind include/pd/pd.h and include/pd/mmio.h for host tests of
 * components: it records notifications, IRQ acks and debug-console output, keeps a counter the
 * test moves, and routes register accesses inside a simulated device to that device's model
 * (accesses anywhere else go to plain memory). */
#ifndef SIM_PD_H
#define SIM_PD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_PD_CHANNELS 64
#define SIM_PD_CONSOLE_SIZE 65536
#define SIM_PD_DEVICES 4

typedef uint32_t (*sim_mmio_read_fn)(void *model, uint32_t offset);
typedef void (*sim_mmio_write_fn)(void *model, uint32_t offset, uint32_t value);

struct sim_pd_state {
    unsigned notifies[SIM_PD_CHANNELS]; /* pd_notify calls per channel, ever */
    unsigned pending[SIM_PD_CHANNELS];  /* ... not yet taken by sim_pd_take_notify */
    unsigned irq_acks[SIM_PD_CHANNELS]; /* pd_irq_ack calls per channel */
    unsigned bad_channel_calls;         /* notify/ack of a channel outside 0..63 */
    uint64_t now, freq;                 /* pd_counter_now / pd_counter_freq */
    uint64_t ptimer_ctl, ptimer_cval;   /* pd_ptimer_write */
    unsigned ptimer_writes;
    const char *name; /* pd_name */
    unsigned long mmio_reads, mmio_writes;
    unsigned long dma_fences; /* pd_dma_fence calls */
    struct sim_pd_device {
        uintptr_t base;
        size_t size;
        sim_mmio_read_fn read;
        sim_mmio_write_fn write;
        void *model;
    } device[SIM_PD_DEVICES];
    unsigned num_devices;
    /* Debug-console output, from the start; what does not fit is counted in console_lost. */
    size_t console_len;
    unsigned long console_lost;
    char console[SIM_PD_CONSOLE_SIZE];
};

extern struct sim_pd_state sim_pd;

void sim_pd_reset(void);
/* Accesses to [base, base + size) go to the model from now on (replacing one mapped at the same
 * base before). */
void sim_pd_map_device(uintptr_t base, size_t size, sim_mmio_read_fn read, sim_mmio_write_fn write,
                       void *model);
/* Notifications of `channel` sent since the last call (and forgets them). */
unsigned sim_pd_take_notify(unsigned channel);
/* True if the debug console printed `needle`. */
bool sim_pd_console_has(const char *needle);
/* True if `needle` was never printed; false (and says so) if output was lost, so an absence
 * check cannot pass without having looked at everything. */
bool sim_pd_console_lacks(const char *needle);

#endif
