#!/usr/bin/env bash
# Benchmark (not a test): instructions the VMM's network device, the virtual switch and the echo
# service spend per frame, counted inside the measured_* functions of bench/net_cost.c only (the
# fake peers and the guest's work are not counted; bench/callgrind_cost.sh). The whole path on the
# target, seL4 included, is bench/net_bench.py's.
. "$(dirname "$0")/callgrind_cost.sh"
cg_build net_cost tests/host/net_dev_fx.c tests/host/net_fixture.c tests/host/sim_pd.c \
    components/vswitch/vswitch.c components/vswitch/vswitch_port.c \
    components/vswitch/vswitch_report.c components/lib/limit.c components/lib/buf_client.c components/lib/net_client.c \
    components/echo/echo.c components/echo/echo_stack.c bench/net_cost.c
cg_table net_cost 1000 "measured_*" "operation (host x86_64 -O2)" \
    "vmm_tx64|VMM: guest sends a 64-byte frame (QueueNotify exit, copy, TX_ACTIVE, IRQ)" \
    "vmm_tx1514|VMM: the same, 1514 bytes" \
    "vmm_rx64|VMM: switch delivers a 64-byte frame (notification, copy, used, IRQ)" \
    "vmm_rx1514|VMM: the same, 1514 bytes" \
    "switch_unicast64|switch: one 64-byte unicast frame, port to port" \
    "switch_unicast1514|switch: the same, 1514 bytes" \
    "switch_broadcast64|switch: one 64-byte broadcast, flooded to 2 ports" \
    "echo_ping|echo service: one ping (98-byte frame) received and answered"
