#!/usr/bin/env bash
# Benchmark (not a test): instructions per guest exit, measured by the bare-metal test guest with
# the virtual counter under qemu -icount shift=0 (one instruction per nanosecond), release build.
set -euo pipefail
cd "$(dirname "$0")/.."
SDK=${MICROKIT_SDK:-/opt/microkit-sdk-2.0.1}
/usr/bin/python3 tests/e2e/baremetal.py --build-dir "${BUILD_DIR:-build}/bench/exit-cost" \
    --sdk "$SDK" --config release --bench | grep -E '^bench|FAIL'
