#!/usr/bin/env python3
"""A stand-in for fairwayd that speaks docs/protocol.md with canned answers.

It lets the CLI tests check what is the CLI's own job (starting a daemon through --ready-fd, reading
notifications, rendering, exit codes) without GPU work or the real daemon. Jobs stay 'running' until
someone watches them; a watch then sends one progress notification per evaluation and a final one.
A spec with "seed": 13 ends 'failed'; with "seed": 99 it never gets past its first evaluation;
profile "bad" is refused with -32602.

Usage: fake_fairwayd.py --socket PATH --ready-fd N [--db FILE]
It exits by itself after 120 s without a client (a safety net if a test dies before stopping it).
"""
import json
import os
import signal
import socket
import sys
import threading

args = sys.argv[1:]
opts = {}
i = 0
while i < len(args):
    if args[i] in ('--socket', '--ready-fd', '--db'):
        opts[args[i]] = args[i + 1]
        i += 2
    else:
        print('fake_fairwayd: unknown argument', args[i], file=sys.stderr)
        sys.exit(2)

path = opts['--socket']
os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
srv.bind(path)
os.chmod(path, 0o600)
srv.listen(16)
srv.settimeout(120)
print('fake_fairwayd: listening on', path, 'pid', os.getpid(), flush=True)

lock = threading.Lock()
jobs = {}

RANKINGS = [
    {"rank": 1, "seq": 2, "shape_key": "K=64,M=64,N=64", "variant_key": "TILE_N=32", "knobs": {"TILE_N": 32},
     "origin": "random", "median_ns": 81234, "gbps": 12.5, "gflops": 410.25},
    {"rank": 2, "seq": 0, "shape_key": "K=64,M=64,N=64", "variant_key": "TILE_N=16", "knobs": {"TILE_N": 16},
     "origin": "preset", "median_ns": 95000, "gbps": 10.0, "gflops": 350.0},
]


def new_job(spec, parent=0):
    with lock:
        jid = len(jobs) + 1
        planned = int(spec.get('budget') or 4)
        jobs[jid] = {"id": jid, "state": "running", "family": spec.get('family', 'gemm'), "strategy":
                     spec.get('strategy', 'random'), "seed": spec.get('seed', 1), "budget": planned,
                     "planned": planned, "evaluated": 0, "parent": parent, "device": "%s:0" % spec.get('backend', 'opencl'),
                     "device_identity": "%s|fake|device" % spec.get('backend', 'opencl'),
                     "source_hash": "f00d" if spec.get('source') else None,
                     "spec": spec, "counts": {}, "error": None}
        return jid


class RpcError(Exception):
    def __init__(self, code, message):
        self.code, self.message = code, message


def job_of(params):
    j = params.get('job')
    if not isinstance(j, int) or j not in jobs:
        raise RpcError(-32001, 'no job %r: list jobs with `fairway jobs`' % (j,))
    return jobs[j]


