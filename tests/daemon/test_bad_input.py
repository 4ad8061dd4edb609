"""Bad input never takes the daemon down or loses a job, and each gets an error a person can act on."""
import json
import socket

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

MAX_CLIENTS = 120
d = Daemon(args=["--max-clients", str(MAX_CLIENTS)])
with guarded(d):
    d.start()
    c = d.client()
    # A job runs through all of it and must come out whole.
    spec = dict(SMALL_GEMM, budget=8)
    job = c.call("submit", {"spec": spec})["job"]

    def raw_error(client, data):
        client.send_raw(data)
        m = client.read_msg()
        return m and m.get("error")

    e = raw_error(c, b"{this is not json\n")
    check(e and e["code"] == -32700 and "not valid JSON" in e["message"], "malformed line: -32700")
    e = raw_error(c, b"[1,2]\n")
    check(e and e["code"] == -32600 and "batch" in e["message"], "batch array: -32600 explains")
    e = raw_error(c, b'{"id":1,"method":"jobs"}\n')
    check(e and e["code"] == -32600 and "2.0" in e["message"], "missing jsonrpc: -32600 says to set it")
    e = raw_error(c, b'{"jsonrpc":"2.0","id":{"x":1},"method":"jobs"}\n')
    check(e and e["code"] == -32600, "object id: -32600")
    e = c.error("frobnicate", {})
    check(e and e["code"] == -32601 and "submit" in e["message"], "unknown method: -32601 lists the methods")
    e = raw_error(c, b'{"jsonrpc":"2.0","id":7,"method":"jobs","params":[1]}\n')
    check(e and e["code"] == -32602, "positional params: -32602")

    e = c.error("status", {"job": "one"})
    check(e and e["code"] == -32602 and "job id" in e["message"], "wrong param type: -32602")
    e = c.error("status", {})
    check(e and e["code"] == -32602 and "missing" in e["message"], "missing param: -32602")
    e = c.error("jobs", {"limit": 10 ** 9})
    check(e and e["code"] == -32602 and e.get("data", {}).get("limit"), "limit out of range: -32602")
    e = c.error("jobs", {"limt": 3})
    check(e and e["code"] == -32602 and "unknown parameter 'limt'" in e["message"], "misspelt param named")
    e = c.error("status", {"job": 999999})
    check(e and e["code"] == -32001, "no such job: -32001")
    e = c.error("submit", {"spec": "gemm_small"})
    check(e and e["code"] == -32602 and "spec" in e["message"], "spec not an object: -32602")
    e = c.error("submit", {"spec": {"profile": "no_such_profile"}})
    check(e and e["code"] == -32602 and "no_such_profile" in e["message"], "unknown profile: -32602 names it")
    e = c.error("submit", {"spec": dict(SMALL_GEMM, presets=[{"BOGUS_KNOB": 4}])})
    check(e and e["code"] == -32602 and "BOGUS_KNOB" in e["message"], "unknown knob: -32602 names it")
    e = c.error("submit", {"spec": dict(SMALL_GEMM, budget=10 ** 7)})
    check(e and e["code"] == -32602 and "limit" in e["message"], "budget over the limit: -32602")
    empty = {"family": "gemm", "shapes": [{"M": 64, "N": 64, "K": 64}], "seed": 1,
             "space": {"knobs": {"TILE_N": [32, 64], "SIMDGROUPS_PER_TG": [1], "SG_M_TILES": [1],
                                 "SG_N_TILES": [1], "NUM_BUFFERS": [1], "TILE_K": [8]},
                       "constraints": ["TILE_N > 1000"]}}
    e = c.error("submit", {"spec": empty})
    check(e and e["code"] == -32602 and ("no valid" in e["message"] or "empty" in e["message"]),
          "empty space: -32602 (%s)" % (e and e["message"]))
    e = c.error("expand", {"spec": empty})
    check(e and e["code"] == -32602, "empty space in expand: -32602")
    e = c.error("submit", {"spec": dict(SMALL_GEMM, variant_timeout_s="soon")})
    check(e and e["code"] == -32602 and "variant_timeout_s" in e["message"], "bad variant_timeout_s: -32602")
    e = c.error("best", {"family": "nope", "shape": "M=1"})
    check(e and e["code"] == -32602 and "gemm" in e["message"], "unknown family in best lists the known")
    e = c.error("expand", {"spec": SMALL_GEMM, "device": "not a device"})
    check(e and e["code"] == -32602 and "backend:index" in e["message"], "bad device selector explained")

    # A line over 1 MiB: -32003, that connection closed, the daemon goes on.
    big = d.client()
    pad = "x" * (1024 * 1024 + 16)
    try:
        big.send_raw(('{"jsonrpc":"2.0","id":1,"method":"jobs","params":{"pad":"%s"}}\n' % pad).encode())
    except (BrokenPipeError, ConnectionResetError):
        pass
    m = big.read_msg()
    check(m and m["error"]["code"] == -32003 and "1 MiB" in m["error"]["message"], "line over 1 MiB: -32003")
    try:
        rest = big.read_line()
    except ConnectionResetError:
        rest = None
    check(rest is None, "the connection is closed after the -32003 reply")
    big.close()
    # Exactly at the limit is still read (and gets an ordinary answer).
    ok = d.client()
    body = '{"jsonrpc":"2.0","id":1,"method":"profiles","params":{},"pad":"%s"}'
    line = body % ("y" * (1024 * 1024 - len(body % "")))
    check(len(line) == 1024 * 1024, "test line is exactly 1 MiB")
    ok.send_raw((line + "\n").encode())
    m = ok.read_msg()
    check(m and "result" in m and m["result"]["profiles"], "a line of exactly 1 MiB is served")
    ok.close()

    # A client that disconnects in the middle of a watch.
    w = d.client()
    w.call("watch", {"job": job})
    w.close()

    # A hundred clients at once, each asking something.
    many = [d.client() for _ in range(100)]
    for i, x in enumerate(many):
        x.send_raw((json.dumps({"jsonrpc": "2.0", "id": i, "method": "status", "params": {"job": job}}) + "\n").encode())
    answers = [x.read_msg() for x in many]
    check(all(a and a.get("id") == i and a["result"]["id"] == job for i, a in enumerate(answers)),
          "100 clients at once all answered")
    # One more than --max-clients: told so and closed.
    extra = []
    for _ in range(MAX_CLIENTS - 100 - 1):
        extra.append(d.client())
    for x in extra:   # make sure these are accepted before the one over the limit
        x.call("profiles", {})
    over = d.client()
    m = over.read_msg()
    check(m and m["error"]["code"] == -32004 and "--max-clients" in m["error"]["message"],
          "more than --max-clients: -32004")
    check(over.read_line() is None, "the extra connection is closed")
    over.close()
    for x in many + extra:
        x.close()

    # After all that the daemon still serves, and the job completed whole.
    fin = c.watch(job)[-1]
    check(fin["state"] == "done" and fin["evaluated"] == fin["planned"], "the job survived every bad input")
    again = d.client()
    check(again.call("jobs", {})["jobs"][0]["id"] == job, "daemon still answers")
    again.close()
    c.close()
    check(d.terminate() == 0, "clean exit")
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq) FROM measurements WHERE job = ?", (job,))[0]
    check(n[0] == n[1] == fin["planned"], "every seq stored exactly once")
finish()
