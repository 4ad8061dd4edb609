/* fairway shutdown [--now]: stop the daemon (issue 19 item 12). It never starts one: with nothing
 * answering there is nothing to stop. The daemon answers first (what is in flight, which jobs are
 * unfinished), then closes the connection as it stops; the command returns at that close. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fw_cli.h"
#include "fw_util.h"

const char fw_cli_shutdown_help[] =
    "Usage: fairway shutdown [--now]\n"
    "Stop fairwayd. By default it stops once the variant being measured is finished and stored (no new\n"
    "variant is started; jobs submitted meanwhile are refused). With --now it stops at once and the\n"
    "variant in flight is dropped. Either way the unfinished jobs are kept and resume from the first\n"
    "variant not stored when fairwayd starts again (any fairway command starts it); a finalists\n"
    "re-timing in flight is re-run then. Returns once fairwayd has closed the connection. When no\n"
    "fairwayd answers on the socket, says so and exits 0 (none is started).\n"
    "  --now                  stop at once; at most the variant in flight is lost\n\n"
    "Examples:\n"
    "  fairway shutdown\n"
    "  fairway shutdown --now --json\n";

static int shutdown_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    (void)arg;
    (void)err;
    (void)errlen;
    if (strcmp(name, "now"))
        return 0;
    *(int *)vctx = 1;
    return 1;
}

/* "job 3 seq 7, job 4 seq 0" / "jobs 3, 4" into buf. */
static void list_text(const cJSON *a, int with_seq, char *buf, size_t len)
{
    size_t off = 0;
    int n = cJSON_GetArraySize(a), i = 0;
    buf[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, a) {
        if (off >= len)
            break;
        if (with_seq)
            off += (size_t)snprintf(buf + off, len - off, "%sjob %lld seq %lld", i ? ", " : "",
                                    (long long)fw_cli_num(it, "job", 0), (long long)fw_cli_num(it, "seq", 0));
        else
            off += (size_t)snprintf(buf + off, len - off, "%s%s%lld", i ? ", " : "", i ? "" : n > 1 ? "jobs " : "job ",
                                    (long long)it->valuedouble);
        i++;
    }
}

static void print_stopping(const cJSON *res, int now)
{
    char fl[1024], un[1024];
    const cJSON *inflight = cJSON_GetObjectItemCaseSensitive(res, "in_flight");
    list_text(inflight, 1, fl, sizeof fl);
    long long pid = (long long)fw_cli_num(res, "pid", 0);
    if (!cJSON_GetArraySize(inflight))
        printf("fairwayd (pid %lld) is stopping: no variant is being measured\n", pid);
    else if (now)
        printf("fairwayd (pid %lld) is stopping now; dropped, measured again at the next start: %s\n", pid, fl);
    else
        printf("fairwayd (pid %lld) is stopping once the variant in flight is stored: %s\n", pid, fl);
    const cJSON *unfinished = cJSON_GetObjectItemCaseSensitive(res, "unfinished");
    list_text(unfinished, 0, un, sizeof un);
    if (cJSON_GetArraySize(unfinished))
        printf("%s %s when fairwayd starts again (any fairway command starts it)\n", un,
               cJSON_GetArraySize(unfinished) > 1 ? "resume" : "resumes");
}

int fw_cli_cmd_shutdown(fw_cli_global *g, int argc, char **argv)
{
    int now = 0, npos, ec;
    char *pos[1];
    if (fw_cli_parse_cmd(g, "shutdown", argc, argv, "", "|now|", shutdown_opt, &now, pos, 0, &npos, &ec) < 0)
        return ec;
    fw_cli_conn c;
    char err[2048];
    int rc = fw_cli_connect(g->socket, &c, err, sizeof err);
    if (rc == -ENOENT || rc == -ECONNREFUSED) {
        if (g->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddFalseToObject(o, "running");
            cJSON_AddStringToObject(o, "socket", g->socket);
            fw_cli_print_json(o);
            cJSON_Delete(o);
        } else {
            printf("no fairwayd answers on %s: nothing to stop\n", g->socket);
        }
        return FW_CLI_EXIT_OK;
    }
    if (rc < 0)
        return fw_cli_error(FW_CLI_EXIT_NODAEMON, NULL, err);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddBoolToObject(p, "now", now);
    cJSON *res = NULL;
    if ((ec = fw_cli_rpc(&c, "shutdown", p, &res))) {
        fw_cli_close(&c);
        return ec;
    }
    if (g->json)
        fw_cli_print_json(res);
    else
        print_stopping(res, now);
    cJSON_Delete(res);
    /* The daemon closes every connection as it stops: wait for that (progress of other jobs is not
     * sent here, this connection watches nothing). */
    for (;;) {
        cJSON *msg = NULL;
        rc = fw_cli_read_message(&c, &msg, err, sizeof err);
        cJSON_Delete(msg);
        if (rc < 0)
            break;
    }
    fw_cli_close(&c);
    if (rc == -EINTR)
        return fw_cli_error(FW_CLI_EXIT_INTERRUPTED, NULL, "stopped waiting; fairwayd still stops by itself");
    if (!g->json)
        printf("fairwayd stopped\n");
    return FW_CLI_EXIT_OK;
}
