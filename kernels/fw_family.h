/* fw_family.h - a kernel family: sources per dialect, default space and presets, and a workload
 * (seeded inputs for a shape, launch geometry from knobs, CPU reference, byte and flop counts).
 * DESIGN.md section 7.
 *
 * A family never talks to a device. The worker's harness (bench/) allocates the workload's buffers
 * on the device, binds fw_workload.args in order, launches with the geometry, and verifies the
 * output buffer against the reference.
 *
 * Sources are assembled by the family from the portable body plus the dialect's prelude and entry
 * points (kernels/common/). Knob values reach the compiler as macros only; the same knob values give
 * the host geometry through ->geometry(). A variant can never be timed with another's launch shape.
 */
#ifndef FW_FAMILY_H
#define FW_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_variants.h"

#define FW_FAMILY_VERSION 1

typedef enum fw_buf_role {
    FW_BUF_INPUT = 1,    /* host data uploaded once before the first launch */
    FW_BUF_OUTPUT = 2,   /* poisoned (0xFFFFFFFF) before the checked launch; every element must be written */
    FW_BUF_ACCUM = 3,    /* zeroed before the checked launch (kernel accumulates into it) */
    FW_BUF_SCRATCH = 4,  /* zeroed, not checked */
} fw_buf_role;

typedef enum fw_elem {
    FW_ELEM_F32 = 1, FW_ELEM_F16, FW_ELEM_U8, FW_ELEM_U16, FW_ELEM_U32, FW_ELEM_I32,
    /* declarative workloads' further types (kernels/declarative/) */
    FW_ELEM_F64, FW_ELEM_BF16, FW_ELEM_I8, FW_ELEM_I16, FW_ELEM_I64, FW_ELEM_U64,
} fw_elem;

typedef struct fw_wl_buffer {
    const char *name;     /* "A", "activations", ... (static string) */
    fw_buf_role role;
    fw_elem elem;
    size_t bytes;
    void *host;           /* FW_BUF_INPUT: the data (owned by the workload); NULL otherwise */
} fw_wl_buffer;

#define FW_WL_LOCAL (-2)   /* fw_wl_arg.buffer of threadgroup memory sized by the geometry */
#define FW_GEO_MAX_LOCAL 8 /* local-memory arguments in one launch */

typedef struct fw_wl_arg {
    int buffer;           /* index into buffers, -1 for a by-value blob, FW_WL_LOCAL for local memory */
    const void *bytes;    /* blob (owned by the workload) when buffer == -1 */
    size_t size;          /* the blob's size; buffer == FW_WL_LOCAL: its index in fw_geometry.local_bytes */
} fw_wl_arg;

typedef struct fw_geometry {
    uint32_t grid[3];
    uint32_t group[3];
    uint32_t dynamic_shared_bytes;
    int64_t shared_bytes;       /* threadgroup memory the variant needs (static + dynamic + local), for checks */
    uint32_t local_bytes[FW_GEO_MAX_LOCAL];   /* the FW_WL_LOCAL arguments' sizes (fw_wl_arg.local) */
    int nlocal;
} fw_geometry;

/* A further verified output (declarative workloads with several "out"/"inout" arguments): checked
 * like fw_workload.output, each with its own reference and tolerances. */
typedef struct fw_wl_output {
    int buffer;                 /* index into buffers */
    double *reference;          /* owned by the workload */
    size_t nreference;
    double tolerance, abs_tolerance;
} fw_wl_output;

typedef struct fw_workload {
    char kernel[128];           /* entry point to compile and launch, e.g. "gemm_tiled" */
    char mode[32];              /* family-specific: "decode", "grouped", "" */
    fw_wl_buffer *buffers;
    size_t nbuffers;
    fw_wl_arg *args;            /* binding order */
    size_t nargs;
    size_t min_args;            /* > 0: a kernel may declare only the first min_args .. nargs of them
                                 * (trailing arguments it may leave out: moe_swiglu's side and scratch,
                                 * read only by its v3 decode kernel) and is bound with those; 0: all */
    int output;                 /* index of the buffer verified against reference */
    double *reference;          /* expected output elements, computed in double */
    size_t nreference;
    double tolerance;           /* max relative L2 error ||out - ref|| / ||ref|| */
    double abs_tolerance;       /* > 0: also passes when every |out - ref| is at most this */
    size_t output_canary;       /* bytes past the output's elements that must keep the poison
                                 * (a write past the end of the buffer); not compared */
    double bytes;               /* minimum bytes one launch must read + write */
    double flops;               /* flops one launch does */
    cJSON *shape_macros;        /* optional {"NAME": int} passed as extra macros (may be NULL) */
    fw_wl_output *more_outputs; /* further verified outputs after `output` (owned; may be NULL), each */
    size_t nmore_outputs;       /* with output_canary bytes of canary past its elements */
    void *priv;                 /* family-private */
} fw_workload;

