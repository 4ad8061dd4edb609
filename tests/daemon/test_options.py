"""Command line and default paths: --help, bad options, XDG_RUNTIME_DIR / HOME defaults with 0700
folders, FAIRWAY_SOCKET / FAIRWAY_DB overrides, SIGINT as a clean stop, a missing worker."""
import os
import signal
import stat
import subprocess
import tempfile

from fwtest import FAIRWAYD, SMALL_GEMM, Daemon, check, finish

h = subprocess.run([FAIRWAYD, "--help"], capture_output=True, text=True, timeout=30)
check(h.returncode == 0, "--help exits 0")
for opt in ("--socket", "--db", "--worker", "--ready-fd", "--max-clients", "--max-jobs", "--reply-queue-max",
            "--variant-timeout", "--log",
            "FAIRWAY_SOCKET", "FAIRWAY_DB", "FAIRWAY_WORKER", "XDG_RUNTIME_DIR", "SIGTERM", "Exit status"):
    check(opt in h.stdout, "--help explains %s" % opt)
b = subprocess.run([FAIRWAYD, "--max-clients", "zero"], capture_output=True, text=True, timeout=30)
check(b.returncode == 2 and "--max-clients" in b.stderr, "a bad option value exits 2 and names it")
b = subprocess.run([FAIRWAYD, "--ready-fd", "97"], capture_output=True, text=True, timeout=30)
check(b.returncode == 2 and "97" in b.stderr, "a closed --ready-fd is refused")

# Defaults: socket under $XDG_RUNTIME_DIR/fairway, store under ~/.local/state/fairway, folders 0700.
tmp = tempfile.mkdtemp(prefix="fwd-")
run = os.path.join(tmp, "run")
os.mkdir(run, 0o700)
d = Daemon(tmp=tmp, env={"XDG_RUNTIME_DIR": run, "HOME": tmp}, default_paths=True)
d.socket = os.path.join(run, "fairway", "fairwayd.sock")
d.db = os.path.join(tmp, ".local", "state", "fairway", "fairway.db")
try:
    path = d.start()
    check(path == d.socket, "default socket is $XDG_RUNTIME_DIR/fairway/fairwayd.sock (%s)" % path)
    check(stat.S_IMODE(os.stat(os.path.dirname(d.socket)).st_mode) == 0o700, "socket folder created 0700")
    check(os.path.exists(d.db), "default store is ~/.local/state/fairway/fairway.db")
    check(stat.S_IMODE(os.stat(os.path.dirname(d.db)).st_mode) == 0o700, "store folder created 0700")
    d.proc.send_signal(signal.SIGINT)
    check(d.proc.wait(timeout=60) == 0, "SIGINT stops cleanly with status 0")
finally:
    d.cleanup()

# No XDG_RUNTIME_DIR: the socket goes under ~/.local/state/fairway. Env overrides win over defaults.
tmp = tempfile.mkdtemp(prefix="fwd-")
env = {"HOME": tmp, "XDG_RUNTIME_DIR": ""}
d = Daemon(tmp=tmp, env=env, default_paths=True)
d.socket = os.path.join(tmp, ".local", "state", "fairway", "fairwayd.sock")
try:
    check(d.start() == d.socket, "without XDG_RUNTIME_DIR the socket is ~/.local/state/fairway/fairwayd.sock")
    check(d.terminate() == 0, "clean exit")
finally:
    d.cleanup()
tmp = tempfile.mkdtemp(prefix="fwd-")
sock, db = os.path.join(tmp, "env.sock"), os.path.join(tmp, "env.db")
d = Daemon(tmp=tmp, env={"HOME": tmp, "FAIRWAY_SOCKET": sock, "FAIRWAY_DB": db}, default_paths=True)
d.socket, d.db = sock, db
try:
    check(d.start() == sock and os.path.exists(db), "FAIRWAY_SOCKET and FAIRWAY_DB override the defaults")
    check(d.terminate() == 0, "clean exit")
finally:
    d.cleanup()

# A worker that does not exist: the job fails and says how to fix it; the daemon goes on.
d = Daemon(args=["--worker", "/nonexistent/fairway-worker"])
try:
    d.start()
    c = d.client()
    r = c.call("submit", {"spec": SMALL_GEMM})
    st = c.call("status", {"job": r["job"]})
    check(st["state"] == "failed" and "FAIRWAY_WORKER" in (st["error"] or ""),
          "missing worker fails the job with a fix: %s" % st["error"])
    check(c.call("profiles", {})["profiles"], "the daemon goes on")
    c.close()
    check(d.terminate() == 0, "clean exit")
finally:
    d.cleanup()
finish()
