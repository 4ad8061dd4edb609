/* fairway best / compare / profiles / devices: the one-request queries over stored results and
 * the daemon's devices (the job subcommands are in cli_tune.c and cli_jobs.c). */
#include "fw_cli.h"
#include "fw_job.h"
#include "fw_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct best_opts {
    const char *family, *shape, *device, *kernel;
    int exact;
} best_opts;

static int best_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    best_opts *b = vctx;
    (void)err;
    (void)errlen;
    if (!strcmp(name, "family"))
        b->family = arg;
    else if (!strcmp(name, "shape"))
        b->shape = arg;
    else if (!strcmp(name, "device"))
        b->device = arg;
    else if (!strcmp(name, "kernel"))
        b->kernel = arg;
    else if (!strcmp(name, "exact"))
        b->exact = 1;
    else
        return 0;
    return 1;
}

int fw_cli_cmd_best(fw_cli_global *g, int argc, char **argv)
{
    best_opts b = {0};
    char *pos[1];
    int npos, ec;
    if (fw_cli_parse_cmd(g, "best", argc, argv, "|family|shape|device|kernel|", "|exact|", best_opt, &b, pos, 0, &npos, &ec) < 0)
        return ec;
    if (!b.family || !b.shape)
        return fw_cli_usage_error("best", "give --family F and --shape K=V,... (the shape as you tuned it)");
    char err[1024];
    cJSON *shape;
    if (fw_cli_parse_kv_object(b.shape, &shape, err, sizeof err) < 0)
        return fw_cli_usage_error("best", err);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "family", b.family);
    cJSON_AddItemToObject(p, "shape", shape);
    if (b.device)
        cJSON_AddStringToObject(p, "device", b.device);
    if (b.kernel)
        cJSON_AddStringToObject(p, "kernel", b.kernel);
    if (b.exact)
        cJSON_AddTrueToObject(p, "exact");
    cJSON *res;
    if ((ec = fw_cli_query(g, "best", p, &res)))
        return ec;
    if (g->json) {
        cJSON_Delete(res);
        return FW_CLI_EXIT_OK;
    }
    char med[32], job[32];
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "nearest")))
        printf("NOT TUNED: %s was never tuned; this is the nearest tuned shape, %s (distance %.3g: %s).\n"
               "Tune the shape itself for its own best; --exact refuses instead of answering this.\n",
               fw_cli_str(res, "requested_shape_key", b.shape), fw_cli_str(res, "shape_key", "?"),
               fw_cli_num(res, "distance", 0), fw_cli_str(res, "distance_rule", "?"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "unverified")))
        printf("UNVERIFIED: measured with \"verify\": false (no output check); it may compute the wrong result\n");
    fw_cli_fmt_ns(fw_cli_num(res, "median_ns", -1), med, sizeof med);
    fw_cli_field_text(res, "job", job, sizeof job);
    printf("best %s for %s: median %s (job %s, %s)\n", b.family, fw_cli_str(res, "shape_key", b.shape), med, job,
           fw_cli_str(res, "device", "?"));
    /* which code: best spans jobs, so name the kernel and the source it was measured from (item 4) */
    const char *kn = fw_cli_str(res, "kernel", ""), *sh = fw_cli_str(res, "source_hash", "");
    if (*sh)
        printf("kernel: %s from %s (source hash %s)\n", *kn ? kn : "?", fw_cli_str(res, "source_name", "your source"),
               sh);
    else
        printf("kernel: %s (the family's built-in source)\n", *kn ? kn : "?");
    printf("knobs:  %s\n", fw_cli_str(res, "variant_key", "?"));
    /* The daemon's macro list is authoritative (it applies the job's aliases); without one, the
     * knob names are the macro names. */
    printf("macros:");
    const cJSON *macros = cJSON_GetObjectItemCaseSensitive(res, "macros");
    const cJSON *it;
    if (cJSON_IsArray(macros)) {
        cJSON_ArrayForEach(it, macros) if (cJSON_IsString(it)) printf(" -D%s", it->valuestring);
    } else if (cJSON_IsObject(macros)) {
        cJSON_ArrayForEach(it, macros) {
            char v[64];
            fw_cli_field_text(macros, it->string, v, sizeof v);
            printf(" -D%s=%s", it->string, v);
        }
    } else {
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "knobs")) {
            char v[64];
            fw_cli_field_text(cJSON_GetObjectItemCaseSensitive(res, "knobs"), it->string, v, sizeof v);
            printf(" -D%s=%s", it->string, v);
        }
    }
    printf("\n");
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}

