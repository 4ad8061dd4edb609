/* The replay device in the worker (fw_worker_replay.h): a replayed job's measurements come from its
 * recorded file instead of the compile/verify/time harness, in the worker's normal records, so the
 * daemon, store, rankings, finalists and report see a device like any other. */
#include "fw_worker_replay.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_bench.h"
#include "fw_family.h"
#include "fw_replay.h"
#include "fw_util.h"

#define NOISE_SEED 0x7265706c61790000ULL   /* "replay": the noise's PCG32 state, xor the job seed */

typedef struct pair {
    uint64_t idx;   /* space index */
    size_t entry;   /* recorded entry */
} pair;

struct fw_wreplay {
    const fw_replay_space *sp;
    pair *map;
    size_t nmap;
    double noise;
    uint64_t seed;
    int iters;
    char hash[17];
};

/* ---- the backend the worker opens for --backend replay ----------------------------------------- */

/* FAIRWAY_REPLAY_DEVICES=N (1 to 16, default 1): the replay backend shows N identical devices,
 * replay:0..N-1, so a job on several devices (issue 17) can be run on a recorded space: each replays
 * the same file and measures a seq the same, whichever device it is. -1 for a value that is not one. */
#define RB_DEVICES_MAX 16

static int rb_devices(void)
{
    const char *v = getenv("FAIRWAY_REPLAY_DEVICES");
    if (!v || !*v)
        return 1;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < 1 || n > RB_DEVICES_MAX ? -1 : (int)n;
}

static int rb_count(void)
{
    int n = rb_devices();
    return n < 1 ? 1 : n;
}

static int rb_open(int index, fw_device **dev, fw_device_info *info, char *err, size_t errlen)
{
    int n = rb_devices();
    if (n < 0)
        return fw_errf(err, errlen, -EINVAL, "FAIRWAY_REPLAY_DEVICES='%s' is not a number of replay devices from 1 "
                       "to %d", getenv("FAIRWAY_REPLAY_DEVICES"), RB_DEVICES_MAX);
    if ((index < 0 || index >= n) && n == 1)
        return fw_errf(err, errlen, -ENODEV, "the replay backend has one device, replay:0 (asked for %d; "
                       "FAIRWAY_REPLAY_DEVICES=N shows N)", index);
    if (index < 0 || index >= n)
        return fw_errf(err, errlen, -ENODEV, "the replay backend has %d devices, replay:0..%d (FAIRWAY_REPLAY_DEVICES; "
                       "asked for %d)", n, n - 1, index);
    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "replay");
    snprintf(info->dialect, sizeof info->dialect, "none");
    snprintf(info->vendor, sizeof info->vendor, "fairway");
    snprintf(info->name, sizeof info->name, "recorded space (the job's replay file)");
    snprintf(info->driver, sizeof info->driver, "%s", FW_VERSION);
    snprintf(info->compiler, sizeof info->compiler, "none");
    static int token;
    *dev = (fw_device *)&token;   /* no state: a job's file is loaded with the job */
    return 0;
}

static void rb_close(fw_device *dev)
{
    (void)dev;
}

static const char *rb_last_error(fw_device *dev)
{
    (void)dev;
    return "the replay device runs no kernel";
}

static int rb_compile(fw_device *dev, const char *source, const char *const *macros, size_t nmacros,
                      const char *options, const char *entry, fw_program **prog)
{
    (void)dev, (void)source, (void)macros, (void)nmacros, (void)options, (void)entry;
    *prog = NULL;
    return -ENOTSUP;
}

const fw_backend fw_replay_backend = {
    .version = FW_BACKEND_VERSION,
    .name = "replay",
    .device_count = rb_count,
    .open = rb_open,
    .close = rb_close,
    .last_error = rb_last_error,
    .compile = rb_compile,
};

/* ---- loading a replayed job -------------------------------------------------------------------- */

static int cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->idx != y->idx)
        return x->idx < y->idx ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

