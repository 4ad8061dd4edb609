/* compare.c - how alike are two runs of a job: same variant sequence, ranking stability (Kendall's
 * tau-b), top-5 overlap, spread of per-variant median ratios. */
#include "fw_daemon.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw_job.h"
#include "fw_util.h"

typedef struct pair {
    double x, y;
} pair;

static int cmp_xy(const void *a, const void *b)
{
    const pair *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    if (p->y != q->y)
        return p->y < q->y ? -1 : 1;
    return 0;
}

/* Sorts v[lo, hi) by y (stable) and returns the number of pairs (i < j) with y_i > y_j. */
static int64_t merge_count(pair *v, pair *tmp, size_t lo, size_t hi)
{
    if (hi - lo < 2)
        return 0;
    size_t mid = lo + (hi - lo) / 2;
    int64_t swaps = merge_count(v, tmp, lo, mid) + merge_count(v, tmp, mid, hi);
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        if (v[i].y <= v[j].y) {
            tmp[k++] = v[i++];
        } else {
            swaps += (int64_t)(mid - i);
            tmp[k++] = v[j++];
        }
    }
    while (i < mid)
        tmp[k++] = v[i++];
    while (j < hi)
        tmp[k++] = v[j++];
    memcpy(v + lo, tmp + lo, (hi - lo) * sizeof(pair));
    return swaps;
}

int fw_daemon_tau_compute(const double *x, const double *y, size_t n, fw_daemon_tau *out)
{
    memset(out, 0, sizeof(*out));
    out->n = (int64_t)n;
    if (n < 2)
        return 0;
    pair *v = malloc(n * sizeof(pair));
    pair *tmp = malloc(n * sizeof(pair));
    if (!v || !tmp) {
        free(v);
        free(tmp);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v[i].x = x[i];
        v[i].y = y[i];
    }
    qsort(v, n, sizeof(pair), cmp_xy);
    int64_t n0 = (int64_t)n * (int64_t)(n - 1) / 2;
    int64_t tx = 0, txy = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].x == v[i].x)
            j++;
        tx += (int64_t)(j - i) * (int64_t)(j - i - 1) / 2;
        for (size_t a = i; a < j;) {
            size_t b = a;
            while (b < j && v[b].y == v[a].y)
                b++;
            txy += (int64_t)(b - a) * (int64_t)(b - a - 1) / 2;
            a = b;
        }
        i = j;
    }
    int64_t swaps = merge_count(v, tmp, 0, n);
    int64_t ty = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].y == v[i].y)
            j++;
        ty += (int64_t)(j - i) * (int64_t)(j - i - 1) / 2;
        i = j;
    }
    free(v);
    free(tmp);
    out->num = n0 - tx - ty + txy - 2 * swaps;
    out->pairs_x = n0 - tx;
    out->pairs_y = n0 - ty;
    return 0;
}

int fw_daemon_tau_value(const fw_daemon_tau *t, double *tau)
{
    if (t->pairs_x <= 0 || t->pairs_y <= 0)
        return -EDOM;
    *tau = (double)t->num / sqrt((double)t->pairs_x * (double)t->pairs_y);
    return 0;
}

void fw_daemon_tau_pool(fw_daemon_tau *a, const fw_daemon_tau *b)
{
    a->n += b->n;
    a->num += b->num;
    a->pairs_x += b->pairs_x;
    a->pairs_y += b->pairs_y;
}

static int cmp_double(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return p < q ? -1 : p > q ? 1 : 0;
}

int fw_daemon_spread(double *v, size_t n, double *min, double *median, double *max)
{
    if (n == 0)
        return -EDOM;
    qsort(v, n, sizeof(double), cmp_double);
    *min = v[0];
    *max = v[n - 1];
    *median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return 0;
}

/* One verified measurement of a job, for joining the two jobs on (shape, variant). */
typedef struct entry {
    const char *shape, *variant;
    double median;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *p = a, *q = b;
    int c = strcmp(p->shape, q->shape);
    if (c)
        return c;
    return strcmp(p->variant, q->variant);
}

static int cmp_entry_rank(const void *a, const void *b)
{
    const entry *p = a, *q = b;
    int c = strcmp(p->shape, q->shape);
    if (c)
        return c;
    if (p->median != q->median)
        return p->median < q->median ? -1 : 1;
    return strcmp(p->variant, q->variant);
}

