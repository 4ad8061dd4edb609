/* fairway - the command-line client of fairwayd (see fw_cli.h for the layout of cli/). */
#include "fw_cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    size_t n;
    const fw_cli_command *cmds = fw_cli_commands(&n);
    fprintf(out, "Usage: fairway [--socket PATH] [--json] [--no-start] COMMAND [options]\n"
                 "fairway talks to fairwayd, the GPU-kernel autotuning daemon, starting it when needed.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(out, "\nRun `fairway COMMAND --help` for a command's flags and examples.\n\n%s\n%s",
            fw_cli_global_help, fw_cli_exit_help);
}

int main(int argc, char **argv)
{
    /* A daemon that goes away mid-write must give an error message, not kill us silently. */
    signal(SIGPIPE, SIG_IGN);
    /* Ctrl-C while waiting on the daemon: stop following and say that the job goes on. */
    fw_cli_install_signals();

    fw_cli_global g;
    memset(&g, 0, sizeof g);
    g.argv0 = argv[0];
    char err[512];
    const char *env = getenv("FAIRWAY_SOCKET");
    if (env && *env) {
        snprintf(g.socket, sizeof g.socket, "%s", env);
        g.socket_explicit = 1;
    } else if (fw_cli_default_socket(g.socket, sizeof g.socket, err, sizeof err) < 0) {
        g.socket[0] = 0; /* reported below unless --socket is given */
    }

    /* Global options before the subcommand; the subcommand's parser accepts them after it too. */
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            g.json = 1;
        } else if (!strcmp(a, "--no-start")) {
            g.no_start = 1;
        } else if (!strcmp(a, "--socket") || !strncmp(a, "--socket=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !*v) {
                fprintf(stderr, "fairway: --socket needs a path\nTry 'fairway --help'.\n");
                return FW_CLI_EXIT_USAGE;
            }
            snprintf(g.socket, sizeof g.socket, "%s", v);
            g.socket_explicit = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help")) {
            if (!strcmp(a, "help") && i + 1 < argc) {
                const fw_cli_command *c = fw_cli_command_find(argv[i + 1]);
                if (c) {
                    char *hargv[] = {argv[i + 1], "--help", NULL};
                    return c->run(&g, 2, hargv);
                }
            }
            usage(stdout);
            return FW_CLI_EXIT_OK;
        } else if (!strcmp(a, "--version")) {
            printf("fairway %s\n", FW_VERSION);
            return FW_CLI_EXIT_OK;
        } else if (a[0] == '-') {
            fprintf(stderr, "fairway: unknown option %s before the command\nTry 'fairway --help'.\n", a);
            return FW_CLI_EXIT_USAGE;
        } else {
            break;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return FW_CLI_EXIT_USAGE;
    }
    const fw_cli_command *cmd = fw_cli_command_find(argv[i]);
    if (!cmd) {
        char msg[600];
        snprintf(msg, sizeof msg, "unknown command '%.500s'; try 'fairway --help' for the list", argv[i]);
        fw_cli_errors_setup("", g.json);
        return fw_cli_error(FW_CLI_EXIT_USAGE, NULL, msg);
    }
    int rc = cmd->run(&g, argc - i, argv + i);
    return rc;
}
