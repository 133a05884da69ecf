/* The interrupt-latency benchmark of the bare-metal test guest (irq_latency.c). */
#ifndef IRQ_LATENCY_H
#define IRQ_LATENCY_H

#include <stdint.h>

/* Where the guest runs: under the VMM, natively under QEMU (no hypervisor: it started at EL2), or
 * under bench/irq_latency's floor PD, which handles only what the measured paths need (the guest
 * then leaves the distributor alone but for GICD_SGIR). */
enum lat_mode { LAT_UNDER_VMM, LAT_NATIVE, LAT_FLOOR };

/* x0 at entry when the floor PD starts the guest (instead of a DTB address). */
#define LAT_FLOOR_MAGIC UINT64_C(0x464c4f4f52)
/* The CPU_ON context id that makes CPU 1 the benchmark's SGI sender. */
#define LAT_HELPER_CONTEXT UINT64_C(0x1a7e0001)

/* CPU 0: start CPU 1 as the sender, measure every path, print "bench irq_..." lines, stop CPU 1. */
void irq_latency_bench(enum lat_mode mode);
/* CPU 1, entered through CPU_ON with LAT_HELPER_CONTEXT; ends with CPU_OFF when told to stop. */
void irq_latency_helper(void);

#ifdef LATENCY_TRACE
/* PROBE=irqtrace: "lat-trace: WHAT NAME", then wait for bench/irq_latency.py --trace. */
void trace_handshake(const char *what, const char *name);
#endif

#endif
