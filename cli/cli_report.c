/* fairway report JOB [JOB ...] -o FILE (issue 14): one self-contained HTML file (inline SVG and CSS,
 * nothing fetched, no script) that shows per shape how the search converged, which knobs matter,
 * how noisy the top is and which variants are tied with the winner, plus each job's failures and
 * what reruns it. The data comes from the daemon (`status` and `measurements`); every plot's <svg>
 * carries data-plot, data-series and data-points so a test can count what is drawn. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"

const char fw_cli_report_help[] =
    "Usage: fairway report JOB [JOB ...] -o FILE\n"
    "Write one self-contained HTML file (inline SVG and CSS; nothing is fetched, it reads offline)\n"
    "about the jobs, per shape: convergence (best-so-far median against verified evaluation, one\n"
    "series per job, with the exact expected curve of uniform random search over the job's own\n"
    "verified medians), knob effects (every median per knob value on a log time axis, best per value),\n"
    "the top variants with every stored sample, the finalists' re-timing beside their first pass and\n"
    "the variants tied with the winner (two-sided Mann-Whitney U test on the stored samples, normal\n"
    "approximation with tie correction, p >= 0.05); per job: status counts with the first error line\n"
    "of each failure class, device, spec, seed, source hash and the command that reruns it.\n"
    "  -o, --output FILE      where to write the report (required)\n"
    "  --top N                variants shown per shape and job (default 10)\n\n"
    "Examples:\n"
    "  fairway report 12 -o report.html\n"
    "  fairway report 12 13 --top 5 -o compare.html\n";

#define MAX_JOBS 16
#define W 720
#define H 300
#define ML 70
#define MR 20
#define MT 20
#define MB 40

typedef struct rjob {
    long long id;
    cJSON *status;
    cJSON *meas;
} rjob;

typedef struct ropts {
    const char *out;
    long long top;
} ropts;

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void fmt_ns(double ns, char *out, size_t len)
{
    if (ns >= 1e9)
        snprintf(out, len, "%.3g s", ns / 1e9);
    else if (ns >= 1e6)
        snprintf(out, len, "%.3g ms", ns / 1e6);
    else if (ns >= 1e3)
        snprintf(out, len, "%.3g us", ns / 1e3);
    else
        snprintf(out, len, "%.3g ns", ns);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* E[min of k draws without replacement from the n values v (sorted ascending)], k = 1..n:
 * P(min = v[i]) = C(n-1-i, k-1) / C(n, k) for 0-based i. That probability falls with i, so the sum
 * stops once a term's is below 1e-20 (the rest cannot move a double): about n log n terms in all,
 * not n^2, so a 100000-variant shape draws in well under a second. */
void fw_cli_report_expected_min(const double *v, size_t n, double *out)
{
    for (size_t k = 1; k <= n; k++) {
        double e = 0, lc = lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1);
        for (size_t i = 0; i + k <= n; i++) {
            double m = (double)(n - 1 - i);
            double lp = lgamma(m + 1) - lgamma((double)k) - lgamma(m - (double)(k - 1) + 1) - lc;
            e += v[i] * exp(lp);
            if (lp < -46.0)
                break;
        }
        out[k - 1] = e;
    }
}

/* Two-sided Mann-Whitney U test of a vs b, normal approximation with tie correction and continuity
 * correction; returns the p value (1 when either sample is empty or every value is tied). */
double fw_cli_report_mann_whitney(const double *a, size_t na, const double *b, size_t nb)
{
    size_t n = na + nb;
    if (!na || !nb)
        return 1;
    double(*all)[2] = malloc(n * sizeof *all);
    if (!all)
        return 1;
    for (size_t i = 0; i < na; i++)
        all[i][0] = a[i], all[i][1] = 0;
    for (size_t i = 0; i < nb; i++)
        all[na + i][0] = b[i], all[na + i][1] = 1;
    qsort(all, n, sizeof *all, cmp_dbl);
    double ra = 0, tie = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && all[j][0] == all[i][0])
            j++;
        double rank = (double)(i + j + 1) / 2.0, t = (double)(j - i);
        tie += t * t * t - t;
        for (size_t k = i; k < j; k++)
            if (all[k][1] == 0)
                ra += rank;
        i = j;
    }
    free(all);
    double u = ra - (double)na * ((double)na + 1) / 2, mu = (double)na * (double)nb / 2;
    double var = (double)na * (double)nb / 12.0 * (((double)n + 1) - tie / ((double)n * ((double)n - 1)));
    if (var <= 0)
        return 1;
    double z = (fabs(u - mu) - 0.5) / sqrt(var);
    if (z < 0)
        z = 0;
    return erfc(z / sqrt(2.0));
}

