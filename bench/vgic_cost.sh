#!/usr/bin/env bash
# Benchmark (not a test): instructions per emulated distributor access and per interrupt
# delivery, counted by callgrind on the host build (-O2, no sanitizers). Repeatable: the same
# binary and inputs give the same counts. Each figure is (Ir(2N) - Ir(N)) / N.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BUILD_DIR:-build}/bench
mkdir -p "$OUT"
command -v valgrind >/dev/null || { echo "vgic_cost: valgrind is needed (apt-get install valgrind)"; exit 1; }
cc -std=c11 -O2 -g -Iinclude -Itests/host src/core/*.c src/arch/aarch64/*.c src/vgic/*.c \
    src/virtio/*.c tests/host/sim_hyp.c tests/host/fixture.c tests/host/dtb_build.c \
    tests/host/virtio_fx.c bench/vgic_cost.c -o "$OUT/vgic_cost"

instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" "$OUT/vgic_cost" "$1" "$2" \
        >/dev/null 2>&1
    grep -E '^summary:' "$OUT/cg.out" | awk '{print $2}'
}

N=2000
printf '%-58s %s\n' "operation (full exit path, host x86_64 -O2)" "instructions"
for op in emul_read emul_write dist_read dist_write v3_dist_read deliver sgi hvc smc; do
    a=$(instructions $op $N)
    b=$(instructions $op $((2 * N)))
    case $op in
        emul_read) what="GICv2 ISENABLER1 read, register emulation alone";;
        emul_write) what="GICv2 ISENABLER1 write, register emulation alone";;
        dist_read) what="GICv2 distributor read (ISENABLER1)";;
        dist_write) what="GICv2 distributor write (ISENABLER1)";;
        v3_dist_read) what="GICv3 distributor read (ISENABLER1)";;
        deliver) what="passthrough IRQ: notify -> list register -> EOI -> ack";;
        sgi) what="GICv3 SGI: ICC_SGI1R trap -> other vCPU -> EOI";;
        hvc) what="HVC (PSCI_VERSION): dispatch and reply registers";;
        smc) what="SMC (PSCI_VERSION): dispatch, register read and write";;
    esac
    printf '%-58s %d\n' "$what" $(((b - a) / N))
done
