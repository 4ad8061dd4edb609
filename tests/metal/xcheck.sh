#!/usr/bin/env bash
# xcheck.sh - what Linux can check of metal/ without a Mac (docs/metal.md).
#   xcheck.sh native SRCROOT CC...   compile metal/*.c against fw_metal_objc.h's declarations with the
#                                    build's C compiler and with clang, -std=c11 -Wall -Wextra
#                                    -Wpedantic -Werror, at -O0 and -O2 (gcc's cast warning appears
#                                    only once optimisation folds the trampoline pointer)
#   xcheck.sh cross SRCROOT          clang -target arm64-apple-macos13 / x86_64-apple-macos13 -c, then
#                                    assert on the Mach-O objects' headers and undefined symbols
# Exit 77 (skip) with a message when a tool is missing; 1 with the reason on a failed check.
set -u
mode=${1:?mode}; root=${2:?source root}; shift 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fw-metal-xcheck.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
find_tool() { for t in "$@"; do command -v "$t" >/dev/null 2>&1 && { command -v "$t"; return 0; }; done; return 1; }
clang=$(find_tool clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14) || clang=""
srcs=("$root/metal/fw_metal.c" "$root/metal/fw_metal_objc.c")
inc=(-I"$root/metal" -I"$root/bench")
warn=(-std=c11 -Wall -Wextra -Wpedantic -Werror)

case "$mode" in
native)
    # The build's compiler is one command (it may be "ccache cc"); clang is a second, when present.
    [ $# -gt 0 ] || { echo "SKIP: no C compiler given" >&2; exit 77; }
    build_cc=("$@")
    check_with() {
        local name=$1; shift
        for o in -O0 -O2; do
            for s in "${srcs[@]}"; do
                "$@" "${warn[@]}" "$o" "${inc[@]}" -c "$s" -o "$tmp/out.o" 2>"$tmp/log" ||
                    bad "$name $o $(basename "$s"): $(cat "$tmp/log")"
            done
        done
        echo "native: $name -O0/-O2 checked"
    }
    check_with "$(basename "${build_cc[-1]}")" "${build_cc[@]}"
    if [ -n "$clang" ]; then check_with "$(basename "$clang")" "$clang"
    else echo "note: clang not found, only ${build_cc[*]} checked (Debian package: clang)"; fi
    ;;
cross)
    [ -n "$clang" ] || { echo "SKIP: clang is not installed (Debian package: clang), so no Mach-O cross-compile" >&2; exit 77; }
    nm=$(find_tool llvm-nm llvm-nm-19 llvm-nm-18 llvm-nm-17 llvm-nm-16 llvm-nm-15 llvm-nm-14) ||
        { echo "SKIP: llvm-nm is not installed (Debian package: llvm), so Mach-O symbols cannot be read" >&2; exit 77; }
    # Runtime symbols: only fw_metal_objc.o may name them; fw_metal.o goes through the table.
    runtime_common="_MTLCreateSystemDefaultDevice _objc_autoreleasePoolPop _objc_autoreleasePoolPush _objc_getClass _objc_msgSend _sel_registerName"
    libc="___error ___stack_chk_fail ___stack_chk_guard _bzero ___bzero _calloc _free _malloc _memcpy _memset _memmove _snprintf _sscanf _strchr _strcspn _strlen _strtoll _vsnprintf"
    for arch in arm64 x86_64; do
        target="$arch-apple-macos13"
        for s in "${srcs[@]}"; do
            b=$(basename "$s" .c)
            "$clang" -target "$target" "${warn[@]}" -O2 -nostdlibinc -isystem "$root/tests/metal/xinclude" \
                -DFW_METAL_NO_SDK -DFW_METAL_REAL_RUNTIME "${inc[@]}" -c "$s" -o "$tmp/$arch-$b.o" 2>"$tmp/log" ||
                { bad "$target $b.c does not compile: $(cat "$tmp/log")"; continue; }
            # Mach-O 64-bit magic (cffaedfe) and the CPU type: arm64 0x0100000c, x86_64 0x01000007.
            hdr=$(od -An -tx1 -N8 "$tmp/$arch-$b.o" | tr -d ' \n')
            want=$([ "$arch" = arm64 ] && echo cffaedfe0c000001 || echo cffaedfe07000001)
            [ "$hdr" = "$want" ] || bad "$target $b.o is not a 64-bit $arch Mach-O object (header $hdr)"
            "$nm" -u "$tmp/$arch-$b.o" | awk '{print $NF}' | sort -u >"$tmp/$arch-$b.undef"
        done
        objc="$tmp/$arch-fw_metal_objc.undef"; logic="$tmp/$arch-fw_metal.undef"
        [ -f "$objc" ] && [ -f "$logic" ] || continue
        for sym in $runtime_common; do
            grep -qx "$sym" "$objc" || bad "$target: fw_metal_objc.o does not reference $sym"
        done
        grep -qx "_objc_msgSend_fpret" "$objc" && bad "$target: _objc_msgSend_fpret referenced (double returns use objc_msgSend)"
        if [ "$arch" = arm64 ]; then
            grep -qx "_objc_msgSend_stret" "$objc" && bad "arm64: _objc_msgSend_stret referenced; it does not exist on arm64, a Mac link would fail"
            allowed_objc="$runtime_common"
        else
            grep -qx "_objc_msgSend_stret" "$objc" || bad "x86_64: MTLSize (24 bytes) returns need _objc_msgSend_stret, which is not referenced"
            allowed_objc="$runtime_common _objc_msgSend_stret"
        fi
        while read -r sym; do
            case " $allowed_objc " in *" $sym "*) ;; *) bad "$target: fw_metal_objc.o references $sym, outside the allowed list" ;; esac
        done <"$objc"
        while read -r sym; do
            case "$sym" in
            _objc_*|_sel_*|_MTL*|_class_*|_object_*) bad "$target: fw_metal.o references the runtime symbol $sym directly (all calls go through fw_metal_rt)" ;;
            _fw_metal_objc_runtime) ;;
            *) case " $libc " in *" $sym "*) ;; *) bad "$target: fw_metal.o references $sym, outside the allowed list" ;; esac ;;
            esac
        done <"$logic"
        grep -qx "_fw_metal_objc_runtime" "$logic" || bad "$target: fw_metal.o does not default to the real runtime table"
        echo "cross: $target objects checked ($(wc -l <"$objc") runtime symbols: $(tr '\n' ' ' <"$objc"))"
    done
    ;;
*)
    echo "usage: xcheck.sh native|cross SRCROOT [CC...]" >&2; exit 2 ;;
esac
exit $fail
