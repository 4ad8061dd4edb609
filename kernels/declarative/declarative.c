/* declarative.c - the "declarative" family: a workload read from the job spec (fw_declarative.h).
 *
 * The spec's "workload" is parsed into a decl (expressions compiled once) for the check before the
 * job and again for each shape's workload; the decl is the workload's priv, so geometry() evaluates
 * the launch expressions over the shape and the variant's knobs.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_declarative.h"
#include "fw_pcg32.h"
#include "fw_util.h"

#define DECL_MAX_ARGS 64
#define DECL_CANARY 64                       /* bytes of poison past every output */
#define DECL_BUFFER_MAX ((int64_t)1 << 34)   /* bytes; the device's own limit is checked at allocation */

enum { DIR_IN = 1, DIR_OUT, DIR_INOUT };
enum { INIT_NONE = 0, INIT_UNIFORM, INIT_NORMAL, INIT_ZEROS, INIT_ONES, INIT_IOTA, INIT_CONST };

typedef struct darg {
    char name[48];
    int scalar;          /* 0: a buffer */
    int elem;            /* buffer element type, or the scalar's type */
    int dir, init;
    double p0, p1;       /* uniform [p0, p1), normal (mean p0, std p1), constant p0 */
    fw_expr *count;      /* buffer elements, over the shape */
    fw_expr *value;      /* scalar expression over the shape (NULL: fvalue) */
    double fvalue;
    double rtol, atol;
} darg;

typedef struct decl {
    size_t nargs;
    darg args[DECL_MAX_ARGS];
    fw_expr *grid[3], *block[3], *rgrid[3], *rblock[3], *shared, *bytes, *flops;
    int ngrid, nblock, nrgrid, nrblock;
    char ref_entry[128];
    char *ref_text;
    int verify;
    fw_env shape_env;
} decl;

static const struct { const char *name; int elem; size_t size; } types[] = {
    {"f32", FW_ELEM_F32, 4}, {"f16", FW_ELEM_F16, 2}, {"bf16", FW_ELEM_BF16, 2}, {"f64", FW_ELEM_F64, 8},
    {"i8", FW_ELEM_I8, 1},   {"u8", FW_ELEM_U8, 1},   {"i16", FW_ELEM_I16, 2},   {"u16", FW_ELEM_U16, 2},
    {"i32", FW_ELEM_I32, 4}, {"u32", FW_ELEM_U32, 4}, {"i64", FW_ELEM_I64, 8},   {"u64", FW_ELEM_U64, 8},
};
#define TYPE_NAMES "f32, f16, bf16, f64, i8, u8, i16, u16, i32, u32, i64, u64"

size_t fw_elem_size(int elem)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].elem == elem)
            return types[i].size;
    return 4;
}

static int is_float(int elem)
{
    return elem == FW_ELEM_F32 || elem == FW_ELEM_F16 || elem == FW_ELEM_BF16 || elem == FW_ELEM_F64;
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static uint16_t f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u);   /* NaN stays NaN */
    x += 0x7fffu + ((x >> 16) & 1u);            /* round to nearest even */
    return (uint16_t)(x >> 16);
}

double fw_elem_value(int elem, const void *p, size_t i)
{
    const unsigned char *b = p;
    union { float f; double d; int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32;
            int64_t i64; uint64_t u64; } u;
    size_t sz = fw_elem_size(elem);
    memcpy(&u, b + i * sz, sz);
    switch (elem) {
    case FW_ELEM_F32: return u.f;
    case FW_ELEM_F64: return u.d;
    case FW_ELEM_F16: return fw_f16_to_f32(u.u16);
    case FW_ELEM_BF16: return bf16_to_f32(u.u16);
    case FW_ELEM_I8: return u.i8;
    case FW_ELEM_U8: return u.u8;
    case FW_ELEM_I16: return u.i16;
    case FW_ELEM_U16: return u.u16;
    case FW_ELEM_I32: return u.i32;
    case FW_ELEM_U32: return u.u32;
    case FW_ELEM_I64: return (double)u.i64;
    case FW_ELEM_U64: return (double)u.u64;
    default: return NAN;
    }
}

