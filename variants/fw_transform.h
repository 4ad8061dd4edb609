/* fw_transform.h - source transforms on an in-memory copy of a user's kernel (issue 13).
 *
 * The user's file is never written. A transform rewrites the text the compiler sees for one
 * variant; the harness hashes that text, so the variant's stored source hash is the hash of the
 * transformed text, and the knob values that drove the transform are in the variant's key.
 *
 * Constant override ("binds" in a job spec, `--bind KNOB=NAME` on `fairway tune`): a knob bound to a
 * named constant replaces that constant's integer literal with the knob's value. Recognised
 * declarations (outside comments; one declarator per statement):
 *     constant constexpr uint MOE_TILE_N = 64;       (Metal; any type, any qualifiers)
 *     static constexpr int TILE = 64u;  constexpr ... NAME{64};
 *     const int TILE_K = 16;  __constant const uint X = 4;
 *     #define NAME 64                                (the whole replacement is one literal)
 * Literals: decimal or hex integers, with an optional u/U/l/L suffix, which is kept. A bound knob is
 * not passed as a macro (its value is in the text). Exactly one declaration must match: none, or
 * several (say one per #if branch), is an error before the job starts that names the declaration
 * and the lines.
 */
#ifndef FW_TRANSFORM_H
#define FW_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_variants.h"

#define FW_CONST_MAX 16    /* declarations of one name reported */

typedef struct fw_const_decl {
    int line;              /* from 1 */
    size_t lit_off;        /* the literal's digits (without suffix) in the text */
    size_t lit_len;
    int literal;           /* 1 when the value is an integer literal; 0: a declaration with another value */
    int64_t value;         /* when literal */
    const char *style;     /* static: "constexpr", "const", "#define" */
} fw_const_decl;

/* Every declaration of `name` in `text` (up to max; *n counts all of them). 0, or -EINVAL for a bad
 * name. */
int fw_const_find(const char *text, const char *name, fw_const_decl *out, size_t max, size_t *n);

/* Every integer-literal constant declaration in text, in text order (what `fairway transforms`
 * lists as bindable): up to max into out, with names[i] the declared name; *n counts all. A name
 * declared more than once cannot be bound (fw_binds_check says so). */
int fw_const_list(const char *text, fw_const_decl *out, char (*names)[FW_NAME_MAX], size_t max, size_t *n);

/* Check a spec's "binds" ({"KNOB": "CONSTANT"} or {"KNOB": {site}}, below) against the source text: each knob must be in the
 * space and not aliased, each constant declared exactly once with an integer literal. `src` names
 * the source in messages (may be NULL). Messages, for example:
 *   `bind TILE_N -> MOE_TILE_N: moe.metal declares MOE_TILE_N 2 times (lines 12, 30), so fairway
 *    cannot tell which one to override (keep one declaration, or bind another name)`
 *   `bind TILE_N -> MOE_TILE_M: moe.metal has no declaration of MOE_TILE_M (looked for
 *    "constant constexpr T MOE_TILE_M = <integer>;", "const T ... = <integer>;" and
 *    "#define MOE_TILE_M <integer>"); it is mentioned on lines 40, 41` */
int fw_binds_check(const char *text, const char *src, const cJSON *binds, const fw_space *space,
                   const cJSON *aliases, char *err, size_t errlen);

/* Is `knob` bound (a key of binds)? */
int fw_binds_has(const cJSON *binds, const char *knob);

/* The text one variant compiles: *text (malloc'd) is replaced by a new malloc'd text with every
 * bind of spec "binds" applied for point p, and *macro_point gets p without the bound knobs (what
 * reaches the compiler as macros). A spec without binds leaves *text as it is. Errors as
 * fw_binds_check's (the source may have changed since the spec was checked). */
int fw_transform_render(const cJSON *spec, const fw_point *p, char **text, fw_point *macro_point, char *err,
                        size_t errlen);

