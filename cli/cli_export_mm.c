/* fairway export JOB... --format metal-marlin-selection|metal-marlin-config (issue 13): the derived
 * policy (cli_policy.c) in metal-marlin's formats (docs/cli.md, "export"):
 *  - metal-marlin-selection: the kernel-selection JSON of their kernel_selection_m4_max.json shape
 *    (device, batch_sizes, kernel_variants, results[batch][kernel]{mean,min,max,std}_ms,
 *    recommendations[batch]{optimal, optimal_ms, current, current_ms}, thresholds as their
 *    M4_MAX_THRESHOLDS keys, tile_sizes), plus the policy's ranges, the specialised decode kernels
 *    kept, and available_kernels: every kernel entry of the source (the scan of `fairway
 *    transforms`), with missing_kernels, the names the policy picks that the source lacks;
 *  - metal-marlin-config: the tuned-config payload of their ~/.cache/metal_marlin/kernel_tuning_*.json
 *    {cache_key{version 2, hidden_dim, intermediate_dim, num_experts, bits}, kernel_config{optimal}}. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"
#include "fw_job.h"
#include "fw_sha256.h"
#include "fw_transform.h"
#include "fw_util.h"

static const char *kernel_of(const char *mode)
{
    static const char *const m[][2] = {{"decode", "moe_trellis_swiglu_decode"}, {"small", "moe_trellis_swiglu_prefill4"},
                                       {"base", "moe_trellis_swiglu"},          {"large", "moe_trellis_swiglu_large_batch"},
                                       {"grouped", "moe_trellis_swiglu_grouped"}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(m[i][0], mode))
            return m[i][1];
    return mode;
}

static long long knob_of(const char *config, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = config; *p;) {
        size_t l = strcspn(p, ",");
        if (l > n && !strncmp(p, name, n) && p[n] == '=')
            return atoll(p + n + 1);
        p += l + (p[l] == ',');
    }
    return 0;
}

/* The name of a candidate's kernel: the mode's entry, with their tuple suffix when its config fixes
 * bit widths (moe_trellis_swiglu_decode_6_2_3; 0 = that projection's width read at run time). */
static void cand_kernel(const cJSON *c, char *out, size_t len)
{
    const char *mode = fw_cli_str(c, "mode", ""), *cfg = fw_cli_str(c, "config", "");
    long long g = knob_of(cfg, "GATE_BITS"), u = knob_of(cfg, "UP_BITS"), d = knob_of(cfg, "DOWN_BITS");
    if (g || u || d)
        snprintf(out, len, "%s_%lld_%lld_%lld", kernel_of(mode), g, u, d);
    else
        snprintf(out, len, "%s", kernel_of(mode));
}

/* available_kernels: --source FILE, else the job's own source text, else the family's Metal source. */
static int inventory(const char *file, const cJSON *status, cJSON **out, char **textp, char *err, size_t errlen)
{
    char *text = NULL;
    fw_job_spec spec;
    fw_cli_status_spec(status, &spec);
    const char *own = spec.source_text;
    if (file && fw_cli_source_load(file, &text, err, errlen) < 0)
        return -1;
    if (!file && own)
        text = strdup(own);
    else if (!file && fw_job_family_source(fw_cli_str(status, "family", ""), "metal", fw_job_spec_shape(&spec, 0),
                                           &text, err, errlen) < 0)
        return -1;
    if (!text)
        return snprintf(err, errlen, "no kernel source to list the entries of: give --source FILE"), -1;
    char(*names)[FW_XFORM_NAME_MAX] = calloc(FW_XFORM_FUNCS_MAX, sizeof *names);
    int n = names ? fw_xform_kernels(text, names, FW_XFORM_FUNCS_MAX) : -1;
    *textp = text;
    if (n < 0) {
        free(names);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    *out = cJSON_CreateArray();
    for (int i = 0; i < n && i < FW_XFORM_FUNCS_MAX; i++)
        cJSON_AddItemToArray(*out, cJSON_CreateString(names[i]));
    free(names);
    return 0;
}

static int has_string(const cJSON *arr, const char *s)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) if (cJSON_IsString(e) && !strcmp(e->valuestring, s)) return 1;
    return 0;
}

