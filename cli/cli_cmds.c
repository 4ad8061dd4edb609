#include "fw_cli.h"
#include "fw_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char fw_cli_exit_help[] =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  the job ended failed or cancelled or ranked nothing, or a query found nothing\n"
    "     (no such job, nothing stored)\n"
    "  2  usage error (unknown flag, bad value, missing argument)\n"
    "  3  cannot reach or start the daemon\n"
    "  4  the daemon returned an error for the request (the message says why)\n"
    "  130  interrupted (Ctrl-C); a job being followed goes on in the daemon\n";

const char fw_cli_global_help[] =
    "Global options (accepted before or after the subcommand):\n"
    "  --socket PATH   the daemon's socket (default: $FAIRWAY_SOCKET, else\n"
    "                  $XDG_RUNTIME_DIR/fairway/fairwayd.sock, else ~/.local/state/fairway/fairwayd.sock)\n"
    "  --json          machine-readable JSON on stdout instead of tables (errors too: {\"error\": ...})\n"
    "  --no-start      never start fairwayd; fail with exit code 3 when none answers\n"
    "  -h, --help      this help\n"
    "When no daemon answers, fairway starts fairwayd in the background (FAIRWAY_DAEMON, else next to\n"
    "this binary, else PATH), logging to ~/.local/state/fairway/fairwayd.log (or beside --socket).\n";

/* ---- argument parsing ---------------------------------------------------------------------- */

typedef fw_cli_opt_fn opt_fn;

enum { PARSE_OK = 0, PARSE_HELP = 1, PARSE_USAGE = 2 };

/* Errors (issue 19 items 9, 11): named after the subcommand the user ran (never the protocol
 * method), a sentence on stderr, and with --json also {"error": {...}} on stdout so a script reading
 * stdout sees why it got no result. */
static int json_errors;
static const char *cur_cmd = "";

void fw_cli_errors_setup(const char *cmd, int json)
{
    cur_cmd = cmd;
    json_errors = json;
}

int fw_cli_error(int ec, const fw_cli_conn *c, const char *msg)
{
    fprintf(stderr, "fairway%s%s: %s\n", cur_cmd[0] ? " " : "", cur_cmd, msg);
    if (ec == FW_CLI_EXIT_USAGE && cur_cmd[0])
        fprintf(stderr, "Try 'fairway %s --help'.\n", cur_cmd);
    if (!json_errors)
        return ec;
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "command", cur_cmd);
    cJSON_AddNumberToObject(e, "exit", ec);
    if (c && c->rpc_code) {
        cJSON_AddNumberToObject(e, "code", c->rpc_code);
        if (c->rpc_data)
            cJSON_AddItemToObject(e, "data", cJSON_Duplicate(c->rpc_data, 1));
    }
    fw_cli_print_json(o);
    cJSON_Delete(o);
    return ec;
}

int fw_cli_usage_error(const char *cmd, const char *msg)
{
    (void)cmd; /* always the subcommand being parsed (cur_cmd) */
    return fw_cli_error(FW_CLI_EXIT_USAGE, NULL, msg);
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)); p += n) {
        if (p > list && p[-1] == '|' && p[n] == '|')
            return 1;
    }
    return 0;
}

static void print_help(const fw_cli_command *cmd)
{
    fputs(cmd->help, stdout);
    fputc('\n', stdout);
    fputs(fw_cli_global_help, stdout);
    fputc('\n', stdout);
    fputs(fw_cli_exit_help, stdout);
}

/* Options of a subcommand: with_arg and flags are "|name|name|" lists of long names. Global options
 * are handled here, anywhere on the line. Positionals are collected in order. */
