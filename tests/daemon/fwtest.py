"""Helpers for fairwayd end-to-end tests (standard library only).

Each test starts the real daemon in a private mkdtemp folder and waits on --ready-fd (EOF on a pipe),
never on a sleep. Paths come from the environment meson sets: FAIRWAYD, FAIRWAY_WORKER.
"""
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import traceback

FAIRWAYD = os.environ.get("FAIRWAYD", "fairwayd")
WORKER = os.environ.get("FAIRWAY_WORKER")
READY_TIMEOUT = 60.0   # a stuck start-up fails the test instead of hanging it
READ_TIMEOUT = 240.0

SMALL_GEMM = {"profile": "gemm_small", "shapes": [{"M": 64, "N": 64, "K": 64}], "budget": 6,
              "seed": 1234, "warmup": 1, "iters": 3}

failures = 0


def check(cond, what):
    """TAP-ish assertion that keeps going so one run shows every failure."""
    global failures
    if cond:
        print("ok - " + what, flush=True)
    else:
        failures += 1
        print("not ok - " + what, flush=True)


def finish():
    print("%d failure(s)" % failures, flush=True)
    sys.exit(1 if failures else 0)


@contextlib.contextmanager
def guarded(d):
    """Run one scenario against Daemon d: an unexpected exception prints its traceback and counts as a
    failure, with the daemon's log; d is cleaned up (killed, temp folder removed) either way."""
    try:
        yield d
    except Exception as e:
        traceback.print_exc()
        check(False, "unexpected %r\n%s" % (e, d.read_log()))
    finally:
        d.cleanup()


class RpcError(Exception):
    def __init__(self, err):
        super().__init__("%s: %s" % (err.get("code"), err.get("message")))
        self.code = err.get("code")
        self.message = err.get("message", "")
        self.data = err.get("data")


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1
        self.pending = []   # notifications read while waiting for a reply

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_line(self):
        """One line, or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_msg(self):
        line = self.read_line()
        return None if line is None else json.loads(line)

    def request(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_raw((json.dumps(msg) + "\n").encode())
        while True:
            m = self.read_msg()
            if m is None:
                raise EOFError("the daemon closed the connection")
            if m.get("id") == rid:
                return m
            self.pending.append(m)

    def call(self, method, params=None):
        m = self.request(method, params)
        if "error" in m:
            raise RpcError(m["error"])
        return m["result"]

    def error(self, method, params=None):
        """Call expecting an error; returns the error object (or None if it succeeded)."""
        m = self.request(method, params)
        return m.get("error")

    def next_notification(self):
        if self.pending:
            return self.pending.pop(0)
        return self.read_msg()

    def watch(self, job, until=None):
        """Follow a job's progress notifications to the final one (or until(params) is true)."""
        self.call("watch", {"job": job})
        seen = []
        while True:
            m = self.next_notification()
            if m is None:
                raise EOFError("connection closed during watch")
            if m.get("method") != "progress":
                continue
            seen.append(m["params"])
            if m["params"].get("final") or (until and until(m["params"])):
                return seen


class Daemon:
    def __init__(self, tmp=None, args=(), env=None, socket_path=None, db_path=None, default_paths=False):
        self.default_paths = default_paths
        self.tmp = tmp or tempfile.mkdtemp(prefix="fwd-")
        self.socket = socket_path or os.path.join(self.tmp, "d.sock")
        self.db = db_path or os.path.join(self.tmp, "fairway.db")
        self.log = os.path.join(self.tmp, "fairwayd.log")
        self.args = list(args)
        self.env = dict(os.environ)
        self.env["HOME"] = self.tmp
        for k in ("FAIRWAY_TEST_FAULT", "FAIRWAYD_TEST_FAULT", "FAIRWAY_TEST_DB_FULL", "FAIRWAY_TEST_DEVICE_MEM",
                  "FAIRWAY_TEST_DEVICE_ALLOC", "FAIRWAY_TEST_HOST_MEM"):
            self.env.pop(k, None)
        if WORKER:
            self.env["FAIRWAY_WORKER"] = WORKER
        if env:
            self.env.update(env)
        self.proc = None
        self.pids = []

    def start(self, expect_fail=False):
        r, w = os.pipe()
        paths = [] if self.default_paths else ["--socket", self.socket, "--db", self.db]
        cmd = [FAIRWAYD] + paths + ["--ready-fd", str(w), "--log", self.log] + self.args
        self.proc = subprocess.Popen(cmd, pass_fds=(w,), env=self.env, stdin=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE if expect_fail else None)
        os.close(w)
        self.pids.append(self.proc.pid)
        data = b""
        while True:
            ready, _, _ = select.select([r], [], [], READY_TIMEOUT)
            if not ready:
                os.close(r)
                self.proc.kill()
                raise RuntimeError("fairwayd did not become ready in %gs" % READY_TIMEOUT)
            chunk = os.read(r, 4096)
            if not chunk:
                break
            data += chunk
        os.close(r)
        path = data.decode().strip()
        if expect_fail:
            return path
        if path != self.socket:
            self.proc.wait(timeout=30)
            raise RuntimeError("fairwayd exited before ready (status %s); log:\n%s" %
                               (self.proc.returncode, self.read_log()))
        return path

    def client(self):
        return Client(self.socket)

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def terminate(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=30)

    def sanitizer_findings(self):
        """Sanitizer reports of the daemon itself in its log (workers share the log; their reports
        name their own pid and files)."""
        out = []
        for line in self.read_log().splitlines():
            if "runtime error:" in line and "daemon/" in line:
                out.append(line)
            elif any(("==%d==" % pid) in line for pid in self.pids) and "Sanitizer" in line:
                out.append(line)
        return out

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        found = self.sanitizer_findings()
        check(not found, "no sanitizer report from fairwayd" + ("".join("\n# " + f for f in found)))
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sql(self, query, args=()):
        con = sqlite3.connect(self.db, timeout=30)
        try:
            rows = con.execute(query, args).fetchall()
            con.commit()
            return rows
        finally:
            con.close()
