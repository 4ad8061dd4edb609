/* fairway transforms --source FILE: the structural transform sites a kernel source offers
 * (docs/transforms.md). Local: reads the file (local includes inlined, as tune --source sends it),
 * needs no daemon, and writes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"
#include "fw_transform.h"
#include "fw_util.h"

const char fw_cli_transforms_help[] =
    "Usage: fairway transforms --source FILE [--unproven]\n"
    "List the structural transform sites of a kernel source, each one a site where the transform would\n"
    "change the code: transform, function, line, the function's lines, proven or unproven, and why.\n"
    "simdgroup_barrier turns a threadgroup barrier (Metal threadgroup_barrier(mem_threadgroup), OpenCL\n"
    "barrier(CLK_LOCAL_MEM_FENCE), CUDA __syncthreads()) into the SIMD-group barrier of the dialect; a\n"
    "site is proven only when every threadgroup-memory access of its function is indexed by the\n"
    "SIMD-group id (docs/transforms.md says exactly what is checked). Then the \"binds\" and \"space\"\n"
    "entries that tune the proven sites, one 0/1 knob each; --unproven offers the unproven ones too\n"
    "(marked \"unproven\": true). async_prefetch_hint inserts, at the top of a counted loop's body (OpenCL\n"
    "and CUDA kernels; Metal has no prefetch), a prefetch of the global addresses the next iteration\n"
    "loads, under the loop's condition for that iteration; its sites are always proven. Also the\n"
    "integer constants a knob can be bound to (tune --bind KNOB=NAME): name, line, value, declaration\n"
    "style; a name declared twice cannot be bound. Lines\n"
    "are those of the text tune --source sends (local includes inlined). The file is only read; no\n"
    "daemon is needed.\n\n"
    "Examples:\n"
    "  fairway transforms --source gemm_trellis_moe.metal\n"
    "  fairway transforms --source kernel.cl --json\n";

/* SB_L<line> for simdgroup_barrier, PF_L<line> for async_prefetch_hint (_2, _3: more on that line). */
static void knob_name(const fw_xform_site *s, const fw_xform_site *all, size_t i, char *buf, size_t len)
{
    int same = 0;
    for (size_t j = 0; j < i; j++)
        same += all[j].line == s->line && all[j].transform == s->transform;
    const char *pre = strcmp(s->transform, "async_prefetch_hint") == 0 ? "PF" : "SB";
    if (same)
        snprintf(buf, len, "%s_L%d_%d", pre, s->line, same + 1);
    else
        snprintf(buf, len, "%s_L%d", pre, s->line);
}

static cJSON *site_json(const fw_xform_site *s, const char *knob)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "knob", knob);
    cJSON_AddStringToObject(o, "transform", s->transform);
    cJSON_AddStringToObject(o, "dialect", s->dialect);
    cJSON_AddStringToObject(o, "function", s->function);
    cJSON_AddNumberToObject(o, "line", s->line);
    int fl[2] = {s->fn_first, s->fn_last};
    cJSON_AddItemToObject(o, "function_lines", cJSON_CreateIntArray(fl, 2));
    cJSON_AddStringToObject(o, "replaces", !strcmp(s->transform, "simdgroup_barrier") ? "barrier"
                            : s->len ? "the loop body's statement" : "nothing: inserted after the loop body's {");
    cJSON_AddStringToObject(o, "with", s->with);
    cJSON_AddBoolToObject(o, "proven", s->proven);
    cJSON_AddStringToObject(o, "why", s->why);
    return o;
}

/* {"binds": {...}, "space": {"knobs": {...}}} for the offered sites. */
static cJSON *offer_json(const fw_xform_site *all, size_t n, int unproven)
{
    cJSON *o = cJSON_CreateObject(), *binds = cJSON_AddObjectToObject(o, "binds");
    cJSON *knobs = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "space"), "knobs");
    for (size_t i = 0; i < n; i++) {
        if (!all[i].proven && !unproven)
            continue;
        char k[64];
        knob_name(&all[i], all, i, k, sizeof k);
        cJSON *b = cJSON_AddObjectToObject(binds, k);
        cJSON_AddStringToObject(b, "transform", all[i].transform);
        cJSON_AddStringToObject(b, "function", all[i].function);
        int ln[2] = {all[i].line, all[i].line};
        cJSON_AddItemToObject(b, "lines", cJSON_CreateIntArray(ln, 2));
        if (!all[i].proven)
            cJSON_AddTrueToObject(b, "unproven");
        int v[2] = {0, 1};
        cJSON_AddItemToObject(knobs, k, cJSON_CreateIntArray(v, 2));
    }
    return o;
}

typedef struct consts {
    fw_const_decl d[FW_XFORM_SITES_MAX];
    char names[FW_XFORM_SITES_MAX][FW_NAME_MAX];
    size_t n;
} consts;

static int declared(const consts *c, size_t i)
{
    int k = 0;
    for (size_t j = 0; j < c->n; j++)
        k += strcmp(c->names[j], c->names[i]) == 0;
    return k;
}