int fw_wreplay_load(const fw_job_spec *spec, fw_wreplay **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!spec->replay)
        return 0;
    const fw_job_num *opt = &spec->replay_noise;
    if (opt->present && (!opt->number || !(opt->value >= 0 && opt->value <= 1)))
        return fw_errf(err, errlen, -EINVAL, "options.replay_noise must be a number from 0 to 1 (the relative "
                       "standard deviation of each replayed sample, e.g. 0.02)");
    const fw_replay_space *sp = fw_replay_of_spec(spec->json, err, errlen);
    if (!sp)
        return -EINVAL;
    fw_space space;
    char serr[400];
    int rc = fw_space_from_json(spec->space, &space, serr, sizeof serr);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "space: %s", serr);
    fw_wreplay *w = calloc(1, sizeof *w);
    if (w)
        w->map = malloc((sp->npoints ? sp->npoints : 1) * sizeof *w->map);
    if (!w || !w->map) {
        fw_space_release(&space);
        free(w);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < sp->npoints; i++) {
        int64_t at = fw_replay_point_index(sp, &space, i);
        if (at >= 0)
            w->map[w->nmap++] = (pair){(uint64_t)at, i};
    }
    fw_space_release(&space);
    qsort(w->map, w->nmap, sizeof *w->map, cmp_pair);
    w->sp = sp;
    w->noise = opt->present ? opt->value : 0;
    w->seed = spec->has_seed ? spec->seed : 0;
    w->iters = spec->has_iters ? spec->iters : 10;
    snprintf(w->hash, sizeof w->hash, "%s", spec->replay_hash);
    *out = w;
    return 1;
}

void fw_wreplay_free(fw_wreplay *w)
{
    if (!w)
        return;
    free(w->map);
    free(w);
}

/* The recorded entry of a plan item (the first one recorded, when a configuration is there twice). */
static int64_t entry_of(const fw_wreplay *w, const fw_job_spec *spec, const fw_point *p)
{
    fw_space space;
    char serr[400];
    if (fw_space_from_json(spec->space, &space, serr, sizeof serr) < 0)
        return -1;
    int64_t at = fw_space_index(&space, p);
    fw_space_release(&space);
    size_t lo = 0, hi = w->nmap;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->map[mid].idx < (uint64_t)at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return at >= 0 && lo < w->nmap && w->map[lo].idx == (uint64_t)at ? (int64_t)w->map[lo].entry : -1;
}

/* n launches of entry e: launch j returns recorded sample j (cycling), else the recorded mean, times
 * the seeded noise factor; `stream` keeps each (seq, round) its own draws. */
static void launches(const fw_wreplay *w, size_t e, uint64_t stream, uint64_t *out, size_t n)
{
    const fw_replay_point *pt = &w->sp->rec[e];
    fw_pcg32 r;
    fw_pcg32_seed(&r, NOISE_SEED ^ w->seed, stream);
    for (size_t j = 0; j < n; j++) {
        double ms = pt->nsamples ? pt->samples[j % pt->nsamples] : pt->time_ms;
        ms *= fw_replay_noise_factor(w->noise, &r);
        double ns = llround(ms * 1e6);
        out[j] = ns < 1 ? 1 : (uint64_t)ns;
    }
}

static void add_stats(cJSON *o, const uint64_t *s, size_t n)
{
    fw_bench_stats st;
    fw_bench_stats_compute(s, n, &st);
    cJSON *js = cJSON_AddObjectToObject(o, "stats");
    cJSON_AddNumberToObject(js, "n", (double)st.n);
    cJSON_AddNumberToObject(js, "median_ns", st.median);
    cJSON_AddNumberToObject(js, "mean_ns", st.mean);
    cJSON_AddNumberToObject(js, "min_ns", (double)st.min);
    cJSON_AddNumberToObject(js, "max_ns", (double)st.max);
    cJSON_AddNumberToObject(js, "stddev_ns", st.stddev);
    cJSON_AddNumberToObject(js, "p95_ns", st.p95);
    cJSON *jsamp = cJSON_AddArrayToObject(o, "samples_ns");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(jsamp, cJSON_CreateNumber((double)s[i]));
}

static const char *const status_name[] = {"ok", "compile_error", "invalid", "crashed"};

