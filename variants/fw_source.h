/* fw_source.h - users' own kernel sources (issue 6): include inlining and knob guard checks.
 *
 * A job may carry a user's kernel as text ("source": {"text", "name", "entries"/"entry",
 * "workload"}), with "aliases" mapping core knobs to the source's own macro names
 * (TILE_N -> MOE_TILE_N). Knob values reach the compiler only as preprocessor macros, so:
 *   - the daemon and the worker never read the user's files: the CLI sends one self-contained text,
 *     with local includes inlined by fw_source_inline_file();
 *   - a knob the source does not guard with #ifndef would be redefined by the source (or warn and be
 *     ignored), so every knob's macro must be guarded; fw_source_check_knobs() refuses the job
 *     before it starts and names the macro.
 * The files on disk are only ever read.
 */
#ifndef FW_SOURCE_H
#define FW_SOURCE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "fw_variants.h"

/* Deepest nesting of local includes (the top file is depth 0). */
#define FW_SOURCE_MAX_DEPTH 16

/* Read `path` and replace every local `#include "file"` (relative to the directory of the file
 * that includes it; absolute paths as written) with that file's text, recursively. System includes
 * (`#include <...>`) and includes through macros stay as they are, and so do #include lines inside
 * block comments. Each inlined file is framed by #line directives, so compiler messages still name
 * the user's file and line. A file that says `#pragma once` is inlined once (the pragma itself is
 * dropped: in one text it would refer to the whole text).
 * Errors (-ENOENT, -ELOOP, -ENOMEM, -EIO), with the including file and line:
 *   `kernels/moe.metal:12: cannot open "common.h" (looked for kernels/common.h): No such file or directory`
 *   `include cycle: a.metal -> b.h -> a.metal`
 *   `includes nested deeper than 16 levels at d17.h (from d16.h:1)`
 * *text is malloc'd (free()). */
int fw_source_inline_file(const char *path, char **text, char *err, size_t errlen);

/* Is `macro` guarded in `text` by `#ifndef MACRO` or `#if !defined(MACRO)` / `#if !defined MACRO`
 * (outside comments)? 1 yes, 0 no. */
int fw_source_has_guard(const char *text, const char *macro);

/* Check every knob of `space` against the source: its macro (the knob's name, or aliases[knob]) must
 * be guarded (fw_source_has_guard). `name` names the source in messages (may be NULL). Returns 0, or
 * -EINVAL naming the first knob that fails:
 *   `knob TILE_N reaches the source as macro MOE_TILE_N, but moe.metal never mentions MOE_TILE_N: the
 *    knob would change nothing (map it with "aliases": {"TILE_N": "..."})`
 *   `knob TILE_N reaches the source as macro MOE_TILE_N, but moe.metal does not guard it with
 *    #ifndef MOE_TILE_N: the source's own #define would override every value fairway passes (wrap the
 *    #define in #ifndef MOE_TILE_N ... #endif)` */
int fw_source_check_knobs(const char *text, const char *name, const fw_space *space, const cJSON *aliases,
                          char *err, size_t errlen);
/* The same where some knobs are bound to constants ("binds", fw_transform.h): a bound knob needs no
 * guard (it is not a macro); instead every bind must name exactly one literal declaration
 * (fw_binds_check). binds may be NULL. */
int fw_source_check_knobs_binds(const char *text, const char *name, const fw_space *space, const cJSON *aliases,
                                const cJSON *binds, char *err, size_t errlen);

#endif
