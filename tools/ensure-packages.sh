#!/usr/bin/env bash
# The Debian packages each command needs: the one list, checked before the command runs.
# Missing ones are installed with apt-get when run as root; otherwise one line names them.
#
#   tools/ensure-packages.sh build|run|test|ci
#
# build: make (the loader image)   run: make run (+ QEMU, e2fsprogs for the disk images of block
# servers)   test: make test (+ host compilers, sanitizer and fuzzer runtimes)   ci: .ci/run (+ clang-format,
# cppcheck)
set -u

build="make gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu device-tree-compiler python3
       python3-libfdt"
run="$build qemu-system-arm ipxe-qemu e2fsprogs"
test="$run gcc clang lld llvm libclang-rt-14-dev"
ci="$test clang-format cppcheck"

case "${1:-}" in
build) wanted=$build ;;
run) wanted=$run ;;
test) wanted=$test ;;
ci) wanted=$ci ;;
*)
    echo "usage: $0 build|run|test|ci" >&2
    exit 2
    ;;
esac
what="make $1"
[ "$1" = ci ] && what=".ci/run"
[ "$1" = build ] && what="make"

# Not a Debian system: nothing to check against; the tools themselves will say what is missing.
command -v dpkg-query >/dev/null 2>&1 || exit 0

missing=""
for p in $wanted; do
    case "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" in
    ii*) ;;
    *) missing="$missing $p" ;;
    esac
done
missing=${missing# }
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "error: $what needs Debian packages that are not installed: $missing (install them as root: apt-get install $missing)"
    exit 1
fi
echo "ensure-packages: installing what $what needs: $missing"
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # one word per package
if ! { apt-get update -qq && apt-get install -y -qq $missing; } >"$log" 2>&1; then
    tail -20 "$log"
    rm -f "$log"
    echo "error: apt-get could not install: $missing"
    exit 1
fi
rm -f "$log"
