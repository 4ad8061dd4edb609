/* fw_variants.h - knobs, points, constraint expressions, spaces, canonical keys, macros.
 *
 * A knob is a named integer compile-time parameter. A point assigns one value to each knob of a
 * space. A space is the knobs' value lists plus constraints: small integer expressions over knob
 * values, shape values and device limits (DESIGN.md section 3).
 *
 * Names visible to a constraint (all int64):
 *   - every knob of the space                     TILE_N, SIMDGROUPS_PER_TG, ...
 *   - every integer field of the shape            M, N, K (gemm); tokens, hidden, ... (moe_swiglu)
 *   - device limits, from fw_device_env()         DEVICE_MAX_THREADS, DEVICE_SHARED_BYTES,
 *                                                 DEVICE_SIMD_WIDTH, DEVICE_COMPUTE_UNITS
 * Expression grammar (C precedence, integer arithmetic, division by zero is an error):
 *   expr := or ; or := and ('||' and)* ; and := cmp ('&&' cmp)* ;
 *   cmp := add (('=='|'!='|'<'|'<='|'>'|'>=') add)? ; add := mul (('+'|'-') mul)* ;
 *   mul := unary (('*'|'/'|'%') unary)* ; unary := ('!'|'-') unary | primary ;
 *   primary := INTEGER | NAME | '(' expr ')'
 * Errors name what went wrong and where: "constraint 2 'TILE_N % ': expected a value at column 10".
 */
#ifndef FW_VARIANTS_H
#define FW_VARIANTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FW_NAME_MAX 48     /* knob / shape field names, including NUL */
#define FW_MAX_KNOBS 16    /* knobs in one space */
#define FW_MAX_VALUES 64   /* values in one knob's list */
#define FW_ENV_MAX 64      /* names in one evaluation environment */
#define FW_KEY_MAX 512     /* canonical variant key, including NUL */

typedef struct fw_kv {
    char name[FW_NAME_MAX];
    int64_t value;
} fw_kv;

/* A point: knob assignments kept sorted by name (fw_point_set keeps the order). */
typedef struct fw_point {
    size_t n;
    fw_kv kv[FW_MAX_KNOBS];
} fw_point;

void fw_point_clear(fw_point *p);
/* Insert or replace; returns -ENOSPC when full, -EINVAL for a bad name. */
int fw_point_set(fw_point *p, const char *name, int64_t value);
/* Returns 1 and stores the value when present, 0 otherwise. */
int fw_point_get(const fw_point *p, const char *name, int64_t *value);
/* Value or dflt. */
int64_t fw_point_value(const fw_point *p, const char *name, int64_t dflt);
/* Canonical key: "NUM_BUFFERS=2,SG_M_TILES=1,..." sorted by knob name. The same key always means the
 * same code. Returns the length, or -ENOSPC if it does not fit. */
int fw_point_key(const fw_point *p, char *buf, size_t len);
/* Parse a canonical key back ("A=1,B=2"); also accepts it unsorted. */
int fw_point_from_key(const char *key, fw_point *p, char *err, size_t errlen);
/* JSON object {"NAME": value, ...}, and back (values must be integers). */
cJSON *fw_point_to_json(const fw_point *p);
int fw_point_from_json(const cJSON *obj, fw_point *p, char *err, size_t errlen);

/* An evaluation environment: flat name -> value list (knobs + shape + device limits). */
typedef struct fw_env {
    size_t n;
    fw_kv kv[FW_ENV_MAX];
} fw_env;

void fw_env_clear(fw_env *e);
int fw_env_set(fw_env *e, const char *name, int64_t value);
/* Like fw_point_get: 1 and *value (value may be NULL) when present, 0 otherwise. fw_env_set replaces
 * an existing name; -ENOSPC when full, -EINVAL for a bad name. */
int fw_env_get(const fw_env *e, const char *name, int64_t *value);
/* Adds every integer field of a JSON object (a shape); other fields are skipped. */
int fw_env_add_json_ints(fw_env *e, const cJSON *obj);
int fw_env_add_point(fw_env *e, const fw_point *p);

/* Constraint expressions. */
typedef struct fw_expr fw_expr;
int fw_expr_parse(const char *text, fw_expr **out, char *err, size_t errlen);
/* Evaluate; an unknown name or a division by zero is an error (-EINVAL / -EDOM) naming it. */
int fw_expr_eval(const fw_expr *e, const fw_env *env, int64_t *out, char *err, size_t errlen);
/* fw_expr_eval that also adds the number of expression nodes it visited to *nodes (the measure of
 * a plan's work: short-circuited branches are not visited, so not counted). */
int fw_expr_eval_count(const fw_expr *e, const fw_env *env, int64_t *out, uint64_t *nodes, char *err,
                       size_t errlen);
/* Calls fn for every name the expression references (for "unknown name" checks before a job). */
void fw_expr_names(const fw_expr *e, void (*fn)(const char *name, void *ctx), void *ctx);
void fw_expr_free(fw_expr *e);

/* A space. */
typedef struct fw_knob {
    char name[FW_NAME_MAX];
    size_t nvalues;
    int64_t values[FW_MAX_VALUES];
} fw_knob;

typedef struct fw_space {
    size_t nknobs;
    fw_knob knobs[FW_MAX_KNOBS];   /* sorted by name */
    size_t nconstraints;
    char **constraint_text;
    fw_expr **constraints;
} fw_space;

