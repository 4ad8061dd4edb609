/* The measuring harness: one plan item in, one measurement record out (fw_bench.h). */
#include "fw_bench.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw_declarative.h"
#include "fw_family.h"
#include "fw_transform.h"
#include "fw_util.h"
#include "fw_variants.h"

#define POISON 0xFFFFFFFFu

typedef struct wl_entry {
    int used;
    uint64_t key, stamp;
    const fw_family *fam;
    fw_workload *wl;
    fw_buffer **bufs;
    int nrot;             /* copies of the inputs for options.rotate_buffers (1 = none) */
    fw_buffer **rot;      /* (nrot - 1) x nbuffers: extra copies of the input buffers, NULL elsewhere */
} wl_entry;

typedef struct prog_entry {
    int used;
    uint64_t key, stamp;
    fw_program *prog;     /* NULL: the compile failed, log holds why (failures are cached too) */
    char *log;
    double compile_ms;
    double load_ms;       /* program_load of a compile-cache hit or a compile thread's binary */
    int compile_rc;
    int from_disk;        /* loaded from the persistent compile cache */
    int restored;         /* binary stored again after the first launch (see measure) */
} prog_entry;

typedef struct best_entry { char *shape_key; double ns; } best_entry;

typedef struct fw_pool fw_pool;

struct fw_bench {
    const fw_backend *be;
    fw_device *dev;
    fw_device_info info;
    uint64_t clock;
    wl_entry wl[FW_BENCH_WL_CACHE];
    prog_entry prog[FW_BENCH_PROG_CACHE];
    fw_ccache *cache;
    char identity[1024];
    best_entry *best;
    size_t nbest;
    fw_buffer *flush;     /* options.flush_cache_mb scratch buffer */
    size_t flush_bytes;
    fw_pool *pool;
    /* how the last timed_launches timed its samples (options.launches_per_sample, rotation) */
    int last_lps, last_nrot, last_window;
    uint64_t batch_launches;   /* launches made inside batched samples (tests count them) */
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
    if (e->rot) {
        for (size_t i = 0; i < (size_t)(e->nrot - 1) * e->wl->nbuffers; i++)
            if (e->rot[i])
                b->be->buffer_free(b->dev, e->rot[i]);
        free(e->rot);
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
    if (fw_device_identity(info, b->identity, sizeof b->identity) < 0)
        b->identity[0] = '\0';
    *out = b;
    return 0;
}

void fw_bench_set_cache(fw_bench *b, fw_ccache *c)
{
    if (b)
        b->cache = c;
}

void fw_bench_free(fw_bench *b)
{
    if (!b)
        return;
    fw_bench_pool_stop(b);
    for (size_t i = 0; i < b->nbest; i++)
        free(b->best[i].shape_key);
    free(b->best);
    if (b->flush)
        b->be->buffer_free(b->dev, b->flush);
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
    default: return fw_elem_size(elem);
    }
}

/* The f32 case on its own, without the per-element type switch, in fixed chunks whose partial sums
 * are added in chunk order: the result is the same whatever the number of threads, and large outputs
 * are compared on several cores (at 1M outputs the comparison was 3 ms of a warm variant's 7 ms on
 * the H200 machine, memory-bound on one core: BENCHMARKS.md, per-variant overhead). */
enum { VERIFY_CHUNK = 1 << 16, VERIFY_MAX_THREADS = 8 };

typedef struct verify_part {
    double num, den;
    size_t unwritten, nonfinite;
} verify_part;

typedef struct verify_job {
    const unsigned char *p;
    const double *ref;
    size_t nelem;
    verify_part *parts;
} verify_job;

