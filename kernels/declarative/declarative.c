/* declarative.c - the "declarative" family: a workload read from the job spec (fw_declarative.h).
 *
 * The spec's "workload" is parsed into a decl (decl_parse.c; expressions compiled once) for the check
 * before the job and again for each shape's workload; the decl is the workload's priv, so geometry()
 * evaluates the launch expressions over the shape and the variant's knobs.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "decl_int.h"
#include "fw_pcg32.h"
#include "fw_util.h"

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

typedef struct outside_ctx {
    const fw_env *env;
    char name[FW_NAME_MAX];
} outside_ctx;

static void outside_cb(const char *name, void *ctx)
{
    outside_ctx *c = ctx;
    if (!c->name[0] && !fw_env_get(c->env, name, NULL))
        snprintf(c->name, sizeof c->name, "%s", name);
}

/* The first name e uses that env does not hold (a knob, when env is the shape's), or NULL. */
static const char *outside(const fw_expr *e, const fw_env *env, outside_ctx *c)
{
    c->env = env;
    c->name[0] = '\0';
    if (e)
        fw_expr_names(e, outside_cb, c);
    return c->name[0] ? c->name : NULL;
}

/* An argument's count or value against the shape (env) and the knobs (kenv): an input's count and
 * local memory's may name knobs, an output's and a scalar's may not; local memory whose count names a
 * knob needs a reference_count for the reference launch, which has none. */