static void elem_store(int elem, void *p, size_t i, double v)
{
    unsigned char *b = p;
    size_t sz = fw_elem_size(elem);
    union { float f; double d; int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32;
            int64_t i64; uint64_t u64; } u;
    switch (elem) {
    case FW_ELEM_F32: u.f = (float)v; break;
    case FW_ELEM_F64: u.d = v; break;
    case FW_ELEM_F16: u.u16 = fw_f32_to_f16((float)v); break;
    case FW_ELEM_BF16: u.u16 = f32_to_bf16((float)v); break;
    case FW_ELEM_I8: u.i8 = (int8_t)v; break;
    case FW_ELEM_U8: u.u8 = (uint8_t)v; break;
    case FW_ELEM_I16: u.i16 = (int16_t)v; break;
    case FW_ELEM_U16: u.u16 = (uint16_t)v; break;
    case FW_ELEM_I32: u.i32 = (int32_t)v; break;
    case FW_ELEM_U32: u.u32 = (uint32_t)v; break;
    case FW_ELEM_I64: u.i64 = (int64_t)v; break;
    default: u.u64 = (uint64_t)v; break;
    }
    memcpy(b + i * sz, &u, sz);
}

static void decl_free(decl *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nargs; i++) {
        fw_expr_free(d->args[i].count);
        fw_expr_free(d->args[i].value);
    }
    for (int i = 0; i < 3; i++) {
        fw_expr_free(d->grid[i]);
        fw_expr_free(d->block[i]);
        fw_expr_free(d->rgrid[i]);
        fw_expr_free(d->rblock[i]);
    }
    fw_expr_free(d->shared);
    fw_expr_free(d->bytes);
    fw_expr_free(d->flops);
    free(d->ref_text);
    free(d);
}

/* An expression field: a JSON string, or an integer. */
static int parse_expr(const cJSON *v, const char *what, fw_expr **out, char *err, size_t errlen)
{
    char buf[64], e2[300];
    const char *text = NULL;
    if (cJSON_IsString(v))
        text = v->valuestring;
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15) {
        snprintf(buf, sizeof buf, "%.0f", v->valuedouble);
        text = buf;
    } else
        return fw_errf(err, errlen, -EINVAL, "workload %s must be an integer expression (a string or an integer)", what);
    if (fw_expr_parse(text, out, e2, sizeof e2) < 0)
        return fw_errf(err, errlen, -EINVAL, "workload %s '%s': %s", what, text, e2);
    return 0;
}

