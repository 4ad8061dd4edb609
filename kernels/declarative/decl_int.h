/* decl_int.h - the declarative family's parsed workload (kernels/declarative/, fw_declarative.h):
 * decl_parse.c reads the spec's "workload" into a decl, declarative.c checks it before the job and
 * builds each shape's workload and each variant's geometry from it. */
#ifndef FW_DECL_INT_H
#define FW_DECL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_declarative.h"

#define DECL_MAX_ARGS 64
#define DECL_CANARY 64                       /* bytes of poison past every output */
#define DECL_BUFFER_MAX ((int64_t)1 << 34)   /* bytes; the device's own limit is checked at allocation */

enum { DIR_IN = 1, DIR_OUT, DIR_INOUT };
enum { INIT_NONE = 0, INIT_UNIFORM, INIT_NORMAL, INIT_ZEROS, INIT_ONES, INIT_IOTA, INIT_CONST };

typedef struct darg {
    char name[48];
    int scalar;          /* 0: a buffer (or local memory) */
    int local;           /* 1: OpenCL local memory ("local": TYPE), sized per variant; lidx its index */
    int lidx;
    fw_expr *rcount;     /* local memory: elements for the reference launch, over the shape (NULL: count) */
    int elem;            /* buffer element type, or the scalar's type */
    int dir, init;
    double p0, p1;       /* uniform [p0, p1), normal (mean p0, std p1), constant p0 */
    fw_expr *count;      /* buffer elements, over the shape; local memory's, over shape and knobs */
    fw_expr *value;      /* scalar expression over the shape (NULL: fvalue) */
    double fvalue;
    double rtol, atol;
    char *expected;      /* an output's expected values: a raw file, {FIELD} the shape's (NULL: reference) */
    int out_index;       /* an output's place: 0 is fw_workload.output, k the (k-1)-th of more_outputs */
} darg;

typedef struct decl {
    size_t nargs;
    darg args[DECL_MAX_ARGS];
    int nlocal;
    fw_expr *grid[3], *block[3], *rgrid[3], *rblock[3], *shared, *bytes, *flops;
    int ngrid, nblock, nrgrid, nrblock;
    char ref_entry[128];
    char *ref_text;
    int verify;
    int nout;            /* outputs ("out" or "inout") */
    int need_ref;        /* verify, and some output has no "expected" file: the reference kernel runs */
    fw_env shape_env;
} decl;

int decl_is_float(int elem);
const char *decl_type_name(int elem);   /* "f32" */
void decl_elem_store(int elem, void *p, size_t i, double v);
void decl_free(decl *d);
/* The spec's "workload" parsed, every expression compiled; each error a sentence naming the field. */
int decl_parse(const cJSON *w, decl **out, char *err, size_t errlen);

#endif
