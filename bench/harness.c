/* The measuring harness: one plan item in, one measurement record out (fw_bench.h). */
#include "fw_bench.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_family.h"
#include "fw_util.h"
#include "fw_variants.h"

#define POISON 0xFFFFFFFFu

typedef struct wl_entry {
    int used;
    uint64_t key, stamp;
    const fw_family *fam;
    fw_workload *wl;
    fw_buffer **bufs;
} wl_entry;

typedef struct prog_entry {
    int used;
    uint64_t key, stamp;
    fw_program *prog;     /* NULL: the compile failed, log holds why (failures are cached too) */
    char *log;
    double compile_ms;
    int compile_rc;
} prog_entry;

struct fw_bench {
    const fw_backend *be;
    fw_device *dev;
    fw_device_info info;
    uint64_t clock;
    wl_entry wl[FW_BENCH_WL_CACHE];
    prog_entry prog[FW_BENCH_PROG_CACHE];
};

static void wl_entry_release(fw_bench *b, wl_entry *e)
{
    if (!e->used)
        return;
    if (e->bufs) {
        for (size_t i = 0; i < e->wl->nbuffers; i++)
            if (e->bufs[i])
                b->be->buffer_free(b->dev, e->bufs[i]);
        free(e->bufs);
    }
    if (e->fam && e->fam->workload_free)
        e->fam->workload_free(e->wl);
    memset(e, 0, sizeof *e);
}

static void prog_entry_release(fw_bench *b, prog_entry *e)
{
    if (!e->used)
        return;
    if (e->prog)
        b->be->program_free(b->dev, e->prog);
    free(e->log);
    memset(e, 0, sizeof *e);
}

int fw_bench_new(const fw_backend *be, fw_device *dev, const fw_device_info *info, fw_bench **out)
{
    *out = NULL;
    if (!be || !dev || !info)
        return -EINVAL;
    fw_bench *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->be = be;
    b->dev = dev;
    b->info = *info;
    *out = b;
    return 0;
}

void fw_bench_free(fw_bench *b)
{
    if (!b)
        return;
    for (int i = 0; i < FW_BENCH_WL_CACHE; i++)
        wl_entry_release(b, &b->wl[i]);
    for (int i = 0; i < FW_BENCH_PROG_CACHE; i++)
        prog_entry_release(b, &b->prog[i]);
    free(b);
}

/* ---- verification ---------------------------------------------------------------------------- */

static size_t elem_size(int elem)
{
    switch (elem) {
    case FW_ELEM_F16: case FW_ELEM_U16: return 2;
    case FW_ELEM_U8: return 1;
    default: return 4;
    }
}

int fw_bench_verify_output(int elem, const void *out, size_t nelem, const double *ref, fw_bench_verify *v)
{
    memset(v, 0, sizeof *v);
    double num = 0.0, den = 0.0;
    const unsigned char *p = out;
    for (size_t i = 0; i < nelem; i++) {
        double x;
        int unwritten = 0;
        switch (elem) {
        case FW_ELEM_F32: {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            float f;
            memcpy(&f, &u, 4);
            unwritten = u == POISON;
            x = f;
            break;
        }
        case FW_ELEM_F16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            unwritten = h == 0xFFFFu;
            x = fw_f16_to_f32(h);
            break;
        }
        case FW_ELEM_U16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            unwritten = h == 0xFFFFu;
            x = h;
            break;
        }
        case FW_ELEM_U8:
            unwritten = p[i] == 0xFFu;
            x = p[i];
            break;
        case FW_ELEM_U32: {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            unwritten = u == POISON;
            x = u;
            break;
        }
        case FW_ELEM_I32: {
            int32_t s;
            memcpy(&s, p + 4 * i, 4);
            unwritten = (uint32_t)s == POISON;
            x = s;
            break;
        }
        default:
            return -EINVAL;
        }
        if (unwritten) {
            v->unwritten++;
            continue;
        }
        if (!isfinite(x)) {
            v->nonfinite++;
            continue;
        }
        double d = x - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    v->rel_err = den > 0.0 ? sqrt(num / den) : sqrt(num);
    return 0;
}

/* ---- caches ---------------------------------------------------------------------------------- */

