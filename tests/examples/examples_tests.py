#!/usr/bin/env python3
"""examples/ tuned end to end (suite 'examples'): `fairway tune --spec examples/NAME/spec.json` through
the real fairwayd on the OpenCL device (PoCL in CI), then the same spec with a planted wrong variant
(a knob value that breaks the kernel) that must fail verification, and specs the resolver must refuse
with a sentence naming the argument. Usage: examples_tests.py CASE FAIRWAY FAIRWAYD EXAMPLES_DIR

Each case has its own temp folder, socket and store; the daemon is waited on through --ready-fd.
Exit 77 = skipped.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

SKIP = 77
CASE, FAIRWAY, FAIRWAYD, EXAMPLES = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


class Fail(Exception):
    pass


def check(cond, what, out=None):
    if not cond:
        raise Fail(what + ('' if out is None else '\n--- output ---\n' + str(out)[-6000:]))


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='fwex-')
        self.sock = os.path.join(self.dir, 's.sock')
        home = os.path.join(self.dir, 'home')
        os.makedirs(home)
        self.env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=os.path.join(self.dir, 'run'))
        for k in ('FAIRWAY_SOCKET', 'FAIRWAY_DAEMON', 'FAIRWAY_DB'):
            self.env.pop(k, None)
        self.proc = None

    def start(self):
        r, w = os.pipe()
        log = open(os.path.join(self.dir, 'daemon.log'), 'ab')
        self.proc = subprocess.Popen([FAIRWAYD, '--socket', self.sock, '--db', os.path.join(self.dir, 'fw.db'),
                                      '--ready-fd', str(w)], pass_fds=(w,), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, env=self.env)
        os.close(w)
        log.close()
        data = b''
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
        os.close(r)
        check(data.strip() != b'', 'the daemon exited before it was ready', self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, 'daemon.log')) as f:
                return f.read()[-4000:]
        except OSError:
            return '(no log)'

    def fw(self, *args):
        return subprocess.run([FAIRWAY, '--socket', self.sock, '--no-start', '--json'] + list(args),
                              capture_output=True, text=True, env=self.env, timeout=800, stdin=subprocess.DEVNULL)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def measured(e, job, status):
    """(variant key, error) of a job's measurements with this status, read from the store."""
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(e.dir, 'fw.db'), uri=True)
    try:
        return db.execute('SELECT v.key, m.error FROM measurements m JOIN variants v ON v.id = m.variant_id '
                          'WHERE m.job = ? AND m.status = ?', (job, status)).fetchall()
    finally:
        db.close()


def tune(e, spec_path):
    p = e.fw('tune', '--spec', spec_path)
    check(p.returncode == 0, 'tune --spec %s: exit %d' % (spec_path, p.returncode), p.stdout + p.stderr + e.log())
    o = json.loads(p.stdout)
    check(o['job']['state'] == 'done', 'the job did not end done', o['job'])
    return o


# name -> (source file, {knob value that breaks it}, text to replace, replacement, expected error)
PLANTS = {
    'vadd': ('vadd.cl', 'WPT', 2, 'if (i < n)\n            c[i]', 'if (i <= n - (WPT != 2))\n            c[i]',
             'wrote past the end of c'),
    'transpose': ('transpose.cl', 'PAD', 0, '= tile[lx][ly];', '= tile[PAD ? lx : ly][PAD ? ly : lx];',
                  'output differs from the reference'),
    'reduction': ('reduction.cl', 'BLOCK', 128, 'for (int w = BLOCK / 2;', 'for (int w = BLOCK / (BLOCK == 128 ? 4 : 2);',
                  'output differs from the reference'),
    'reduction_local': ('reduction_local.cl', 'BLOCK', 128, 'for (int w = BLOCK / 2;',
                        'for (int w = BLOCK / (BLOCK == 128 ? 4 : 2);', 'output differs from the reference'),
    'conv2d': ('conv2d.cl', 'PX', 2, 'if (x < W && y < H) {', 'if (x < W - (PX == 2) && y < H) {', 'unwritten'),
    'stencil2d': ('stencil2d.cl', 'BY', 8, 'cell(t, p, H, W, x, y, rx, ry, step);',
                  'cell(t, p, H, W, x, y + (BY == 8 && y + 1 < H), rx, ry, step);',
                  'output differs from the reference'),
}


