"""best's answers are kept while the store is unchanged (issue 15 item 13, daemon/best_cache.c):
  - a repeated best gets the same answer, with its own id (also for a string id, and for an error);
  - the answer "nothing verified is stored" is not kept past a write: once the shape is tuned, best
    answers with its variant; and after a second job of the shape, best answers what a fresh daemon
    on the same store answers;
  - other requests (another shape, exact, a kernel) are kept apart.
"""
import json
import os

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

SHAPE = {"M": 64, "N": 64, "K": 64}

d = Daemon()
with guarded(d):
    d.start()
    c = d.client()
    q = {"family": "gemm", "shape": SHAPE}
    e1 = c.error("best", q)
    e2 = c.error("best", q)
    check(e1 is not None and e1 == e2 and "nothing verified is stored" in e1["message"],
          "an error answer is the same the second time: %s" % (e2 or {}).get("message"))
    other = c.error("best", {"family": "gemm", "shape": {"M": 128, "N": 64, "K": 64}})
    check(other is not None and "K=64,M=128,N=64" in other["message"], "another shape is another answer")
    job = c.call("submit", {"spec": dict(SMALL_GEMM, budget=2)})["job"]
    check(c.watch(job)[-1]["state"] == "done", "the shape is tuned")
    b1 = c.call("best", q)
    check(b1.get("shape_key") == "K=64,M=64,N=64" and b1.get("job") == job,
          "after the store changed, best answers with the tuned variant (not the kept error): %s"
          % json.dumps(b1)[:200])
    m = c.request("best", q)
    check(m.get("result") == b1 and m.get("id") == c.next_id - 1, "the same answer again, with its own id")
    c.send_raw((json.dumps({"jsonrpc": "2.0", "id": "é-\u2603", "method": "best", "params": q}) + "\n").encode())
    m = c.read_msg()
    check(m.get("id") == "é-\u2603" and m.get("result") == b1, "a string id comes back as sent")
    e = c.error("best", dict(q, kernel="no_such_kernel"))
    check(e is not None and "nothing verified" in e["message"], "a kernel asked for is another request")
    # a second job of the same shape: best answers from the store as it is now
    variant = b1["variant_key"]
    job2 = c.call("submit", {"spec": dict(SMALL_GEMM, budget=4, seed=99)})["job"]
    check(c.watch(job2)[-1]["state"] == "done", "a second job ran")
    b2 = c.call("best", q)
    fresh = Daemon(tmp=d.tmp)   # the same store, asked by a daemon that never cached anything
    c.close()
    check(d.terminate() == 0, "clean exit")
    fresh.start()
    c = fresh.client()
    b3 = c.call("best", q)
    check(b2 == b3, "after the second job best answers what a fresh daemon on the same store answers (%s, was %s)"
          % (b2.get("variant_key"), variant))
    c.close()
    check(fresh.terminate() == 0, "clean exit")
finish()
