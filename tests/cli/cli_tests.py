#!/usr/bin/env python3
"""Tests of the `fairway` CLI (suite 'cli'). Usage: cli_tests.py CASE FAIRWAY [FAIRWAYD] [FAKE_DAEMON]

Every case runs in its own mkdtemp folder with its own socket, database, HOME and XDG folders, so
nothing touches the user's real state and cases can run in parallel. Daemons are waited on through
their readiness pipe (--ready-fd) and their exit through a pidfd: no sleeps.
Exit 77 = skipped (meson counts it as such).
"""
import json
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile

SKIP = 77
CASE = sys.argv[1]
FAIRWAY = os.path.abspath(sys.argv[2])
FAIRWAYD = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else ''
FAKE = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 else ''

COMMANDS = ['tune', 'status', 'watch', 'cancel', 'jobs', 'rankings', 'best', 'rerun', 'compare', 'expand',
            'profiles', 'devices', 'failures', 'report', 'export', 'policy', 'shutdown', 'strategies']
FLAGS = {
    'tune': ['--profile', '--num-random', '--random-seed', '--no-explore', '--warmup', '--iters', '--strategy',
             '--backend', '--device', '--budget', '--family', '--shape', '--knob', '--constraint', '--spec',
             '--source', '--entry', '--alias', '--macro', '--top', '--detach'],
    'status': [], 'watch': ['--top'], 'cancel': [], 'jobs': ['--state', '--limit'],
    'rankings': ['--shape', '--limit'], 'best': ['--family', '--shape', '--device', '--kernel', '--exact'],
    'rerun': ['--top', '--detach'], 'compare': [], 'expand': ['--limit', '--profile', '--shape', '--knob'],
    'profiles': [], 'strategies': [], 'devices': ['--device', '--all'], 'failures': ['--status', '--limit'], 'report': ['--output', '--top'],
    'export': ['--format', '--output', '--source'], 'policy': ['--against'], 'shutdown': ['--now'],
}


class Fail(Exception):
    pass


def check(cond, what, out=None):
    if not cond:
        raise Fail(what + ('' if out is None else '\n--- output ---\n' + str(out)))


