#!/usr/bin/env python3
"""`fairway policy` end to end (issue 13). Usage: test_policy.py FAIRWAY FAIRWAYD

Tunes two small moe_swiglu jobs on PoCL through a private daemon (waited on through --ready-fd, no
sleeps): the moe_small profile's presets over three token counts (1 decode, 2 small and large, 8 small), and
a tuple-specialised decode variant (GATE_BITS=6) beside the generic one. Then checks
`fairway policy --json` against the daemon's own measurements: ranges cover every batch size, each
pick is the fastest generic candidate or a specialised one with p < 0.05, the hand-written policy's
candidates are the profile's options.policy configs, the speed-ups are their ratio; --against FILE
changes the hand-written side. Then reads `export --format metal-marlin-selection` (available_kernels
from a Metal file written here) and `--format metal-marlin-config` back against the schema of
docs/cli.md ("export"), which check_selection / check_config spell out. Exit 77 = skipped.
"""
import hashlib
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
        check(0 <= p['speedup_p'] <= 1 and (p['speedup_p'] == 1) == (h == pk), 'speed-up p: %s' % p)
    return pts


METAL = """#include <metal_stdlib>
using namespace metal;
// kernel void commented_out(device float *x) {}
kernel void moe_trellis_swiglu_decode(device float *x [[buffer(0)]], uint t [[thread_position_in_grid]]) { x[t] = 0; }
kernel void moe_trellis_swiglu_prefill4(device float *x [[buffer(0)]]);
[[kernel]] void attr_style(device float *x [[buffer(0)]]) {}
kernel void
    moe_trellis_swiglu_large_batch(device float *x [[buffer(0)]]) { /* { braces } */ }
kernel void moe_count_tokens_per_expert(device uint *c [[buffer(0)]]) {}
"""
METAL_KERNELS = ['moe_trellis_swiglu_decode', 'attr_style', 'moe_trellis_swiglu_large_batch', 'moe_count_tokens_per_expert']
ENTRIES = {'decode': 'moe_trellis_swiglu_decode', 'small': 'moe_trellis_swiglu_prefill4', 'base': 'moe_trellis_swiglu',
           'large': 'moe_trellis_swiglu_large_batch', 'grouped': 'moe_trellis_swiglu_grouped'}


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_selection(sel, pol, text):
    """The kernel-selection schema: kernel_selection_m4_max.json's keys plus policy and inventory."""
    for k, t in (('benchmark', str), ('device', str), ('layer', str), ('batch_sizes', list), ('kernel_variants', list),
                 ('results', dict), ('recommendations', dict), ('policy', list), ('tile_sizes', dict),
                 ('specialized_decode_kernels', dict), ('specialized_kernels', list), ('available_kernels', list),
                 ('macro_kernels', list), ('missing_kernels', list), ('verification', dict)):
        check(isinstance(sel.get(k), t), 'selection.%s is a %s: %r' % (k, t.__name__, sel.get(k)))
    pts = pol['layers'][0]['points']
    check(sel['batch_sizes'] == [p['tokens'] for p in pts], 'batch_sizes are the policy points')
    check(sorted(sel['results']) == sorted(sel['recommendations']) == sorted(str(b) for b in sel['batch_sizes']),
          'results and recommendations per batch size')
    for b, row in sel['results'].items():
        for kname, st in row.items():
            check(kname in sel['kernel_variants'] or kname.count('_') > ENTRIES['base'].count('_'),
                  'result kernel %s is listed' % kname)
            check(all(is_num(st[k]) for k in ('mean_ms', 'min_ms', 'max_ms', 'std_ms')), 'result stats of %s' % kname)
            check(st['min_ms'] <= st['mean_ms'] <= st['max_ms'], 'min <= mean <= max for %s at %s' % (kname, b))
    for p in pts:
        r = sel['recommendations'][str(p['tokens'])]
        check(r['optimal'] in sel['results'][str(p['tokens'])], 'optimal at %d has a result' % p['tokens'])
        check(abs(r['optimal_ms'] - p['pick']['median_ns'] / 1e6) < 1e-9, 'optimal_ms is the pick')
        check(isinstance(r['tile_n'], int) and r['tile_n'] > 0, 'tile_n')
        check(r['current'] == ENTRIES[p['hand']['mode']], 'current is the hand-written kernel')
    for a, b in zip(sel['policy'], sel['policy'][1:]):
        check(b['min_batch'] == a['max_batch'] + 1, 'policy ranges are contiguous')
    check(sel['policy'][0]['min_batch'] == 1 and sel['policy'][-1]['max_batch'] is None, 'policy covers 1..')
    th = sel['thresholds']
    check(th is None or all(isinstance(th[k], int) for k in ('decode_max', 'prefill4_max', 'base_max',
                                                          'large_batch_min')), 'thresholds: %s' % th)
    check(sel['available_kernels'] == METAL_KERNELS, 'available_kernels: %s' % sel['available_kernels'])
    used = {r['optimal'] for r in sel['recommendations'].values()} | {r['kernel'] for r in sel['policy']}
    check(set(sel['missing_kernels']) | set(sel['macro_kernels']) == used - set(METAL_KERNELS),
          'missing: %s + %s vs %s' % (sel['missing_kernels'], sel['macro_kernels'], used))
    check(all(k in text for k in sel['macro_kernels']), 'macro kernels are named in the text')
    v = sel['verification']
    check(isinstance(v['passed'], bool) and isinstance(v['issues'], list) and v['passed'] == (not v['issues']),
          'verification: %s' % v)
    check(v['passed'] == (not sel['missing_kernels'] and th is not None), 'verification follows the inventory')