static void record_head(cJSON *rec, const fw_wreplay *w, const fw_job_spec *spec, const fw_plan_item *it,
                        int64_t seq)
{
    const cJSON *shape = fw_job_spec_shape(spec, it->shape);
    const fw_family *fam = fw_family_find(FW_REPLAY_FAMILY);
    char sk[512] = "", key[FW_KEY_MAX] = "", vhash[17];
    if (fam && shape)
        fam->shape_key(shape, sk, sizeof sk);
    if (fw_point_key(&it->point, key, sizeof key) < 0)
        key[0] = '\0';
    uint64_t vh = fw_hash64_str(FW_HASH64_INIT, FW_REPLAY_FAMILY);
    vh = fw_hash64_str(fw_hash64(vh, "|", 1), w->hash);
    fw_hash64_hex(fw_hash64_str(fw_hash64(vh, "|", 1), key), vhash);
    cJSON_AddNumberToObject(rec, "seq", (double)seq);
    cJSON_AddNumberToObject(rec, "shape_index", it->shape);
    cJSON_AddStringToObject(rec, "shape_key", sk);
    cJSON_AddItemToObject(rec, "shape", shape ? cJSON_Duplicate(shape, 1) : cJSON_CreateObject());
    cJSON_AddStringToObject(rec, "family", FW_REPLAY_FAMILY);
    cJSON_AddStringToObject(rec, "kernel", w->sp->kernel && *w->sp->kernel ? w->sp->kernel : "replay");
    cJSON_AddStringToObject(rec, "mode", "");
    cJSON_AddStringToObject(rec, "variant_key", key);
    cJSON_AddStringToObject(rec, "variant_hash", vhash);
    cJSON_AddStringToObject(rec, "source_hash", w->hash);
    cJSON_AddItemToObject(rec, "knobs", fw_point_to_json(&it->point));
    cJSON_AddStringToObject(rec, "origin", it->origin ? it->origin : "");
}

int fw_wreplay_measure(const fw_wreplay *w, const fw_job_spec *spec, const fw_plan_item *it, int64_t seq, cJSON **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    int64_t e = entry_of(w, spec, &it->point);
    cJSON *rec = cJSON_CreateObject();
    if (!rec)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    record_head(rec, w, spec, it, seq);
    const fw_replay_point *pt = e >= 0 ? &w->sp->rec[e] : NULL;
    double launch_ms = 0;
    if (!pt) {   /* never planned: the plan's points are the recorded ones */
        cJSON_AddStringToObject(rec, "status", "invalid");
        cJSON_AddStringToObject(rec, "error", "this configuration is not in the recorded file");
    } else if (pt->status != FW_REPLAY_OK) {
        char why[160];
        snprintf(why, sizeof why, "recorded as %.120s in the replayed file", pt->failure ? pt->failure : "a failure");
        cJSON_AddStringToObject(rec, "status", status_name[pt->status]);
        cJSON_AddStringToObject(rec, "error", why);
    } else {
        cJSON_AddStringToObject(rec, "status", "ok");
        cJSON_AddNullToObject(rec, "error");
    }
    cJSON_AddNumberToObject(rec, "compile_ms", 0);
    cJSON_AddFalseToObject(rec, "cached");
    if (pt && pt->status == FW_REPLAY_OK) {
        size_t n = (size_t)w->iters;
        uint64_t *s = malloc(n * sizeof *s);
        if (!s) {
            cJSON_Delete(rec);
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        }
        launches(w, (size_t)e, (uint64_t)seq << 8, s, n);
        cJSON_AddNumberToObject(rec, "first_launch_ms", 0);
        add_stats(rec, s, n);
        if (pt->cost_ms < 0)
            for (size_t j = 0; j < n; j++)
                launch_ms += (double)s[j] / 1e6;
        free(s);
    }
    /* the recorded time of the evaluation, so a time budget on a replayed space is reproducible;
     * when the file does not say, the timed launches' samples */
    cJSON_AddNumberToObject(rec, "eval_ms", pt && pt->cost_ms >= 0 ? pt->cost_ms : launch_ms);
    *out = rec;
    return 0;
}

/* ---- finalists --------------------------------------------------------------------------------- */

typedef struct fin {
    fw_finalist_rank r;      /* first: the harness's comparators read it */
    const cJSON *rec;
    uint64_t *s;
    size_t n;
} fin;