static int parse_args(fw_cli_global *g, const fw_cli_command *cmd, int argc, char **argv,
                      const char *with_arg, const char *flags, opt_fn on, void *ctx,
                      char **pos, int maxpos, int *npos)
{
    *npos = 0;
    int only_pos = 0;
    char msg[1024];
    int json = g->json;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        json |= !strcmp(argv[i], "--json");
    fw_cli_errors_setup(cmd->name, json);
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            print_help(cmd);
            return PARSE_HELP;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            char name[64];
            const char *eq = strchr(a + 2, '=');
            size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (nl == 0 || nl >= sizeof name) {
                snprintf(msg, sizeof msg, "'%s' is not an option", a);
                fw_cli_usage_error(cmd->name, msg);
                return PARSE_USAGE;
            }
            memcpy(name, a + 2, nl);
            name[nl] = 0;
            int takes = in_list("|socket|", name) || in_list(with_arg, name);
            int flag = in_list("|json|no-start|", name) || in_list(flags, name);
            if (!takes && !flag) {
                snprintf(msg, sizeof msg, "unknown option --%s", name);
                fw_cli_usage_error(cmd->name, msg);
                return PARSE_USAGE;
            }
            const char *arg = NULL;
            if (takes) {
                if (eq) {
                    arg = eq + 1;
                } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                    /* "--profile --json" is a forgotten value, not a profile named "--json";
                     * a value that really starts with "--" can be given as --name=VALUE. */
                    arg = argv[++i];
                } else {
                    snprintf(msg, sizeof msg, "--%s needs a value", name);
                    fw_cli_usage_error(cmd->name, msg);
                    return PARSE_USAGE;
                }
            } else if (eq) {
                snprintf(msg, sizeof msg, "--%s takes no value", name);
                fw_cli_usage_error(cmd->name, msg);
                return PARSE_USAGE;
            }
            if (!strcmp(name, "socket")) {
                if (!*arg) {
                    fw_cli_usage_error(cmd->name, "--socket needs a path");
                    return PARSE_USAGE;
                }
                snprintf(g->socket, sizeof g->socket, "%s", arg);
                g->socket_explicit = 1;
            } else if (!strcmp(name, "json")) {
                g->json = 1;
            } else if (!strcmp(name, "no-start")) {
                g->no_start = 1;
            } else {
                char err[1024] = "";
                int rc = on ? on(ctx, name, arg, err, sizeof err) : 0;
                if (rc <= 0) {
                    fw_cli_usage_error(cmd->name, err[0] ? err : "bad option");
                    return PARSE_USAGE;
                }
            }
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1]) {
            snprintf(msg, sizeof msg, "unknown option %s (options are spelled --name)", a);
            fw_cli_usage_error(cmd->name, msg);
            return PARSE_USAGE;
        }
        if (*npos >= maxpos) {
            snprintf(msg, sizeof msg, "unexpected argument '%s'", a);
            fw_cli_usage_error(cmd->name, msg);
            return PARSE_USAGE;
        }
        pos[(*npos)++] = a;
    }
    return PARSE_OK;
}

/* parse_args for the subcommand called name, with the exit code for help (0) or a usage error
 * turned into -1 and *ec, the shape every subcommand starts with. */
int fw_cli_parse_cmd(fw_cli_global *g, const char *name, int argc, char **argv, const char *with_arg,
                     const char *flags, opt_fn on, void *ctx, char **pos, int maxpos, int *npos, int *ec)
{
    int pr = parse_args(g, fw_cli_command_find(name), argc, argv, with_arg, flags, on, ctx, pos, maxpos, npos);
    if (pr == PARSE_OK)
        return 0;
    *ec = pr == PARSE_HELP ? FW_CLI_EXIT_OK : FW_CLI_EXIT_USAGE;
    return -1;
}

int fw_cli_parse_job_id(const char *cmd, const char *s, long long *id)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v <= 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "'%s' is not a job id (a positive integer, as `fairway jobs` lists)", s ? s : "");
        fw_cli_usage_error(cmd, msg);
        return -1;
    }
    *id = v;
    return 0;
}

int fw_cli_parse_count(const char *name, const char *arg, long long min, long long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || *end || end == arg || v < min)
        return fw_errf(err, errlen, -EINVAL, "--%s expects an integer >= %lld, not '%s'", name, min, arg);
    *out = v;
    return 1;
}

/* ---- shared helpers ------------------------------------------------------------------------ */

void fw_cli_print_json(const cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    fflush(stdout);
}

int fw_cli_open_or_fail(fw_cli_global *g, fw_cli_conn *c)
{
    char err[2048];
    if (fw_cli_open(g, c, err, sizeof err) < 0)
        return fw_cli_error(FW_CLI_EXIT_NODAEMON, NULL, err);
    return 0;
}

