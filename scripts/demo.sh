#!/usr/bin/env bash
# The main job: set up, start fairwayd (the CLI starts it when none answers), tune the gemm_small
# profile on the default backend (OpenCL; PoCL on a machine without a GPU), print the ranking and the
# best configuration. Extra arguments go to `fairway tune` (e.g. --profile NAME, --budget N, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
FW_BUILD=build ./scripts/setup.sh

fairway=build/cli/fairway
"$fairway" tune --profile gemm_small "$@"
