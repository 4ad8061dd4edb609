/* decl_parse.c - the spec's "workload" object read into a decl (decl_int.h): element types, every
 * argument, the launch expressions and the reference, each refusal a sentence naming the field. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decl_int.h"
#include "fw_util.h"

static const struct { const char *name; int elem; size_t size; } types[] = {
    {"f32", FW_ELEM_F32, 4}, {"f16", FW_ELEM_F16, 2}, {"bf16", FW_ELEM_BF16, 2}, {"f64", FW_ELEM_F64, 8},
    {"i8", FW_ELEM_I8, 1},   {"u8", FW_ELEM_U8, 1},   {"i16", FW_ELEM_I16, 2},   {"u16", FW_ELEM_U16, 2},
    {"i32", FW_ELEM_I32, 4}, {"u32", FW_ELEM_U32, 4}, {"i64", FW_ELEM_I64, 8},   {"u64", FW_ELEM_U64, 8},
};
#define TYPE_NAMES "f32, f16, bf16, f64, i8, u8, i16, u16, i32, u32, i64, u64"

const char *decl_type_name(int elem)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].elem == elem)
            return types[i].name;
    return "?";
}

size_t fw_elem_size(int elem)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].elem == elem)
            return types[i].size;
    return 4;
}

int decl_is_float(int elem)
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

void decl_elem_store(int elem, void *p, size_t i, double v)
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

void decl_free(decl *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nargs; i++) {
        fw_expr_free(d->args[i].count);
        fw_expr_free(d->args[i].value);
        fw_expr_free(d->args[i].rcount);
        free(d->args[i].expected);
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

/* {"name", "local": TYPE, "count": elements over shape and knobs, "reference_count": over the shape} */
static int parse_local(const cJSON *j, darg *a, char *err, size_t errlen)
{
    static const char *const refused[] = {"type", "init", "dir", "scalar", "value", "tolerance", "atol", "expected",
                                          NULL};
    for (int k = 0; refused[k]; k++)
        if (cJSON_GetObjectItemCaseSensitive(j, refused[k]))
            return fw_errf(err, errlen, -EINVAL, "argument '%s' is local memory (uninitialised, one per threadgroup, "
                           "never compared): it takes \"count\" and \"reference_count\", not \"%s\"", a->name, refused[k]);
    a->local = 1;
    int rc = parse_type(cJSON_GetObjectItemCaseSensitive(j, "local"), a, 0, err, errlen);
    char what[96];
    snprintf(what, sizeof what, "argument '%s' count", a->name);
    if (rc == 0)
        rc = parse_expr(cJSON_GetObjectItemCaseSensitive(j, "count"), what, &a->count, err, errlen);
    const cJSON *rc_ = cJSON_GetObjectItemCaseSensitive(j, "reference_count");
    snprintf(what, sizeof what, "argument '%s' reference_count", a->name);
    if (rc == 0 && rc_)
        rc = parse_expr(rc_, what, &a->rcount, err, errlen);
    return rc;
}

static int parse_arg(const cJSON *j, size_t idx, darg *a, char *err, size_t errlen)
{
    static const char *const known[] = {"name", "type", "count", "init", "dir", "scalar", "value", "tolerance",
                                        "atol", "local", "reference_count", "expected", NULL};
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
                           "dir, scalar, value, tolerance, atol, expected, local, reference_count)", a->name,
                           f->string);
    }
    char what[96];
    if (cJSON_GetObjectItemCaseSensitive(j, "local"))
        return parse_local(j, a, err, errlen);
    if (cJSON_GetObjectItemCaseSensitive(j, "reference_count"))
        return fw_errf(err, errlen, -EINVAL, "argument '%s': \"reference_count\" sizes local memory (\"local\": TYPE) "
                       "for the reference launch; a buffer's count is the same for every launch", a->name);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scalar");
    if (sc) {
        a->scalar = 1;
        int rc = parse_type(sc, a, 1, err, errlen);
        if (rc < 0)
            return rc;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
        if (cJSON_IsNumber(v) && (decl_is_float(a->elem) || v->valuedouble != floor(v->valuedouble))) {
            if (!decl_is_float(a->elem))
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
    a->rtol = decl_is_float(a->elem) ? 1e-5 : 0;
    if ((tol && (!cJSON_IsNumber(tol) || tol->valuedouble < 0)) || (atol && (!cJSON_IsNumber(atol) || atol->valuedouble < 0)))
        return fw_errf(err, errlen, -EINVAL, "argument '%s': tolerance and atol must be numbers >= 0", a->name);
    if (tol)
        a->rtol = tol->valuedouble;
    if (atol)
        a->atol = atol->valuedouble;
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(j, "expected");
    if (ex && (a->dir == DIR_IN || !cJSON_IsString(ex) || !*ex->valuestring))
        return fw_errf(err, errlen, -EINVAL, "argument '%s': \"expected\" is an output's expected values, a file name "
                       "(raw little-endian elements of its type; {FIELD} is the shape's field)", a->name);
    if (ex && !(a->expected = fw_strdup(ex->valuestring)))
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
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

int decl_parse(const cJSON *w, decl **out, char *err, size_t errlen)
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
        if (rc == 0 && da->local && (da->lidx = d->nlocal++) >= FW_GEO_MAX_LOCAL)
            rc = fw_errf(err, errlen, -EINVAL, "argument '%s': a launch takes at most %d local-memory arguments",
                         da->name, FW_GEO_MAX_LOCAL);
        for (size_t k = 0; rc == 0 && k + 1 < d->nargs; k++)
            if (strcmp(d->args[k].name, da->name) == 0)
                rc = fw_errf(err, errlen, -EINVAL, "workload argument name '%s' is given twice", da->name);
        if (rc == 0 && !da->scalar && !da->local && da->dir != DIR_IN) {
            da->out_index = nout++;
            d->need_ref |= !da->expected;
        }
    }
    d->nout = nout;
    if (rc == 0 && nout < 1)
        rc = fw_errf(err, errlen, -EINVAL, "the workload has no output (an argument with dir \"out\" or \"inout\")");
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
    d->need_ref &= d->verify;
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(w, "reference");
    if (rc == 0 && d->need_ref && !ref)
        rc = fw_errf(err, errlen, -EINVAL, "the workload needs a \"reference\" kernel to verify against (or an "
                     "\"expected\" file for every output, or \"verify\": false, and every result is marked "
                     "unverified)");
    if (rc == 0 && ref && d->need_ref)
        rc = parse_reference(ref, d, err, errlen);
    if (rc < 0) {
        decl_free(d);
        return rc;
    }
    *out = d;
    return 0;
}
