"""A workload's memory and reference cost are checked at submit, before the job is stored (issue 15
item 12), against the real daemon with the device's and the host's limits set by the test hooks
FAIRWAY_TEST_DEVICE_ALLOC / FAIRWAY_TEST_DEVICE_MEM / FAIRWAY_TEST_HOST_MEM, so the test is the same on
every machine and allocates nothing large (the refused shapes are only costed, never built):
  1. the largest gemm the shape check accepts (65536 x 8 x 32767: A alone is 8 GiB) is refused with one
     sentence naming the shape, the buffer, its size, the limit and the largest M that fits; nothing
     is stored and no worker is asked to build it;
  2. a moe_swiglu shape of 4,096 tokens, whose CPU reference never finished, is refused by the default
     options.reference_max_ops; a bad value of the option is a sentence;
  3. a shape over the host's available memory is refused naming the hook it was read from;
  4. a shape that fits runs to the end, and the daemon answered every refusal and keeps going.
"""
from fwtest import SMALL_GEMM, Daemon, RpcError, check, finish, guarded

GIB = 1 << 30
HOOKS = {"FAIRWAY_TEST_DEVICE_ALLOC": str(4 * GIB), "FAIRWAY_TEST_DEVICE_MEM": str(16 * GIB),
         "FAIRWAY_TEST_HOST_MEM": str(12 * GIB)}
BIG_GEMM = {"profile": "gemm_small", "shapes": [{"M": 65536, "N": 8, "K": 32767}], "budget": 2, "seed": 1}
MOE_4096 = {"family": "moe_swiglu", "budget": 2, "seed": 1,
            "shapes": [{"tokens": 4096, "hidden": 2048, "intermediate": 1536, "experts": 64, "top_k": 4,
                        "bits": "glm47"}]}


def refused(c, spec):
    e = c.error("submit", {"spec": spec})
    return e or {}


d = Daemon(env=HOOKS)
with guarded(d):
    d.start()
    c = d.client()

    e = refused(c, BIG_GEMM)
    check(e.get("code") == -32602, "an oversize gemm is refused as invalid params (%s)" % e)
    check(e.get("message") == "shape 0 (K=32767,M=65536,N=8): buffer A needs 8.0 GiB but the device allows 4.0 "
          "GiB in one allocation (FAIRWAY_TEST_DEVICE_ALLOC); the largest M that fits is 32769 (the other fields "
          "as they are), or K up to 16384", "the sentence names the shape, the buffer, the limit and what fits: %r"
          % e.get("message"))
    check((e.get("data") or {}).get("field") == "spec", "the error points at the spec (%s)" % e.get("data"))

    e = refused(c, MOE_4096)
    msg = e.get("message", "")
    check(e.get("code") == -32602 and "its CPU reference needs 1.55e+11 multiply-adds, over the bound of 6.87e+10 "
          "(options.reference_max_ops, default 2^36" in msg, "a moe shape over reference_max_ops is refused: %r" % msg)
    check("the largest tokens that fits is 1804" in msg, "it says how many tokens fit: %r" % msg)
    e = refused(c, dict(MOE_4096, options={"reference_max_ops": -1}))
    check("options.reference_max_ops must be a number" in e.get("message", ""),
          "a bad reference_max_ops is a sentence: %r" % e.get("message"))

    # 32768 x 32768 x 1: C is 4 GiB, within the device's limits; its reference and read-backs hold 16 GiB
    e = refused(c, dict(BIG_GEMM, shapes=[{"M": 32768, "N": 32768, "K": 1}]))
    msg = e.get("message", "")
    check("the worker would hold 16.0 GiB on the host for it" in msg and
          "but 12.0 GiB is available (FAIRWAY_TEST_HOST_MEM)" in msg, "the host's memory is checked: %r" % msg)

    check(d.sql("SELECT COUNT(*) FROM jobs")[0][0] == 0, "no refused submit stored a job")
    check(c.call("jobs", {}) is not None, "the daemon answers after the refusals")
    check(d.read_log().count("was refused") == 4, "each refusal is logged once")

    r = c.call("submit", {"spec": SMALL_GEMM})
    final = c.watch(r["job"])[-1]
    check(final.get("state") == "done" and final.get("evaluated") == r["planned"],
          "a shape that fits runs to the end (%s)" % final)
    check(d.sql("SELECT COUNT(*) FROM jobs")[0][0] == 1, "and its job is stored")

finish()
