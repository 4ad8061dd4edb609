/* cli_tune.c - submitting and following a job: tune, expand, and the follow loop of tune, rerun,
 * resume and watch. */
#include "fw_cli.h"
#include "fw_job.h"
#include "fw_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cJSON *fw_cli_job_params(long long id)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "job", (double)id);
    return p;
}

int fw_cli_terminal_state(const char *s)
{
    return s && (!strcmp(s, "done") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

void fw_cli_print_counts(FILE *out, const cJSON *counts)
{
    const cJSON *it;
    int first = 1;
    cJSON_ArrayForEach(it, counts) {
        if (!cJSON_IsNumber(it) || it->valuedouble == 0)
            continue; /* eight statuses, mostly zero: show what happened */
        fprintf(out, "%s%s %lld", first ? "" : ", ", it->string, (long long)it->valuedouble);
        first = 0;
    }
    if (first)
        fputs("none yet", out);
}

/* ---- following a job (tune, rerun, watch) -------------------------------------------------- */

typedef struct follow_ctx {
    fw_cli_progress prog;
    int show;
    long long job;
    int final;
    char state[32];
    char waiting[160];    /* the last progress's "waiting" (a full disk, a shutdown) */
} follow_ctx;

static int on_progress(const char *method, const cJSON *params, void *vctx)
{
    follow_ctx *f = vctx;
    if (strcmp(method, "progress") || (long long)fw_cli_num(params, "job", (double)f->job) != f->job)
        return 0;
    if (f->show)
        fw_cli_progress_show(&f->prog, params);
    snprintf(f->state, sizeof f->state, "%s", fw_cli_str(params, "state", f->state));
    snprintf(f->waiting, sizeof f->waiting, "%s", fw_cli_str(params, "waiting", ""));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "final")))
        f->final = 1;
    return f->final;
}

/* Follow a job to its end, then report it (table or one JSON object). extra (may be NULL) is merged
 * into the JSON object (e.g. the submit reply). */
