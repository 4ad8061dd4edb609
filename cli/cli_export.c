/* fairway export JOB --format csv|json|header (issue 14): a job's data in forms other tools load.
 * csv: every stored measurement, one row each, a column per knob; json: the best config per shape
 * (finalist winner where stored) with its -D macros; header: the same as a C header of #defines an
 * application or build includes. Data from the daemon (`status`, `rankings`, `measurements`). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"

const char fw_cli_export_help[] =
    "Usage: fairway export JOB --format csv|json|header|kernel-tuner|fairway [--shape KEY] [-o FILE]\n"
    "Write a job's results for other tools (stdout, or FILE):\n"
    "  csv     every evaluation: seq, shape, status, median_ns, then one column per knob\n"
    "  json    the best config per shape: knobs, -D macros (after the spec's aliases and fixed macros),\n"
    "          median, timing (finalist or first_pass), with the job, family and device identity\n"
    "  header  the best config per shape as a C header: FW_<FAMILY>_<SHAPE>_<MACRO> #defines, and\n"
    "          FW_<FAMILY>_DEVICE, the identity of the device they were tuned on\n"
    "  kernel-tuner  one shape's evaluations as a Kernel Tuner cache file (time = mean ms, times =\n"
    "          samples, failures as Kernel Tuner's strings), which Kernel Tuner's simulation mode and\n"
    "          `fairway tune --replay FILE` read\n"
    "  fairway one shape's evaluations as fairway's records, one JSON object a line, which\n"
    "          `fairway tune --replay FILE` reads (as it reads `fairway-worker --spec` output)\n"
    "  --format F             csv, json, header, kernel-tuner or fairway (required)\n"
    "  --shape KEY            kernel-tuner, fairway: the shape to write (needed when the job has several)\n"
    "  -o, --output FILE      write there instead of stdout\n\n"
    "Examples:\n"
    "  fairway export 12 --format csv -o job12.csv\n"
    "  fairway export 12 --format header -o fairway_gemm.h\n"
    "  fairway export 12 --format kernel-tuner -o job12.json && fairway tune --replay job12.json\n";

typedef struct eopts {
    const char *format, *out, *shape;
} eopts;

static int export_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    eopts *o = vctx;
    (void)err, (void)errlen;
    if (!strcmp(name, "format"))
        o->format = arg;
    else if (!strcmp(name, "output"))
        o->out = arg;
    else if (!strcmp(name, "shape"))
        o->shape = arg;
    else
        return 0;
    return 1;
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* knob names in order of first appearance over the variant keys */
static int knob_names(const cJSON *list, char names[][64], int max)
{
    int n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, list) {
        for (const char *p = fw_cli_str(m, "variant_key", ""); *p && n < max;) {
            size_t l = strcspn(p, "="), r = strcspn(p, ",");
            int k = 0;
            if (l < r && l < 64) {
                while (k < n && (strlen(names[k]) != l || strncmp(names[k], p, l)))
                    k++;
                if (k == n)
                    snprintf(names[n++], 64, "%.*s", (int)l, p);
            }
            p += r + (p[r] == ',');
        }
    }
    return n;
}

static void write_csv(FILE *f, const cJSON *meas)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(meas, "measurements"), *m;
    char names[64][64];
    int n = knob_names(list, names, 64);
    fputs("seq,shape_key,status,median_ns", f);
    for (int k = 0; k < n; k++)
        fprintf(f, ",%s", names[k]);
    fputc('\n', f);
    cJSON_ArrayForEach(m, list) {
        fprintf(f, "%lld,", (long long)fw_cli_num(m, "seq", 0));
        csv_field(f, fw_cli_str(m, "shape_key", ""));
        fprintf(f, ",%s,", fw_cli_str(m, "status", ""));
        const cJSON *med = cJSON_GetObjectItemCaseSensitive(m, "median_ns");
        if (cJSON_IsNumber(med))
            fprintf(f, "%.17g", med->valuedouble);
        const char *key = fw_cli_str(m, "variant_key", "");
        for (int k = 0; k < n; k++) {
            fputc(',', f);
            size_t nl = strlen(names[k]);
            for (const char *p = key; *p;) {
                size_t l = strcspn(p, ",");
                if (l > nl && !strncmp(p, names[k], nl) && p[nl] == '=')
                    fprintf(f, "%.*s", (int)(l - nl - 1), p + nl + 1);
                p += l + (p[l] == ',');
            }
        }
        fputc('\n', f);
    }
}

