/* cli_jobs.c - the subcommands about one job or the job list: status, watch, rerun, resume, cancel,
 * rankings, jobs. */
#include "fw_cli.h"
#include "fw_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_job(FILE *out, const cJSON *job)
{
    char id[32], seed[32], planned[32], evaluated[32], parent[32];
    fw_cli_field_text(job, "id", id, sizeof id);
    fw_cli_field_text(job, "seed", seed, sizeof seed);
    fw_cli_field_text(job, "planned", planned, sizeof planned);
    fw_cli_field_text(job, "evaluated", evaluated, sizeof evaluated);
    fw_cli_field_text(job, "parent", parent, sizeof parent);
    fprintf(out, "job %s: %s\n", id, fw_cli_str(job, "state", "?"));
    fprintf(out, "  family %s, strategy %s, seed %s, budget ", fw_cli_str(job, "family", "?"), fw_cli_str(job, "strategy", "?"), seed);
    char b[32];
    fw_cli_field_text(job, "budget", b, sizeof b);
    fprintf(out, "%s\n", strcmp(b, "0") ? b : "0 (no limit)");
    fprintf(out, "  evaluated %s of %s planned: ", evaluated, planned);
    fw_cli_print_counts(out, cJSON_GetObjectItemCaseSensitive(job, "counts"));
    fputc('\n', out);
    if (strcmp(parent, "-") && strcmp(parent, "0"))
        fprintf(out, "  rerun of job %s\n", parent);
    char t1[64], t2[64], t3[64], dev[256];
    fw_cli_field_text(job, "device", dev, sizeof dev);
    /* a job on several devices (its stored spec's "devices", issue 17): all of them */
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(job, "spec"), "devices");
    if (cJSON_IsArray(devs) && cJSON_GetArraySize(devs) > 1) {
        size_t off = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, devs)
            if (cJSON_IsString(d) && off < sizeof dev)
                off += (size_t)snprintf(dev + off, sizeof dev - off, "%s%s", off ? ", " : "", d->valuestring);
    }
    fw_cli_field_text(job, "created_at", t1, sizeof t1);
    fw_cli_field_text(job, "started_at", t2, sizeof t2);
    fw_cli_field_text(job, "finished_at", t3, sizeof t3);
    fprintf(out, "  device%s %s; created %s, started %s, finished %s\n",
            cJSON_IsArray(devs) && cJSON_GetArraySize(devs) > 1 ? "s" : "", dev, t1, t2, t3);
    const char *e = fw_cli_str(job, "error", NULL);
    if (e && *e)
        fprintf(out, "  error: %s\n", e);
    fw_cli_print_devices_out(out, job, "  ");
}

/* ---- job subcommands ----------------------------------------------------------------------- */

typedef struct job_opts {
    long long top, limit;
    int limit_min;        /* 0 where "no limit" makes sense (rankings) */
    int detach;
    const char *shape, *state;
} job_opts;

static int job_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    job_opts *o = vctx;
    if (!strcmp(name, "top"))
        return fw_cli_parse_count(name, arg, 1, &o->top, err, errlen);
    if (!strcmp(name, "limit"))
        return fw_cli_parse_count(name, arg, o->limit_min, &o->limit, err, errlen);
    if (!strcmp(name, "detach")) {
        o->detach = 1;
        return 1;
    }
    if (!strcmp(name, "shape")) {
        o->shape = arg;
        return 1;
    }
    if (!strcmp(name, "state")) {
        if (strcmp(arg, "queued") && strcmp(arg, "running") && strcmp(arg, "done") && strcmp(arg, "failed") &&
            strcmp(arg, "cancelled"))
            return fw_errf(err, errlen, -EINVAL, "--state '%s' is not a job state (queued, running, done, failed, cancelled)", arg);
        o->state = arg;
        return 1;
    }
    return 0;
}

/* Parse "CMD JOB [opts]": exactly one job id. Returns -1 with the exit code in *ec on failure. */
static int one_job(fw_cli_global *g, const char *name, int argc, char **argv, const char *with_arg,
                   const char *flags, job_opts *o, long long *job, int *ec)
{
    char *pos[2];
    int npos;
    if (fw_cli_parse_cmd(g, name, argc, argv, with_arg, flags, job_opt, o, pos, 1, &npos, ec) < 0)
        return -1;
    if (npos != 1) {
        *ec = fw_cli_usage_error(name, "give one job id (see `fairway jobs`)");
        return -1;
    }
    if (fw_cli_parse_job_id(name, pos[0], job) < 0) {
        *ec = FW_CLI_EXIT_USAGE;
        return -1;
    }
    return 0;
}

