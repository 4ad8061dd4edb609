#include "fw_cli.h"
#include "fw_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void fw_cli_fmt_ns(double ns, char *out, size_t len)
{
    if (!(ns >= 0) || isinf(ns))
        snprintf(out, len, "-");
    else if (ns < 1e3)
        snprintf(out, len, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(out, len, "%.2f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(out, len, "%.3f ms", ns / 1e6);
    else
        snprintf(out, len, "%.2f s", ns / 1e9);
}

void fw_cli_fmt_secs(double s, char *out, size_t len)
{
    if (!(s >= 0) || s > 1e9) {
        snprintf(out, len, "?");
        return;
    }
    long long t = (long long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, len, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(out, len, "%lld:%02lld", t / 60, t % 60);
}

void fw_cli_table_init(fw_cli_table *t, size_t ncols, const char *const *header)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols > 16 ? 16 : ncols;
    fw_cli_table_add(t, header);
}

void fw_cli_table_add(fw_cli_table *t, const char *const *row)
{
    char **nc = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *nc);
    if (!nc)
        return;
    t->cells = nc;
    for (size_t i = 0; i < t->ncols; i++)
        nc[t->nrows * t->ncols + i] = fw_strdup(row[i] ? row[i] : "");
    t->nrows++;
}

void fw_cli_table_print(const fw_cli_table *t, FILE *out)
{
    size_t w[16] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t l = s ? strlen(s) : 0;
            if (l > w[c])
                w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            int last = c + 1 == t->ncols;
            if (!s)
                s = "";
            if (t->right[c])
                fprintf(out, "%*s", (int)w[c], s);
            else if (last)
                fputs(s, out); /* no trailing blanks */
            else
                fprintf(out, "%-*s", (int)w[c], s);
            if (!last)
                fputs("  ", out);
        }
        fputc('\n', out);
    }
}

void fw_cli_table_release(fw_cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

void fw_cli_progress_init(fw_cli_progress *p, FILE *out, int tty)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = tty;
    p->last_evaluated = -1;
}

double fw_cli_num(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

const char *fw_cli_str(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

void fw_cli_status_spec(const cJSON *status, fw_job_spec *out)
{
    if (fw_job_spec_parse(cJSON_GetObjectItemCaseSensitive(status, "spec"), out, NULL, 0) < 0)
        memset(out, 0, sizeof *out);
}

static int term_width(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

void fw_cli_print_devices(FILE *out, const cJSON *progress)
{
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(progress, "devices");
    if (!cJSON_IsArray(devs) || cJSON_GetArraySize(devs) == 0)
        return;
    fputs("  devices:", out);
    const cJSON *d;
    int i = 0;
    cJSON_ArrayForEach(d, devs) {
        fprintf(out, "%s %s %s (%lld measured)", i++ ? "," : "", fw_cli_str(d, "device", "?"),
                fw_cli_str(d, "state", "?"), (long long)fw_cli_num(d, "measured", 0));
        if (fw_cli_str(d, "error", NULL))
            fprintf(out, ": %s", fw_cli_str(d, "error", ""));
    }
    fputc('\n', out);
}

void fw_cli_print_devices_out(FILE *out, const cJSON *job, const char *indent)
{
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(job, "devices_out"))
        fprintf(out, "%sdevice %s was taken out of the job at %s: %s\n", indent, fw_cli_str(o, "device", "?"),
                fw_cli_str(o, "at", "?"), fw_cli_str(o, "error", "?"));
}

/* A device taken out of a several-device job is said once, on a line of its own. */
static void devices_out(fw_cli_progress *p, const cJSON *params)
{
    const cJSON *d;
    unsigned i = 0;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(params, "devices")) {
        if (i < 32 && !(p->devices_out & (1u << i)) && !strcmp(fw_cli_str(d, "state", ""), "out")) {
            p->devices_out |= 1u << i;
            if (p->tty && p->drawn)
                fputs("\r\033[K", p->out);
            fprintf(p->out, "device %s is taken out of job %lld, which goes on on the others: %s\n",
                    fw_cli_str(d, "device", "?"), (long long)fw_cli_num(params, "job", 0), fw_cli_str(d, "error", "?"));
            p->drawn = 0;
        }
        i++;
    }
}

void fw_cli_progress_show(fw_cli_progress *p, const cJSON *params)
{
    devices_out(p, params);
    long long ev = (long long)fw_cli_num(params, "evaluated", 0);
    long long planned = (long long)fw_cli_num(params, "planned", 0);
    const char *state = fw_cli_str(params, "state", "running");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(params, "final");
    int final = cJSON_IsTrue(fin);

    long long failures = 0;
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(params, "failures");
    const cJSON *it;
    cJSON_ArrayForEach(it, fl) if (cJSON_IsNumber(it)) failures += (long long)it->valuedouble;

    const cJSON *b = cJSON_GetObjectItemCaseSensitive(params, "best");
    if (cJSON_IsObject(b)) {
        fw_cli_fmt_ns(fw_cli_num(b, "median_ns", -1), p->best, sizeof p->best);
        snprintf(p->best_key, sizeof p->best_key, "%s", fw_cli_str(b, "variant_key", "?"));
    }
    const char *best = p->best[0] ? p->best : "-";
    char eta[32] = "?", el[32];
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(params, "eta_s");
    if (cJSON_IsNumber(e))
        fw_cli_fmt_secs(e->valuedouble, eta, sizeof eta);
    fw_cli_fmt_secs(fw_cli_num(params, "elapsed_s", 0), el, sizeof el);

    if (p->tty) {
        /* Redrawn in place: carriage return, clear to end of line, never wider than the terminal. */
        int width = term_width(p->out);
        char tail[200];
        snprintf(tail, sizeof tail, " %lld/%lld  best %s  failed %lld  %s %s", ev, planned, best, failures,
                 final ? "took" : "ETA", final ? el : eta);
        int barw = width - 56; /* fixed, so the bar does not jump as the tail changes */
        if (barw > 40)
            barw = 40;
        if (barw < 5)
            barw = 5;
        int filled = planned > 0 ? (int)((double)ev / (double)planned * barw + 0.5) : 0;
        if (filled > barw)
            filled = barw;
        fputs("\r\033[K[", p->out);
        for (int i = 0; i < barw; i++)
            fputc(i < filled ? '#' : '.', p->out);
        fprintf(p->out, "]%s", tail);
        p->drawn = 1;
        if (final) {
            fputc('\n', p->out);
            p->drawn = 0;
        }
        fflush(p->out);
    } else if (ev != p->last_evaluated || strcmp(state, p->last_state) || final) {
        /* Plain lines (a log, a pipe, CI): one per change, greppable. */
        char bv[600] = "";
        if (p->best_key[0])
            snprintf(bv, sizeof bv, " (%s)", p->best_key);
        fprintf(p->out, "progress: job %lld %s %lld/%lld evaluated, best %s%s, %lld failed, elapsed %s, eta %s\n",
                (long long)fw_cli_num(params, "job", 0), state, ev, planned, best, bv, failures, el, final ? "0:00" : eta);
        fflush(p->out);
    }
    p->last_evaluated = ev;
    snprintf(p->last_state, sizeof p->last_state, "%s", state);
}

void fw_cli_progress_end(fw_cli_progress *p)
{
    if (p->tty && p->drawn) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->drawn = 0;
}

static int is_finalist(const cJSON *r)
{
    const char *t = fw_cli_str(r, "timing", "");
    return !strcmp(t, "finalist");
}

/* measured by a "verify": false workload (issue 12): nothing checked its output */
static int unverified(const cJSON *r)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "unverified"));
}

