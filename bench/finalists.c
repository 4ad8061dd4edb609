/* Harness finalists: the top variants of each shape re-timed interleaved (fw_bench.h, harness_int.h). */
#include "harness_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

typedef struct finalist {
    fw_finalist_rank r;      /* first: the shared comparators read it */
    const cJSON *rec;
    fw_program *prog;
    fw_launch l;
    fw_arg *args;
    uint64_t *samples;
    size_t n;
} finalist;

int fw_finalist_cmp_first(const void *a, const void *b)
{
    const fw_finalist_rank *x = a, *y = b;
    if (x->first_median != y->first_median)
        return x->first_median < y->first_median ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int fw_finalist_cmp_final(const void *a, const void *b)
{
    const fw_finalist_rank *x = a, *y = b;
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
static int finalists_shape(fw_bench *b, const fw_family *fam, const fw_job_spec *spec, const fw_plan *plan, int shape,
                           finalist *f, size_t nf, int rounds, int iters, int warmup, const run_opts *ro,
                           char *err, size_t errlen)
{
    const cJSON *js = fw_job_spec_shape(spec, shape);
    int rc = 0;
    wl_entry *we = fwh_workload_get(b, fam, spec, js, fw_bench_workload_seed(fwh_spec_seed(spec), shape), err, errlen, &rc);
    if (!we)
        return rc;
    fw_workload *wl = we->wl;
    /* buffers as the first pass had them (a variant measured on another shape may have left others) */
    size_t failed = 0;
    if ((rc = fwh_prepare_variant(b, we, &failed)) < 0)
        return fw_errf(err, errlen, rc, "preparing the finalists' buffers failed (buffer '%s'): %s",
                       wl->buffers[failed].name ? wl->buffers[failed].name : "?", b->be->last_error(b->dev));
    for (size_t k = 0; k < nf; k++) {
        const fw_plan_item *item = &plan->items[f[k].r.seq];
        compile_in ci;
        rc = fwh_compile_inputs(b->info.dialect, fam, spec, item, wl, &ci, err, errlen);
        if (rc < 0)
            return rc;
        int cached = 0;
        prog_entry *pe = fwh_program_get(b, ci.source, ci.macros, ci.nmacros, ci.options, ci.entry, -1, &cached);
        fwh_compile_in_release(&ci);
        if (!pe->prog)
            return fw_errf(err, errlen, -EIO, "finalist seq %" PRId64 " no longer compiles: %s", f[k].r.seq,
                           pe->log ? pe->log : "?");
        f[k].prog = pe->prog;
        fw_geometry geo;
        memset(&geo, 0, sizeof geo);
        char why[256];
        if (fam->geometry(wl, &item->point, &geo, why, sizeof why) < 0)
            return fw_errf(err, errlen, -EINVAL, "finalist seq %" PRId64 ": %s", f[k].r.seq, why);
        f[k].args = calloc(wl->nargs ? wl->nargs : 1, sizeof *f[k].args);
        f[k].samples = calloc((size_t)rounds * (size_t)iters, sizeof *f[k].samples);
        if (!f[k].args || !f[k].samples)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        if (fwh_bind_args(wl, we->bufs, &geo, f[k].args, why, sizeof why) < 0)
            return fw_errf(err, errlen, -EINVAL, "finalist seq %" PRId64 ": %s", f[k].r.seq, why);
        memcpy(f[k].l.grid, geo.grid, sizeof f[k].l.grid);
        memcpy(f[k].l.group, geo.group, sizeof f[k].l.group);
        f[k].l.dynamic_shared_bytes = geo.dynamic_shared_bytes;
        f[k].l.args = f[k].args;
        fw_resources res;
        memset(&res, 0, sizeof res);
        size_t nb = b->be->resources(b->dev, pe->prog, &res) == 0 ? fwh_bound_nargs(wl, res.num_args) : wl->nargs;
        f[k].l.nargs = nb ? nb : wl->nargs;
    }
    run_opts nro = *ro;
    nro.es_on = 0;     /* finalists are never pruned */
    for (int r = 0; r < rounds; r++)
        for (size_t k = 0; k < nf; k++) {
            size_t taken = 0;
            double bo = 0, mo = 0;
            const char *failed = NULL;
            rc = fwh_timed_launches(b, f[k].prog, &f[k].l, we, &nro, r == 0 ? warmup : 0, (size_t)iters,
                                f[k].samples + f[k].n, "", &taken, &bo, &mo, &failed);
            f[k].n += taken;
            if (rc < 0)
                return rc == -EFAULT ? rc : fw_errf(err, errlen, rc, "timing finalist seq %" PRId64 " failed: %s",
                                                    f[k].r.seq, failed ? failed : b->be->last_error(b->dev));
        }
    for (size_t k = 0; k < nf; k++) {
        fw_bench_stats st;
        fw_bench_stats_compute(f[k].samples, f[k].n, &st);
        f[k].r.median = st.median;
    }
    return 0;
}

int fw_bench_finalists(fw_bench *b, const fw_job_spec *spec, const fw_plan *plan, const cJSON *records, int k,
                       int rounds, int iters, int warmup, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!b || !spec || !plan || !cJSON_IsArray(records) || k < 1 || rounds < 1 || iters < 1)
        return fw_errf(err, errlen, -EINVAL, "finalists need ok records, k >= 1, rounds >= 1 and iters >= 1");
    /* all of a shape's finalists stay in the program cache while they are timed */
    if (k > FW_BENCH_PROG_CACHE / 2)
        k = FW_BENCH_PROG_CACHE / 2;
    const fw_family *fam = spec->family ? fw_family_find(spec->family) : NULL;
    if (!fam)
        return fw_errf(err, errlen, -EINVAL, "the spec names no known family");
    run_opts ro;
    fwh_parse_run_opts(spec, &ro);
    int nshapes = spec->nshapes;
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
            f[nf].r.seq = (int64_t)sq->valuedouble;
            f[nf].r.first_median = rec_median(rec);
            nf++;
        }
        if (nf == 0)
            continue;
        qsort(f, nf, sizeof *f, fw_finalist_cmp_first);
        for (size_t i = 0; i < nf; i++)
            f[i].r.first_rank = (int)i + 1;
        if (nf > (size_t)k)
            nf = (size_t)k;
        rc = finalists_shape(b, fam, spec, plan, s, f, nf, rounds, iters, warmup, &ro, err, errlen);
        if (rc == 0) {
            qsort(f, nf, sizeof *f, fw_finalist_cmp_final);
            for (size_t i = 0; i < nf; i++) {
                cJSON *o = cJSON_CreateObject();
                const char *keys[] = { "seq", "shape_index", "shape_key", "variant_key", "knobs" };
                for (size_t j = 0; j < sizeof keys / sizeof keys[0]; j++) {
                    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f[i].rec, keys[j]);
                    if (v)
                        cJSON_AddItemToObject(o, keys[j], cJSON_Duplicate(v, 1));
                }
                cJSON_AddNumberToObject(o, "rank", (double)(i + 1));
                cJSON_AddNumberToObject(o, "first_rank", f[i].r.first_rank);
                cJSON_AddNumberToObject(o, "first_median_ns", f[i].r.first_median);
                fw_bench_stats st;
                fwh_add_stats(o, f[i].samples, f[i].n, &st);
                fwh_add_samples(o, f[i].samples, f[i].n);
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