static void verify_f32_chunk(const unsigned char *p, const double *ref, size_t i0, size_t i1, verify_part *r)
{
    double num = 0.0, den = 0.0;
    size_t unwritten = 0, nonfinite = 0;
    for (size_t i = i0; i < i1; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        if (u == POISON) {
            unwritten++;
            continue;
        }
        if ((u & 0x7f800000u) == 0x7f800000u) {   /* Inf or NaN */
            nonfinite++;
            continue;
        }
        float f;
        memcpy(&f, &u, 4);
        double d = (double)f - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    *r = (verify_part){num, den, unwritten, nonfinite};
}

static void verify_task(void *ctx, size_t c)
{
    verify_job *j = ctx;
    size_t i1 = (c + 1) * VERIFY_CHUNK < j->nelem ? (c + 1) * VERIFY_CHUNK : j->nelem;
    verify_f32_chunk(j->p, j->ref, c * VERIFY_CHUNK, i1, &j->parts[c]);
}

static void verify_f32(const unsigned char *p, size_t nelem, const double *ref, fw_bench_verify *v)
{
    size_t nchunks = (nelem + VERIFY_CHUNK - 1) / VERIFY_CHUNK;
    verify_part one, *parts = nchunks > 1 ? calloc(nchunks, sizeof *parts) : NULL;
    if (!parts) {   /* small, or no memory for the partials: one pass (the same sums for one chunk) */
        verify_f32_chunk(p, ref, 0, nelem, &one);
        v->unwritten = one.unwritten;
        v->nonfinite = one.nonfinite;
        v->rel_err = one.den > 0.0 ? sqrt(one.num / one.den) : sqrt(one.num);
        return;
    }
    verify_job job = {p, ref, nelem, parts};
    fw_parallel_tasks(nchunks, VERIFY_MAX_THREADS, verify_task, &job);
    double num = 0.0, den = 0.0;
    for (size_t c = 0; c < nchunks; c++) {
        num += parts[c].num;
        den += parts[c].den;
        v->unwritten += parts[c].unwritten;
        v->nonfinite += parts[c].nonfinite;
    }
    free(parts);
    v->rel_err = den > 0.0 ? sqrt(num / den) : sqrt(num);
}

int fw_bench_verify_output(int elem, const void *out, size_t nelem, const double *ref, fw_bench_verify *v)
{
    memset(v, 0, sizeof *v);
    if (elem == FW_ELEM_F32) {
        verify_f32(out, nelem, ref, v);
        return 0;
    }
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
        default: {   /* declarative workloads' further types: unwritten is all bytes 0xFF */
            size_t sz = elem_size(elem);
            unwritten = 1;
            for (size_t k = 0; k < sz; k++)
                unwritten &= p[sz * i + k] == 0xFFu;
            x = fw_elem_value(elem, p, i);
            break;
        }
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

static int add_macro_object(const cJSON *obj, char ***macros, size_t *n, char *err, size_t errlen);

/* A shape's workload: the family's, or for the declarative family the spec's "workload" one. */
static int wl_new(const fw_family *fam, const cJSON *spec, const cJSON *shape, uint64_t seed, fw_workload **out,
                  char *err, size_t errlen)
{
    if (fam == &fw_family_declarative)
        return fw_decl_workload_new(cJSON_GetObjectItemCaseSensitive(spec, "workload"), shape, seed, out, err, errlen);
    return fam->workload_new(shape, seed, out, err, errlen);
}

static wl_entry *workload_get(fw_bench *b, const fw_family *fam, const cJSON *spec, const cJSON *shape,
                              uint64_t seed, char *err, size_t errlen, int *rc)
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
    const cJSON *dw = cJSON_GetObjectItemCaseSensitive(spec, "workload");
    if (fam == &fw_family_declarative && (txt = cJSON_PrintUnformatted(dw)) != NULL) {
        key = fw_hash64_str(key, txt);   /* another job's workload on the same shape is another workload */
        free(txt);
    }
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
    *rc = wl_new(fam, spec, shape, seed, &wl, err, errlen);
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
    if (fam == &fw_family_declarative) {
        const cJSON *opt = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "options"), "compiler");
        char **rm = NULL;   /* the spec's fixed macros reach the reference too; the knobs' do not */
        size_t nrm = 0;
        *rc = add_macro_object(cJSON_GetObjectItemCaseSensitive(spec, "macros"), &rm, &nrm, err, errlen);
        if (*rc == 0)
            *rc = fw_bench_decl_reference(b->be, b->dev, wl, bufs, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                                          cJSON_GetObjectItemCaseSensitive(spec, "source"), "text")),
                                          (const char *const *)rm, nrm, cJSON_GetStringValue(opt), err, errlen);
        fw_macros_free(rm, nrm);
        if (*rc < 0) {
            for (size_t j = 0; j < wl->nbuffers; j++)
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
    victim->nrot = 1;
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

/* Compile through the persistent cache on `dev` (the timing device, or a compile thread's own
 * handle). With prog != NULL the result is a loaded program; with prog == NULL only the binary's
 * bytes are wanted (a compile thread hands them to the timing thread). On a compile failure *log
 * gets the build log (malloc'd) and the backend's code is returned. */
static int cached_compile(const fw_backend *be, fw_device *dev, fw_ccache *cache, const char *identity,
                          const char *arch, const char *source, char **macros, size_t n, const char *options,
                          const char *entry, fw_program **prog, void **bytes, size_t *len, int *from_disk,
                          char **log)
{
    *from_disk = 0;
    *log = NULL;
    if (prog)
        *prog = NULL;
    if (bytes) {
        *bytes = NULL;
        *len = 0;
    }
    int can_bin = be->program_binary && be->program_load;
    char key[FW_CCACHE_KEY_LEN + 1];
    int have_key = cache && can_bin &&
        fw_ccache_key(identity, arch, source, (const char *const *)macros, n, options, entry, key) == 0;
    if (have_key) {
        void *data = NULL;
        size_t dlen = 0;
        if (fw_ccache_get(cache, key, &data, &dlen) == 0) {
            if (!prog) {
                *bytes = data;
                *len = dlen;
                *from_disk = 1;
                return 0;
            }
            int rc = be->program_load(dev, data, dlen, entry, prog);
            free(data);
            if (rc == 0) {
                *from_disk = 1;
                return 0;
            }
            /* the driver refused the bytes (an entry from another driver build under the same version
             * string, say): compile, and the put below replaces the entry */
        }
    }
    fw_program *p = NULL;
    int rc = be->compile(dev, source, (const char *const *)macros, n, options, entry, &p);
    if (rc < 0) {
        const char *l = be->last_error(dev);
        *log = fw_strdup(l && *l ? l : "the compiler failed without a message");
        return rc;
    }
    void *data = NULL;
    size_t dlen = 0;
    /* OpenCL in the timing thread: the binary is stored after the first launch instead (see
     * fw_bench_measure_family): PoCL generates code for CL_PROGRAM_BINARIES, and after the first
     * launch it reuses what the launch compiled rather than compiling a second time now. */
    int defer = prog && strcmp(be->name, "opencl") == 0;
    if (((have_key && !defer) || !prog) && can_bin && be->program_binary(dev, p, &data, &dlen) == 0) {
        if (have_key)
            fw_ccache_put(cache, key, data, dlen);
    }
    if (prog) {
        free(data);
        *prog = p;
        return 0;
    }
    be->program_free(dev, p);
    if (!data) {
        *log = fw_strdup("the backend gave no program binary to hand over");
        return -ENOTSUP;
    }
    *bytes = data;
    *len = dlen;
    return 0;
}

/* A compile thread's result for one seq (fw_pool below). */
typedef struct pool_result {
    uint64_t key;
    void *bytes;
    size_t len;
    double ms;
    int from_disk, rc;
    char *log;
} pool_result;
static int pool_take(fw_pool *p, int64_t seq, uint64_t key, pool_result *out);

static prog_entry *program_get(fw_bench *b, const char *source, char **macros, size_t n,
                               const char *options, const char *entry, int64_t seq, int *cached)
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
    victim->used = 1;
    victim->key = key;
    victim->stamp = ++b->clock;
    pool_result r;
    if (b->pool && seq >= 0 && pool_take(b->pool, seq, key, &r) == 1) {
        victim->compile_ms = r.ms;
        victim->from_disk = r.from_disk;
        if (r.rc < 0) {
            victim->compile_rc = r.rc;
            victim->log = r.log;
            return victim;
        }
        free(r.log);
        uint64_t t0 = fw_now_ns();
        fw_program *prog = NULL;
        int rc = b->be->program_load(b->dev, r.bytes, r.len, entry, &prog);
        victim->load_ms = (double)(fw_now_ns() - t0) / 1e6;
        free(r.bytes);
        if (rc == 0) {
            victim->prog = prog;
            return victim;
        }
        /* fall through: compile here as if there were no pool */
    }
    uint64_t t0 = fw_now_ns();
    fw_program *prog = NULL;
    char *log = NULL;
    int rc = cached_compile(b->be, b->dev, b->cache, b->identity, b->info.arch, source, macros, n, options,
                            entry, &prog, NULL, NULL, &victim->from_disk, &log);
    victim->compile_ms = (double)(fw_now_ns() - t0) / 1e6;
    victim->load_ms = 0;
    victim->compile_rc = rc;
    victim->prog = rc < 0 ? NULL : prog;
    victim->log = log;
    return victim;
}

/* ---- records --------------------------------------------------------------------------------- */

static void set_status(cJSON *rec, const char *status, const char *error)
{
    cJSON_ReplaceItemInObject(rec, "status", cJSON_CreateString(status));
    cJSON_ReplaceItemInObject(rec, "error", error ? cJSON_CreateString(error) : cJSON_CreateNull());
}

/* A record's "stats" object from its samples (a measured variant and a finalist report the same
 * fields); *st gets the stats for the numbers the caller derives from them. */
static void add_stats(cJSON *o, const uint64_t *samples, size_t n, fw_bench_stats *st)
{
    fw_bench_stats_compute(samples, n, st);
    cJSON *js = cJSON_AddObjectToObject(o, "stats");
    cJSON_AddNumberToObject(js, "n", (double)st->n);
    cJSON_AddNumberToObject(js, "median_ns", st->median);
    cJSON_AddNumberToObject(js, "mean_ns", st->mean);
    cJSON_AddNumberToObject(js, "min_ns", (double)st->min);
    cJSON_AddNumberToObject(js, "max_ns", (double)st->max);
    cJSON_AddNumberToObject(js, "stddev_ns", st->stddev);
    cJSON_AddNumberToObject(js, "p95_ns", st->p95);
}

