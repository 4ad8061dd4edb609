/* eta_job.c - a job's finalist candidates so far, kept for its ETA (eta.c): the K fastest verified
 * first-pass medians of each shape, read from the store once (a resumed job) and then updated as
 * measurements are stored, so building a progress object asks the store nothing. */
#include "daemon_eta_job.h"

#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

#include "fw_daemon.h"

#define ETA_K_MAX 8

typedef struct eta_shape {
    char key[256];
    double top[ETA_K_MAX];   /* ascending */
    int n;
} eta_shape;

struct fw_daemon_eta {
    int seeded;
    eta_shape *shapes;
    size_t nshapes, cap;
    uint64_t fin_started_ns;
};

static fw_daemon_eta *eta_of(fw_daemon_job *job)
{
    if (!job->eta)
        job->eta = calloc(1, sizeof *job->eta);
    return job->eta;
}

static void add(fw_daemon_eta *e, int k, const char *key, double med)
{
    if (k <= 0 || med <= 0 || !key)
        return;
    if (k > ETA_K_MAX)
        k = ETA_K_MAX;
    eta_shape *s = NULL;
    for (size_t i = 0; i < e->nshapes && !s; i++)
        if (!strcmp(e->shapes[i].key, key))
            s = &e->shapes[i];
    if (!s) {
        if (e->nshapes == e->cap) {
            size_t cap = e->cap ? 2 * e->cap : 4;
            eta_shape *n = realloc(e->shapes, cap * sizeof *n);
            if (!n)
                return;
            e->shapes = n;
            e->cap = cap;
        }
        s = &e->shapes[e->nshapes++];
        memset(s, 0, sizeof *s);
        snprintf(s->key, sizeof s->key, "%s", key);
    }
    if (s->n == k && med >= s->top[k - 1])
        return;
    int i = s->n < k ? s->n++ : k - 1;
    while (i > 0 && s->top[i - 1] > med) {
        s->top[i] = s->top[i - 1];
        i--;
    }
    s->top[i] = med;
}

void fw_daemon_eta_note(fw_daemon_job *job, const char *shape_key, double median_ns)
{
    /* before the seed the store is read, and it holds this one already */
    if (job->eta && job->eta->seeded)
        add(job->eta, job->fin_k, shape_key, median_ns);
}

void fw_daemon_eta_finalists_started(fw_daemon_job *job)
{
    fw_daemon_eta *e = eta_of(job);
    if (e)
        e->fin_started_ns = fw_now_ns();
}

void fw_daemon_eta_free(fw_daemon_job *job)
{
    if (!job->eta)
        return;
    free(job->eta->shapes);
    free(job->eta);
    job->eta = NULL;
}

static void seed(fw_daemon *d, fw_daemon_job *job, fw_daemon_eta *e)
{
    e->seeded = 1;
    cJSON *rk = NULL;
    if (job->fin_k <= 0 || fw_db_rankings(d->db, job->id, NULL, job->fin_k, &rk) < 0) {
        cJSON_Delete(rk);
        return;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, rk) {
        const cJSON *med = cJSON_GetObjectItemCaseSensitive(r, "median_ns");
        add(e, job->fin_k, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "shape_key")),
            cJSON_IsNumber(med) ? med->valuedouble : 0);
    }
    cJSON_Delete(rk);
}

/* warmup + rounds x iters: the worker's defaults for the finalists (bench/worker/worker.c). */
static double launches(const fw_job_spec *spec)
{
    const fw_job_num *jr = &spec->finalist_rounds, *ji = &spec->finalist_iters;
    int rounds = jr->number && jr->ivalue > 0 ? jr->ivalue : 5;
    int iters = ji->number && ji->ivalue > 0 ? ji->ivalue : spec->has_iters ? spec->iters : 10;
    int warmup = spec->has_warmup ? spec->warmup : 3;
    return (double)warmup + (double)rounds * (double)iters;
}

void fw_daemon_eta_add(fw_daemon *d, fw_daemon_job *job, cJSON *p, double elapsed_s)
{
    fw_daemon_eta *e = eta_of(job);
    if (e && !e->seeded)
        seed(d, job, e);
    double sum = 0;
    size_t nc = 0;
    for (size_t i = 0; e && i < e->nshapes; i++)
        for (int j = 0; j < e->shapes[i].n; j++, nc++)
            sum += e->shapes[i].top[j];
    fw_daemon_eta_in in = {
        .elapsed_s = elapsed_s,
        .measured_this_run = job->evaluated_this_run,
        .variants_left = job->planned > job->evaluated ? job->planned - job->evaluated : 0,
        .finalists = job->fin_k > 0 && job->fin_state != 2,
        .finalists_phase = job->fin_state == 1,
        .finalists_elapsed_s = e && e->fin_started_ns ? (double)(fw_now_ns() - e->fin_started_ns) / 1e9 : 0,
        .cand_sum_ns = sum,
        .launches = launches(&job->js),
    };
    fw_daemon_eta_est est;
    fw_daemon_eta_estimate(&in, &est);
    if (est.total_s < 0)
        cJSON_AddNullToObject(p, "eta_s");
    else
        cJSON_AddNumberToObject(p, "eta_s", est.total_s);
    cJSON *b = cJSON_AddObjectToObject(p, "eta_basis");
    cJSON_AddNumberToObject(b, "variants_left", (double)in.variants_left);
    if (est.per_variant_s < 0)
        cJSON_AddNullToObject(b, "per_variant_s");
    else
        cJSON_AddNumberToObject(b, "per_variant_s", est.per_variant_s);
    cJSON_AddNumberToObject(b, "finalist_candidates", in.finalists ? (double)nc : 0);
    cJSON_AddNumberToObject(b, "finalist_launches", in.finalists ? in.launches : 0);
    cJSON_AddNumberToObject(b, "finalists_s", est.finalists_s);
}
