/* serve.c - fairway-worker driven by fairwayd over stdin/stdout (docs/worker-protocol.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fw_family.h"
#include "fw_proto.h"
#include "fw_replay.h"
#include "fw_util.h"
#include "fw_worker_replay.h"
#include "worker_int.h"

/* ---- serve ----------------------------------------------------------------------------------- */

static void rpc_result(const cJSON *id, cJSON *result)
{
    cJSON *o = fw_proto_result(id, result);
    print_json(o);
    cJSON_Delete(o);
}

static void rpc_error(const cJSON *id, int code, const char *msg)
{
    cJSON *o = fw_proto_error(id, code, msg, NULL);
    print_json(o);
    cJSON_Delete(o);
}

int wk_item_from_json(const cJSON *j, const fw_space *space, size_t planned, int nshapes, size_t *seq,
                      fw_plan_item *out, char *err, size_t errlen)
{
    const cJSON *sq = cJSON_GetObjectItemCaseSensitive(j, "seq");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape_index");
    const char *origin = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "origin"));
    if (!cJSON_IsNumber(sq) || sq->valuedouble < 0 || sq->valuedouble >= (double)planned ||
        sq->valuedouble != (double)(int64_t)sq->valuedouble)
        return fw_errf(err, errlen, -EINVAL, "an item's seq must be an integer in 0..%zu", planned ? planned - 1 : 0);
    if (!cJSON_IsNumber(sh) || sh->valuedouble < 0 || sh->valuedouble >= nshapes)
        return fw_errf(err, errlen, -EINVAL, "item %.0f: shape_index must be a shape of the loaded spec", sq->valuedouble);
    char perr[300];
    memset(out, 0, sizeof *out);
    int rc = fw_point_from_json(cJSON_GetObjectItemCaseSensitive(j, "knobs"), &out->point, perr, sizeof perr);
    if (rc == 0)
        rc = fw_space_check_point(space, &out->point, perr, sizeof perr);
    if (rc < 0)
        return fw_errf(err, errlen, -EINVAL, "item %.0f: knobs: %s", sq->valuedouble, perr);
    out->shape = (int)sh->valuedouble;
    out->origin = fw_seq_origin(origin);
    *seq = (size_t)sq->valuedouble;
    return 0;
}

/* What serve() keeps between requests: the device, and the job loaded last. Its plan has a slot
 * per evaluation of the job, filled as the daemon sends items (measure's item and ahead, the
 * finalists' candidates): a slot whose origin is NULL is not known yet. */
typedef struct server {
    const opts *o;
    fw_device_info info;
    int index;
    cJSON *devj;
    fw_bench *bench;
    cJSON *spec;
    fw_job_spec js;          /* spec, parsed (fw_job_spec_parse) */
    fw_space space;
    int nshapes;
    fw_plan plan;
    int have_plan;
    fw_wreplay *rp;   /* the loaded job's recorded space, when it is replayed */
    char err[4096];
} server;

/* A replayed job: its recorded space, and the device it names (the `device` method's answer). */
static int serve_load_replay(server *s)
{
    int rc = fw_wreplay_load(&s->js, &s->rp, s->err, sizeof s->err);
    cJSON *dj = rc > 0 ? fw_replay_device_json(s->spec) : NULL;
    if (dj) {
        cJSON_Delete(s->devj);
        s->devj = dj;
    }
    return rc;
}

/* Learn an item (once: a known slot is not written again, the pool may be compiling it). */
static int learn_item(server *s, const cJSON *j, size_t *seq)
{
    fw_plan_item it;
    int rc = wk_item_from_json(j, &s->space, s->plan.n, s->nshapes, seq, &it, s->err, sizeof s->err);
    if (rc == 0 && !s->plan.items[*seq].origin)
        fw_bench_plan_set(s->bench, &s->plan, *seq, &it);
    return rc;
}

/* The finalists request names candidates by item and first-pass median (the daemon reads them from
 * its store); the harness wants ok records, so they are rebuilt from the items. */