/* A record's "samples_ns": every sample, in the order taken. */
static void add_samples(cJSON *o, const uint64_t *samples, size_t n)
{
    cJSON *jsamp = cJSON_AddArrayToObject(o, "samples_ns");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(jsamp, cJSON_CreateNumber((double)samples[i]));
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

/* What the compiler sees for one plan item: shared by the timing thread and the compile threads,
 * so both compile exactly the same text with the same macros (and so share cache keys). */
typedef struct compile_in {
    char *source;
    char source_hash[17];
    const char *entry, *options;
    char **macros;
    size_t nmacros;
} compile_in;

static void compile_in_release(compile_in *c)
{
    fw_macros_free(c->macros, c->nmacros);
    free(c->source);
    memset(c, 0, sizeof *c);
}

static int compile_inputs(const char *dialect, const fw_family *fam, const cJSON *spec, const fw_plan_item *item,
                          const fw_workload *wl, compile_in *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const cJSON *shape = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(spec, "shapes"), item->shape);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(spec, "source");
    const cJSON *src_text = cJSON_GetObjectItemCaseSensitive(src, "text");
    const cJSON *src_entry = cJSON_GetObjectItemCaseSensitive(src, "entry");
    const char *entry = cJSON_IsString(src_entry) && *src_entry->valuestring ? src_entry->valuestring : wl->kernel;
    /* docs/spec.md also allows "entries": one name, or {dialect or family kernel name: entry} */
    const cJSON *src_entries = cJSON_GetObjectItemCaseSensitive(src, "entries");
    if (!cJSON_IsString(src_entry) && cJSON_IsString(src_entries) && *src_entries->valuestring)
        entry = src_entries->valuestring;
    else if (!cJSON_IsString(src_entry) && cJSON_IsObject(src_entries)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(src_entries, dialect);
        if (!cJSON_IsString(e))
            e = cJSON_GetObjectItemCaseSensitive(src_entries, wl->kernel);
        if (cJSON_IsString(e) && *e->valuestring)
            entry = e->valuestring;
    }
    c->entry = entry;
    int rc;
    if (cJSON_IsString(src_text)) {
        c->source = fw_strdup(src_text->valuestring);
        if (!c->source)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
    } else {
        if (!fam->source)
            return fw_errf(err, errlen, -EINVAL, "family '%s' has no source", fam->name);
        rc = fam->source(dialect, shape, &c->source, err, errlen);
        if (rc < 0)
            return rc;
    }
    /* Source transforms (spec "binds", variants/fw_transform.h) rewrite this in-memory copy, so the
     * hash below is the transformed text's; bound knobs are not passed as macros. */
    fw_point mpoint;
    rc = fw_transform_render(spec, &item->point, &c->source, &mpoint, err, errlen);
    if (rc < 0) {
        compile_in_release(c);
        return rc;
    }
    fw_hash64_hex(fw_hash64_str(FW_HASH64_INIT, c->source), c->source_hash);
    rc = fw_point_macros(&mpoint, cJSON_GetObjectItemCaseSensitive(spec, "aliases"), &c->macros, &c->nmacros);
    if (rc < 0) {
        compile_in_release(c);
        return fw_errf(err, errlen, rc, "cannot render the variant's macros");
    }
    rc = add_macro_object(cJSON_GetObjectItemCaseSensitive(spec, "macros"), &c->macros, &c->nmacros, err, errlen);
    if (rc == 0)
        rc = add_macro_object(wl->shape_macros, &c->macros, &c->nmacros, err, errlen);
    if (rc < 0) {
        compile_in_release(c);
        return rc;
    }
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(spec, "options");
    const cJSON *copt = cJSON_GetObjectItemCaseSensitive(opts, "compiler");
    c->options = cJSON_IsString(copt) ? copt->valuestring : NULL;
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

/* ---- timing options: early stop, input rotation, cache flush ------------------------------ */

typedef struct run_opts {
    int es_on, es_after;
    double es_ratio;
    int nrot;
    size_t flush_bytes;
    int lps;              /* options.launches_per_sample */
    double rotate_bytes;  /* options.rotate_bytes */
} run_opts;

static void parse_run_opts(const cJSON *spec, run_opts *o)
{
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(spec, "options");
    const cJSON *es = cJSON_GetObjectItemCaseSensitive(opts, "early_stop");
    o->es_on = !cJSON_IsFalse(es);
    o->es_after = 5;
    o->es_ratio = 2.0;
    if (cJSON_IsObject(es)) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(es, "after");
        if (cJSON_IsNumber(v) && v->valueint >= 1)
            o->es_after = v->valueint;
        v = cJSON_GetObjectItemCaseSensitive(es, "ratio");
        if (cJSON_IsNumber(v) && v->valuedouble > 1.0)
            o->es_ratio = v->valuedouble;
        v = cJSON_GetObjectItemCaseSensitive(es, "enabled");
        if (cJSON_IsFalse(v))
            o->es_on = 0;
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(opts, "rotate_buffers");
    o->nrot = cJSON_IsNumber(r) && r->valueint > 1 ? (r->valueint > 64 ? 64 : r->valueint) : 1;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(opts, "flush_cache_mb");
    o->flush_bytes = cJSON_IsNumber(f) && f->valuedouble > 0 ? (size_t)(f->valuedouble * 1048576.0) : 0;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(opts, "launches_per_sample");
    o->lps = cJSON_IsNumber(n) && n->valuedouble >= 1
           ? (n->valuedouble > FW_BENCH_LPS_MAX ? FW_BENCH_LPS_MAX : (int)n->valuedouble) : 1;
    const cJSON *rb = cJSON_GetObjectItemCaseSensitive(opts, "rotate_bytes");
    o->rotate_bytes = cJSON_IsNumber(rb) && rb->valuedouble > 0 ? rb->valuedouble : 0;
}

/* Copies of the inputs a timing needs: rotate_buffers, or enough that all copies together exceed
 * rotate_bytes (so a batch that walks through them re-reads none from a cache of that size). */
static int rotation_copies(const run_opts *ro, const fw_workload *wl)
{
    int nrot = ro->nrot;
    if (ro->rotate_bytes > 0) {
        double in = 0;
        for (size_t i = 0; i < wl->nbuffers; i++)
            if (wl->buffers[i].role == FW_BUF_INPUT && wl->buffers[i].host)
                in += (double)wl->buffers[i].bytes;
        if (in > 0) {
            double need = floor(ro->rotate_bytes / in) + 1;
            if (need > FW_BENCH_ROTATE_MAX)
                need = FW_BENCH_ROTATE_MAX;
            if ((int)need > nrot)
                nrot = (int)need;
        }
    }
    return nrot;
}

uint64_t fw_bench_batch_launches(const fw_bench *b)
{
    return b ? b->batch_launches : 0;
}

static double best_for(fw_bench *b, const char *shape_key)
{
    for (size_t i = 0; i < b->nbest; i++)
        if (strcmp(b->best[i].shape_key, shape_key) == 0)
            return b->best[i].ns;
    return 0;
}

void fw_bench_reset_best(fw_bench *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nbest; i++)
        free(b->best[i].shape_key);
    free(b->best);
    b->best = NULL;
    b->nbest = 0;
}

int fw_bench_note_best(fw_bench *b, const char *shape_key, double median_ns)
{
    if (!b || !shape_key || !(median_ns > 0))
        return -EINVAL;
    for (size_t i = 0; i < b->nbest; i++)
        if (strcmp(b->best[i].shape_key, shape_key) == 0) {
            if (median_ns < b->best[i].ns)
                b->best[i].ns = median_ns;
            return 0;
        }
    best_entry *e = realloc(b->best, (b->nbest + 1) * sizeof *e);
    if (!e)
        return -ENOMEM;
    b->best = e;
    if (!(e[b->nbest].shape_key = fw_strdup(shape_key)))
        return -ENOMEM;
    e[b->nbest++].ns = median_ns;
    return 0;
}

/* Extra copies of the workload's input buffers for rotation, written with the same bytes. */
static int ensure_rotation(fw_bench *b, wl_entry *we, int nrot)
{
    if (we->nrot >= nrot || nrot <= 1)
        return 0;
    size_t nb = we->wl->nbuffers;
    fw_buffer **rot = calloc((size_t)(nrot - 1) * (nb ? nb : 1), sizeof *rot);
    if (!rot)
        return -ENOMEM;
    int rc = 0;
    for (int c = 0; c < nrot - 1 && rc == 0; c++)
        for (size_t i = 0; i < nb && rc == 0; i++) {
            const fw_wl_buffer *wb = &we->wl->buffers[i];
            if (wb->role != FW_BUF_INPUT || !wb->host)
                continue;
            fw_buffer **slot = &rot[(size_t)c * nb + i];
            if (c < we->nrot - 1 && we->rot) {   /* keep the copies made for a smaller rotation */
                *slot = we->rot[(size_t)c * nb + i];
                we->rot[(size_t)c * nb + i] = NULL;
                continue;
            }
            rc = b->be->buffer_new(b->dev, wb->bytes, slot);
            if (rc == 0)
                rc = b->be->buffer_write(b->dev, *slot, 0, wb->host, wb->bytes);
        }
    if (we->rot) {
        for (size_t i = 0; i < (size_t)(we->nrot - 1) * nb; i++)
            if (we->rot[i])
                b->be->buffer_free(b->dev, we->rot[i]);
        free(we->rot);
    }
    we->rot = rot;
    we->nrot = nrot;
    return rc;
}

/* warmup untimed launches, then up to n timed ones into samples; *taken says how many. With early
 * stop on, stops after es_after samples once the running median exceeds es_ratio x the shape's best
 * (best_out / med_out then say by how much). Returns 0, -ENOMEM, or the backend's code (-EFAULT
 * sticky) with *failed pointing at a message when the failure was not a launch. */
