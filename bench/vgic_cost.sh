#!/usr/bin/env bash
# Benchmark (not a test): instructions per emulated distributor access and per interrupt
# delivery, the whole exit path on the host build (bench/callgrind_cost.sh).
. "$(dirname "$0")/callgrind_cost.sh"
cg_build vgic_cost bench/vgic_cost.c
cg_table vgic_cost 2000 "" "operation (full exit path, host x86_64 -O2)" \
    "emul_read|GICv2 ISENABLER1 read, register emulation alone" \
    "emul_write|GICv2 ISENABLER1 write, register emulation alone" \
    "dist_read|GICv2 distributor read (ISENABLER1)" \
    "dist_write|GICv2 distributor write (ISENABLER1)" \
    "v3_dist_read|GICv3 distributor read (ISENABLER1)" \
    "deliver|passthrough IRQ: notify -> list register -> EOI -> ack" \
    "sgi|GICv3 SGI: ICC_SGI1R trap -> other vCPU -> EOI" \
    "hvc|HVC (PSCI_VERSION): dispatch and reply registers" \
    "smc|SMC (PSCI_VERSION): dispatch, register read and write"
