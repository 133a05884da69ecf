# Sourced by bench/*_cost.sh (benchmarks, not tests): each builds a host program (-O2, no
# sanitizers) that runs one operation N times, and prints what one costs in instructions counted
# by callgrind: (Ir(2N) - Ir(N)) / N, so what runs once (start-up, set-up) cancels out.
# Repeatable: the same binary and inputs give the same counts.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BUILD_DIR:-build}/bench
mkdir -p "$OUT"

# cg_build NAME SOURCE...: the program $OUT/NAME, from the VMM's sources and SOURCE...
cg_build() {
    local name=$1
    shift
    command -v valgrind >/dev/null ||
        { echo "$name: valgrind is needed (apt-get install valgrind)"; exit 1; }
    cc -std=c11 -O2 -g -Iinclude -Icomponents -Idrivers -Itests/host src/core/*.c \
        src/arch/aarch64/*.c src/vgic/*.c src/virtio/*.c tests/host/sim_hyp.c \
        tests/host/fixture.c tests/host/dtb_build.c tests/host/virtio_fx.c "$@" -o "$OUT/$name"
}

# cg_instructions NAME OP N [FUNCTIONS]: instructions of `NAME OP N`, all of them or only those
# inside the functions matching the callgrind pattern FUNCTIONS.
cg_instructions() {
    local name=$1 op=$2 n=$3 only=${4:-}
    "$OUT/$name" "$op" "$n" >/dev/null || { echo "$name: $op failed" >&2; exit 1; }
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg-$name.out" \
        ${only:+--toggle-collect="$only"} "$OUT/$name" "$op" "$n" >/dev/null 2>&1
    grep -E '^summary:' "$OUT/cg-$name.out" | awk '{print $2}'
}

# cg_table NAME N FUNCTIONS HEADING "OP|what it is"...: one line per operation.
cg_table() {
    local name=$1 n=$2 only=$3 heading=$4 width=0 row
    shift 4
    width=${#heading}
    for row in "$@"; do
        row=${row#*|}
        if [ ${#row} -gt "$width" ]; then width=${#row}; fi
    done
    printf '%-*s %s\n' "$width" "$heading" "instructions"
    for row in "$@"; do
        local op=${row%%|*} what=${row#*|} a b
        a=$(cg_instructions "$name" "$op" "$n" "$only")
        b=$(cg_instructions "$name" "$op" $((2 * n)) "$only")
        printf '%-*s %d\n' "$width" "$what" $(((b - a) / n))
    done
}