int fw_cli_cmd_status(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {0};
    long long job;
    int ec;
    if (one_job(g, "status", argc, argv, "", "", &o, &job, &ec) < 0)
        return ec;
    cJSON *st;
    if ((ec = fw_cli_query(g, "status", fw_cli_job_params(job), &st)))
        return ec;
    if (!g->json) {
        print_job(stdout, st);
        fw_cli_print_failure_classes(stdout, cJSON_GetObjectItemCaseSensitive(st, "failures"), job);
        const cJSON *pg = cJSON_GetObjectItemCaseSensitive(st, "progress");
        const char *waiting = fw_cli_str(pg, "waiting", NULL);
        if (waiting)
            printf("  waiting: %s\n", waiting);
        fw_cli_print_devices(stdout, pg);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(pg, "best");
        if (cJSON_IsObject(b)) {
            char med[32];
            fw_cli_fmt_ns(fw_cli_num(b, "median_ns", -1), med, sizeof med);
            printf("  best so far: %s on %s, median %s\n", fw_cli_str(b, "variant_key", "?"), fw_cli_str(b, "shape_key", "?"), med);
        }
        const cJSON *eta = cJSON_GetObjectItemCaseSensitive(pg, "eta_s");
        if (cJSON_IsNumber(eta) && !fw_cli_terminal_state(fw_cli_str(st, "state", NULL))) {
            char e[32], f[32];
            fw_cli_fmt_secs(eta->valuedouble, e, sizeof e);
            /* what it is based on (issue 19 item 10): this run's rate, and the finalists' launches */
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(pg, "eta_basis");
            fw_cli_fmt_secs(fw_cli_num(b, "finalists_s", 0), f, sizeof f);
            printf("  estimated time left: %s (%lld variants left x %.3g s, this run's mean per variant", e,
                   (long long)fw_cli_num(b, "variants_left", 0), fw_cli_num(b, "per_variant_s", 0));
            if (fw_cli_num(b, "finalist_candidates", 0) > 0)
                printf("; finalists %s: %lld candidates x %lld launches at their first-pass medians", f,
                       (long long)fw_cli_num(b, "finalist_candidates", 0), (long long)fw_cli_num(b, "finalist_launches", 0));
            printf(")\n");
        }
    }
    cJSON_Delete(st);
    return FW_CLI_EXIT_OK;
}

int fw_cli_cmd_watch(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.top = 10};
    long long job;
    int ec;
    if (one_job(g, "watch", argc, argv, "|top|", "", &o, &job, &ec) < 0)
        return ec;
    fw_cli_conn c;
    if ((ec = fw_cli_open_or_fail(g, &c)))
        return ec;
    ec = fw_cli_follow(g, &c, job, (int)o.top, NULL);
    fw_cli_close(&c);
    return ec;
}

/* The start of rerun, resume and cancel: "CMD JOB [opts]", connect (or start the daemon) and send
 * the method of that name with {"job": JOB}. Returns 0 with *c open and *res the result, or -1 with
 * the exit code in *ec and nothing left open. */
static int job_request(fw_cli_global *g, const char *name, int argc, char **argv, const char *with_arg,
                       const char *flags, job_opts *o, long long *job, fw_cli_conn *c, cJSON **res, int *ec)
{
    *res = NULL;
    if (one_job(g, name, argc, argv, with_arg, flags, o, job, ec) < 0)
        return -1;
    if ((*ec = fw_cli_open_or_fail(g, c)))
        return -1;
    if ((*ec = fw_cli_rpc(c, name, fw_cli_job_params(*job), res))) {
        fw_cli_close(c);
        return -1;
    }
    return 0;
}

int fw_cli_cmd_rerun(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.top = 10};
    long long job;
    int ec;
    fw_cli_conn c;
    cJSON *sub;
    if (job_request(g, "rerun", argc, argv, "|top|", "|detach|", &o, &job, &c, &sub, &ec) < 0)
        return ec;
    long long nj = (long long)fw_cli_num(sub, "job", 0);
    if (o.detach) {
        if (g->json)
            fw_cli_print_json(sub);
        else
            printf("submitted job %lld, a rerun of job %lld; follow it with `fairway watch %lld`\n", nj, job, nj);
        cJSON_Delete(sub);
        fw_cli_close(&c);
        return FW_CLI_EXIT_OK;
    }
    if (!g->json)
        printf("submitted job %lld, a rerun of job %lld (same spec and seed): %lld evaluation%s planned\n", nj, job,
               (long long)fw_cli_num(sub, "planned", 0), fw_cli_num(sub, "planned", 0) == 1 ? "" : "s");
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "submitted", sub);
    ec = fw_cli_follow(g, &c, nj, (int)o.top, extra);
    cJSON_Delete(extra);
    fw_cli_close(&c);
    return ec;
}