def tune_example(e, name):
    d = os.path.join(EXAMPLES, name)
    o = tune(e, os.path.join(d, 'spec.json'))
    rk = o['rankings']
    check(len(rk) >= 1 and all(r.get('status', 'ok') == 'ok' for r in rk), 'no ok variant ranked', o)
    src, knob, bad, old, new, why = PLANTS[name]
    # the planted wrong variant: the same spec on a copy of the source where one knob value is wrong
    tmp = os.path.join(e.dir, name)
    os.makedirs(tmp)
    text = open(os.path.join(d, src)).read()
    check(text.count(old) >= 1, 'the planted bug does not apply to %s' % src)
    with open(os.path.join(tmp, src), 'w') as f:
        f.write(text.replace(old, new, 1))
    spec = json.load(open(os.path.join(d, 'spec.json')))
    with open(os.path.join(tmp, 'spec.json'), 'w') as f:
        json.dump(spec, f)
    o = tune(e, os.path.join(tmp, 'spec.json'))
    check(o['job']['counts']['verify_failed'] >= 1, 'the planted wrong variant passed', o['job'])
    failed = measured(e, o['job']['id'], 'verify_failed')
    check(failed and all(('%s=%d' % (knob, bad)) in k.split(',') for k, _ in failed),
          'a variant without %s=%d failed verification' % (knob, bad), failed)
    check(all(why in err for _, err in failed), 'verify_failed without "%s"' % why, failed)
    check(o['job']['counts']['ok'] >= 1, 'the good variants of the planted job failed', o['job'])


def case_vadd(e):
    e.start()
    tune_example(e, 'vadd')


def case_transpose(e):
    e.start()
    tune_example(e, 'transpose')


def case_reduction(e):
    e.start()
    tune_example(e, 'reduction')


def case_reduction_local(e):
    """The reduction with its scratch as a local-memory argument sized per variant: every record's
    geometry says the bytes the host gave it (4 * BLOCK)."""
    e.start()
    tune_example(e, 'reduction_local')
    o = tune(e, os.path.join(EXAMPLES, 'reduction_local', 'spec.json'))
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(e.dir, 'fw.db'), uri=True)
    rows = db.execute('SELECT v.key, m.record FROM measurements m JOIN variants v ON v.id = m.variant_id '
                      'WHERE m.job = ?', (o['job']['id'],)).fetchall()
    db.close()
    check(rows, 'no measurements stored', o['job'])
    for key, rec in rows:
        block = int(dict(kv.split('=') for kv in key.split(','))['BLOCK'])
        geo = json.loads(rec).get('geometry', {})
        check(geo.get('local_bytes') == [4 * block], 'variant %s: local_bytes %s, not [%d]'
              % (key, geo.get('local_bytes'), 4 * block), rec)


def case_conv2d(e):
    e.start()
    tune_example(e, 'conv2d')


def case_stencil2d(e):
    e.start()
    tune_example(e, 'stencil2d')


SIGN_CL = '''#ifndef BLOCK
#define BLOCK 64
#endif
__kernel __attribute__((reqd_work_group_size(BLOCK, 1, 1)))
void sgn(__global const int *a, __global int *c, const int n)
{
    const int i = (int)get_global_id(0);
    if (i < n)
        c[i] = (a[i] > 0) - (a[i] < 0);
}
__kernel void sgn_ref(__global const int *a, __global int *c, const int n)
{
    const int i = (int)get_global_id(0);
    if (i < n)
        c[i] = a[i] > 0 ? 1 : a[i] < 0 ? -1 : 0;
}
'''