/* The rank-1 entry of each shape with "macros": knob values under the spec's aliases, then the
 * spec's fixed macros. Bound knobs (spec binds) are left out of the macros and listed in "bound". */
static cJSON *best_per_shape(const cJSON *status, const cJSON *rankings)
{
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(status, "spec");
    const cJSON *aliases = cJSON_GetObjectItemCaseSensitive(spec, "aliases");
    const cJSON *binds = cJSON_GetObjectItemCaseSensitive(spec, "binds");
    const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(spec, "macros"), *r, *k;
    cJSON *out = cJSON_CreateArray();
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(rankings, "rankings")) {
        if (fw_cli_num(r, "rank", 0) != 1)
            continue;
        cJSON *o = cJSON_CreateObject(), *macros = cJSON_AddArrayToObject(o, "macros");
        cJSON_AddStringToObject(o, "shape_key", fw_cli_str(r, "shape_key", ""));
        cJSON_AddItemToObject(o, "knobs", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r, "knobs"), 1));
        cJSON_AddNumberToObject(o, "median_ns", fw_cli_num(r, "median_ns", 0));
        cJSON_AddStringToObject(o, "timing", fw_cli_str(r, "timing", "first_pass"));
        cJSON_AddStringToObject(o, "variant_key", fw_cli_str(r, "variant_key", ""));
        cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(r, "knobs")) {
            char d[256];
            if (cJSON_GetObjectItemCaseSensitive(binds, k->string)) {
                cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bound");
                if (!b)
                    b = cJSON_AddObjectToObject(o, "bound");
                cJSON_AddItemToObject(b, k->string, cJSON_Duplicate(k, 1));
                continue;
            }
            const char *name = fw_cli_str(aliases, k->string, k->string);
            snprintf(d, sizeof d, "%s=%lld", name, (long long)k->valuedouble);
            cJSON_AddItemToArray(macros, cJSON_CreateString(d));
        }
        cJSON_ArrayForEach(k, fixed) {
            char d[256];
            snprintf(d, sizeof d, "%s=%lld", k->string, (long long)k->valuedouble);
            cJSON_AddItemToArray(macros, cJSON_CreateString(d));
        }
        cJSON_AddItemToArray(out, o);
    }
    return out;
}

static void ident(const char *s, char *out, size_t len)
{
    size_t i = 0;
    for (; *s && i + 1 < len; s++)
        if (isalnum((unsigned char)*s))
            out[i++] = (char)toupper((unsigned char)*s);
        else if (i && out[i - 1] != '_')
            out[i++] = '_';
    while (i && out[i - 1] == '_')
        i--;
    out[i] = 0;
}

static void write_header(FILE *f, long long job, const cJSON *status, const cJSON *best)
{
    char fam[64], guard[128];
    const char *family = fw_cli_str(status, "family", "");
    ident(family, fam, sizeof fam);
    snprintf(guard, sizeof guard, "FAIRWAY_%s_JOB%lld_H", fam, job);
    fprintf(f, "/* Generated by `fairway export %lld --format header`: the best config per shape of job %lld\n"
               " * (%s, strategy %s, seed %s), tuned on device:\n *   %s\n"
               " * Each shape's macros are FW_%s_<SHAPE>_<MACRO>; compile the kernel with -D<MACRO>=<value>. */\n",
            job, job, family, fw_cli_str(status, "strategy", "?"), fw_cli_str(status, "seed_text", "?"),
            fw_cli_str(status, "device_identity", "?"), fam);
    fprintf(f, "#ifndef %s\n#define %s\n\n#define FW_%s_DEVICE \"", guard, guard, fam);
    for (const char *p = fw_cli_str(status, "device_identity", ""); *p; p++)
        fprintf(f, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
    fputs("\"\n", f);
    const cJSON *b, *m;
    cJSON_ArrayForEach(b, best) {
        char shape[256];
        ident(fw_cli_str(b, "shape_key", ""), shape, sizeof shape);
        fprintf(f, "\n/* shape %s: median %.0f ns (%s) */\n", fw_cli_str(b, "shape_key", ""), fw_cli_num(b, "median_ns", 0),
                fw_cli_str(b, "timing", ""));
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(b, "macros")) {
            const char *eq = strchr(m->valuestring, '=');
            if (eq)
                fprintf(f, "#define FW_%s_%s_%.*s %s\n", fam, shape, (int)(eq - m->valuestring), m->valuestring, eq + 1);
        }
        if (cJSON_GetObjectItemCaseSensitive(b, "bound"))
            fputs("/* this job binds knobs to source constants (spec binds): macros alone do not reproduce it;\n"
                  " * see `fairway best` source_transforms */\n", f);
    }
    fprintf(f, "\n#endif /* %s */\n", guard);
}

