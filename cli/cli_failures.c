/* fairway failures JOB [--status S] [--limit N]: why a job's variants failed, with the full stored
 * text (a compile error's build log, the verifier's sentence, a crash's signal), and the one-line
 * summary per failure class that status, tune and watch print (issue 19 item 1). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"
#include "fw_util.h"

const char fw_cli_failures_help[] =
    "Usage: fairway failures JOB [--status S] [--limit N]\n"
    "Every failed evaluation of a job, in order: seq, status, shape, knobs, then the full reason the\n"
    "daemon stored (the compiler's build log for compile_error, the verifier's message for\n"
    "verify_failed, the signal or limit for crashed and timeout). Exit code 1 when none failed.\n"
    "  --status S             only one failure status: compile_error, invalid, verify_failed,\n"
    "                         runtime_error, pruned, crashed, timeout\n"
    "  --limit N              at most N failures (default all)\n\n"
    "Examples:\n"
    "  fairway failures 12\n"
    "  fairway failures 12 --status compile_error --limit 1\n"
    "  fairway failures 12 --json\n";

void fw_cli_print_failure_classes(FILE *out, const cJSON *classes, long long job)
{
    const cJSON *c;
    int n = 0;
    cJSON_ArrayForEach(c, classes) {
        if (!n++)
            fprintf(out, "failures (the first of each kind; all of them: fairway failures %lld):\n", job);
        const char *line = fw_cli_str(c, "first_line", "");
        fprintf(out, "  %s %lld (first seq %lld): %s\n", fw_cli_str(c, "status", "?"),
                (long long)fw_cli_num(c, "count", 0), (long long)fw_cli_num(c, "first_seq", 0),
                *line ? line : "(no reason stored)");
    }
}

typedef struct failures_opts {
    const char *status;
    long long limit;
} failures_opts;

static int failures_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    failures_opts *o = vctx;
    if (!strcmp(name, "status")) {
        o->status = arg;
        return 1;
    }
    if (!strcmp(name, "limit"))
        return fw_cli_parse_count(name, arg, 1, &o->limit, err, errlen);
    return 0;
}

int fw_cli_cmd_failures(fw_cli_global *g, int argc, char **argv)
{
    failures_opts o = {0};
    char *pos[2];
    int npos, ec;
    if (fw_cli_parse_cmd(g, "failures", argc, argv, "|status|limit|", "", failures_opt, &o, pos, 1, &npos, &ec) < 0)
        return ec;
    if (npos != 1)
        return fw_cli_usage_error("failures", "give one job id (see `fairway jobs`)");
    long long job;
    if (fw_cli_parse_job_id("failures", pos[0], &job) < 0)
        return FW_CLI_EXIT_USAGE;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "job", (double)job);
    if (o.status)
        cJSON_AddStringToObject(p, "status", o.status);
    if (o.limit > 0)
        cJSON_AddNumberToObject(p, "limit", (double)o.limit);
    cJSON *res;
    if ((ec = fw_cli_query(g, "failures", p, &res)))
        return ec;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(res, "failures");
    int n = cJSON_GetArraySize(list);
    if (!g->json) {
        if (n == 0)
            printf("job %lld has no failed evaluation%s%s\n", job, o.status ? " with status " : "",
                   o.status ? o.status : "");
        const cJSON *f;
        cJSON_ArrayForEach(f, list) {
            const char *kernel = fw_cli_str(f, "kernel", "");
            printf("seq %lld %s: shape %s, knobs %s%s%s\n", (long long)fw_cli_num(f, "seq", 0),
                   fw_cli_str(f, "status", "?"), fw_cli_str(f, "shape_key", "?"), fw_cli_str(f, "variant_key", "?"),
                   *kernel ? ", kernel " : "", kernel);
            const char *e = fw_cli_str(f, "error", "");
            /* the stored text as it is, indented, so a build log reads as the compiler wrote it */
            if (!*e)
                e = "(no reason stored)";
            while (*e) {
                size_t l = strcspn(e, "\n");
                printf("    %.*s\n", (int)l, e);
                e += l;
                if (*e == '\n')
                    e++;
            }
        }
    }
    cJSON_Delete(res);
    return n > 0 ? FW_CLI_EXIT_OK : FW_CLI_EXIT_NOTFOUND;
}