def check_config(cfg, layer_bits):
    key = cfg['cache_key']
    check(key['version'] == 2 and all(isinstance(key[k], int) for k in ('hidden_dim', 'intermediate_dim',
                                                                       'num_experts')), 'cache_key: %s' % key)
    check((key['hidden_dim'], key['intermediate_dim'], key['num_experts']) == (128, 128, 4), 'cache_key dims')
    check(key['bits'] == layer_bits, 'cache_key bits: %s' % key['bits'])
    # the cache file name: SHA-256 (Python's own hashlib here, fairway's util/fw_sha256.c there) of the
    # key as json.dumps(key, sort_keys=True) writes it
    text = json.dumps(key, sort_keys=True)
    check(cfg['fairway']['cache_key_text'] == text, 'cache_key_text: %s' % cfg['fairway']['cache_key_text'])
    check(cfg['fairway']['cache_file'] == 'kernel_tuning_%s.json' % hashlib.sha256(text.encode()).hexdigest(),
          'cache_file: %s' % cfg['fairway']['cache_file'])
    opt = cfg['kernel_config']['optimal']
    check(isinstance(opt['use_fp32_acc'], bool) and isinstance(opt['policy'], list) and opt['policy'],
          'kernel_config.optimal: %s' % opt)


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
        alone = json.loads(fw('--json', 'policy', str(b)))   # --family job: no options.policy to compare with
        check(alone['against'].startswith('none') and all(x['hand'] is None for x in alone['layers'][0]['points']),
              'no hand-written policy: %s' % alone['against'])
        # --same-body: moe_swiglu's small and large run one body; at 2 tokens both were measured, so their
        # evaluations of one config pool into one 'small' candidate and no boundary can fall between them
        two = [x for x in json.loads(fw('--json', 'policy', str(a)))['layers'][0]['points'] if x['tokens'] == 2][0]
        check({'small', 'large'} <= set(two['by_mode']), 'both modes measured at 2 tokens: %s' % list(two['by_mode']))
        same = json.loads(fw('--json', 'policy', str(a), '--same-body', 'small,base,large'))
        check(same['same_body'] == ['small', 'base', 'large'], 'same_body %s' % same['same_body'])
        lay = same['layers'][0]
        two = [x for x in lay['points'] if x['tokens'] == 2][0]
        check(list(two['by_mode']) == ['small'] and two['pick']['mode'] == 'small', 'pooled as small: %s' % two)
        check(two['pick'].get('pooled') == 2 and two['pick']['samples'] > two['by_mode']['small']['samples'] / 2,
              'the pick pools two evaluations: %s' % two['pick'])
        check(all(r['mode'] not in ('base', 'large') for r in lay['ranges']), 'ranges %s' % lay['ranges'])
        check(two['hand'] is not None and two['speedup'] is not None, 'the hand-written small config is still found')
        check(json.loads(fw('--json', 'policy', str(a)))['same_body'] == [], 'no pooling by default')
        fw('policy', str(a), '--same-body', 'small', rc=2)
        fw('policy', str(a), '--same-body', 'small,huge', rc=2)
        sel = json.loads(fw('export', str(a), '--format', 'metal-marlin-selection', '--same-body', 'small,large'))
        check(all(r['kernel'] != 'moe_trellis_swiglu_large_batch' for r in sel['policy']), 'export pooled: %s' % sel['policy'])
        fw('export', str(a), '--format', 'csv', '--same-body', 'small,large', rc=2)
        mf = os.path.join(d, 'kernels.metal')
        with open(mf, 'w') as f:
            f.write(METAL)
        pol = json.loads(fw('--json', 'policy', str(a), str(b)))
        out = os.path.join(d, 'sel.json')
        fw('export', str(a), str(b), '--format', 'metal-marlin-selection', '--source', mf, '-o', out)
        with open(out) as f:
            check_selection(json.load(f), pol, METAL)
        check_config(json.loads(fw('export', str(a), '--format', 'metal-marlin-config')), [2, 3, 6])
        own = json.loads(fw('export', str(a), '--format', 'metal-marlin-selection'))
        check('moe_trellis_swiglu_decode' in own['available_kernels'], 'the family source inventory')
        fw('export', str(a), '--format', 'csv', '--source', mf, rc=2)
        print('policy: %s' % ', '.join('%d tokens %.3fx' % (x['tokens'], x['speedup']) for x in pts))
        return 0
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


if __name__ == '__main__':
    sys.exit(main())