int fw_cli_cmd_resume(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.top = 10};
    long long job;
    int ec;
    fw_cli_conn c;
    cJSON *res;
    if (job_request(g, "resume", argc, argv, "|top|", "|detach|", &o, &job, &c, &res, &ec) < 0)
        return ec;
    if (!g->json)
        printf("job %lld resumes: %lld of %lld evaluations stored, the rest is measured\n", job,
               (long long)fw_cli_num(res, "evaluated", 0), (long long)fw_cli_num(res, "planned", 0));
    if (o.detach) {
        if (g->json)
            fw_cli_print_json(res);
        cJSON_Delete(res);
        fw_cli_close(&c);
        return FW_CLI_EXIT_OK;
    }
    cJSON_Delete(res);
    ec = fw_cli_follow(g, &c, job, (int)o.top, NULL);
    fw_cli_close(&c);
    return ec;
}

int fw_cli_cmd_cancel(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {0};
    long long job;
    int ec;
    fw_cli_conn c;
    cJSON *res;
    if (job_request(g, "cancel", argc, argv, "", "", &o, &job, &c, &res, &ec) < 0)
        return ec;
    fw_cli_close(&c);
    if (g->json)
        fw_cli_print_json(res);
    else
        printf("job %lld %s\n", job, fw_cli_str(res, "state", "cancelled"));
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}

int fw_cli_cmd_rankings(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.limit = 10, .limit_min = 0};
    long long job;
    int ec;
    if (one_job(g, "rankings", argc, argv, "|shape|limit|", "", &o, &job, &ec) < 0)
        return ec;
    cJSON *p = fw_cli_job_params(job);
    if (o.shape)
        cJSON_AddStringToObject(p, "shape", o.shape);
    cJSON_AddNumberToObject(p, "limit", (double)o.limit);
    cJSON *res;
    if ((ec = fw_cli_query(g, "rankings", p, &res)))
        return ec;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(res, "rankings");
    int n = cJSON_GetArraySize(r);
    if (g->json) {
        /* printed by query; the exit code still says whether anything is ranked */
    } else if (n > 0) {
        fw_cli_print_rankings(stdout, r, 0);
        printf("\n");
        fw_cli_print_best_per_shape(stdout, r);
    } else {
        printf("job %lld has no verified measurement%s%s yet\n", job, o.shape ? " for shape " : "", o.shape ? o.shape : "");
    }
    cJSON_Delete(res);
    return n > 0 ? FW_CLI_EXIT_OK : FW_CLI_EXIT_NOTFOUND;
}

int fw_cli_cmd_jobs(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.limit = 50, .limit_min = 1};
    char *pos[1];
    int npos, ec;
    if (fw_cli_parse_cmd(g, "jobs", argc, argv, "|state|limit|", "", job_opt, &o, pos, 0, &npos, &ec) < 0)
        return ec;
    cJSON *p = cJSON_CreateObject();
    if (o.state)
        cJSON_AddStringToObject(p, "state", o.state);
    cJSON_AddNumberToObject(p, "limit", (double)o.limit);
    cJSON *res;
    if ((ec = fw_cli_query(g, "jobs", p, &res)))
        return ec;
    if (!g->json) {
        static const char *const head[] = {"job", "state", "family", "strategy", "seed", "progress", "parent", "created"};
        fw_cli_table t;
        fw_cli_table_init(&t, 8, head);
        t.right[0] = 1;
        const cJSON *j;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(res, "jobs")) {
            char id[32], seed[32], prog[64], ev[32], pl[32], parent[32], created[64];
            fw_cli_field_text(j, "id", id, sizeof id);
            fw_cli_field_text(j, "seed", seed, sizeof seed);
            fw_cli_field_text(j, "evaluated", ev, sizeof ev);
            fw_cli_field_text(j, "planned", pl, sizeof pl);
            snprintf(prog, sizeof prog, "%s/%s", ev, pl);
            fw_cli_field_text(j, "parent", parent, sizeof parent);
            if (!strcmp(parent, "0"))
                snprintf(parent, sizeof parent, "-");
            fw_cli_field_text(j, "created_at", created, sizeof created);
            const char *row[] = {id, fw_cli_str(j, "state", "?"), fw_cli_str(j, "family", "?"), fw_cli_str(j, "strategy", "?"), seed,
                                 prog, parent, created};
            fw_cli_table_add(&t, row);
        }
        if (t.nrows == 1)
            printf("no jobs%s%s\n", o.state ? " in state " : "", o.state ? o.state : "");
        else
            fw_cli_table_print(&t, stdout);
        fw_cli_table_release(&t);
        /* devices taken out of several-device jobs (issue 17): a line each, under the table */
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(res, "jobs")) {
            const cJSON *d;
            cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "devices_out"))
                printf("job %lld: device %s was taken out: %s\n", (long long)fw_cli_num(j, "id", 0),
                       fw_cli_str(d, "device", "?"), fw_cli_str(d, "error", "?"));
        }
    }
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}