/* name as a whole identifier in text (a kernel declared through a macro, NAME passed to it) */
static int has_word(const char *text, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = text; n && (p = strstr(p, w)); p += n)
        if ((p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
            !(isalnum((unsigned char)p[n]) || p[n] == '_'))
            return 1;
    return 0;
}

static cJSON *ms_stats(const cJSON *c)
{
    cJSON *o = cJSON_CreateObject();
    static const char *const k[][2] = {{"mean_ns", "mean_ms"}, {"min_ns", "min_ms"}, {"max_ns", "max_ms"},
                                       {"std_ns", "std_ms"}, {"median_ns", "median_ms"}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        cJSON_AddNumberToObject(o, k[i][1], fw_cli_num(c, k[i][0], 0) / 1e6);
    cJSON_AddStringToObject(o, "config", fw_cli_str(c, "config", ""));
    return o;
}

/* Their M4_MAX_THRESHOLDS keys from the ranges; 0 (and an issue) when the ranges do not go
 * decode -> small -> base -> large in that order, so thresholds cannot say them. */
static cJSON *thresholds(const cJSON *ranges, cJSON *issues)
{
    static const char *const order[] = {"decode", "small", "base", "large"};
    long long mx[4] = {0, 0, 0, 0}, large_min = 0;
    int last = 0, ok = 1;
    const cJSON *r;
    cJSON_ArrayForEach(r, ranges) {
        int m = 0;
        while (m < 4 && strcmp(order[m], fw_cli_str(r, "mode", "")))
            m++;
        if (m == 4 || m < last) {
            ok = 0;
            break;
        }
        last = m;
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(r, "max_tokens");
        mx[m] = cJSON_IsNumber(hi) ? (long long)hi->valuedouble : -1;
        if (m == 3 && !large_min)
            large_min = (long long)fw_cli_num(r, "min_tokens", 0);
    }
    if (!ok) {
        cJSON_AddItemToArray(issues, cJSON_CreateString("the derived ranges do not run decode, prefill4, base, large_batch "
                                                        "in order: thresholds cannot express them (read policy[])"));
        return cJSON_CreateNull();
    }
    for (int m = 1; m < 4; m++)   /* a mode never picked: its range is empty, ending where the previous ends */
        if (mx[m] == 0)
            mx[m] = mx[m - 1];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "decode_max", (double)mx[0]);
    cJSON_AddNumberToObject(o, "prefill4_max", (double)mx[1]);
    cJSON_AddNumberToObject(o, "base_max", (double)mx[2]);
    cJSON_AddNumberToObject(o, "large_batch_min", (double)(large_min ? large_min : mx[2] + 1));
    return o;
}