/* One request; on failure print the daemon's message and return the exit code (result NULL). */
int fw_cli_rpc(fw_cli_conn *c, const char *method, cJSON *params, cJSON **result)
{
    char err[2048];
    int rc = fw_cli_call(c, method, params, result, NULL, NULL, err, sizeof err);
    if (rc == -EINTR)
        return fw_cli_error(FW_CLI_EXIT_INTERRUPTED, NULL, "interrupted");
    if (rc < 0)
        return fw_cli_error(fw_cli_exit_for(c, rc), c, err);
    return 0;
}

/* The shape of the one-request subcommands: connect (or start) the daemon, send one request
 * (params is consumed, also when no daemon answers), disconnect. With --json the result is printed
 * here; the caller renders it otherwise, and frees it either way. Returns the exit code (0: *res set). */
int fw_cli_query(fw_cli_global *g, const char *method, cJSON *params, cJSON **res)
{
    fw_cli_conn c;
    int ec = fw_cli_open_or_fail(g, &c);
    if (ec) {
        cJSON_Delete(params);
        return ec;
    }
    *res = NULL;
    ec = fw_cli_rpc(&c, method, params, res);
    fw_cli_close(&c);
    if (ec)
        return ec;
    if (g->json)
        fw_cli_print_json(*res);
    return 0;
}

/* A scalar field as text (numbers, strings, null), for the key: value views. */
void fw_cli_field_text(const cJSON *o, const char *k, char *out, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsString(v))
        snprintf(out, len, "%s", v->valuestring);
    else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
        snprintf(out, len, "%lld", (long long)v->valuedouble);
    else if (cJSON_IsNumber(v))
        snprintf(out, len, "%g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(out, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else
        snprintf(out, len, "-");
}

static cJSON *job_params(long long id)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "job", (double)id);
    return p;
}

static int terminal_state(const char *s)
{
    return s && (!strcmp(s, "done") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

static void print_counts(FILE *out, const cJSON *counts)
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
    print_counts(out, cJSON_GetObjectItemCaseSensitive(job, "counts"));
    fputc('\n', out);
    if (strcmp(parent, "-") && strcmp(parent, "0"))
        fprintf(out, "  rerun of job %s\n", parent);
    char t1[64], t2[64], t3[64], dev[256];
    fw_cli_field_text(job, "device", dev, sizeof dev);
    fw_cli_field_text(job, "created_at", t1, sizeof t1);
    fw_cli_field_text(job, "started_at", t2, sizeof t2);
    fw_cli_field_text(job, "finished_at", t3, sizeof t3);
    fprintf(out, "  device %s; created %s, started %s, finished %s\n", dev, t1, t2, t3);
    const char *e = fw_cli_str(job, "error", NULL);
    if (e && *e)
        fprintf(out, "  error: %s\n", e);
}

/* ---- following a job (tune, rerun, watch) -------------------------------------------------- */

typedef struct follow_ctx {
    fw_cli_progress prog;
    int show;
    long long job;
    int final;
    char state[32];
} follow_ctx;

static int on_progress(const char *method, const cJSON *params, void *vctx)
{
    follow_ctx *f = vctx;
    if (strcmp(method, "progress") || (long long)fw_cli_num(params, "job", (double)f->job) != f->job)
        return 0;
    if (f->show)
        fw_cli_progress_show(&f->prog, params);
    snprintf(f->state, sizeof f->state, "%s", fw_cli_str(params, "state", f->state));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "final")))
        f->final = 1;
    return f->final;
}

/* Follow a job to its end, then report it (table or one JSON object). extra (may be NULL) is merged
 * into the JSON object (e.g. the submit reply). */