static wl_entry *workload_get(fw_bench *b, const fw_family *fam, const cJSON *shape, uint64_t seed,
                              char *err, size_t errlen, int *rc)
{
    char *txt = cJSON_PrintUnformatted(shape);
    if (!txt) {
        *rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        return NULL;
    }
    uint64_t key = fw_hash64_str(FW_HASH64_INIT, fam->name);
    key = fw_hash64(key, "|", 1);
    key = fw_hash64_str(key, txt);
    key = fw_hash64(key, &seed, sizeof seed);
    free(txt);
    wl_entry *victim = &b->wl[0];
    for (int i = 0; i < FW_BENCH_WL_CACHE; i++) {
        wl_entry *e = &b->wl[i];
        if (e->used && e->key == key && e->fam == fam) {
            e->stamp = ++b->clock;
            return e;
        }
        if (!e->used || (victim->used && e->stamp < victim->stamp))
            victim = e;
    }
    /* Free the evicted workload first: workloads can be large, never hold two extra at once. */
    wl_entry_release(b, victim);
    fw_workload *wl = NULL;
    *rc = fam->workload_new(shape, seed, &wl, err, errlen);
    if (*rc < 0 || !wl) {
        if (*rc >= 0)
            *rc = fw_errf(err, errlen, -EINVAL, "family '%s' made no workload", fam->name);
        return NULL;
    }
    fw_buffer **bufs = calloc(wl->nbuffers ? wl->nbuffers : 1, sizeof *bufs);
    if (!bufs) {
        fam->workload_free(wl);
        *rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < wl->nbuffers; i++) {
        int r = b->be->buffer_new(b->dev, wl->buffers[i].bytes, &bufs[i]);
        if (r < 0) {
            *rc = fw_errf(err, errlen, r, "cannot allocate workload buffer '%s' (%zu bytes): %s",
                          wl->buffers[i].name ? wl->buffers[i].name : "?", wl->buffers[i].bytes,
                          b->be->last_error(b->dev));
            for (size_t j = 0; j < i; j++)
                b->be->buffer_free(b->dev, bufs[j]);
            free(bufs);
            fam->workload_free(wl);
            return NULL;
        }
    }
    victim->used = 1;
    victim->key = key;
    victim->stamp = ++b->clock;
    victim->fam = fam;
    victim->wl = wl;
    victim->bufs = bufs;
    *rc = 0;
    return victim;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t program_key(const char *source, char **macros, size_t n, const char *options, const char *entry)
{
    uint64_t h = fw_hash64_str(FW_HASH64_INIT, source);
    char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted) {
        memcpy(sorted, macros, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_str);
    }
    for (size_t i = 0; i < n; i++) {
        h = fw_hash64(h, "\n-D", 3);
        h = fw_hash64_str(h, sorted ? sorted[i] : macros[i]);
    }
    free(sorted);
    h = fw_hash64(h, "\n-O", 3);
    h = fw_hash64_str(h, options ? options : "");
    h = fw_hash64(h, "\n-E", 3);
    return fw_hash64_str(h, entry);
}

static prog_entry *program_get(fw_bench *b, const char *source, char **macros, size_t n,
                               const char *options, const char *entry, int *cached)
{
    uint64_t key = program_key(source, macros, n, options, entry);
    prog_entry *victim = &b->prog[0];
    for (int i = 0; i < FW_BENCH_PROG_CACHE; i++) {
        prog_entry *e = &b->prog[i];
        if (e->used && e->key == key) {
            e->stamp = ++b->clock;
            *cached = 1;
            return e;
        }
        if (!e->used || (victim->used && e->stamp < victim->stamp))
            victim = e;
    }
    *cached = 0;
    prog_entry_release(b, victim);
    uint64_t t0 = fw_now_ns();
    fw_program *prog = NULL;
    int rc = b->be->compile(b->dev, source, (const char *const *)macros, n, options, entry, &prog);
    victim->compile_ms = (double)(fw_now_ns() - t0) / 1e6;
    victim->used = 1;
    victim->key = key;
    victim->stamp = ++b->clock;
    victim->compile_rc = rc;
    if (rc < 0) {
        const char *log = b->be->last_error(b->dev);
        victim->log = fw_strdup(log && *log ? log : "the compiler failed without a message");
        victim->prog = NULL;
    } else {
        victim->prog = prog;
    }
    return victim;
}