static void selection_points(cJSON *res, const cJSON *points, cJSON *used)
{
    cJSON *bs = cJSON_AddArrayToObject(res, "batch_sizes"), *kv = cJSON_AddArrayToObject(res, "kernel_variants");
    cJSON *results = cJSON_AddObjectToObject(res, "results"), *rec = cJSON_AddObjectToObject(res, "recommendations");
    cJSON *spec = cJSON_AddObjectToObject(res, "specialized_decode_kernels");
    cJSON *all = cJSON_AddArrayToObject(res, "specialized_kernels");
    const cJSON *p, *c;
    char name[160], key[32];
    cJSON_ArrayForEach(p, points) {
        snprintf(key, sizeof key, "%d", (int)fw_cli_num(p, "tokens", 0));
        cJSON_AddItemToArray(bs, cJSON_CreateNumber(fw_cli_num(p, "tokens", 0)));
        cJSON *row = cJSON_AddObjectToObject(results, key), *r = cJSON_AddObjectToObject(rec, key);
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(p, "by_mode")) {
            cand_kernel(c, name, sizeof name);
            cJSON_AddItemToObject(row, name, ms_stats(c));
            if (!has_string(kv, name))
                cJSON_AddItemToArray(kv, cJSON_CreateString(name));
        }
        const cJSON *pick = cJSON_GetObjectItemCaseSensitive(p, "pick"), *hand = cJSON_GetObjectItemCaseSensitive(p, "hand");
        cand_kernel(pick, name, sizeof name);
        if (!has_string(used, name))
            cJSON_AddItemToArray(used, cJSON_CreateString(name));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "specialised"))) {
            cJSON_AddItemToObject(row, name, ms_stats(pick));
            const char *cfg = fw_cli_str(pick, "config", "");
            snprintf(key, sizeof key, "%lld,%lld,%lld", knob_of(cfg, "GATE_BITS"), knob_of(cfg, "UP_BITS"),
                     knob_of(cfg, "DOWN_BITS"));
            if (!strcmp(fw_cli_str(pick, "mode", ""), "decode") && !strstr(name, "_0") &&
                !cJSON_GetObjectItemCaseSensitive(spec, key))   /* their SPECIALIZED_DECODE_KERNELS */
                cJSON_AddStringToObject(spec, key, name);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "batch", fw_cli_num(p, "tokens", 0));
            cJSON_AddStringToObject(e, "kernel", name);
            cJSON_AddStringToObject(e, "bits", key);
            cJSON_AddItemToArray(all, e);
        }
        cJSON_AddStringToObject(r, "optimal", name);
        cJSON_AddNumberToObject(r, "optimal_ms", fw_cli_num(pick, "median_ns", 0) / 1e6);
        cJSON_AddNumberToObject(r, "tile_n", (double)knob_of(fw_cli_str(pick, "config", ""), "TILE_N"));
        cJSON_AddStringToObject(r, "config", fw_cli_str(pick, "config", ""));
        cand_kernel(cJSON_GetObjectItemCaseSensitive(p, "fallback"), name, sizeof name);
        cJSON_AddStringToObject(r, "fallback", name);
        if (cJSON_GetArraySize(all) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "specialised")))
            cJSON_AddStringToObject(cJSON_GetArrayItem(all, cJSON_GetArraySize(all) - 1), "fallback", name);
        if (cJSON_IsObject(hand)) {
            cand_kernel(hand, name, sizeof name);
            cJSON_AddStringToObject(r, "current", name);
            cJSON_AddNumberToObject(r, "current_ms", fw_cli_num(hand, "median_ns", 0) / 1e6);
            cJSON_AddNumberToObject(r, "speedup", fw_cli_num(p, "speedup", 0));
        } else {
            cJSON_AddNullToObject(r, "current");
        }
    }
}