static int follow(fw_cli_global *g, fw_cli_conn *c, long long job, int top, cJSON *extra)
{
    follow_ctx f;
    memset(&f, 0, sizeof f);
    f.job = job;
    FILE *pout = g->json ? stderr : stdout;
    f.show = !g->json || isatty(2);
    fw_cli_progress_init(&f.prog, pout, isatty(fileno(pout)));

    cJSON *st = NULL;
    int ec = fw_cli_rpc(c, "status", job_params(job), &st);
    if (ec)
        return ec;
    snprintf(f.state, sizeof f.state, "%s", fw_cli_str(st, "state", "?"));
    cJSON_Delete(st);
    st = NULL;

    if (!terminal_state(f.state)) {
        char err[2048];
        cJSON *res = NULL;
        int rc = fw_cli_call(c, "watch", job_params(job), &res, on_progress, &f, err, sizeof err);
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
            snprintf(msg, sizeof msg, "lost fairwayd while following job %lld (%s); the job may still run: "
                     "`fairway status %lld`", job, err, job);
            return fw_cli_error(FW_CLI_EXIT_NODAEMON, NULL, msg);
        }
    }

    ec = fw_cli_rpc(c, "status", job_params(job), &st);
    if (ec)
        return ec;
    cJSON *rp = job_params(job);
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
        print_counts(stdout, cJSON_GetObjectItemCaseSensitive(st, "counts"));
        printf(")\n");
        const char *e = fw_cli_str(st, "error", NULL);
        if (e && *e)
            printf("error: %s\n", e);
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

#define SPEC_WITH_ARG "|spec|profile|family|strategy|backend|source|entry|num-random|random-seed|warmup|iters|device|budget|shape|knob|constraint|alias|macro|bind|"

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

static int cmd_tune(fw_cli_global *g, int argc, char **argv)
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
    ec = follow(g, &c, job, (int)t.top, extra);
    cJSON_Delete(extra);
out:
    cJSON_Delete(spec);
    fw_cli_close(&c);
    return ec;
}

static int cmd_expand(fw_cli_global *g, int argc, char **argv)
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
        snprintf(devsel, sizeof devsel, "%s:%lld", t.spec.backend ? t.spec.backend : "opencl",
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

static int cmd_status(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {0};
    long long job;
    int ec;
    if (one_job(g, "status", argc, argv, "", "", &o, &job, &ec) < 0)
        return ec;
    cJSON *st;
    if ((ec = fw_cli_query(g, "status", job_params(job), &st)))
        return ec;
    if (!g->json) {
        print_job(stdout, st);
        fw_cli_print_failure_classes(stdout, cJSON_GetObjectItemCaseSensitive(st, "failures"), job);
        const cJSON *pg = cJSON_GetObjectItemCaseSensitive(st, "progress");
        const char *waiting = fw_cli_str(pg, "waiting", NULL);
        if (waiting)
            printf("  waiting: %s\n", waiting);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(pg, "best");
        if (cJSON_IsObject(b)) {
            char med[32];
            fw_cli_fmt_ns(fw_cli_num(b, "median_ns", -1), med, sizeof med);
            printf("  best so far: %s on %s, median %s\n", fw_cli_str(b, "variant_key", "?"), fw_cli_str(b, "shape_key", "?"), med);
        }
        const cJSON *eta = cJSON_GetObjectItemCaseSensitive(pg, "eta_s");
        if (cJSON_IsNumber(eta) && !terminal_state(fw_cli_str(st, "state", NULL))) {
            char e[32];
            fw_cli_fmt_secs(eta->valuedouble, e, sizeof e);
            printf("  estimated time left: %s\n", e);
        }
    }
    cJSON_Delete(st);
    return FW_CLI_EXIT_OK;
}

static int cmd_watch(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.top = 10};
    long long job;
    int ec;
    if (one_job(g, "watch", argc, argv, "|top|", "", &o, &job, &ec) < 0)
        return ec;
    fw_cli_conn c;
    if ((ec = fw_cli_open_or_fail(g, &c)))
        return ec;
    ec = follow(g, &c, job, (int)o.top, NULL);
    fw_cli_close(&c);
    return ec;
}

static int cmd_rerun(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.top = 10};
    long long job;
    int ec;
    if (one_job(g, "rerun", argc, argv, "|top|", "|detach|", &o, &job, &ec) < 0)
        return ec;
    fw_cli_conn c;
    if ((ec = fw_cli_open_or_fail(g, &c)))
        return ec;
    cJSON *sub = NULL;
    ec = fw_cli_rpc(&c, "rerun", job_params(job), &sub);
    if (ec) {
        fw_cli_close(&c);
        return ec;
    }
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
    ec = follow(g, &c, nj, (int)o.top, extra);
    cJSON_Delete(extra);
    fw_cli_close(&c);
    return ec;
}