static int timed_launches(fw_bench *b, fw_program *prog, const fw_launch *base, wl_entry *we, const run_opts *ro,
                          int warmup, size_t n, uint64_t *samples, const char *shape_key, size_t *taken,
                          double *best_out, double *med_out, const char **failed)
{
    *taken = 0;
    *failed = NULL;
    int nrot = rotation_copies(ro, we->wl);
    int lps = ro->lps;
    size_t nb = we->wl->nbuffers;
    b->last_lps = lps;
    b->last_nrot = nrot;
    b->last_window = lps > 1 && b->be->launch_batch ? 1 : 0;
    if (nrot > 1 && ensure_rotation(b, we, nrot) < 0) {
        *failed = "cannot allocate the rotated copies of the input buffers (options.rotate_buffers): "
                  "the device is out of memory";
        return -ENOSPC;
    }
    if (ro->flush_bytes && (!b->flush || b->flush_bytes != ro->flush_bytes)) {
        if (b->flush)
            b->be->buffer_free(b->dev, b->flush);
        b->flush = NULL;
        if (b->be->buffer_new(b->dev, ro->flush_bytes, &b->flush) < 0) {
            b->flush = NULL;
            *failed = "cannot allocate the cache-flush buffer (options.flush_cache_mb): lower it";
            return -ENOSPC;
        }
        b->flush_bytes = ro->flush_bytes;
    }
    /* one argument list per input copy: copy c swaps in the c-th rotated buffer of each input */
    fw_arg *args = calloc((size_t)nrot * (base->nargs ? base->nargs : 1), sizeof *args);
    uint64_t *sorted = calloc(n ? n : 1, sizeof *sorted);
    fw_launch *batch = lps > 1 ? calloc((size_t)lps, sizeof *batch) : NULL;
    if (!args || !sorted || (lps > 1 && !batch)) {
        free(args);
        free(sorted);
        free(batch);
        return -ENOMEM;
    }
    for (int c = 0; c < nrot; c++)
        for (size_t i = 0; i < base->nargs; i++) {
            fw_arg *a = &args[(size_t)c * base->nargs + i];
            *a = base->args[i];
            int bi = we->wl->args[i].buffer;
            if (c > 0 && bi >= 0 && (size_t)bi < nb && we->rot[(size_t)(c - 1) * nb + (size_t)bi])
                a->buffer = we->rot[(size_t)(c - 1) * nb + (size_t)bi];
        }
    fw_launch l = *base;
    int rc = 0;
    size_t k = 0;
    for (int i = 0; i < warmup && rc == 0; i++, k++) {
        l.args = &args[(k % (size_t)nrot) * base->nargs];
        rc = b->be->launch(b->dev, prog, &l, NULL);
    }
    double best = ro->es_on ? best_for(b, shape_key) : 0;
    for (size_t i = 0; i < n && rc == 0; i++, k++) {
        if (b->flush) {
            rc = b->be->buffer_fill(b->dev, b->flush, (uint32_t)(0x9e3779b9u * (uint32_t)(k + 1)), b->flush_bytes);
            if (rc < 0)
                break;
        }
        if (lps == 1) {
            l.args = &args[(k % (size_t)nrot) * base->nargs];
            rc = b->be->launch(b->dev, prog, &l, &samples[i]);
        } else {
            /* lps launches in one sample, each on the next input copy, divided by lps: the launch
             * overhead is paid once per window, not once per kernel */
            for (int j = 0; j < lps; j++) {
                batch[j] = *base;
                batch[j].args = &args[((k + (size_t)j) % (size_t)nrot) * base->nargs];
            }
            uint64_t total = 0;
            rc = b->last_window ? b->be->launch_batch(b->dev, prog, batch, (size_t)lps, &total) : -ENOTSUP;
            if (rc == -ENOTSUP) {
                b->last_window = 0;   /* this backend times each launch: add them up */
                rc = 0;
                total = 0;
                for (int j = 0; j < lps && rc == 0; j++) {
                    uint64_t one = 0;
                    rc = b->be->launch(b->dev, prog, &batch[j], &one);
                    total += one;
                }
            }
            k += (size_t)lps - 1;
            b->batch_launches += (uint64_t)lps;
            samples[i] = (total + (uint64_t)lps / 2) / (uint64_t)lps;
        }
        if (rc < 0)
            break;
        *taken = i + 1;
        if (best > 0 && *taken >= (size_t)ro->es_after && *taken < n) {
            memcpy(sorted, samples, *taken * sizeof *sorted);
            fw_bench_stats st;
            fw_bench_stats_compute(sorted, *taken, &st);
            if (st.median > ro->es_ratio * best) {
                *best_out = best;
                *med_out = st.median;
                break;
            }
        }
    }
    free(args);
    free(sorted);
    free(batch);
    return rc;
}

/* Launch once; returns 0, -EFAULT (sticky) or another negative with text in the device error. */
static int launch(fw_bench *b, fw_program *prog, const fw_launch *l, uint64_t *ns)
{
    return b->be->launch(b->dev, prog, l, ns);
}

/* A variant whose source a transform rewrote (variants/fw_transform.h, issue 13) must verify on
 * FW_BENCH_XFORM_SEEDS differently seeded inputs, and on FW_BENCH_XFORM_REPEATS launches of the
 * job's own inputs, each output poisoned first: a race that passes once must not win. The job's
 * inputs were verified once already; the extra seeds are the workload seed mixed with k * golden
 * ratio. Returns 0 when every check passes, 1 with why on a mismatch, < 0 on a device error (why
 * set). The job's inputs are back in the buffers when it returns. */
#define FW_BENCH_XFORM_SEEDS 3
/* Seeded inputs written, outputs poisoned, accumulators and scratch zeroed: every launch that is
 * checked starts clean. On failure, *failed is the buffer's index. */
static int prepare_buffers(fw_bench *b, const fw_workload *w, fw_buffer **bufs, size_t *failed)
{
    for (size_t i = 0; i < w->nbuffers; i++) {
        const fw_wl_buffer *wb = &w->buffers[i];
        int r = 0;
        if (wb->role == FW_BUF_INPUT && wb->host)
            r = b->be->buffer_write(b->dev, bufs[i], 0, wb->host, wb->bytes);
        else if (wb->role == FW_BUF_OUTPUT)
            r = b->be->buffer_fill(b->dev, bufs[i], POISON, wb->bytes);
        else if (wb->role == FW_BUF_ACCUM || wb->role == FW_BUF_SCRATCH)
            r = b->be->buffer_fill(b->dev, bufs[i], 0, wb->bytes);
        if (r < 0) {
            *failed = i;
            return r;
        }
    }
    return 0;
}

#define FW_BENCH_XFORM_REPEATS 3
static int xform_check_one(fw_bench *b, const fw_workload *w, fw_buffer **bufs, fw_program *prog, const fw_launch *l,
                           void *out, const char *what, char *why, size_t whylen)
{
    size_t failed_buf;
    int r = prepare_buffers(b, w, bufs, &failed_buf);
    if (r < 0) {
        snprintf(why, whylen, "%s: preparing buffers failed: %s", what, b->be->last_error(b->dev));
        return r;
    }
    int rc = launch(b, prog, l, NULL);
    const fw_wl_buffer *ob = &w->buffers[w->output];
    if (rc == 0)
        rc = b->be->buffer_read(b->dev, bufs[w->output], 0, out, ob->bytes);
    if (rc < 0) {
        snprintf(why, whylen, "%s: %s", what, b->be->last_error(b->dev));
        return rc;
    }
    size_t nelem = ob->bytes / elem_size(ob->elem);
    fw_bench_verify v;
    fw_bench_verify_output(ob->elem, out, nelem, w->reference, &v);
    if (v.unwritten || v.nonfinite || !(v.rel_err <= w->tolerance)) {
        snprintf(why, whylen, "transformed variant: %s: %zu of %zu elements unwritten, %zu NaN/Inf, relative L2 "
                 "error %.3g (tolerance %.3g)", what, v.unwritten, nelem, v.nonfinite, v.rel_err, w->tolerance);
        return 1;
    }
    return 0;
}

