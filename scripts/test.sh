#!/usr/bin/env bash
# Set up (packages + build) and run the whole test suite: once in a normal build, once under
# AddressSanitizer + UndefinedBehaviorSanitizer. Tests that need a GPU skip themselves where none is.
# Between them, a release build (-O3, FW_ASSERTs off) is compiled with -Werror and its unit suites run:
# gcc -O3 found a use-after-free the -O2 builds did not (fca1595), and it is the build users install.
#   FW_TEST_SANITIZE=0  skip the sanitizer pass
#   FW_TEST_RELEASE=0   skip the release build
set -euo pipefail
cd "$(dirname "$0")/.."

FW_BUILD=build ./scripts/setup.sh
meson test -C build --print-errorlogs --num-processes 2

if [ "${FW_TEST_RELEASE:-1}" != 0 ]; then
    FW_BUILD=build-release FW_MESON_ARGS="--buildtype=release -Db_ndebug=if-release" ./scripts/setup.sh
    meson test -C build-release --print-errorlogs --num-processes 2 \
        --suite util --suite search --suite job --suite proto --suite db
fi

if [ "${FW_TEST_SANITIZE:-1}" != 0 ]; then
    FW_BUILD=build-sanitize FW_MESON_ARGS="-Db_sanitize=address,undefined -Db_lundef=false" ./scripts/setup.sh
    # PoCL's compiler (LLVM) keeps allocations alive until exit; leaks in our own code are still caught by
    # the tests that do not load the OpenCL runtime.
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
    meson test -C build-sanitize --print-errorlogs --num-processes 2 --timeout-multiplier 3
fi