static void print_consts(const consts *c, cJSON *json)
{
    cJSON *arr = json ? cJSON_AddArrayToObject(json, "constants") : NULL;
    if (!json && c->n)
        printf("\n%zu integer constant%s (bind one with --bind KNOB=NAME):\n%-28s %-5s %-10s %-9s %s\n", c->n,
               c->n == 1 ? "" : "s", "name", "line", "value", "style", "bindable");
    for (size_t i = 0; i < c->n; i++) {
        int k = declared(c, i);
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", c->names[i]);
            cJSON_AddNumberToObject(o, "line", c->d[i].line);
            cJSON_AddNumberToObject(o, "value", (double)c->d[i].value);
            cJSON_AddStringToObject(o, "style", c->d[i].style);
            cJSON_AddBoolToObject(o, "bindable", k == 1);
            cJSON_AddItemToArray(arr, o);
        } else {
            char why[64] = "yes";
            if (k > 1)
                snprintf(why, sizeof why, "no: declared %d times", k);
            printf("%-28s %-5d %-10lld %-9s %s\n", c->names[i], c->d[i].line, (long long)c->d[i].value, c->d[i].style,
                   why);
        }
    }
}

int fw_cli_cmd_transforms(fw_cli_global *g, int argc, char **argv)
{
    const char *source = NULL;
    int unproven = 0, json = g->json;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(fw_cli_transforms_help, stdout);
            return FW_CLI_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--unproven")) {
            unproven = 1;
        } else if (!strcmp(a, "--source") && i + 1 < argc) {
            source = argv[++i];
        } else if (!strncmp(a, "--source=", 9)) {
            source = a + 9;
        } else {
            fprintf(stderr, "fairway transforms: unexpected argument '%s'\nTry 'fairway transforms --help'.\n", a);
            return FW_CLI_EXIT_USAGE;
        }
    }
    if (!source || !*source) {
        fprintf(stderr, "fairway transforms: give --source FILE\nTry 'fairway transforms --help'.\n");
        return FW_CLI_EXIT_USAGE;
    }
    char err[1024], *text = NULL;
    if (fw_cli_source_load(source, &text, err, sizeof err) < 0) {
        fprintf(stderr, "fairway transforms: %s\n", err);
        return FW_CLI_EXIT_NOTFOUND;
    }
    fw_xform_site *all = calloc(FW_XFORM_SITES_MAX, sizeof *all);
    size_t n = 0;
    if (!all || fw_xform_sites(text, all, FW_XFORM_SITES_MAX, &n) < 0) {
        free(all);
        free(text);
        fprintf(stderr, "fairway transforms: out of memory\n");
        return FW_CLI_EXIT_NOTFOUND;
    }
    consts *cs = calloc(1, sizeof *cs);
    if (cs && fw_const_list(text, cs->d, cs->names, FW_XFORM_SITES_MAX, &cs->n) == 0 && cs->n > FW_XFORM_SITES_MAX)
        cs->n = FW_XFORM_SITES_MAX;
    free(text);
    if (n > FW_XFORM_SITES_MAX)
        n = FW_XFORM_SITES_MAX;
    size_t nproven = 0;
    for (size_t i = 0; i < n; i++)
        nproven += all[i].proven != 0;
    if (json) {
        cJSON *o = cJSON_CreateObject(), *sites = cJSON_AddArrayToObject(o, "sites");
        cJSON_AddStringToObject(o, "source", source);
        for (size_t i = 0; i < n; i++) {
            char k[64];
            knob_name(&all[i], all, i, k, sizeof k);
            cJSON_AddItemToArray(sites, site_json(&all[i], k));
        }
        cJSON_AddItemToObject(o, "offer", offer_json(all, n, unproven));
        if (cs)
            print_consts(cs, o);
        char *s = cJSON_Print(o);
        if (s)
            puts(s);
        free(s);
        cJSON_Delete(o);
    } else {
        printf("%s: %zu transform site%s (%zu proven, %zu unproven)\n", source, n, n == 1 ? "" : "s", nproven,
               n - nproven);
        if (n)
            printf("%-10s %-19s %-6s %-28s %-5s %-9s %-8s %s\n", "knob", "transform", "dialect", "function", "line",
                   "body", "status", "why");
        for (size_t i = 0; i < n; i++) {
            char k[64], body[32];
            knob_name(&all[i], all, i, k, sizeof k);
            snprintf(body, sizeof body, "%d-%d", all[i].fn_first, all[i].fn_last);
            printf("%-10s %-19s %-6s %-28s %-5d %-9s %-8s %s\n", k, all[i].transform, all[i].dialect,
                   all[i].function, all[i].line, body, all[i].proven ? "proven" : "unproven", all[i].why);
        }
        if (nproven || (unproven && n)) {
            cJSON *offer = offer_json(all, n, unproven);
            char *s = cJSON_PrintUnformatted(offer);
            printf("\nTo tune %s (merge into the job spec; each knob is 0 = as written, 1 = transformed):\n%s\n",
                   unproven ? "these sites" : "the proven sites", s ? s : "");
            free(s);
            cJSON_Delete(offer);
        } else if (n) {
            printf("\nNo site is proven, so none is offered (--unproven offers them anyway).\n");
        }
        if (cs)
            print_consts(cs, NULL);
    }
    free(cs);
    free(all);
    return FW_CLI_EXIT_OK;
}
