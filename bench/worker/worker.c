/* fairway-worker: the only fairway process that loads a GPU driver (docs/worker-protocol.md).
 * Standalone (--spec) or driven by fairwayd (--serve). Exit codes are in usage(). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fw_backend.h"
#include "fw_bench.h"
#include "fw_family.h"
#include "fw_proto.h"
#include "fw_job.h"
#include "fw_util.h"
#include "fw_replay.h"
#include "fw_worker_replay.h"
#include "worker_int.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: fairway-worker --spec FILE|- [options]     measure a job spec, one JSON record per line\n"
"       fairway-worker --serve [--backend B] [--device N]   JSON-RPC on stdin/stdout (for fairwayd)\n"
"       fairway-worker --list-devices              JSON array of every device of every backend\n"
"       fairway-worker --spec FILE --expand        print the plan as JSON lines, compile nothing\n"
"       fairway-worker --spec FILE --resolve       print the resolved spec (what fairwayd sends in load)\n"
"\n"
"  --spec FILE|-     job spec (JSON; '-' reads stdin). A profile is enough: {\"profile\": \"gemm_small\"}\n"
"  --serve           serve the daemon-worker protocol on stdin/stdout (docs/worker-protocol.md)\n"
"  --backend NAME    backend to use: opencl, cuda, metal, replay (default: the spec's \"backend\", else\n"
"                    opencl; replay measures a recorded space, the spec's \"replay\" file; it has\n"
"                    one device, or FAIRWAY_REPLAY_DEVICES=N identical ones, 1 to 16)\n"
"  --device N        device index within the backend (default: the spec's \"device\", else 0)\n"
"  --list-devices    print the devices of all backends compiled in, then exit\n"
"  --expand          print the plan items {seq, shape_index, shape_key, variant_key, origin, knobs}\n"
"                    as JSON lines without compiling anything (a learning strategy: the points it\n"
"                    proposes before any result: the presets and its blind first proposals, or\n"
"                    options.ask_ahead + 1 if that is more)\n"
"  --warmup N        untimed launches before timing (overrides the spec)\n"
"  --iters N         timed launches per variant (overrides the spec)\n"
"  --budget N        evaluations per shape (overrides the spec; 0 = no limit)\n"
"  --seed N          job seed: variant order and input data (overrides the spec)\n"
"  --strategy S      grid, presets, random, anneal, genetic, model or auto (overrides the spec)\n"
"  --compile-threads N  compile threads ahead of the timing thread (default: spec\n"
"                    options.compile_threads, else online cores minus one, at least 1, but 0\n"
"                    on a CPU device such as PoCL, whose kernels use those cores);\n"
"                    0 compiles in the timing thread, one variant after another. On CUDA each\n"
"                    compile thread compiles in a child `fairway-worker --nvrtc-server` (NVRTC does\n"
"                    not scale within one process); FAIRWAY_NVRTC_PROCESSES=0 keeps them here\n"
"  --cache-dir DIR   persistent compile cache (default $XDG_CACHE_HOME/fairway/compile,\n"
"                    else ~/.cache/fairway/compile)\n"
"  --no-cache        no persistent compile cache\n"
"  --cache-max-mb N  bound of the compile cache; least recently used entries go first (default 512)\n"
"  --no-early-stop   time every variant fully (default: stop timing a variant whose running median\n"
"                    is over 2x the shape's best after 5 samples; spec options.early_stop)\n"
"  --finalists K     standalone: re-time the top K per shape interleaved at the end (default: spec\n"
"                    options.finalists, else 5; 0 = off)\n"
"  --help            this text\n"
"\n"
"Standalone output: one measurement record per line, then {\"summary\": {...}}.\n"
"Exit codes: 0 done (whatever the variants' statuses), 1 internal error (memory, a request line over 64 MiB),\n"
"            2 usage error or bad spec, 3 backend or device unavailable,\n"
"            70 sticky device error (the device is unusable; the variant in flight counts as crashed).\n"
"Tests only: FAIRWAY_TEST_FAULT=crash@K[,hang@K...] aborts / hangs when measuring seq K.\n");
}

/* ---- fault injection (tests only) ------------------------------------------------------------ */

/* `where` is the seq being measured ("12") or a phase ("finalists"): crash@finalists aborts when the
 * daemon asks for the finalists' re-timing. */
