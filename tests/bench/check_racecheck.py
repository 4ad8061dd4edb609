#!/usr/bin/env python3
"""benchmarks/transforms/racecheck.py's own logic, on the CPU: the verdict parsed from canned
compute-sanitizer output (a clean run, a race, a refused device, a missing tool, a worker that died,
no summary at all), the structural winners picked from records (per shape, the fastest verified
structural one; ALL: every one), and the one-variant spec, run through fairway-worker on PoCL with a
stand-in for compute-sanitizer that runs its command and prints a canned summary: the worker
accepts the spec, measures exactly the winner's variant, and main() prints one verdict line for it.
usage: check_racecheck.py racecheck.py FAIRWAY-WORKER bind_gemm.cl"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print('CHECK failed:', what, file=sys.stderr)


def main():
    path, worker, gemm = sys.argv[1:4]
    spec_ = importlib.util.spec_from_file_location('racecheck', path)
    rc = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(rc)

    clean = ('========= COMPUTE-SANITIZER\n========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)\n')
    race = ('========= COMPUTE-SANITIZER\n'
            '========= Error: Race reported between Write access at 0x1b0 in xf_gemm.cu:72:xf_cross\n'
            '=========     and Read access at 0x2c0 in xf_gemm.cu:66:xf_cross [64 hazards]\n'
            '========= RACECHECK SUMMARY: 1 hazard displayed (1 error, 0 warnings)\n')
    check(rc.parse_racecheck(clean, 0) == ('clean', '0 hazards'), 'clean')
    check(rc.parse_racecheck(race, 0) == ('RACE', '1 hazards (1 errors, 0 warnings)'), 'race: %s' % (rc.parse_racecheck(race, 0),))
    check(rc.parse_racecheck(race, 9)[0] == 'RACE', 'race with the error exit code')
    check(rc.parse_racecheck('========= RACECHECK SUMMARY: 2 hazards displayed (0 errors, 2 warnings)', 0)[0] == 'RACE',
          'warnings count as hazards')
    check(rc.parse_racecheck('========= Error: Device not supported\n', 1)[0] == 'unavailable', 'gVisor')
    check(rc.parse_racecheck('compute-sanitizer: command not found', 127)[0] == 'unavailable', 'missing')
    check(rc.parse_racecheck(clean, 4) == ('failed', 'no hazard, but the worker exited 4'), 'clean summary, worker died')
    check(rc.parse_racecheck('========= ERROR SUMMARY: 0 errors\n', 0) == ('clean', '0 errors'), 'error summary')
    check(rc.parse_racecheck('========= ERROR SUMMARY: 3 errors\n', 0)[0] == 'RACE', 'error summary, errors')
    check(rc.parse_racecheck('some output\nthe last line\n', 0) == ('unknown', 'the last line'), 'no summary')
    check(rc.parse_racecheck('', 139) == ('failed', 'exit 139'), 'crash')

    def rec(seq, shape, origin, status, med, **knobs):
        return {'seq': seq, 'shape_key': shape, 'shape': {'M': 8}, 'origin': origin, 'status': status,
                'stats': {'median_ns': med}, 'knobs': knobs}
    recs = [rec(0, 'a', 'grid', 'ok', 5, S=0), rec(1, 'a', 'structural', 'ok', 9, S=1),
            rec(2, 'a', 'structural', 'ok', 7, S=1, T=2), rec(3, 'a', 'structural', 'verify_failed', 1, S=1, T=3),
            rec(4, 'b', 'structural', 'ok', 3, S=1), rec(5, 'b', 'structural', 'ok', 3, S=1, T=4)]
    w = rc.pick_winners(recs)
    check([r['seq'] for r in w] == [2, 4], 'winners %s' % [r['seq'] for r in w])   # ties: the first measured
    check([r['seq'] for r in rc.pick_winners(recs, every=True)] == [2, 1, 4, 5], 'ALL')
    check(rc.pick_winners(recs[:1]) == [], 'no structural variant')
    # the interleaved re-timing's median decides where there is one
    fin = rc.finalists_of([{'finalists': [{'shape_key': 'a', 'variant_key': 'v1', 'stats': {'median_ns': 6}}]}])
    recs[1]['variant_key'] = 'v1'
    check([r['seq'] for r in rc.pick_winners(recs, fin=fin)] == [1, 4], 'finalist median')

    # The one-variant spec through the worker on PoCL, under a stand-in sanitizer.
    text = open(gemm).read()
    spec = {"shapes": [{"M": 40, "N": 48, "K": 20}, {"M": 16, "N": 16, "K": 8}],
            "space": {"knobs": {"TILE_N": [16], "SIMDGROUPS_PER_TG": [2], "SG_M_TILES": [1], "SG_N_TILES": [1],
                                "NUM_BUFFERS": [1], "TILE_K": [8, 4], "PF_L32": [0, 1]}},
            "strategy": "grid", "seed": 3, "warmup": 0, "iters": 3, "backend": "opencl",
            "source": {"text": text, "name": "bind_gemm.cl", "entry": "bind_gemm", "workload": "gemm"},
            "binds": {"TILE_N": "B_TILE_N", "TILE_K": "B_TILE_K", "SIMDGROUPS_PER_TG": "B_SIMDGROUPS",
                      "SG_M_TILES": "B_SG_M", "SG_N_TILES": "B_SG_N", "NUM_BUFFERS": "B_NBUF",
                      "PF_L32": {"transform": "async_prefetch_hint", "function": "bind_gemm", "lines": [32, 32]}}}
    d = tempfile.mkdtemp(prefix='fwrace-')
    sp = os.path.join(d, 'job.json')
    json.dump(spec, open(sp, 'w'))
    p = subprocess.run([worker, '--spec', sp], capture_output=True, text=True, timeout=300)
    if p.returncode == 3:
        print('SKIP: no OpenCL device:', p.stderr.strip())
        return 77
    check(p.returncode == 0, 'worker: %d %s' % (p.returncode, p.stderr[-400:]))
    recs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    recs = [r for r in recs if 'seq' in r and 'status' in r]
    check(len(recs) == 8, '%d records' % len(recs))
    rp = os.path.join(d, 'job.jsonl')
    with open(rp, 'w') as f:
        f.write('\n'.join(json.dumps(r) for r in recs) + '\n')
    winners = rc.pick_winners(recs)
    check(len(winners) == 2 and all(r['knobs']['PF_L32'] == 1 for r in winners), 'one winner per shape, site on')
    one = rc.one_variant_spec(spec, winners[0])
    check(one['shapes'] == [winners[0]['shape']] and one['iters'] == 1 and one['warmup'] == 0, 'narrowed')
    check(spec['iters'] == 3, 'the job spec is not changed')
    fake = os.path.join(d, 'fake-sanitizer')
    with open(fake, 'w') as f:
        f.write('#!/bin/sh\n# stand-in: drop the racecheck options, run the worker, print a clean summary\n'
                'shift 4\n"$@" > "$(dirname "$0")/one.jsonl" || exit $?\n'
                'echo "========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)"\n')
    os.chmod(fake, 0o755)
    env = dict(os.environ, SANITIZER=fake)
    p = subprocess.run([sys.executable, path, worker, d, '%s:%s' % (sp, rp)], capture_output=True, text=True,
                       env=env, timeout=300)
    check(p.returncode == 0, 'racecheck.py: %d %s' % (p.returncode, p.stderr[-400:]))
    lines = [l for l in p.stdout.splitlines() if l.startswith('job ')]
    check(len(lines) == 2 and all(' clean ' in l and 'PF_L32=1' in l for l in lines), 'verdict lines:\n' + p.stdout)
    check('racecheck: 2 checked, 2 clean, 0 RACE, 0 other' in p.stdout, p.stdout)
    ran = [json.loads(l) for l in open(os.path.join(d, 'one.jsonl')) if l.strip()]
    ran = [r for r in ran if 'seq' in r and 'status' in r]
    check(len(ran) == 1 and ran[0]['variant_key'] == winners[1]['variant_key'] and ran[0]['status'] == 'ok',
          'the last winner measured alone: %s' % [r.get('variant_key') for r in ran])
    print('racecheck parsing:', 'all checks passed' if not fails else '%d check(s) failed' % fails)
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