def handle(method, params, send):
    if method == 'profiles':
        return {"profiles": [{"name": "fake_profile", "family": "gemm", "description": "canned", "shapes": 1}]}
    if method == 'devices':
        return {"devices": [{"backend": "opencl", "index": 0, "name": "fake cpu", "identity": "opencl|fake",
                             "limits": {"max_threads": 4096, "shared_bytes": 65536, "simd_width": 8,
                                        "compute_units": 2}}]}
    if method == 'submit':
        spec = params.get('spec')
        if not isinstance(spec, dict):
            raise RpcError(-32602, 'submit needs params.spec, a JSON object')
        if spec.get('profile') == 'bad':
            raise RpcError(-32602, "unknown profile 'bad' (known: fake_profile)")
        jid = new_job(spec)
        return {"job": jid, "planned": jobs[jid]['planned'], "state": "queued", "spec_hash": "0123456789abcdef"}
    if method == 'rerun':
        old = job_of(params)
        jid = new_job(old['spec'], parent=old['id'])
        return {"job": jid, "planned": jobs[jid]['planned'], "state": "queued", "parent": old['id']}
    if method == 'status':
        j = job_of(params)
        if j['state'] in ('queued', 'running'):
            j = dict(j, progress={"eta_s": 15.212, "eta_basis": {
                "variants_left": 6, "per_variant_s": 2.5, "finalist_candidates": 4, "finalist_launches": 53,
                "finalists_s": 0.212}})
        return j
    if method == 'cancel':
        j = job_of(params)
        if j['state'] in ('done', 'failed', 'cancelled'):
            raise RpcError(-32602, 'job %d already ended (%s)' % (j['id'], j['state']))
        j['state'] = 'cancelled'
        return {"job": j['id'], "state": "cancelled"}
    if method == 'jobs':
        return {"jobs": [dict(j, spec=None) for j in sorted(jobs.values(), key=lambda j: -j['id'])]}
    if method == 'rankings':
        j = job_of(params)
        rk = RANKINGS
        if j['spec'].get('backend') == 'cuda':   # another device ranks the other variant first
            rk = [dict(RANKINGS[1], rank=1), dict(RANKINGS[0], rank=2)]
        if params.get('limit') == 1:
            rk = rk[:1]
        return {"job": j['id'], "rankings": rk if j['state'] == 'done' else []}
    if method == 'best':
        shape = params.get('shape')
        if params.get('family') == 'gemm' and isinstance(shape, dict) and shape.get('M') == 64:
            return dict(RANKINGS[0], job=1, device="opencl|fake", macros=["TILE_N=32"])
        raise RpcError(-32002, 'nothing stored for this family and shape on this device: tune it first')
    if method == 'compare':
        job_of({"job": params.get('a')})
        job_of({"job": params.get('b')})
        return {"same_variants": True, "kendall_tau": 0.8, "common_verified": 4, "top5_overlap": 4, "top5_possible": 5,
                "median_ratio": {"min": 0.97, "median": 1.0, "max": 1.05}}
    if method == 'expand':
        spec = params.get('spec') or {}
        items = [{"seq": k, "shape_index": 0, "shape_key": "K=64,M=64,N=64", "variant_key": "TILE_N=%d" % (16 << k),
                  "origin": "preset"} for k in range(2)]
        if spec.get('strategy') != 'presets':
            items.append({"seq": 2, "shape_index": 0, "shape_key": "K=64,M=64,N=64", "variant_key": "TILE_N=64",
                          "origin": "random"})
        return {"spec": spec, "planned": len(items), "items": items}
    if method == 'watch':
        return ('watch', job_of(params))
    raise RpcError(-32601, 'unknown method %r' % method)


def serve(conn):
    f = conn.makefile('rwb')

    def send(obj):
        f.write((json.dumps(obj) + '\n').encode())
        f.flush()

    for line in f:
        try:
            req = json.loads(line)
        except ValueError:
            send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "not JSON"}})
            continue
        rid = req.get('id')
        try:
            res = handle(req.get('method'), req.get('params') or {}, send)
        except RpcError as e:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": e.code, "message": e.message}})
            continue
        if isinstance(res, tuple):
            j = res[1]
            send({"jsonrpc": "2.0", "id": rid, "result": {"job": j['id'], "watching": True}})
            if j['spec'].get('seed') == 99:
                # a job that never moves past its first evaluation: for interrupting a follower
                send({"jsonrpc": "2.0", "method": "progress", "params": {
                    "job": j['id'], "state": "running", "evaluated": 1, "planned": j['planned'], "best": None,
                    "failures": {}, "elapsed_s": 0.1, "eta_s": None, "final": False}})
                continue
            failed = j['spec'].get('seed') == 13
            for k in range(1, j['planned'] + 1):
                j['evaluated'] = k
                send({"jsonrpc": "2.0", "method": "progress", "params": {
                    "job": j['id'], "state": "running", "evaluated": k, "planned": j['planned'],
                    "best": {"variant_key": "TILE_N=32", "shape_key": "K=64,M=64,N=64", "median_ns": 81234},
                    "failures": {"compile_error": 1}, "elapsed_s": 0.5 * k, "eta_s": 0.5 * (j['planned'] - k),
                    "final": False}})
            j['state'] = 'failed' if failed else 'done'
            j['counts'] = {"ok": j['planned'] - 1, "compile_error": 1}
            if failed:
                j['error'] = 'the worker could not open device 0'
            send({"jsonrpc": "2.0", "method": "progress", "params": {
                "job": j['id'], "state": j['state'], "evaluated": j['planned'], "planned": j['planned'],
                "best": None, "failures": {"compile_error": 1}, "elapsed_s": 2.0, "eta_s": 0, "final": True}})
            continue
        send({"jsonrpc": "2.0", "id": rid, "result": res})
    conn.close()


if '--ready-fd' in opts:
    fd = int(opts['--ready-fd'])
    os.write(fd, (path + '\n').encode())
    os.close(fd)

signal.signal(signal.SIGTERM, lambda *a: (os.unlink(path), os._exit(0)))
while True:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        os.unlink(path)
        sys.exit(0)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