/* ---- records --------------------------------------------------------------------------------- */

static void set_status(cJSON *rec, const char *status, const char *error)
{
    cJSON_ReplaceItemInObject(rec, "status", cJSON_CreateString(status));
    cJSON_ReplaceItemInObject(rec, "error", error ? cJSON_CreateString(error) : cJSON_CreateNull());
}

static uint64_t spec_seed(const cJSON *spec)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(spec, "seed");
    if (cJSON_IsString(s))
        return strtoull(s->valuestring, NULL, 0);
    if (cJSON_IsNumber(s) && s->valuedouble >= 0)
        return (uint64_t)s->valuedouble;
    return 0;
}

static int spec_int(const cJSON *spec, const char *name, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, name);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}

/* Append "NAME=VALUE" for each entry of a {"NAME": int|string} object. */
static int add_macro_object(const cJSON *obj, char ***macros, size_t *n, char *err, size_t errlen)
{
    if (!obj || cJSON_IsNull(obj))
        return 0;
    if (!cJSON_IsObject(obj))
        return fw_errf(err, errlen, -EINVAL, "\"macros\" must be an object of NAME: value");
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        char buf[512];
        if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble))
            snprintf(buf, sizeof buf, "%s=%" PRId64, it->string, (int64_t)it->valuedouble);
        else if (cJSON_IsNumber(it))
            snprintf(buf, sizeof buf, "%s=%.17g", it->string, it->valuedouble);
        else if (cJSON_IsString(it))
            snprintf(buf, sizeof buf, "%s=%s", it->string, it->valuestring);
        else if (cJSON_IsBool(it))
            snprintf(buf, sizeof buf, "%s=%d", it->string, cJSON_IsTrue(it) ? 1 : 0);
        else
            return fw_errf(err, errlen, -EINVAL, "macro '%s' must be a number or a string", it->string);
        char **m = realloc(*macros, (*n + 1) * sizeof *m);
        if (!m)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        *macros = m;
        if (!(m[*n] = fw_strdup(buf)))
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        (*n)++;
    }
    return 0;
}

static cJSON *geometry_json(const fw_geometry *g)
{
    cJSON *o = cJSON_CreateObject();
    int grid[3] = { (int)g->grid[0], (int)g->grid[1], (int)g->grid[2] };
    int group[3] = { (int)g->group[0], (int)g->group[1], (int)g->group[2] };
    cJSON_AddItemToObject(o, "grid", cJSON_CreateIntArray(grid, 3));
    cJSON_AddItemToObject(o, "group", cJSON_CreateIntArray(group, 3));
    cJSON_AddNumberToObject(o, "shared_bytes", (double)g->shared_bytes);
    if (g->dynamic_shared_bytes)
        cJSON_AddNumberToObject(o, "dynamic_shared_bytes", g->dynamic_shared_bytes);
    return o;
}

static cJSON *resources_json(const fw_resources *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "registers", (double)r->registers);
    cJSON_AddNumberToObject(o, "static_shared_bytes", (double)r->static_shared_bytes);
    cJSON_AddNumberToObject(o, "max_threads", (double)r->max_threads);
    cJSON_AddNumberToObject(o, "local_bytes", (double)r->local_bytes);
    cJSON_AddNumberToObject(o, "simd_width", (double)r->simd_width);
    return o;
}

/* Launch once; returns 0, -EFAULT (sticky) or another negative with text in the device error. */
static int launch(fw_bench *b, fw_program *prog, const fw_launch *l, uint64_t *ns)
{
    return b->be->launch(b->dev, prog, l, ns);
}

int fw_bench_measure(fw_bench *b, const cJSON *spec, const fw_plan_item *item, int64_t seq,
                     cJSON **record, char *err, size_t errlen)
{
    return fw_bench_measure_family(b, NULL, spec, item, seq, record, err, errlen);
}