static int serve_finalist_records(server *s, const cJSON *params, cJSON **out, int *k)
{
    *out = NULL;
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(params, "candidates");
    const cJSON *jk = cJSON_GetObjectItemCaseSensitive(params, "k");
    if (!cJSON_IsArray(jc))
        return fw_errf(s->err, sizeof s->err, -EINVAL, "finalists needs params.candidates, an array of items with "
                       "\"median_ns\"");
    *k = cJSON_IsNumber(jk) && jk->valuedouble >= 1 ? (int)jk->valuedouble : 5;
    const fw_family *fam = fw_family_find(s->js.family);
    cJSON *recs = cJSON_CreateArray();
    const cJSON *c;
    cJSON_ArrayForEach(c, jc) {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(c, "median_ns");
        size_t seq;
        int rc = learn_item(s, c, &seq);
        if (rc == 0 && !cJSON_IsNumber(md))
            rc = fw_errf(s->err, sizeof s->err, -EINVAL, "each finalist candidate needs a number median_ns");
        if (rc < 0) {
            cJSON_Delete(recs);
            return rc;
        }
        const fw_plan_item *it = &s->plan.items[seq];
        cJSON *r = cJSON_CreateObject();
        char key[FW_KEY_MAX];
        cJSON_AddNumberToObject(r, "seq", (double)seq);
        cJSON_AddStringToObject(r, "status", "ok");
        cJSON_AddNumberToObject(r, "shape_index", it->shape);
        const cJSON *shape = fw_job_spec_shape(&s->js, it->shape);
        if (fam && fam->shape_key && shape && fam->shape_key(shape, key, sizeof key) >= 0)
            cJSON_AddStringToObject(r, "shape_key", key);
        if (fw_point_key(&it->point, key, sizeof key) >= 0)
            cJSON_AddStringToObject(r, "variant_key", key);
        cJSON_AddItemToObject(r, "knobs", fw_point_to_json(&it->point));
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(r, "stats"), "median_ns", md->valuedouble);
        cJSON_AddItemToArray(recs, r);
    }
    *out = recs;
    return 0;
}

/* The job's plan: one empty slot per evaluation (the sequencer says how many), filled by items. */
static int load_plan(server *s)
{
    fw_seq *q = NULL;
    int rc = fw_seq_new(s->spec, s->devj, &q, s->err, sizeof s->err);
    if (rc < 0)
        return rc;
    size_t n = fw_seq_planned(q);
    fw_seq_free(q);
    char serr[400];
    if ((rc = fw_space_from_json(s->js.space, &s->space, serr, sizeof serr)) < 0)
        return fw_errf(s->err, sizeof s->err, rc, "space: %s", serr);
    s->plan.items = calloc(n ? n : 1, sizeof *s->plan.items);
    if (!s->plan.items) {
        fw_space_release(&s->space);
        return fw_errf(s->err, sizeof s->err, -ENOMEM, "out of memory");
    }
    s->plan.n = s->plan.planned = n;
    s->nshapes = s->js.nshapes;
    s->have_plan = 1;
    return 0;
}

static void unload(server *s)
{
    fw_bench_pool_stop(s->bench);   /* it reads the old spec and plan */
    if (s->have_plan) {
        fw_plan_release(&s->plan);
        fw_space_release(&s->space);
    }
    s->have_plan = 0;
    fw_job_spec_release(&s->js);
    cJSON_Delete(s->spec);
    s->spec = NULL;
    fw_wreplay_free(s->rp);
    s->rp = NULL;
}