void fault_check_at(const char *where)
{
    const char *f = getenv("FAIRWAY_TEST_FAULT");
    if (!f || !*f)
        return;
    char *copy = fw_strdup(f);
    if (!copy)
        return;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *at = strchr(tok, '@');
        if (!at)
            continue;
        *at = '\0';
        if (strcmp(at + 1, where) != 0)
            continue;
        if (strcmp(tok, "crash") == 0) {
            fflush(stdout);
            abort();
        }
        if (strcmp(tok, "hang") == 0) {
            fflush(stdout);
            for (;;)
                pause();
        }
    }
    free(copy);
}

void fault_check(int64_t seq)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, seq);
    fault_check_at(buf);
}

/* ---- helpers --------------------------------------------------------------------------------- */

static int parse_int(const char *s, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return errno || !*s || *end ? -EINVAL : 0;
}

void print_json(const cJSON *o)
{
    fw_proto_write(stdout, o);
}

int open_device(const char *bname, int index, const fw_backend **be, fw_device **dev,
                       fw_device_info *info, char *err, size_t errlen)
{
    *be = fw_backend_find(bname);
    if (!*be) {
        fw_sbuf b;
        fw_sbuf_init(&b);
        const fw_backend *const *all = fw_backends();
        for (size_t i = 0; all[i]; i++)
            fw_sbuf_printf(&b, "%s%s", i ? ", " : "", all[i]->name);
        fw_errf(err, errlen, -ENODEV, "backend '%s' is not compiled into this worker (available: %s)",
                bname, b.len ? b.data : "none");
        fw_sbuf_release(&b);
        return -ENODEV;
    }
    return (*be)->open(index, dev, info, err, errlen);
}

static void choose_device(const opts *o, const fw_job_spec *spec, const char **bname, int *index)
{
    *bname = o->backend;
    *index = o->have_device ? o->device : 0;
    if (!*bname && spec->backend && *spec->backend)
        *bname = spec->backend;
    if (!o->have_device && spec->has_device) {
        *index = spec->device;
        if (spec->device_text) {   /* "opencl:1" or "1" */
            const char *c = strrchr(spec->device_text, ':');
            if (c && !*bname) {
                static char name[32];
                size_t n = (size_t)(c - spec->device_text);
                if (n < sizeof name) {
                    memcpy(name, spec->device_text, n);
                    name[n] = '\0';
                    *bname = name;
                }
            }
        }
    }
    if (!*bname)
        *bname = "opencl";
}

static int list_devices(void)
{
    cJSON *arr = cJSON_CreateArray();
    const fw_backend *const *all = fw_backends();
    for (size_t i = 0; all[i]; i++) {
        int n = all[i]->device_count();
        for (int d = 0; d < n; d++) {
            fw_device *dev = NULL;
            fw_device_info info;
            char err[512];
            if (all[i]->open(d, &dev, &info, err, sizeof err) < 0) {
                fprintf(stderr, "fairway-worker: %s device %d: %s\n", all[i]->name, d, err);
                continue;
            }
            cJSON_AddItemToArray(arr, fw_bench_device_json(&info, d));
            all[i]->close(dev);
        }
    }
    print_json(arr);
    cJSON_Delete(arr);
    return 0;
}

/* ---- throughput options (compile pool, compile cache, early stop, finalists) ------------------ */

static int opt_int(const char *name, const char *val, long long lo, long long hi, long long *out)
{
    if (parse_int(val, out) < 0 || *out < lo || *out > hi) {
        fprintf(stderr, "fairway-worker: --%s needs an integer in %lld..%lld, got '%s'\n", name, lo, hi, val);
        return -EINVAL;
    }
    return 0;
}

/* Opens the compile cache unless --no-cache; a cache that cannot be opened is a warning, not an
 * error: tuning works without it. */
fw_ccache *open_cache(const opts *o)
{
    if (o->no_cache)
        return NULL;
    char dir[4096];
    if (o->cache_dir)
        snprintf(dir, sizeof dir, "%s", o->cache_dir);
    else if (fw_ccache_default_dir(dir, sizeof dir) < 0) {
        fprintf(stderr, "fairway-worker: no compile cache: neither XDG_CACHE_HOME nor HOME is set "
                "(give --cache-dir DIR)\n");
        return NULL;
    }
    long long mb = FW_CCACHE_DEFAULT_MB;
    if (o->cache_max_mb)
        opt_int("cache-max-mb", o->cache_max_mb, 0, 1LL << 40, &mb);
    fw_ccache *c = NULL;
    char err[1024];
    if (fw_ccache_open(dir, (uint64_t)mb << 20, &c, err, sizeof err) < 0) {
        fprintf(stderr, "fairway-worker: no compile cache: %s\n", err);
        return NULL;
    }
    return c;
}