def case_intout(e):
    """An i32 output that legitimately holds -1 (all 0xFF bytes, the poison's) verifies; a variant that
    leaves one element unwritten still fails as unwritten (the second launch on zeroed bytes)."""
    e.start()
    for label, text, ok, failed in [('good', SIGN_CL, 2, 0),
                                    ('hole', SIGN_CL.replace('    if (i < n)\n        c[i] = (a[i]',
                                                             '    if (i < n - (BLOCK == 64))\n        c[i] = (a[i]', 1),
                                     1, 1)]:
        check(label == 'good' or text != SIGN_CL, 'the planted hole does not apply')
        src = os.path.join(e.dir, 'sgn_%s.cl' % label)
        with open(src, 'w') as f:
            f.write(text)
        spec = {'source': {'file': src, 'entry': 'sgn'}, 'shapes': [{'n': 4099}],
                'space': {'knobs': {'BLOCK': [32, 64]}},
                'workload': {'args': [{'name': 'a', 'type': 'i32', 'count': 'n', 'init': {'uniform': [-3, 3]}},
                                      {'name': 'c', 'type': 'i32', 'count': 'n', 'dir': 'out'},
                                      {'name': 'n', 'scalar': 'i32', 'value': 'n'}],
                             'grid': ['cdiv(n, BLOCK)'], 'block': ['BLOCK'], 'bytes': '8 * n',
                             'reference': {'entry': 'sgn_ref', 'grid': ['cdiv(n, 64)'], 'block': [64]}},
                'strategy': 'grid', 'warmup': 1, 'iters': 2}
        path = os.path.join(e.dir, 'sgn_%s.json' % label)
        with open(path, 'w') as f:
            json.dump(spec, f)
        o = tune(e, path)
        counts = o['job']['counts']
        check(counts['ok'] == ok and counts['verify_failed'] == failed, '%s: counts %s' % (label, counts), o['job'])
        if failed:
            errs = measured(e, o['job']['id'], 'verify_failed')
            check(len(errs) == 1 and 'BLOCK=64' in errs[0][0] and '1 of 4099 elements unwritten' in errs[0][1],
                  'the hole is not reported as one unwritten element', errs)


SD_CL = '''#ifndef BLOCK
#define BLOCK 64
#endif
__kernel __attribute__((reqd_work_group_size(BLOCK, 1, 1)))
void sd(__global const float *a, __global const float *b, __global float *s, __global int *d, const int n)
{
    const int i = (int)get_global_id(0);
    if (i < n) {
        s[i] = a[i] + b[i];
        d[i] = (int)(a[i] - b[i]);
    }
}
__kernel void sd_ref(__global const float *a, __global const float *b, __global float *s, __global int *d,
                     const int n)
{
    const int i = (int)get_global_id(0);
    if (i < n) {
        s[i] = a[i] + b[i];
        d[i] = (int)a[i] - (int)b[i];
    }
}
'''


def sd_spec(src, shapes, expected=None):
    w = {'args': [{'name': 'a', 'type': 'f32', 'count': 'n', 'init': 'iota'},
                  {'name': 'b', 'type': 'f32', 'count': 'n', 'init': {'constant': 2}},
                  {'name': 's', 'type': 'f32', 'count': 'n', 'dir': 'out'},
                  {'name': 'd', 'type': 'i32', 'count': 'n', 'dir': 'out'},
                  {'name': 'n', 'scalar': 'i32', 'value': 'n'}],
         'grid': ['cdiv(n, BLOCK)'], 'block': ['BLOCK'], 'bytes': '16 * n',
         'reference': {'entry': 'sd_ref', 'grid': ['cdiv(n, 64)'], 'block': [64]}}
    if expected:
        w.pop('reference')
        w['args'][2]['expected'] = expected[0]
        w['args'][3]['expected'] = expected[1]
    return {'source': {'file': src, 'entry': 'sd'}, 'shapes': shapes, 'space': {'knobs': {'BLOCK': [32, 64]}},
            'workload': w, 'strategy': 'grid', 'warmup': 1, 'iters': 2}


