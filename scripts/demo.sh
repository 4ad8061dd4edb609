#!/usr/bin/env bash
# The main job: set up, start fairwayd (the CLI starts it when none answers), tune the gemm_small
# profile on the default backend (OpenCL; PoCL on a machine without a GPU), print the ranking and the
# best configuration, then write report.html. Extra arguments go to `fairway tune` (e.g. --profile NAME,
# --budget N, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
FW_BUILD=build ./scripts/setup.sh

fairway=build/cli/fairway
"$fairway" tune --profile gemm_small "$@"

# The job's report: one HTML file, readable offline (convergence, knob effects, noise, ties, failures).
job=$("$fairway" --json jobs --limit 1 | sed -n 's/^[[:space:]]*"id":[[:space:]]*\([0-9]*\),*$/\1/p' | head -n 1)
if [ -n "$job" ]; then
    "$fairway" report "$job" -o report.html >&2 && echo "open report.html" >&2
fi