/* ---- plot frame -------------------------------------------------------------------------------- */

typedef struct frame {
    double x0, x1, y0, y1; /* data range; y is log10 time when logy */
    int logy, logx;
} frame;

static double px(const frame *fr, double x)
{
    double v = fr->logx ? log10(x) : x, a = fr->logx ? log10(fr->x0) : fr->x0, b = fr->logx ? log10(fr->x1) : fr->x1;
    return ML + (b > a ? (v - a) / (b - a) : 0.5) * (W - ML - MR);
}

static double py(const frame *fr, double y)
{
    double v = fr->logy ? log10(y) : y, a = fr->logy ? log10(fr->y0) : fr->y0, b = fr->logy ? log10(fr->y1) : fr->y1;
    return H - MB - (b > a ? (v - a) / (b - a) : 0.5) * (H - MT - MB);
}

static void pad_log(double *lo, double *hi)
{
    if (*hi <= *lo)
        *hi = *lo * 1.1, *lo = *lo / 1.1;
    double r = pow(*hi / *lo, 0.05);
    *lo /= r, *hi *= r;
}

static void tick(FILE *f, const frame *fr, int on_y, double t)
{
    char lab[32];
    fmt_ns(t, lab, sizeof lab);
    if (on_y) {
        double y = py(fr, t);
        fprintf(f, "<line class='grid' x1='%d' x2='%d' y1='%.1f' y2='%.1f'/><text x='%d' y='%.1f' "
                   "text-anchor='end'>%s</text>\n", ML, W - MR, y, y, ML - 4, y + 4, lab);
    } else {
        double x = px(fr, t);
        fprintf(f, "<line class='grid' x1='%.1f' x2='%.1f' y1='%d' y2='%d'/><text x='%.1f' y='%d' "
                   "text-anchor='middle'>%s</text>\n", x, x, MT, H - MB, x, H - MB + 14, lab);
    }
}

/* Log time axis ticks at round values m x 10^k inside the range: m in 1, 2, 5 over a wide range,
 * 1..9 within about a decade; with fewer than two of those inside, three values spread over it. */
static void log_ticks(FILE *f, const frame *fr, int on_y)
{
    double lo = on_y ? fr->y0 : fr->x0, hi = on_y ? fr->y1 : fr->x1, t[40];
    int n = 0, fine = hi / lo < 10;
    for (double dec = pow(10, floor(log10(lo))); dec <= hi && n < 36; dec *= 10)
        for (int m = 1; m <= 9; m++)
            if ((fine || m == 1 || m == 2 || m == 5) && dec * m >= lo && dec * m <= hi)
                t[n++] = dec * m;
    if (n < 2)
        for (n = 0; n < 3; n++)
            t[n] = lo * pow(hi / lo, 0.15 + 0.35 * n);
    for (int i = 0; i < n && i < 12; i++)
        tick(f, fr, on_y, t[i]);
}

static void frame_open(FILE *f, const char *plot, int series, int points, const char *xlabel, const char *ylabel)
{
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' "
               "data-plot='%s' data-series='%d' data-points='%d'>\n", W, H, W, H, plot, series, points);
    fprintf(f, "<rect class='bg' x='%d' y='%d' width='%d' height='%d'/>\n", ML, MT, W - ML - MR, H - MT - MB);
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s</text>\n", (W + ML) / 2, H - 6, xlabel);
    fprintf(f, "<text x='14' y='%d' transform='rotate(-90 14 %d)' text-anchor='middle'>%s</text>\n", (H - MB + MT) / 2,
            (H - MB + MT) / 2, ylabel);
}