static int arg_names(const decl *d, const darg *a, const fw_env *env, const fw_env *kenv, int si, char *err,
                     size_t errlen)
{
    char what[96];
    outside_ctx oc;
    snprintf(what, sizeof what, "argument '%s' %s", a->name, a->scalar ? "value" : "count");
    if (a->scalar)
        return names_in(a->value, env, what, 0, si, err, errlen);
    const char *k = outside(a->count, env, &oc);
    if (k && fw_env_get(kenv, k, NULL)) {
        if (!a->local && a->dir != DIR_IN)
            return fw_errf(err, errlen, -EINVAL, "workload %s uses the knob '%s': an output's count is over the shape "
                           "only (the reference gives one answer per shape); an input's may name knobs", what, k);
        if (a->local && !a->rcount && d->need_ref)
            return fw_errf(err, errlen, -EINVAL, "workload %s uses the knob '%s', and the reference launch has no "
                           "knobs: give the argument a \"reference_count\" over the shape", what, k);
    }
    int rc = names_in(a->count, kenv, what, 1, si, err, errlen);
    snprintf(what, sizeof what, "argument '%s' reference_count", a->name);
    if (rc == 0 && a->rcount)
        rc = names_in(a->rcount, env, what, 0, si, err, errlen);
    return rc;
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

static int eval_shape(const fw_expr *e, const fw_env *env, const char *what, const char *name, int64_t *v, char *err,
                      size_t errlen);
static int expected_load(const darg *a, const fw_env *env, size_t nelem, double **ref, char *err, size_t errlen);

/* Every output's "expected" file for this shape is there, with its count of elements. */
static int expected_check(const decl *d, const fw_env *env, char *err, size_t errlen)
{
    for (size_t i = 0; d->verify && i < d->nargs; i++) {
        const darg *a = &d->args[i];
        int64_t v = 0;
        int rc = a->expected ? eval_shape(a->count, env, "count", a->name, &v, err, errlen) : 0;
        if (rc == 0 && a->expected)
            rc = expected_load(a, env, (size_t)(v > 0 ? v : 0), NULL, err, errlen);
        if (rc < 0)
            return rc;
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
    if (d->need_ref && rtext && !has_function(rtext, d->ref_entry)) {
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
        for (size_t i = 0; rc == 0 && i < d->nargs; i++)
            rc = arg_names(d, &d->args[i], &env, &kenv, si, err, errlen);
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
        if (rc == 0)
            rc = expected_check(d, &env, err, errlen);
    }
    decl_free(d);
    return rc;
}

/* ---- one shape's workload ------------------------------------------------------------------- */

static void fill(const darg *a, void *host, size_t n, uint64_t seed, uint64_t stream)
{
    fw_pcg32 r;
    fw_pcg32_seed(&r, seed, stream);
    int flt = decl_is_float(a->elem);
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
        decl_elem_store(a->elem, host, i, v);
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

/* An output's "expected" file name for a shape: each {FIELD} replaced by the shape's integer field. */
static int expected_path(const darg *a, const fw_env *env, char *path, size_t len, char *err, size_t errlen)
{
    size_t used = 0;
    for (const char *p = a->expected; *p; p++) {
        char piece[64];
        const char *add = piece;
        if (*p == '{') {
            const char *q = strchr(p, '}');
            char field[FW_NAME_MAX];
            int64_t v;
            if (!q || (size_t)(q - p - 1) >= sizeof field)
                return fw_errf(err, errlen, -EINVAL, "argument '%s' expected file '%s': a '{' without its '}'", a->name,
                               a->expected);
            snprintf(field, sizeof field, "%.*s", (int)(q - p - 1), p + 1);
            if (!fw_env_get(env, field, &v))
                return fw_errf(err, errlen, -EINVAL, "argument '%s' expected file '%s' uses {%s}, which is not an "
                               "integer field of the shape", a->name, a->expected, field);
            snprintf(piece, sizeof piece, "%lld", (long long)v);
            p = q;
        } else {
            piece[0] = *p;
            piece[1] = '\0';
        }
        size_t n = strlen(add);
        if (used + n >= len)
            return fw_errf(err, errlen, -ENAMETOOLONG, "argument '%s' expected file name is too long", a->name);
        memcpy(path + used, add, n + 1);
        used += n;
    }
    return 0;
}

/* The expected values of an output of nelem elements from its file (raw little-endian elements of
 * its type, exactly nelem of them), as doubles. ref NULL: only the file's size is checked. */
static int expected_load(const darg *a, const fw_env *env, size_t nelem, double **ref, char *err, size_t errlen)
{
    char path[4096], e2[300];
    int rc = expected_path(a, env, path, sizeof path, err, errlen);
    if (rc < 0)
        return rc;
    size_t esz = fw_elem_size(a->elem), n = 0;
    char *data = NULL;
    struct stat st;
    if (!ref && stat(path, &st) == 0 && S_ISREG(st.st_mode))   /* the check before the job: the size alone */
        n = (size_t)st.st_size;
    else if (fw_read_file(path, &data, &n, e2, sizeof e2) < 0)
        return fw_errf(err, errlen, -EINVAL, "argument '%s': cannot read its expected file: %s", a->name, e2);
    if (n != nelem * esz) {
        free(data);
        return fw_errf(err, errlen, -EINVAL, "argument '%s': expected file %s has %zu bytes; this shape's output is "
                       "%zu elements of %s, %zu bytes (raw, little-endian)", a->name, path, n, nelem,
                       decl_type_name(a->elem), nelem * esz);
    }
    if (ref) {
        if (!(*ref = malloc((nelem ? nelem : 1) * sizeof **ref))) {
            free(data);
            return fw_errf(err, errlen, -ENOMEM, "out of memory for the expected values of '%s'", a->name);
        }
        for (size_t i = 0; i < nelem; i++)
            (*ref)[i] = fw_elem_value(a->elem, data, i);
    }
    free(data);
    return 0;
}

#define DECL_MAX_COMBOS (1 << 20)   /* knob combinations one count's maximum is taken over */

/* An input's count that names knobs: its largest value over every combination of the values those
 * knobs have in the space (knobs: the space's {"NAME": [values]}); the buffer is that long, filled
 * by index, so every variant reads the same elements. A count over the shape only is just its value. */
static int count_max(const decl *d, const darg *a, const cJSON *knobs, int64_t *v, char *err, size_t errlen)
{
    const cJSON *lists[8];
    char names[8][FW_NAME_MAX];
    int n = 0, idx[8] = {0};
    outside_ctx oc;
    fw_env env = d->shape_env;
    for (const char *k; (k = outside(a->count, &env, &oc)) != NULL; n++) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(knobs, k);
        if (n == 8 || !cJSON_IsArray(l) || cJSON_GetArraySize(l) < 1)
            return fw_errf(err, errlen, -EINVAL, "workload argument '%s' count uses '%s', which is %s", a->name, k,
                           n == 8 ? "one knob too many (a count may name 8)" : "neither a shape field nor a knob");
        lists[n] = l;
        snprintf(names[n], sizeof names[n], "%s", k);
        fw_env_set(&env, k, (int64_t)cJSON_GetArrayItem(l, 0)->valuedouble);
    }
    *v = INT64_MIN;
    for (long combos = 0;; combos++) {
        if (combos == DECL_MAX_COMBOS)
            return fw_errf(err, errlen, -EINVAL, "workload argument '%s' count names knobs with more than %d "
                           "combinations of values", a->name, DECL_MAX_COMBOS);
        for (int k = 0; k < n; k++)
            fw_env_set(&env, names[k], (int64_t)cJSON_GetArrayItem(lists[k], idx[k])->valuedouble);
        int64_t x;
        int rc = eval_shape(a->count, &env, "count", a->name, &x, err, errlen);
        if (rc < 0)
            return rc;
        *v = x > *v ? x : *v;
        int k = 0;
        while (k < n && ++idx[k] == cJSON_GetArraySize(lists[k]))
            idx[k++] = 0;
        if (k == n)
            return 0;
    }
}

static int build_arg(decl *d, fw_workload *wl, size_t i, size_t *nb, uint64_t seed, const cJSON *knobs, char *err,
                     size_t errlen)
{
    darg *a = &d->args[i];
    int64_t v = 0;
    int rc;
    if (a->local) {   /* sized by the geometry, per variant */
        wl->args[i] = (fw_wl_arg){FW_WL_LOCAL, NULL, (size_t)a->lidx};
        return 0;
    }
    if (a->scalar) {
        size_t sz = fw_elem_size(a->elem);
        void *blob = calloc(1, 8);
        if (!blob)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        wl->args[i] = (fw_wl_arg){-1, blob, sz};
        if (a->value && (rc = eval_shape(a->value, &d->shape_env, "value", a->name, &v, err, errlen)) < 0)
            return rc;
        decl_elem_store(a->elem, blob, 0, a->value ? (double)v : a->fvalue);
        return 0;
    }
    if ((rc = count_max(d, a, knobs, &v, err, errlen)) < 0)
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
    if (a->dir != DIR_IN) {   /* the first output is wl->output, the others more_outputs, in order */
        double *ref = NULL;
        if (a->expected && d->verify && (rc = expected_load(a, &d->shape_env, (size_t)v, &ref, err, errlen)) < 0)
            return rc;
        wl->output_canary = DECL_CANARY;
        if (a->out_index == 0) {
            wl->output = (int)*nb;
            wl->tolerance = a->rtol;
            wl->abs_tolerance = a->atol;
            wl->reference = ref;
            wl->nreference = ref ? (size_t)v : 0;
        } else {
            wl->more_outputs[a->out_index - 1] = (fw_wl_output){(int)*nb, ref, ref ? (size_t)v : 0, a->rtol, a->atol};
            wl->nmore_outputs = (size_t)a->out_index;
        }
    }
    wl->args[i] = (fw_wl_arg){(int)*nb, NULL, 0};
    (*nb)++;
    return 0;
}

int fw_decl_workload_new(const cJSON *workload, const cJSON *shape, const cJSON *knobs, uint64_t seed,
                         fw_workload **out, char *err, size_t errlen)
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
        nbuf += !d->args[i].scalar && !d->args[i].local;
    fw_workload *wl = fw_workload_alloc(nbuf, d->nargs);
    if (!wl) {
        decl_free(d);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    wl->priv = d;
    wl->output = -1;
    if (d->nout > 1 && !(wl->more_outputs = calloc((size_t)d->nout - 1, sizeof *wl->more_outputs))) {
        fw_workload_free_common(wl);
        decl_free(d);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    size_t nb = 0;
    for (size_t i = 0; rc == 0 && i < d->nargs; i++)
        rc = build_arg(d, wl, i, &nb, seed, knobs, err, errlen);
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

int fw_decl_cost(const cJSON *workload, const cJSON *shape, const cJSON *knobs, fw_wl_cost *out, char *err,
                 size_t errlen)
{
    decl *d;
    memset(out, 0, sizeof *out);
    int rc = decl_parse(workload, &d, err, errlen);
    if (rc < 0)
        return rc;
    fw_env_clear(&d->shape_env);
    fw_env_add_json_ints(&d->shape_env, shape);
    for (size_t i = 0; rc == 0 && i < d->nargs; i++) {
        const darg *a = &d->args[i];
        int64_t v = 0;
        if (a->scalar || a->local || (rc = count_max(d, a, knobs, &v, err, errlen)) < 0)
            continue;
        size_t esz = fw_elem_size(a->elem);
        if (v < 1 || v > DECL_BUFFER_MAX / (int64_t)esz) {   /* as build_arg says it */
            rc = fw_errf(err, errlen, -EINVAL, "argument '%s' has %lld elements for this shape; a buffer holds 1 to "
                         "%lld", a->name, (long long)v, (long long)(DECL_BUFFER_MAX / (int64_t)esz));
            break;
        }
        double bytes = (double)v * (double)esz + (a->dir == DIR_IN ? 0 : DECL_CANARY);
        fw_wl_cost_add(out, a->name, bytes, a->dir != DIR_OUT);
        out->host_bytes += a->dir != DIR_OUT ? bytes : 0;
        if (a->dir != DIR_IN)   /* its reference in double, and two read-backs */
            out->host_bytes += (d->verify ? (double)v * 8 : 0) + 2 * bytes;
        if (a->dir != DIR_IN && a->expected && d->verify)
            out->reference_ops += (double)v;   /* read from its file; a reference kernel costs the host nothing */
    }
    decl_free(d);
    return rc;
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

/* The local-memory arguments' bytes over env (the variant's knobs, or for the reference the shape and
 * each reference_count), into geo->local_bytes and added to geo->shared_bytes. */
static int local_sizes(const decl *d, const fw_env *env, int reference, fw_geometry *geo, char *err, size_t errlen)
{
    for (size_t i = 0; i < d->nargs; i++) {
        const darg *a = &d->args[i];
        if (!a->local)
            continue;
        int64_t v = 0;
        int rc = eval_shape(reference && a->rcount ? a->rcount : a->count, env,
                            reference ? "reference count" : "count", a->name, &v, err, errlen);
        if (rc < 0)
            return rc;
        int64_t bytes = v * (int64_t)fw_elem_size(a->elem);
        if (v < 1 || bytes > UINT32_MAX)
            return fw_errf(err, errlen, -EINVAL, "local-memory argument '%s' is %lld elements for %s; it must be 1 "
                           "element to 4 GiB", a->name, (long long)v, reference ? "the reference" : "these knobs");
        geo->local_bytes[a->lidx] = (uint32_t)bytes;
        geo->shared_bytes += bytes;
    }
    geo->nlocal = d->nlocal;
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
    if (rc == 0)
        rc = local_sizes(d, &env, 0, out, err, errlen);
    return rc;
}

int fw_decl_reference_plan(const fw_workload *wl, const char **entry, const char **text, fw_geometry *geo, char *err,
                           size_t errlen)
{
    const decl *d = wl ? wl->priv : NULL;
    *entry = NULL;
    *text = NULL;
    memset(geo, 0, sizeof *geo);
    if (!d || !d->need_ref)
        return 0;
    int rc = eval_dims(d->rgrid, d->nrgrid, &d->shape_env, "reference grid", geo->grid, err, errlen);
    if (rc == 0)
        rc = eval_dims(d->rblock, d->nrblock, &d->shape_env, "reference block", geo->group, err, errlen);
    if (rc == 0)
        rc = local_sizes(d, &d->shape_env, 1, geo, err, errlen);
    if (rc < 0)
        return rc;
    *entry = d->ref_entry;
    *text = d->ref_text;
    return 0;
}

void fw_decl_arg_names(const fw_workload *wl, char *buf, size_t len)
{
    const decl *d = wl ? wl->priv : NULL;
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; d && i < d->nargs && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", d->args[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
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
