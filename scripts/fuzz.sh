#!/usr/bin/env bash
# Run the libFuzzer targets of tests/fuzz for a bounded time (issue 15, "keep the probes").
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     default: all targets, 60 s each
# Targets: wire (line reader + JSON-RPC request checks), spec (options check, fw_spec_resolve, entry
# check, plan), expr (constraint expressions), kt (Kernel Tuner cache reader), source (guards, bindable
# constants, structural transform sites), record (a worker's measurement records into the store and back
# out through rankings, failures and compare), methods (JSON-RPC dispatch into the daemon's query methods
# over a store with two jobs, replies read back and checked).
# Builds $FW_FUZZ_BUILD (default build-fuzz) with clang, -Dfuzz=true and ASan+UBSan; needs clang and
# libFuzzer's runtime (Debian: clang + libclang-rt-dev; scripts/setup.sh installs both where they exist). Inputs that
# find new coverage go to $FW_FUZZ_BUILD/fuzz-corpus/TARGET (the checked-in seeds in
# tests/fuzz/corpus/TARGET are read, never written); a crash is written to
# $FW_FUZZ_BUILD/fuzz-artifacts/ and the script exits non-zero. Turn a crash into a regression test by
# copying its file into tests/fuzz/corpus/TARGET/ (the suite 'fuzz' replays every file there).
set -euo pipefail
cd "$(dirname "$0")/.."
all=(wire spec expr kt source record methods)
which="${1:-all}"
secs="${2:-60}"
build="${FW_FUZZ_BUILD:-build-fuzz}"
if [ "$which" = all ]; then targets=("${all[@]}"); else targets=("$which"); fi
for t in "${targets[@]}"; do
    [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz: unknown target '$t' (known: ${all[*]})" >&2; exit 2; }
done
if [ ! -f "$build/build.ninja" ]; then
    CC="${FW_FUZZ_CC:-clang}" meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
ninja -C "$build" "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
mkdir -p "$build/fuzz-artifacts"
rc=0
for t in "${targets[@]}"; do
    mkdir -p "$build/fuzz-corpus/$t"
    echo "fuzz: $t for ${secs}s" >&2
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/fuzz-artifacts/$t-" "$build/fuzz-corpus/$t" "tests/fuzz/corpus/$t" \
        2> "$build/fuzz-$t.log" || { rc=1; echo "fuzz: $t found a problem: $build/fuzz-$t.log" >&2; }
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$build/fuzz-$t.log" | sed "s/^/fuzz: $t /" >&2 || true
done
exit $rc
