/* cli_args.c - argument parsing, errors and the one-request helpers every subcommand uses. */
#include "fw_cli.h"
#include "fw_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