/* Compile threads: --compile-threads, else spec options.compile_threads, else cores - 1. */
int compile_threads(const opts *o, const fw_job_spec *spec, const fw_device_info *info)
{
    long long n;
    if (o->compile_threads && parse_int(o->compile_threads, &n) == 0 && n >= 0)
        return (int)(n > 256 ? 256 : n);
    const fw_job_num *v = &spec->compile_threads;
    if (v->number && v->ivalue >= 0)
        return v->ivalue > 256 ? 256 : v->ivalue;
    return fw_bench_default_compile_threads(info);
}

/* --no-early-stop writes options.early_stop = false into the spec (so records and the stored spec
 * say how the job was measured). */
void apply_early_stop(cJSON *spec, const opts *o)
{
    if (!o->no_early_stop)
        return;
    cJSON *op = cJSON_GetObjectItemCaseSensitive(spec, "options");
    if (!cJSON_IsObject(op)) {
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "options");
        op = cJSON_AddObjectToObject(spec, "options");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(op, "early_stop");
    cJSON_AddFalseToObject(op, "early_stop");
}

/* Threads the pool really runs (0 when it could not start). */
int bench_pool_threads(int asked, fw_bench *b)
{
    return fw_bench_pool_active(b) ? asked : 0;
}

/* Spec options.finalist_rounds (default 5), options.finalist_iters (default the spec's iters, else 10),
 * and the spec's warmup (default 3): the same for the standalone run and the daemon's finalists. */
void finalist_params(const fw_job_spec *spec, int *rounds, int *iters, int *warmup)
{
    const fw_job_num *jr = &spec->finalist_rounds, *ji = &spec->finalist_iters;
    *rounds = jr->number && jr->ivalue > 0 ? jr->ivalue : 5;
    *iters = ji->number && ji->ivalue > 0 ? ji->ivalue : spec->has_iters ? spec->iters : 10;
    *warmup = spec->has_warmup ? spec->warmup : 3;
}

/* --finalists, else spec options.finalists, else 5. */
static int finalist_count(const opts *o, const fw_job_spec *spec)
{
    long long n;
    if (o->finalists && parse_int(o->finalists, &n) == 0 && n >= 0)
        return (int)n;
    if (spec->finalists.number && spec->finalists.ivalue >= 0)
        return spec->finalists.ivalue;
    if (spec->finalists_false)
        return 0;
    return 5;
}

/* ---- standalone ------------------------------------------------------------------------------ */

typedef struct summary {
    int64_t evaluated, ok, cached, pruned;
    cJSON *by_status;
    double compile_ms;
    double first_launch_ms;
    cJSON *best;          /* overall fastest ok record's essentials */
    cJSON *best_by_shape; /* shape_key -> the same */
} summary;

static cJSON *best_entry(const cJSON *rec)
{
    cJSON *b = cJSON_CreateObject();
    const char *keys[] = { "seq", "shape_key", "variant_key", "knobs", "gflops", "gbps" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, keys[i]);
        if (v)
            cJSON_AddItemToObject(b, keys[i], cJSON_Duplicate(v, 1));
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "stats");
    cJSON_AddNumberToObject(b, "median_ns", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "median_ns")));
    return b;
}

static double best_median(const cJSON *b)
{
    return b ? cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "median_ns")) : 0;
}

