#!/usr/bin/env bash
# Every test suite in one run: host unit tests (clang and gcc, ASan/UBSan), build-tool tests, the
# default guest images (built, and booted natively in QEMU), a bounded fuzz run, and the end-to-end
# Linux boot when a Microkit SDK is available.
# Closes with one line: "N passed, N failed[, N skipped]".
set -u
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
DEFAULT_SDK=/opt/microkit-sdk-2.0.1
SDK=${MICROKIT_SDK:-${SEL4CP_SDK:-}}
if [ -z "$SDK" ] && [ -x "$DEFAULT_SDK/bin/microkit" ]; then SDK=$DEFAULT_SDK; fi

passed=0 failed=0 skipped=0

# run_suite NAME CMD...: runs the command, reads its "N passed, N failed" line.
run_suite() {
    local name=$1; shift
    echo "=== $name"
    local out
    out=$("$@" 2>&1)
    local status=$?
    echo "$out"
    local line
    line=$(echo "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -1)
    if [ -z "$line" ]; then
        echo "!!! $name printed no result line (exit status $status): counted as 1 failure"
        failed=$((failed + 1))
        return
    fi
    local p f s
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    s=$(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+')
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + ${s:-0}))
    if [ "${s:-0}" -gt 0 ]; then
        echo "!!! $name: ${s} SKIPPED (they could not run here; see above)"
    fi
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "!!! $name exited with status $status: counted as 1 failure"
        failed=$((failed + 1))
    fi
}

