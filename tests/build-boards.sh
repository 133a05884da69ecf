#!/usr/bin/env bash
# Build board/*/systems/simple.system for every board with an SDK that supports it, and report
# per board: built (with the image size), or why not. Closes with "N passed, N failed, N skipped"
# (skipped: no SDK for that board on this machine).
set -u
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
CONFIG=${CONFIG:-debug}
passed=0 failed=0 skipped=0
for dir in board/*/; do
    board=$(basename "$dir")
    default_sdk=$(sed -n 's/^BOARD_DEFAULT_SDK := //p' "$dir/board.mk")
    micro=$(sed -n 's/^MICROKIT_BOARD := //p' "$dir/board.mk")
    sdk=${MICROKIT_SDK:-}
    [ -n "$default_sdk" ] && [ -x "$default_sdk/bin/microkit" ] && sdk=$default_sdk
    if [ -z "$sdk" ] || [ ! -d "$sdk/board/$micro/$CONFIG" ]; then
        printf '%-28s SKIPPED: no SDK here supports %s (%s)\n' "$board" "$micro" "${sdk:-none}"
        skipped=$((skipped + 1))
        continue
    fi
    log=$BUILD_DIR/boards/$board.log
    mkdir -p "$BUILD_DIR/boards"
    if make BOARD="$board" BUILD_DIR="$BUILD_DIR/boards/$board" MICROKIT_SDK="$sdk" CONFIG="$CONFIG" \
        ${IMAGE_DIR:+IMAGE_DIR=$IMAGE_DIR} all >"$log" 2>&1; then
        size=$(stat -c %s "$BUILD_DIR/boards/$board/loader.img")
        printf '%-28s built %s (%d bytes)\n' "$board" "$BUILD_DIR/boards/$board/loader.img" "$size"
        passed=$((passed + 1))
    else
        printf '%-28s FAILED: %s (log %s)\n' "$board" "$(grep -m1 -E 'error|Error|panicked' "$log")" "$log"
        failed=$((failed + 1))
    fi
done
echo "boards: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
