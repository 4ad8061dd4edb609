#!/usr/bin/env python3
"""`fairway transforms --source FILE` (cli/cli_transforms.c): the sites, the offer and the constants
of tests/variants/data/barriers.metal, moe_styles.metal, prefetch.cl and prefetch.metal, and the
usage errors.
usage: check_transforms_cli.py FAIRWAY DATA-DIR"""
import json, subprocess, sys

fairway, data = sys.argv[1], sys.argv[2]
fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("CHECK failed:", what, file=sys.stderr)


def run(*args):
    p = subprocess.run([fairway, "transforms", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


rc, out, err = run("--source", f"{data}/barriers.metal", "--json")
check(rc == 0, f"exit {rc}: {err}")
j = json.loads(out)
sites = [(s["function"], s["line"], s["proven"]) for s in j["sites"]]
check(sites == [("per_simdgroup", 11, True), ("across_groups", 22, False), ("across_groups", 24, False),
                ("no_shared", 31, True), ("passes_pointer", 39, False)], f"sites {sites}")
check(sorted(j["offer"]["binds"]) == ["SB_L11", "SB_L31"], f"offer {j['offer']}")
check(j["offer"]["space"]["knobs"]["SB_L11"] == [0, 1], "0/1 knob")
check(j["offer"]["binds"]["SB_L11"] == {"transform": "simdgroup_barrier", "function": "per_simdgroup",
                                        "lines": [11, 11]}, "bind object")
rc, out, err = run("--source", f"{data}/barriers.metal", "--json", "--unproven")
j = json.loads(out)
check(len(j["offer"]["binds"]) == 5 and j["offer"]["binds"]["SB_L22"].get("unproven") is True, "--unproven")
rc, out, err = run("--source", f"{data}/moe_styles.metal")
check(rc == 0 and "No site is proven, so none is offered" in out, out)
check("MOE_TILE_N                   10    64         constexpr yes" in out, out)
check("no: declared 2 times" in out, out)
rc, out, err = run("--source", f"{data}/moe_styles.metal", "--json")
c = {x["name"]: x for x in json.loads(out)["constants"]}
check(c["MOE_TILE_K"]["value"] == 16 and c["MOE_TILE_K"]["bindable"] and not c["DUP_TILE"]["bindable"], str(c))
# async_prefetch_hint: three sites in prefetch.cl, each offered as a PF_L<line> knob; none in Metal
rc, out, err = run("--source", f"{data}/prefetch.cl", "--json")
j = json.loads(out)
sites = [(s["transform"], s["function"], s["line"], s["proven"]) for s in j["sites"]]
check(sites == [("async_prefetch_hint", "dot_rows", 10, True), ("async_prefetch_hint", "tiles", 22, True),
                ("async_prefetch_hint", "strided", 32, True)], f"prefetch sites {sites}")
check(sorted(j["offer"]["binds"]) == ["PF_L10", "PF_L22", "PF_L32"], f"prefetch offer {j['offer']}")
check(j["offer"]["binds"]["PF_L22"] == {"transform": "async_prefetch_hint", "function": "tiles", "lines": [22, 22]},
      "prefetch bind object")
check(j["sites"][1]["replaces"] == "the loop body's statement" and j["sites"][0]["with"].startswith(" if ((k + (1))"),
      f"replaces/with {j['sites'][:2]}")
rc, out, err = run("--source", f"{data}/prefetch.metal")
check(rc == 0 and "0 transform sites" in out, f"prefetch.metal: {out}")
rc, out, err = run()
check(rc == 2 and "give --source FILE" in err, f"no --source: {rc} {err}")
rc, out, err = run("--source", f"{data}/no_such_file.metal")
check(rc == 1 and "cannot read" in err, f"missing file: {rc} {err}")
rc, out, err = run("--help")
check(rc == 0 and "Usage: fairway transforms" in out, "help")
print("transforms_cli:", "all checks passed" if not fails else f"{fails} check(s) failed")
sys.exit(1 if fails else 0)