int fw_cli_follow(fw_cli_global *g, fw_cli_conn *c, long long job, int top, cJSON *extra)
{
    follow_ctx f;
    memset(&f, 0, sizeof f);
    f.job = job;
    FILE *pout = g->json ? stderr : stdout;
    f.show = !g->json || isatty(2);
    fw_cli_progress_init(&f.prog, pout, isatty(fileno(pout)));

    cJSON *st = NULL;
    int ec = fw_cli_rpc(c, "status", fw_cli_job_params(job), &st);
    if (ec)
        return ec;
    snprintf(f.state, sizeof f.state, "%s", fw_cli_str(st, "state", "?"));
    /* A job cancelled while a variant is in flight is stored cancelled at once, but it is over only when
     * that variant is stored: its progress says final then (docs/protocol.md), so follow it until so. */
    const cJSON *pfinal = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "progress"), "final");
    const int over = pfinal ? cJSON_IsTrue(pfinal) : fw_cli_terminal_state(f.state);
    cJSON_Delete(st);
    st = NULL;

    if (!over) {
        char err[2048];
        cJSON *res = NULL;
        int rc = fw_cli_call(c, "watch", fw_cli_job_params(job), &res, on_progress, &f, err, sizeof err);
        cJSON_Delete(res);
        while (rc == 0 && !f.final) {
            cJSON *msg;
            rc = fw_cli_read_message(c, &msg, err, sizeof err);
            if (rc < 0)
                break;
            const char *m = fw_cli_str(msg, "method", NULL);
            if (m)
                on_progress(m, cJSON_GetObjectItemCaseSensitive(msg, "params"), &f);
            cJSON_Delete(msg);
        }
        fw_cli_progress_end(&f.prog);
        if (rc < 0) {
            char msg[2600];
            if (rc == -EINTR) {
                snprintf(msg, sizeof msg, "stopped following job %lld; it goes on in the daemon: `fairway watch "
                         "%lld` to follow it again, `fairway cancel %lld` to stop it", job, job, job);
                return fw_cli_error(FW_CLI_EXIT_INTERRUPTED, NULL, msg);
            }
            if (rc == -EREMOTEIO)
                return fw_cli_error(fw_cli_exit_for(c, rc), c, err);
            if (strstr(f.waiting, "shutting down")) {
                snprintf(msg, sizeof msg, "fairwayd was shut down (`fairway shutdown`) while following job %lld; the "
                         "job is kept and resumes when fairwayd starts again (`fairway watch %lld` starts it and "
                         "follows the job)", job, job);
                return fw_cli_error(FW_CLI_EXIT_NODAEMON, NULL, msg);
            }
            snprintf(msg, sizeof msg, "lost fairwayd while following job %lld (%s); the job may still run: "
                     "`fairway status %lld`", job, err, job);
            return fw_cli_error(FW_CLI_EXIT_NODAEMON, NULL, msg);
        }
    }

    ec = fw_cli_rpc(c, "status", fw_cli_job_params(job), &st);
    if (ec)
        return ec;
    cJSON *rp = fw_cli_job_params(job);
    /* The limit counts per shape; --json gets every ranked variant (0 = no limit). */
    cJSON_AddNumberToObject(rp, "limit", g->json ? 0 : top);
    cJSON *rk = NULL;
    ec = fw_cli_rpc(c, "rankings", rp, &rk);
    if (ec) {
        cJSON_Delete(st);
        return ec;
    }
    const char *state = fw_cli_str(st, "state", "?");
    cJSON *rankings = cJSON_GetObjectItemCaseSensitive(rk, "rankings");
    /* a job that ranked nothing found nothing, whatever its state says (issue 19 item 1) */
    int code = !strcmp(state, "done") && cJSON_GetArraySize(rankings) > 0 ? FW_CLI_EXIT_OK : FW_CLI_EXIT_NOTFOUND;
    if (g->json) {
        cJSON *o = cJSON_CreateObject();
        if (extra) {
            const cJSON *it;
            cJSON_ArrayForEach(it, extra) cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, 1));
        }
        cJSON_DeleteItemFromObjectCaseSensitive(o, "job");
        cJSON_AddItemToObject(o, "job", cJSON_Duplicate(st, 1));
        cJSON_AddItemToObject(o, "rankings", rankings ? cJSON_Duplicate(rankings, 1) : cJSON_CreateArray());
        cJSON *best = cJSON_AddArrayToObject(o, "best");
        const cJSON *r;
        cJSON_ArrayForEach(r, rankings) if (fw_cli_num(r, "rank", 0) == 1) cJSON_AddItemToArray(best, cJSON_Duplicate(r, 1));
        fw_cli_print_json(o);
        cJSON_Delete(o);
    } else {
        char ev[32], pl[32];
        fw_cli_field_text(st, "evaluated", ev, sizeof ev);
        fw_cli_field_text(st, "planned", pl, sizeof pl);
        printf("job %lld %s: %s of %s evaluated (", job, state, ev, pl);
        fw_cli_print_counts(stdout, cJSON_GetObjectItemCaseSensitive(st, "counts"));
        printf(")\n");
        const char *e = fw_cli_str(st, "error", NULL);
        if (e && *e)
            printf("error: %s\n", e);
        fw_cli_print_devices_out(stdout, st, "");
        fw_cli_print_failure_classes(stdout, cJSON_GetObjectItemCaseSensitive(st, "failures"), job);
        printf("\n");
        fw_cli_print_rankings(stdout, rankings, top);
        printf("\n");
        fw_cli_print_best_per_shape(stdout, rankings);
        if (code == FW_CLI_EXIT_OK)
            printf("\nreproduce: fairway rerun %lld; details: fairway rankings %lld\n", job, job);
        else if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "failures")) > 0)
            printf("\nwhy: fairway failures %lld\n", job);
    }
    cJSON_Delete(st);
    cJSON_Delete(rk);
    return code;
}