static void summary_add(summary *s, const cJSON *rec)
{
    s->evaluated++;
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
    if (!status)
        status = "?";
    cJSON *c = cJSON_GetObjectItemCaseSensitive(s->by_status, status);
    if (c)
        cJSON_SetNumberValue(c, c->valuedouble + 1);
    else
        cJSON_AddNumberToObject(s->by_status, status, 1);
    if (strcmp(status, "pruned") == 0)
        s->pruned++;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "cached")))
        s->cached++;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "cached"))) {
        const cJSON *cm = cJSON_GetObjectItemCaseSensitive(rec, "compile_ms");
        if (cJSON_IsNumber(cm))
            s->compile_ms += cm->valuedouble;
    }
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(rec, "first_launch_ms");
    if (cJSON_IsNumber(fl))
        s->first_launch_ms += fl->valuedouble;
    if (strcmp(status, "ok") != 0)
        return;
    s->ok++;
    cJSON *e = best_entry(rec);
    double med = best_median(e);
    if (!s->best || med < best_median(s->best)) {
        cJSON_Delete(s->best);
        s->best = cJSON_Duplicate(e, 1);
    }
    const char *sk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "shape_key"));
    if (!sk)
        sk = "";
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(s->best_by_shape, sk);
    if (!cur)
        cJSON_AddItemToObject(s->best_by_shape, sk, e);
    else if (med < best_median(cur))
        cJSON_ReplaceItemInObjectCaseSensitive(s->best_by_shape, sk, e);
    else
        cJSON_Delete(e);
}

static int apply_overrides(cJSON *user, const opts *o)
{
    struct { const char *name, *val; } nums[] = {
        { "warmup", o->warmup }, { "iters", o->iters }, { "budget", o->budget }, { "seed", o->seed },
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (!nums[i].val)
            continue;
        long long v;
        if (parse_int(nums[i].val, &v) < 0 || v < 0) {
            fprintf(stderr, "fairway-worker: --%s needs a non-negative integer, got '%s'\n", nums[i].name, nums[i].val);
            return -EINVAL;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(user, nums[i].name);
        cJSON_AddNumberToObject(user, nums[i].name, (double)v);
    }
    if (o->strategy) {
        cJSON_DeleteItemFromObjectCaseSensitive(user, "strategy");
        cJSON_DeleteItemFromObjectCaseSensitive(user, "no_explore");
        cJSON_AddStringToObject(user, "strategy", o->strategy);
    }
    return 0;
}

static cJSON *expand_item(const fw_job_spec *spec, const fw_plan *plan, size_t seq)
{
    const fw_plan_item *it = &plan->items[seq];
    cJSON *o = cJSON_CreateObject();
    char key[FW_KEY_MAX] = "", sk[512] = "";
    fw_point_key(&it->point, key, sizeof key);
    const fw_family *fam = fw_family_find(spec->family);
    const cJSON *shape = fw_job_spec_shape(spec, it->shape);
    if (fam && fam->shape_key && shape)
        fam->shape_key(shape, sk, sizeof sk);
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    cJSON_AddNumberToObject(o, "shape_index", it->shape);
    cJSON_AddStringToObject(o, "shape_key", sk);
    cJSON_AddStringToObject(o, "variant_key", key);
    cJSON_AddStringToObject(o, "origin", it->origin ? it->origin : "");
    cJSON_AddItemToObject(o, "knobs", fw_point_to_json(&it->point));
    return o;
}

/* The standalone run drives the sequencer as the daemon does: ask (as far ahead as the compile
 * threads reach and the strategy's ask-ahead allows), measure in seq order, tell. */
static int run_sequence(fw_bench *bench, const fw_wreplay *rp, const fw_job_spec *spec, fw_seq *q, fw_plan *plan,
                        int nthreads, summary *s, cJSON *oks, char *err, size_t errlen)
{
    size_t ahead = nthreads > 0 ? (size_t)(2 * nthreads + 2) : 0;
    for (size_t seq = 0;; seq++) {
        const fw_seq_item *it;   /* a spec's time budget ends shapes in the sequencer (fw_job.h) */
        while (fw_seq_count(q) <= seq + ahead && fw_seq_ask(q, &it) == FW_SEQ_ITEM) {
            fw_plan_item pi = {.shape = it->shape, .point = it->point, .origin = it->origin};
            fw_bench_plan_set(bench, plan, (size_t)it->seq, &pi);
        }
        if (seq >= fw_seq_count(q) || seq >= plan->n)
            return 0;
        fault_check((int64_t)seq);
        cJSON *rec = NULL;
        int rc = rp ? fw_wreplay_measure(rp, spec, &plan->items[seq], (int64_t)seq, &rec, err, errlen)
                    : fw_bench_measure(bench, spec, &plan->items[seq], (int64_t)seq, &rec, err, errlen);
        if (rc == -EFAULT) {
            fprintf(stderr, "fairway-worker: seq %zu: %s\n", seq, err);
            fflush(stdout);
            _exit(EXIT_STICKY);   /* the device is gone: write nothing more, free nothing */
        }
        if (rc < 0) {
            fprintf(stderr, "fairway-worker: seq %zu: %s\n", seq, err);
            return rc;
        }
        print_json(rec);
        summary_add(s, rec);
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
        fw_outcome out;
        if (fw_seq_outcome(status, cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
                               cJSON_GetObjectItemCaseSensitive(rec, "stats"), "median_ns")), &out) < 0)
            out = (fw_outcome){.kind = FW_OUT_CRASHED};
        fw_seq_tell(q, (int64_t)seq, out, fw_record_eval_ms(rec));
        if (status && strcmp(status, "ok") == 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(rec, "samples_ns");
            cJSON_AddItemToArray(oks, rec);
        } else {
            cJSON_Delete(rec);
        }
    }
}

