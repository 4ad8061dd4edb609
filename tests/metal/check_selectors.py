#!/usr/bin/env python3
"""check_selectors.py SRCROOT - metal/fw_metal.c's selectors and classes against metal/selectors.txt.

Both ways: every selector or class the code names is in the reviewed list, and every listed entry is
still named by the code. Also: every selector of the FW_METAL_SELECTORS list is really sent (a field
`s.NAME` is used), and no other file of metal/ names a selector or class by string.
"""
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
code = (root / "metal" / "fw_metal.c").read_text()
objc = (root / "metal" / "fw_metal_objc.c").read_text()
errors = []


def block(name):
    m = re.search(r"#define %s\(X\)(.*?)\n\n" % name, code, re.S)
    if not m:
        errors.append("fw_metal.c has no %s list" % name)
        return []
    return re.findall(r'X\((\w+),\s*"([^"]+)"\)', m.group(1))


sels = block("FW_METAL_SELECTORS")
classes = block("FW_METAL_CLASSES")
# selectors registered outside the list: rt->sel("...") / ->sel("...")
loose = re.findall(r'->sel\("([^"]+)"\)', code)
code_sels = {t for _, t in sels} | set(loose)
code_classes = {t for _, t in classes}

listed_sels, listed_classes = set(), set()
for n, line in enumerate((root / "metal" / "selectors.txt").read_text().splitlines(), 1):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    parts = line.split()
    if len(parts) != 2 or parts[0] not in ("sel", "class"):
        errors.append("selectors.txt line %d: expected 'sel NAME' or 'class NAME', got %r" % (n, line))
        continue
    (listed_sels if parts[0] == "sel" else listed_classes).add(parts[1])

for s in sorted(code_sels - listed_sels):
    errors.append("selector '%s' is used by fw_metal.c but not in metal/selectors.txt: review it, then list it" % s)
for s in sorted(listed_sels - code_sels):
    errors.append("selector '%s' is listed in metal/selectors.txt but fw_metal.c no longer uses it: remove it" % s)
for c in sorted(code_classes - listed_classes):
    errors.append("class '%s' is looked up by fw_metal.c but not in metal/selectors.txt" % c)
for c in sorted(listed_classes - code_classes):
    errors.append("class '%s' is listed in metal/selectors.txt but not looked up by fw_metal.c" % c)
for field, text in sels:
    if not re.search(r"\bs\.%s\b" % re.escape(field), code):
        errors.append("selector '%s' (field %s) is registered but never sent: remove it" % (text, field))
for field, text in classes:
    if not re.search(r"\bc\.%s\b" % re.escape(field), code):
        errors.append("class '%s' (field %s) is looked up but never messaged: remove it" % (text, field))
for sel in re.findall(r'sel_registerName\("([^"]+)"\)|objc_getClass\("([^"]+)"\)', objc):
    errors.append("fw_metal_objc.c names '%s' directly: selectors and classes belong in fw_metal.c's lists" % "".join(sel))
for s in code_sels:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(:([A-Za-z_][A-Za-z0-9_]*:)*)?", s):
        errors.append("selector '%s' is not well formed" % s)

for e in errors:
    print("FAIL:", e, file=sys.stderr)
if not errors:
    print("selectors: %d selectors and %d classes match metal/selectors.txt both ways" % (len(code_sels), len(code_classes)))
sys.exit(1 if errors else 0)
