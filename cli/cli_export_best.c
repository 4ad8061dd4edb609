/* The best config per shape of one or several jobs (fairway export --format json|header, issue 14):
 * each job's rank 1 per shape with its -D macros, merged per (device identity, shape) - the faster
 * median wins when two jobs on one device tuned a shape - and written as JSON or as a C header whose
 * blocks are #if-selected by device when the jobs ran on several. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"

/* The rank-1 entry of each shape with "macros": knob values under the spec's aliases, then the
 * spec's fixed macros. Bound knobs (spec binds) are left out of the macros and listed in "bound". */
static cJSON *best_per_shape(const cJSON *status, const cJSON *rankings)
{
    fw_job_spec spec;
    fw_cli_status_spec(status, &spec);
    const cJSON *aliases = spec.aliases, *binds = spec.binds, *fixed = spec.macros, *r, *k;
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
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "unverified")))
            cJSON_AddTrueToObject(o, "unverified");   /* a "verify": false workload: nothing checked it */
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


/* Merge every job's rank 1 per shape, each entry carrying "device" and "job": per (device, shape) the
 * faster median is kept; devices in order of first appearance, shapes in each job's plan order. */
cJSON *fw_cli_export_best(const fw_cli_export_job *jobs, int n)
{
    cJSON *out = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        const char *dev = fw_cli_str(jobs[i].status, "device_identity", "");
        cJSON *best = best_per_shape(jobs[i].status, jobs[i].data), *b;
        while ((b = cJSON_DetachItemFromArray(best, 0))) {
            cJSON_AddStringToObject(b, "device", dev);
            cJSON_AddNumberToObject(b, "job", (double)jobs[i].id);
            const char *sk = fw_cli_str(b, "shape_key", "");
            int at = -1, k = 0;
            const cJSON *o;
            cJSON_ArrayForEach(o, out) {
                if (!strcmp(fw_cli_str(o, "device", ""), dev) && !strcmp(fw_cli_str(o, "shape_key", ""), sk))
                    at = k;
                k++;
            }
            if (at < 0)
                cJSON_AddItemToArray(out, b);
            else if (fw_cli_num(b, "median_ns", 0) < fw_cli_num(cJSON_GetArrayItem(out, at), "median_ns", 0))
                cJSON_ReplaceItemInArray(out, at, b);
            else
                cJSON_Delete(b);
        }
        cJSON_Delete(best);
    }
    return out;
}

static void c_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        fprintf(f, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    fputc('"', f);
}

/* One device's shapes: FW_<FAM>_<SHAPE>_<MACRO> VALUE. */
static void write_shapes(FILE *f, const char *fam, const cJSON *best, const char *dev)
{
    const cJSON *b, *m;
    cJSON_ArrayForEach(b, best) {
        if (strcmp(fw_cli_str(b, "device", ""), dev))
            continue;
        char shape[256];
        ident(fw_cli_str(b, "shape_key", ""), shape, sizeof shape);
        fprintf(f, "\n/* shape %s: median %.0f ns (%s, job %lld) */\n", fw_cli_str(b, "shape_key", ""),
                fw_cli_num(b, "median_ns", 0), fw_cli_str(b, "timing", ""), (long long)fw_cli_num(b, "job", 0));
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(b, "macros")) {
            const char *eq = strchr(m->valuestring, '=');
            if (eq)
                fprintf(f, "#define FW_%s_%s_%.*s %s\n", fam, shape, (int)(eq - m->valuestring), m->valuestring, eq + 1);
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "unverified")))
            fputs("/* UNVERIFIED: measured with \"verify\": false, nothing checked this config's output */\n", f);
        if (cJSON_GetObjectItemCaseSensitive(b, "bound"))
            fputs("/* this job binds knobs to source constants (spec binds): macros alone do not reproduce it;\n"
                  " * see `fairway best` source_transforms */\n", f);
    }
}

