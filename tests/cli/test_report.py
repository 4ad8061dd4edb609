#!/usr/bin/env python3
"""`fairway report` end to end (issue 14). Usage: test_report.py FAIRWAY FAIRWAYD

Tunes a small gemm job (two shapes) and its rerun on PoCL through a private daemon (waited on through
--ready-fd, no sleeps), writes the report of both, parses it as XML and checks every plot's series and
points against the daemon's own `measurements` data; then, where Debian's chromium is installed,
renders the file headless and checks the screenshot is a real, non-blank PNG (skipped with a message
otherwise). Exit 77 = skipped.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

SKIP = 77
FAIRWAY, FAIRWAYD = (os.path.abspath(a) for a in sys.argv[1:3])
SVG = '{http://www.w3.org/2000/svg}'
SPEC = ['--family', 'gemm', '--shape', 'M=64,N=64,K=64', '--shape', 'M=32,N=64,K=64', '--knob', 'TILE_N=16,32',
        '--knob', 'SIMDGROUPS_PER_TG=2,4', '--knob', 'SG_M_TILES=1,2', '--knob', 'SG_N_TILES=2',
        '--knob', 'NUM_BUFFERS=1,2', '--knob', 'TILE_K=16', '--strategy', 'random', '--budget', '5',
        '--warmup', '1', '--iters', '4', '--random-seed', '5']


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


def rpc(sock, method, params):
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(json.dumps({'jsonrpc': '2.0', 'id': 1, 'method': method, 'params': params}).encode() + b'\n')
    buf = b''
    while not buf.endswith(b'\n'):
        chunk = s.recv(1 << 16)
        check(chunk, 'the daemon closed the connection')
        buf += chunk
    s.close()
    return json.loads(buf)


def png_check(path):
    with open(path, 'rb') as f:
        data = f.read()
    check(data[:8] == b'\x89PNG\r\n\x1a\n', 'the screenshot is not a PNG')
    w, h = struct.unpack('>II', data[16:24])
    check(w >= 800 and h >= 1000, 'the screenshot is %dx%d' % (w, h))
    idat, pos = b'', 8
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        if kind == b'IDAT':
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    # a blank page (or an error page) has a handful of byte values; plots, text and colours give many
    check(len(set(raw)) > 64, 'the screenshot looks blank (%d distinct byte values)' % len(set(raw)))
    return w, h


def check_report(path, m):
    root = ET.parse(path).getroot()   # the file is well-formed XML (XHTML-compatible HTML)
    check(not list(root.iter('script')) and 'http://' not in open(path).read().replace(
        'http://www.w3.org/2000/svg', ''), 'the report has a script or fetches something')
    svgs = list(root.iter(SVG + 'svg'))
    shapes = []
    for j in m.values():
        for r in j['measurements']:
            if r['shape_key'] not in shapes:
                shapes.append(r['shape_key'])
    conv = [s for s in svgs if s.get('data-plot') == 'convergence']
    check(len(conv) == len(shapes), '%d convergence plots for %d shapes' % (len(conv), len(shapes)))
    for shape, s in zip(shapes, conv):
        lines = list(s.iter(SVG + 'polyline'))
        check(int(s.get('data-series')) == len(lines) == 2 * len(m), 'convergence series: %s' % s.attrib)
        for pl in lines:
            oks = [r for r in m[int(pl.get('data-job'))]['measurements']
                   if r['shape_key'] == shape and r['status'] == 'ok']
            pts = pl.get('points').split()
            step = pl.get('data-kind') == 'best-so-far'   # a step curve: 2n-1 vertices
            check(len(pts) == (2 * len(oks) - 1 if step else len(oks)) and int(pl.get('data-points')) == len(oks),
                  'points of %s' % pl.attrib)
            ys = [float(p.split(',')[1]) for p in pts]
            check(all(a <= b for a, b in zip(ys, ys[1:])), 'a best-so-far curve goes up (svg y grows downwards): %s' % ys)
        best, ref = lines[0].get('points').split()[-1], lines[1].get('points').split()[-1]
        check(best == ref, 'after every point random search expects the best (%s vs %s)' % (best, ref))
        total = sum(int(p.get('data-points')) for p in lines)
        check(int(s.get('data-points')) == total, 'convergence data-points')
    knobs = [s for s in svgs if s.get('data-plot') == 'knob']
    check(len(knobs) == 6 * len(shapes), '%d knob plots' % len(knobs))
    for s in knobs:
        groups = [g for g in s.iter(SVG + 'g') if g.get('class') == 'series']
        dots = list(s.iter(SVG + 'circle'))
        check(int(s.get('data-series')) == len(groups), 'knob series')
        check(int(s.get('data-points')) == len(dots) == sum(int(g.get('data-points')) for g in groups),
              'knob points')
    samples = [s for s in svgs if s.get('data-plot') == 'samples']
    check(len(samples) == len(shapes) * len(m), '%d sample plots' % len(samples))
    jobs = list(m)
    for i, s in enumerate(samples):
        # per shape, one plot per job in the order given; every stored sample of the top variants drawn
        shape, jm = shapes[i // len(m)], m[jobs[i % len(m)]]
        groups = [g for g in s.iter(SVG + 'g') if g.get('class') == 'series']
        seqs = [int(g.get('data-seq')) for g in groups]
        oks = sorted((r for r in jm['measurements'] if r['shape_key'] == shape and r['status'] == 'ok'),
                     key=lambda r: r['median_ns'])
        check(len(seqs) == min(10, len(oks)) == int(s.get('data-series')), 'top rows %s' % seqs)
        want = sum(len(r['samples_ns']) for r in oks if r['seq'] in seqs)
        want += sum(len(f['samples_ns']) for f in jm['finalists'] if f['seq'] in seqs)
        dots = sum(len(list(g.iter(SVG + 'circle'))) for g in groups)
        check(int(s.get('data-points')) == dots == want, 'samples drawn %s/%d, stored %d' % (
            s.get('data-points'), dots, want))
        fins = [f['seq'] for f in jm['finalists'] if f['shape_key'] == shape]
        check(not fins or seqs[:len(fins)] == [f['seq'] for f in sorted(
            (f for f in jm['finalists'] if f['shape_key'] == shape), key=lambda f: f['rank'])],
            'the finalists do not come first in their re-timed order')
    text = ''.join(root.itertext())
    check('Mann-Whitney U' in text and 'fairway rerun' in text and 'device_identity' in text, 'facts missing')
    return len(svgs)


def check_export(fw, d, job, m, sock):
    import csv
    rows = list(csv.DictReader(fw('export', str(job), '--format', 'csv').splitlines()))
    check(len(rows) == len(m['measurements']), 'csv rows %d, measurements %d' % (len(rows), len(m['measurements'])))
    for row, r in zip(rows, m['measurements']):
        check(int(row['seq']) == r['seq'] and row['shape_key'] == r['shape_key'] and row['status'] == r['status'],
              'csv row %s vs %s' % (row, r))
        for kv in r['variant_key'].split(','):
            k, v = kv.split('=')
            check(row[k] == v, 'csv knob %s: %s vs %s' % (k, row[k], v))
    best = json.loads(fw('export', str(job), '--format', 'json'))['best']
    rk = rpc(sock, 'rankings', {'job': job, 'limit': 1})['result']['rankings']
    check([b['variant_key'] for b in best] == [r['variant_key'] for r in rk], 'json best is not rank 1 per shape')
    hdr = os.path.join(d, 'best.h')
    fw('export', str(job), '--format', 'header', '-o', hdr)
    # the header is valid C: each shape's knob values checked by the compiler itself
    asserts = []
    for b in best:
        shape = '_'.join(filter(None, ''.join(c if c.isalnum() else '_' for c in b['shape_key']).split('_'))).upper()
        for k, v in b['knobs'].items():
            asserts.append('_Static_assert(FW_GEMM_%s_%s == %d, "%s");' % (shape, k, v, k))
    src = os.path.join(d, 'use.c')
    with open(src, 'w') as f:
        f.write('#include "best.h"\n#include "best.h"\n' + '\n'.join(asserts) + '\n')
    cc = shutil.which('cc') or shutil.which('gcc')
    if cc:
        r = subprocess.run([cc, '-std=c11', '-Wall', '-Werror', '-fsyntax-only', src], capture_output=True, text=True)
        check(r.returncode == 0, 'the exported header does not compile or has other values:\n' + r.stderr)


def check_failed_job(d, env, sock, fw):
    """A job whose every variant fails to compile: the report shows the failure class with its first
    error line, and no plot of verified data."""
    src = os.path.join(d, 'bad.cl')
    with open(src, 'w') as f:
        for k in ('TILE_N', 'SIMDGROUPS_PER_TG', 'SG_M_TILES', 'SG_N_TILES', 'NUM_BUFFERS', 'TILE_K'):
            f.write('#ifndef %s\n#define %s 1\n#endif\n' % (k, k))
        f.write('__kernel void k(__global float *a) { not_declared_anywhere = TILE_N; }\n')
    r = subprocess.run([FAIRWAY, '--socket', sock, '--no-start', '--json', 'tune', '--family', 'gemm', '--shape',
                        'M=64,N=64,K=64', '--knob', 'TILE_N=16,32', '--knob', 'SIMDGROUPS_PER_TG=4', '--knob',
                        'SG_M_TILES=2', '--knob', 'SG_N_TILES=2', '--knob', 'NUM_BUFFERS=1', '--knob', 'TILE_K=16',
                        '--strategy', 'grid', '--warmup', '0', '--iters', '1', '--source', src, '--entry', 'k'],
                       capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    check(r.returncode == 1, 'the failing tune exits %d' % r.returncode)
    job = json.loads(r.stdout)['job']['id']
    out = os.path.join(d, 'failed.html')
    fw('report', str(job), '-o', out)
    root = ET.parse(out).getroot()
    check(not [s for s in root.iter(SVG + 'svg') if s.get('data-plot') in ('convergence', 'samples')],
          'plots drawn for a job with nothing verified')
    text = ''.join(root.itertext())
    check('compile_error' in text and 'not_declared_anywhere' in text and 'No verified variant' in text,
          'the failure class or its first error line is missing from the report')


def main():
    if not os.access(FAIRWAYD, os.X_OK):
        print('SKIP: fairwayd is not built yet')
        return SKIP
    d = tempfile.mkdtemp(prefix='fwreport-')
    env = dict(os.environ)
    env.pop('FAIRWAY_SOCKET', None)
    env.update(HOME=d, XDG_RUNTIME_DIR=os.path.join(d, 'run'), FAIRWAY_DB=os.path.join(d, 'fw.db'))
    sock = os.path.join(d, 's.sock')
    p = start_daemon(d, env)
    try:
        def fw(*args):
            r = subprocess.run([FAIRWAY, '--socket', sock, '--no-start'] + list(args), capture_output=True,
                               text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
            check(r.returncode == 0, 'fairway %s: exit %d\n%s%s' % (' '.join(args), r.returncode, r.stdout, r.stderr))
            return r.stdout
        job = json.loads(fw('--json', 'tune', *SPEC))['job']['id']
        rerun = json.loads(fw('--json', 'rerun', str(job)))['job']['id']
        m = {j: rpc(sock, 'measurements', {'job': j, 'samples': True})['result'] for j in (job, rerun)}
        check(all('samples_ns' in r for r in m[job]['measurements'] if r['status'] == 'ok'), 'no samples')
        err = rpc(sock, 'measurements', {'job': 999})
        check(err.get('error', {}).get('code') == -32001, 'unknown job: %s' % err)
        err = rpc(sock, 'measurements', {'job': job, 'bogus': 1})
        check(err.get('error', {}).get('code') == -32602, 'unknown param: %s' % err)
        one = os.path.join(d, 'one.html')
        fw('report', str(job), '-o', one)
        n1 = check_report(one, {job: m[job]})
        both = os.path.join(d, 'report.html')
        fw('report', str(job), str(rerun), '--output', both)
        check_report(both, m)
        print('report: %d plots for one job, series and points match the store' % n1)
        check_export(fw, d, job, m[job], sock)
        check_failed_job(d, env, sock, fw)
        chromium = shutil.which('chromium') or shutil.which('chromium-browser')
        if not chromium:
            print('SKIP: chromium is not installed (scripts/setup.sh installs Debian\'s chromium); '
                  'the report was checked as XML only')
            return SKIP
        png = os.environ.get('FW_REPORT_PNG') or os.path.join(d, 'report.png')
        r = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                            '--window-size=1000,2400', '--screenshot=' + png, 'file://' + both],
                           capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
        check(r.returncode == 0 and os.path.exists(png), 'chromium failed (%d): %s' % (r.returncode, r.stderr[-2000:]))
        print('screenshot %dx%d: %s' % (png_check(png) + (png,)))
        return 0
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)
        if not os.environ.get('FW_REPORT_KEEP'):
            shutil.rmtree(d, ignore_errors=True)


sys.exit(main())