static int xform_checks(fw_bench *b, const fw_family *fam, const cJSON *shape, uint64_t wseed, const fw_workload *wl,
                        fw_buffer **bufs, fw_program *prog, const fw_launch *l, void *out, char *why, size_t whylen)
{
    char what[96];
    int rc = 0;
    for (int r = 1; r < FW_BENCH_XFORM_REPEATS && rc == 0; r++) {
        snprintf(what, sizeof what, "launch %d of %d on the job's inputs", r + 1, FW_BENCH_XFORM_REPEATS);
        rc = xform_check_one(b, wl, bufs, prog, l, out, what, why, whylen);
    }
    for (int k = 1; k < FW_BENCH_XFORM_SEEDS && rc == 0; k++) {
        fw_workload *w = NULL;
        char werr[256];
        uint64_t seed = wseed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)k);
        if (fam->workload_new(shape, seed, &w, werr, sizeof werr) < 0 || !w) {
            snprintf(why, whylen, "cannot make the workload of extra seed %d: %s", k, werr);
            return -EINVAL;
        }
        int same = w->nbuffers == wl->nbuffers && w->output == wl->output && w->nreference == wl->nreference;
        for (size_t i = 0; same && i < w->nbuffers; i++)
            same = w->buffers[i].bytes == wl->buffers[i].bytes;
        snprintf(what, sizeof what, "inputs of extra seed %d (0x%016llx)", k, (unsigned long long)seed);
        if (!same) {
            snprintf(why, whylen, "the workload of extra seed %d has other buffers than the job's", k);
            rc = -EINVAL;
        } else {
            rc = xform_check_one(b, w, bufs, prog, l, out, what, why, whylen);
        }
        fam->workload_free(w);
    }
    /* the job's own inputs back, for the timed launches */
    for (size_t i = 0; i < wl->nbuffers; i++)
        if (wl->buffers[i].role == FW_BUF_INPUT && wl->buffers[i].host) {
            int r = b->be->buffer_write(b->dev, bufs[i], 0, wl->buffers[i].host, wl->buffers[i].bytes);
            if (r < 0 && rc >= 0) {
                snprintf(why, whylen, "restoring the job's inputs failed: %s", b->be->last_error(b->dev));
                rc = r;
            }
        }
    return rc;
}

int fw_bench_measure(fw_bench *b, const cJSON *spec, const fw_plan_item *item, int64_t seq,
                     cJSON **record, char *err, size_t errlen)
{
    return fw_bench_measure_family(b, NULL, spec, item, seq, record, err, errlen);
}

/* Per-stage host wall time of one measurement (issue 20): "stages_ms" in the record says where a
 * variant's time goes (program lookup, buffer preparation, checked launch, read-back, comparison,
 * timed launches, statistics). Adds the time since *t0 under `name` and restarts the clock. */