/* The standalone run's last line: {"summary": {...}} (docs/worker-protocol.md). */
static void print_summary(const summary *s, size_t planned, double t0, double tuned_s, int nthreads,
                          fw_ccache *cache, const cJSON *fin)
{
    cJSON *sum = cJSON_CreateObject();
    cJSON *si = cJSON_AddObjectToObject(sum, "summary");
    cJSON_AddNumberToObject(si, "evaluated", (double)s->evaluated);
    cJSON_AddNumberToObject(si, "planned", (double)planned);
    cJSON_AddNumberToObject(si, "ok", (double)s->ok);
    cJSON_AddItemToObject(si, "by_status", s->by_status);
    cJSON_AddNumberToObject(si, "wall_s", fw_wall_s() - t0);
    cJSON_AddNumberToObject(si, "compile_s", s->compile_ms / 1000.0);
    /* checked launches' wall time: includes drivers' lazy JIT (PoCL), see fw_bench.h */
    cJSON_AddNumberToObject(si, "first_launch_s", s->first_launch_ms / 1000.0);
    cJSON_AddItemToObject(si, "best", s->best ? s->best : cJSON_CreateNull());
    cJSON_AddItemToObject(si, "best_by_shape", s->best_by_shape);
    cJSON_AddNumberToObject(si, "compile_threads", nthreads);
    cJSON_AddNumberToObject(si, "tuned_s", tuned_s);   /* the plan's variants, finalists not included */
    cJSON_AddNumberToObject(si, "variants_per_min", tuned_s > 0 ? 60.0 * (double)s->evaluated / tuned_s : 0);
    cJSON_AddNumberToObject(si, "cached", (double)s->cached);
    cJSON_AddNumberToObject(si, "pruned", (double)s->pruned);
    if (cache) {
        fw_ccache_stats cs;
        fw_ccache_get_stats(cache, &cs);
        cJSON *jc = cJSON_AddObjectToObject(si, "compile_cache");
        cJSON_AddStringToObject(jc, "dir", fw_ccache_dir(cache));
        cJSON_AddNumberToObject(jc, "hits", (double)cs.hits);
        cJSON_AddNumberToObject(jc, "misses", (double)cs.misses);
        cJSON_AddNumberToObject(jc, "stores", (double)cs.stores);
        cJSON_AddNumberToObject(jc, "dropped", (double)cs.dropped);
        cJSON_AddNumberToObject(jc, "evicted", (double)cs.evicted);
    }
    /* the winners by the finalists' interleaved samples (rank 1 of each shape) */
    cJSON *wins = cJSON_AddObjectToObject(si, "winner_by_shape");
    const cJSON *fe;
    cJSON_ArrayForEach(fe, fin) {
        if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fe, "rank")) != 1)
            continue;
        cJSON *w = cJSON_CreateObject();
        cJSON_AddItemToObject(w, "seq", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(fe, "seq"), 1));
        cJSON_AddItemToObject(w, "variant_key", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(fe, "variant_key"), 1));
        cJSON_AddItemToObject(w, "median_ns", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(fe, "stats"), "median_ns"), 1));
        cJSON_AddItemToObject(wins, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fe, "shape_key")), w);
    }
    print_json(sum);
    cJSON_Delete(sum);
}