static const char *str_field(const cJSON *o, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

static int collect_ok(const cJSON *seq, entry **out, size_t *n, char *err, size_t errlen, const char *which)
{
    size_t cap = (size_t)cJSON_GetArraySize(seq), k = 0;
    entry *e = calloc(cap ? cap : 1, sizeof(entry));
    if (!e)
        return -ENOMEM;
    const cJSON *m;
    cJSON_ArrayForEach(m, seq) {
        const char *shape = str_field(m, "shape_key"), *variant = str_field(m, "variant_key");
        const char *status = str_field(m, "status");
        if (!shape || !variant || !status) {
            free(e);
            return fw_errf(err, errlen, -EINVAL,
                           "job %s's stored sequence has an entry without shape_key/variant_key/status",
                           which);
        }
        const cJSON *med = cJSON_GetObjectItemCaseSensitive(m, "median_ns");
        if (strcmp(status, "ok") != 0 || !cJSON_IsNumber(med) || !(med->valuedouble > 0))
            continue;
        e[k].shape = shape;
        e[k].variant = variant;
        e[k].median = med->valuedouble;
        k++;
    }
    *out = e;
    *n = k;
    return 0;
}

static int same_sequence(const cJSON *a, const cJSON *b)
{
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
        return 0;
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next) {
        const cJSON *sx = cJSON_GetObjectItemCaseSensitive(x, "seq");
        const cJSON *sy = cJSON_GetObjectItemCaseSensitive(y, "seq");
        if (!cJSON_IsNumber(sx) || !cJSON_IsNumber(sy) || sx->valuedouble != sy->valuedouble)
            return 0;
        const char *kx = str_field(x, "shape_key"), *ky = str_field(y, "shape_key");
        const char *vx = str_field(x, "variant_key"), *vy = str_field(y, "variant_key");
        if (!kx || !ky || !vx || !vy || strcmp(kx, ky) || strcmp(vx, vy))
            return 0;
    }
    return 1;
}

static void add_tau(cJSON *o, const char *name, const fw_daemon_tau *t)
{
    double tau;
    if (fw_daemon_tau_value(t, &tau) == 0)
        cJSON_AddNumberToObject(o, name, tau);
    else
        cJSON_AddNullToObject(o, name);
}

