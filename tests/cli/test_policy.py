#!/usr/bin/env python3
"""`fairway policy` end to end (issue 13). Usage: test_policy.py FAIRWAY FAIRWAYD

Tunes two small moe_swiglu jobs on PoCL through a private daemon (waited on through --ready-fd, no
sleeps): the moe_small profile's presets over three token counts (1 decode, 2 small and large, 8 small), and
a tuple-specialised decode variant (GATE_BITS=6) beside the generic one. Then checks
`fairway policy --json` against the daemon's own measurements: ranges cover every batch size, each
pick is the fastest generic candidate or a specialised one with p < 0.05, the hand-written policy's
candidates are the profile's options.policy configs, the speed-ups are their ratio; --against FILE
changes the hand-written side. Exit 77 = skipped.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile

SKIP = 77
FAIRWAY, FAIRWAYD = (os.path.abspath(a) for a in sys.argv[1:3])
LAYER = 'hidden=128,intermediate=128,experts=4,top_k=2,bits=[6,2,3]'
PRESETS = ['--profile', 'moe_small', '--shape', 'tokens=1,' + LAYER, '--shape', 'tokens=2,' + LAYER,
           '--shape', 'tokens=2,mode=large,' + LAYER, '--shape', 'tokens=8,' + LAYER, '--strategy', 'presets', '--warmup', '1', '--iters', '5',
           '--random-seed', '3']
SPECIAL = ['--family', 'moe_swiglu', '--shape', 'tokens=1,' + LAYER, '--knob', 'TILE_N=64',
           '--knob', 'SIMDGROUPS_PER_TG=4', '--knob', 'SG_M_TILES=1', '--knob', 'SG_N_TILES=1',
           '--knob', 'NUM_BUFFERS=2', '--knob', 'GATE_BITS=0,6', '--strategy', 'grid', '--budget', '0',
           '--warmup', '1', '--iters', '5', '--random-seed', '3']


def check(cond, what):
    if not cond:
        print('FAIL: ' + what)
        sys.exit(1)


def start_daemon(d, env):
    r, w = os.pipe()
    log = open(os.path.join(d, 'daemon.log'), 'ab')
    p = subprocess.Popen([FAIRWAYD, '--socket', os.path.join(d, 's.sock'), '--db', os.path.join(d, 'fw.db'),
                          '--ready-fd', str(w)], pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         env=env)
    os.close(w)
    log.close()
    data = b''
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    check(data.strip() != b'', 'the daemon exited before it was ready')
    return p


def knobs_key(k):
    return ','.join('%s=%d' % (n, k[n]) for n in sorted(k))


def check_policy(pol, jobs, status):
    check(pol['jobs'] == jobs, 'jobs %s' % pol['jobs'])
    check('Mann-Whitney' in pol['noise_rule'], 'noise rule named')
    check(len(pol['layers']) == 1, 'one layer: %s' % [l['layer'] for l in pol['layers']])
    lay = pol['layers'][0]
    check('tokens=' not in lay['layer'] and 'mode=' not in lay['layer'], 'layer key without tokens and mode')
    pts = lay['points']
    check([p['tokens'] for p in pts] == [1, 2, 8], 'points %s' % [p['tokens'] for p in pts])
    rg = lay['ranges']
    check(rg[0]['min_tokens'] == 1 and rg[-1]['max_tokens'] is None, 'ranges start at 1 and stay open')
    for a, b in zip(rg, rg[1:]):
        check(b['min_tokens'] == a['max_tokens'] + 1, 'ranges are contiguous: %s' % rg)
    hand = status['spec']['options']['policy']
    for p in pts:
        pk, fb = p['pick'], p['fallback']
        check(pk['median_ns'] <= fb['median_ns'], 'a pick slower than its fallback at %d' % p['tokens'])
        if p['specialised']:
            bs = p['best_specialised']
            check(bs['kept'] and bs['p'] < 0.05 and 'GATE_BITS=6' in pk['config'], 'a specialised pick: %s' % p)
        else:
            check(pk == fb, 'generic pick is the fallback')
        mode = 'decode' if p['tokens'] == 1 else 'small' if p['tokens'] <= 16 else 'base'
        h = p['hand']
        check(h is not None and h['mode'] == mode and h['config'] == knobs_key(hand[mode]['knobs']),
              'the hand-written candidate at %d: %s' % (p['tokens'], h))
        check(abs(p['speedup'] - h['median_ns'] / pk['median_ns']) < 1e-9, 'speed-up is the ratio of medians')
    return pts


def main():
    if not os.access(FAIRWAYD, os.X_OK):
        print('SKIP: fairwayd is not built yet')
        return SKIP
    d = tempfile.mkdtemp(prefix='fwpolicy-')
    env = dict(os.environ)
    env.pop('FAIRWAY_SOCKET', None)
    env.update(HOME=d, XDG_RUNTIME_DIR=os.path.join(d, 'run'), FAIRWAY_DB=os.path.join(d, 'fw.db'))
    sock = os.path.join(d, 's.sock')
    p = start_daemon(d, env)
    try:
        def fw(*args, rc=0):
            r = subprocess.run([FAIRWAY, '--socket', sock, '--no-start'] + list(args), capture_output=True,
                               text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
            check(r.returncode == rc, 'fairway %s: exit %d\n%s%s' % (' '.join(args), r.returncode, r.stdout, r.stderr))
            return r.stdout
        a = json.loads(fw('--json', 'tune', *PRESETS))['job']['id']
        b = json.loads(fw('--json', 'tune', *SPECIAL))['job']['id']
        status = json.loads(fw('--json', 'status', str(a)))
        pts = check_policy(json.loads(fw('--json', 'policy', str(a), str(b))), [a, b], status)
        text = fw('policy', str(a), str(b))
        check('speed-up' in text and 'ranges' in text, 'the text view: %s' % text)
        # --against: everything above 1 token is 'base' by its thresholds, which no shape measured
        ag = os.path.join(d, 'against.json')
        with open(ag, 'w') as f:
            json.dump({'thresholds': {'decode_max': 1, 'prefill4_max': 1, 'base_max': 100},
                       'policy': status['spec']['options']['policy']}, f)
        pol = json.loads(fw('--json', 'policy', str(a), '--against', ag))
        q = pol['layers'][0]['points']
        check(pol['against'] == ag and q[0]['hand'] is not None, 'against: decode measured')
        check(all(x['hand'] is None and x['speedup'] is None for x in q[1:]), 'against: base not measured')
        with open(ag, 'w') as f:
            f.write('[1]')
        fw('policy', str(a), '--against', ag, rc=2)
        fw('policy', rc=2)
        print('policy: %s' % ', '.join('%d tokens %.3fx' % (x['tokens'], x['speedup']) for x in pts))
        return 0
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


if __name__ == '__main__':
    sys.exit(main())