def case_outputs(e):
    """Two verified outputs, each against the reference kernel (a planted error in the second is caught
    and named); then the same two from expected files named by the shape (raw little-endian, relative to
    the spec's folder), with no reference kernel; a file of the wrong size is refused before the job."""
    e.start()
    import struct
    src = os.path.join(e.dir, 'sd.cl')
    bad = os.path.join(e.dir, 'sd_bad.cl')
    with open(src, 'w') as f:
        f.write(SD_CL)
    planted = SD_CL.replace('d[i] = (int)(a[i] - b[i]);', 'd[i] = (int)(a[i] - b[i]) + (BLOCK == 64 && i == 5);', 1)
    check(planted != SD_CL, 'the planted error does not apply')
    with open(bad, 'w') as f:
        f.write(planted)
    shapes = [{'n': 1000}, {'n': 1500}]
    for label, path, ok, failed in [('good', src, 4, 0), ('planted', bad, 2, 2)]:
        spec = os.path.join(e.dir, 'sd_%s.json' % label)
        with open(spec, 'w') as f:
            json.dump(sd_spec(path, shapes), f)
        o = tune(e, spec)
        counts = o['job']['counts']
        check(counts['ok'] == ok and counts['verify_failed'] == failed, '%s: counts %s' % (label, counts), o['job'])
        if failed:
            errs = measured(e, o['job']['id'], 'verify_failed')
            check(all('BLOCK=64' in k and 'output d differs from the reference' in err for k, err in errs),
                  'the planted error in d is not named', errs)
    # expected files: s = i + 2, d = i - 2 (a = iota, b = 2), one pair per shape
    os.makedirs(os.path.join(e.dir, 'exp'))
    for sh in shapes:
        n = sh['n']
        with open(os.path.join(e.dir, 'exp', 's_%d.bin' % n), 'wb') as f:
            f.write(struct.pack('<%df' % n, *[i + 2.0 for i in range(n)]))
        with open(os.path.join(e.dir, 'exp', 'd_%d.bin' % n), 'wb') as f:
            f.write(struct.pack('<%di' % n, *[i - 2 for i in range(n)]))
    spec = os.path.join(e.dir, 'sd_expected.json')
    with open(spec, 'w') as f:
        json.dump(sd_spec(src, shapes, ('exp/s_{n}.bin', 'exp/d_{n}.bin')), f)
    o = tune(e, spec)
    check(o['job']['counts']['ok'] == 4, 'the expected files did not verify', o['job'])
    with open(spec, 'w') as f:
        json.dump(sd_spec(bad, shapes, ('exp/s_{n}.bin', 'exp/d_{n}.bin')), f)
    o = tune(e, spec)
    check(o['job']['counts']['ok'] == 2 and o['job']['counts']['verify_failed'] == 2,
          'the planted error passed the expected files', o['job'])
    with open(os.path.join(e.dir, 'exp', 'd_1500.bin'), 'ab') as f:
        f.write(b'\0\0\0\0')
    with open(spec, 'w') as f:
        json.dump(sd_spec(src, shapes, ('exp/s_{n}.bin', 'exp/d_{n}.bin')), f)
    p = e.fw('tune', '--spec', spec)
    why = "argument 'd': expected file %s has 6004 bytes; this shape's output is 1500 elements of i32, 6000 bytes" % (
        os.path.join(os.path.realpath(e.dir), 'exp', 'd_1500.bin'))
    check(p.returncode != 0 and why in p.stderr, 'a wrong-sized expected file was not refused', p.stdout + p.stderr)


SPLIT_CL = '''#ifndef SPLIT
#define SPLIT 0.5f
#endif
#ifndef ACC
#define ACC float
#endif
#ifndef BLOCK
#define BLOCK 64
#endif
__kernel __attribute__((reqd_work_group_size(BLOCK, 1, 1)))
void addk(__global const float *a, __global const float *b, __global float *c, const int n)
{
    const int i = (int)get_global_id(0), cut = (int)(SPLIT * n);
    ACC s = (ACC)a[i < n ? i : 0];
    if (i < cut)
        c[i] = (float)(s + (ACC)b[i]);
    else if (i < n)
        c[i] = a[i] + b[i];
}
__kernel void addk_ref(__global const float *a, __global const float *b, __global float *c, const int n)
{
    const int i = (int)get_global_id(0);
    if (i < n)
        c[i] = a[i] + b[i];
}
'''


