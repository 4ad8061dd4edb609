"""Reads fairway's `export --format kernel-tuner` files back with Kernel Tuner itself (by hand, not a
test: Kernel Tuner is a PyPI package, not a Debian one). For each file, Kernel Tuner's simulation mode
runs brute force over the file's parameters (restricted to the recorded configurations, as a
recorded space's are), and the best configuration it finds is printed beside the file's own.

    python3 -m venv /tmp/kt && /tmp/kt/bin/pip install kernel_tuner==1.5.0
    fairway export JOB --format kernel-tuner -o job.json
    /tmp/kt/bin/python benchmarks/kt_readback.py job.json [more.json ...]
"""
import json
import sys
from collections import OrderedDict

import numpy as np
import kernel_tuner


def restriction(names, keys):
    """Kernel Tuner calls a restriction with the parameters it names, by position."""
    ns = {"keys": keys}
    exec("def restr(%s):\n    return ','.join(str(v) for v in (%s,)) in keys\n" % (", ".join(names), ", ".join(names)),
         ns)
    return ns["restr"]


def main(paths):
    for path in paths:
        with open(path) as f:
            c = json.load(f)
        names = c["tune_params_keys"]
        tp = OrderedDict((k, c["tune_params"][k]) for k in names)
        res, _ = kernel_tuner.tune_kernel(
            c["kernel_name"], "__global__ void %s(float *a) {}" % c["kernel_name"], c["problem_size"],
            [np.zeros(1, dtype=np.float32)], tp, cache=path, simulation_mode=True, lang="CUDA",
            strategy="brute_force", restrictions=[restriction(names, set(c["cache"]))], quiet=True)
        ok = [r for r in res if isinstance(r.get("time"), (int, float))]
        best = min(ok, key=lambda r: r["time"])
        own = min((e for e in c["cache"].values() if not isinstance(e["time"], str)), key=lambda e: e["time"])
        print("%s: Kernel Tuner read %d configurations (%d timed); its best %s at %.6g ms, the file's %s" %
              (path, len(res), len(ok), {k: best[k] for k in names}, best["time"],
               "the same" if all(best[k] == own[k] for k in names) else {k: own[k] for k in names}))


if __name__ == "__main__":
    main(sys.argv[1:])