int fw_cli_cmd_export(fw_cli_global *g, int argc, char **argv)
{
    eopts o = {0};
    char *args[256], *pos[2];
    int n = argc < 256 ? argc : 255, npos, ec;
    for (int i = 0; i < n; i++)
        args[i] = !strcmp(argv[i], "-o") ? "--output" : argv[i];
    args[n] = NULL;
    if (fw_cli_parse_cmd(g, "export", n, args, "|format|output|shape|", "", export_opt, &o, pos, 1, &npos, &ec) < 0)
        return ec;
    if (npos != 1)
        return fw_cli_usage_error("export", "give one job id (see `fairway jobs`)");
    int lines = o.format && !strcmp(o.format, "fairway");
    int kt = (o.format && !strcmp(o.format, "kernel-tuner")) || lines;   /* one shape with samples */
    if (!o.format || (strcmp(o.format, "csv") && strcmp(o.format, "json") && strcmp(o.format, "header") && !kt))
        return fw_cli_usage_error("export", "give --format csv, json, header, kernel-tuner or fairway");
    if (o.shape && !kt)
        return fw_cli_usage_error("export", "--shape picks the shape of --format kernel-tuner or fairway");
    long long job;
    if (fw_cli_parse_job_id("export", pos[0], &job) < 0)
        return FW_CLI_EXIT_USAGE;
    fw_cli_conn c;
    if ((ec = fw_cli_open_or_fail(g, &c)))
        return ec;
    cJSON *st = NULL, *data = NULL, *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "job", (double)job);
    ec = fw_cli_rpc(&c, "status", p, &st);
    if (!ec) {
        p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "job", (double)job);
        if (kt)
            cJSON_AddTrueToObject(p, "samples");
        if (!strcmp(o.format, "csv") || kt)
            ec = fw_cli_rpc(&c, "measurements", p, &data);
        else
            cJSON_AddNumberToObject(p, "limit", 1), ec = fw_cli_rpc(&c, "rankings", p, &data);
    }
    fw_cli_close(&c);
    FILE *f = NULL;
    if (!ec && !(f = o.out ? fopen(o.out, "w") : stdout)) {
        char msg[600];
        snprintf(msg, sizeof msg, "cannot write %.500s", o.out);
        ec = fw_cli_error(FW_CLI_EXIT_USAGE, NULL, msg);
    }
    if (!ec) {
        char kerr[512];
        if (kt) {
            if ((lines ? fw_cli_export_lines : fw_cli_export_kt)(f, job, st, data, o.shape, kerr, sizeof kerr) < 0)
                ec = fw_cli_error(FW_CLI_EXIT_USAGE, NULL, kerr);
        } else if (!strcmp(o.format, "csv")) {
            write_csv(f, data);
        } else {
            cJSON *best = best_per_shape(st, data);
            if (!strcmp(o.format, "header")) {
                write_header(f, job, st, best);
            } else {
                cJSON *res = cJSON_CreateObject();
                cJSON_AddNumberToObject(res, "job", (double)job);
                cJSON_AddStringToObject(res, "family", fw_cli_str(st, "family", ""));
                cJSON_AddStringToObject(res, "device", fw_cli_str(st, "device_identity", ""));
                cJSON_AddItemToObject(res, "best", best);
                best = NULL;
                char *s = cJSON_Print(res);
                fprintf(f, "%s\n", s ? s : "null");
                free(s);
                cJSON_Delete(res);
            }
            cJSON_Delete(best);
        }
        if (o.out && fclose(f) != 0)
            ec = fw_cli_error(FW_CLI_EXIT_USAGE, NULL, "cannot finish writing the export file");
    }
    cJSON_Delete(st);
    cJSON_Delete(data);
    return ec;
}
