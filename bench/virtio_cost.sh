#!/usr/bin/env bash
# Benchmark (not a test): instructions the VMM spends per virtio console notification, counted
# inside the measured_* functions of bench/virtio_cost.c only (the fake backend and the guest's
# work are not counted; bench/callgrind_cost.sh).
. "$(dirname "$0")/callgrind_cost.sh"
cg_build virtio_cost bench/virtio_cost.c
cg_table virtio_cost 1000 "measured_*" "operation (VMM only, host x86_64 -O2)" \
    "tx1|guest output, 1 byte: QueueNotify exit, copy, TX_ACTIVE, used, IRQ" \
    "tx64|guest output, 64 bytes: the same" \
    "tx_return|backend returns a TX buffer: notification, TX_FREE" \
    "rx16|input, 16 bytes: notification, copy to guest, used, IRQ, RX_FREE" \
    "interrupt|guest's handler: InterruptStatus read + InterruptACK (2 exits)"
