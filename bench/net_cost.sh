#!/usr/bin/env bash
# Benchmark (not a test): instructions the VMM's network device, the virtual switch and the echo
# service spend per frame, counted by callgrind on the host build (-O2, no sanitizers) inside the
# measured_* functions of bench/net_cost.c only (the fake peers and the guest's work are not
# counted). Repeatable: the same binary and inputs give the same counts. Each figure is
# (Ir(2N) - Ir(N)) / N. The whole path on the target, seL4 included, is bench/net_bench.py's.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BUILD_DIR:-build}/bench
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "net_cost: valgrind is needed (apt-get install valgrind)"; exit 1; }
cc -std=c11 -O2 -g -Iinclude -Icomponents -Idrivers -Itests/host src/core/*.c \
    src/arch/aarch64/*.c src/vgic/*.c src/virtio/*.c tests/host/sim_hyp.c tests/host/fixture.c tests/host/dtb_build.c \
    tests/host/virtio_fx.c tests/host/net_dev_fx.c tests/host/net_fixture.c tests/host/sim_pd.c \
    components/vswitch/vswitch.c components/vswitch/vswitch_port.c \
    components/vswitch/vswitch_report.c components/lib/limit.c components/lib/net_client.c \
    components/echo/echo.c components/echo/echo_stack.c bench/net_cost.c -o "$OUT/net_cost"

instructions() {
    "$OUT/net_cost" "$1" "$2" || { echo "net_cost: $1 failed" >&2; exit 1; }
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg-net.out" \
        --toggle-collect='measured_*' "$OUT/net_cost" "$1" "$2" >/dev/null 2>&1
    grep -E '^summary:' "$OUT/cg-net.out" | awk '{print $2}'
}

N=1000
printf '%-72s %s\n' "operation (host x86_64 -O2)" "instructions"
for op in vmm_tx64 vmm_tx1514 vmm_rx64 vmm_rx1514 switch_unicast64 switch_unicast1514 \
    switch_broadcast64 echo_ping; do
    a=$(instructions $op $N)
    b=$(instructions $op $((2 * N)))
    case $op in
        vmm_tx64) what="VMM: guest sends a 64-byte frame (QueueNotify exit, copy, TX_ACTIVE, IRQ)";;
        vmm_tx1514) what="VMM: the same, 1514 bytes";;
        vmm_rx64) what="VMM: switch delivers a 64-byte frame (notification, copy, used, IRQ)";;
        vmm_rx1514) what="VMM: the same, 1514 bytes";;
        switch_unicast64) what="switch: one 64-byte unicast frame, port to port";;
        switch_unicast1514) what="switch: the same, 1514 bytes";;
        switch_broadcast64) what="switch: one 64-byte broadcast, flooded to 2 ports";;
        echo_ping) what="echo service: one ping (98-byte frame) received and answered";;
    esac
    printf '%-72s %d\n' "$what" $(((b - a) / N))
done