/* ---- tune / expand ------------------------------------------------------------------------- */

#define SPEC_WITH_ARG "|spec|profile|family|strategy|backend|source|entry|replay|replay-noise|num-random|random-seed|warmup|iters|device|devices|budget|budget-s|shape|knob|constraint|alias|macro|bind|"

typedef struct tune_opts {
    fw_cli_spec_flags spec;
    long long top;
    long long limit;
    int detach;
    int print_spec;
} tune_opts;

static int tune_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    tune_opts *t = vctx;
    if (!strcmp(name, "top"))
        return fw_cli_parse_count(name, arg, 1, &t->top, err, errlen);
    if (!strcmp(name, "limit"))
        return fw_cli_parse_count(name, arg, 0, &t->limit, err, errlen);
    if (!strcmp(name, "detach")) {
        t->detach = 1;
        return 1;
    }
    if (!strcmp(name, "print-spec")) {
        t->print_spec = 1;
        return 1;
    }
    return fw_cli_spec_flag(&t->spec, name, arg, err, errlen);
}

/* tune and expand start alike: parse the spec flags, then build the spec from them. On success
 * t->spec is still held (expand reads the device from it) and the caller releases it; on failure
 * it is released here and *ec is the exit code. */
static int parse_spec_cmd(fw_cli_global *g, const char *name, int argc, char **argv, const char *with_arg,
                          const char *flags, tune_opts *t, cJSON **spec, int *ec)
{
    char *pos[1];
    int npos;
    *spec = NULL;
    if (fw_cli_parse_cmd(g, name, argc, argv, with_arg, flags, tune_opt, t, pos, 0, &npos, ec) < 0) {
        fw_cli_spec_flags_release(&t->spec);
        return -1;
    }
    char err[2048];
    if (fw_cli_spec_build(&t->spec, spec, err, sizeof err) < 0) {
        fw_cli_spec_flags_release(&t->spec);
        *ec = fw_cli_usage_error(name, err);
        return -1;
    }
    return 0;
}

/* "1 evaluation planned" / "80 evaluations planned (at most 40 per shape; --budget N to change that,
 * --budget 0 for every valid variant)": the hint when no flag asked for a budget (issue 19 items 5, 11).
 * o holds "planned" and the resolved "budget" (a submit reply, or an expand reply's spec). */
static const char *planned_text(const cJSON *o, int hint, char *buf, size_t len)
{
    long long n = (long long)fw_cli_num(o, "planned", 0);
    long long b = (long long)fw_cli_num(o, "budget", -1);
    int off = snprintf(buf, len, "%lld evaluation%s planned", n, n == 1 ? "" : "s");
    if (b > 0 && hint && off > 0 && (size_t)off < len)
        snprintf(buf + off, len - (size_t)off, " (at most %lld per shape; --budget N to change that, --budget 0 "
                 "for every valid variant)", b);
    return buf;
}

static int budget_hint(const fw_cli_spec_flags *f)
{
    return f->budget < 0 && f->num_random < 0 && !f->no_explore;
}