int fw_daemon_compare(const cJSON *seq_a, const cJSON *seq_b, cJSON **out, char *err, size_t errlen)
{
    if (!cJSON_IsArray(seq_a) || !cJSON_IsArray(seq_b))
        return fw_errf(err, errlen, -EINVAL, "compare needs two measurement sequences");
    entry *ea = NULL, *eb = NULL;
    size_t na = 0, nb = 0;
    int rc = collect_ok(seq_a, &ea, &na, err, errlen, "a");
    if (rc == 0)
        rc = collect_ok(seq_b, &eb, &nb, err, errlen, "b");
    if (rc < 0) {
        free(ea);
        free(eb);
        return rc;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON *shapes = cJSON_CreateArray();
    size_t cap = na < nb ? na : nb;
    double *xa = malloc((cap ? cap : 1) * sizeof(double));
    double *xb = malloc((cap ? cap : 1) * sizeof(double));
    double *ratios = malloc((cap ? cap : 1) * sizeof(double));
    if (!res || !shapes || !xa || !xb || !ratios) {
        rc = -ENOMEM;
        goto out;
    }
    cJSON_AddBoolToObject(res, "same_variants", same_sequence(seq_a, seq_b));
    cJSON_AddNumberToObject(res, "measured_a", cJSON_GetArraySize(seq_a));
    cJSON_AddNumberToObject(res, "measured_b", cJSON_GetArraySize(seq_b));

    /* Ranking stability: per shape, tau-b over variants verified in both jobs; pooled over shapes by
     * summing numerators and pair counts (a stratified tau-b), so a shape with many variants weighs
     * in proportion to its pairs and tau never compares variants of different shapes. */
    qsort(ea, na, sizeof(entry), cmp_entry);
    qsort(eb, nb, sizeof(entry), cmp_entry);
    fw_daemon_tau pooled = {0};
    size_t nratios = 0, common_total = 0, top_total = 0, top_possible = 0;
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        const char *shape = i < na ? ea[i].shape : eb[j].shape;
        if (i < na && j < nb && strcmp(eb[j].shape, shape) < 0)
            shape = eb[j].shape;
        size_t ia = i, ib = j;
        while (i < na && strcmp(ea[i].shape, shape) == 0)
            i++;
        while (j < nb && strcmp(eb[j].shape, shape) == 0)
            j++;
        size_t k = 0, p = ia, q = ib;
        while (p < i && q < j) {
            int c = strcmp(ea[p].variant, eb[q].variant);
            if (c == 0) {
                xa[k] = ea[p].median;
                xb[k] = eb[q].median;
                ratios[nratios++] = eb[q].median / ea[p].median;
                k++;
                p++;
                q++;
            } else if (c < 0) {
                p++;
            } else {
                q++;
            }
        }
        fw_daemon_tau t;
        rc = fw_daemon_tau_compute(xa, xb, k, &t);
        if (rc < 0)
            goto out;
        fw_daemon_tau_pool(&pooled, &t);
        common_total += k;

        /* Top 5 by median within this shape, each job on its own verified variants. */
        qsort(ea + ia, i - ia, sizeof(entry), cmp_entry_rank);
        qsort(eb + ib, j - ib, sizeof(entry), cmp_entry_rank);
        size_t ta = i - ia < 5 ? i - ia : 5, tb = j - ib < 5 ? j - ib : 5, overlap = 0;
        for (size_t u = 0; u < ta; u++)
            for (size_t v = 0; v < tb; v++)
                if (strcmp(ea[ia + u].variant, eb[ib + v].variant) == 0)
                    overlap++;
        top_total += overlap;
        top_possible += ta < tb ? ta : tb;

        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "shape_key", shape);
        cJSON_AddNumberToObject(s, "common_verified", (double)k);
        add_tau(s, "kendall_tau", &t);
        cJSON_AddNumberToObject(s, "top5_overlap", (double)overlap);
        cJSON_AddItemToArray(shapes, s);
    }
    add_tau(res, "kendall_tau", &pooled);
    cJSON_AddNumberToObject(res, "common_verified", (double)common_total);
    cJSON_AddNumberToObject(res, "top5_overlap", (double)top_total);
    cJSON_AddNumberToObject(res, "top5_possible", (double)top_possible);
    double mn, md, mx;
    if (fw_daemon_spread(ratios, nratios, &mn, &md, &mx) == 0) {
        cJSON *r = cJSON_AddObjectToObject(res, "median_ratio");
        cJSON_AddNumberToObject(r, "min", mn);
        cJSON_AddNumberToObject(r, "median", md);
        cJSON_AddNumberToObject(r, "max", mx);
    } else {
        cJSON_AddNullToObject(res, "median_ratio");
    }
    cJSON_AddItemToObject(res, "shapes", shapes);
    shapes = NULL;
    rc = 0;
out:
    free(ea);
    free(eb);
    free(xa);
    free(xb);
    free(ratios);
    cJSON_Delete(shapes);
    if (rc < 0) {
        cJSON_Delete(res);
        if (rc == -ENOMEM)
            fw_errf(err, errlen, rc, "out of memory comparing jobs");
        return rc;
    }
    *out = res;
    return 0;
}

/* ---- where two sequences diverged, and why (issue 11) ------------------------------------------ */

#define CAUSES_MAX 50   /* differing told results listed per divergence; "cause_total" counts all */

/* One shape's stored records in seq order: its positions 0, 1, ... */
typedef struct shape_run {
    const cJSON **rec;
    size_t n;
} shape_run;

/* The records of shape `key` in seq order (a stored sequence is in seq order already). */
static int shape_records(const cJSON *seq, const char *key, shape_run *out)
{
    size_t cap = (size_t)cJSON_GetArraySize(seq);
    out->n = 0;
    out->rec = malloc((cap ? cap : 1) * sizeof(*out->rec));
    if (!out->rec)
        return -ENOMEM;
    const cJSON *m;
    cJSON_ArrayForEach(m, seq) {
        const char *k = str_field(m, "shape_key");
        if (k && strcmp(k, key) == 0)
            out->rec[out->n++] = m;
    }
    return 0;
}

static double num_field(const cJSON *o, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(f) ? f->valuedouble : -1;
}