static cJSON *selection(const cJSON *pol, const cJSON *layer, cJSON *avail, const char *text)
{
    cJSON *res = cJSON_CreateObject(), *used = cJSON_CreateArray(), *issues = cJSON_CreateArray(), *ranges, *e;
    cJSON_AddStringToObject(res, "benchmark", "fairway_policy");
    cJSON_AddStringToObject(res, "device", fw_cli_str(pol, "device", ""));
    cJSON_AddItemToObject(res, "jobs", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(pol, "jobs"), 1));
    cJSON_AddStringToObject(res, "layer", fw_cli_str(layer, "layer", ""));
    cJSON_AddStringToObject(res, "noise_rule", fw_cli_str(pol, "noise_rule", ""));
    selection_points(res, cJSON_GetObjectItemCaseSensitive(layer, "points"), used);
    const cJSON *r;
    ranges = cJSON_AddArrayToObject(res, "policy");
    cJSON *tiles = cJSON_CreateObject();
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(layer, "ranges")) {
        char name[160];
        cand_kernel(r, name, sizeof name);
        cJSON_AddItemToArray(ranges, e = cJSON_CreateObject());
        cJSON_AddNumberToObject(e, "min_batch", fw_cli_num(r, "min_tokens", 0));
        cJSON_AddItemToObject(e, "max_batch", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r, "max_tokens"), 1));
        cJSON_AddStringToObject(e, "kernel", name);
        cJSON_AddNumberToObject(e, "tile_n", (double)knob_of(fw_cli_str(r, "config", ""), "TILE_N"));
        cJSON_AddStringToObject(e, "config", fw_cli_str(r, "config", ""));
        if (!cJSON_GetObjectItemCaseSensitive(tiles, fw_cli_str(r, "mode", "")))
            cJSON_AddNumberToObject(tiles, fw_cli_str(r, "mode", ""), (double)knob_of(fw_cli_str(r, "config", ""), "TILE_N"));
        if (!has_string(used, name))
            cJSON_AddItemToArray(used, cJSON_CreateString(name));
    }
    cJSON_AddItemToObject(res, "thresholds", thresholds(cJSON_GetObjectItemCaseSensitive(layer, "ranges"), issues));
    cJSON_AddItemToObject(res, "tile_sizes", tiles);
    cJSON *missing = cJSON_CreateArray(), *viamacro = cJSON_CreateArray();
    cJSON_ArrayForEach(e, used) {
        if (has_string(avail, e->valuestring))
            continue;
        cJSON_AddItemToArray(has_word(text, e->valuestring) ? viamacro : missing, cJSON_CreateString(e->valuestring));
    }
    cJSON_AddItemToObject(res, "available_kernels", avail);
    cJSON_AddItemToObject(res, "macro_kernels", viamacro);
    cJSON_AddItemToObject(res, "missing_kernels", missing);
    cJSON_ArrayForEach(e, missing) {
        char msg[300];
        snprintf(msg, sizeof msg, "the policy picks %s, which the source does not define", e->valuestring);
        cJSON_AddItemToArray(issues, cJSON_CreateString(msg));
    }
    cJSON *v = cJSON_AddObjectToObject(res, "verification");
    cJSON_AddBoolToObject(v, "passed", cJSON_GetArraySize(issues) == 0);
    cJSON_AddItemToObject(v, "issues", issues);
    cJSON_Delete(used);
    return res;
}

/* Their cache key's bits: the one width when every projection of every tuple shares it, else the
 * sorted distinct widths ("6-2-3/2-3-4" -> [2,3,4,6]; glm47's tuples -> [2,3,4,6]). */
static cJSON *key_bits(const char *bits)
{
    int seen[10] = {0}, n = 0, one = 0;
    if (!strcmp(bits, "glm47"))
        bits = "6-2-3/6-2-2/6-3-3/6-3-4/6-2-4/6-3-2";
    for (const char *p = bits; *p; p++)
        if (*p >= '0' && *p <= '9' && !seen[*p - '0']++)
            n++, one = *p - '0';
    if (n == 1)
        return cJSON_CreateNumber(one);
    cJSON *a = cJSON_CreateArray();
    for (int b = 0; b < 10; b++)
        if (seen[b])
            cJSON_AddItemToArray(a, cJSON_CreateNumber(b));
    return a;
}

/* The cache file their model.py looks for: ~/.cache/metal_marlin/kernel_tuning_<sha256(key)>.json.
 * The key is hashed as Python's json.dumps(key, sort_keys=True) writes it (keys sorted, ", " and
 * ": " separators, integers plain): {"bits": [2, 3, 6], "hidden_dim": 2048, ...}. *text gets that
 * text, *name the file name (docs/cli.md, "export"). */
static void cache_name(const cJSON *key, char *text, size_t tlen, char *name, size_t nlen)
{
    const cJSON *bits = cJSON_GetObjectItemCaseSensitive(key, "bits");
    char b[128] = "";
    if (cJSON_IsArray(bits)) {
        size_t at = snprintf(b, sizeof b, "[");
        const cJSON *x;
        cJSON_ArrayForEach(x, bits)
            if (at + 24 < sizeof b)   /* bit widths are 1..9: never near the end */
                at += snprintf(b + at, sizeof b - at, "%s%lld", x == bits->child ? "" : ", ", (long long)x->valuedouble);
        snprintf(b + at, sizeof b - at, "]");
    } else {
        snprintf(b, sizeof b, "%lld", (long long)cJSON_GetNumberValue(bits));
    }
    snprintf(text, tlen, "{\"bits\": %s, \"hidden_dim\": %lld, \"intermediate_dim\": %lld, \"num_experts\": %lld, "
             "\"version\": %lld}", b, (long long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(key, "hidden_dim")),
             (long long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(key, "intermediate_dim")),
             (long long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(key, "num_experts")),
             (long long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(key, "version")));
    char hex[65];
    fw_sha256_hex(text, strlen(text), hex);
    snprintf(name, nlen, "kernel_tuning_%s.json", hex);
}