static int standalone(const opts *o)
{
    char err[4096];
    char *text = NULL;
    size_t len = 0;
    if (strcmp(o->spec, "-") == 0) {
        fw_sbuf b;
        fw_sbuf_init(&b);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
            fw_sbuf_append(&b, buf, n);
        fw_sbuf_puts(&b, "");
        text = fw_sbuf_take(&b);
    } else if (fw_read_file(o->spec, &text, &len, err, sizeof err) < 0) {
        fprintf(stderr, "fairway-worker: cannot read the spec: %s\n", err);
        return EXIT_USAGE;
    }
    cJSON *user = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cJSON_IsObject(user)) {
        fprintf(stderr, "fairway-worker: the spec %s is not a JSON object\n", o->spec);
        cJSON_Delete(user);
        return EXIT_USAGE;
    }
    if (apply_overrides(user, o) < 0) {
        cJSON_Delete(user);
        return EXIT_USAGE;
    }
    cJSON *spec = NULL;
    fw_job_spec js;
    int rc = fw_spec_resolve(user, &spec, err, sizeof err);
    cJSON_Delete(user);
    if (rc == 0)
        apply_early_stop(spec, o);
    if (rc == 0 && (rc = fw_job_spec_parse(spec, &js, err, sizeof err)) < 0)
        cJSON_Delete(spec);
    if (rc < 0) {
        fprintf(stderr, "fairway-worker: bad spec: %s\n", err);
        return EXIT_USAGE;
    }
    if (o->resolve) {
        print_json(spec);
        cJSON_Delete(spec);
        return 0;
    }

    const char *bname;
    int index;
    choose_device(o, &js, &bname, &index);
    const fw_backend *be = NULL;
    fw_device *dev = NULL;
    fw_device_info info;
    rc = open_device(bname, index, &be, &dev, &info, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "fairway-worker: device unavailable: %s\n", err);
        cJSON_Delete(spec);
        return EXIT_DEVICE;
    }
    cJSON *devj = fw_bench_device_json(&info, index);
    fw_plan plan = { 0 };
    fw_seq *q = NULL;
    /* --expand lists the plan (a learning strategy's: what it proposes before any result); a run
     * fills one slot per evaluation as the sequencer asks */
    rc = o->expand ? fw_plan_build(spec, devj, &plan, err, sizeof err) : fw_seq_new(spec, devj, &q, err, sizeof err);
    if (rc == 0 && q) {
        plan.n = plan.planned = fw_seq_planned(q);
        if (!(plan.items = calloc(plan.n ? plan.n : 1, sizeof *plan.items)))
            rc = fw_errf(err, sizeof err, -ENOMEM, "out of memory");
    }
    if (rc < 0) {
        fw_seq_free(q);
        fprintf(stderr, "fairway-worker: cannot plan the job: %s\n", err);
        cJSON_Delete(devj);
        be->close(dev);
        cJSON_Delete(spec);
        return EXIT_USAGE;
    }
    int status = 0;
    if (o->expand) {
        for (size_t i = 0; i < plan.n; i++) {
            cJSON *it = expand_item(&js, &plan, i);
            print_json(it);
            cJSON_Delete(it);
        }
        goto out;
    }

    fw_bench *bench = NULL;
    if (fw_bench_new(be, dev, &info, &bench) < 0) {
        fprintf(stderr, "fairway-worker: out of memory\n");
        status = 1;
        goto out;
    }
    fw_wreplay *rp = NULL;   /* a recorded space: records from its file, no harness */
    if (fw_wreplay_load(&js, &rp, err, sizeof err) < 0) {
        fprintf(stderr, "fairway-worker: %s\n", err);
        fw_bench_free(bench);
        status = EXIT_USAGE;
        goto out;
    }
    fw_ccache *cache = rp ? NULL : open_cache(o);
    fw_bench_set_cache(bench, cache);
    double t0 = fw_wall_s();
    int nthreads = rp ? 0 : compile_threads(o, &js, &info);
    if (nthreads > 0 && fw_bench_pool_start(bench, &js, &plan, index, nthreads, 0, NULL, 0, err, sizeof err) < 0) {
        fprintf(stderr, "fairway-worker: compiling in the timing thread: %s\n", err);
        nthreads = 0;
    }
    summary s = { 0 };
    s.by_status = cJSON_CreateObject();
    s.best_by_shape = cJSON_CreateObject();
    cJSON *oks = cJSON_CreateArray();   /* ok records without samples: the finalists' candidates */
    if (run_sequence(bench, rp, &js, q, &plan, nthreads, &s, oks, err, sizeof err) < 0)
        status = 1;
    fw_bench_pool_stop(bench);
    double tuned_s = fw_wall_s() - t0;
    cJSON *fin = NULL;
    int nfin = finalist_count(o, &js);
    if (status == 0 && nfin > 0 && cJSON_GetArraySize(oks) > 0) {
        int rounds, fiters, fwarm;
        finalist_params(&js, &rounds, &fiters, &fwarm);
        rc = rp ? fw_wreplay_finalists(rp, &js, &plan, oks, nfin, rounds, fiters, &fin, err, sizeof err)
                : fw_bench_finalists(bench, &js, &plan, oks, nfin, rounds, fiters, fwarm, &fin, err, sizeof err);
        if (rc == -EFAULT) {
            fprintf(stderr, "fairway-worker: finalists: %s\n", err);
            fflush(stdout);
            _exit(EXIT_STICKY);
        }
        if (rc < 0) {
            fprintf(stderr, "fairway-worker: finalists: %s\n", err);
            status = 1;
        } else {
            cJSON *line = cJSON_CreateObject();
            cJSON_AddItemToObject(line, "finalists", cJSON_Duplicate(fin, 1));
            print_json(line);
            cJSON_Delete(line);
        }
    }
    print_summary(&s, plan.n, t0, tuned_s, nthreads, cache, fin);
    cJSON_Delete(fin);
    cJSON_Delete(oks);
    fw_wreplay_free(rp);
    fw_bench_free(bench);
    fw_ccache_close(cache);