def case_knobvalues(e):
    """Knobs listed by non-integer values (a float constant, a type name) are tuned by index and reach
    the compiler as their text; a value that cannot be a macro is refused before the job."""
    e.start()
    src = os.path.join(e.dir, 'addk.cl')
    with open(src, 'w') as f:
        f.write(SPLIT_CL)
    spec = {'source': {'file': src, 'entry': 'addk'}, 'shapes': [{'n': 5000}],
            'space': {'knobs': {'SPLIT': [0.25, 0.75], 'ACC': ['float', 'double'], 'BLOCK': [64]}},
            'workload': {'args': [{'name': 'a', 'type': 'f32', 'count': 'n', 'init': {'uniform': [-4, 4]}},
                                  {'name': 'b', 'type': 'f32', 'count': 'n', 'init': 'iota'},
                                  {'name': 'c', 'type': 'f32', 'count': 'n', 'dir': 'out', 'tolerance': 1e-6},
                                  {'name': 'n', 'scalar': 'i32', 'value': 'n'}],
                         'grid': ['cdiv(n, BLOCK)'], 'block': ['BLOCK'], 'bytes': '12 * n',
                         'reference': {'entry': 'addk_ref', 'grid': ['cdiv(n, 64)'], 'block': [64]}},
            'strategy': 'grid', 'warmup': 1, 'iters': 2}
    path = os.path.join(e.dir, 'addk.json')
    with open(path, 'w') as f:
        json.dump(spec, f)
    o = tune(e, path)
    check(o['job']['counts']['ok'] == 4, 'the knob-value variants did not all verify', o['job'])
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(e.dir, 'fw.db'), uri=True)
    recs = [json.loads(r[0]) for r in db.execute('SELECT record FROM measurements WHERE job = ?', (o['job']['id'],))]
    db.close()
    macros = sorted(tuple(sorted(m for m in r['macros'] if not m.startswith('BLOCK'))) for r in recs)
    want = sorted((a, s) for a in ('ACC=float', 'ACC=double') for s in ('SPLIT=0.25', 'SPLIT=0.75'))
    check(macros == want, 'the macros are not the values: %s' % macros, recs)
    check(all(r['knobs']['ACC'] in (0, 1) and r['knobs']['SPLIT'] in (0, 1) for r in recs),
          'the knobs are not the values\' indices', [r['knobs'] for r in recs])
    jid, sk = o['job']['id'], o['rankings'][0]['shape_key']
    b = json.loads(e.fw('best', '--family', o['job']['family'], '--shape', sk).stdout)
    check(b['job'] == jid and any(m.startswith('ACC=') and m[4:] in ('float', 'double') for m in b.get('macros', [])),
          'best does not give the value as its macro', b)
    for bad, why in [(['float', 'a b'], "space: knob 'ACC' value 1 ('a b'): a macro value has no spaces"),
                     (['float', 'float'], "space: knob 'ACC' lists the value float twice")]:
        spec['space']['knobs']['ACC'] = bad
        with open(path, 'w') as f:
            json.dump(spec, f)
        p = e.fw('tune', '--spec', path)
        check(p.returncode != 0 and why in p.stderr, 'expected "%s"' % why, p.stdout + p.stderr)