static void add_ranking_row(fw_cli_table *t, const cJSON *r)
{
    char rank[16], med[32], gbps[32], gflops[32];
    snprintf(rank, sizeof rank, "%lld", (long long)fw_cli_num(r, "rank", 0));
    fw_cli_fmt_ns(fw_cli_num(r, "median_ns", -1), med, sizeof med);
    if (is_finalist(r))
        strncat(med, " *", sizeof med - strlen(med) - 1);
    double g = fw_cli_num(r, "gbps", -1), f = fw_cli_num(r, "gflops", -1);
    if (g >= 0)
        snprintf(gbps, sizeof gbps, "%.1f", g);
    else
        snprintf(gbps, sizeof gbps, "-");
    if (f >= 0)
        snprintf(gflops, sizeof gflops, "%.1f", f);
    else
        snprintf(gflops, sizeof gflops, "-");
    char origin[64];
    snprintf(origin, sizeof origin, "%s%s", fw_cli_str(r, "origin", "?"), unverified(r) ? " UNVERIFIED" : "");
    const char *row[] = {rank, fw_cli_str(r, "shape_key", "?"), fw_cli_str(r, "variant_key", "?"), med, gbps, gflops,
                         origin};
    fw_cli_table_add(t, row);
}

void fw_cli_print_rankings(FILE *out, const cJSON *rankings, int top)
{
    static const char *const head[] = {"rank", "shape", "knobs", "median", "GB/s", "GFLOP/s", "origin"};
    fw_cli_table t;
    fw_cli_table_init(&t, 7, head);
    t.right[0] = t.right[3] = t.right[4] = t.right[5] = 1;
    const cJSON *r;
    int finalists = 0, unchecked = 0;
    cJSON_ArrayForEach(r, rankings) {
        if (top > 0 && fw_cli_num(r, "rank", 0) > top)
            continue;
        add_ranking_row(&t, r);
        finalists += is_finalist(r);
        unchecked += unverified(r);
    }
    /* Ranks are the daemon's: the finalists, re-timed together, first by that median, then the rest
     * by their first-pass median. The median shown is the one each rank is based on (issue 19 item 3). */
    if (t.nrows == 1)
        fprintf(out, "no verified variant to rank\n");
    else {
        if (finalists)
            fprintf(out, "ranked within each shape: finalists (median marked *) by the median of their re-timing "
                         "together, then the others by their first-pass median\n");
        if (unchecked)
            fprintf(out, "UNVERIFIED: %d of these were measured with \"verify\": false, so nothing checked their "
                         "output; a fast wrong kernel ranks like a right one\n", unchecked);
        fw_cli_table_print(&t, out);
    }
    fw_cli_table_release(&t);
}

void fw_cli_print_best_per_shape(FILE *out, const cJSON *rankings)
{
    const cJSON *r;
    int any = 0;
    cJSON_ArrayForEach(r, rankings) {
        if (fw_cli_num(r, "rank", 0) != 1)
            continue;
        if (!any)
            fprintf(out, "best config per shape:\n");
        any = 1;
        char med[32];
        fw_cli_fmt_ns(fw_cli_num(r, "median_ns", -1), med, sizeof med);
        fprintf(out, "  %s: %s  (median %s)%s\n", fw_cli_str(r, "shape_key", "?"), fw_cli_str(r, "variant_key", "?"), med,
                unverified(r) ? "  UNVERIFIED" : "");
    }
}
