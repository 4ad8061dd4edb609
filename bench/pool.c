/* Harness compile pool: threads compiling ahead of the timing thread (fw_bench.h, harness_int.h). */
#include "harness_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw_util.h"

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
    fw_job_spec spec;        /* a copy: it points into the caller's resolved spec, kept alive */
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
        const cJSON *js = fw_job_spec_shape(&p->spec, shape);
        char err[256];
        uint64_t seed = fw_bench_workload_seed(fwh_spec_seed(&p->spec), shape);
        if (fwh_wl_new(p->fam, &p->spec, js, seed, &w->wl, err, sizeof err) < 0)
            w->wl = NULL;
    }
    if (w->wl)
        w->refs++;
    fw_workload *wl = w->wl;
    pthread_mutex_unlock(&p->wl_mu);
    return wl;
}

static void pool_wl_put(fw_pool *p, int shape, int next_shape)
{
    pthread_mutex_lock(&p->wl_mu);
    pool_wl *w = &p->wls[shape];
    w->refs--;
    int still = next_shape == shape;
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
    if (fwh_compile_inputs(b->info.dialect, p->fam, &p->spec, item, wl, &ci, err, sizeof err) < 0)
        goto out;
    r->key = fwh_program_key(ci.source, ci.macros, ci.nmacros, ci.options, ci.entry);
    uint64_t t0 = fw_now_ns();
    r->rc = fwh_cached_compile(b->be, p->devs[idx], b->cache, b->identity, b->info.arch, ci.source, ci.macros,
                           ci.nmacros, ci.options, ci.entry, NULL, &r->bytes, &r->len, &r->from_disk, &r->log);
    r->ms = (double)(fw_now_ns() - t0) / 1e6;
    fwh_compile_in_release(&ci);
    if (r->rc == -ENOTSUP) {   /* no binary to hand over: the timing thread compiles it */
        free(r->log);
        r->log = NULL;
    } else {
        state = S_DONE;
    }
out:;
    pthread_mutex_lock(&p->mu);
    size_t next = p->next;
    int next_shape = next < p->n && p->plan->items[next].origin ? p->plan->items[next].shape : -1;
    pthread_mutex_unlock(&p->mu);
    pool_wl_put(p, item->shape, next_shape);
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
            /* an item without an origin is not known yet (the daemon sends items as it asks them) */
            if (p->next < p->n && p->next <= p->pos + (size_t)p->depth && p->plan->items[p->next].origin)
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
int fwh_pool_take(fw_pool *p, int64_t seq, uint64_t key, pool_result *out)
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

int fw_bench_pool_start(fw_bench *b, const fw_job_spec *spec, const fw_plan *plan, int device_index,
                        int threads, int depth, const int64_t *skip, size_t nskip, char *err, size_t errlen)
{
    if (!b || !spec || !plan || threads < 1)
        return fw_errf(err, errlen, -EINVAL, "the compile pool needs a spec, a plan and at least one thread");
    fw_bench_pool_stop(b);
    if (!b->be->program_binary || !b->be->program_load)
        return fw_errf(err, errlen, -ENOTSUP, "backend '%s' cannot hand compiled programs between threads "
                       "(no program_binary/program_load): compiling in the timing thread", b->be->name);
    const fw_family *fam = spec->family ? fw_family_find(spec->family) : NULL;
    if (!fam || !fam->workload_new || !fam->workload_free || !fam->geometry)
        return fw_errf(err, errlen, -EINVAL, "the spec's family has no workload: no compile pool");
    fw_pool *p = calloc(1, sizeof *p);
    if (!p)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    p->b = b;
    p->spec = *spec;
    p->plan = plan;
    p->fam = fam;
    p->n = plan->n;
    p->depth = depth > 0 ? depth : 2 * threads + 2;
    p->nshapes = (size_t)spec->nshapes;
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

void fw_bench_plan_set(fw_bench *b, fw_plan *plan, size_t seq, const fw_plan_item *item)
{
    fw_pool *p = b ? b->pool : NULL;
    if (seq >= plan->n)
        return;
    if (p)
        pthread_mutex_lock(&p->mu);
    plan->items[seq] = *item;
    if (p) {
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }
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