static int cmd_resume(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.top = 10};
    long long job;
    int ec;
    if (one_job(g, "resume", argc, argv, "|top|", "|detach|", &o, &job, &ec) < 0)
        return ec;
    fw_cli_conn c;
    if ((ec = fw_cli_open_or_fail(g, &c)))
        return ec;
    cJSON *res = NULL;
    if ((ec = fw_cli_rpc(&c, "resume", job_params(job), &res))) {
        fw_cli_close(&c);
        return ec;
    }
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
    ec = follow(g, &c, job, (int)o.top, NULL);
    fw_cli_close(&c);
    return ec;
}

static int cmd_cancel(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {0};
    long long job;
    int ec;
    if (one_job(g, "cancel", argc, argv, "", "", &o, &job, &ec) < 0)
        return ec;
    cJSON *res;
    if ((ec = fw_cli_query(g, "cancel", job_params(job), &res)))
        return ec;
    if (!g->json)
        printf("job %lld %s\n", job, fw_cli_str(res, "state", "cancelled"));
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}

static int cmd_rankings(fw_cli_global *g, int argc, char **argv)
{
    job_opts o = {.limit = 10, .limit_min = 0};
    long long job;
    int ec;
    if (one_job(g, "rankings", argc, argv, "|shape|limit|", "", &o, &job, &ec) < 0)
        return ec;
    cJSON *p = job_params(job);
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

static int cmd_jobs(fw_cli_global *g, int argc, char **argv)
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
    }
    cJSON_Delete(res);
    return FW_CLI_EXIT_OK;
}

/* ---- the command table and help texts ------------------------------------------------------ */

#define SPEC_FLAGS_HELP                                                                                    \
    "What to tune (flags override --spec):\n"                                                             \
    "  --profile NAME         a named profile (see `fairway profiles`), e.g. mixed_bpw_fairway_glm47\n"   \
    "  --family F             a kernel family (gemm, moe_swiglu, ...)\n"                                  \
    "  --shape K=V,...        a problem shape, repeatable (e.g. --shape M=256,N=256,K=256)\n"             \
    "  --knob NAME=v1,v2,...  an ad-hoc space: the values of one knob, repeatable\n"                      \
    "  --constraint EXPR      a constraint over knobs, shape and DEVICE_* limits, repeatable\n"           \
    "  --spec FILE            a JSON job spec (docs/spec.md) to start from; its source.file is read\n"    \
    "                         relative to FILE's folder\n"                                                \
    "  --source FILE          a user kernel source (its text is sent to the daemon)\n"                    \
    "  --entry NAME           the kernel function in --source\n"                                          \
    "  --alias KNOB=MACRO     map a knob to the source's own macro name, repeatable\n"                    \
    "  --macro NAME=V         a fixed extra integer macro for every variant, repeatable\n"                           \
    "  --bind KNOB=CONSTANT   the knob's value replaces the literal of that constant (constexpr, const,\n"     \
    "                         #define) in an in-memory copy of --source, repeatable (docs/transforms.md)\n"  \
    "How to search and measure:\n"                                                                        \
    "  --strategy S           random, grid or presets\n"                                                  \
    "  --num-random N         N random variants after the presets (strategy random, budget presets+N)\n"           \
    "  --random-seed N        the job's seed (same seed, same variants, same inputs)\n"                   \
    "  --no-explore           presets only (a deterministic control run)\n"                               \
    "  --budget N             at most N evaluations per shape, presets included (default 40 unless\n"  \
    "                         the profile sets one; 0 = every valid variant)\n"                        \
    "  --warmup N             untimed launches before timing each variant\n"                              \
    "  --iters N              timed launches per variant\n"                                               \
    "  --backend B            opencl, cuda or metal\n"                                                    \
    "  --device N             device index within the backend (see `fairway devices`)\n"

