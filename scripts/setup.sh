#!/usr/bin/env bash
# Install what fairway needs from Debian/Ubuntu packages and build it into ./build (or $FW_BUILD).
# Safe to run again: packages already present are not reinstalled, an existing build is reused.
#   FW_BUILD=dir        build directory (default: build)
#   FW_MESON_ARGS=...   extra `meson setup` arguments (e.g. -Db_sanitize=address,undefined)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config gcc python3 libsqlite3-dev sqlite3 libuv1-dev libcjson-dev
          ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo clang llvm zlib1g-dev
          chromium)   # chromium: the headless-browser check of `fairway report` (tests/cli/test_report.py)
# libFuzzer's runtime, for the optional fuzz build (scripts/fuzz.sh): on Debian 12 clang only
# recommends it (libclang-rt-14-dev, through libclang-rt-dev); where no such package exists (older
# Ubuntu) it ships inside libclang-common-*-dev, which clang pulls in.
if apt-cache show libclang-rt-dev >/dev/null 2>&1; then packages+=(libclang-rt-dev); fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build="${FW_BUILD:-build}"
if [ ! -f "$build/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup "$build" ${FW_MESON_ARGS:-} >/dev/null
fi
ninja -C "$build" >/dev/null
echo "setup: built fairway in $build" >&2
