/*
 * The seam between a native protection domain's program (components/<name>/) and the Microkit.
 *
 * A component's logic calls only these; src/seL4/pd_seam.c implements them with Microkit calls
 * (the only component-side file that includes microkit.h) and turns Microkit's entry points into
 * pd_init / pd_notified. Host tests link tests/host/sim_pd.c instead, which records what was
 * done, so every component's logic runs under ASan/UBSan on the host.
 */
#ifndef PD_PD_H
#define PD_PD_H

#include <stdint.h>

/* Provided by the component. */
void pd_init(void);
void pd_notified(unsigned channel);

/* Provided by the seam. */
void pd_notify(unsigned channel);
/* The same, sent as the current entry point returns, together with the wait for the next event
 * (one system call fewer, and this PD is done before a higher-priority one it wakes runs). One
 * per entry point: a second is sent at once. */
void pd_notify_last(unsigned channel);
void pd_irq_ack(unsigned channel);
void pd_puts(const char *s); /* debug console (seL4's, when the kernel has one) */
/* The physical counter and its frequency. */
uint64_t pd_counter_now(void);
uint64_t pd_counter_freq(void);
/* The core's EL1 physical timer (CNTP_CTL_EL0: bit 0 enable, bit 1 mask; CNTP_CVAL_EL0), for the
 * one PD that owns its interrupt (components/timer). */
void pd_ptimer_write(uint64_t ctl, uint64_t cval);
/* This PD's name as the system file gives it. */
const char *pd_name(void);

#endif