/* From {"knobs": {"TILE_N": [32, 64], ...}, "constraints": ["TILE_N % 8 == 0", ...]}.
 * Rejects empty value lists, duplicate values, non-integers, too many knobs, malformed constraints. */
int fw_space_from_json(const cJSON *json, fw_space *out, char *err, size_t errlen);
cJSON *fw_space_to_json(const fw_space *s);
void fw_space_release(fw_space *s);
/* Number of points before constraints (product of list lengths; saturates at UINT64_MAX). */
uint64_t fw_space_size(const fw_space *s);
/* Does the point assign exactly the space's knobs, each to one of its listed values? (0 = yes;
 * -EINVAL with "unknown knob 'X'" / "TILE_N=48 is not in the space's list" otherwise.) */
int fw_space_check_point(const fw_space *s, const fw_point *p, char *err, size_t errlen);
/* Evaluate every constraint with env + the point: 1 valid, 0 invalid (why, if whynot != NULL:
 * the first failing constraint's text), < 0 on error (unknown name, division by zero). */
int fw_space_valid(const fw_space *s, const fw_point *p, const fw_env *ctx,
                   char *whynot, size_t whylen);
/* Enumerate the valid points in canonical order (odometer over knobs sorted by name, the last knob
 * varying fastest, values in listed order). Stops with -E2BIG when more than `limit` raw points
 * would be visited. *pts is malloc'd (free()). */
int fw_space_expand(const fw_space *s, const fw_env *ctx, size_t limit,
                    fw_point **pts, size_t *npts, char *err, size_t errlen);
/* Index of p in the odometer order (for stable ordering); -1 if not a point of the space. */
int64_t fw_space_index(const fw_space *s, const fw_point *p);
/* The point at odometer index idx (the inverse of fw_space_index); -ERANGE when idx >= size. */
int fw_space_point_at(const fw_space *s, uint64_t idx, fw_point *p);
/* Like fw_space_expand, but lists the valid points' odometer indices (ascending), 8 bytes a point
 * instead of a whole fw_point: what plans over large spaces use. *idx is malloc'd (free()). */
int fw_space_expand_indices(const fw_space *s, const fw_env *ctx, size_t limit,
                            uint64_t **idx, size_t *n, char *err, size_t errlen);

/* The work a plan may do, shared by every expansion of one plan (issue 15 item 2: a spec of
 * expensive constraints over a large space took minutes). nodes counts the constraint-expression
 * nodes evaluated; past max_nodes (0 = no bound) an expansion stops with -ETIME. cancel, when set
 * (from another thread: a client that went away, a daemon stopping), stops it with -ECANCELED; it
 * is read every FW_WORK_CHECK points. */
#define FW_WORK_CHECK 4096
typedef struct fw_work {
    uint64_t nodes;
    uint64_t max_nodes;
    const atomic_int *cancel;
} fw_work;
/* 0 to go on, -ETIME past the bound, -ECANCELED when cancelled (NULL work: always 0). */
int fw_work_check(const fw_work *w);
/* fw_space_expand_indices within work's bound (NULL: none); -ETIME / -ECANCELED with a sentence
 * saying how far it got. */
int fw_space_expand_work(const fw_space *s, const fw_env *ctx, size_t limit, fw_work *work, uint64_t **idx,
                         size_t *n, char *err, size_t errlen);
/* fw_space_valid counting its work (NULL: none): also -ETIME / -ECANCELED (checked at every call). */
int fw_space_valid_work(const fw_space *s, const fw_point *p, const fw_env *ctx, fw_work *work, char *whynot,
                        size_t whylen);

/* Rendering a point to preprocessor macros. aliases maps a knob name to the source's own macro name
 * ({"TILE_N": "MOE_TILE_N"}); NULL or a missing entry keeps the knob name. Each entry is written as
 * "NAME=VALUE" into out[i] (caller frees each with free()). */
int fw_point_macros(const fw_point *p, const cJSON *aliases, char ***out, size_t *n);
/* The same, where values {"KNOB": ["float", "float4"]} (a resolved spec's "knob_values", may be NULL)
 * gives a knob's macro text by its value's index: VEC=1 becomes VEC=float4. -EINVAL for an index
 * outside its list. */
int fw_point_macros_values(const fw_point *p, const cJSON *aliases, const cJSON *values, char ***out, size_t *n);
void fw_macros_free(char **m, size_t n);

/* Device limits as constraint names (DEVICE_MAX_THREADS, ...) from a device JSON object as reported
 * by the worker: {"limits": {"max_threads": 1024, "shared_bytes": 49152, "simd_width": 32,
 * "compute_units": 132}}. Missing limits are left out. Adds to e (does not clear it), so shape
 * fields and limits can share one environment; -EINVAL when a limit is not an integer. */
int fw_device_env(const cJSON *device, fw_env *e);

/* Profiles: named, ready job templates (variants/profiles.c). Each is JSON text:
 * {"name", "description", "family", "shapes": [...], "presets": [...], "space": {...}?, ...}.
 * Returns NULL for an unknown name. */
const char *fw_profile_json(const char *name);
/* NULL-terminated list of profile names. */
const char *const *fw_profile_names(void);

/* Helpers shared with search/ and kernels/ (added by the variants/search work):
 * 1 when name is a C identifier shorter than FW_NAME_MAX, else 0. */
int fw_variants_name_ok(const char *name);
/* 1 and *out when v is a JSON number holding an integer of magnitude <= 2^53 - 1 (the largest that
 * survives a JSON round trip exactly), else 0. */
int fw_variants_json_int(const cJSON *v, int64_t *out);

#endif