fuzz() {
    local bin=$BUILD_DIR/fuzz/fuzz_exits
    mkdir -p "$BUILD_DIR/fuzz/corpus"
    clang -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -Itests/host \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        src/core/*.c src/arch/aarch64/*.c src/vgic/*.c src/virtio/*.c tests/host/sim_hyp.c \
        tests/host/fixture.c tests/host/dtb_build.c tests/host/virtio_fx.c \
        tests/fuzz/fuzz_exits.c -o "$bin" || { echo "fuzz: 0 passed, 1 failed"; return 1; }
    # The seeds (tests/fuzz/make_exit_seeds.py) start it from states where list registers fill.
    if "$bin" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -seed=1 "$BUILD_DIR/fuzz/corpus" \
        tests/fuzz/seeds/exits >"$BUILD_DIR/fuzz/fuzz.log" 2>&1; then
        echo "fuzz_exits: $(grep -E '^Done [0-9]+ runs' "$BUILD_DIR/fuzz/fuzz.log")"
        echo "fuzz: 1 passed, 0 failed"
    else
        tail -40 "$BUILD_DIR/fuzz/fuzz.log"
        echo "fuzz: crash input and log kept in $BUILD_DIR/fuzz/"
        echo "fuzz: 0 passed, 1 failed"
        return 1
    fi
}

# The serial multiplexer against hostile clients and a hostile line (tests/fuzz/fuzz_serial_mux.c).
fuzz_serial_mux() {
    local bin=$BUILD_DIR/fuzz/fuzz_serial_mux
    mkdir -p "$BUILD_DIR/fuzz/corpus-serial-mux"
    clang -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -Icomponents -Idrivers -Itests/host \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        components/serial_mux/mux*.c components/serial_mux/uart.c drivers/pl011/pl011.c \
        components/lib/buf_client.c components/lib/serial_client.c tests/host/sim_pd.c \
        tests/host/sim_pl011.c tests/fuzz/fuzz_serial_mux.c -o "$bin" ||
        { echo "fuzz_serial_mux: 0 passed, 1 failed"; return 1; }
    # The seeds (tests/fuzz/make_mux_seeds.py) start it from prompts, switches, a slow UART...
    if "$bin" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -seed=1 \
        -artifact_prefix="$BUILD_DIR/fuzz/serial-mux-" "$BUILD_DIR/fuzz/corpus-serial-mux" \
        tests/fuzz/seeds/serial_mux \
        >"$BUILD_DIR/fuzz/fuzz_serial_mux.log" 2>&1; then
        echo "fuzz_serial_mux: $(grep -E '^Done [0-9]+ runs' "$BUILD_DIR/fuzz/fuzz_serial_mux.log")"
        echo "fuzz_serial_mux: 1 passed, 0 failed"
    else
        tail -40 "$BUILD_DIR/fuzz/fuzz_serial_mux.log"
        echo "fuzz_serial_mux: crash input and log kept in $BUILD_DIR/fuzz/"
        echo "fuzz_serial_mux: 0 passed, 1 failed"
        return 1
    fi
}

# A libFuzzer target of a native component: its sources, run from its seeds in
# tests/fuzz/seeds/<name without fuzz_>.
fuzz_component_target() {
    local name=$1 max_len=$2; shift 2
    local bin=$BUILD_DIR/fuzz/$name log=$BUILD_DIR/fuzz/$name.log
    mkdir -p "$BUILD_DIR/fuzz/corpus-$name"
    clang -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -Icomponents -Idrivers -Itests/host \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all "$@" -o "$bin" ||
        { echo "$name: 0 passed, 1 failed"; return 1; }
    if "$bin" -max_total_time="$FUZZ_SECONDS" -max_len="$max_len" -seed=1 \
        -artifact_prefix="$BUILD_DIR/fuzz/$name-" "$BUILD_DIR/fuzz/corpus-$name" \
        "tests/fuzz/seeds/${name#fuzz_}" >"$log" 2>&1; then
        echo "$name: $(grep -E '^Done [0-9]+ runs' "$log")"
        echo "$name: 1 passed, 0 failed"
    else
        tail -40 "$log"
        echo "$name: crash input and log kept in $BUILD_DIR/fuzz/"
        echo "$name: 0 passed, 1 failed"
        return 1
    fi
}

# The block server against hostile clients and a misbehaving device (tests/fuzz/fuzz_blk_server.c),
# with 64 KiB data chunks instead of 2 MiB so that each run is quick; the seeds
# (tests/fuzz/make_blk_seeds.py) start it with requests at the device, a deaf client, direct
# requests into the DMA windows...
fuzz_blk_server() {
    fuzz_component_target fuzz_blk_server 4096 -DBLK_DATA_CHUNK=0x10000u \
        components/blk_server/server.c components/blk_server/storage.c \
        components/blk_server/partition.c drivers/virtio_blk/virtio_blk.c \
        drivers/virtio_mmio/virtio_mmio.c tests/host/sim_pd.c tests/host/sim_virtio_blk.c \
        tests/fuzz/fuzz_blk_server.c
}

# The network side: the virtual switch against hostile ports (tests/fuzz/fuzz_vswitch.c) and the
# echo service's IPv4 stack on any frame (tests/fuzz/fuzz_echo.c), from the seeds of
# tests/fuzz/make_net_seeds.py.
fuzz_vswitch() {
    fuzz_component_target fuzz_vswitch 4096 components/vswitch/vswitch.c \
        components/vswitch/vswitch_port.c components/vswitch/vswitch_report.c \
        components/lib/limit.c tests/host/sim_pd.c tests/fuzz/fuzz_vswitch.c
}

fuzz_echo() {
    fuzz_component_target fuzz_echo 2048 components/echo/echo_stack.c tests/fuzz/fuzz_echo.c
}

# The device tree editor on any blob (tests/fuzz/fuzz_fdt.c), seeded with the boards' DTBs (a
# first byte gives the room for edits).
fuzz_fdt() {
    local bin=$BUILD_DIR/fuzz/fuzz_fdt corpus=$BUILD_DIR/fuzz/fdt-corpus
    local log=$BUILD_DIR/fuzz/fuzz_fdt.log
    mkdir -p "$corpus"
    clang -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        src/core/fdt.c src/core/seed.c src/core/chacha20.c src/core/mem.c tests/fuzz/fuzz_fdt.c \
        -o "$bin" || { echo "fuzz_fdt: 0 passed, 1 failed"; return 1; }
    for dts in board/*/*.dts; do
        dtc -q -I dts -O dtb -o "$corpus/tmp.dtb" "$dts" &&
            { printf '\100'; cat "$corpus/tmp.dtb"; } >"$corpus/board-$(basename "$dts" .dts)"
    done
    echo '/dts-v1/; / { model = "m"; chosen { bootargs = "x"; }; };' |
        dtc -q -I dts -O dtb -o "$corpus/tmp.dtb" - &&
        { printf '\040'; cat "$corpus/tmp.dtb"; } >"$corpus/small"
    rm -f "$corpus/tmp.dtb"
    if "$bin" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -seed=1 \
        -artifact_prefix="$BUILD_DIR/fuzz/fdt-" "$corpus" >"$log" 2>&1; then
        echo "fuzz_fdt: $(grep -E '^Done [0-9]+ runs' "$log")"
        echo "fuzz_fdt: 1 passed, 0 failed"
    else
        tail -40 "$log"
        echo "fuzz_fdt: crash input and log kept in $BUILD_DIR/fuzz/"
        echo "fuzz_fdt: 0 passed, 1 failed"
        return 1
    fi
}