static const fw_cli_command commands[] = {
    {"tune", "submit a tuning job and follow it to the end", cmd_tune,
     "Usage: fairway tune [options]\n"
     "Submit a tuning job built from the flags and follow it: a live progress bar on a terminal (plain\n"
     "progress lines otherwise), then the top variants of each shape (rank, shape, knobs, median, GB/s,\n"
     "GFLOP/s, origin) and the best config per shape. With --json, prints one object with \"job\",\n"
     "\"rankings\", \"best\" and \"submitted\" once the job ends. Interrupting tune stops following only:\n"
     "the job goes on in the daemon (`fairway watch JOB`, `fairway cancel JOB`).\n\n" SPEC_FLAGS_HELP
     "Output:\n"
     "  --top N                rows per shape in the table (default 10)\n"
     "  --detach               submit, print the job id and return without following\n"
     "  --print-spec           print the spec that would be submitted and stop\n\n"
     "Examples:\n"
     "  fairway tune --profile mixed_bpw_fairway_glm47 --num-random 40 --random-seed 7\n"
     "  fairway tune --profile mixed_bpw_fairway_glm47 --no-explore --warmup 10 --iters 50\n"
     "  fairway tune --family gemm --shape M=64,N=64,K=64 --knob TILE_N=16,32 --strategy grid --json\n"},
    {"status", "show one job's state and counts", cmd_status,
     "Usage: fairway status JOB\n"
     "Show a job: state, family, strategy, seed, evaluated of planned, results by status, parent job,\n"
     "times, error, and the best so far.\n\n"
     "Examples:\n"
     "  fairway status 12\n"
     "  fairway status 12 --json\n"},
    {"watch", "follow a job's progress until it ends", cmd_watch,
     "Usage: fairway watch JOB [--top N]\n"
     "Follow a queued or running job (progress bar on a terminal, plain lines otherwise) and print its\n"
     "rankings when it ends; for a finished job, print them at once.\n"
     "  --top N                rows per shape in the table (default 10)\n\n"
     "Examples:\n"
     "  fairway watch 12\n"},
    {"cancel", "cancel a queued or running job", cmd_cancel,
     "Usage: fairway cancel JOB\n"
     "Cancel a job. Measurements already stored are kept; a finished job keeps its state (the daemon\n"
     "says so and the exit code is 4).\n\n"
     "Examples:\n"
     "  fairway cancel 12\n"},
    {"jobs", "list jobs, newest first", cmd_jobs,
     "Usage: fairway jobs [--state S] [--limit N]\n"
     "List jobs, newest first.\n"
     "  --state S              only jobs in state S (queued, running, done, failed, cancelled)\n"
     "  --limit N              at most N jobs (default 50)\n\n"
     "Examples:\n"
     "  fairway jobs\n"
     "  fairway jobs --state running --json\n"},
    {"rankings", "the ranked verified variants of a job", cmd_rankings,
     "Usage: fairway rankings JOB [--shape KEY] [--limit N]\n"
     "The job's verified variants, ranked within each shape: the finalists (re-timed together at the\n"
     "end of the job, their median marked *) by the median of that re-timing, then the others by their\n"
     "first-pass median. The median shown is the one the rank is based on. Exit code 1 when nothing is\n"
     "ranked yet.\n"
     "  --shape KEY            one shape only, by its key as printed (e.g. K=256,M=256,N=256)\n"
     "  --limit N              at most N rows per shape (default 10; 0 = all)\n\n"
     "Examples:\n"
     "  fairway rankings 12\n"
     "  fairway rankings 12 --shape K=256,M=256,N=256 --limit 3 --json\n"},
    {"best", "the best stored config for a family and shape", fw_cli_cmd_best,
     "Usage: fairway best --family F --shape K=V,... [--device D] [--kernel NAME]\n"
     "The fastest verified config ever measured for (device, family, kernel, shape), over all jobs:\n"
     "its knobs, the preprocessor macros to paste (-DNAME=V), and the kernel and source it was\n"
     "measured from (a user source by its file name and hash: an edited file is other code; without\n"
     "--kernel, the built-in kernel and your kernels compete). Exit code 1 when nothing is stored.\n"
     "  --family F             the kernel family\n"
     "  --shape K=V,...        the shape\n"
     "  --device D             a device selector (opencl:0) or identity; default: any device\n"
     "  --kernel NAME          a kernel of the family, when it has several\n\n"
     "Examples:\n"
     "  fairway best --family gemm --shape M=256,N=256,K=256\n"
     "  fairway best --family gemm --shape M=256,N=256,K=256 --device opencl:0 --json\n"},
    {"resume", "resume a failed or cancelled job, and follow it", cmd_resume,
     "Usage: fairway resume JOB [--top N] [--detach]\n"
     "Queue a failed or cancelled job again: it measures only the variants not stored yet (what was\n"
     "measured is kept) and is followed like tune. Any other state is refused (exit code 4).\n"
     "  --top N                rows per shape in the table (default 10)\n"
     "  --detach               queue it and return without following\n\n"
     "Examples:\n"
     "  fairway resume 12\n"},
    {"rerun", "rerun a job from its spec and seed, and follow it", cmd_rerun,
     "Usage: fairway rerun JOB [--top N] [--detach]\n"
     "Make a new job with the same resolved spec and seed as JOB (linked to it as its parent) and\n"
     "follow it like tune. Compare the two with `fairway compare JOB NEW`.\n"
     "  --top N                rows per shape in the table (default 10)\n"
     "  --detach               submit and return without following\n\n"
     "Examples:\n"
     "  fairway rerun 12\n"
     "  fairway rerun 12 --json\n"},
    {"compare", "compare two jobs: same variants? how stable is the ranking?", fw_cli_cmd_compare,
     "Usage: fairway compare A B\n"
     "Whether both jobs produced the same variant sequence (same_variants), how stable the ranking is\n"
     "over the variants both verified (Kendall's tau, top-5 overlap), and the spread of per-variant\n"
     "median ratios (B over A).\n\n"
     "Examples:\n"
     "  fairway compare 12 13\n"
     "  fairway compare 12 13 --json\n"},
    {"expand", "dry run: the variants a spec would produce", cmd_expand,
     "Usage: fairway expand [options] [--limit N]\n"
     "Resolve a spec built from the same flags as tune and list the evaluations it would run (seq,\n"
     "shape, knobs, origin), without compiling or running anything. It prints the plan's seed: without\n"
     "--random-seed each expand draws a fresh one; `tune --random-seed SEED` runs the plan shown.\n"
     "  --limit N              list at most N items (default 1000)\n\n" SPEC_FLAGS_HELP "\n"
     "Examples:\n"
     "  fairway expand --profile mixed_bpw_fairway_glm47 --num-random 20 --random-seed 1\n"
     "  fairway expand --family gemm --shape M=64,N=64,K=64 --knob TILE_N=16,32 --strategy grid\n"},
    {"profiles", "list the named profiles", fw_cli_cmd_profiles,
     "Usage: fairway profiles\n"
     "List the profiles the daemon knows: name, family, number of shapes, description.\n\n"
     "Examples:\n"
     "  fairway profiles\n"
     "  fairway profiles --json\n"},
    {"transforms", "list a kernel source's structural transform sites (local)", fw_cli_cmd_transforms, fw_cli_transforms_help},
    {"failures", "why a job's variants failed: every failure with its full text", fw_cli_cmd_failures,
     fw_cli_failures_help},
    {"report", "one self-contained HTML report of jobs: convergence, knobs, noise", fw_cli_cmd_report, fw_cli_report_help},
    {"export", "a job's results as csv, or its best configs as json or a C header", fw_cli_cmd_export, fw_cli_export_help},
    {"devices", "list the devices the workers report", fw_cli_cmd_devices,
     "Usage: fairway devices [--device SEL]... [--all]\n"
     "List the devices this daemon has met: backend:index, name, limits (threads per group, shared\n"
     "memory bytes, SIMD width, compute units) and the identity that keys every measurement; a device\n"
     "that could not be opened is listed below with the reason.\n"
     "  --device SEL           open this device first (e.g. cuda:0), repeatable\n"
     "  --all                  try every backend's first device (opencl:0, cuda:0, metal:0)\n\n"
     "Examples:\n"
     "  fairway devices\n"
     "  fairway devices --all\n"
     "  fairway devices --device cuda:0 --json\n"},
};

const fw_cli_command *fw_cli_commands(size_t *n)
{
    *n = sizeof commands / sizeof commands[0];
    return commands;
}

const fw_cli_command *fw_cli_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}
