#!/usr/bin/env bash
# Benchmark (not a test): instructions the VMM spends per virtio console notification, counted by
# callgrind on the host build (-O2, no sanitizers) inside the measured_* functions of
# bench/virtio_cost.c only (the fake backend and the guest's work are not counted). Repeatable:
# the same binary and inputs give the same counts. Each figure is (Ir(2N) - Ir(N)) / N.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BUILD_DIR:-build}/bench
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "virtio_cost: valgrind is needed (apt-get install valgrind)"; exit 1; }
cc -std=c11 -O2 -g -Iinclude -Itests/host src/core/*.c src/arch/aarch64/*.c src/vgic/*.c \
    src/virtio/*.c tests/host/sim_hyp.c tests/host/fixture.c tests/host/dtb_build.c \
    tests/host/virtio_fx.c \
    bench/virtio_cost.c -o "$OUT/virtio_cost"

instructions() {
    "$OUT/virtio_cost" "$1" "$2" || { echo "virtio_cost: $1 failed" >&2; exit 1; }
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg-virtio.out" \
        --toggle-collect='measured_*' "$OUT/virtio_cost" "$1" "$2" >/dev/null 2>&1
    grep -E '^summary:' "$OUT/cg-virtio.out" | awk '{print $2}'
}

N=1000
printf '%-66s %s\n' "operation (VMM only, host x86_64 -O2)" "instructions"
for op in tx1 tx64 tx_return rx16 interrupt; do
    a=$(instructions $op $N)
    b=$(instructions $op $((2 * N)))
    case $op in
        tx1) what="guest output, 1 byte: QueueNotify exit, copy, TX_ACTIVE, used, IRQ";;
        tx64) what="guest output, 64 bytes: the same";;
        tx_return) what="backend returns a TX buffer: notification, TX_FREE";;
        rx16) what="input, 16 bytes: notification, copy to guest, used, IRQ, RX_FREE";;
        interrupt) what="guest's handler: InterruptStatus read + InterruptACK (2 exits)";;
    esac
    printf '%-66s %d\n' "$what" $(((b - a) / N))
done