# The host test programs (make test builds them too; this keeps the script usable on its own).
make -s BUILD_DIR="$BUILD_DIR" "$BUILD_DIR/host/tests-clang" "$BUILD_DIR/host/tests-gcc" >/dev/null

# The real Debian kernel lets the image tests check a real Image header, not only crafted ones,
# and the inflate tests inflate all of it as zlib compressed it.
zlib_args=()
if /usr/bin/python3 tools/fetch-guest-images.py --out "$BUILD_DIR/images"; then
    export GUEST_IMAGE_DIR=$BUILD_DIR/images
    zlib_args=(--kernel "$GUEST_IMAGE_DIR/linux")
else
    echo "!!! could not build the default guest images: the real-Image tests will say they skipped"
fi
if /usr/bin/python3 tests/host/zlib_reference.py --out "$BUILD_DIR/host/zlib" "${zlib_args[@]}"; then
    export ZLIB_REFERENCE_DIR=$BUILD_DIR/host/zlib
else
    echo "!!! zlib's reference output could not be made: the inflate tests will say they skipped"
fi

fuzz_dtb() {
    local dir=$BUILD_DIR/fuzz/dtbs args=()
    mkdir -p "$dir"
    for dts in board/*/*.dts; do
        dtc -q -I dts -O dtb -o "$dir/$(basename "$dts" .dts).dtb" "$dts" && args+=(--dtb "$dir/$(basename "$dts" .dts).dtb")
    done
    for name in amlogic/meson-gxbb-odroidc2.dtb amlogic/meson-sm1-odroid-c4.dtb freescale/imx8mm-evk.dtb; do
        /usr/bin/python3 tools/fetch-guest-images.py --board-dtb "$name" \
            --board-dtb-out "$dir/$(basename "$name")" >/dev/null && args+=(--dtb "$dir/$(basename "$name")")
    done
    /usr/bin/python3 tests/fuzz/fuzz_dtb.py --seconds "$FUZZ_SECONDS" --out "$BUILD_DIR/fuzz" "${args[@]}"
}

run_suite "host unit tests (clang, ASan+UBSan)" "$BUILD_DIR/host/tests-clang"
run_suite "host unit tests (gcc, ASan+UBSan)" "$BUILD_DIR/host/tests-gcc"
run_suite "build tool tests" /usr/bin/python3 tests/tools/test_vmm_config.py
run_suite "system expansion tests" /usr/bin/python3 tests/tools/test_vmm_system.py
run_suite "network declaration tests" /usr/bin/python3 tests/tools/test_vmm_network.py
run_suite "default guest image tests" /usr/bin/python3 tests/tools/test_guest_images.py
run_suite "preloaded guest image tests" /usr/bin/python3 tests/tools/test_vmm_preload.py
# Needs only QEMU, no SDK: the images' own behaviour (hvc0, virtio-blk, virtio-net) natively.
run_suite "default guest images booted natively in QEMU" /usr/bin/python3 tests/e2e/native_hvc0.py \
    --images "$BUILD_DIR/images" --build-dir "$BUILD_DIR/native"
run_suite "fuzz the exit handlers (${FUZZ_SECONDS}s)" fuzz
run_suite "fuzz the device tree editor (${FUZZ_SECONDS}s)" fuzz_fdt
run_suite "fuzz the serial multiplexer (${FUZZ_SECONDS}s)" fuzz_serial_mux
run_suite "fuzz the block server (${FUZZ_SECONDS}s)" fuzz_blk_server
run_suite "fuzz the build tools' DTB paths (${FUZZ_SECONDS}s)" fuzz_dtb
run_suite "fuzz the virtual switch (${FUZZ_SECONDS}s)" fuzz_vswitch
run_suite "fuzz the echo service's IPv4 stack (${FUZZ_SECONDS}s)" fuzz_echo

if [ -n "$SDK" ] && [ -x "$SDK/bin/microkit" ]; then
    run_suite "end-to-end Linux boot (SDK $SDK)" /usr/bin/python3 tests/e2e/linux_boot.py \
        --build-dir "$BUILD_DIR/e2e" --sdk "$SDK"
    run_suite "end-to-end Linux boot, guest images placed by QEMU's loader" /usr/bin/python3 \
        tests/e2e/linux_boot.py --build-dir "$BUILD_DIR/e2e-preload" --sdk "$SDK" \
        --guest-images preload
    run_suite "every board builds (make boards)" env BUILD_DIR="$BUILD_DIR" MICROKIT_SDK="$SDK" \
        IMAGE_DIR="$BUILD_DIR/images" tests/build-boards.sh
    run_suite "the seL4CP manual's own system file" /usr/bin/python3 tests/e2e/linux_boot.py \
        --build-dir "$BUILD_DIR/e2e-seed" --sdk "$SDK" --system seed_manual.system
    run_suite "two Linux VMs, virtio consoles on one UART" /usr/bin/python3 tests/e2e/two_vms.py \
        --build-dir "$BUILD_DIR/e2e-two-vms" --sdk "$SDK"
    run_suite "two Linux VMs, a partition each of one virtio-blk disk" /usr/bin/python3 \
        tests/e2e/two_vms_disk.py --build-dir "$BUILD_DIR/e2e-two-vms-disk" --sdk "$SDK"
    run_suite "a VM's disk on a RAM disk in the block server" /usr/bin/python3 \
        tests/e2e/ramdisk.py --build-dir "$BUILD_DIR/e2e-ramdisk" --sdk "$SDK"
    run_suite "two Linux VMs and the echo PD on a virtual switch" /usr/bin/python3 \
        tests/e2e/two_vms_net.py --build-dir "$BUILD_DIR/e2e-two-vms-net" --sdk "$SDK"
    run_suite "example: a PD of your own owns a VM and serves its own channel" /usr/bin/python3 \
        tests/e2e/example.py --example vm_with_channel --build-dir "$BUILD_DIR/e2e-example" \
        --sdk "$SDK" --images "$BUILD_DIR/images" --expect "vmm: the bell rang" \
        --expect "bell: the VMM's PD answered 3 times"
    run_suite "adding a board is data" /usr/bin/python3 tests/e2e/add_board.py --sdk "$SDK" \
        --images "$BUILD_DIR/images"
    run_suite "serial multiplexer with two native clients" /usr/bin/python3 tests/e2e/serial_mux.py \
        --build-dir "$BUILD_DIR/e2e-serial-mux" --sdk "$SDK"
    run_suite "bare-metal test guest (3 vCPUs, 20 resets)" /usr/bin/python3 tests/e2e/baremetal.py \
        --build-dir "$BUILD_DIR/e2e-baremetal" --sdk "$SDK"
    for n in 2 4; do
        run_suite "end-to-end Linux boot, $n vCPUs" /usr/bin/python3 tests/e2e/linux_boot.py \
            --build-dir "$BUILD_DIR/e2e-smp$n" --sdk "$SDK" --system smp$n.system --cpus $n
    done
    GICV3_SDK=${MICROKIT_SDK_GICV3:-/opt/microkit-sdk-2.0.1-gicv3}
    if [ -x "$GICV3_SDK/bin/microkit" ]; then
        run_suite "end-to-end Linux boot, GICv3 (SDK $GICV3_SDK)" /usr/bin/python3 \
            tests/e2e/linux_boot.py --build-dir "$BUILD_DIR/e2e-gicv3" --sdk "$GICV3_SDK" \
            --board qemu_virt_aarch64_gicv3
        run_suite "end-to-end Linux boot, GICv3, 2 vCPUs" /usr/bin/python3 \
            tests/e2e/linux_boot.py --build-dir "$BUILD_DIR/e2e-gicv3-smp2" --sdk "$GICV3_SDK" \
            --board qemu_virt_aarch64_gicv3 --system smp2.system --cpus 2
    else
        echo "=== end-to-end Linux boot, GICv3"
        echo "!!! SKIPPED: no Microkit SDK with a GICv3 seL4 for QEMU (set MICROKIT_SDK_GICV3)"
        skipped=$((skipped + 1))
    fi
else
    echo "=== end-to-end Linux boot"
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! SKIPPED: no Microkit SDK (set MICROKIT_SDK, or install one at $DEFAULT_SDK)"
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    skipped=$((skipped + 1))
fi

echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
