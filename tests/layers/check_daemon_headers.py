"""Each daemon file's public surface in one small header (issue 10). daemon/ has three kinds of header:
fw_daemon.h, the public one (the pure pieces compare.c, eta.c, nearest.c and entry.c, which tests and
fuzzers use); daemon_int.h, the structs and constants the daemon's files share, which declares no
function; and daemon_FILE.h, the functions of FILE.c that other daemon files call. This checks, over
the daemon's .c and .h files, that:
  1. every non-static function or variable defined in FILE.c is declared in FILE.c's own header
     (daemon_FILE.h; fw_daemon.h for the public files) and in no other header;
  2. every function or variable a daemon_FILE.h declares is defined in FILE.c, fw_daemon.h's in one
     of the public files, and daemon_int.h declares none;
  3. a daemon_FILE.h declares only what another daemon file uses (the rest is static in FILE.c);
  4. FILE.c includes its own header first; a daemon_FILE.h includes no other daemon_*.h;
  5. a .c that uses a name of another file's header includes that header itself, and includes no
     daemon header it uses nothing of - so the include lines of each file say whom it calls.
(That no file outside daemon/ includes a header other than fw_daemon.h is check_includes.py's.)

Run by meson (suite 'layers') with the source root as argv[1]; also by hand:
    python3 tests/layers/check_daemon_headers.py .
Prints every problem; fails on any."""
import os
import re
import sys

PUBLIC_HEADER = "fw_daemon.h"
SHARED_HEADER = "daemon_int.h"
IDENT = re.compile(r"[A-Za-z_]\w*")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ANY_INCLUDE = re.compile(r'^\s*#\s*include\s+["<]([^">]+)[">]', re.M)
DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)", re.M)


