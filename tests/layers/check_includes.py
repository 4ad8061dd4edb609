"""Imports point downward only (DESIGN.md section 2): every #include "..." of every part's C, header
and Objective-C files is checked against the parts it may use. A header belongs to the part whose
folder holds it; a part may use the parts below it, transitively (cli -> job -> variants is fine).

Run by meson (suite 'layers') with the source root as argv[1]; also by hand:
    python3 tests/layers/check_includes.py .
Prints every upward include it finds; fails on one that is not in KNOWN below. KNOWN is the debt of
today, written down so it cannot grow: fix one and delete its line (a stale line is reported as a
note, not a failure, so a fix and the line's removal need not land together)."""
import os
import re
import sys

# folder (relative to the root) -> part. The longest matching prefix wins (bench/worker is the worker).
PARTS = {
    "util": "core", "proto": "proto", "job": "job", "search": "search", "variants": "variants",
    "kernels": "kernels", "bench": "bench", "bench/worker": "worker", "opencl": "backends",
    "cuda": "backends", "metal": "backends", "replay": "replay", "db": "db", "daemon": "daemon",
    "cli": "cli",
}

# What each part may include directly (DESIGN.md section 2); core is allowed everywhere.
USES = {
    "cli": {"proto", "job"},
    "daemon": {"proto", "job", "db", "search"},
    "worker": {"proto", "job", "bench"},
    "bench": {"backends", "kernels"},
    # replay/ reads recorded spaces as data (a leaf over variants): a replayed spec's knobs and valid
    # points come from its file, so job/ reads it; the worker's replay device is bench/worker/replay.c.
    "job": {"search", "variants", "replay"},
    "replay": {"variants"},
    "search": {"variants"},
    "kernels": {"variants"},
    "backends": set(),
    "variants": set(),
    "db": set(),
    "proto": set(),
    "core": set(),
}

# Upward (or sideways) includes that exist today, each with why it is not fixed yet:
# (including file, included header).
KNOWN = {
    # Spec resolution and plans (job/) read the families' defaults, shape keys and declarative
    # workloads, which live in kernels/: DESIGN's job -> search/variants leaves that edge out. The
    # fit check at submit (job/cost.c) asks the same families what a shape costs.
    ("job/plan.c", "fw_family.h"),
    ("job/spec.c", "fw_family.h"),
    ("job/spec.c", "fw_declarative.h"),
    ("job/cost.c", "fw_family.h"),
    ("job/cost.c", "fw_declarative.h"),
    # The harness measures plan items (fw_plan, fw_spec_*), job-model types: DESIGN has the worker,
    # not bench/, use job/; until the harness takes plain items, bench/ includes the job header.
    ("bench/fw_bench.h", "fw_job.h"),
    # The daemon looks families up (shape keys, kernel names, default shapes) instead of reading a
    # typed resolved spec (fw_job_spec, issue 10); with job/ these go through it.
    ("daemon/sequence.c", "fw_family.h"),
    ("daemon/methods.c", "fw_family.h"),
    # Backends implement the interface that lives in bench/ (fw_backend.h, DESIGN.md section 5):
    # the interface belongs below both; until it moves to a leaf of its own, backends include it.
    ("opencl/fw_opencl.h", "fw_backend.h"),
    ("cuda/fw_cuda.h", "fw_backend.h"),
    ("metal/fw_metal.h", "fw_backend.h"),
}

# The same debt in the meson files: the backends find fw_backend.h by a path into bench/.
KNOWN_MESON = {
    ("opencl/meson.build", "../bench"),
    ("cuda/meson.build", "../bench"),
    ("metal/meson.build", "../bench"),
}

# A meson include_directories() that names a folder outside its own ("../search", "..") lets a
# part include another's headers without saying so in its dependencies.
MESON_LEAK = re.compile(r"include_directories\(([^)]*)\)")

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

# System headers only some parts may include: the store's SQL stays in db/ (the daemon asks the
# store's functions, it never prepares a statement of its own).
SYSTEM_ONLY = {"sqlite3.h": {"db"}}
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s+<([^>]+)>', re.M)

# Parts whose headers are private but for a public one (issue 10): a file outside the part's
# folder - another part, a test, a benchmark - may include only the public header. daemon/'s
# structs (daemon_int.h) and each file's functions (its own header) are the daemon's business.
PUBLIC_ONLY = {"daemon": {"fw_daemon.h"}}
# White-box exceptions: (including file, private header), each with why.
PUBLIC_KNOWN = {
    # The methods fuzzer feeds request lines straight to the dispatcher, a client and a request of
    # its own making: it needs the daemon's structs and the dispatch entry point (server.c's).
    ("tests/fuzz/fuzz_methods.c", "daemon_int.h"),
    ("tests/fuzz/fuzz_methods.c", "daemon_server.h"),
    # It stands in for main.c's log (main.c is not linked), to the prototype of daemon_main.h.
    ("tests/fuzz/fuzz_methods.c", "daemon_main.h"),
}