/* ---- data helpers ------------------------------------------------------------------------------ */

static int is_ok(const cJSON *m)
{
    return !strcmp(fw_cli_str(m, "status", ""), "ok") && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(m, "median_ns"));
}

static int same_shape(const cJSON *m, const char *shape)
{
    return !strcmp(fw_cli_str(m, "shape_key", ""), shape);
}

static const cJSON *meas_list(const rjob *j)
{
    return cJSON_GetObjectItemCaseSensitive(j->meas, "measurements");
}

/* The verified medians of a job's shape in seq order (malloc'd; *n = count). */
static double *shape_medians(const rjob *j, const char *shape, size_t *n)
{
    const cJSON *m, *list = meas_list(j);
    double *v = malloc(((size_t)cJSON_GetArraySize(list) + 1) * sizeof *v);
    *n = 0;
    if (!v)
        return NULL;
    cJSON_ArrayForEach(m, list) if (is_ok(m) && same_shape(m, shape)) v[(*n)++] = fw_cli_num(m, "median_ns", 0);
    return v;
}

/* value of knob `name` in a variant key "A=1,B=2" into out; 0 when absent. */
static int knob_value(const char *key, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = key; p && *p;) {
        size_t l = strcspn(p, ",");
        if (l > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            snprintf(out, len, "%.*s", (int)(l - nl - 1), p + nl + 1);
            return 1;
        }
        p += l;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* ---- convergence ------------------------------------------------------------------------------- */

static void plot_convergence(FILE *f, rjob *jobs, int nj, const char *shape)
{
    double lo = INFINITY, hi = 0;
    size_t nmax = 0, npts = 0;
    int series = 0;
    double *v[MAX_JOBS], *e[MAX_JOBS];
    size_t n[MAX_JOBS];
    for (int j = 0; j < nj; j++) {
        v[j] = shape_medians(&jobs[j], shape, &n[j]);
        e[j] = NULL;
        if (!v[j] || !n[j])
            continue;
        double *s = malloc(n[j] * sizeof *s);
        e[j] = malloc(n[j] * sizeof *e[j]);
        if (!s || !e[j]) {
            free(s);
            continue;
        }
        memcpy(s, v[j], n[j] * sizeof *s);
        qsort(s, n[j], sizeof *s, cmp_dbl);
        fw_cli_report_expected_min(s, n[j], e[j]);
        lo = fmin(lo, s[0]);
        hi = fmax(hi, fmax(v[j][0], e[j][0]));
        free(s);
        nmax = n[j] > nmax ? n[j] : nmax;
        series += 2;
        npts += 2 * n[j];
    }
    if (!series) {
        fputs("<p>No verified variant: nothing to plot.</p>\n", f);
        for (int j = 0; j < nj; j++)
            free(v[j]);
        return;
    }
    pad_log(&lo, &hi);
    frame fr = {1, nmax > 1 ? (double)nmax : 2, lo, hi, 1, 0};
    frame_open(f, "convergence", series, (int)npts, "verified evaluation", "best-so-far median");
    log_ticks(f, &fr, 1);
    for (int j = 0; j < nj; j++) {
        if (!e[j])
            continue;
        const char *c = colors[j % 6];
        fprintf(f, "<polyline class='series' data-job='%lld' data-kind='best-so-far' data-points='%zu' stroke='%s' "
                   "points='", jobs[j].id, n[j], c);
        double best = INFINITY; /* a step curve: 2n-1 vertices for n evaluations */
        for (size_t i = 0; i < n[j]; i++) {
            if (i)
                fprintf(f, "%.1f,%.1f ", px(&fr, (double)(i + 1)), py(&fr, best));
            best = fmin(best, v[j][i]);
            fprintf(f, "%.1f,%.1f ", px(&fr, (double)(i + 1)), py(&fr, best));
        }
        fprintf(f, "'/>\n<polyline class='series ref' data-job='%lld' data-kind='random-expected' data-points='%zu' "
                   "stroke='%s' points='", jobs[j].id, n[j], c);
        for (size_t i = 0; i < n[j]; i++)
            fprintf(f, "%.1f,%.1f ", px(&fr, (double)(i + 1)), py(&fr, e[j][i]));
        fputs("'/>\n", f);
    }
    for (size_t t = 1; t <= nmax; t += (nmax + 9) / 10)
        fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>%zu</text>\n", px(&fr, (double)t), H - MB + 14, t);
    fputs("</svg>\n<p>", f);
    for (int j = 0; j < nj; j++)
        if (e[j])
            fprintf(f, "<span style='color:%s'>&#9632; job %lld</span> ", colors[j % 6], jobs[j].id);
    fputs("&#8212; solid: best median so far; dashed: the expected best so far of uniform random search over the "
          "job's own verified medians (exact, from their order statistics).</p>\n", f);
    for (int j = 0; j < nj; j++)
        free(v[j]), free(e[j]);
}

/* ---- knob effects ------------------------------------------------------------------------------ */

typedef struct kval {
    char v[64];
    double best;
    int n;
} kval;

static int cmp_kval(const void *a, const void *b)
{
    const kval *x = a, *y = b;
    char *ex, *ey;
    double dx = strtod(x->v, &ex), dy = strtod(y->v, &ey);
    if (!*ex && !*ey)
        return dx < dy ? -1 : dx > dy;
    return strcmp(x->v, y->v);
}

static void plot_knob(FILE *f, rjob *jobs, int nj, const char *shape, const char *knob)
{
    kval vals[64];
    int nv = 0, npts = 0;
    double lo = INFINITY, hi = 0;
    for (int j = 0; j < nj; j++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, meas_list(&jobs[j])) {
            char val[64];
            if (!is_ok(m) || !same_shape(m, shape) || !knob_value(fw_cli_str(m, "variant_key", ""), knob, val, sizeof val))
                continue;
            double t = fw_cli_num(m, "median_ns", 0);
            int k = 0;
            while (k < nv && strcmp(vals[k].v, val))
                k++;
            if (k == nv) {
                if (nv == 64)
                    continue;
                snprintf(vals[nv].v, sizeof vals[nv].v, "%s", val);
                vals[nv].best = INFINITY, vals[nv++].n = 0;
            }
            vals[k].best = fmin(vals[k].best, t);
            vals[k].n++;
            npts++;
            lo = fmin(lo, t), hi = fmax(hi, t);
        }
    }
    if (!nv)
        return;
    qsort(vals, (size_t)nv, sizeof *vals, cmp_kval);
    pad_log(&lo, &hi);
    frame fr = {lo, hi, 0, (double)nv, 0, 1};
    fprintf(f, "<h4>%s</h4>\n", knob);
    frame_open(f, "knob", nv, npts, "median (log scale); the diamond is the best per value", knob);
    log_ticks(f, &fr, 0);
    for (int k = 0; k < nv; k++) {
        double y = py(&fr, (double)k + 0.5);
        char b[32];
        fmt_ns(vals[k].best, b, sizeof b);
        fprintf(f, "<text x='%d' y='%.1f' text-anchor='end'>", ML - 4, y + 4);
        esc(f, vals[k].v);
        fprintf(f, "</text>\n<g class='series' data-value='");
        esc(f, vals[k].v);
        fprintf(f, "' data-points='%d' data-best-ns='%.1f'>\n", vals[k].n, vals[k].best);
        int i = 0;
        for (int j = 0; j < nj; j++) {
            const cJSON *m;
            cJSON_ArrayForEach(m, meas_list(&jobs[j])) {
                char val[64];
                if (!is_ok(m) || !same_shape(m, shape) ||
                    !knob_value(fw_cli_str(m, "variant_key", ""), knob, val, sizeof val) || strcmp(val, vals[k].v))
                    continue;
                double jit = ((i++ * 37) % 17 - 8) * 1.2;
                fprintf(f, "<circle class='pt' r='3' cx='%.1f' cy='%.1f' fill='%s'/>\n",
                        px(&fr, fw_cli_num(m, "median_ns", 0)), y + jit, colors[j % 6]);
            }
        }
        double bx = px(&fr, vals[k].best);
        fprintf(f, "</g><path class='best' d='M%.1f %.1fl6 6l-6 6l-6 -6z'/><text x='%.1f' y='%.1f'>%s</text>\n", bx,
                y - 18, bx + 8, y - 8, b);
    }
    fputs("</svg>\n", f);
}