def strip(text):
    """Comments, string and character literals and preprocessor lines blanked out."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(" ")
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        elif c == "#" and (i == 0 or text[i - 1] == "\n"):
            j = i
            while True:   # a preprocessor line, with its continuations
                k = text.find("\n", j)
                if k < 0:
                    j = n
                    break
                if text[k - 1] != "\\":
                    j = k
                    break
                j = k + 1
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def top_level(code):
    """The top-level declarations of stripped code: (text before its body or ';', has_body)."""
    chunks, depth, start, i = [], 0, 0, 0
    head = None
    while i < len(code):
        c = code[i]
        if c == "{":
            if depth == 0:
                head = code[start:i]
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0 and head is not None and head.rstrip().endswith(")") and "=" not in head:
                chunks.append((head.strip(), True))   # a function's body ends the definition
                head, start = None, i + 1
        elif c == ";" and depth == 0:
            chunks.append(((head if head is not None else code[start:i]).strip(), head is not None))
            head, start = None, i + 1
        elif c == "(" and depth == 0:
            # skip a parenthesised group at top level so the ';' inside a prototype's
            # __attribute__ or the '{' of a compound literal cannot split it
            d, j = 0, i
            while j < len(code):
                if code[j] == "(":
                    d += 1
                elif code[j] == ")":
                    d -= 1
                    if d == 0:
                        break
                j += 1
            i = j
        i += 1
    return [(t, b) for t, b in chunks if t]


def chunk_name(text):
    """(kind, name) of a top-level chunk: kind 'func', 'var', 'type' or None."""
    words = IDENT.findall(text)
    if not words:
        return None, None
    if words[0] == "typedef":
        m = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)", text)
        return "type", m.group(1) if m else words[-1]
    if words[0] in ("struct", "union", "enum") and "(" not in text and "=" not in text:
        return "type", words[1] if len(words) > 1 else None
    paren = text.find("(")
    eq = text.find("=")
    if paren >= 0 and (eq < 0 or paren < eq):
        before = IDENT.findall(text[:paren])
        return "func", before[-1] if before else None
    m = re.search(r"([A-Za-z_]\w*)\s*(\[[^\]]*\]\s*)*(=|$)", text.split("=")[0].rstrip() + ("=" if eq >= 0 else ""))
    return "var", m.group(1) if m else words[-1]


def header_names(text):
    """What a header declares: functions and variables (decls), and every name another file may use
    (decls, macros, typedefs, struct tags, enumerators)."""
    code = strip(text)
    decls, names = set(), set(DEFINE.findall(text))
    for chunk, _ in top_level(code):
        kind, name = chunk_name(chunk)
        if not name:
            continue
        names.add(name)
        if kind in ("func", "var"):
            decls.add(name)
    for body in re.findall(r"\benum\b[^{;]*\{([^}]*)\}", code):
        names.update(re.findall(r"([A-Za-z_]\w*)\s*(?:=[^,]*)?(?:,|$)", body))
    return decls, names


def c_definitions(text):
    """The non-static functions and variables a .c file defines, and its static ones."""
    public, private = set(), set()
    for chunk, has_body in top_level(strip(text)):
        kind, name = chunk_name(chunk)
        if kind not in ("func", "var") or not name:
            continue
        if kind == "func" and not has_body:
            continue   # a prototype
        words = IDENT.findall(chunk)
        if "extern" in words:
            continue
        (private if "static" in words else public).add(name)
    return public, private


def main(root):
    ddir = os.path.join(root, "daemon")
    files = sorted(os.listdir(ddir))
    sources = {f[:-2]: open(os.path.join(ddir, f), encoding="utf-8").read() for f in files if f.endswith(".c")}
    headers = {f: open(os.path.join(ddir, f), encoding="utf-8").read() for f in files if f.endswith(".h")}
    bad = []

    def own(stem):
        h = "daemon_%s.h" % stem
        return h if h in headers else PUBLIC_HEADER

    hdecl, hnames = {}, {}
    for h, text in headers.items():
        hdecl[h], hnames[h] = header_names(text)
    cdefs = {stem: c_definitions(text)[0] for stem, text in sources.items()}
    cused = {stem: set(IDENT.findall(strip(text))) for stem, text in sources.items()}
    cincs = {stem: INCLUDE.findall(text) for stem, text in sources.items()}
    public_files = sorted(s for s in sources if own(s) == PUBLIC_HEADER and s != "main")

    # 1. every definition declared in its own header, and only there
    for stem, defs in sorted(cdefs.items()):
        for name in sorted(defs - {"main"}):
            where = sorted(h for h in headers if name in hdecl[h])
            if own(stem) not in where:
                bad.append("daemon/%s.c defines %s, which its own header %s does not declare%s" %
                           (stem, name, own(stem), " (%s does)" % ", ".join(where) if where else
                            " (make it static if only %s.c uses it)" % stem))
            for h in where:
                if h != own(stem):
                    bad.append("daemon/%s declares %s, which daemon/%s.c defines: it belongs in %s" %
                               (h, name, stem, own(stem)))
    # 2. every declaration defined by the header's file
    for h in sorted(headers):
        if h == SHARED_HEADER:
            for name in sorted(hdecl[h]):
                bad.append("daemon/%s declares %s: it holds only shared types and constants; a function "
                           "goes in the header of the file that defines it" % (h, name))
            continue
        if h == PUBLIC_HEADER:
            definers = public_files
        else:
            m = re.fullmatch(r"daemon_(\w+)\.h", h)
            if not m or m.group(1) not in sources:
                bad.append("daemon/%s: a daemon header is fw_daemon.h, daemon_int.h or daemon_FILE.h of a "
                           "daemon/FILE.c" % h)
                continue
            definers = [m.group(1)]
        for name in sorted(hdecl[h]):
            if not any(name in cdefs[s] for s in definers):
                bad.append("daemon/%s declares %s, which %s does not define" %
                           (h, name, " or ".join("daemon/%s.c" % s for s in definers)))
            # 3. only what another daemon file uses
            if h != PUBLIC_HEADER and not any(name in cused[s] for s in sources if s not in definers):
                bad.append("daemon/%s declares %s, which no other daemon file uses: make it static in "
                           "daemon/%s.c" % (h, name, definers[0]))
    # 4. own header first; headers do not include each other
    for stem in sorted(sources):
        incs = ANY_INCLUDE.findall(sources[stem])
        if not incs or incs[0] != own(stem):
            bad.append("daemon/%s.c: its first #include must be its own header %s (it is %s)" %
                       (stem, own(stem), incs[0] if incs else "none"))
    for h, text in sorted(headers.items()):
        for inc in INCLUDE.findall(text):
            if inc in headers and inc not in (SHARED_HEADER, PUBLIC_HEADER):
                bad.append("daemon/%s includes %s: a file's header includes only daemon_int.h, so each .c "
                           "names the files it calls itself" % (h, inc))
    # 5. include lines say whom a file calls
    for stem, used in sorted(cused.items()):
        incs = set(cincs[stem])
        for h in sorted(headers):
            if h == SHARED_HEADER or h == own(stem):
                continue
            theirs = hnames[h] if h != PUBLIC_HEADER else hnames[h] - {"FW_DAEMON_H"}
            if h != PUBLIC_HEADER:
                theirs = theirs - {"FW_DAEMON_%s_H" % h[len("daemon_"):-2].upper()}
            hits = sorted((theirs & used) - cdefs[stem])
            if hits and h not in incs:
                bad.append("daemon/%s.c uses %s of %s without including it" % (stem, ", ".join(hits[:3]), h))
            if not hits and h in incs:
                bad.append("daemon/%s.c includes %s but uses nothing it declares" % (stem, h))

    for b in bad:
        print("not ok - " + b)
    ndecl = sum(len(v) for h, v in hdecl.items())
    print("%d daemon files, %d headers, %d declarations checked, %d problem(s)" %
          (len(sources), len(headers), ndecl, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
