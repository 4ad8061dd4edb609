"""Memory bounds (issue 15 item 3): the replies that clients have not read are bounded for all
clients together (--reply-queue-max). Past the bound the client holding the most is dropped first,
with a line in the log, and the others keep their replies; the plan of a job is bounded too, and so
is the number of unfinished jobs (--max-jobs).

The sizes are chosen with wide margins around what the kernel's socket buffers absorb (about
0.2 MiB a connection), so the outcome does not depend on them: A holds one reply of about 7 MiB, B
then asks for three of about 2 MiB; the limit of 12 MiB is crossed at B's third (about 13 MiB, and
about 11 before it), when A still holds more than B."""
import json
import select
import socket

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

MIB = 1 << 20
# 6 knobs x 6 values, no constraints: 46656 points in grid order, so expand's limit sets the size.
SPEC = {"family": "gemm", "shapes": [{"M": 64, "N": 64, "K": 64}], "strategy": "grid", "budget": 0, "seed": 1,
        "space": {"knobs": {k: [1, 2, 3, 4, 5, 6] for k in
                            ("TILE_N", "SIMDGROUPS_PER_TG", "SG_M_TILES", "SG_N_TILES", "NUM_BUFFERS", "TILE_K")}}}


def expand_line(rid, limit):
    return (json.dumps({"jsonrpc": "2.0", "id": rid, "method": "expand",
                        "params": {"spec": SPEC, "limit": limit}}) + "\n").encode()


def raw(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(240)
    s.connect(path)
    return s


def wait_readable(s):
    """The daemon has taken the request and started writing its reply (the rest is queued)."""
    r, _, _ = select.select([s], [], [], 240)
    return bool(r)


def read_all(s):
    data = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            return data
        data += chunk


d = Daemon(args=["--reply-queue-max", "12"])
with guarded(d):
    d.start()
    c = d.client()
    # bytes per item, from two replies that are read (this also starts the worker: expand needs the device)
    s1 = len(json.dumps(c.call("expand", {"spec": SPEC, "limit": 1000}), separators=(",", ":")))
    s2 = len(json.dumps(c.call("expand", {"spec": SPEC, "limit": 3000}), separators=(",", ":")))
    per_item = (s2 - s1) / 2000.0
    base = s1 - 1000 * per_item
    n_a = int((7 * MIB - base) / per_item)
    n_b = int((2 * MIB - base) / per_item)
    check(0 < n_b < n_a <= 46656, "the space holds the replies' items (%d and %d, %.0f bytes each)"
          % (n_a, n_b, per_item))

    a = raw(d.socket)
    a.sendall(expand_line(1, n_a))
    check(wait_readable(a), "A's reply of about 7 MiB is being written")
    b = raw(d.socket)
    for i in range(3):
        b.sendall(expand_line(10 + i, n_b))
        if i == 0:
            check(wait_readable(b), "B's first reply is being written")
    # B's expands are planned in threads (docs/protocol.md): its last reply is queued some loop
    # iterations later, so wait for the drop through round trips before A reads anything
    log = d.read_log()
    while "dropping the client" not in log:
        c.call("jobs", {"limit": 1})
        log = d.read_log()
    got_a = read_all(a)
    check(len(got_a) < 6 * MIB, "A, holding the most, was disconnected before its reply was written "
          "(%d bytes came)" % len(got_a))
    # B keeps every reply: three whole lines, each a result
    buf = b""
    lines = []
    while len(lines) < 3:
        chunk = b.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf and len(lines) < 3:
            line, buf = buf.split(b"\n", 1)
            lines.append(json.loads(line))
    # (in any order: each expand is planned in a thread of its own, docs/protocol.md)
    check(sorted(m.get("id") for m in lines) == [10, 11, 12] and all(len(m["result"]["items"]) == n_b for m in lines),
          "B, reading, got its three replies whole")
    log = d.read_log()
    check("dropping the client holding the most unread replies" in log and "--reply-queue-max" in log,
          "the log says which client was dropped and why")
    check(log.count("dropping the client") == 1, "only A was dropped")
    check(c.call("jobs", {"limit": 1})["jobs"] == [], "the daemon goes on answering")

    # the plan of one job is bounded: 5 shapes x 46656 (grid) is over 200000 evaluations
    big = dict(SPEC, shapes=[{"M": 64 + 32 * i, "N": 64, "K": 64} for i in range(5)])
    err = c.error("submit", {"spec": big})
    check(err and err["code"] == -32602 and "more than 200000 evaluations" in err["message"],
          "a submit whose plan is too big is refused with a sentence: %s" % (err,))
    check(c.call("jobs", {"limit": 1})["jobs"] == [], "and stores no job")
    a.close()
    b.close()
    c.close()
    check(d.terminate() == 0, "clean exit")
# Unfinished jobs are held in memory: past --max-jobs a new one is refused; a cancel makes room.
d = Daemon(args=["--max-jobs", "2"])
with guarded(d):
    d.start()
    c = d.client()
    j1 = c.call("submit", {"spec": SMALL_GEMM})["job"]
    j2 = c.call("submit", {"spec": SMALL_GEMM})["job"]
    err = c.error("submit", {"spec": SMALL_GEMM})
    check(err and err["code"] == -32602 and "already holds 2 unfinished jobs" in err["message"],
          "a third unfinished job is refused with a sentence: %s" % (err,))
    err = c.error("rerun", {"job": j1})
    check(err and "--max-jobs 2" in err["message"], "so is a rerun: %s" % (err,))
    check(len(c.call("jobs", {})["jobs"]) == 2, "and nothing was stored for them")
    c.call("cancel", {"job": j2})
    j3 = c.call("submit", {"spec": SMALL_GEMM})
    check(j3["state"] in ("queued", "running"), "once one is cancelled a submit goes through")
    err = c.error("resume", {"job": j2})
    check(err and "--max-jobs 2" in err["message"], "and a resume past the limit is refused: %s" % (err,))
    for j in (j1, j3["job"]):
        c.call("cancel", {"job": j})
    c.close()
    check(d.terminate() == 0, "clean exit")
finish()