static void knob_effects(FILE *f, rjob *jobs, int nj, const char *shape)
{
    char names[32][64];
    int nn = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, meas_list(&jobs[0])) {
        if (!is_ok(m) || !same_shape(m, shape))
            continue;
        const char *p = fw_cli_str(m, "variant_key", "");
        while (*p && nn < 32) {
            size_t l = strcspn(p, "="), r = strcspn(p, ",");
            int k = 0;
            if (l < r && l < 64) {
                while (k < nn && (strlen(names[k]) != l || strncmp(names[k], p, l)))
                    k++;
                if (k == nn)
                    snprintf(names[nn++], 64, "%.*s", (int)l, p);
            }
            p += r;
            if (*p == ',')
                p++;
        }
    }
    fputs("<h3>Knob effects</h3>\n<p>Every verified median per knob value (all jobs; colour = job).</p>\n", f);
    for (int k = 0; k < nn; k++)
        plot_knob(f, jobs, nj, shape, names[k]);
}

/* ---- top variants ------------------------------------------------------------------------------ */

typedef struct top {
    const cJSON *m;   /* measurement */
    const cJSON *fin; /* its finalist entry, or NULL */
} top;

static int cmp_top(const void *a, const void *b)
{
    const top *x = a, *y = b;
    int rx = x->fin ? (int)fw_cli_num(x->fin, "rank", 1e9) : 1000000000;
    int ry = y->fin ? (int)fw_cli_num(y->fin, "rank", 1e9) : 1000000000;
    if (rx != ry)
        return rx < ry ? -1 : 1;
    double dx = fw_cli_num(x->m, "median_ns", 0), dy = fw_cli_num(y->m, "median_ns", 0);
    return dx < dy ? -1 : dx > dy;
}