class Env:
    """A private folder: socket, db, HOME, XDG dirs; tracks daemons to stop."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='fwcli-')
        self.sock = os.path.join(self.dir, 's.sock')
        self.db = os.path.join(self.dir, 'fw.db')
        home = os.path.join(self.dir, 'home')
        os.makedirs(home)
        self.env = dict(os.environ)
        for k in ('FAIRWAY_SOCKET', 'FAIRWAY_DAEMON', 'XDG_STATE_HOME'):
            self.env.pop(k, None)
        self.env.update(HOME=home, XDG_RUNTIME_DIR=os.path.join(self.dir, 'run'), FAIRWAY_DB=self.db)
        self.pids = []
        self.procs = []

    def fw(self, *args, rc=None, env=None, timeout=600):
        p = subprocess.run([FAIRWAY, '--socket', self.sock] + list(args), capture_output=True, text=True,
                           env=env or self.env, timeout=timeout, stdin=subprocess.DEVNULL)
        for m in re.finditer(r'started fairwayd \(pid (\d+)\)', p.stderr):
            self.pids.append(int(m.group(1)))
        if rc is not None:
            check(p.returncode == rc, 'fairway %s: exit %d, expected %d' % (' '.join(args), p.returncode, rc),
                  p.stdout + p.stderr)
        return p

    def start_daemon(self, binary):
        """Run the daemon ourselves and wait on its --ready-fd."""
        r, w = os.pipe()
        log = open(os.path.join(self.dir, 'daemon.log'), 'ab')
        p = subprocess.Popen([binary, '--socket', self.sock, '--db', self.db, '--ready-fd', str(w)],
                             pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env)
        os.close(w)
        log.close()
        data = b''
        while True:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
        os.close(r)
        check(data.strip() != b'', 'the daemon exited before it was ready:\n' + self.log('daemon.log'))
        self.procs.append(p)
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()[-4000:]
        except OSError:
            return '(no log)'

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for pid in self.pids:
            stop_pid(pid)
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_pid(pid):
    """SIGTERM a daemon that is not our child and wait for it to exit, on a pidfd (no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        if not select.select([fd], [], [], 120)[0]:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def alive(pid):
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    ready = select.select([fd], [], [], 0)[0]
    os.close(fd)
    return not ready


# ---- cases without a daemon ------------------------------------------------------------------


def case_help(e):
    p = e.fw('--help', rc=0)
    for c in COMMANDS:
        check(c in p.stdout, 'fairway --help does not list %s' % c, p.stdout)
    for c in COMMANDS:
        p = e.fw(c, '--help', rc=0)
        out = p.stdout
        check(out.startswith('Usage: fairway ' + c), '%s --help has no usage line' % c, out)
        for f in FLAGS[c] + ['--socket', '--json', '--no-start']:
            check(f in out, '%s --help does not mention %s' % (c, f), out)
        check('Exit codes' in out and '3  cannot reach or start the daemon' in out,
              '%s --help does not document the exit codes' % c, out)
        check('Examples' in out, '%s --help has no examples' % c, out)
        check(p.stderr == '', '%s --help wrote to stderr' % c, p.stderr)
    e.fw('help', 'tune', rc=0)
    # strategies asks no daemon: one line each, the default marked; --json the same as objects
    p = e.fw('strategies', '--no-start', rc=0)
    lines = p.stdout.splitlines()
    check(len(lines) == 7 and any(l.startswith('auto') and l.endswith('(the default)') for l in lines),
          'fairway strategies lists 7 strategies, auto the default', p.stdout)
    j = json.loads(e.fw('strategies', '--json', '--no-start', rc=0).stdout)
    names = [x['name'] for x in j['strategies']]
    check(names == ['grid', 'presets', 'random', 'anneal', 'genetic', 'model', 'auto'] and
          [x['name'] for x in j['strategies'] if x['default']] == ['auto'], 'strategies --json', str(j))
    check(not os.path.exists(e.sock), 'fairway strategies started a daemon')


def case_usage(e):
    cases = [
        ([], 'Usage'),
        (['frobnicate'], "unknown command 'frobnicate'"),
        (['tune', '--bogus'], 'unknown option --bogus'),
        (['tune', '--warmup', 'ten', '--profile', 'x'], '--warmup expects an integer'),
        (['tune', '--iters', '0', '--profile', 'x'], 'out of range'),
        (['tune', '--profile'], '--profile needs a value'),
        (['tune'], 'nothing says what to tune'),
        (['tune', '--family', 'gemm', '--shape', 'M=1,,N=2'], 'NAME=VALUE'),
        (['tune', '--family', 'gemm', '--knob', 'TILE_N=32,x'], "'x' is not an integer"),
        (['tune', '--family', 'gemm', '--knob', 'TILE_N=32,32'], 'listed twice'),
        (['tune', '--family', 'gemm', '--knob', 'TILE_N'], 'NAME=v1,v2'),
        (['tune', '--family', 'gemm', '--no-explore', '--strategy', 'grid'], 'contradicts'),
        (['tune', '--family', 'gemm', '--entry', 'k'], 'give --source FILE'),
        (['tune', '--profile', 'p', '--num-random', '4', '--budget', '9'], 'not both'),
        (['tune', '--profile', 'p', '--num-random', '4', '--strategy', 'grid'], 'contradicts --strategy grid'),
        (['tune', '--profile', 'p', '--macro', 'HIDDEN=big'], 'not an integer'),
        (['tune', '--profile', 'p', '--random-seed', '9007199254740992'], 'out of range'),
        (['tune', '--family', 'gemm', '--source', '/nonexistent/k.cl'], 'cannot read --source'),
        (['tune', '--spec', '/nonexistent/spec.json'], 'cannot read --spec'),
        (['tune', '--family', 'gemm', '--strategy', 'annealing'], "--strategy 'annealing' is not known (known: grid, presets, random, anneal"),
        (['tune', '--profile', 'p', 'extra'], "unexpected argument 'extra'"),
        (['tune', '--profile', 'p', '-x'], 'unknown option -x'),
        (['status'], 'give one job id'),
        (['status', 'abc'], 'not a job id'),
        (['status', '0'], 'not a job id'),
        (['status', '1', '2'], "unexpected argument '2'"),
        (['watch', '-3'], 'unknown option -3'),
        (['compare', '1'], 'give two job ids'),
        (['jobs', '--state', 'sleeping'], 'not a job state'),
        (['jobs', '--limit', '0'], 'expects an integer >= 1'),
        (['best', '--family', 'gemm'], 'give --family F and --shape'),
        (['best', '--family', 'gemm', '--shape', 'M'], 'NAME=VALUE'),
        (['profiles', '--json=yes'], 'takes no value'),
        (['profiles', 'x'], "unexpected argument 'x'"),
    ]
    for args, msg in cases:
        p = e.fw(*args, '--no-start')
        check(p.returncode == 2, 'fairway %s: exit %d, expected 2' % (' '.join(args), p.returncode),
              p.stdout + p.stderr)
        check(msg in p.stderr, 'fairway %s: stderr lacks %r' % (' '.join(args), msg), p.stderr)
        check(p.stdout == '' or not args, 'fairway %s: a usage error printed to stdout' % ' '.join(args), p.stdout)
    check(not os.path.exists(e.sock), 'a usage error started a daemon')
    # a spec file that is not JSON says where the parser stopped; JSON that is not an object says so
    for name, text, msg in (('cut.json', '{"family": "gemm",\n "shapes": [{"M": 64', 'line 2, column 20, the end of the file: is it cut short?'),
                            ('comma.json', '{"family": "gemm",\n "shapes": [{"M": 64 "N": 3}]}',
                             'is not valid JSON (the parser stopped at line 2, column 22'),
                            ('list.json', '[1, 2]', 'is JSON but not an object')):
        path = os.path.join(e.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        p = e.fw('tune', '--spec', path, '--no-start')
        check(p.returncode == 2 and msg in p.stderr, 'tune --spec %s: exit %d, stderr lacks %r' %
              (name, p.returncode, msg), p.stderr)


def case_nodaemon(e):
    for args in (['profiles'], ['status', '1'], ['tune', '--profile', 'gemm_small'], ['--json', 'jobs']):
        p = e.fw('--no-start', *args, rc=3)
        check('no fairwayd answers on ' + e.sock in p.stderr and '--no-start' in p.stderr,
              'the exit-3 message does not say what happened', p.stderr)
    # shutdown never starts a daemon to stop it (issue 19 item 12)
    for args in (['shutdown'], ['--json', 'shutdown', '--now']):
        p = e.fw(*args, rc=0)
        check(not e.pids and not os.path.exists(e.sock), 'shutdown started a daemon', p.stderr)
    check('no fairwayd answers on %s: nothing to stop' % e.sock in e.fw('shutdown').stdout, 'shutdown, none running')
    check(json.loads(e.fw('--json', 'shutdown').stdout) == {'running': False, 'socket': e.sock}, 'shutdown --json')
    # FAIRWAY_SOCKET is honoured the same way as --socket.
    env = dict(e.env, FAIRWAY_SOCKET=os.path.join(e.dir, 'other.sock'))
    p = subprocess.run([FAIRWAY, '--no-start', 'profiles'], capture_output=True, text=True, env=env)
    check(p.returncode == 3 and 'other.sock' in p.stderr, 'FAIRWAY_SOCKET is not used', p.stderr)
    # Without --socket or FAIRWAY_SOCKET the socket is under XDG_RUNTIME_DIR.
    p = subprocess.run([FAIRWAY, '--no-start', 'profiles'], capture_output=True, text=True, env=e.env)
    check(p.returncode == 3 and os.path.join(e.dir, 'run', 'fairway', 'fairwayd.sock') in p.stderr,
          'the default socket is not $XDG_RUNTIME_DIR/fairway/fairwayd.sock', p.stderr)
    env = dict(e.env)
    env.pop('XDG_RUNTIME_DIR')
    p = subprocess.run([FAIRWAY, '--no-start', 'profiles'], capture_output=True, text=True, env=env)
    check(p.returncode == 3 and os.path.join(env['HOME'], '.local/state/fairway/fairwayd.sock') in p.stderr,
          'the fallback socket is not ~/.local/state/fairway/fairwayd.sock', p.stderr)
    # A daemon binary that cannot be found is exit 3 with the places tried.
    env = dict(e.env, FAIRWAY_DAEMON=os.path.join(e.dir, 'missing-fairwayd'))
    p = e.fw('profiles', env=env, rc=3)
    check('FAIRWAY_DAEMON' in p.stderr, 'a missing daemon binary is not explained', p.stderr)
    # A daemon that exits before it is ready: exit 3, its log is quoted, no waiting forever.
    bad = os.path.join(e.dir, 'bad-fairwayd')
    with open(bad, 'w') as f:
        f.write('#!/bin/sh\necho "cannot open database: disk on fire" >&2\nexit 5\n')
    os.chmod(bad, 0o755)
    p = e.fw('profiles', env=dict(e.env, FAIRWAY_DAEMON=bad), rc=3)
    check('status 5' in p.stderr and 'disk on fire' in p.stderr, 'a failed start is not explained', p.stderr)
    check(os.path.exists(os.path.join(e.dir, 'fairwayd.log')), 'the daemon log is not beside the socket')


def case_spec(e):
    """--print-spec: what tune would submit, built from flags over a --spec file."""
    spec_file = os.path.join(e.dir, 'spec.json')
    with open(spec_file, 'w') as f:
        json.dump({"family": "gemm", "shapes": [{"M": 1, "N": 1, "K": 1}], "space": {"knobs": {"TILE_K": [8]},
                   "constraints": ["TILE_K > 0"]}, "warmup": 1, "seed": 3}, f)
    src = os.path.join(e.dir, 'my_kernel.cl')
    with open(src, 'w') as f:
        f.write('#ifndef MY_TILE\n#define MY_TILE 8\n#endif\n__kernel void k(void) {}\n')
    p = e.fw('tune', '--spec', spec_file, '--shape', 'M=256,N=128,K=64', '--shape', 'M=1,N=2,K=3,mode=decode',
             '--knob', 'TILE_N=32,64', '--constraint', 'TILE_N % 32 == 0', '--warmup', '10', '--iters', '50',
             '--random-seed', '42', '--budget', '30', '--strategy', 'random', '--backend', 'opencl', '--device', '0',
             '--source', src, '--entry', 'k', '--alias', 'TILE_N=MY_TILE', '--macro', 'HIDDEN=2048',
             '--print-spec', rc=0)
    s = json.loads(p.stdout)
    check(s['family'] == 'gemm', 'family from --spec lost', s)
    check(s['shapes'] == [{"M": 256, "N": 128, "K": 64}, {"M": 1, "N": 2, "K": 3, "mode": "decode"}],
          '--shape does not replace the spec file shapes', s)
    check(s['space']['knobs'] == {"TILE_K": [8], "TILE_N": [32, 64]}, '--knob does not merge', s)
    check(s['space']['constraints'] == ["TILE_K > 0", "TILE_N % 32 == 0"], '--constraint does not append', s)
    check((s['warmup'], s['iters'], s['seed'], s['budget']) == (10, 50, 42, 30), 'counts not set', s)
    check((s['strategy'], s['backend'], s['device']) == ('random', 'opencl', 0), 'strategy/backend/device', s)
    check(s['source']['text'].startswith('#ifndef MY_TILE') and s['source']['entry'] == 'k'
          and s['source']['name'] == 'my_kernel.cl', '--source/--entry', s)
    check(s['aliases'] == {"TILE_N": "MY_TILE"} and s['macros'] == {"HIDDEN": 2048}, '--alias/--macro', s)
    p = e.fw('tune', '--profile', 'mixed_bpw_fairway_glm47', '--no-explore', '--print-spec', rc=0)
    s = json.loads(p.stdout)
    check(s == {"profile": "mixed_bpw_fairway_glm47", "no_explore": True, "strategy": "presets"},
          '--no-explore is not a presets-only spec', s)
    p = e.fw('tune', '--profile', 'mixed_bpw_fairway_glm47', '--num-random', '40', '--random-seed', '7',
             '--print-spec', rc=0)
    s = json.loads(p.stdout)
    check(s == {"profile": "mixed_bpw_fairway_glm47", "num_random": 40, "seed": 7}, '--num-random spec', s)
    # --no-explore wins over --num-random, as in optimize_kernel.py.
    p = e.fw('tune', '--profile', 'x', '--num-random', '40', '--no-explore', '--print-spec', rc=0)
    check('num_random' not in json.loads(p.stdout), '--no-explore did not drop --num-random', p.stdout)
    # --devices: one job over several devices (issue 17)
    p = e.fw('tune', '--profile', 'gemm_small', '--devices', '0,1', '--print-spec', rc=0)
    check(json.loads(p.stdout).get('devices') == [0, 1], '--devices 0,1 is not "devices": [0, 1]', p.stdout)
    p = e.fw('tune', '--profile', 'gemm_small', '--devices', 'all', '--print-spec', rc=0)
    check(json.loads(p.stdout).get('devices') == 'all', '--devices all is not "devices": "all"', p.stdout)
    for bad in ('0,', 'x', '1,,2', '2000'):
        p = e.fw('tune', '--profile', 'gemm_small', '--devices', bad, '--print-spec', rc=2)
        check('--devices expects device indices' in p.stderr, '--devices %s is not refused with a sentence' % bad,
              p.stderr)
    check(not os.path.exists(e.sock), '--print-spec contacted a daemon')


# ---- cases against the fake daemon (the CLI's own logic) ---------------------------------------


def export_devices(e):
    """export of jobs on two devices: one header, a block per device picked by FW_GEMM_DEVICE_INDEX (issue 14)."""
    ids = [json.loads(e.fw('--json', 'tune', '--profile', 'fake_profile', *extra, rc=0).stdout)['job']['id']
           for extra in ([], ['--backend', 'cuda'])]
    hdr = os.path.join(e.dir, 'best.h')
    e.fw('export', *map(str, ids), '--format', 'header', '-o', hdr, rc=0)
    text = open(hdr).read()
    check('#define FW_GEMM_DEVICES 2' in text and '#define FW_GEMM_DEVICE_1 "cuda|fake|device"' in text,
          'the header lists both devices', text)
    o = json.loads(e.fw('export', *map(str, ids), '--format', 'json', rc=0).stdout)
    check(o['jobs'] == ids and [(b['device'], b['variant_key']) for b in o['best']] ==
          [('opencl|fake|device', 'TILE_N=32'), ('cuda|fake|device', 'TILE_N=16')], 'json export of two devices', o)
    e.fw('export', *map(str, ids), '--format', 'csv', rc=2)
    src = os.path.join(e.dir, 'mine.cl')
    with open(src, 'w') as f:
        f.write('__kernel void mine(__global float *a) { a[0] = TILE_N; }\n')
    mine = json.loads(e.fw('--json', 'tune', '--profile', 'fake_profile', '--source', src, '--entry', 'mine',
                           rc=0).stdout)['job']['id']
    p = e.fw('export', str(ids[0]), str(mine), '--format', 'header', rc=2)
    check('tuned different code' in p.stderr, 'export mixes the configs of two kernels', p.stderr)
    # the whole store: every done job of the family, one kernel source at a time
    p = e.fw('export', '--family', 'gemm', '--format', 'json', rc=1)
    check('2 kernel sources (builtin, f00d)' in p.stderr and '--source-hash' in p.stderr, 'store export, two sources',
          p.stderr)
    o = json.loads(e.fw('export', '--family', 'gemm', '--source-hash', 'builtin', '--format', 'json', rc=0).stdout)
    check(ids[1] in o['jobs'] and mine not in o['jobs'] and
          sorted(b['device'] for b in o['best']) == ['cuda|fake|device', 'opencl|fake|device'],
          'store export: the best per device of the built-in kernel', o)
    o = json.loads(e.fw('export', '--family', 'gemm', '--source-hash', 'f00d', '--format', 'json', rc=0).stdout)
    check(o['job'] == mine, 'store export of one source', o)
    cc = shutil.which('cc') or shutil.which('gcc')
    if not cc:
        return
    src = os.path.join(e.dir, 'use.c')
    with open(src, 'w') as f:
        f.write('#include "best.h"\n#include "best.h"\n'
                '_Static_assert(FW_GEMM_K_64_M_64_N_64_TILE_N == WANT, "TILE_N");\n'
                'static const char *dev = FW_GEMM_DEVICE;\nconst char *get(void) { return dev; }\n')
    for index, want in ((0, 32), (1, 16)):
        r = subprocess.run([cc, '-std=c11', '-Wall', '-Werror', '-fsyntax-only', '-DWANT=%d' % want,
                            '-DFW_GEMM_DEVICE_INDEX=%d' % index, src], capture_output=True, text=True)
        check(r.returncode == 0, 'device %d: the header does not select its TILE_N %d:\n%s' % (index, want, r.stderr))
    r = subprocess.run([cc, '-std=c11', '-fsyntax-only', '-DWANT=32', src], capture_output=True, text=True)
    check(r.returncode != 0 and 'define FW_GEMM_DEVICE_INDEX' in r.stderr, 'no index: the header says to pick one',
          r.stderr)
    r = subprocess.run([cc, '-std=c11', '-fsyntax-only', '-DWANT=32', '-DFW_GEMM_DEVICE_INDEX=2', src],
                       capture_output=True, text=True)
    check(r.returncode != 0 and 'must be 0 to 1' in r.stderr, 'an index out of range is an error', r.stderr)


def fake_env(e):
    e.env['FAIRWAY_DAEMON'] = FAKE
    return e


def case_fake(e):
    fake_env(e)
    # Auto-start: the first call starts the daemon, reports its pid on stderr, answers on stdout.
    p = e.fw('--json', 'profiles', rc=0)
    check(len(e.pids) == 1, 'the first call did not start a daemon', p.stderr)
    check(json.loads(p.stdout)['profiles'][0]['name'] == 'fake_profile', 'profiles --json', p.stdout)
    check(os.path.exists(os.path.join(e.dir, 'fairwayd.log')), 'no daemon log beside the socket')
    p = e.fw('profiles', rc=0)
    check(len(e.pids) == 1 and 'started' not in p.stderr, 'the second call started another daemon', p.stderr)
    check('fake_profile' in p.stdout and 'description' in p.stdout, 'profiles table', p.stdout)
    check(alive(e.pids[0]), 'the started daemon died')

    # tune --json: one object with the job and its rankings, nothing else on stdout.
    p = e.fw('--json', 'tune', '--profile', 'fake_profile', rc=0)
    o = json.loads(p.stdout)
    check(o['job']['state'] == 'done' and o['job']['id'] == 1, 'tune --json job', o)
    check([r['rank'] for r in o['rankings']] == [1, 2] and o['best'][0]['variant_key'] == 'TILE_N=32',
          'tune --json rankings/best', o)
    # Plain tune (not a terminal): progress lines, the table, the best config per shape.
    p = e.fw('tune', '--profile', 'fake_profile', '--budget', '3', rc=0)
    out = p.stdout
    check(out.count('progress: job 2 running') == 3 and 'progress: job 2 done 3/3' in out, 'progress lines', out)
    check(re.search(r'rank\s+shape\s+knobs\s+median\s+GB/s\s+GFLOP/s\s+origin', out), 'table header', out)
    check(re.search(r'1\s+K=64,M=64,N=64\s+TILE_N=32\s+81\.23 us\s+12\.5\s+410\.2\s+random', out), 'table row', out)
    check('best config per shape:\n  K=64,M=64,N=64: TILE_N=32' in out, 'best per shape', out)
    check('\r' not in out and '\033' not in out, 'terminal codes in non-tty output', out)


    # best: knobs and macros to paste; nothing stored is exit 1.
    p = e.fw('best', '--family', 'gemm', '--shape', 'M=64,N=64,K=64', rc=0)
    check('knobs:  TILE_N=32' in p.stdout and 'macros: -DTILE_N=32' in p.stdout, 'best output', p.stdout)
    p = e.fw('best', '--family', 'gemm', '--shape', 'M=65,N=64,K=64', rc=1)
    check('tune it first' in p.stderr, 'best: nothing stored message', p.stderr)

    # rerun follows the new job; compare renders.
    p = e.fw('--json', 'rerun', '1', rc=0)
    o = json.loads(p.stdout)
    check(o['job']['parent'] == 1 and o['job']['id'] == 3, 'rerun --json', o)
    p = e.fw('compare', '1', '3', rc=0)
    check('same variant sequence: yes' in p.stdout and "Kendall's tau): 0.800" in p.stdout
          and 'top-5 overlap: 4 of 5' in p.stdout and 'min 0.970, median 1.000, max 1.050' in p.stdout,
          'compare output', p.stdout)
    p = e.fw('compare', '1', '3', '--json', rc=0)
    check(json.loads(p.stdout)['same_variants'] is True, 'compare --json', p.stdout)

    # Exit codes: no such job is 1; a refused request is 4 with the daemon's sentence; failed job 1.
    p = e.fw('status', '99', rc=1)
    check('no job 99' in p.stderr, 'status of a missing job', p.stderr)
    p = e.fw('tune', '--profile', 'bad', rc=4)
    check("unknown profile 'bad'" in p.stderr, 'a daemon error is not shown', p.stderr)
    p = e.fw('tune', '--profile', 'fake_profile', '--random-seed', '13', rc=1)
    check('job 4 failed' in p.stdout and 'could not open device' in p.stdout, 'failed job report', p.stdout)
    p = e.fw('--json', 'tune', '--profile', 'fake_profile', '--detach', rc=0)
    check(json.loads(p.stdout)['job'] == 5, 'tune --detach --json', p.stdout)
    p = e.fw('status', '5', rc=0)   # the ETA says what it is based on (issue 19 item 10)
    check('estimated time left: 0:15 (6 variants left x 2.5 s, this run\'s mean per variant; finalists 0:00: '
          '4 candidates x 53 launches at their first-pass medians)' in p.stdout, 'status ETA basis', p.stdout)
    p = e.fw('cancel', '5', rc=0)
    check('job 5 cancelled' in p.stdout, 'cancel', p.stdout)
    p = e.fw('cancel', '5', rc=4)
    check('already ended' in p.stderr, 'cancel of an ended job', p.stderr)
    p = e.fw('watch', '5', rc=1)
    check('job 5 cancelled' in p.stdout, 'watch of a cancelled job', p.stdout)
    p = e.fw('jobs', rc=0)
    check(re.search(r'5\s+cancelled\s+gemm', p.stdout) and re.search(r'3\s+done\s+gemm.*\s1\s', p.stdout),
          'jobs table', p.stdout)
    p = e.fw('rankings', '1', rc=0)
    check('TILE_N=16' in p.stdout, 'rankings table', p.stdout)
    p = e.fw('rankings', '5', rc=1)
    p = e.fw('status', '1', rc=0)
    check('job 1: done' in p.stdout and 'ok 3, compile_error 1' in p.stdout, 'status', p.stdout)
    p = e.fw('expand', '--profile', 'fake_profile', rc=0)
    check('3 evaluations planned' in p.stdout and 'TILE_N=64' in p.stdout, 'expand', p.stdout)
    p = e.fw('devices', rc=0)
    check('opencl:0' in p.stdout and 'fake cpu' in p.stdout, 'devices', p.stdout)
    # Ctrl-C while following: exit 130, the job is left running and the message says how to resume.
    # Synchronised on the first progress line, not on time.
    pr = subprocess.Popen([FAIRWAY, '--socket', e.sock, 'tune', '--profile', 'fake_profile', '--random-seed', '99'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e.env)
    first = ''
    while 'progress:' not in first:
        first = pr.stdout.readline()
        check(first != '', 'tune ended before its first progress line')
    pr.send_signal(signal.SIGINT)
    out, err = pr.communicate(timeout=60)
    check(pr.returncode == 130, 'interrupted tune exit %d, expected 130' % pr.returncode, out + err)
    check('goes on in the daemon' in err and 'fairway watch' in err, 'interrupt message', err)
    p = e.fw('status', '6', rc=0)
    check('job 6: running' in p.stdout, 'the interrupted job is not left running', p.stdout)
    check(len(e.pids) == 1, 'more daemons were started: %r' % e.pids)
    export_devices(e)


# ---- cases against the real daemon ---------------------------------------------------------------

TINY_GEMM = ['--family', 'gemm', '--shape', 'M=64,N=64,K=64', '--knob', 'TILE_N=32', '--knob', 'SIMDGROUPS_PER_TG=4',
             '--knob', 'SG_M_TILES=1,2', '--knob', 'SG_N_TILES=2', '--knob', 'NUM_BUFFERS=1,2', '--knob', 'TILE_K=16',
             '--strategy', 'grid', '--warmup', '1', '--iters', '3', '--random-seed', '5']


def need_daemon():
    if not FAIRWAYD or not os.access(FAIRWAYD, os.X_OK):
        print('SKIP: fairwayd is not built yet (%s)' % FAIRWAYD)
        sys.exit(SKIP)


def case_autostart(e):
    need_daemon()
    e.env['FAIRWAY_DAEMON'] = FAIRWAYD
    p = e.fw('--json', 'profiles', rc=0)
    check(len(e.pids) == 1, 'no daemon was started', p.stderr)
    names = [x['name'] for x in json.loads(p.stdout)['profiles']]
    check('gemm_small' in names, 'profiles from the real daemon', p.stdout)
    p = e.fw('--json', 'profiles', rc=0)
    check(len(e.pids) == 1 and 'started' not in p.stderr, 'the second call did not reuse the daemon', p.stderr)
    check(alive(e.pids[0]), 'the auto-started daemon is gone')
    # With no --socket: the default socket under XDG_RUNTIME_DIR, the log in the state folder. No
    # FAIRWAY_DB either: the first daemon still holds fw.db, and one store serves one daemon only.
    env = dict(e.env)
    env.pop('FAIRWAY_DB')
    p = subprocess.run([FAIRWAY, '--json', 'devices'], capture_output=True, text=True, env=env, timeout=300)
    m = re.search(r'started fairwayd \(pid (\d+)\), log (\S+)', p.stderr)
    if m:
        e.pids.append(int(m.group(1)))
    check(p.returncode == 0 and m, 'no daemon on the default socket: exit %d' % p.returncode, p.stdout + p.stderr)
    check(m.group(2) == os.path.join(e.env['HOME'], '.local/state/fairway/fairwayd.log') and os.path.exists(m.group(2)),
          'the log is not in the state folder', p.stderr)
    check(os.path.exists(os.path.join(e.env['XDG_RUNTIME_DIR'], 'fairway', 'fairwayd.sock')), 'no default socket')
    check(json.loads(p.stdout)['devices'][0]['backend'] == 'opencl', 'devices --json', p.stdout)
    check(os.path.exists(os.path.join(e.env['HOME'], '.local/state/fairway/fairway.db')), 'no default store')


def case_e2e(e):
    need_daemon()
    e.start_daemon(FAIRWAYD)
    p = e.fw('--no-start', '--json', 'tune', *TINY_GEMM)
    check(p.returncode == 0, 'tune --json exit %d' % p.returncode, p.stdout + p.stderr + e.log('daemon.log'))
    o = json.loads(p.stdout)
    check(o['job']['state'] == 'done', 'the tune job did not end done', o['job'])
    rk = o['rankings']
    check(len(rk) >= 1, 'no rankings', o)
    check(all(r.get('status', 'ok') == 'ok' for r in rk), 'a ranked entry is not ok', rk)
    meds = [r['median_ns'] for r in rk]
    check(meds == sorted(meds), 'rankings are not sorted by median', meds)
    job = o['job']['id']
    top = rk[0]

    # plain output
    p = e.fw('--no-start', 'tune', *TINY_GEMM, rc=0)
    check('progress: job' in p.stdout, 'no progress lines', p.stdout)
    check(re.search(r'rank\s+shape\s+knobs\s+median', p.stdout) and top['shape_key'] in p.stdout, 'no table',
          p.stdout)

    # best, over both jobs (docs/protocol.md): the job with the fastest first-pass median, then that job's
    # rank 1 (its finalists' winner). Finalists re-time the top variants, so comparing finalist medians
    # across jobs would name another job whenever their re-timing reorders near-ties.
    p = e.fw('--no-start', '--json', 'best', '--family', 'gemm', '--shape', 'M=64,N=64,K=64', rc=0)
    b = json.loads(p.stdout)
    ranked = {}
    for j in (job, job + 1):
        p2 = e.fw('--no-start', '--json', 'rankings', str(j), '--limit', '0', rc=0)
        ranked[j] = json.loads(p2.stdout)['rankings']
    first_pass = {j: min(r.get('first_pass_median_ns', r['median_ns']) for r in rk2) for j, rk2 in ranked.items()}
    best_job = min(first_pass, key=first_pass.get)
    check(b['job'] == best_job, 'best is not from the job with the fastest first pass', (b, first_pass))
    check(b['variant_key'] == ranked[best_job][0]['variant_key'], 'best is not that job\'s rank-1 variant',
          (b, ranked[best_job][0]))
    p = e.fw('--no-start', 'best', '--family', 'gemm', '--shape', 'M=64,N=64,K=64', rc=0)
    check('-DTILE_N=32' in p.stdout, 'best does not print macros', p.stdout)
    # a shape never tuned: the nearest tuned one, marked; --exact refuses (issue 14)
    p = e.fw('--no-start', '--json', 'best', '--family', 'gemm', '--shape', 'M=48,N=64,K=64', rc=0)
    nb = json.loads(p.stdout)
    check(nb['nearest'] is True and nb['requested_shape_key'] == 'K=64,M=48,N=64' and nb['shape_key'] == 'K=64,M=64,N=64'
          and abs(nb['distance'] - math.log2(64 / 48)) < 1e-9 and 'log2' in nb['distance_rule']
          and nb['variant_key'] == b['variant_key'], 'best of an untuned shape is the nearest, flagged', nb)
    p = e.fw('--no-start', 'best', '--family', 'gemm', '--shape', 'M=48,N=64,K=64', rc=0)
    check(p.stdout.startswith('NOT TUNED: K=64,M=48,N=64 was never tuned; this is the nearest tuned shape, '
                              'K=64,M=64,N=64') and '--exact' in p.stdout, 'the text marks the nearest', p.stdout)
    p = e.fw('--no-start', 'best', '--family', 'gemm', '--shape', 'M=48,N=64,K=64', '--exact', rc=1)
    check('nothing verified is stored for gemm shape K=64,M=48,N=64' in p.stderr and 'ask again without --exact' in p.stderr,
          'best --exact refuses an untuned shape', p.stderr)
    p = e.fw('--no-start', '--json', 'best', '--family', 'gemm', '--shape', 'M=48,N=64,K=64', '--exact', rc=1)
    check(json.loads(p.stdout)['error']['data'] == {'shape_key': 'K=64,M=48,N=64', 'nearest_shape_key': 'K=64,M=64,N=64'},
          'best --exact --json names the nearest in the error data', p.stdout)

    # rerun + compare
    p = e.fw('--no-start', '--json', 'rerun', str(job), rc=0)
    r = json.loads(p.stdout)
    check(r['job']['parent'] == job, 'rerun has no parent link', r['job'])
    p = e.fw('--no-start', '--json', 'compare', str(job), str(r['job']['id']), rc=0)
    c = json.loads(p.stdout)
    check(c['same_variants'] is True, 'rerun did not give the same variants', c)
    check('kendall_tau' in c, 'compare reports no tau', c)
    p = e.fw('--no-start', 'compare', str(job), str(r['job']['id']), rc=0)
    check('same variant sequence: yes' in p.stdout, 'compare text', p.stdout)

    # --json on every query subcommand is one JSON document on stdout
    rid = r['job']['id']
    for args in (['status', str(job)], ['jobs'], ['rankings', str(job)], ['devices'], ['profiles'],
                 ['expand'] + TINY_GEMM, ['best', '--family', 'gemm', '--shape', 'M=64,N=64,K=64'],
                 ['compare', str(job), str(rid)], ['watch', str(rid)]):
        p = e.fw('--no-start', '--json', *args, rc=0)
        try:
            json.loads(p.stdout)
        except ValueError:
            raise Fail('%s --json is not one JSON document:\n%s' % (args[0], p.stdout))
    p = e.fw('--no-start', 'rankings', str(job), '--limit', '2', rc=0)
    check(re.search(r'\n\s+2\s+K=64,M=64,N=64', p.stdout) and not re.search(r'\n\s+3\s+K=64', p.stdout),
          'rankings --limit 2 table', p.stdout)

    # cancel: a long job holds the device, so the one submitted after it is still queued
    p = e.fw('--no-start', '--json', 'tune', '--profile', 'gemm_small', '--detach', rc=0)
    long_job = json.loads(p.stdout)['job']
    p = e.fw('--no-start', '--json', 'tune', *TINY_GEMM, '--detach', rc=0)
    queued = json.loads(p.stdout)['job']
    p = e.fw('--no-start', '--json', 'cancel', str(queued), rc=0)
    check(json.loads(p.stdout)['state'] == 'cancelled', 'cancel --json', p.stdout)
    p = e.fw('--no-start', 'watch', str(queued), rc=1)
    check('job %d cancelled' % queued in p.stdout, 'watch of a cancelled job', p.stdout)
    e.fw('--no-start', 'cancel', str(long_job), rc=0)
    p = e.fw('--no-start', 'jobs', '--state', 'cancelled', rc=0)
    check(re.search(r'\n\s*%d\s+cancelled' % queued, p.stdout), 'jobs --state cancelled', p.stdout)

    # the rest answer
    e.fw('--no-start', 'status', str(job), rc=0)
    e.fw('--no-start', 'status', '999', rc=1)
    e.fw('--no-start', 'jobs', rc=0)
    e.fw('--no-start', 'devices', rc=0)
    e.fw('--no-start', 'expand', *TINY_GEMM, rc=0)
    p = e.fw('--no-start', 'tune', '--profile', 'no_such_profile', rc=4)
    check('no_such_profile' in p.stderr, 'unknown profile message', p.stderr)


GEMM_MACROS = ['TILE_N', 'SIMDGROUPS_PER_TG', 'SG_M_TILES', 'SG_N_TILES', 'NUM_BUFFERS', 'TILE_K']


def gemm_user_source(e, body, name='k.cl'):
    """A user source with the gemm knobs' #ifndef guards and the given kernel text."""
    path = os.path.join(e.dir, name)
    with open(path, 'w') as f:
        for m in GEMM_MACROS:
            f.write('#ifndef %s\n#define %s 1\n#endif\n' % (m, m))
        f.write(body)
    return path


def case_multidev(e):
    """tune --devices on two PoCL devices (issue 17): the plain output says once that a device whose
    workers keep dying is taken out, the job ends done on the other; status names both devices."""
    need_daemon()
    e.env.update(POCL_DEVICES='pthread pthread', FAIRWAYD_TEST_FAULT='spread,kill-device@opencl:1')
    e.start_daemon(FAIRWAYD)
    p = e.fw('--no-start', 'devices', '--device', 'opencl:0', '--device', 'opencl:1', rc=0)
    check('opencl:0' in p.stdout and 'opencl:1' in p.stdout, 'fairway devices does not list two devices', p.stdout)
    p = e.fw('--no-start', 'tune', *TINY_GEMM, '--devices', '0,1', rc=0)
    line = 'device opencl:1 is taken out of job 1, which goes on on the others: its worker died or hung 3 times'
    check(p.stdout.count(line) == 1, 'tune does not say once that opencl:1 was taken out', p.stdout + e.log('daemon.log'))
    check('job 1 done: 4 of 4 evaluated' in p.stdout, 'the job did not end done on the other device', p.stdout)
    p = e.fw('--no-start', 'status', '1', rc=0)
    check('devices opencl:0, opencl:1;' in p.stdout, 'status does not name the job\'s devices', p.stdout)


def case_owndoc(e):
    """docs/own-kernel.md's gemm kernel and spec, as a user would copy them, tune and all verify."""
    need_daemon()
    doc = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'docs', 'own-kernel.md')).read()
    part = doc[doc.index('## A gemm kernel of yours'):]
    kernel = re.search(r'```c\n(.*?)```', part, re.S).group(1)
    spec = json.loads(re.search(r'```json\n(.*?)```', part, re.S).group(1))
    with open(os.path.join(e.dir, spec['source']['file']), 'w') as f:
        f.write(kernel)
    with open(os.path.join(e.dir, 'spec.json'), 'w') as f:
        json.dump(spec, f)
    e.start_daemon(FAIRWAYD)
    p = e.fw('--no-start', '--json', 'tune', '--spec', os.path.join(e.dir, 'spec.json'))
    check(p.returncode == 0, 'tune of the documented gemm kernel: exit %d' % p.returncode, p.stdout + p.stderr)
    job = json.loads(p.stdout)['job']
    check(job['counts']['ok'] == job['planned'] == spec['budget'], 'every variant verifies', job['counts'])


def case_ux(e):
    """Issue 19: failure reasons shown, errors as JSON, messages in the user's words."""
    need_daemon()
    e.start_daemon(FAIRWAYD)
    src = gemm_user_source(e, '__kernel void k(__global float *a) { int x = TILE_N + SIMDGROUPS_PER_TG + SG_M_TILES'
                              ' + SG_N_TILES + NUM_BUFFERS + TILE_K; not_declared_anywhere = x; }\n')
    bad = TINY_GEMM[:TINY_GEMM.index('--strategy')] + ['--strategy', 'grid', '--warmup', '0', '--iters', '1']
    bad = [a for a in bad if a not in ('--family', 'gemm')] + ['--family', 'gemm', '--source', src, '--entry', 'k']
    # item 1: every variant fails to compile -> exit 1, the first line of the failure class shown
    p = e.fw('--no-start', 'tune', *bad, rc=1)
    out = p.stdout
    m = re.search(r'\n  compile_error (\d+) \(first seq 0\): (.*)\n', out)
    check(m and int(m.group(1)) >= 2, 'tune does not show the compile error class', out)
    check('not_declared_anywhere' in m.group(2), 'the class line does not name the build error', out)
    check('fairway failures 1' in out, 'tune does not point at `fairway failures`', out)
    p = e.fw('--no-start', 'status', '1', rc=0)
    check(re.search(r'compile_error \d+ \(first seq 0\): .*not_declared_anywhere', p.stdout), 'status line', p.stdout)
    p = e.fw('--no-start', 'watch', '1', rc=1)
    check('compile_error' in p.stdout and 'not_declared_anywhere' in p.stdout, 'watch of the failed job', p.stdout)
    # failures: the full build log, filters, JSON
    p = e.fw('--no-start', 'failures', '1', rc=0)
    check(re.search(r'^seq 0 compile_error: shape K=64,M=64,N=64, knobs \S*TILE_N=32', p.stdout, re.M), 'failures row',
          p.stdout)
    check(p.stdout.count('not_declared_anywhere') >= 2, 'failures does not print each build log', p.stdout)
    p = e.fw('--no-start', '--json', 'failures', '1', '--limit', '1', rc=0)
    fl = json.loads(p.stdout)['failures']
    check(len(fl) == 1 and fl[0]['seq'] == 0 and fl[0]['status'] == 'compile_error'
          and 'not_declared_anywhere' in fl[0]['error'], 'failures --json', fl)
    p = e.fw('--no-start', 'failures', '1', '--status', 'verify_failed', rc=1)
    check('no failed evaluation with status verify_failed' in p.stdout, 'failures --status filter', p.stdout)
    # item 9: --json errors are one JSON object on stdout, with the exit code and the daemon's code
    p = e.fw('--no-start', '--json', 'failures', '1', '--status', 'bogus', rc=4)
    err = json.loads(p.stdout)['error']
    check(err['code'] == -32602 and err['exit'] == 4 and 'bogus' in err['message'], '--json daemon error', err)
    p = e.fw('--no-start', 'status', '999', '--json', rc=1)
    err = json.loads(p.stdout)['error']
    check(err['code'] == -32001 and err['command'] == 'status', '--json no such job', err)
    p = e.fw('--no-start', '--json', 'rankings', '1', '--bogus', rc=2)
    check(json.loads(p.stdout)['error']['exit'] == 2 and 'Try' in p.stderr, '--json usage error', p.stdout)
    # item 11: the message names the command the user ran and no protocol method
    p = e.fw('--no-start', 'tune', '--profile', 'no_such_profile', rc=4)
    check(p.stderr.startswith('fairway tune: ') and 'submit' not in p.stderr, 'tune error prefix', p.stderr)
    p = e.fw('--no-start', 'status', '999', rc=1)
    check('method' not in p.stderr and 'fairway jobs' in p.stderr, 'no-such-job wording', p.stderr)
    # item 2: a wrong --entry is refused at submit, naming the kernels the source declares; no job
    wrong = [a if a != 'k' else 'kx' for a in bad]
    p = e.fw('--no-start', 'tune', *wrong, rc=4)
    check("no function named 'kx' in k.cl" in p.stderr and 'its kernel functions: k' in p.stderr,
          'a wrong --entry is not caught at submit', p.stderr)
    p = e.fw('--no-start', '--json', 'jobs', rc=0)
    check(len(json.loads(p.stdout)['jobs']) == 1, 'the refused submission made a job', p.stdout)

    # items 3, 4: a verified job - finalist rows marked and said so; best names the kernel and source
    p = e.fw('--no-start', 'tune', *TINY_GEMM, rc=0)
    check('finalists (median marked *)' in p.stdout and re.search(r' \*\s+\S+\s+\S+\s+(preset|grid|random)', p.stdout),
          'finalist rows are not marked', p.stdout)
    p = e.fw('--no-start', '--json', 'best', '--family', 'gemm', '--shape', 'M=64,N=64,K=64', rc=0)
    b = json.loads(p.stdout)
    check(b['source_hash'] == '' and b['kernel'], 'best --json has no kernel / source hash', b)
    p = e.fw('--no-start', 'best', '--family', 'gemm', '--shape', 'M=64,N=64,K=64', rc=0)
    check('kernel: %s (the family\'s built-in source)' % b['kernel'] in p.stdout, 'best does not name the kernel',
          p.stdout)
    # item 7: --device and --all open devices; one that cannot open is listed with its reason
    p = e.fw('--no-start', 'devices', '--all', rc=0)
    check(all(sel in p.stdout for sel in ('opencl:0', 'cuda:0', 'metal:0')) and '?:' not in p.stdout,
          'devices --all', p.stdout)
    if 'could not open:' in p.stdout:
        check(re.search(r'\n  (cuda|metal):0: \S', p.stdout), 'a failed device without its reason', p.stdout)
    p = e.fw('--no-start', '--json', 'devices', '--device', 'metal:0', rc=0)
    check(any(d.get('selector') == 'metal:0' for d in json.loads(p.stdout)['devices']), 'devices --device', p.stdout)
    # item 8: a typo inside options is refused with a sentence naming it and the known keys
    spec = os.path.join(e.dir, 'typo.json')
    with open(spec, 'w') as f:
        json.dump({'profile': 'gemm_small', 'options': {'finalistz': 3}}, f)
    for cmd in ('tune', 'expand'):
        p = e.fw('--no-start', cmd, '--spec', spec, rc=4)
        check('unknown option "finalistz" in "options"' in p.stderr and 'finalists' in p.stderr, cmd + ' options typo',
              p.stderr)
    with open(spec, 'w') as f:
        json.dump({'profile': 'gemm_small', 'options': {'finalists': 2, 'early_stop': False}}, f)
    e.fw('--no-start', 'expand', '--spec', spec, '--limit', '1', rc=0)
    # a spec that carries a profile's own options (a copy of the profile, edited) is not refused
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'variants', 'profiles',
                           'mixed_bpw_fairway_glm47.json')) as f:
        prof_opts = json.load(f)['options']
    with open(spec, 'w') as f:
        json.dump({'profile': 'gemm_small', 'options': dict(prof_opts, finalists=2)}, f)
    e.fw('--no-start', 'expand', '--spec', spec, '--limit', '1', rc=0)
    # item 5: no budget asked for plans at most 40 per shape and says how to ask for all; 0 is all
    p = e.fw('--no-start', '--json', 'expand', '--family', 'gemm', '--shape', 'M=64,N=64,K=64', '--limit', '1', rc=0)
    check(json.loads(p.stdout)['planned'] == 40, 'default budget is not 40 per shape', p.stdout)
    p = e.fw('--no-start', 'expand', '--family', 'gemm', '--shape', 'M=64,N=64,K=64', '--limit', '1', rc=0)
    check(p.stdout.startswith('40 evaluations planned (at most 40 per shape;') and '--budget 0 for every' in p.stdout,
          'no note on the default budget', p.stdout)
    p = e.fw('--no-start', '--json', 'expand', '--family', 'gemm', '--shape', 'M=64,N=64,K=64', '--budget', '0',
             '--limit', '1', rc=0)
    check(json.loads(p.stdout)['planned'] > 40, 'budget 0 is not every valid variant', p.stdout)
    # item 6: expand prints its seed, and that seed makes tune run the same plan
    p = e.fw('--no-start', 'expand', *TINY_GEMM[:-2], rc=0)
    m = re.search(r'^seed (\d+) \(drawn for this expand; `tune --random-seed \1`', p.stdout, re.M)
    check(m, 'expand does not print its seed', p.stdout)
    p2 = e.fw('--no-start', '--json', 'expand', *TINY_GEMM[:-2], '--random-seed', m.group(1), rc=0)
    check(json.loads(p2.stdout)['spec']['seed'] == int(m.group(1)), 'the printed seed is not the plan seed', p2.stdout)
    check('\nseed %s\n' % m.group(1) in e.fw('--no-start', 'expand', *TINY_GEMM[:-2], '--random-seed', m.group(1)).stdout,
          'a given seed is not printed plainly')
    # issue 12: a kernel of one's own without a workload is pointed to the workload, its docs and examples
    vadd = os.path.join(e.dir, 'vadd.cl')
    with open(vadd, 'w') as f:
        f.write('__kernel void vadd(__global const float *a, __global const float *b, __global float *c) '
                '{ int i = get_global_id(0); c[i] = a[i] + b[i]; }\n')
    p = e.fw('--no-start', 'tune', '--source', vadd, '--entry', 'vadd', '--shape', 'n=1000000', rc=4)
    check('no "workload"' in p.stderr and 'docs/spec.md' in p.stderr and 'examples/' in p.stderr and
          '--spec FILE' in p.stderr, 'tune --source without a workload does not say what to add', p.stderr)
    # issue 19 item 12: a tune being followed while fairwayd is shut down says so, and what becomes of the job
    t = subprocess.Popen([FAIRWAY, '--socket', e.sock, '--no-start', 'tune', '--profile', 'gemm_small', '--budget', '12',
                          '--iters', '2', '--warmup', '0'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=e.env, stdin=subprocess.DEVNULL)
    first = ''
    while not first.startswith('progress: '):   # readiness: its first progress line
        first = t.stdout.readline()
        check(first != '', 'tune ended before its first progress line')
    p = e.fw('--no-start', 'shutdown', rc=0)
    out, err = t.communicate(timeout=300)
    check(t.returncode == 3 and 'fairwayd was shut down (`fairway shutdown`) while following job' in err and
          'resumes when fairwayd starts again' in err, 'tune followed through a shutdown: exit %d' % t.returncode,
          first + out + err)
    check(e.procs.pop(0).wait(timeout=120) == 0, 'the daemon shut down')
    e.start_daemon(FAIRWAYD)   # it resumes the job
    # issue 19 item 12: shutdown of an idle daemon returns once it has stopped (exit 0)
    p = e.fw('--no-start', 'shutdown', rc=0)
    check(re.match(r'fairwayd \(pid %d\) is stopping' % e.procs[0].pid, p.stdout) and
          p.stdout.rstrip().endswith('fairwayd stopped'), 'shutdown of the daemon', p.stdout)
    check(e.procs[0].wait(timeout=120) == 0 and not os.path.exists(e.sock), 'the daemon exited 0 and took its socket')


def main():
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