static void serve_load(server *s, const cJSON *id, const cJSON *params)
{
    const opts *o = s->o;
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(params, "spec");
    if (!cJSON_IsObject(js)) {
        rpc_error(id, -32602, "load needs params.spec, a resolved job spec object");
        return;
    }
    unload(s);
    fw_bench_reset_best(s->bench);  /* early stop compares within one job */
    s->spec = cJSON_Duplicate(js, 1);
    apply_early_stop(s->spec, o);
    if (fw_job_spec_parse(s->spec, &s->js, s->err, sizeof s->err) < 0 || load_plan(s) < 0 ||
        serve_load_replay(s) < 0) {
        rpc_error(id, -32602, s->err);
        return;
    }
    /* the compile threads compile the items the daemon sends ahead of the one measured */
    int nthreads = s->rp ? 0 : compile_threads(o, &s->js, &s->info);
    if (nthreads > 0 && fw_bench_pool_start(s->bench, &s->js, &s->plan, s->index, nthreads, 0, NULL, 0,
                                            s->err, sizeof s->err) < 0)
        fprintf(stderr, "fairway-worker: compiling in the timing thread: %s\n", s->err);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "planned", (double)s->plan.n);
    cJSON_AddNumberToObject(r, "compile_threads", bench_pool_threads(nthreads, s->bench));
    rpc_result(id, r);
}

static void serve_measure(server *s, const cJSON *id, const cJSON *params)
{
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(params, "seq");
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(params, "item");
    size_t seq = 0;
    if (!s->have_plan) {
        rpc_error(id, -32602, "no job is loaded: send load first");
        return;
    }
    if (!cJSON_IsObject(ji)) {
        rpc_error(id, -32602, "measure needs params.item, the item of params.seq "
                  "({\"seq\",\"shape_index\",\"index\",\"knobs\",\"origin\"})");
        return;
    }
    if (learn_item(s, ji, &seq) < 0) {
        rpc_error(id, -32602, s->err);
        return;
    }
    if (!cJSON_IsNumber(js) || js->valuedouble != (double)seq) {
        rpc_error(id, -32602, "params.seq must be the seq of params.item");
        return;
    }
    /* the items asked after this one: the compile threads work on them meanwhile */
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(params, "ahead"), *a;
    size_t aseq;
    cJSON_ArrayForEach(a, ja)
        learn_item(s, a, &aseq);
    /* the daemon's best median per shape key so far (early stop survives restarts) */
    const cJSON *jb = cJSON_GetObjectItemCaseSensitive(params, "best_ns");
    if (cJSON_IsObject(jb)) {
        const cJSON *bv;
        cJSON_ArrayForEach(bv, jb)
            if (cJSON_IsNumber(bv) && bv->string)
                fw_bench_note_best(s->bench, bv->string, bv->valuedouble);
    }
    fault_check((int64_t)seq);
    cJSON *rec = NULL;
    int rc = s->rp ? fw_wreplay_measure(s->rp, &s->js, &s->plan.items[seq], (int64_t)seq, &rec, s->err, sizeof s->err)
                   : fw_bench_measure(s->bench, &s->js, &s->plan.items[seq], (int64_t)seq, &rec, s->err,
                                      sizeof s->err);
    if (rc == -EFAULT) {
        fprintf(stderr, "fairway-worker: seq %zu: %s\n", seq, s->err);
        fflush(stdout);
        _exit(EXIT_STICKY);
    }
    if (rc < 0)
        rpc_error(id, -32603, s->err);
    else
        rpc_result(id, rec);
}

static void serve_finalists(server *s, const cJSON *id, const cJSON *params)
{
    if (!s->have_plan) {
        rpc_error(id, -32602, "no job is loaded: send load first");
    } else {
        cJSON *recs = NULL;
        int k = 0;
        if (serve_finalist_records(s, params, &recs, &k) < 0) {
            rpc_error(id, -32602, s->err);
        } else {
            fault_check_at("finalists");
            fw_bench_pool_stop(s->bench);   /* nothing is left to compile ahead */
            int rounds, fiters, fwarm;
            finalist_params(&s->js, &rounds, &fiters, &fwarm);
            cJSON *fin = NULL;
            int rc = cJSON_GetArraySize(recs) == 0 ? 0
                   : s->rp ? fw_wreplay_finalists(s->rp, &s->js, &s->plan, recs, k, rounds, fiters, &fin, s->err,
                                                  sizeof s->err)
                   : fw_bench_finalists(s->bench, &s->js, &s->plan, recs, k, rounds, fiters, fwarm, &fin, s->err,
                                        sizeof s->err);
            cJSON_Delete(recs);
            if (rc == -EFAULT) {
                fprintf(stderr, "fairway-worker: finalists: %s\n", s->err);
                fflush(stdout);
                _exit(EXIT_STICKY);
            }
            if (rc < 0) {
                rpc_error(id, -32603, s->err);
            } else {
                cJSON *r = cJSON_CreateObject();
                cJSON_AddItemToObject(r, "finalists", fin ? fin : cJSON_CreateArray());
                cJSON_AddNumberToObject(r, "rounds", rounds);
                cJSON_AddNumberToObject(r, "iters", fiters);
                rpc_result(id, r);
            }
        }
    }
}

