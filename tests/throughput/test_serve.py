"""fairway-worker --serve with compile threads (docs/worker-protocol.md): load with "measured" skips
those seqs, measure answers every seq with the records a pool-less worker gives (status, variant, in
order), and "best_ns" makes early stop prune a variant against a best it never measured itself.
The resolved spec comes from the worker's --resolve, as the daemon would send it."""
import json
import os
import subprocess
import sys
import tempfile

WORKER = sys.argv[1]


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


class Serve:
    def __init__(self, tmp, *args):
        env = dict(os.environ, XDG_CACHE_HOME=tmp)
        self.p = subprocess.Popen([WORKER, "--serve", "--backend", "opencl", *args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)
        ready = json.loads(self.p.stdout.readline())
        if ready.get("method") != "ready":
            fail(f"no ready notification: {ready}")
        self.id = 0

    def call(self, method, params):
        self.id += 1
        self.p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params}) + "\n")
        self.p.stdin.flush()
        r = json.loads(self.p.stdout.readline())
        if r.get("id") != self.id:
            fail(f"reply for another id: {r}")
        if "error" in r:
            fail(f"{method}: {r['error']}")
        return r["result"]

    def close(self):
        self.call("shutdown", {})
        if self.p.wait(timeout=120) != 0:
            fail(f"worker exit {self.p.returncode}")


def item(rec):
    """A measurement record's item as the daemon sends it."""
    return {k: rec[k] for k in ("seq", "shape_index", "knobs", "origin")}


def main():
    with tempfile.TemporaryDirectory(prefix="fw-test-serve-") as tmp:
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump({"family": "gemm", "shapes": [{"M": 64, "N": 48, "K": 40}], "strategy": "random",
                       "budget": 6, "seed": 5, "warmup": 1, "iters": 6, "options": {"finalists": 0}}, f)
        out = subprocess.run([WORKER, "--spec", spec_path, "--compile-threads", "0", "--no-early-stop",
                              "--no-cache"], capture_output=True, text=True, env=dict(os.environ, XDG_CACHE_HOME=tmp))
        if out.returncode != 0:
            fail(f"standalone run: {out.stderr}")
        ref = [json.loads(l) for l in out.stdout.splitlines()]
        ref = [r for r in ref if "seq" in r]
        res = subprocess.run([WORKER, "--spec", spec_path, "--resolve", "--no-early-stop"], capture_output=True,
                             text=True, check=True)
        spec = json.loads(res.stdout)
        spec["options"]["early_stop"] = False

        w = Serve(tmp, "--compile-threads", "2", "--cache-dir", os.path.join(tmp, "cc"))
        r = w.call("load", {"spec": spec, "job": 1})
        if r["planned"] != 6 or r["compile_threads"] != 2:
            fail(f"load: {r}")
        # the daemon sends each item with the ones it asked after it (the compile threads' work)
        for seq in range(2, 6):
            rec = w.call("measure", {"seq": seq, "item": item(ref[seq]), "ahead": [item(x) for x in ref[seq + 1:]]})
            if rec["seq"] != seq or rec["variant_key"] != ref[seq]["variant_key"] or rec["status"] != ref[seq]["status"]:
                fail(f"seq {seq}: {rec['variant_key']} {rec['status']} vs {ref[seq]['variant_key']} {ref[seq]['status']}")
        # early stop on, told a best 1000x faster than anything here: the variant is pruned after 5
        spec["options"]["early_stop"] = {"after": 5, "ratio": 2.0}
        w.call("load", {"spec": spec, "job": 2})
        shape_key = ref[0]["shape_key"]
        best = min(x["stats"]["median_ns"] for x in ref if x["status"] == "ok") / 1000.0
        rec = w.call("measure", {"seq": 0, "item": item(ref[0]), "best_ns": {shape_key: best}})
        if rec["status"] != "pruned" or rec["stats"]["n"] != 5 or len(rec["samples_ns"]) != 5:
            fail(f"not pruned against best_ns: {rec['status']} {rec.get('stats')}")
        # without best_ns a fresh load's first variant is timed fully
        w.call("load", {"spec": spec, "job": 3})
        rec = w.call("measure", {"seq": 1, "item": item(ref[1])})
        if rec["status"] != "ok" or rec["stats"]["n"] != 6:
            fail(f"seq 1 of a new job kept the last job's best: {rec['status']}")
        w.close()
    print("serve ok")


main()
