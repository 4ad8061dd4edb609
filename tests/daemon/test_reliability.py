"""Reliability fixes of issue 15, each against the real daemon:
  1. a second daemon on the same store file through a symlink or a hard link is refused;
 10. the store, its -wal/-shm and the log are created 0600 (umask 022);
  4. a store with one damaged page is refused at start, with a sentence saying what to do.
"""
import os
import sqlite3
import stat

from fwtest import Daemon, check, finish, guarded

os.umask(0o022)


def refused(db_path):
    """Start a daemon on db_path that must be refused; returns (rc, stderr)."""
    other = Daemon(db_path=db_path)
    path = other.start(expect_fail=True)
    rc = other.proc.wait(timeout=60)
    err = other.proc.stderr.read().decode()
    other.proc.stderr.close()
    other.cleanup()
    return path, rc, err


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


d = Daemon()
with guarded(d):
    d.start()
    c = d.client()
    c.call("jobs", {})
    # 10: modes of what the daemon created (the WAL and shm exist once it has written).
    check(mode(d.db) == 0o600, "the store is created 0600 (%o)" % mode(d.db))
    for suffix in ("-wal", "-shm"):
        p = d.db + suffix
        check(os.path.exists(p) and mode(p) == 0o600, "the store's %s is 0600" % suffix)
    check(mode(d.log) == 0o600, "the log is created 0600 (%o)" % mode(d.log))
    # 1: the same file under other names.
    sym = os.path.join(d.tmp, "link.db")
    os.symlink(d.db, sym)
    hard = os.path.join(d.tmp, "hard.db")
    os.link(d.db, hard)
    for name, p in (("symlink", sym), ("hard link", hard)):
        path, rc, err = refused(p)
        check(path == "" and rc == 1, "a second daemon through a %s exits 1 without readiness" % name)
        check("another fairwayd already uses the store" in err,
              "and says another fairwayd uses the store: %s" % err.strip())
    check(c.call("jobs", {})["jobs"] == [], "the first daemon goes on, untouched")
    c.close()
    check(d.terminate() == 0, "clean exit")

    # 4: one damaged page in a copy of a store with some content.
    # A fairway store: let the daemon migrate an empty file, then add rows through SQLite.
    store = os.path.join(d.tmp, "store.db")
    e = Daemon(db_path=store)
    e.start()
    e.terminate()
    e.cleanup()
    con = sqlite3.connect(store)
    con.executemany("INSERT INTO sources(hash, text, created_at) VALUES (?, ?, 'now')",
                    [("h%d" % i, "k" * 600) for i in range(300)])
    con.commit()
    con.close()
    size = os.path.getsize(store)
    pages = size // 4096
    with open(store, "r+b") as f:
        f.seek((pages // 2) * 4096)
        f.write(b"\x5a" * 4096)
    path, rc, err = refused(store)
    check(path == "" and rc == 1, "a store with a damaged page is refused at start (rc %s)" % rc)
    check("is damaged" in err and "Restore a copy" in err, "with a sentence saying what to do: %s" % err.strip())
    check(os.path.getsize(store) == size, "and the damaged store is left as it was")
finish()