/* One told result: "ok 1234 ns" or "compile_error". */
static void told_text(const cJSON *t, char *buf, size_t len)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(t, "median_ns");
    if (cJSON_IsNumber(md))
        snprintf(buf, len, "%s %.0f ns", fw_cli_str(t, "status", "?"), md->valuedouble);
    else
        snprintf(buf, len, "%s", fw_cli_str(t, "status", "?"));
}

/* Where the two sequences diverged per shape, and the results told differently before that. */
static void print_divergences(const cJSON *res)
{
    const cJSON *sq = cJSON_GetObjectItemCaseSensitive(res, "sequence");
    if (!cJSON_IsObject(sq))
        return;
    char order[96];
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sq, "fixed_order")))
        snprintf(order, sizeof order, "%s, fixed order", fw_cli_str(sq, "strategy", "?"));
    else
        snprintf(order, sizeof order, "%s, ask-ahead %.0f", fw_cli_str(sq, "strategy", "?"),
                 fw_cli_num(sq, "ask_ahead", 0));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sq, "identical"))) {
        printf("  sequences: identical (%s)\n", order);
        return;
    }
    printf("  sequences: diverged (%s%s)\n", order,
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sq, "same_setup")) ? "" : "; specs, seeds or devices differ");
    const cJSON *dv;
    cJSON_ArrayForEach(dv, cJSON_GetObjectItemCaseSensitive(res, "divergences")) {
        char sa[32], sb[32];
        fw_cli_field_text(dv, "seq_a", sa, sizeof sa);
        fw_cli_field_text(dv, "seq_b", sb, sizeof sb);
        printf("  shape %s: first differs at position %.0f (seq %s in a, %s in b): %s vs %s\n",
               fw_cli_str(dv, "shape_key", "?"), fw_cli_num(dv, "position", 0), sa, sb,
               fw_cli_str(dv, "variant_a", "(none)"), fw_cli_str(dv, "variant_b", "(none)"));
        printf("    %s\n", fw_cli_str(dv, "explanation", ""));
        const cJSON *c;
        int shown = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(dv, "cause")) {
            if (shown++ == 5)
                break;
            char ta[64], tb[64], ratio[32] = "";
            told_text(cJSON_GetObjectItemCaseSensitive(c, "a"), ta, sizeof ta);
            told_text(cJSON_GetObjectItemCaseSensitive(c, "b"), tb, sizeof tb);
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "ratio");
            if (cJSON_IsNumber(r))
                snprintf(ratio, sizeof ratio, ", b/a %.3f", r->valuedouble);
            printf("    told at position %.0f, %s: a %s, b %s%s\n", fw_cli_num(c, "position", 0),
                   fw_cli_str(c, "variant", "?"), ta, tb, ratio);
        }
        double total = fw_cli_num(dv, "cause_total", 0);
        if (total > 5)
            printf("    ... %.0f results told differently in all (--json lists up to 50)\n", total);
    }
}