int fw_cli_cmd_tune(fw_cli_global *g, int argc, char **argv)
{
    tune_opts t;
    memset(&t, 0, sizeof t);
    fw_cli_spec_flags_init(&t.spec);
    t.top = 10;
    cJSON *spec;
    int ec;
    if (parse_spec_cmd(g, "tune", argc, argv, SPEC_WITH_ARG "top|", "|no-explore|detach|print-spec|", &t, &spec,
                       &ec) < 0)
        return ec;
    fw_cli_spec_flags_release(&t.spec);
    if (t.print_spec) {
        fw_cli_print_json(spec);
        cJSON_Delete(spec);
        return FW_CLI_EXIT_OK;
    }

    fw_cli_conn c;
    ec = fw_cli_open_or_fail(g, &c);
    if (ec) {
        cJSON_Delete(spec);
        return ec;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToObject(p, "spec", spec);
    spec = NULL;
    cJSON *sub = NULL;
    ec = fw_cli_rpc(&c, "submit", p, &sub);
    if (ec)
        goto out;
    long long job = (long long)fw_cli_num(sub, "job", 0);
    char note[512];
    if (t.detach) {
        if (g->json)
            fw_cli_print_json(sub);
        else
            printf("submitted job %lld: %s; follow it with `fairway watch %lld`\n", job,
                   planned_text(sub, budget_hint(&t.spec), note, sizeof note), job);
        cJSON_Delete(sub);
        goto out;
    }
    if (!g->json) {
        printf("submitted job %lld: %s\n", job, planned_text(sub, budget_hint(&t.spec), note, sizeof note));
    }
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "submitted", sub);
    ec = fw_cli_follow(g, &c, job, (int)t.top, extra);
    cJSON_Delete(extra);
out:
    cJSON_Delete(spec);
    fw_cli_close(&c);
    return ec;
}

int fw_cli_cmd_expand(fw_cli_global *g, int argc, char **argv)
{
    tune_opts t;
    memset(&t, 0, sizeof t);
    fw_cli_spec_flags_init(&t.spec);
    t.limit = 1000;
    cJSON *spec;
    int ec;
    if (parse_spec_cmd(g, "expand", argc, argv, SPEC_WITH_ARG "limit|", "|no-explore|", &t, &spec, &ec) < 0)
        return ec;
    char devsel[96] = "";
    if (t.spec.backend || t.spec.device >= 0)
        snprintf(devsel, sizeof devsel, "%s:%lld", t.spec.backend ? t.spec.backend : fw_job_default_backend(),
                 t.spec.device >= 0 ? t.spec.device : 0);
    int hint = budget_hint(&t.spec), seed_given = cJSON_HasObjectItem(spec, "seed");
    fw_cli_spec_flags_release(&t.spec);

    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToObject(p, "spec", spec);
    if (devsel[0])
        cJSON_AddStringToObject(p, "device", devsel);
    cJSON_AddNumberToObject(p, "limit", (double)t.limit);
    cJSON *res;
    if ((ec = fw_cli_query(g, "expand", p, &res)))
        return ec;
    if (!g->json) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(res, "items");
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(res, "spec");
        cJSON *pb = cJSON_CreateObject();
        cJSON_AddNumberToObject(pb, "planned", fw_cli_num(res, "planned", 0));
        cJSON_AddNumberToObject(pb, "budget", fw_cli_num(rs, "budget", -1));
        char note[512], seed[64];
        printf("%s", planned_text(pb, hint, note, sizeof note));
        cJSON_Delete(pb);
        if (cJSON_GetArraySize(items) < (int)fw_cli_num(res, "planned", 0))
            printf(" (first %d shown; raise --limit for more)", cJSON_GetArraySize(items));
        printf("\n");
        /* the seed orders the random part: without --random-seed each expand draws a fresh one (item 6) */
        fw_cli_field_text(rs, "seed", seed, sizeof seed);
        if (seed_given)
            printf("seed %s\n", seed);
        else
            printf("seed %s (drawn for this expand; `tune --random-seed %s` with the same flags runs this plan)\n",
                   seed, seed);
        static const char *const head[] = {"seq", "shape", "knobs", "origin"};
        fw_cli_table tb;
        fw_cli_table_init(&tb, 4, head);
        tb.right[0] = 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, items) {
            char seq[32];
            fw_cli_field_text(it, "seq", seq, sizeof seq);
            const char *row[] = {seq, fw_cli_str(it, "shape_key", "?"), fw_cli_str(it, "variant_key", "?"), fw_cli_str(it, "origin", "?")};
            fw_cli_table_add(&tb, row);
        }
        fw_cli_table_print(&tb, stdout);
        fw_cli_table_release(&tb);
    }
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}