/* The result a record told: its status and median (null when none). */
static cJSON *told(const cJSON *rec)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", num_field(rec, "seq"));
    const char *st = str_field(rec, "status");
    cJSON_AddStringToObject(o, "status", st ? st : "?");
    double md = num_field(rec, "median_ns");
    if (md > 0)
        cJSON_AddNumberToObject(o, "median_ns", md);
    else
        cJSON_AddNullToObject(o, "median_ns");
    return o;
}

static int same_told(const cJSON *x, const cJSON *y)
{
    const char *sx = str_field(x, "status"), *sy = str_field(y, "status");
    if (!sx || !sy || strcmp(sx, sy) != 0)
        return 0;
    return num_field(x, "median_ns") == num_field(y, "median_ns");
}

static void add_str_or_null(cJSON *o, const char *name, const char *s)
{
    if (s)
        cJSON_AddStringToObject(o, name, s);
    else
        cJSON_AddNullToObject(o, name);
}

/* The results told differently at positions < limit (both runs had the same variants there). */
static void add_causes(cJSON *dv, const shape_run *ra, const shape_run *rb, size_t limit)
{
    cJSON *causes = cJSON_AddArrayToObject(dv, "cause");
    size_t total = 0;
    for (size_t p = 0; p < limit; p++) {
        const cJSON *x = ra->rec[p], *y = rb->rec[p];
        if (same_told(x, y))
            continue;
        if (++total > CAUSES_MAX)
            continue;
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "position", (double)p);
        add_str_or_null(c, "variant", str_field(x, "variant_key"));
        cJSON_AddItemToObject(c, "a", told(x));
        cJSON_AddItemToObject(c, "b", told(y));
        double ma = num_field(x, "median_ns"), mb = num_field(y, "median_ns");
        if (ma > 0 && mb > 0)
            cJSON_AddNumberToObject(c, "ratio", mb / ma);
        else
            cJSON_AddNullToObject(c, "ratio");
        cJSON_AddItemToArray(causes, c);
    }
    cJSON_AddNumberToObject(dv, "cause_total", (double)total);
}

/* Why a shape's sequences differ from `pos` on, as one sentence. */
static const char *explain(int fixed, int same_setup, size_t causes, int ended)
{
    if (ended)
        return "one job measured fewer points in this shape (budget, cancel or an exhausted space)";
    if (fixed)
        return same_setup ? "fixed order, yet the sequences differ although spec, seed and device are the same"
                          : "fixed order: it never depends on times, so the specs, seeds or devices differ";
    if (causes)
        return "different results were told before this point";
    return same_setup ? "no result told before this point differed: not explained by the times"
                      : "no result told before this point differed: the specs, seeds or devices differ";
}

/* The divergence of shape `key`, or NULL when both runs have the same variants in the same order. */
static cJSON *shape_divergence(const char *key, const shape_run *ra, const shape_run *rb, int fixed,
                               int64_t ahead, int same_setup)
{
    size_t n = ra->n < rb->n ? ra->n : rb->n, p = 0;
    for (; p < n; p++) {
        const char *va = str_field(ra->rec[p], "variant_key"), *vb = str_field(rb->rec[p], "variant_key");
        if (!va || !vb || strcmp(va, vb) != 0)
            break;
    }
    if (p == n && ra->n == rb->n)
        return NULL;
    cJSON *dv = cJSON_CreateObject();
    cJSON_AddStringToObject(dv, "shape_key", key);
    cJSON_AddNumberToObject(dv, "position", (double)p);
    const cJSON *xa = p < ra->n ? ra->rec[p] : NULL, *xb = p < rb->n ? rb->rec[p] : NULL;
    if (xa)
        cJSON_AddNumberToObject(dv, "seq_a", num_field(xa, "seq"));
    else
        cJSON_AddNullToObject(dv, "seq_a");
    if (xb)
        cJSON_AddNumberToObject(dv, "seq_b", num_field(xb, "seq"));
    else
        cJSON_AddNullToObject(dv, "seq_b");
    add_str_or_null(dv, "variant_a", xa ? str_field(xa, "variant_key") : NULL);
    add_str_or_null(dv, "variant_b", xb ? str_field(xb, "variant_key") : NULL);
    /* The point at position p depended on the results of positions < p - ask_ahead. */
    size_t limit = fixed || (int64_t)p <= ahead ? 0 : p - (size_t)ahead;
    add_causes(dv, ra, rb, limit);
    size_t total = (size_t)num_field(dv, "cause_total");
    cJSON_AddStringToObject(dv, "explanation", explain(fixed, same_setup, total, !xa || !xb));
    return dv;
}

