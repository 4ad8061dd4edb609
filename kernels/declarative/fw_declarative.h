/* fw_declarative.h - declarative workloads: a user kernel's arguments, launch geometry, reference
 * and byte/flop counts described in the job spec's "workload" object (docs/spec.md, "Declarative
 * workloads"; DESIGN.md section 7; issue 12). No C is written for such a kernel.
 *
 * The family "declarative" has no source and no default space: the spec brings both. Its table's
 * workload_new refuses (the shape alone says nothing); the harness builds the workload with
 * fw_decl_workload_new from the spec's "workload", and then, once per shape, launches the reference
 * kernel on the same inputs (bench/decl_ref.c) to fill wl->reference.
 */
#ifndef FW_DECLARATIVE_H
#define FW_DECLARATIVE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_family.h"
#include "fw_variants.h"

#define FW_DECL_FAMILY "declarative"

extern const fw_family fw_family_declarative;

/* Check a "workload" object against the shapes and the space's knobs before a job starts. Every
 * error is a sentence naming the argument or field: an unknown element type, an expression with a
 * name that is neither a shape field (sizes, scalars, the reference's geometry) nor a knob (the
 * variant's geometry), a reference entry that is no function of its source. 0 or -EINVAL. */
int fw_decl_check(const cJSON *workload, const char *source_text, const cJSON *shapes, const fw_space *space,
                  char *err, size_t errlen);

/* The workload for one shape: buffers with seeded inputs (PCG32 from seed, one stream per argument,
 * so the bytes are the same on every machine), outputs followed by canary words, scalars by value,
 * local memory sized per variant by the geometry (FW_WL_LOCAL). knobs is the space's {"NAME":
 * [values]} (may be NULL): an input whose count names knobs is as long as its largest count over
 * them. wl->reference is left NULL when a reference kernel must fill it (fw_decl_reference_plan). */
int fw_decl_workload_new(const cJSON *workload, const cJSON *shape, const cJSON *knobs, uint64_t seed,
                         fw_workload **out, char *err, size_t errlen);

/* What fw_decl_workload_new would allocate for a shape, without allocating it (fw_wl_cost): each
 * buffer's elements times its type's size (an output's canary words included; a count over knobs
 * at its largest); host_bytes the inputs' host copies and each output's reference and read-backs;
 * reference_ops the elements of "expected" files (a reference kernel runs on the device). */
int fw_decl_cost(const cJSON *workload, const cJSON *shape, const cJSON *knobs, fw_wl_cost *out, char *err,
                 size_t errlen);

/* The workload's argument names in order, "in, out, n, chunk" (for messages). */
void fw_decl_arg_names(const fw_workload *wl, char *buf, size_t len);

/* What the harness needs to run the reference once: its entry (and source text, NULL for the job's
 * own source) and geometry (local memory from each reference_count, else count, over the shape).
 * 0 with *entry NULL when there is no reference kernel (verify false). */
int fw_decl_reference_plan(const fw_workload *wl, const char **entry, const char **text, fw_geometry *geo,
                           char *err, size_t errlen);

/* 1 when the spec's workload turns verification off ("verify": false): results are unverified. */
int fw_decl_unverified(const fw_workload *wl);

/* Size of one element of a fw_elem type, and its value as a double for comparison. */
size_t fw_elem_size(int elem);
double fw_elem_value(int elem, const void *p, size_t i);

#endif