static double *samples_of(const cJSON *o, size_t *n)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "samples_ns"), *it;
    *n = 0;
    double *v = malloc(((size_t)cJSON_GetArraySize(s) + 1) * sizeof *v);
    if (v)
        cJSON_ArrayForEach(it, s) if (cJSON_IsNumber(it)) v[(*n)++] = it->valuedouble;
    return v;
}

static void top_plot(FILE *f, const top *t, int nt)
{
    double lo = INFINITY, hi = 0;
    int npts = 0;
    for (int i = 0; i < nt; i++)
        for (int w = 0; w < 2; w++) {
            const cJSON *o = w ? t[i].fin : t[i].m;
            size_t n;
            double *s = o ? samples_of(o, &n) : NULL;
            for (size_t k = 0; s && k < n; k++)
                lo = fmin(lo, s[k]), hi = fmax(hi, s[k]), npts++;
            free(s);
        }
    if (!npts)
        return;
    pad_log(&lo, &hi);
    frame fr = {lo, hi, 0, (double)nt, 0, 1};
    frame_open(f, "samples", nt, npts, "every stored sample (log scale): blue first pass, orange finalist re-timing",
               "rank");
    log_ticks(f, &fr, 0);
    for (int i = 0; i < nt; i++) {
        double y = py(&fr, (double)(nt - i) - 0.5);
        fprintf(f, "<text x='%d' y='%.1f' text-anchor='end'>#%d</text>\n<g class='series' data-seq='%lld'>\n", ML - 4,
                y + 4, i + 1, (long long)fw_cli_num(t[i].m, "seq", 0));
        for (int w = 0; w < 2; w++) {
            const cJSON *o = w ? t[i].fin : t[i].m;
            size_t n;
            double *s = o ? samples_of(o, &n) : NULL;
            for (size_t k = 0; s && k < n; k++)
                fprintf(f, "<circle class='pt' r='2.5' cx='%.1f' cy='%.1f' fill='%s'/>\n", px(&fr, s[k]),
                        y + (w ? 5 : -5) + (double)(k % 3) - 1, w ? "#ff7f0e" : "#1f77b4");
            free(s);
        }
        fputs("</g>\n", f);
    }
    fputs("</svg>\n", f);
}

