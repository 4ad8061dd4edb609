"""The worker prints records and never opens the store (DESIGN.md section 1): fairway-worker links no
SQLite and none of fairway's store code (db/, fw_db_*). Run by meson (suite 'layers') as
    check_worker_links.py WORKER DAEMON
It reads the built executables themselves, so what is checked is what was linked, whichever
meson.build line pulled it in (a dependency of a dependency included): a NEEDED libsqlite3, an
imported sqlite3_* symbol and a linked fw_db_* function all leave their names in the file. The
daemon, which does link the store, is the control: the same scan must find them there, or the scan
itself is broken."""
import sys

MARKS = (b"libsqlite3", b"sqlite3_", b"fw_db_")


def found(path):
    with open(path, "rb") as f:
        data = f.read()
    return [m.decode() for m in MARKS if m in data]


def main():
    if len(sys.argv) != 3:
        print("usage: check_worker_links.py WORKER DAEMON", file=sys.stderr)
        return 2
    worker, daemon = sys.argv[1], sys.argv[2]
    control = found(daemon)
    if "sqlite3_" not in control or "fw_db_" not in control:
        print(f"the scan finds no store code in {daemon}, which links it: the check is broken")
        return 1
    bad = found(worker)
    if bad:
        print(f"{worker} links store code ({', '.join(bad)}): the worker must never open the store; "
              "drop the db/ or sqlite3 dependency from its link line (bench/worker/meson.build and "
              "the dependencies it pulls in)")
        return 1
    print(f"{worker}: no SQLite, no fw_db_ (control {daemon}: {', '.join(control)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