static int parse_dims(const cJSON *v, const char *what, fw_expr **dims, int *n, char *err, size_t errlen)
{
    char w[96];
    int cnt = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || cnt < 1 || cnt > 3)
        return fw_errf(err, errlen, -EINVAL, "workload %s must be a list of 1 to 3 expressions", what);
    for (int i = 0; i < cnt; i++) {
        snprintf(w, sizeof w, "%s[%d]", what, i);
        int rc = parse_expr(cJSON_GetArrayItem(v, i), w, &dims[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    *n = cnt;
    return 0;
}

static int parse_init(const cJSON *v, darg *a, char *err, size_t errlen)
{
    static const struct { const char *name; int init; double p0, p1; } inits[] = {
        {"uniform", INIT_UNIFORM, -1, 1}, {"normal", INIT_NORMAL, 0, 1}, {"zeros", INIT_ZEROS, 0, 0},
        {"ones", INIT_ONES, 1, 0},        {"iota", INIT_IOTA, 0, 0},     {"constant", INIT_CONST, 0, 0},
    };
    const char *name = cJSON_IsString(v) ? v->valuestring : (cJSON_IsObject(v) && v->child) ? v->child->string : NULL;
    for (size_t i = 0; name && i < sizeof inits / sizeof inits[0]; i++) {
        if (strcmp(name, inits[i].name))
            continue;
        a->init = inits[i].init;
        a->p0 = inits[i].p0;
        a->p1 = inits[i].p1;
        if (cJSON_IsObject(v)) {
            const cJSON *p = v->child;
            if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 2 && cJSON_IsNumber(p->child) &&
                cJSON_IsNumber(p->child->next) && (a->init == INIT_UNIFORM || a->init == INIT_NORMAL)) {
                a->p0 = p->child->valuedouble;
                a->p1 = p->child->next->valuedouble;
            } else if (cJSON_IsNumber(p) && a->init == INIT_CONST) {
                a->p0 = p->valuedouble;
            } else
                return fw_errf(err, errlen, -EINVAL, "argument '%s': init {\"%s\": ...} takes %s", a->name, name,
                               a->init == INIT_CONST ? "a number" : a->init <= INIT_NORMAL ? "[low, high] or [mean, std]"
                                                                                        : "no parameters: write \"init\": \"NAME\"");
        } else if (a->init == INIT_CONST)
            return fw_errf(err, errlen, -EINVAL, "argument '%s': init constant needs a value: {\"constant\": 2.5}", a->name);
        if (a->init == INIT_UNIFORM && !(a->p0 < a->p1))
            return fw_errf(err, errlen, -EINVAL, "argument '%s': uniform range [%g, %g) is empty", a->name, a->p0, a->p1);
        return 0;
    }
    return fw_errf(err, errlen, -EINVAL, "argument '%s': unknown init '%s' (known: uniform, normal, zeros, ones, iota, "
                   "constant)", a->name, name ? name : "?");
}

static int parse_type(const cJSON *v, darg *a, int scalar, char *err, size_t errlen)
{
    for (size_t i = 0; cJSON_IsString(v) && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(v->valuestring, types[i].name) == 0) {
            a->elem = types[i].elem;
            if (scalar && (a->elem == FW_ELEM_F16 || a->elem == FW_ELEM_BF16 || fw_elem_size(a->elem) < 4))
                break;
            return 0;
        }
    return fw_errf(err, errlen, -EINVAL, "argument '%s': unknown %s type '%s' (known: %s)", a->name,
                   scalar ? "scalar" : "element", cJSON_IsString(v) ? v->valuestring : "?",
                   scalar ? "i32, u32, i64, u64, f32, f64" : TYPE_NAMES);
}

static int parse_arg(const cJSON *j, size_t idx, darg *a, char *err, size_t errlen)
{
    static const char *const known[] = {"name", "type", "count", "init", "dir", "scalar", "value", "tolerance",
                                        "atol", "local", NULL};
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(j, "name");
    if (!cJSON_IsObject(j) || !cJSON_IsString(nm) || !*nm->valuestring || strlen(nm->valuestring) >= sizeof a->name)
        return fw_errf(err, errlen, -EINVAL, "workload argument %zu needs a \"name\" (a string of at most 47 "
                       "characters)", idx);
    snprintf(a->name, sizeof a->name, "%s", nm->valuestring);
    for (const cJSON *f = j->child; f; f = f->next) {
        int ok = 0;
        for (int k = 0; known[k]; k++)
            ok |= strcmp(known[k], f->string) == 0;
        if (!ok)
            return fw_errf(err, errlen, -EINVAL, "argument '%s': unknown field '%s' (known: name, type, count, init, "
                           "dir, scalar, value, tolerance, atol)", a->name, f->string);
    }
    char what[96];
    if (cJSON_GetObjectItemCaseSensitive(j, "local"))
        return fw_errf(err, errlen, -EINVAL, "argument '%s': local-memory arguments are not supported yet; size a "
                       "__local array with a knob macro instead", a->name);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scalar");
    if (sc) {
        a->scalar = 1;
        int rc = parse_type(sc, a, 1, err, errlen);
        if (rc < 0)
            return rc;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
        if (cJSON_IsNumber(v) && (is_float(a->elem) || v->valuedouble != floor(v->valuedouble))) {
            if (!is_float(a->elem))
                return fw_errf(err, errlen, -EINVAL, "argument '%s': an integer scalar needs an integer value", a->name);
            a->fvalue = v->valuedouble;
            return 0;
        }
        snprintf(what, sizeof what, "argument '%s' value", a->name);
        return parse_expr(v, what, &a->value, err, errlen);
    }
    int rc = parse_type(cJSON_GetObjectItemCaseSensitive(j, "type"), a, 0, err, errlen);
    if (rc < 0)
        return rc;
    snprintf(what, sizeof what, "argument '%s' count", a->name);
    if ((rc = parse_expr(cJSON_GetObjectItemCaseSensitive(j, "count"), what, &a->count, err, errlen)) < 0)
        return rc;
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(j, "dir");
    const char *ds = cJSON_IsString(dir) ? dir->valuestring : dir ? "?" : "in";
    a->dir = !strcmp(ds, "in") ? DIR_IN : !strcmp(ds, "out") ? DIR_OUT : !strcmp(ds, "inout") ? DIR_INOUT : 0;
    if (!a->dir)
        return fw_errf(err, errlen, -EINVAL, "argument '%s': dir must be \"in\", \"out\" or \"inout\"", a->name);
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(j, "init");
    if (init && a->dir == DIR_OUT)
        return fw_errf(err, errlen, -EINVAL, "argument '%s': an output has no init (it is poisoned before each checked "
                       "launch); use dir \"inout\"", a->name);
    if (init && (rc = parse_init(init, a, err, errlen)) < 0)
        return rc;
    if (!init && a->dir != DIR_OUT) {
        a->init = INIT_UNIFORM;
        a->p0 = -1;
        a->p1 = 1;
    }
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(j, "tolerance");
    const cJSON *atol = cJSON_GetObjectItemCaseSensitive(j, "atol");
    a->rtol = is_float(a->elem) ? 1e-5 : 0;
    if ((tol && (!cJSON_IsNumber(tol) || tol->valuedouble < 0)) || (atol && (!cJSON_IsNumber(atol) || atol->valuedouble < 0)))
        return fw_errf(err, errlen, -EINVAL, "argument '%s': tolerance and atol must be numbers >= 0", a->name);
    if (tol)
        a->rtol = tol->valuedouble;
    if (atol)
        a->atol = atol->valuedouble;
    return 0;
}

static int parse_reference(const cJSON *r, decl *d, char *err, size_t errlen)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "entry");
    if (!cJSON_IsObject(r) || !cJSON_IsString(e) || !*e->valuestring || strlen(e->valuestring) >= sizeof d->ref_entry)
        return fw_errf(err, errlen, -EINVAL, "workload reference needs an \"entry\": the reference kernel's function "
                       "name (with \"grid\" and \"block\" over the shape; \"text\" when it is in another source)");
    snprintf(d->ref_entry, sizeof d->ref_entry, "%s", e->valuestring);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "text");
    if (t && (!cJSON_IsString(t) || !(d->ref_text = fw_strdup(t->valuestring))))
        return fw_errf(err, errlen, -EINVAL, "workload reference \"text\" must be the reference source (a string)");
    int rc = parse_dims(cJSON_GetObjectItemCaseSensitive(r, "grid"), "reference grid", d->rgrid, &d->nrgrid, err, errlen);
    if (rc == 0)
        rc = parse_dims(cJSON_GetObjectItemCaseSensitive(r, "block"), "reference block", d->rblock, &d->nrblock, err,
                        errlen);
    return rc;
}