static void top_table(FILE *f, const top *t, int nt)
{
    size_t nw;
    const cJSON *wsrc = t[0].fin ? t[0].fin : t[0].m;
    double *win = samples_of(wsrc, &nw);
    fputs("<table><tr><th>#</th><th>seq</th><th>knobs</th><th>first-pass median</th><th>finalist median</th>"
          "<th>samples</th><th>p vs #1</th><th>tied with #1</th></tr>\n", f);
    for (int i = 0; i < nt; i++) {
        const cJSON *src = t[0].fin && t[i].fin ? t[i].fin : t[i].m;
        size_t n, nw2 = nw;
        double *s = samples_of(src, &n), *w2 = win;
        if (src == t[i].m && wsrc != t[0].m)
            w2 = samples_of(t[0].m, &nw2);
        double p = i ? fw_cli_report_mann_whitney(w2, nw2, s, n) : 1;
        char a[32], b[32] = "-", pv[32] = "-";
        fmt_ns(fw_cli_num(t[i].m, "median_ns", 0), a, sizeof a);
        if (t[i].fin)
            fmt_ns(fw_cli_num(t[i].fin, "median_ns", 0), b, sizeof b);
        if (i)
            snprintf(pv, sizeof pv, "%.3g", p);
        fprintf(f, "<tr%s><td>%d</td><td>%lld</td><td><code>", i && p >= 0.05 ? " class='tied'" : "", i + 1,
                (long long)fw_cli_num(t[i].m, "seq", 0));
        esc(f, fw_cli_str(t[i].m, "variant_key", ""));
        fprintf(f, "</code></td><td>%s</td><td>%s</td><td>%zu</td><td>%s</td><td>%s</td></tr>\n", a, b, n,
                pv, i ? (p >= 0.05 ? "yes" : "no") : "winner");
        if (w2 != win)
            free(w2);
        free(s);
    }
    fputs("</table>\n<p>Tied: a two-sided Mann-Whitney U test (normal approximation, tie and continuity "
          "corrected) of the variant's stored samples against the winner's finds no difference at p &lt; 0.05; "
          "finalist samples are compared where both have them, else first-pass samples.</p>\n", f);
    free(win);
}

static void top_variants(FILE *f, const rjob *j, const char *shape, int ntop)
{
    const cJSON *list = meas_list(j), *fins = cJSON_GetObjectItemCaseSensitive(j->meas, "finalists"), *m;
    top *t = malloc(((size_t)cJSON_GetArraySize(list) + 1) * sizeof *t);
    int nt = 0;
    if (!t)
        return;
    cJSON_ArrayForEach(m, list) {
        if (!is_ok(m) || !same_shape(m, shape))
            continue;
        t[nt].m = m, t[nt].fin = NULL;
        const cJSON *fi;
        cJSON_ArrayForEach(fi, fins) if (fw_cli_num(fi, "seq", -1) == fw_cli_num(m, "seq", -2)) t[nt].fin = fi;
        nt++;
    }
    fprintf(f, "<h3>Top variants of job %lld</h3>\n", j->id);
    if (nt) {
        qsort(t, (size_t)nt, sizeof *t, cmp_top);
        nt = nt < ntop ? nt : ntop;
        top_plot(f, t, nt);
        top_table(f, t, nt);
    } else {
        fputs("<p>No verified variant.</p>\n", f);
    }
    free(t);
}

/* ---- per-job facts ------------------------------------------------------------------------------ */