static cJSON *config_payload(const cJSON *pol, const cJSON *layer, const cJSON *sel)
{
    const char *lk = fw_cli_str(layer, "layer", "");
    char bits[256] = "";
    long long hidden = 0, inter = 0, experts = 0;
    for (const char *p = lk; *p;) {
        size_t l = strcspn(p, ",");
        if (!strncmp(p, "bits=", 5))
            snprintf(bits, sizeof bits, "%.*s", (int)(l - 5), p + 5);
        hidden = !strncmp(p, "hidden=", 7) ? atoll(p + 7) : hidden;
        inter = !strncmp(p, "intermediate=", 13) ? atoll(p + 13) : inter;
        experts = !strncmp(p, "experts=", 8) ? atoll(p + 8) : experts;
        p += l + (p[l] == ',');
    }
    cJSON *res = cJSON_CreateObject(), *key = cJSON_AddObjectToObject(res, "cache_key");
    cJSON_AddNumberToObject(key, "version", 2);
    cJSON_AddNumberToObject(key, "hidden_dim", (double)hidden);
    cJSON_AddNumberToObject(key, "intermediate_dim", (double)inter);
    cJSON_AddNumberToObject(key, "num_experts", (double)experts);
    cJSON_AddItemToObject(key, "bits", key_bits(bits));
    cJSON *kc = cJSON_AddObjectToObject(res, "kernel_config"), *opt = cJSON_AddObjectToObject(kc, "optimal");
    cJSON_AddBoolToObject(opt, "use_fp32_acc", 1);   /* fairway's moe_swiglu accumulates in float */
    cJSON_AddItemToObject(opt, "policy", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sel, "policy"), 1));
    cJSON_AddItemToObject(opt, "specialized_decode_kernels",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sel, "specialized_decode_kernels"), 1));
    cJSON_AddItemToObject(opt, "thresholds", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sel, "thresholds"), 1));
    cJSON *src = cJSON_AddObjectToObject(res, "fairway");
    cJSON_AddItemToObject(src, "jobs", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(pol, "jobs"), 1));
    cJSON_AddStringToObject(src, "device", fw_cli_str(pol, "device", ""));
    cJSON_AddStringToObject(src, "layer", lk);
    char text[512], name[96];
    cache_name(key, text, sizeof text, name, sizeof name);
    cJSON_AddStringToObject(src, "cache_key_text", text);
    cJSON_AddStringToObject(src, "cache_file", name);
    return res;
}

int fw_cli_export_mm(FILE *f, const char *format, const fw_cli_export_job *jobs, int n, const char *source,
                     const char *same_body, char *err, size_t errlen)
{
    cJSON *pol = NULL, *avail = NULL;
    char *text = NULL;
    if (fw_cli_policy_build(jobs, n, NULL, NULL, same_body, &pol, err, errlen) < 0)
        return -1;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(pol, "layers");
    if (cJSON_GetArraySize(layers) != 1) {
        snprintf(err, errlen, "the jobs measured %d layers (shapes other than tokens and mode); one export holds one: "
                 "export the jobs of each layer apart", cJSON_GetArraySize(layers));
        cJSON_Delete(pol);
        return -1;
    }
    if (inventory(source, jobs[0].status, &avail, &text, err, errlen) < 0) {
        free(text);
        cJSON_Delete(pol);
        return -1;
    }
    cJSON *sel = selection(pol, cJSON_GetArrayItem(layers, 0), avail, text), *out = sel;
    free(text);
    if (!strcmp(format, "metal-marlin-config"))
        out = config_payload(pol, cJSON_GetArrayItem(layers, 0), sel);
    char *s = cJSON_Print(out);
    fprintf(f, "%s\n", s ? s : "null");
    free(s);
    if (out != sel)
        cJSON_Delete(out);
    cJSON_Delete(sel);
    cJSON_Delete(pol);
    return 0;
}