static double median_of(const uint64_t *s, size_t n)
{
    fw_bench_stats st;
    return fw_bench_stats_compute(s, n, &st) == 0 ? st.median : 0;
}

/* One shape's finalists, re-timed: `rounds` rounds of `iters` launches each, every round with its
 * own noise draws. Appends them to arr in their new order. */
static int shape_finalists(const fw_wreplay *w, const fw_job_spec *spec, fin *f, size_t nf, int k, int rounds, int iters,
                           cJSON *arr)
{
    qsort(f, nf, sizeof *f, fw_finalist_cmp_first);
    for (size_t i = 0; i < nf; i++)
        f[i].r.first_rank = (int)i + 1;
    if (nf > (size_t)k)
        nf = (size_t)k;
    for (size_t i = 0; i < nf; i++) {
        fw_point p;
        char perr[200];
        if (fw_point_from_json(cJSON_GetObjectItemCaseSensitive(f[i].rec, "knobs"), &p, perr, sizeof perr) < 0)
            return -EINVAL;
        int64_t e = entry_of(w, spec, &p);
        f[i].n = (size_t)rounds * (size_t)iters;
        if (e < 0 || !(f[i].s = malloc(f[i].n * sizeof *f[i].s)))
            return e < 0 ? -EINVAL : -ENOMEM;
        for (int r = 0; r < rounds; r++)
            launches(w, (size_t)e, ((uint64_t)f[i].r.seq << 8) | (uint64_t)(r + 1), f[i].s + (size_t)r * iters,
                     (size_t)iters);
        f[i].r.median = median_of(f[i].s, f[i].n);
    }
    qsort(f, nf, sizeof *f, fw_finalist_cmp_final);
    for (size_t i = 0; i < nf; i++) {
        cJSON *o = cJSON_CreateObject();
        const char *keys[] = {"seq", "shape_index", "shape_key", "variant_key", "knobs"};
        for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(f[i].rec, keys[j]);
            if (v)
                cJSON_AddItemToObject(o, keys[j], cJSON_Duplicate(v, 1));
        }
        cJSON_AddNumberToObject(o, "rank", (double)(i + 1));
        cJSON_AddNumberToObject(o, "first_rank", f[i].r.first_rank);
        cJSON_AddNumberToObject(o, "first_median_ns", f[i].r.first_median);
        add_stats(o, f[i].s, f[i].n);
        cJSON_AddItemToArray(arr, o);
    }
    return 0;
}

int fw_wreplay_finalists(const fw_wreplay *w, const fw_job_spec *spec, const fw_plan *plan, const cJSON *records, int k,
                         int rounds, int iters, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    size_t nrec = (size_t)cJSON_GetArraySize(records);
    int nshapes = spec->nshapes;
    fin *f = calloc(nrec ? nrec : 1, sizeof *f);
    cJSON *arr = cJSON_CreateArray();
    int rc = f && arr ? 0 : -ENOMEM;
    for (int s = 0; s < nshapes && rc == 0; s++) {
        size_t nf = 0;
        const cJSON *rec;
        cJSON_ArrayForEach(rec, records) {
            const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
            const cJSON *sq = cJSON_GetObjectItemCaseSensitive(rec, "seq");
            if (!st || strcmp(st, "ok") != 0 || !cJSON_IsNumber(sq) || sq->valuedouble < 0 ||
                sq->valuedouble >= (double)plan->n || plan->items[(size_t)sq->valuedouble].shape != s)
                continue;
            f[nf] = (fin){.r = {.seq = (int64_t)sq->valuedouble}, .rec = rec};
            f[nf].r.first_median = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(rec, "stats"), "median_ns"));
            nf++;
        }
        rc = nf ? shape_finalists(w, spec, f, nf, k, rounds, iters, arr) : 0;
        for (size_t i = 0; i < nf; i++) {
            free(f[i].s);
            f[i].s = NULL;
        }
    }
    free(f);
    if (rc < 0) {
        cJSON_Delete(arr);
        return fw_errf(err, errlen, rc, "cannot re-time the replayed finalists (a candidate is not in the file?)");
    }
    *out = arr;
    return 0;
}