/* ---- structural transforms (variants/structural.c) ------------------------------------------
 *
 * simdgroup_barrier: a barrier whose threadgroup memory is only exchanged within one SIMD group
 * becomes the SIMD-group barrier of its dialect:
 *     Metal   threadgroup_barrier(mem_flags::mem_threadgroup) -> simdgroup_barrier(mem_flags::mem_threadgroup)
 *     OpenCL  barrier(CLK_LOCAL_MEM_FENCE) (or work_group_barrier) -> sub_group_barrier(CLK_LOCAL_MEM_FENCE)
 *     CUDA    __syncthreads() -> __syncwarp()
 * Sites are looked for in kernel entry functions only (kernel / __kernel / __global__). A site is
 * "proven" by a conservative textual analysis of its whole function (docs/transforms.md): every use
 * of a threadgroup object (threadgroup / __local / __shared__ declarations) is subscripted with a
 * SIMD-group id as its first index, or the function uses no threadgroup memory (never enough for
 * CUDA, whose barrier also orders global memory). Anything else is "unproven", with the reason.
 *
 * A site is tuned by binding a 0/1 knob to it:
 *     "binds": {"SB_L33": {"transform": "simdgroup_barrier", "function": "moe_decode", "lines": [30, 40]}}
 * The function and line range must hold exactly one site; an unproven site is refused unless the
 * bind says "unproven": true. Value 1 rewrites the site; 0 leaves the text as it is.
 *
 * async_prefetch_hint (variants/prefetch.c): a counted loop of a kernel entry whose body loads
 * global memory at an index that follows the loop variable gets, at the top of its body and on the
 * same line, a prefetch of the addresses the next iteration loads, under the loop's own condition
 * for that iteration:
 *     OpenCL  for (uint k = 0; k < K; k++) { acc += A[r * K + k]; ...
 *          -> for (uint k = 0; k < K; k++) { if ((k + (1)) < K) { prefetch(&A[r * K + (k + (1))], 1); } acc += ...
 *     CUDA    the same with asm volatile("prefetch.L2 [%0];" :: "l"(&A[...]));
 * (an unbraced body is wrapped in braces). Metal has no prefetch built-in: no Metal loop is a site.
 * A site is always "proven": a prefetch changes no result, and the guard keeps its address one the
 * next iteration reads. docs/transforms.md lists the conditions a loop and a load must meet. */
#define FW_XFORM_NAME_MAX 64
#define FW_XFORM_WHY_MAX 200
#define FW_XFORM_WITH_MAX 640
#define FW_XFORM_FUNCS_MAX 256
#define FW_XFORM_SITES_MAX 256

typedef struct fw_xform_site {
    const char *transform;            /* static: "simdgroup_barrier", "async_prefetch_hint" */
    const char *dialect;              /* static: "metal", "opencl", "cuda" */
    char function[FW_XFORM_NAME_MAX];
    int line;                         /* of the call (the loop's `for`), from 1 */
    int fn_first, fn_last;            /* the function body's lines */
    size_t off, len;                  /* the bytes the transform replaces (len 0: an insertion at off) */
    char with[FW_XFORM_WITH_MAX];     /* what replaces them */
    int proven;
    char why[FW_XFORM_WHY_MAX];       /* why proven or not */
} fw_xform_site;

/* Every site of every structural transform in text, in text order (up to max; *n counts all). */
int fw_xform_sites(const char *text, fw_xform_site *out, size_t max, size_t *n);

/* The kernel entry points defined in text (Metal `kernel void`, OpenCL `__kernel`/`kernel`, CUDA
 * `__global__`, comments and strings masked; declarations without a body skipped), in text order:
 * names[0..min(count, max)). Returns the count, or -ENOMEM. The scan fw_xform_sites uses. */
int fw_xform_kernels(const char *text, char (*names)[FW_XFORM_NAME_MAX], size_t max);

/* Does any knob of p switch a structural site on (a bind object with a non-zero value)? Such a
 * variant's origin is "structural". */
int fw_transform_structural(const cJSON *spec, const fw_point *p);
/* Does any bind of spec rewrite the text for p (a bound constant, or a site switched on)? Such a
 * variant must verify on several seeded inputs and repeated launches (bench/verify.c). */
int fw_transform_applies(const cJSON *spec, const fw_point *p);

/* For answers about a stored variant (the daemon's "best"): *macro_point = p without the knobs
 * binds binds (what is passed as macros), and a new object {"constants": {"MOE_TILE_N": 128},
 * "transforms": [{bind of each site switched on}]} saying what the rest does to the source, or
 * NULL when binds binds none of p's knobs. */
cJSON *fw_binds_describe(const cJSON *binds, const fw_point *p, fw_point *macro_point);

#endif