int serve(const opts *o)
{
    server sv = { .o = o };
    const char *bname = o->backend ? o->backend : "opencl";
    sv.index = o->have_device ? o->device : 0;
    const fw_backend *be = NULL;
    fw_device *dev = NULL;
    if (open_device(bname, sv.index, &be, &dev, &sv.info, sv.err, sizeof sv.err) < 0) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "error", sv.err);
        cJSON *n = fw_proto_notification("failed", p);
        print_json(n);
        cJSON_Delete(n);
        return EXIT_DEVICE;
    }
    sv.devj = fw_bench_device_json(&sv.info, sv.index);
    cJSON *rp = cJSON_CreateObject();
    cJSON_AddItemToObject(rp, "device", cJSON_Duplicate(sv.devj, 1));
    /* how many devices the backend has: what a job's "devices": "all" resolves over */
    cJSON_AddNumberToObject(rp, "device_count", be->device_count());
    cJSON *ready = fw_proto_notification("ready", rp);
    print_json(ready);
    cJSON_Delete(ready);

    if (fw_bench_new(be, dev, &sv.info, &sv.bench) < 0) {
        cJSON_Delete(sv.devj);
        be->close(dev);
        return 1;
    }
    fw_ccache *cache = open_cache(o);
    fw_bench_set_cache(sv.bench, cache);
    int status = 0;
    fw_proto_lines lines;
    fw_proto_lines_init(&lines, FW_PROTO_PIPE_LINE_MAX);
    char *line;
    size_t n;
    int lrc;
    while ((lrc = fw_proto_lines_read_fd(&lines, STDIN_FILENO, &line, &n)) > 0) {
        if (fw_proto_blank(line, n))
            continue;
        cJSON *req = NULL;
        size_t at;
        const char *why;
        fw_proto_parse(line, n, &req, &at, &why);
        if (!cJSON_IsObject(req)) {
            rpc_error(NULL, FW_RPC_PARSE_ERROR, "parse error: each line must be one JSON-RPC 2.0 request object");
            cJSON_Delete(req);
            continue;
        }
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
        const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
        if (!method) {
            rpc_error(id, -32600, "invalid request: \"method\" must be a string");
        } else if (strcmp(method, "load") == 0) {
            serve_load(&sv, id, params);
        } else if (strcmp(method, "measure") == 0) {
            serve_measure(&sv, id, params);
        } else if (strcmp(method, "finalists") == 0) {
            serve_finalists(&sv, id, params);
        } else if (strcmp(method, "device") == 0) {
            rpc_result(id, cJSON_Duplicate(sv.devj, 1));
        } else if (strcmp(method, "shutdown") == 0) {
            rpc_result(id, cJSON_CreateObject());
            cJSON_Delete(req);
            break;
        } else {
            snprintf(sv.err, sizeof sv.err, "unknown method '%s' (known: load, measure, finalists, device, shutdown)",
                     method);
            rpc_error(id, -32601, sv.err);
        }
        cJSON_Delete(req);
    }
    if (lrc == -E2BIG) {
        rpc_error(NULL, FW_RPC_LINE_TOO_LONG, "request line over the worker's limit of 64 MiB; stopping");
        status = 1;
    }
    fw_proto_lines_release(&lines);
    unload(&sv);
    fw_bench_free(sv.bench);
    fw_ccache_close(cache);
    cJSON_Delete(sv.devj);
    be->close(dev);
    return status;
}