static void job_facts(FILE *f, const rjob *j)
{
    const cJSON *st = j->status, *it;
    fprintf(f, "<h2>Job %lld</h2>\n", j->id);
    fw_job_spec js;
    fw_cli_status_spec(st, &js);
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(js.workload, "verify")))   /* issue 12 */
        fputs("<p class='unverified'><strong>UNVERIFIED</strong>: this job's workload has <code>\"verify\": false</code>, "
              "so nothing checked its kernels' output; a fast wrong variant ranks like a right one.</p>\n", f);
    fputs("<table class='facts'>\n", f);
    static const char *const keys[] = {"state", "family", "strategy", "seed_text", "device", "device_identity",
                                       "spec_hash", "source_hash", "daemon_version", "created_at", "finished_at"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char v[512];
        fw_cli_field_text(st, keys[k], v, sizeof v);
        fprintf(f, "<tr><th>%s</th><td>", !strcmp(keys[k], "seed_text") ? "seed" : keys[k]);
        esc(f, v);
        fputs("</td></tr>\n", f);
    }
    fprintf(f, "<tr><th>rerun</th><td><code>fairway rerun %lld</code> (same resolved spec and seed)</td></tr>\n"
               "</table>\n<h3>Status counts</h3>\n<table><tr>", j->id);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(st, "counts")) fprintf(f, "<th>%s</th>", it->string);
    fputs("</tr><tr>", f);
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(st, "counts"))
        fprintf(f, "<td>%lld</td>", (long long)it->valuedouble);
    fputs("</tr></table>\n", f);
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(st, "devices_out");   /* issue 17 */
    if (cJSON_GetArraySize(out) > 0) {
        fputs("<h3>Devices taken out</h3>\n<table><tr><th>device</th><th>at</th><th>why</th></tr>\n", f);
        cJSON_ArrayForEach(it, out) {
            fputs("<tr><td>", f);
            esc(f, fw_cli_str(it, "device", "?"));
            fputs("</td><td>", f);
            esc(f, fw_cli_str(it, "at", "?"));
            fputs("</td><td>", f);
            esc(f, fw_cli_str(it, "error", "?"));
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(st, "failures");
    if (cJSON_GetArraySize(fl) > 0) {
        fprintf(f, "<table><tr><th>failure</th><th>count</th><th>first seq</th><th>first error line</th></tr>\n");
        cJSON_ArrayForEach(it, fl) {
            fprintf(f, "<tr><td>%s</td><td>%lld</td><td>%lld</td><td><code>", fw_cli_str(it, "status", "?"),
                    (long long)fw_cli_num(it, "count", 0), (long long)fw_cli_num(it, "first_seq", 0));
            esc(f, fw_cli_str(it, "first_line", ""));
            fputs("</code></td></tr>\n", f);
        }
        fprintf(f, "</table>\n<p>Full texts: <code>fairway failures %lld</code></p>\n", j->id);
    }
    char *spec = cJSON_Print(cJSON_GetObjectItemCaseSensitive(st, "spec"));
    fputs("<details><summary>resolved spec</summary><pre>", f);
    esc(f, spec ? spec : "null");
    fputs("</pre></details>\n", f);
    free(spec);
}

static const char css[] =
    "body{font:14px/1.4 sans-serif;margin:2em;color:#222;max-width:1000px}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}"
    "tr.tied td{background:#fff6d5}td code{word-break:break-all}code,pre{font:12px monospace}pre{background:#f6f6f6;padding:6px;overflow:auto}"
    "svg{display:block;margin:.5em 0}svg text{font:11px sans-serif;fill:#333}.bg{fill:#fafafa;stroke:#bbb}"
    ".grid{stroke:#e4e4e4}.series{fill:none;stroke-width:2}.ref{stroke-dasharray:5 4;stroke-width:1.5}"
    "g.series{stroke:none}.pt{fill-opacity:.65}.best{fill:#000}";

static int write_report(FILE *f, rjob *jobs, int nj, int ntop)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'/><title>fairway report</title>"
               "<style>%s</style></head><body>\n<h1>fairway report: job", css);
    for (int j = 0; j < nj; j++)
        fprintf(f, "%s %lld", j ? "," : (nj > 1 ? "s" : ""), jobs[j].id);
    fputs("</h1>\n", f);
    /* shapes in the order the jobs measured them, each once */
    char shapes[64][256];
    int ns = 0;
    for (int j = 0; j < nj; j++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, meas_list(&jobs[j])) {
            const char *k = fw_cli_str(m, "shape_key", "");
            int s = 0;
            while (s < ns && strcmp(shapes[s], k))
                s++;
            if (s == ns && ns < 64 && *k)
                snprintf(shapes[ns++], sizeof shapes[0], "%s", k);
        }
    }
    for (int s = 0; s < ns; s++) {
        fputs("<h2>Shape <code>", f);
        esc(f, shapes[s]);
        fputs("</code></h2>\n<h3>Convergence</h3>\n", f);
        plot_convergence(f, jobs, nj, shapes[s]);
        knob_effects(f, jobs, nj, shapes[s]);
        for (int j = 0; j < nj; j++)
            top_variants(f, &jobs[j], shapes[s], ntop);
    }
    for (int j = 0; j < nj; j++)
        job_facts(f, &jobs[j]);
    fputs("<p>Written by <code>fairway report</code> " FW_VERSION ".</p>\n</body></html>\n", f);
    return ferror(f) ? -EIO : 0;
}