int fw_cli_cmd_compare(fw_cli_global *g, int argc, char **argv)
{
    char *pos[2];
    int npos, ec;
    if (fw_cli_parse_cmd(g, "compare", argc, argv, "", "", NULL, NULL, pos, 2, &npos, &ec) < 0)
        return ec;
    if (npos != 2)
        return fw_cli_usage_error("compare", "give two job ids, e.g. `fairway compare 3 4`");
    long long a, b;
    if (fw_cli_parse_job_id("compare", pos[0], &a) < 0 || fw_cli_parse_job_id("compare", pos[1], &b) < 0)
        return FW_CLI_EXIT_USAGE;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "a", (double)a);
    cJSON_AddNumberToObject(p, "b", (double)b);
    cJSON *res;
    if ((ec = fw_cli_query(g, "compare", p, &res)))
        return ec;
    if (!g->json) {
        const cJSON *same = cJSON_GetObjectItemCaseSensitive(res, "same_variants");
        char tau[32], common[32], top5[32];
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(res, "kendall_tau");
        if (cJSON_IsNumber(t))
            snprintf(tau, sizeof tau, "%.3f", t->valuedouble);
        else
            snprintf(tau, sizeof tau, "-");
        fw_cli_field_text(res, "common_verified", common, sizeof common);
        fw_cli_field_text(res, "top5_overlap", top5, sizeof top5);
        printf("jobs %lld and %lld\n", a, b);
        printf("  same variant sequence: %s\n", cJSON_IsTrue(same) ? "yes" : "no");
        printf("  variants verified in both: %s\n", common);
        printf("  ranking stability (Kendall's tau): %s\n", tau);
        char possible[32];
        fw_cli_field_text(res, "top5_possible", possible, sizeof possible);
        printf("  top-5 overlap: %s of %s\n", top5, possible);
        const cJSON *mr = cJSON_GetObjectItemCaseSensitive(res, "median_ratio");
        if (cJSON_IsObject(mr))
            printf("  median ratio b/a per variant: min %.3f, median %.3f, max %.3f\n", fw_cli_num(mr, "min", 0),
                   fw_cli_num(mr, "median", 0), fw_cli_num(mr, "max", 0));
        print_divergences(res);
    }
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}

int fw_cli_cmd_profiles(fw_cli_global *g, int argc, char **argv)
{
    char *pos[1];
    int npos, ec;
    if (fw_cli_parse_cmd(g, "profiles", argc, argv, "", "", NULL, NULL, pos, 0, &npos, &ec) < 0)
        return ec;
    cJSON *res;
    if ((ec = fw_cli_query(g, "profiles", NULL, &res)))
        return ec;
    if (!g->json) {
        static const char *const head[] = {"profile", "family", "shapes", "description"};
        fw_cli_table t;
        fw_cli_table_init(&t, 4, head);
        t.right[2] = 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res, "profiles")) {
            char n[32];
            fw_cli_field_text(it, "shapes", n, sizeof n);
            const char *row[] = {fw_cli_str(it, "name", "?"), fw_cli_str(it, "family", "?"), n, fw_cli_str(it, "description", "")};
            fw_cli_table_add(&t, row);
        }
        fw_cli_table_print(&t, stdout);
        fw_cli_table_release(&t);
    }
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}

/* The strategies (local: the CLI is built with the daemon's search library). */
int fw_cli_cmd_strategies(fw_cli_global *g, int argc, char **argv)
{
    char *pos[1];
    int npos, ec;
    if (fw_cli_parse_cmd(g, "strategies", argc, argv, "", "", NULL, NULL, pos, 0, &npos, &ec) < 0)
        return ec;
    static const char *const fixed[][2] = {
        {"grid", "every valid point in canonical order (presets not first)"},
        {"presets", "the presets only (what --no-explore means)"},
    };
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < 2; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", fixed[i][0]);
        cJSON_AddStringToObject(o, "summary", fixed[i][1]);
        cJSON_AddBoolToObject(o, "learns", 0);
        cJSON_AddBoolToObject(o, "default", 0);
        cJSON_AddItemToArray(arr, o);
    }
    for (size_t i = 0; fw_strategy_names[i]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", fw_strategy_names[i]);
        cJSON_AddStringToObject(o, "summary", fw_strategy_summaries[i]);
        cJSON_AddBoolToObject(o, "learns", strcmp(fw_strategy_names[i], "random") != 0);
        cJSON_AddBoolToObject(o, "default", strcmp(fw_strategy_names[i], FW_SPEC_DEFAULT_STRATEGY) == 0);
        cJSON_AddItemToArray(arr, o);
    }
    if (g->json) {
        cJSON *res = cJSON_CreateObject();
        cJSON_AddItemToObject(res, "strategies", arr);
        fw_cli_print_json(res);
        cJSON_Delete(res);
        return FW_CLI_EXIT_OK;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
        printf("%-8s %s%s\n", fw_cli_str(it, "name", "?"), fw_cli_str(it, "summary", ""),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "default")) ? " (the default)" : "");
    cJSON_Delete(arr);
    return FW_CLI_EXIT_OK;
}