def part_of(rel):
    best = None
    for folder, part in PARTS.items():
        if rel == folder or rel.startswith(folder + "/"):
            if best is None or len(folder) > len(best[0]):
                best = (folder, part)
    return best[1] if best else None


def reach(part):
    seen, todo = {"core", part}, [part]
    while todo:
        for p in USES.get(todo.pop(), ()):
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def main(root):
    headers, sources, meson_files = {}, [], []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        top = rel_dir.split(os.sep)[0]
        if top.startswith("build") or top in (".git", "tests", "benchmarks", "examples", "scripts", "docs"):
            dirnames[:] = []
            continue
        for f in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, f)).replace(os.sep, "/")
            part = part_of(rel)
            if part is None:
                continue
            if f.endswith(".h"):
                if f in headers and headers[f][1] != part:
                    print("header %s exists in two parts (%s, %s)" % (f, headers[f][0], rel))
                    return 1
                headers[f] = (rel, part)
            if f == "meson.build":
                meson_files.append((rel, part))
            if f.endswith((".c", ".h", ".m")):
                sources.append((rel, part))
    bad, found, found_meson = [], set(), set()
    for rel, part in sorted(sources):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        ok = reach(part)
        for inc in SYSTEM_INCLUDE.findall(text):
            if inc in SYSTEM_ONLY and part not in SYSTEM_ONLY[inc]:
                bad.append("%s (%s): #include <%s> - only %s may" % (rel, part, inc, ", ".join(sorted(SYSTEM_ONLY[inc]))))
        for inc in INCLUDE.findall(text):
            if "/" in inc:
                bad.append("%s: #include \"%s\" reaches into another folder by path" % (rel, inc))
                continue
            if inc not in headers:
                continue   # generated (fw_config.h) or a system header written with quotes
            hpart = headers[inc][1]
            if hpart in ok:
                continue
            if (rel, inc) in KNOWN:
                found.add((rel, inc))
                continue
            bad.append("%s (%s): #include \"%s\" (%s) - %s may use only %s" %
                       (rel, part, inc, hpart, part, ", ".join(sorted(ok))))
    found_public = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir.split(os.sep)[0].startswith("build") or rel_dir.split(os.sep)[0] == ".git":
            dirnames[:] = []
            continue
        for f in filenames:
            if not f.endswith((".c", ".h", ".m", ".cc", ".cpp")):
                continue
            rel = os.path.normpath(os.path.join(rel_dir, f)).replace(os.sep, "/")
            with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            for inc in INCLUDE.findall(text):
                if inc not in headers:
                    continue
                hrel, hpart = headers[inc]
                folder = hrel.rsplit("/", 1)[0]
                if hpart not in PUBLIC_ONLY or inc in PUBLIC_ONLY[hpart] or rel.startswith(folder + "/"):
                    continue
                if (rel, inc) in PUBLIC_KNOWN:
                    found_public.add((rel, inc))
                    continue
                bad.append("%s: #include \"%s\" - %s is private to %s/; outside it include only %s" %
                           (rel, inc, inc, folder, ", ".join(sorted(PUBLIC_ONLY[hpart]))))
    for k in sorted(PUBLIC_KNOWN - found_public):
        print("# note: PUBLIC_KNOWN lists %s -> %s, which no longer happens: delete that line" % k)
    for rel, part in sorted(meson_files):
        with open(os.path.join(root, rel), encoding="utf-8") as fh:
            for args in MESON_LEAK.findall(fh.read()):
                for d in re.findall(r"'([^']*)'", args):
                    if (rel, d) in KNOWN_MESON:
                        found_meson.add((rel, d))
                    elif d == ".." or d.startswith("../"):
                        bad.append("%s: include_directories('%s') reaches outside %s" % (rel, d, part))
    for k in sorted(KNOWN_MESON - found_meson):
        print("# note: KNOWN_MESON lists %s -> %s, which no longer happens: delete that line" % k)
    for k in sorted(KNOWN - found):
        print("# note: KNOWN lists %s -> %s, which no longer happens (yet): delete that line once fixed" % k)
    for b in bad:
        print("not ok - " + b)
    print("%d include(s) checked in %d files, %d known exception(s) still present, %d problem(s)" %
          (sum(len(INCLUDE.findall(open(os.path.join(root, r), encoding="utf-8", errors="replace").read()))
               for r, _ in sources), len(sources), len(found), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