static int report_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    ropts *o = vctx;
    (void)err, (void)errlen;
    if (!strcmp(name, "output")) {
        o->out = arg;
        return 1;
    }
    if (!strcmp(name, "top"))
        return fw_cli_parse_count(name, arg, 1, &o->top, err, errlen);
    return 0;
}

static int fetch_job(fw_cli_conn *c, rjob *j)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "job", (double)j->id);
    int ec = fw_cli_rpc(c, "status", p, &j->status);
    if (ec)
        return ec;
    p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "job", (double)j->id);
    cJSON_AddBoolToObject(p, "samples", 1);
    return fw_cli_rpc(c, "measurements", p, &j->meas);
}

int fw_cli_cmd_report(fw_cli_global *g, int argc, char **argv)
{
    ropts o = {NULL, 10};
    char *args[256], *pos[MAX_JOBS + 1];
    int n = argc < 256 ? argc : 255, npos, ec;
    for (int i = 0; i < n; i++)
        args[i] = !strcmp(argv[i], "-o") ? "--output" : argv[i];
    args[n] = NULL;
    if (fw_cli_parse_cmd(g, "report", n, args, "|output|top|", "", report_opt, &o, pos, MAX_JOBS + 1, &npos, &ec) < 0)
        return ec;
    if (npos < 1 || npos > MAX_JOBS)
        return fw_cli_usage_error("report", "give 1 to 16 job ids (see `fairway jobs`)");
    if (!o.out)
        return fw_cli_usage_error("report", "give the file to write with -o FILE");
    rjob jobs[MAX_JOBS] = {0};
    for (int i = 0; i < npos; i++)
        if (fw_cli_parse_job_id("report", pos[i], &jobs[i].id) < 0)
            return FW_CLI_EXIT_USAGE;
    fw_cli_conn c;
    if ((ec = fw_cli_open_or_fail(g, &c)))
        return ec;
    for (int i = 0; i < npos && !ec; i++)
        ec = fetch_job(&c, &jobs[i]);
    fw_cli_close(&c);
    if (!ec) {
        FILE *f = fopen(o.out, "w");
        if (!f || write_report(f, jobs, npos, (int)o.top) < 0 || fclose(f) != 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "cannot write %.500s: %s", o.out, strerror(errno));
            ec = fw_cli_error(FW_CLI_EXIT_USAGE, NULL, msg);
        } else if (g->json) {
            printf("{\"report\":\"%s\",\"jobs\":%d}\n", o.out, npos);
        } else {
            printf("wrote %s (%d job%s); open it in a browser\n", o.out, npos, npos > 1 ? "s" : "");
        }
    }
    for (int i = 0; i < npos; i++)
        cJSON_Delete(jobs[i].status), cJSON_Delete(jobs[i].meas);
    return ec;
}