static int decl_parse(const cJSON *w, decl **out, char *err, size_t errlen)
{
    static const char *const known[] = {"args", "grid", "block", "shared_bytes", "bytes", "flops", "reference",
                                        "verify", NULL};
    *out = NULL;
    if (!cJSON_IsObject(w))
        return fw_errf(err, errlen, -EINVAL, "\"workload\" must be an object {\"args\", \"grid\", \"block\", ...}");
    for (const cJSON *f = w->child; f; f = f->next) {
        int ok = 0;
        for (int k = 0; known[k]; k++)
            ok |= strcmp(known[k], f->string) == 0;
        if (!ok)
            return fw_errf(err, errlen, -EINVAL, "unknown field '%s' in the workload (known: args, grid, block, "
                           "shared_bytes, bytes, flops, reference, verify)", f->string);
    }
    decl *d = calloc(1, sizeof *d);
    if (!d)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(w, "args");
    int rc = 0, nout = 0;
    if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) < 1 || cJSON_GetArraySize(args) > DECL_MAX_ARGS)
        rc = fw_errf(err, errlen, -EINVAL, "workload \"args\" must list the kernel's 1 to %d arguments in order",
                     DECL_MAX_ARGS);
    for (const cJSON *a = args ? args->child : NULL; rc == 0 && a; a = a->next) {
        darg *da = &d->args[d->nargs];
        rc = parse_arg(a, d->nargs, da, err, errlen);
        d->nargs++;
        for (size_t k = 0; rc == 0 && k + 1 < d->nargs; k++)
            if (strcmp(d->args[k].name, da->name) == 0)
                rc = fw_errf(err, errlen, -EINVAL, "workload argument name '%s' is given twice", da->name);
        nout += rc == 0 && !da->scalar && da->dir != DIR_IN;
    }
    if (rc == 0 && nout != 1)
        rc = fw_errf(err, errlen, -EINVAL, "the workload has %d outputs (dir \"out\" or \"inout\"); exactly one is "
                     "verified for now", nout);
    if (rc == 0)
        rc = parse_dims(cJSON_GetObjectItemCaseSensitive(w, "grid"), "grid", d->grid, &d->ngrid, err, errlen);
    if (rc == 0)
        rc = parse_dims(cJSON_GetObjectItemCaseSensitive(w, "block"), "block", d->block, &d->nblock, err, errlen);
    static const char *const scal[3] = {"shared_bytes", "bytes", "flops"};
    fw_expr **dst[3] = {&d->shared, &d->bytes, &d->flops};
    for (int i = 0; rc == 0 && i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(w, scal[i]);
        if (v)
            rc = parse_expr(v, scal[i], dst[i], err, errlen);
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(w, "verify");
    d->verify = !cJSON_IsFalse(ver);
    if (rc == 0 && ver && !cJSON_IsBool(ver))
        rc = fw_errf(err, errlen, -EINVAL, "workload \"verify\" must be true or false");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(w, "reference");
    if (rc == 0 && d->verify && !ref)
        rc = fw_errf(err, errlen, -EINVAL, "the workload needs a \"reference\" kernel to verify against (or "
                     "\"verify\": false, and every result is marked unverified)");
    if (rc == 0 && ref && d->verify)
        rc = parse_reference(ref, d, err, errlen);
    if (rc < 0) {
        decl_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* ---- the check before the job --------------------------------------------------------------- */

typedef struct names_ctx {
    const fw_env *env;
    const char *what;
    const char *allowed;
    int shape;
    char *err;
    size_t errlen;
    int rc;
} names_ctx;

static void name_cb(const char *name, void *ctx)
{
    names_ctx *c = ctx;
    if (c->rc == 0 && !fw_env_get(c->env, name, NULL))
        c->rc = fw_errf(c->err, c->errlen, -EINVAL, "workload %s uses '%s', which is not %s (shape %d has no such "
                        "field)", c->what, name, c->allowed, c->shape);
}

static int names_in(const fw_expr *e, const fw_env *env, const char *what, int knobs, int shape, char *err,
                    size_t errlen)
{
    names_ctx c = {env, what, knobs ? "a knob or an integer field of every shape" : "an integer field of every shape",
                   shape, err, errlen, 0};
    fw_expr_names(e, name_cb, &c);
    return c.rc;
}

/* A function named entry in text: the name as a whole identifier, followed by '('. */
static int has_function(const char *text, const char *entry)
{
    size_t n = strlen(entry);
    for (const char *p = text ? strstr(text, entry) : NULL; p; p = strstr(p + 1, entry)) {
        int before = p > text && (p[-1] == '_' || (p[-1] >= '0' && p[-1] <= '9') || ((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z'));
        const char *q = p + n;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        if (!before && *q == '(')
            return 1;
    }
    return 0;
}

int fw_decl_check(const cJSON *workload, const char *source_text, const cJSON *shapes, const fw_space *space,
                  char *err, size_t errlen)
{
    decl *d;
    int rc = decl_parse(workload, &d, err, errlen);
    if (rc < 0)
        return rc;
    const char *rtext = d->ref_text ? d->ref_text : source_text;
    if (d->verify && rtext && !has_function(rtext, d->ref_entry)) {
        rc = fw_errf(err, errlen, -EINVAL, "workload reference entry '%s' is not a function of the %s source",
                     d->ref_entry, d->ref_text ? "reference's" : "job's");
        decl_free(d);
        return rc;
    }
    char what[96];
    int si = 0;
    for (const cJSON *s = shapes ? shapes->child : NULL; rc == 0 && s; s = s->next, si++) {
        fw_env env, kenv;
        fw_env_clear(&env);
        fw_env_add_json_ints(&env, s);
        kenv = env;
        for (size_t k = 0; space && k < space->nknobs; k++)
            fw_env_set(&kenv, space->knobs[k].name, space->knobs[k].values[0]);
        for (size_t i = 0; rc == 0 && i < d->nargs; i++) {
            snprintf(what, sizeof what, "argument '%s' %s", d->args[i].name, d->args[i].scalar ? "value" : "count");
            rc = names_in(d->args[i].scalar ? d->args[i].value : d->args[i].count, &env, what, 0, si, err, errlen);
        }
        for (int i = 0; rc == 0 && i < 3; i++) {
            snprintf(what, sizeof what, "grid[%d]", i);
            rc = names_in(d->grid[i], &kenv, what, 1, si, err, errlen);
            snprintf(what, sizeof what, "block[%d]", i);
            if (rc == 0)
                rc = names_in(d->block[i], &kenv, what, 1, si, err, errlen);
            snprintf(what, sizeof what, "reference grid[%d]", i);
            if (rc == 0)
                rc = names_in(d->rgrid[i], &env, what, 0, si, err, errlen);
            snprintf(what, sizeof what, "reference block[%d]", i);
            if (rc == 0)
                rc = names_in(d->rblock[i], &env, what, 0, si, err, errlen);
        }
        if (rc == 0)
            rc = names_in(d->shared, &kenv, "shared_bytes", 1, si, err, errlen);
        if (rc == 0)
            rc = names_in(d->bytes, &env, "bytes", 0, si, err, errlen);
        if (rc == 0)
            rc = names_in(d->flops, &env, "flops", 0, si, err, errlen);
    }
    decl_free(d);
    return rc;
}

/* ---- one shape's workload ------------------------------------------------------------------- */

static void fill(const darg *a, void *host, size_t n, uint64_t seed, uint64_t stream)
{
    fw_pcg32 r;
    fw_pcg32_seed(&r, seed, stream);
    int flt = is_float(a->elem);
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        switch (a->init) {
        case INIT_UNIFORM:
            v = flt ? a->p0 + (a->p1 - a->p0) * (double)fw_pcg32_float(&r)
                    : floor(a->p0) + (double)fw_pcg32_bounded(&r, (uint32_t)fmin(4294967295.0, ceil(a->p1) - floor(a->p0)));
            break;
        case INIT_NORMAL: {   /* Box-Muller on two 24-bit uniforms; log of (0, 1] */
            double u1 = 1.0 - (double)fw_pcg32_float(&r), u2 = (double)fw_pcg32_float(&r);
            v = a->p0 + a->p1 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
            if (!flt)
                v = nearbyint(v);
            break;
        }
        case INIT_ONES: v = 1; break;
        case INIT_IOTA: v = (double)i; break;
        case INIT_CONST: v = a->p0; break;
        default: v = 0; break;
        }
        elem_store(a->elem, host, i, v);
    }
}

static int eval_shape(const fw_expr *e, const fw_env *env, const char *what, const char *name, int64_t *v, char *err,
                      size_t errlen)
{
    char e2[300];
    if (fw_expr_eval(e, env, v, e2, sizeof e2) < 0)
        return fw_errf(err, errlen, -EINVAL, "workload %s%s%s: %s", what, name ? " of " : "", name ? name : "", e2);
    return 0;
}

static int build_arg(decl *d, fw_workload *wl, size_t i, size_t *nb, uint64_t seed, char *err, size_t errlen)
{
    darg *a = &d->args[i];
    int64_t v = 0;
    int rc;
    if (a->scalar) {
        size_t sz = fw_elem_size(a->elem);
        void *blob = calloc(1, 8);
        if (!blob)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        wl->args[i] = (fw_wl_arg){-1, blob, sz};
        if (a->value && (rc = eval_shape(a->value, &d->shape_env, "value", a->name, &v, err, errlen)) < 0)
            return rc;
        elem_store(a->elem, blob, 0, a->value ? (double)v : a->fvalue);
        return 0;
    }
    if ((rc = eval_shape(a->count, &d->shape_env, "count", a->name, &v, err, errlen)) < 0)
        return rc;
    size_t esz = fw_elem_size(a->elem);
    if (v < 1 || v > DECL_BUFFER_MAX / (int64_t)esz)
        return fw_errf(err, errlen, -EINVAL, "argument '%s' has %lld elements for this shape; a buffer holds 1 to "
                       "%lld", a->name, (long long)v, (long long)(DECL_BUFFER_MAX / (int64_t)esz));
    size_t bytes = (size_t)v * esz + (a->dir == DIR_IN ? 0 : DECL_CANARY);
    fw_wl_buffer *b = &wl->buffers[*nb];
    b->name = a->name;   /* lives in the decl, which lives as long as the workload */
    b->elem = (fw_elem)a->elem;
    b->bytes = bytes;
    b->role = a->dir == DIR_OUT ? FW_BUF_OUTPUT : FW_BUF_INPUT;
    if (a->dir != DIR_OUT) {
        if (!(b->host = malloc(bytes)))
            return fw_errf(err, errlen, -ENOMEM, "out of memory for argument '%s' (%zu bytes)", a->name, bytes);
        fill(a, b->host, (size_t)v, seed, i + 1);
        if (a->dir == DIR_INOUT)
            memset((unsigned char *)b->host + (size_t)v * esz, 0xFF, DECL_CANARY);
    }
    if (a->dir != DIR_IN) {
        wl->output = (int)*nb;
        wl->output_canary = DECL_CANARY;
        wl->tolerance = a->rtol;
        wl->abs_tolerance = a->atol;
    }
    wl->args[i] = (fw_wl_arg){(int)*nb, NULL, 0};
    (*nb)++;
    return 0;
}

int fw_decl_workload_new(const cJSON *workload, const cJSON *shape, uint64_t seed, fw_workload **out, char *err,
                         size_t errlen)
{
    decl *d;
    *out = NULL;
    int rc = decl_parse(workload, &d, err, errlen);
    if (rc < 0)
        return rc;
    fw_env_clear(&d->shape_env);
    fw_env_add_json_ints(&d->shape_env, shape);
    size_t nbuf = 0;
    for (size_t i = 0; i < d->nargs; i++)
        nbuf += !d->args[i].scalar;
    fw_workload *wl = fw_workload_alloc(nbuf, d->nargs);
    if (!wl) {
        decl_free(d);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    wl->priv = d;
    wl->output = -1;
    size_t nb = 0;
    for (size_t i = 0; rc == 0 && i < d->nargs; i++)
        rc = build_arg(d, wl, i, &nb, seed, err, errlen);
    int64_t v = 0;
    if (rc == 0 && d->bytes && (rc = eval_shape(d->bytes, &d->shape_env, "bytes", NULL, &v, err, errlen)) == 0)
        wl->bytes = (double)v;
    if (rc == 0 && d->flops && (rc = eval_shape(d->flops, &d->shape_env, "flops", NULL, &v, err, errlen)) == 0)
        wl->flops = (double)v;
    if (rc < 0) {
        fw_workload_free_common(wl);
        decl_free(d);
        return rc;
    }
    snprintf(wl->kernel, sizeof wl->kernel, "%s", "");
    snprintf(wl->mode, sizeof wl->mode, "%s", d->verify ? "" : "unverified");
    *out = wl;
    return 0;
}

static int eval_dims(fw_expr *const *dims, int n, const fw_env *env, const char *what, uint32_t *dst, char *err,
                     size_t errlen)
{
    char w[64];
    for (int i = 0; i < 3; i++) {
        int64_t v = 1;
        snprintf(w, sizeof w, "%s[%d]", what, i);
        if (i < n) {
            int rc = eval_shape(dims[i], env, w, NULL, &v, err, errlen);
            if (rc < 0)
                return rc;
        }
        if (v < 1 || v > UINT32_MAX)
            return fw_errf(err, errlen, -EINVAL, "workload %s is %lld for these knobs; it must be 1 to 2^32 - 1", w,
                           (long long)v);
        dst[i] = (uint32_t)v;
    }
    return 0;
}

static int decl_geometry(const fw_workload *wl, const fw_point *knobs, fw_geometry *out, char *err, size_t errlen)
{
    const decl *d = wl ? wl->priv : NULL;
    if (!d)
        return fw_errf(err, errlen, -EINVAL, "the declarative geometry needs a declarative workload");
    fw_env env = d->shape_env;
    if (fw_env_add_point(&env, knobs) < 0)
        return fw_errf(err, errlen, -EINVAL, "too many knobs and shape fields for one expression environment");
    memset(out, 0, sizeof *out);
    int rc = eval_dims(d->grid, d->ngrid, &env, "grid", out->grid, err, errlen);
    if (rc == 0)
        rc = eval_dims(d->block, d->nblock, &env, "block", out->group, err, errlen);
    int64_t sh = 0;
    if (rc == 0 && d->shared && (rc = eval_shape(d->shared, &env, "shared_bytes", NULL, &sh, err, errlen)) == 0) {
        if (sh < 0 || sh > UINT32_MAX)
            return fw_errf(err, errlen, -EINVAL, "workload shared_bytes is %lld for these knobs", (long long)sh);
        out->dynamic_shared_bytes = (uint32_t)sh;
        out->shared_bytes = sh;
    }
    return rc;
}

int fw_decl_reference_plan(const fw_workload *wl, const char **entry, const char **text, fw_geometry *geo, char *err,
                           size_t errlen)
{
    const decl *d = wl ? wl->priv : NULL;
    *entry = NULL;
    *text = NULL;
    memset(geo, 0, sizeof *geo);
    if (!d || !d->verify)
        return 0;
    int rc = eval_dims(d->rgrid, d->nrgrid, &d->shape_env, "reference grid", geo->grid, err, errlen);
    if (rc == 0)
        rc = eval_dims(d->rblock, d->nrblock, &d->shape_env, "reference block", geo->group, err, errlen);
    if (rc < 0)
        return rc;
    *entry = d->ref_entry;
    *text = d->ref_text;
    return 0;
}

int fw_decl_unverified(const fw_workload *wl)
{
    const decl *d = wl ? wl->priv : NULL;
    return d && !d->verify;
}

static int decl_shape_check(const cJSON *shape, char *err, size_t errlen)
{
    if (!cJSON_IsObject(shape))
        return fw_errf(err, errlen, -EINVAL, "a shape is an object of integer fields, e.g. {\"n\": 1000000}");
    for (const cJSON *f = shape->child; f; f = f->next)
        if (!(cJSON_IsNumber(f) && f->valuedouble == floor(f->valuedouble)) && strcmp(f->string, "name"))
            return fw_errf(err, errlen, -EINVAL, "shape field \"%s\" must be an integer", f->string);
    return 0;
}

/* "n=1000000" or "H=64,W=128": the integer fields sorted by name. */
static int decl_shape_key(const cJSON *shape, char *buf, size_t len)
{
    const char *names[64];
    size_t n = 0;
    for (const cJSON *f = shape ? shape->child : NULL; f && n < 64; f = f->next)
        if (cJSON_IsNumber(f))
            names[n++] = f->string;
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            const char *t = names[k];
            names[k] = names[k - 1];
            names[k - 1] = t;
        }
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(shape, names[i]);
        int w = snprintf(buf + used, len - used, "%s%s=%.0f", i ? "," : "", names[i], f->valuedouble);
        if (w < 0 || (size_t)w >= len - used)
            return -ENOSPC;
        used += (size_t)w;
    }
    return 0;
}

static int decl_workload_refuse(const cJSON *shape, uint64_t seed, fw_workload **out, char *err, size_t errlen)
{
    (void)shape;
    (void)seed;
    *out = NULL;
    return fw_errf(err, errlen, -EINVAL, "a declarative workload is built from the spec's \"workload\"");
}

static void decl_workload_free(fw_workload *wl)
{
    if (!wl)
        return;
    decl *d = wl->priv;
    fw_workload_free_common(wl);
    decl_free(d);
}

const fw_family fw_family_declarative = {
    .version = FW_FAMILY_VERSION,
    .name = FW_DECL_FAMILY,
    .description = "a user kernel described by the spec's \"workload\" (docs/spec.md)",
    .defaults_json = NULL,
    .shape_check = decl_shape_check,
    .shape_key = decl_shape_key,
    .source = NULL,
    .workload_new = decl_workload_refuse,
    .workload_free = decl_workload_free,
    .geometry = decl_geometry,
};