def case_refused(e):
    """Wrong workloads are refused before the job starts, with a sentence naming the argument."""
    e.start()
    base = json.load(open(os.path.join(EXAMPLES, 'vadd', 'spec.json')))
    base['source']['file'] = os.path.join(os.path.abspath(EXAMPLES), 'vadd', 'vadd.cl')
    cases = [
        (lambda w: w['args'][0].update(count='n * Q'), "argument 'a' count uses 'Q'"),
        (lambda w: w.update(grid=['cdiv(n, BLOCK * WPX)']), "grid[0] uses 'WPX'"),
        (lambda w: w['reference'].update(entry='vadd_reff'), "reference entry 'vadd_reff' is not a function"),
        (lambda w: w['args'][1].update(type='f8'), "argument 'b': unknown element type 'f8'"),
        (lambda w: w['args'][2].update(dir='sideways'), "argument 'c': dir must be"),
        (lambda w: w.pop('reference'), 'needs a "reference"'),
    ]
    for i, (edit, why) in enumerate(cases):
        spec = json.loads(json.dumps(base))
        edit(spec['workload'])
        path = os.path.join(e.dir, 'bad%d.json' % i)
        with open(path, 'w') as f:
            json.dump(spec, f)
        p = e.fw('tune', '--spec', path)
        check(p.returncode != 0 and why in p.stderr, 'case %d: expected "%s"' % (i, why), p.stdout + p.stderr)
    # "verify": false runs, and every result says it is unverified
    spec = json.loads(json.dumps(base))
    spec['workload'].pop('reference')
    spec['workload']['verify'] = False
    spec['space']['knobs'] = {'WPT': [2], 'BLOCK': [64]}
    path = os.path.join(e.dir, 'unverified.json')
    with open(path, 'w') as f:
        json.dump(spec, f)
    o = tune(e, path)
    check(o['job']['counts']['ok'] == 1, 'the unverified job did not measure', o['job'])
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(e.dir, 'fw.db'), uri=True)
    modes = db.execute('SELECT mode FROM measurements WHERE job = ?', (o['job']['id'],)).fetchall()
    db.close()
    check(modes and all(m == ('unverified',) for m in modes), 'the unverified results are not marked', modes)
    # ... and rankings and best say so (issue 12)
    check(o['rankings'] and all(r.get('unverified') is True for r in o['rankings']),
          'rankings do not mark the unverified results', o['rankings'])
    jid, sk = o['job']['id'], o['rankings'][0]['shape_key']
    b = json.loads(e.fw('best', '--family', o['job']['family'], '--shape', sk).stdout)
    check(b.get('unverified') is True and b['job'] == jid, 'best does not mark the unverified result', b)
    for args in (['rankings', str(jid)], ['best', '--family', o['job']['family'], '--shape', sk]):
        p = subprocess.run([FAIRWAY, '--socket', e.sock, '--no-start'] + args, capture_output=True, text=True,
                           env=e.env, timeout=120, stdin=subprocess.DEVNULL)
        check(p.returncode == 0 and 'UNVERIFIED' in p.stdout and '"verify": false' in p.stdout,
              '%s text does not say the result is unverified' % args[0], p.stdout + p.stderr)
    html = os.path.join(e.dir, 'unverified.html')
    p = e.fw('report', str(jid), '-o', html)
    check(p.returncode == 0 and 'UNVERIFIED</strong>: this job' in open(html).read(), 'the report does not say so',
          p.stdout + p.stderr)
    # an argument list that is not the kernel's: refused before any launch, naming both counts
    # (clGetKernelInfo CL_KERNEL_NUM_ARGS), for the reference kernel and then for the tuned one
    text = open(base['source']['file']).read()
    extra = text.replace('__global float *c, const int n)', '__global float *c, const int n, const int unused)', 1)
    check(extra != text, 'the vadd signature changed; update the argument-count case')
    for label, src_text, edit, why in [
            ('reference', text, lambda w: w['args'].pop(), "the reference kernel 'vadd_ref' takes 4 arguments but "
             "the workload lists 3 (a, b, c)"),
            ('tuned', extra, lambda w: None, "kernel 'vadd' takes 5 arguments but the workload lists 4 (a, b, c, n)")]:
        src = os.path.join(e.dir, 'count_%s.cl' % label)
        with open(src, 'w') as f:
            f.write(src_text)
        spec = json.loads(json.dumps(base))
        spec['source']['file'] = src
        edit(spec['workload'])
        spec['space']['knobs'] = {'WPT': [1, 2], 'BLOCK': [64]}
        path = os.path.join(e.dir, 'count_%s.json' % label)
        with open(path, 'w') as f:
            json.dump(spec, f)
        p = e.fw('tune', '--spec', path)
        o = json.loads(p.stdout) if p.stdout.strip().startswith('{') else {}
        check(o.get('job', {}).get('counts', {}).get('ok', 0) == 0, '%s: a variant ran' % label, p.stdout + p.stderr)
        errs = [err for _, err in measured(e, o['job']['id'], 'runtime_error')] if o.get('job') else []
        check(len(errs) == 2 and all(why in (err or '') for err in errs),
              '%s: expected every variant to fail with "%s"' % (label, why), (errs, p.stdout + p.stderr))
    # the spec's fixed macros reach the reference kernel as well as the variants
    src = os.path.join(e.dir, 'fixed.cl')
    with open(src, 'w') as f:
        f.write('#ifndef FIXED\n#error FIXED must be given\n#endif\n' + open(base['source']['file']).read())
    spec = json.loads(json.dumps(base))
    spec['source']['file'] = src
    spec['macros'] = {'FIXED': 1}
    spec['space']['knobs'] = {'WPT': [1], 'BLOCK': [64]}
    path = os.path.join(e.dir, 'fixed.json')
    with open(path, 'w') as f:
        json.dump(spec, f)
    o = tune(e, path)
    check(o['job']['counts']['ok'] == 1, 'a spec macro did not reach the reference', o['job'])


def main():
    if not os.access(FAIRWAYD, os.X_OK):
        print('SKIP: fairwayd is not built')
        return SKIP
    fn = globals().get('case_' + CASE)
    if not fn:
        print('unknown case', CASE)
        return 2
    e = Env()
    try:
        fn(e)
    except Fail as f:
        print('FAIL:', f)
        return 1
    finally:
        e.close()
    print('ok', CASE)
    return 0


if __name__ == '__main__':
    sys.exit(main())