static void stage_mark(cJSON *rec, const char *name, uint64_t *t0)
{
    uint64_t now = fw_now_ns();
    cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "stages_ms");
    if (!st)
        st = cJSON_AddObjectToObject(rec, "stages_ms");
    if (st)
        cJSON_AddNumberToObject(st, name, (double)(now - *t0) / 1e6);
    *t0 = now;
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
    wl_entry *we = workload_get(b, fam, spec, shape, wseed, err, errlen, &rc);
    if (!we)
        return rc;
    fw_workload *wl = we->wl;

    compile_in ci;
    rc = compile_inputs(b->info.dialect, fam, spec, item, wl, &ci, err, errlen);
    if (rc < 0)
        return rc;
    const char *entry = ci.entry, *options = ci.options;
    char *source = ci.source;
    char **macros = ci.macros;
    size_t nmacros = ci.nmacros;
    char *source_hash = ci.source_hash;
    char vhash[17], key[FW_KEY_MAX];
    if (fw_point_key(&item->point, key, sizeof key) < 0)
        key[0] = '\0';
    uint64_t vh = fw_hash64_str(FW_HASH64_INIT, fam->name);
    vh = fw_hash64(vh, "|", 1);
    vh = fw_hash64_str(vh, source_hash);
    vh = fw_hash64(vh, "|", 1);
    fw_hash64_hex(fw_hash64_str(vh, key), vhash);
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
    /* A variant with a structural transform switched on is "structural" (issue 13), whatever proposed it. */
    cJSON_AddStringToObject(rec, "origin", fw_transform_structural(spec, &item->point) ? "structural"
                                           : item->origin ? item->origin : "");
    cJSON_AddStringToObject(rec, "status", "runtime_error");
    cJSON_AddNullToObject(rec, "error");
    cJSON_AddNullToObject(rec, "compile_ms");
    cJSON_AddFalseToObject(rec, "cached");
    uint64_t tstage = fw_now_ns();

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

    stage_mark(rec, "setup", &tstage);
    /* 2. compile (or reuse this process's compiled program) */
    int cached = 0;
    prog_entry *pe = program_get(b, source, macros, nmacros, options, entry, seq, &cached);
    cJSON_ReplaceItemInObject(rec, "compile_ms", cJSON_CreateNumber(pe->compile_ms + pe->load_ms));
    cJSON_ReplaceItemInObject(rec, "cached", cJSON_CreateBool(cached || pe->from_disk));
    if (pe->load_ms > 0)
        cJSON_AddNumberToObject(rec, "load_ms", pe->load_ms);
    if (!pe->prog) {
        set_status(rec, "compile_error", pe->log);
        goto done;
    }

    stage_mark(rec, "program", &tstage);
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
    size_t failed_buf = 0;
    int prep = prepare_buffers(b, wl, bufs, &failed_buf);
    if (prep < 0) {
        const char *bname = wl->buffers[failed_buf].name;
        snprintf(why, sizeof why, "preparing buffer '%s' failed: %s", bname ? bname : "?",
                 b->be->last_error(b->dev));
        set_status(rec, "runtime_error", why);
        fatal = prep == -EFAULT;
        goto done;
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

    stage_mark(rec, "prepare", &tstage);
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
    /* PoCL finishes compiling at the first launch (the kernel specialised for its work-group size)
     * and its program binary then carries that code too: storing the binary again now lets a warm
     * cache skip the first-launch compile as well. Other backends' binaries are final at build. */
    /* (Not for a program a compile thread built: one created from a binary gives that binary back.) */
    if (b->cache && !pe->from_disk && !pe->restored && pe->load_ms == 0 && strcmp(b->be->name, "opencl") == 0 &&
        b->be->program_binary) {
        void *bin = NULL;
        size_t blen = 0;
        char ck[FW_CCACHE_KEY_LEN + 1];
        if (fw_ccache_key(b->identity, b->info.arch, source, (const char *const *)macros, nmacros, options, entry,
                          ck) == 0 && b->be->program_binary(b->dev, pe->prog, &bin, &blen) == 0)
            fw_ccache_put(b->cache, ck, bin, blen);
        free(bin);
        pe->restored = 1;
    }
    stage_mark(rec, "first_launch", &tstage);
    if (wl->output < 0 || (size_t)wl->output >= wl->nbuffers) {
        rc = fw_errf(err, errlen, -EINVAL, "family '%s' names no output buffer", fam->name);
        goto fail;
    }
    const fw_wl_buffer *ob = &wl->buffers[wl->output];
    size_t esz = elem_size(ob->elem);
    size_t nelem = (ob->bytes - wl->output_canary) / esz;
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
    stage_mark(rec, "readback", &tstage);
    for (size_t k = nelem * esz; k < ob->bytes; k++)
        if (out[k] != 0xFFu) {   /* a canary word past the end of the output was overwritten */
            snprintf(why, sizeof why, "wrote past the end of %s", ob->name ? ob->name : "the output");
            set_status(rec, "verify_failed", why);
            goto done;
        }
    if (fam == &fw_family_declarative && fw_decl_unverified(wl)) {
        cJSON_AddTrueToObject(rec, "unverified");   /* "verify": false in the workload */
        goto verified;
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
    int abs_ok = 0;
    if (wl->abs_tolerance > 0 && !v.unwritten && !v.nonfinite && !(v.rel_err <= wl->tolerance)) {
        abs_ok = 1;
        for (size_t i = 0; i < nelem && abs_ok; i++)
            abs_ok = fabs(fw_elem_value(ob->elem, out, i) - wl->reference[i]) <= wl->abs_tolerance;
    }
    if (v.unwritten || v.nonfinite || (!(v.rel_err <= wl->tolerance) && !abs_ok)) {
        snprintf(why, sizeof why, "output differs from the reference: %zu of %zu elements unwritten, "
                 "%zu NaN/Inf, relative L2 error %.3g (tolerance %.3g)",
                 v.unwritten, nelem, v.nonfinite, v.rel_err, wl->tolerance);
        set_status(rec, "verify_failed", why);
        goto done;
    }
    if (fw_transform_applies(spec, &item->point)) {
        int xr = xform_checks(b, fam, shape, wseed, wl, bufs, pe->prog, &l, out, why, sizeof why);
        cJSON_AddNumberToObject(jv, "seeds", FW_BENCH_XFORM_SEEDS);
        cJSON_AddNumberToObject(jv, "launches", FW_BENCH_XFORM_SEEDS + FW_BENCH_XFORM_REPEATS - 1);
        if (xr != 0) {
            fatal = xr == -EFAULT;
            set_status(rec, xr > 0 ? "verify_failed" : "runtime_error", why);
            goto done;
        }
    }

verified:
    stage_mark(rec, "verify", &tstage);
    /* 6. warmup, then every timed sample on the device clock (rotating inputs, flushing caches and
     * stopping early as the options say) */
    run_opts ro;
    parse_run_opts(spec, &ro);
    samples = calloc((size_t)iters, sizeof *samples);
    if (!samples) {
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    size_t taken = 0;
    double prune_best = 0, prune_med = 0;
    const char *failed = NULL;
    rc = timed_launches(b, pe->prog, &l, we, &ro, warmup, (size_t)iters, samples, shape_key, &taken,
                        &prune_best, &prune_med, &failed);
    if (rc < 0) {
        fatal = rc == -EFAULT;
        if (rc == -ENOMEM) {
            rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
            goto fail;
        }
        set_status(rec, "runtime_error", failed ? failed : b->be->last_error(b->dev));
        goto done;
    }
    stage_mark(rec, "timing", &tstage);
    fw_bench_stats st;
    add_stats(rec, samples, taken, &st);
    double med = st.median > 0 ? st.median : 1.0;   /* a 0 ns median would divide by zero */
    cJSON_AddNumberToObject(rec, "gbps", wl->bytes / med);
    cJSON_AddNumberToObject(rec, "gflops", wl->flops / med);
    cJSON_AddNumberToObject(rec, "bytes", wl->bytes);
    cJSON_AddNumberToObject(rec, "flops", wl->flops);
    cJSON *jt = cJSON_AddObjectToObject(rec, "timing");
    cJSON_AddNumberToObject(jt, "launches_per_sample", b->last_lps);
    cJSON_AddNumberToObject(jt, "rotate_copies", b->last_nrot);
    cJSON_AddNumberToObject(jt, "rotate_bytes", ro.rotate_bytes);
    cJSON_AddStringToObject(jt, "window", b->last_lps == 1 ? "launch" : b->last_window ? "batch" : "sum_of_launches");
    add_samples(rec, samples, taken);
    stage_mark(rec, "stats", &tstage);
    if (taken < (size_t)iters) {
        snprintf(why, sizeof why, "stopped early after %zu of %d timed launches: running median %.0f ns "
                 "is %.2fx the best so far for this shape (%.0f ns; options.early_stop.ratio %.3g)",
                 taken, iters, prune_med, prune_med / prune_best, prune_best, ro.es_ratio);
        set_status(rec, "pruned", why);
    } else {
        set_status(rec, "ok", NULL);
        fw_bench_note_best(b, shape_key, st.median);
    }

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

/* ---- compile pool ---------------------------------------------------------------------------- */

enum { S_EMPTY, S_SKIP, S_CLAIMED, S_DONE, S_NONE, S_TAKEN };

typedef struct pool_slot {
    int state;
    pool_result r;
} pool_slot;

typedef struct pool_wl {
    fw_workload *wl;
    int refs;
} pool_wl;

struct fw_pool {
    fw_bench *b;
    const cJSON *spec;
    const fw_plan *plan;
    const fw_family *fam;
    int nthreads, ndevs, depth, stop;
    pthread_t *th;
    fw_device **devs;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    pool_slot *slots;
    size_t n, next, pos;
    pthread_mutex_t wl_mu;       /* the compile threads' own host workloads, per shape */
    pool_wl *wls;
    size_t nshapes;
};

typedef struct pool_arg { fw_pool *p; int idx; } pool_arg;

int fw_bench_default_compile_threads(const fw_device_info *info)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (info && (strncmp(info->name, "pthread", 7) == 0 || strncmp(info->name, "cpu", 3) == 0 ||
                 (n > 0 && info->compute_units == n)))
        return 0;
    return n > 1 ? (int)(n - 1) : 1;
}

/* The compile threads need the workload's kernel name, shape macros and geometry, not its device
 * buffers: a host-only workload per shape, created once and freed when no thread uses it and the
 * pool has moved past the shape (plans are shape-major). */
static fw_workload *pool_wl_get(fw_pool *p, int shape)
{
    if (shape < 0 || (size_t)shape >= p->nshapes)
        return NULL;
    pthread_mutex_lock(&p->wl_mu);
    pool_wl *w = &p->wls[shape];
    if (!w->wl) {
        const cJSON *js = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p->spec, "shapes"), shape);
        char err[256];
        uint64_t seed = fw_bench_workload_seed(spec_seed(p->spec), shape);
        if (wl_new(p->fam, p->spec, js, seed, &w->wl, err, sizeof err) < 0)
            w->wl = NULL;
    }
    if (w->wl)
        w->refs++;
    fw_workload *wl = w->wl;
    pthread_mutex_unlock(&p->wl_mu);
    return wl;
}

static void pool_wl_put(fw_pool *p, int shape, size_t next_seq)
{
    pthread_mutex_lock(&p->wl_mu);
    pool_wl *w = &p->wls[shape];
    w->refs--;
    int still = next_seq < p->n && p->plan->items[next_seq].shape == shape;
    if (w->refs == 0 && !still && w->wl) {
        p->fam->workload_free(w->wl);
        w->wl = NULL;
    }
    pthread_mutex_unlock(&p->wl_mu);
}

/* One seq on compile thread idx: S_DONE with bytes or a compile error, or S_NONE when the timing
 * thread has to handle it itself (the geometry makes it invalid: nothing to compile). */
