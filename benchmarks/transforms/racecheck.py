#!/usr/bin/env python3
"""compute-sanitizer racecheck on structural winners (issue 13, docs/transforms.md).

usage: racecheck.py WORKER OUT SPEC.json:RECORDS.jsonl [...]   (on the GPU machine; ALL=1 checks
       every verified structural variant, not only the winners)

For each job (a spec and the records fairway-worker wrote for it): the structural winners are, per
shape, the fastest verified (status ok) variant whose origin is "structural" (a transform site
switched on), by the interleaved finalist re-timing's median where it was re-timed. Each winner is
run again alone under `compute-sanitizer --tool racecheck` (the job's
spec with that shape, every knob fixed to the winner's value, warmup 0, iters 1, no finalists), and
its verdict printed:
    clean        racecheck reported no hazard
    RACE         racecheck reported hazards (errors and warnings counted)
    unavailable  compute-sanitizer is missing or refused the device (gVisor: "Device not supported")
    failed       the worker under the sanitizer did not finish (its exit code)
    unknown      no summary line in the output (its last line shown)
racecheck sees shared-memory hazards only (the ones a simdgroup_barrier site can introduce); it does
not see global-memory races. The parsing (pick_winners, one_variant_spec, parse_racecheck) is tested
on canned output by tests/bench/check_racecheck.py.
"""
import json
import os
import re
import subprocess
import sys


def finalists_of(rows):
    """{(shape_key, variant_key): finalist entry} of a worker's output rows ({"finalists": [...]})."""
    return {(f['shape_key'], f['variant_key']): f for r in rows for f in r.get('finalists', [])}


def pick_winners(records, every=False, fin=None):
    """Per shape_key, the fastest ok structural record (every=True: all of them, fastest first), by
    the interleaved re-timing's median where the record was a finalist (fin), else its first pass."""
    best = {}
    for r in records:
        if r.get('status') != 'ok' or r.get('origin') != 'structural':
            continue
        f = (fin or {}).get((r['shape_key'], r.get('variant_key')))
        med = ((f or r).get('stats') or {}).get('median_ns')
        if med is None:
            continue
        best.setdefault(r['shape_key'], []).append((med, r.get('seq', 0), r))
    out = []
    for key in sorted(best):
        rows = sorted(best[key], key=lambda x: (x[0], x[1]))
        out += [x[2] for x in (rows if every else rows[:1])]
    return out


def one_variant_spec(spec, rec):
    """The job's spec narrowed to one variant: the record's shape, its knob values, one launch."""
    s = json.loads(json.dumps(spec))
    s['shapes'] = [rec['shape']]
    s['space'] = {'knobs': {k: [v] for k, v in sorted(rec['knobs'].items())}}
    s['strategy'] = 'grid'
    s['warmup'] = 0
    s['iters'] = 1
    s.pop('budget', None)
    opts = s.setdefault('options', {})
    opts['finalists'] = 0
    opts['early_stop'] = False
    return s


_SUMMARY = re.compile(r'RACECHECK SUMMARY:\s*(\d+)\s+hazards?\s+displayed\s*\((\d+)\s+errors?,\s*(\d+)\s+warnings?\)')
_ERRSUM = re.compile(r'ERROR SUMMARY:\s*(\d+)\s+errors?')


def parse_racecheck(text, rc):
    """(verdict, detail) from compute-sanitizer's output and exit code."""
    if rc == 127 or 'command not found' in text:
        return 'unavailable', 'compute-sanitizer not found'
    if 'Device not supported' in text:
        return 'unavailable', 'compute-sanitizer refused the device (Device not supported)'
    m = _SUMMARY.search(text)
    if m:
        hazards, errors, warnings = (int(x) for x in m.groups())
        if hazards == 0 and errors == 0 and warnings == 0:
            if rc not in (0, None):
                return 'failed', 'no hazard, but the worker exited %d' % rc
            return 'clean', '0 hazards'
        return 'RACE', '%d hazards (%d errors, %d warnings)' % (hazards, errors, warnings)
    m = _ERRSUM.search(text)
    if m:
        n = int(m.group(1))
        if n:
            return 'RACE', '%d errors (no racecheck summary)' % n
        if rc not in (0, None):
            return 'failed', 'no error, but the worker exited %d' % rc
        return 'clean', '0 errors'
    if rc not in (0, None):
        return 'failed', 'exit %d' % rc
    last = [l for l in text.splitlines() if l.strip()]
    return 'unknown', last[-1][:160] if last else 'no output'


def knobs_text(rec):
    return ','.join('%s=%s' % kv for kv in sorted(rec['knobs'].items()))


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    worker, out = argv[1], argv[2]
    every = os.environ.get('ALL') == '1'
    sanitizer = os.environ.get('SANITIZER', 'compute-sanitizer')
    verdicts = []
    for pair in argv[3:]:
        spec_path, rec_path = pair.split(':', 1)
        spec = json.load(open(spec_path))
        rows = [json.loads(l) for l in open(rec_path) if l.strip()]
        recs = [r for r in rows if 'seq' in r and 'status' in r]
        fin = finalists_of(rows)
        job = os.path.splitext(os.path.basename(spec_path))[0]
        winners = pick_winners(recs, every, fin)
        if not winners:
            print('%s: no verified structural variant, nothing to check' % job)
        for i, w in enumerate(winners):
            one = os.path.join(out, 'rc_%s_%d.json' % (job, i))
            json.dump(one_variant_spec(spec, w), open(one, 'w'))
            cmd = [sanitizer, '--tool', 'racecheck', '--racecheck-report', 'all', worker, '--spec', one]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=float(os.environ.get('RC_TIMEOUT', 300)))
                text, rc = p.stdout + p.stderr, p.returncode
            except FileNotFoundError:
                text, rc = 'compute-sanitizer: command not found', 127
            except subprocess.TimeoutExpired:
                text, rc = 'timed out', -9
            with open(os.path.join(out, 'rc_%s_%d.log' % (job, i)), 'w') as f:
                f.write(text)
            v, detail = parse_racecheck(text, rc)
            f = fin.get((w['shape_key'], w.get('variant_key')))
            med = (f or w)['stats']['median_ns'] / 1e3
            verdicts.append(v)
            print('%-10s %-20s %9.1f us  %-11s %s  [%s]' % (job, w['shape_key'], med, v, detail, knobs_text(w)))
    print('racecheck: %d checked, %d clean, %d RACE, %d other' % (
        len(verdicts), verdicts.count('clean'), verdicts.count('RACE'),
        len(verdicts) - verdicts.count('clean') - verdicts.count('RACE')))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