static int same_str_field(const cJSON *a, const cJSON *b, const char *name)
{
    const char *x = str_field(a, name), *y = str_field(b, name);
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

/* The job's strategy and ask-ahead from its resolved spec; fixed orders ignore results. */
static int job_order(const cJSON *job, const char **strategy, int64_t *ahead)
{
    fw_job_spec js;
    if (fw_job_spec_parse(cJSON_GetObjectItemCaseSensitive(job, "spec"), &js, NULL, 0) < 0)
        memset(&js, 0, sizeof js);
    *strategy = js.strategy ? js.strategy : str_field(job, "strategy");
    *ahead = js.has_ask_ahead ? js.ask_ahead : 0;
    const char *t = *strategy;
    return !t || strcmp(t, "grid") == 0 || strcmp(t, "random") == 0 || strcmp(t, "presets") == 0;
}

int fw_daemon_compare_divergence(const cJSON *seq_a, const cJSON *seq_b, const cJSON *job_a, const cJSON *job_b,
                                 cJSON *res)
{
    const char *strategy;
    int64_t ahead;
    int fixed = job_order(job_a, &strategy, &ahead);
    int same_setup = same_str_field(job_a, job_b, "spec_hash") && same_str_field(job_a, job_b, "seed_text") &&
                     same_str_field(job_a, job_b, "device_identity") && same_str_field(job_a, job_b, "device");
    cJSON *o = cJSON_AddObjectToObject(res, "sequence");
    add_str_or_null(o, "strategy", strategy);
    cJSON_AddBoolToObject(o, "fixed_order", fixed);
    if (fixed)
        cJSON_AddNullToObject(o, "ask_ahead");
    else
        cJSON_AddNumberToObject(o, "ask_ahead", (double)ahead);
    cJSON_AddBoolToObject(o, "same_setup", same_setup);
    cJSON *all = cJSON_CreateArray();
    if (!o || !all) {
        cJSON_Delete(all);
        return -ENOMEM;
    }
    /* Shapes in A's order, then those only B measured (a shape's records are contiguous, so the
     * distinct keys are few and found by a linear search). */
    size_t cap = (size_t)cJSON_GetArraySize(seq_a) + (size_t)cJSON_GetArraySize(seq_b), nkeys = 0;
    const char **keys = malloc((cap ? cap : 1) * sizeof(*keys));
    if (!keys) {
        cJSON_Delete(all);
        return -ENOMEM;
    }
    const cJSON *seqs[2] = {seq_a, seq_b};
    for (int w = 0; w < 2; w++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, seqs[w]) {
            const char *key = str_field(m, "shape_key");
            size_t k = 0;
            while (key && k < nkeys && strcmp(keys[k], key) != 0)
                k++;
            if (key && k == nkeys)
                keys[nkeys++] = key;
        }
    }
    int rc = 0;
    for (size_t k = 0; k < nkeys && rc == 0; k++) {
        shape_run ra = {0}, rb = {0};
        if ((rc = shape_records(seq_a, keys[k], &ra)) == 0 && (rc = shape_records(seq_b, keys[k], &rb)) == 0) {
            cJSON *dv = shape_divergence(keys[k], &ra, &rb, fixed, ahead, same_setup);
            if (dv)
                cJSON_AddItemToArray(all, dv);
        }
        free(ra.rec);
        free(rb.rec);
    }
    free(keys);
    if (rc < 0) {
        cJSON_Delete(all);
        return rc;
    }
    cJSON_AddBoolToObject(o, "identical", cJSON_GetArraySize(all) == 0);
    if (cJSON_GetArraySize(all) > 0)
        cJSON_AddItemToObject(res, "divergence", cJSON_Duplicate(cJSON_GetArrayItem(all, 0), 1));
    else
        cJSON_AddNullToObject(res, "divergence");
    cJSON_AddItemToObject(res, "divergences", all);
    return 0;
}