typedef struct devices_opts {
    const char *sel[8];
    int nsel, all;
} devices_opts;

static int devices_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    devices_opts *o = vctx;
    if (!strcmp(name, "all")) {
        o->all = 1;
        return 1;
    }
    if (!strcmp(name, "device")) {
        if (o->nsel >= 8)
            return fw_errf(err, errlen, -EINVAL, "at most 8 --device flags");
        o->sel[o->nsel++] = arg;
        return 1;
    }
    return 0;
}

static void print_devices(const cJSON *res)
{
    static const char *const head[] = {"device", "name", "threads", "shared", "simd", "CUs", "identity"};
    fw_cli_table t;
    fw_cli_table_init(&t, 7, head);
    t.right[2] = t.right[3] = t.right[4] = t.right[5] = 1;
    const cJSON *d;
    int failed = 0;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(res, "devices")) {
        if (fw_cli_str(d, "error", NULL)) {
            failed++;   /* listed below the table with the reason, not as a row of "?" */
            continue;
        }
        char sel[96], idx[32], th[32], sh[32], simd[32], cu[32];
        fw_cli_field_text(d, "index", idx, sizeof idx);
        snprintf(sel, sizeof sel, "%s:%s", fw_cli_str(d, "backend", "?"), idx);
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(d, "limits");
        fw_cli_field_text(l, "max_threads", th, sizeof th);
        fw_cli_field_text(l, "shared_bytes", sh, sizeof sh);
        fw_cli_field_text(l, "simd_width", simd, sizeof simd);
        fw_cli_field_text(l, "compute_units", cu, sizeof cu);
        const char *row[] = {fw_cli_str(d, "selector", sel), fw_cli_str(d, "name", "?"), th, sh, simd, cu,
                             fw_cli_str(d, "identity", "?")};
        fw_cli_table_add(&t, row);
    }
    if (t.nrows > 1)
        fw_cli_table_print(&t, stdout);
    else if (!failed)
        printf("no devices reported yet (a worker reports its device once it starts)\n");
    fw_cli_table_release(&t);
    if (failed)
        printf("%scould not open:\n", t.nrows > 1 ? "\n" : "");
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(res, "devices")) {
        const char *e = fw_cli_str(d, "error", NULL);
        if (e)
            printf("  %s: %s\n", fw_cli_str(d, "selector", "?"), e);
    }
}

int fw_cli_cmd_devices(fw_cli_global *g, int argc, char **argv)
{
    devices_opts o = {0};
    char *pos[1];
    int npos, ec;
    if (fw_cli_parse_cmd(g, "devices", argc, argv, "|device|", "|all|", devices_opt, &o, pos, 0, &npos, &ec) < 0)
        return ec;
    static const char *const every[] = {"opencl:0", "cuda:0", "metal:0"};
    if (o.all)
        for (size_t i = 0; i < 3 && o.nsel < 8; i++)
            o.sel[o.nsel++] = every[i];
    fw_cli_conn c;
    if ((ec = fw_cli_open_or_fail(g, &c)))
        return ec;
    /* Each selector asked for is opened first (a device that cannot open comes back with its error);
     * then the list of every device this daemon has met. */
    for (int i = 0; i < o.nsel; i++) {
        cJSON *p = cJSON_CreateObject(), *r = NULL;
        cJSON_AddStringToObject(p, "device", o.sel[i]);
        char err[2048];
        int rc = fw_cli_call(&c, "devices", p, &r, NULL, NULL, err, sizeof err);
        cJSON_Delete(r);
        if (rc < 0 && !o.all) {
            ec = fw_cli_error(fw_cli_exit_for(&c, rc), &c, err);
            fw_cli_close(&c);
            return ec;
        }
    }
    cJSON *res = NULL;
    ec = fw_cli_rpc(&c, "devices", NULL, &res);
    fw_cli_close(&c);
    if (ec)
        return ec;
    if (g->json)
        fw_cli_print_json(res);
    else
        print_devices(res);
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}