static int pool_compile(fw_pool *p, int idx, size_t seq, pool_result *r)
{
    memset(r, 0, sizeof *r);
    fw_bench *b = p->b;
    const fw_plan_item *item = &p->plan->items[seq];
    fw_workload *wl = pool_wl_get(p, item->shape);
    if (!wl)
        return S_NONE;
    int state = S_NONE;
    fw_geometry geo;
    memset(&geo, 0, sizeof geo);
    char why[512];
    if (p->fam->geometry(wl, &item->point, &geo, why, sizeof why) < 0)
        goto out;
    int64_t threads = (int64_t)geo.group[0] * geo.group[1] * geo.group[2];
    if ((b->info.max_threads > 0 && threads > b->info.max_threads) ||
        (b->info.shared_bytes > 0 && geo.shared_bytes > b->info.shared_bytes))
        goto out;
    compile_in ci;
    char err[512];
    if (compile_inputs(b->info.dialect, p->fam, p->spec, item, wl, &ci, err, sizeof err) < 0)
        goto out;
    r->key = program_key(ci.source, ci.macros, ci.nmacros, ci.options, ci.entry);
    uint64_t t0 = fw_now_ns();
    r->rc = cached_compile(b->be, p->devs[idx], b->cache, b->identity, b->info.arch, ci.source, ci.macros,
                           ci.nmacros, ci.options, ci.entry, NULL, &r->bytes, &r->len, &r->from_disk, &r->log);
    r->ms = (double)(fw_now_ns() - t0) / 1e6;
    compile_in_release(&ci);
    if (r->rc == -ENOTSUP) {   /* no binary to hand over: the timing thread compiles it */
        free(r->log);
        r->log = NULL;
    } else {
        state = S_DONE;
    }
out:;
    pthread_mutex_lock(&p->mu);
    size_t next = p->next;
    pthread_mutex_unlock(&p->mu);
    pool_wl_put(p, item->shape, next);
    return state;
}

static void *pool_main(void *arg)
{
    pool_arg *a = arg;
    fw_pool *p = a->p;
    int idx = a->idx;
    free(a);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop) {
            while (p->next < p->n && p->slots[p->next].state != S_EMPTY)
                p->next++;
            if (p->next < p->n && p->next <= p->pos + (size_t)p->depth)
                break;
            pthread_cond_wait(&p->cv_work, &p->mu);
        }
        if (p->stop)
            break;
        size_t seq = p->next++;
        p->slots[seq].state = S_CLAIMED;
        pthread_mutex_unlock(&p->mu);
        pool_result r;
        int state = pool_compile(p, idx, seq, &r);
        pthread_mutex_lock(&p->mu);
        p->slots[seq].r = r;
        p->slots[seq].state = state;
        pthread_cond_broadcast(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* The timing thread reaching seq: 1 with the compile thread's result, 0 when it must compile itself
 * (not compiled ahead, nothing to compile, or the code differs from what was compiled). */
static int pool_take(fw_pool *p, int64_t seq, uint64_t key, pool_result *out)
{
    if (seq < 0 || (size_t)seq >= p->n)
        return 0;
    size_t s = (size_t)seq;
    pthread_mutex_lock(&p->mu);
    p->pos = s;
    if (p->next <= s)
        p->next = s + 1;    /* the caller jumped ahead: compile ahead of it, not behind */
    pthread_cond_broadcast(&p->cv_work);
    while (p->slots[s].state == S_CLAIMED)
        pthread_cond_wait(&p->cv_done, &p->mu);
    int got = 0;
    pool_slot *sl = &p->slots[s];
    if (sl->state == S_DONE && sl->r.key == key) {
        *out = sl->r;
        got = 1;
    } else if (sl->state == S_DONE) {
        free(sl->r.bytes);
        free(sl->r.log);
    }
    memset(&sl->r, 0, sizeof sl->r);
    sl->state = S_TAKEN;
    pthread_mutex_unlock(&p->mu);
    return got;
}

int fw_bench_pool_start(fw_bench *b, const cJSON *spec, const fw_plan *plan, int device_index,
                        int threads, int depth, const int64_t *skip, size_t nskip, char *err, size_t errlen)
{
    if (!b || !spec || !plan || threads < 1)
        return fw_errf(err, errlen, -EINVAL, "the compile pool needs a spec, a plan and at least one thread");
    fw_bench_pool_stop(b);
    if (!b->be->program_binary || !b->be->program_load)
        return fw_errf(err, errlen, -ENOTSUP, "backend '%s' cannot hand compiled programs between threads "
                       "(no program_binary/program_load): compiling in the timing thread", b->be->name);
    const fw_family *fam = fw_family_find(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "family")));
    if (!fam || !fam->workload_new || !fam->workload_free || !fam->geometry)
        return fw_errf(err, errlen, -EINVAL, "the spec's family has no workload: no compile pool");
    fw_pool *p = calloc(1, sizeof *p);
    if (!p)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    p->b = b;
    p->spec = spec;
    p->plan = plan;
    p->fam = fam;
    p->n = plan->n;
    p->depth = depth > 0 ? depth : 2 * threads + 2;
    p->nshapes = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "shapes"));
    p->slots = calloc(p->n ? p->n : 1, sizeof *p->slots);
    p->wls = calloc(p->nshapes ? p->nshapes : 1, sizeof *p->wls);
    p->devs = calloc((size_t)threads, sizeof *p->devs);
    p->th = calloc((size_t)threads, sizeof *p->th);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->wl_mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    b->pool = p;
    if (!p->slots || !p->wls || !p->devs || !p->th) {
        fw_bench_pool_stop(b);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nskip; i++)
        if (skip[i] >= 0 && (size_t)skip[i] < p->n)
            p->slots[skip[i]].state = S_SKIP;
    while (p->pos < p->n && p->slots[p->pos].state == S_SKIP)
        p->pos++;
    p->next = p->pos;
    for (int i = 0; i < threads; i++) {
        fw_device_info info;
        int rc = b->be->open(device_index, &p->devs[i], &info, err, errlen);
        if (rc < 0) {
            p->devs[i] = NULL;
            fw_bench_pool_stop(b);
            return rc;
        }
        p->ndevs = i + 1;
    }
    for (int i = 0; i < threads; i++) {
        pool_arg *a = malloc(sizeof *a);
        if (a) {
            a->p = p;
            a->idx = i;
        }
        if (!a || pthread_create(&p->th[i], NULL, pool_main, a) != 0) {
            free(a);
            fw_bench_pool_stop(b);
            return fw_errf(err, errlen, -EAGAIN, "cannot start compile thread %d", i + 1);
        }
        p->nthreads = i + 1;
    }
    return 0;
}

int fw_bench_pool_wait(fw_bench *b, int64_t seq)
{
    fw_pool *p = b ? b->pool : NULL;
    if (!p || seq < 0 || (size_t)seq >= p->n)
        return 0;
    pthread_mutex_lock(&p->mu);
    while (!p->stop && (p->slots[seq].state == S_EMPTY || p->slots[seq].state == S_CLAIMED) &&
           (size_t)seq >= p->pos && (size_t)seq <= p->pos + (size_t)p->depth)
        pthread_cond_wait(&p->cv_done, &p->mu);
    int st = p->slots[seq].state;
    pthread_mutex_unlock(&p->mu);
    return st == S_DONE || st == S_NONE;
}

int fw_bench_pool_active(const fw_bench *b)
{
    return b && b->pool;
}

void fw_bench_pool_stop(fw_bench *b)
{
    fw_pool *p = b ? b->pool : NULL;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->th[i], NULL);
    for (size_t i = 0; p->slots && i < p->n; i++) {
        free(p->slots[i].r.bytes);
        free(p->slots[i].r.log);
    }
    for (size_t i = 0; p->wls && i < p->nshapes; i++)
        if (p->wls[i].wl)
            p->fam->workload_free(p->wls[i].wl);
    for (int i = 0; p->devs && i < p->ndevs; i++)
        b->be->close(p->devs[i]);
    b->pool = NULL;
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->wl_mu);
    free(p->slots);
    free(p->wls);
    free(p->th);
    free(p->devs);
    free(p);
}

/* ---- finalists ------------------------------------------------------------------------------- */

typedef struct finalist {
    const cJSON *rec;
    int64_t seq;
    double first_median;
    int first_rank;
    fw_program *prog;
    fw_launch l;
    fw_arg *args;
    uint64_t *samples;
    size_t n;
    double median;
} finalist;

static int cmp_fin_first(const void *a, const void *b)
{
    const finalist *x = a, *y = b;
    if (x->first_median != y->first_median)
        return x->first_median < y->first_median ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_fin_final(const void *a, const void *b)
{
    const finalist *x = a, *y = b;
    if (x->median != y->median)
        return x->median < y->median ? -1 : 1;
    return x->first_rank - y->first_rank;
}

static double rec_median(const cJSON *rec)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "stats"),
                                                                 "median_ns"));
}