/* The distinct device identities of best, in order. */
static int devices_of(const cJSON *best, const char **devs, int max)
{
    int nd = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, best) {
        const char *dev = fw_cli_str(b, "device", "");
        int k = 0;
        while (k < nd && strcmp(devs[k], dev))
            k++;
        if (k == nd && nd < max)
            devs[nd++] = dev;
    }
    return nd;
}

void fw_cli_export_header(FILE *f, const fw_cli_export_job *jobs, int n, const cJSON *best)
{
    char fam[64], guard[128], list[512] = "";
    const cJSON *st = jobs[0].status;
    const char *family = fw_cli_str(st, "family", "");
    ident(family, fam, sizeof fam);
    size_t off = 0;
    for (int i = 0; i < n && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%lld", i ? " " : "", jobs[i].id);
    if (off >= sizeof list)   /* a whole store's jobs: say so rather than end inside an id */
        snprintf(list, sizeof list, "--family %s (%d jobs, %lld to %lld)", family, n, jobs[0].id, jobs[n - 1].id);
    if (n == 1)
        snprintf(guard, sizeof guard, "FAIRWAY_%s_JOB%lld_H", fam, jobs[0].id);
    else
        snprintf(guard, sizeof guard, "FAIRWAY_%s_JOBS%lld_%d_H", fam, jobs[0].id, n);
    const char *devs[64];
    int nd = devices_of(best, devs, 64);
    if (nd <= 1) {
        const char *dev = nd ? devs[0] : fw_cli_str(st, "device_identity", "");
        fprintf(f, "/* Generated by `fairway export %s --format header`: the best config per shape of job%s %s\n"
                   " * (%s, strategy %s, seed %s), tuned on device:\n *   %s\n"
                   " * Each shape's macros are FW_%s_<SHAPE>_<MACRO>; compile the kernel with -D<MACRO>=<value>. */\n",
                list, n > 1 ? "s" : "", list, family, fw_cli_str(st, "strategy", "?"), fw_cli_str(st, "seed_text", "?"),
                dev, fam);
        fprintf(f, "#ifndef %s\n#define %s\n\n#define FW_%s_DEVICE ", guard, guard, fam);
        c_string(f, dev);
        fputc('\n', f);
        write_shapes(f, fam, best, dev);
        fprintf(f, "\n#endif /* %s */\n", guard);
        return;
    }
    fprintf(f, "/* Generated by `fairway export %s --format header`: the best config per shape of jobs %s\n"
               " * (%s), tuned on %d devices. Define FW_%s_DEVICE_INDEX to the device the application\n"
               " * runs on before including this; FW_%s_DEVICE is then its identity and each shape's macros are\n"
               " * FW_%s_<SHAPE>_<MACRO> (compile the kernel with -D<MACRO>=<value>):\n",
            list, list, family, nd, fam, fam, fam);
    for (int k = 0; k < nd; k++)
        fprintf(f, " *   %d  %s\n", k, devs[k]);
    fprintf(f, " */\n#ifndef %s\n#define %s\n\n#define FW_%s_DEVICES %d\n", guard, guard, fam, nd);
    for (int k = 0; k < nd; k++) {
        fprintf(f, "#define FW_%s_DEVICE_%d ", fam, k);
        c_string(f, devs[k]);
        fputc('\n', f);
    }
    fprintf(f, "\n#ifndef FW_%s_DEVICE_INDEX\n#error \"this header holds configs for %d devices: define FW_%s_DEVICE_INDEX "
               "(0 to %d, see FW_%s_DEVICE_<n>)\"\n", fam, nd, fam, nd - 1, fam);
    for (int k = 0; k < nd; k++) {
        fprintf(f, "#elif FW_%s_DEVICE_INDEX == %d\n#define FW_%s_DEVICE FW_%s_DEVICE_%d\n", fam, k, fam, fam, k);
        write_shapes(f, fam, best, devs[k]);
        fputc('\n', f);
    }
    fprintf(f, "#else\n#error \"FW_%s_DEVICE_INDEX must be 0 to %d\"\n#endif\n\n#endif /* %s */\n", fam, nd - 1, guard);
}