out:
    fw_seq_free(q);
    fw_plan_release(&plan);
    cJSON_Delete(devj);
    be->close(dev);
    cJSON_Delete(spec);
    return status;
}

int main(int argc, char **argv)
{
    int code;
    if (fw_worker_backends_init(argc, argv, &code))
        return code;
    opts o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--serve") == 0) {
            o.serve = 1;
        } else if (strcmp(a, "--list-devices") == 0) {
            o.list = 1;
        } else if (strcmp(a, "--expand") == 0) {
            o.expand = 1;
        } else if (strcmp(a, "--resolve") == 0) {
            o.resolve = 1;
        } else if (strcmp(a, "--spec") == 0) {
            val = &o.spec;
        } else if (strcmp(a, "--backend") == 0) {
            val = &o.backend;
        } else if (strcmp(a, "--warmup") == 0) {
            val = &o.warmup;
        } else if (strcmp(a, "--iters") == 0) {
            val = &o.iters;
        } else if (strcmp(a, "--budget") == 0) {
            val = &o.budget;
        } else if (strcmp(a, "--seed") == 0) {
            val = &o.seed;
        } else if (strcmp(a, "--strategy") == 0) {
            val = &o.strategy;
        } else if (strcmp(a, "--compile-threads") == 0) {
            val = &o.compile_threads;
        } else if (strcmp(a, "--cache-dir") == 0) {
            val = &o.cache_dir;
        } else if (strcmp(a, "--cache-max-mb") == 0) {
            val = &o.cache_max_mb;
        } else if (strcmp(a, "--finalists") == 0) {
            val = &o.finalists;
        } else if (strcmp(a, "--no-cache") == 0) {
            o.no_cache = 1;
        } else if (strcmp(a, "--no-early-stop") == 0) {
            o.no_early_stop = 1;
        } else if (strcmp(a, "--device") == 0) {
            long long v;
            if (i + 1 >= argc || parse_int(argv[i + 1], &v) < 0 || v < 0 || v > 1000000) {
                fprintf(stderr, "fairway-worker: --device needs a device index (0, 1, ...)\n");
                return EXIT_USAGE;
            }
            o.device = (int)v;
            o.have_device = 1;
            i++;
        } else {
            fprintf(stderr, "fairway-worker: unknown argument '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        if (val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "fairway-worker: %s needs a value (see --help)\n", a);
                return EXIT_USAGE;
            }
            *val = argv[++i];
        }
    }
    long long chk;
    if ((o.compile_threads && opt_int("compile-threads", o.compile_threads, 0, 256, &chk) < 0) ||
        (o.cache_max_mb && opt_int("cache-max-mb", o.cache_max_mb, 0, 1LL << 40, &chk) < 0) ||
        (o.finalists && opt_int("finalists", o.finalists, 0, FW_BENCH_PROG_CACHE / 2, &chk) < 0))
        return EXIT_USAGE;
    if (o.list)
        return list_devices();
    if (o.serve)
        return serve(&o);
    if (!o.spec) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return standalone(&o);
}