/* Re-time one shape's finalists: programs and launches prepared first, then round-robin rounds. */
static int finalists_shape(fw_bench *b, const fw_family *fam, const cJSON *spec, const fw_plan *plan, int shape,
                           finalist *f, size_t nf, int rounds, int iters, int warmup, const run_opts *ro,
                           char *err, size_t errlen)
{
    const cJSON *js = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(spec, "shapes"), shape);
    int rc = 0;
    wl_entry *we = workload_get(b, fam, spec, js, fw_bench_workload_seed(spec_seed(spec), shape), err, errlen, &rc);
    if (!we)
        return rc;
    fw_workload *wl = we->wl;
    /* inputs as the first pass had them (a variant measured on another shape may have left others) */
    for (size_t i = 0; i < wl->nbuffers; i++) {
        const fw_wl_buffer *wb = &wl->buffers[i];
        if (wb->role == FW_BUF_INPUT && wb->host)
            rc = b->be->buffer_write(b->dev, we->bufs[i], 0, wb->host, wb->bytes);
        else if (wb->role == FW_BUF_ACCUM || wb->role == FW_BUF_SCRATCH)
            rc = b->be->buffer_fill(b->dev, we->bufs[i], 0, wb->bytes);
        if (rc < 0)
            return fw_errf(err, errlen, rc, "preparing the finalists' buffers failed: %s", b->be->last_error(b->dev));
    }
    for (size_t k = 0; k < nf; k++) {
        const fw_plan_item *item = &plan->items[f[k].seq];
        compile_in ci;
        rc = compile_inputs(b->info.dialect, fam, spec, item, wl, &ci, err, errlen);
        if (rc < 0)
            return rc;
        int cached = 0;
        prog_entry *pe = program_get(b, ci.source, ci.macros, ci.nmacros, ci.options, ci.entry, -1, &cached);
        compile_in_release(&ci);
        if (!pe->prog)
            return fw_errf(err, errlen, -EIO, "finalist seq %" PRId64 " no longer compiles: %s", f[k].seq,
                           pe->log ? pe->log : "?");
        f[k].prog = pe->prog;
        fw_geometry geo;
        memset(&geo, 0, sizeof geo);
        char why[256];
        if (fam->geometry(wl, &item->point, &geo, why, sizeof why) < 0)
            return fw_errf(err, errlen, -EINVAL, "finalist seq %" PRId64 ": %s", f[k].seq, why);
        f[k].args = calloc(wl->nargs ? wl->nargs : 1, sizeof *f[k].args);
        f[k].samples = calloc((size_t)rounds * (size_t)iters, sizeof *f[k].samples);
        if (!f[k].args || !f[k].samples)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        for (size_t i = 0; i < wl->nargs; i++) {
            if (wl->args[i].buffer >= 0) {
                f[k].args[i].kind = FW_ARG_BUFFER;
                f[k].args[i].buffer = we->bufs[wl->args[i].buffer];
            } else {
                f[k].args[i].kind = FW_ARG_BYTES;
                f[k].args[i].bytes = wl->args[i].bytes;
                f[k].args[i].size = wl->args[i].size;
            }
        }
        memcpy(f[k].l.grid, geo.grid, sizeof f[k].l.grid);
        memcpy(f[k].l.group, geo.group, sizeof f[k].l.group);
        f[k].l.dynamic_shared_bytes = geo.dynamic_shared_bytes;
        f[k].l.args = f[k].args;
        f[k].l.nargs = wl->nargs;
    }
    run_opts nro = *ro;
    nro.es_on = 0;     /* finalists are never pruned */
    for (int r = 0; r < rounds; r++)
        for (size_t k = 0; k < nf; k++) {
            size_t taken = 0;
            double bo = 0, mo = 0;
            const char *failed = NULL;
            rc = timed_launches(b, f[k].prog, &f[k].l, we, &nro, r == 0 ? warmup : 0, (size_t)iters,
                                f[k].samples + f[k].n, "", &taken, &bo, &mo, &failed);
            f[k].n += taken;
            if (rc < 0)
                return rc == -EFAULT ? rc : fw_errf(err, errlen, rc, "timing finalist seq %" PRId64 " failed: %s",
                                                    f[k].seq, failed ? failed : b->be->last_error(b->dev));
        }
    for (size_t k = 0; k < nf; k++) {
        fw_bench_stats st;
        fw_bench_stats_compute(f[k].samples, f[k].n, &st);
        f[k].median = st.median;
    }
    return 0;
}

int fw_bench_finalists(fw_bench *b, const cJSON *spec, const fw_plan *plan, const cJSON *records, int k,
                       int rounds, int iters, int warmup, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!b || !spec || !plan || !cJSON_IsArray(records) || k < 1 || rounds < 1 || iters < 1)
        return fw_errf(err, errlen, -EINVAL, "finalists need ok records, k >= 1, rounds >= 1 and iters >= 1");
    /* all of a shape's finalists stay in the program cache while they are timed */
    if (k > FW_BENCH_PROG_CACHE / 2)
        k = FW_BENCH_PROG_CACHE / 2;
    const fw_family *fam = fw_family_find(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(spec, "family")));
    if (!fam)
        return fw_errf(err, errlen, -EINVAL, "the spec names no known family");
    run_opts ro;
    parse_run_opts(spec, &ro);
    int nshapes = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "shapes"));
    cJSON *arr = cJSON_CreateArray();
    int rc = 0;
    size_t nrec = (size_t)cJSON_GetArraySize(records);
    finalist *f = calloc(nrec ? nrec : 1, sizeof *f);
    if (!arr || !f) {
        cJSON_Delete(arr);
        free(f);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    for (int s = 0; s < nshapes && rc == 0; s++) {
        size_t nf = 0;
        const cJSON *rec;
        cJSON_ArrayForEach(rec, records) {
            const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
            const cJSON *sq = cJSON_GetObjectItemCaseSensitive(rec, "seq");
            if (!st || strcmp(st, "ok") != 0 || !cJSON_IsNumber(sq) || sq->valuedouble < 0 ||
                sq->valuedouble >= (double)plan->n || plan->items[(size_t)sq->valuedouble].shape != s)
                continue;
            memset(&f[nf], 0, sizeof f[nf]);
            f[nf].rec = rec;
            f[nf].seq = (int64_t)sq->valuedouble;
            f[nf].first_median = rec_median(rec);
            nf++;
        }
        if (nf == 0)
            continue;
        qsort(f, nf, sizeof *f, cmp_fin_first);
        for (size_t i = 0; i < nf; i++)
            f[i].first_rank = (int)i + 1;
        if (nf > (size_t)k)
            nf = (size_t)k;
        rc = finalists_shape(b, fam, spec, plan, s, f, nf, rounds, iters, warmup, &ro, err, errlen);
        if (rc == 0) {
            qsort(f, nf, sizeof *f, cmp_fin_final);
            for (size_t i = 0; i < nf; i++) {
                cJSON *o = cJSON_CreateObject();
                const char *keys[] = { "seq", "shape_index", "shape_key", "variant_key", "knobs" };
                for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
                    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f[i].rec, keys[j]);
                    if (v)
                        cJSON_AddItemToObject(o, keys[j], cJSON_Duplicate(v, 1));
                }
                cJSON_AddNumberToObject(o, "rank", (double)(i + 1));
                cJSON_AddNumberToObject(o, "first_rank", f[i].first_rank);
                cJSON_AddNumberToObject(o, "first_median_ns", f[i].first_median);
                fw_bench_stats st;
                add_stats(o, f[i].samples, f[i].n, &st);
                add_samples(o, f[i].samples, f[i].n);
                cJSON_AddItemToArray(arr, o);
            }
        }
        for (size_t i = 0; i < nrec && i < nf + (size_t)k; i++) {
            free(f[i].args);
            free(f[i].samples);
            f[i].args = NULL;
            f[i].samples = NULL;
        }
    }
    free(f);
    if (rc < 0) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return 0;
}