int fw_bench_measure_family(fw_bench *b, const fw_family *fam, const cJSON *spec,
                            const fw_plan_item *item, int64_t seq, cJSON **record, char *err, size_t errlen)
{
    *record = NULL;
    if (!fam) {
        const cJSON *jfam = cJSON_GetObjectItemCaseSensitive(spec, "family");
        if (!cJSON_IsString(jfam))
            return fw_errf(err, errlen, -EINVAL, "the spec names no family");
        fam = fw_family_find(jfam->valuestring);
        if (!fam)
            return fw_errf(err, errlen, -EINVAL, "unknown kernel family '%s'", jfam->valuestring);
    }
    if (!fam->workload_new || !fam->workload_free || !fam->geometry)
        return fw_errf(err, errlen, -EINVAL, "kernel family '%s' has no workload or geometry", fam->name);
    const cJSON *shapes = cJSON_GetObjectItemCaseSensitive(spec, "shapes");
    const cJSON *shape = cJSON_GetArrayItem(shapes, item->shape);
    if (!cJSON_IsObject(shape))
        return fw_errf(err, errlen, -EINVAL, "the spec has no shape %d", item->shape);

    char shape_key[512] = "";
    if (fam->shape_key && fam->shape_key(shape, shape_key, sizeof shape_key) < 0)
        shape_key[0] = '\0';
    uint64_t wseed = fw_bench_workload_seed(spec_seed(spec), item->shape);
    int rc = 0;
    wl_entry *we = workload_get(b, fam, shape, wseed, err, errlen, &rc);
    if (!we)
        return rc;
    fw_workload *wl = we->wl;

    /* source and entry */
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(spec, "source");
    const cJSON *src_text = cJSON_GetObjectItemCaseSensitive(src, "text");
    const cJSON *src_entry = cJSON_GetObjectItemCaseSensitive(src, "entry");
    const char *entry = cJSON_IsString(src_entry) && *src_entry->valuestring ? src_entry->valuestring : wl->kernel;
    /* docs/spec.md also allows "entries": one name, or {dialect or family kernel name: entry} */
    const cJSON *src_entries = cJSON_GetObjectItemCaseSensitive(src, "entries");
    if (!cJSON_IsString(src_entry) && cJSON_IsString(src_entries) && *src_entries->valuestring)
        entry = src_entries->valuestring;
    else if (!cJSON_IsString(src_entry) && cJSON_IsObject(src_entries)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(src_entries, b->info.dialect);
        if (!cJSON_IsString(e))
            e = cJSON_GetObjectItemCaseSensitive(src_entries, wl->kernel);
        if (cJSON_IsString(e) && *e->valuestring)
            entry = e->valuestring;
    }
    char *source = NULL;
    if (cJSON_IsString(src_text)) {
        source = fw_strdup(src_text->valuestring);
        if (!source)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
    } else {
        if (!fam->source)
            return fw_errf(err, errlen, -EINVAL, "family '%s' has no source", fam->name);
        rc = fam->source(b->info.dialect, shape, &source, err, errlen);
        if (rc < 0)
            return rc;
    }
    char source_hash[17], vhash[17], key[FW_KEY_MAX];
    fw_hash64_hex(fw_hash64_str(FW_HASH64_INIT, source), source_hash);
    if (fw_point_key(&item->point, key, sizeof key) < 0)
        key[0] = '\0';
    uint64_t vh = fw_hash64_str(FW_HASH64_INIT, fam->name);
    vh = fw_hash64(vh, "|", 1);
    vh = fw_hash64_str(vh, source_hash);
    vh = fw_hash64(vh, "|", 1);
    fw_hash64_hex(fw_hash64_str(vh, key), vhash);

    /* macros */
    char **macros = NULL;
    size_t nmacros = 0;
    rc = fw_point_macros(&item->point, cJSON_GetObjectItemCaseSensitive(spec, "aliases"), &macros, &nmacros);
    if (rc < 0) {
        free(source);
        return fw_errf(err, errlen, rc, "cannot render the variant's macros");
    }
    rc = add_macro_object(cJSON_GetObjectItemCaseSensitive(spec, "macros"), &macros, &nmacros, err, errlen);
    if (rc == 0)
        rc = add_macro_object(wl->shape_macros, &macros, &nmacros, err, errlen);
    if (rc < 0) {
        fw_macros_free(macros, nmacros);
        free(source);
        return rc;
    }
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(spec, "options");
    const cJSON *copt = cJSON_GetObjectItemCaseSensitive(opts, "compiler");
    const char *options = cJSON_IsString(copt) ? copt->valuestring : NULL;
    int warmup = spec_int(spec, "warmup", 3);
    int iters = spec_int(spec, "iters", 10);
    if (warmup < 0)
        warmup = 0;
    if (iters < 1)
        iters = 1;

    cJSON *rec = cJSON_CreateObject();
    if (!rec) {
        fw_macros_free(macros, nmacros);
        free(source);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    cJSON_AddNumberToObject(rec, "seq", (double)seq);
    cJSON_AddNumberToObject(rec, "shape_index", item->shape);
    cJSON_AddStringToObject(rec, "shape_key", shape_key);
    cJSON_AddItemToObject(rec, "shape", cJSON_Duplicate(shape, 1));
    cJSON_AddStringToObject(rec, "family", fam->name);
    cJSON_AddStringToObject(rec, "kernel", entry);
    cJSON_AddStringToObject(rec, "mode", wl->mode);
    cJSON_AddStringToObject(rec, "variant_key", key);
    cJSON_AddStringToObject(rec, "variant_hash", vhash);
    cJSON_AddStringToObject(rec, "source_hash", source_hash);
    cJSON_AddItemToObject(rec, "knobs", fw_point_to_json(&item->point));
    cJSON *jm = cJSON_AddArrayToObject(rec, "macros");
    for (size_t i = 0; i < nmacros; i++)
        cJSON_AddItemToArray(jm, cJSON_CreateString(macros[i]));
    cJSON_AddStringToObject(rec, "origin", item->origin ? item->origin : "");
    cJSON_AddStringToObject(rec, "status", "runtime_error");
    cJSON_AddNullToObject(rec, "error");
    cJSON_AddNullToObject(rec, "compile_ms");
    cJSON_AddFalseToObject(rec, "cached");

    char why[1024];
    fw_buffer **bufs = we->bufs;
    fw_arg *args = NULL;
    unsigned char *out = NULL;
    uint64_t *samples = NULL;
    int fatal = 0;

    /* 1. geometry from the same knobs that are compiled; limits checked before any compile */
    fw_geometry geo;
    memset(&geo, 0, sizeof geo);
    why[0] = '\0';
    rc = fam->geometry(wl, &item->point, &geo, why, sizeof why);
    if (rc < 0) {
        set_status(rec, "invalid", why[0] ? why : "the family cannot run these knobs on this shape");
        goto done;
    }
    cJSON_AddItemToObject(rec, "geometry", geometry_json(&geo));
    int64_t threads = (int64_t)geo.group[0] * geo.group[1] * geo.group[2];
    if (b->info.max_threads > 0 && threads > b->info.max_threads) {
        snprintf(why, sizeof why, "the variant needs %" PRId64 " threads per threadgroup; the device allows %" PRId64,
                 threads, b->info.max_threads);
        set_status(rec, "invalid", why);
        goto done;
    }
    if (b->info.shared_bytes > 0 && geo.shared_bytes > b->info.shared_bytes) {
        snprintf(why, sizeof why, "the variant needs %" PRId64 " bytes of threadgroup memory; the device has %" PRId64,
                 geo.shared_bytes, b->info.shared_bytes);
        set_status(rec, "invalid", why);
        goto done;
    }

    /* 2. compile (or reuse this process's compiled program) */
    int cached = 0;
    prog_entry *pe = program_get(b, source, macros, nmacros, options, entry, &cached);
    cJSON_ReplaceItemInObject(rec, "compile_ms", cJSON_CreateNumber(pe->compile_ms));
    cJSON_ReplaceItemInObject(rec, "cached", cJSON_CreateBool(cached));
    if (!pe->prog) {
        set_status(rec, "compile_error", pe->log);
        goto done;
    }

    /* 3. resources the compiler reports, against the device and the launch */
    fw_resources res;
    memset(&res, 0, sizeof res);
    if (b->be->resources(b->dev, pe->prog, &res) == 0) {
        cJSON_AddItemToObject(rec, "resources", resources_json(&res));
        if (res.max_threads > 0 && threads > res.max_threads) {
            snprintf(why, sizeof why, "the compiled kernel can launch at most %" PRId64
                     " threads per threadgroup; the variant needs %" PRId64, res.max_threads, threads);
            set_status(rec, "invalid", why);
            goto done;
        }
        int64_t shared = res.static_shared_bytes + geo.dynamic_shared_bytes;
        if (b->info.shared_bytes > 0 && shared > b->info.shared_bytes) {
            snprintf(why, sizeof why, "the compiled kernel uses %" PRId64 " bytes of threadgroup memory; the device has %" PRId64,
                     shared, b->info.shared_bytes);
            set_status(rec, "invalid", why);
            goto done;
        }
    }

    /* 4. seeded inputs, poisoned outputs, zeroed accumulators (every variant starts clean) */
    for (size_t i = 0; i < wl->nbuffers; i++) {
        const fw_wl_buffer *wb = &wl->buffers[i];
        int r = 0;
        if (wb->role == FW_BUF_INPUT && wb->host)
            r = b->be->buffer_write(b->dev, bufs[i], 0, wb->host, wb->bytes);
        else if (wb->role == FW_BUF_OUTPUT)
            r = b->be->buffer_fill(b->dev, bufs[i], POISON, wb->bytes);
        else if (wb->role == FW_BUF_ACCUM || wb->role == FW_BUF_SCRATCH)
            r = b->be->buffer_fill(b->dev, bufs[i], 0, wb->bytes);
        if (r < 0) {
            snprintf(why, sizeof why, "preparing buffer '%s' failed: %s", wb->name ? wb->name : "?",
                     b->be->last_error(b->dev));
            set_status(rec, "runtime_error", why);
            fatal = r == -EFAULT;
            goto done;
        }
    }
    args = calloc(wl->nargs ? wl->nargs : 1, sizeof *args);
    if (!args) {
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < wl->nargs; i++) {
        if (wl->args[i].buffer >= 0) {
            if ((size_t)wl->args[i].buffer >= wl->nbuffers) {
                rc = fw_errf(err, errlen, -EINVAL, "family '%s': argument %zu names buffer %d of %zu",
                             fam->name, i, wl->args[i].buffer, wl->nbuffers);
                goto fail;
            }
            args[i].kind = FW_ARG_BUFFER;
            args[i].buffer = bufs[wl->args[i].buffer];
        } else {
            args[i].kind = FW_ARG_BYTES;
            args[i].bytes = wl->args[i].bytes;
            args[i].size = wl->args[i].size;
        }
    }
    fw_launch l;
    memset(&l, 0, sizeof l);
    memcpy(l.grid, geo.grid, sizeof l.grid);
    memcpy(l.group, geo.group, sizeof l.group);
    l.dynamic_shared_bytes = geo.dynamic_shared_bytes;
    l.args = args;
    l.nargs = wl->nargs;

    /* 5. the checked launch. Its host wall time is reported because some drivers finish compiling
     * at the first launch (PoCL specialises the kernel for the local size there). */
    uint64_t tl0 = fw_now_ns();
    rc = launch(b, pe->prog, &l, NULL);
    cJSON_AddNumberToObject(rec, "first_launch_ms", (double)(fw_now_ns() - tl0) / 1e6);
    if (rc < 0) {
        fatal = rc == -EFAULT;
        set_status(rec, "runtime_error", b->be->last_error(b->dev));
        goto done;
    }
    if (wl->output < 0 || (size_t)wl->output >= wl->nbuffers) {
        rc = fw_errf(err, errlen, -EINVAL, "family '%s' names no output buffer", fam->name);
        goto fail;
    }
    const fw_wl_buffer *ob = &wl->buffers[wl->output];
    size_t esz = elem_size(ob->elem);
    size_t nelem = ob->bytes / esz;
    out = malloc(ob->bytes ? ob->bytes : 1);
    if (!out) {
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    rc = b->be->buffer_read(b->dev, bufs[wl->output], 0, out, ob->bytes);
    if (rc < 0) {
        fatal = rc == -EFAULT;
        snprintf(why, sizeof why, "reading the output back failed: %s", b->be->last_error(b->dev));
        set_status(rec, "runtime_error", why);
        goto done;
    }
    if (wl->nreference != nelem || !wl->reference) {
        snprintf(why, sizeof why, "the reference has %zu elements but the output buffer holds %zu",
                 wl->nreference, nelem);
        set_status(rec, "verify_failed", why);
        goto done;
    }
    fw_bench_verify v;
    fw_bench_verify_output(ob->elem, out, nelem, wl->reference, &v);
    cJSON *jv = cJSON_AddObjectToObject(rec, "verify");
    cJSON_AddNumberToObject(jv, "rel_err", isfinite(v.rel_err) ? v.rel_err : 1e308);
    cJSON_AddNumberToObject(jv, "nonfinite", (double)v.nonfinite);
    cJSON_AddNumberToObject(jv, "unwritten", (double)v.unwritten);
    cJSON_AddNumberToObject(jv, "tolerance", wl->tolerance);
    if (v.unwritten || v.nonfinite || !(v.rel_err <= wl->tolerance)) {
        snprintf(why, sizeof why, "output differs from the reference: %zu of %zu elements unwritten, "
                 "%zu NaN/Inf, relative L2 error %.3g (tolerance %.3g)",
                 v.unwritten, nelem, v.nonfinite, v.rel_err, wl->tolerance);
        set_status(rec, "verify_failed", why);
        goto done;
    }

    /* 6. warmup, then every timed sample on the device clock */
    for (int i = 0; i < warmup; i++) {
        rc = launch(b, pe->prog, &l, NULL);
        if (rc < 0) {
            fatal = rc == -EFAULT;
            set_status(rec, "runtime_error", b->be->last_error(b->dev));
            goto done;
        }
    }
    samples = calloc((size_t)iters, sizeof *samples);
    if (!samples) {
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < iters; i++) {
        rc = launch(b, pe->prog, &l, &samples[i]);
        if (rc < 0) {
            fatal = rc == -EFAULT;
            set_status(rec, "runtime_error", b->be->last_error(b->dev));
            goto done;
        }
    }
    fw_bench_stats st;
    fw_bench_stats_compute(samples, (size_t)iters, &st);
    cJSON *js = cJSON_AddObjectToObject(rec, "stats");
    cJSON_AddNumberToObject(js, "n", (double)st.n);
    cJSON_AddNumberToObject(js, "median_ns", st.median);
    cJSON_AddNumberToObject(js, "mean_ns", st.mean);
    cJSON_AddNumberToObject(js, "min_ns", (double)st.min);
    cJSON_AddNumberToObject(js, "max_ns", (double)st.max);
    cJSON_AddNumberToObject(js, "stddev_ns", st.stddev);
    cJSON_AddNumberToObject(js, "p95_ns", st.p95);
    double med = st.median > 0 ? st.median : 1.0;   /* a 0 ns median would divide by zero */
    cJSON_AddNumberToObject(rec, "gbps", wl->bytes / med);
    cJSON_AddNumberToObject(rec, "gflops", wl->flops / med);
    cJSON_AddNumberToObject(rec, "bytes", wl->bytes);
    cJSON_AddNumberToObject(rec, "flops", wl->flops);
    cJSON *jsamp = cJSON_AddArrayToObject(rec, "samples_ns");
    for (int i = 0; i < iters; i++)
        cJSON_AddItemToArray(jsamp, cJSON_CreateNumber((double)samples[i]));
    set_status(rec, "ok", NULL);

done:
    free(samples);
    free(out);
    free(args);
    fw_macros_free(macros, nmacros);
    free(source);
    if (fatal) {
        cJSON_Delete(rec);
        return fw_errf(err, errlen, -EFAULT, "sticky device error: %s", b->be->last_error(b->dev));
    }
    *record = rec;
    return 0;

fail:
    free(samples);
    free(out);
    free(args);
    fw_macros_free(macros, nmacros);
    free(source);
    cJSON_Delete(rec);
    return rc < 0 ? rc : -EINVAL;
}