/* What a shape costs, worked out from the shape alone before any workload is built, so the daemon
 * can refuse at submit what would not fit (issue 15 item 12; job/cost.c). Bytes are what the
 * workload's fw_wl_buffer list would hold (routed moe weights: an upper bound, the routing is
 * seeded); host_bytes is what the worker holds on the host for the shape while it runs (the inputs'
 * host copies, the reference in double, two read-backs of the output, the reference's own scratch). */
typedef struct fw_wl_cost {
    char largest[48];           /* the largest buffer's name */
    double largest_bytes;       /* its bytes: the largest single device allocation of the workload */
    double device_bytes;        /* every buffer of the workload together */
    double input_bytes;         /* the input buffers' (what options.rotate_* copy again) */
    double host_bytes;
    double reference_ops;       /* multiply-adds of the reference computed on the host (0: none) */
} fw_wl_cost;

/* Add one buffer to a cost (kernels/common/workload.c): bytes to device_bytes (and input_bytes when
 * input), and to largest when it is the largest so far. */
void fw_wl_cost_add(fw_wl_cost *c, const char *name, double bytes, int input);

typedef struct fw_family {
    int version;                /* FW_FAMILY_VERSION */
    const char *name;           /* "gemm", "moe_swiglu" */
    const char *description;
    /* Default space, presets and shapes as JSON text:
     * {"knobs": {...}, "constraints": [...], "presets": [{...}, ...], "shapes": [{...}, ...]} */
    const char *defaults_json;

    /* Check a shape object, fill defaults; return -EINVAL with a message for a bad one. */
    int (*shape_check)(const cJSON *shape, char *err, size_t errlen);
    /* Canonical shape key ("K=256,M=256,N=256"); the store and "best" queries key on it. */
    int (*shape_key)(const cJSON *shape, char *buf, size_t len);
    /* Assemble the full source for a dialect ("opencl", "cuda", "metal"), malloc'd. */
    int (*source)(const char *dialect, const cJSON *shape, char **text, char *err, size_t errlen);
    /* Seeded inputs and reference for a shape. The same (shape, seed) gives the same bytes. */
    int (*workload_new)(const cJSON *shape, uint64_t seed, fw_workload **out, char *err, size_t errlen);
    void (*workload_free)(fw_workload *wl);
    /* Launch geometry for a variant: -EINVAL (with why) when the knobs cannot run this shape. */
    int (*geometry)(const fw_workload *wl, const fw_point *knobs, fw_geometry *out,
                    char *err, size_t errlen);
    /* Optional (NULL: not known; added without changing the version, a family without it works as
     * before): the cost of a shape (fw_wl_cost), without building it; -EINVAL as shape_check. */
    int (*cost)(const cJSON *shape, fw_wl_cost *out, char *err, size_t errlen);
} fw_family;

/* Registry (kernels/families.c). */
const fw_family *fw_family_find(const char *name);
const fw_family *const *fw_families(void);   /* NULL-terminated */

/* Helpers every family uses (kernels/common/workload.c). */
/* Seeded uniform floats in [lo, hi) from PCG32(seed, stream). */
void fw_fill_uniform_f32(float *dst, size_t n, uint64_t seed, uint64_t stream, float lo, float hi);
uint16_t fw_f32_to_f16(float f);
float fw_f16_to_f32(uint16_t h);
/* Allocate an empty workload with room for nbuffers/nargs (zeroed). */
fw_workload *fw_workload_alloc(size_t nbuffers, size_t nargs);
/* Frees buffers' host data, args' blobs (when buffer == -1), reference, more_outputs and their
 * references, shape_macros, the struct; not priv. */
void fw_workload_free_common(fw_workload *wl);

#endif
