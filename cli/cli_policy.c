/* fairway policy JOB [JOB...] (issue 13): a kernel-selection policy derived from stored
 * measurements of jobs over token counts and modes (cli_policy_derive.c holds the rule), printed
 * with the speed-up per batch size over the hand-written policy (the profile's options.policy, or
 * --against FILE). Data from the daemon (`status`, `measurements` with samples). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"
#include "fw_policy.h"
#include "fw_util.h"

const char fw_cli_policy_help[] =
    "Usage: fairway policy JOB [JOB...] [--against FILE] [--same-body MODES] [--json]\n"
    "Derive a kernel-selection policy from the stored measurements of jobs whose shapes run over token\n"
    "counts and modes (moe_swiglu: decode, small, base, large, grouped), one policy per layer (the shape\n"
    "without tokens and mode):\n"
    "  - ranges: the batch sizes where the best (mode, config) changes; the range's choice is kept while\n"
    "    the fastest other candidate at the next token count is not faster beyond the noise (a two-sided\n"
    "    Mann-Whitney U test of the stored samples, p < 0.05; finalist samples where stored);\n"
    "  - a tuple-specialised config (GATE_BITS/UP_BITS/DOWN_BITS fixed) is kept at a token count only\n"
    "    where it beats the generic choice beyond the same noise rule; the generic one is its fallback;\n"
    "  - per batch size, the speed-up of the derived pick over the hand-written policy: the first job's\n"
    "    profile options.policy (mode -> knobs; decode <= 1 token, small <= 16, base <= 32, large above),\n"
    "    or --against FILE, a JSON object of that form, optionally {\"thresholds\": {\"decode_max\": 1,\n"
    "    \"prefill4_max\": 16, \"base_max\": 32}, \"policy\": {...}}. \"-\" where it was not measured, and\n"
    "    everywhere when the job has no options.policy and no --against is given.\n"
    "  --against FILE         the hand-written policy to compare with\n"
    "  --same-body MODES      modes whose entries run one kernel body (fairway's moe_swiglu:\n"
    "                         small,base,large): their evaluations of one config at one token count are\n"
    "                         pooled as the first mode (all samples, their median), so a flip between\n"
    "                         them, run-to-run drift the per-sample test cannot see, is no boundary\n\n"
    "Examples:\n"
    "  fairway policy 12\n"
    "  fairway policy 12 13 --against my_policy.json --json\n"
    "  fairway policy 12 --same-body small,base,large\n";

typedef struct pcand {
    char layer[512], mode[16];
    const char *config;
    int tokens, specialised;
    double median;
    double *samples;
    size_t ns;
    int pooled;   /* evaluations pooled into this candidate (--same-body); 1 when none */
} pcand;

/* "a=1,mode=x,tokens=3,b=2" -> layer "a=1,b=2", mode, tokens; 0 when the key has no tokens=. */
static int split_shape(const char *key, pcand *c)
{
    size_t off = 0;
    int have = 0;
    c->layer[0] = '\0';
    snprintf(c->mode, sizeof c->mode, "%s", "");
    for (const char *p = key; *p;) {
        size_t l = strcspn(p, ",");
        if (!strncmp(p, "tokens=", 7)) {
            c->tokens = atoi(p + 7);
            have = 1;
        } else if (!strncmp(p, "mode=", 5)) {
            snprintf(c->mode, sizeof c->mode, "%.*s", (int)(l - 5), p + 5);
        } else if (off + l + 2 < sizeof c->layer) {
            off += (size_t)snprintf(c->layer + off, sizeof c->layer - off, "%s%.*s", off ? "," : "", (int)l, p);
        }
        p += l + (p[l] == ',');
    }
    if (!c->mode[0])   /* the family's default from tokens */
        snprintf(c->mode, sizeof c->mode, "%s",
                 c->tokens <= 1 ? "decode" : c->tokens <= 16 ? "small" : c->tokens <= 32 ? "base" : "large");
    return have;
}

static int key_specialised(const char *key)
{
    static const char *const k[] = {"GATE_BITS=", "UP_BITS=", "DOWN_BITS="};
    for (int i = 0; i < 3; i++) {
        const char *p = strstr(key, k[i]);
        if (p && (p == key || p[-1] == ',') && atoi(p + strlen(k[i])) != 0)
            return 1;
    }
    return 0;
}

static double *samples_of(const cJSON *m, size_t *n)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "samples_ns"), *v;
    double *out = malloc(((size_t)cJSON_GetArraySize(s) + 1) * sizeof *out);
    *n = 0;
    cJSON_ArrayForEach(v, s) if (out && cJSON_IsNumber(v)) out[(*n)++] = v->valuedouble;
    return out;
}

static const cJSON *finalist_of(const cJSON *meas, const cJSON *m)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(meas, "finalists"))
        if (!strcmp(fw_cli_str(f, "shape_key", ""), fw_cli_str(m, "shape_key", "")) &&
            !strcmp(fw_cli_str(f, "variant_key", ""), fw_cli_str(m, "variant_key", "")))
            return f;
    return NULL;
}

/* Every ok measurement of the jobs with a token count, finalist timing where stored. */
static pcand *candidates(const fw_cli_export_job *jobs, int nj, int *n)
{
    int cap = 0;
    for (int j = 0; j < nj; j++)
        cap += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(jobs[j].data, "measurements"));
    pcand *c = calloc((size_t)cap + 1, sizeof *c);
    *n = 0;
    for (int j = 0; c && j < nj; j++) {
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(jobs[j].data, "measurements")) {
            const cJSON *f = finalist_of(jobs[j].data, m), *src = f ? f : m;
            pcand *p = &c[*n];
            if (strcmp(fw_cli_str(m, "status", ""), "ok") || !cJSON_IsNumber(cJSON_GetObjectItem(src, "median_ns")) ||
                !split_shape(fw_cli_str(m, "shape_key", ""), p))
                continue;
            p->config = fw_cli_str(m, "variant_key", "");
            p->specialised = key_specialised(p->config);
            p->median = fw_cli_num(src, "median_ns", 0);
            p->samples = samples_of(src, &p->ns);
            p->pooled = 1;
            (*n)++;
        }
    }
    return c;
}

/* --same-body: the modes of group (group[0] first) run one kernel body. */
typedef struct same_body {
    int n;
    char mode[FW_POLICY_MODES][16];
} same_body;

static int same_body_parse(const char *arg, same_body *sb, char *err, size_t errlen)
{
    sb->n = 0;
    for (const char *p = arg; p && *p;) {
        size_t l = strcspn(p, ",");
        char m[16];
        snprintf(m, sizeof m, "%.*s", (int)(l < 15 ? l : 15), p);
        int dup = 0;
        for (int i = 0; i < sb->n; i++)
            dup |= !strcmp(sb->mode[i], m);
        if (l >= sizeof m || fw_policy_mode_index(m) < 0 || dup || sb->n >= FW_POLICY_MODES)
            return snprintf(err, errlen, "--same-body takes two or more distinct modes of decode, small, base, "
                            "large, grouped, comma-separated (not '%.*s')", (int)(l < 60 ? l : 60), p), -1;
        snprintf(sb->mode[sb->n++], sizeof sb->mode[0], "%s", m);
        p += l + (p[l] == ',');
    }
    if (sb->n < 2)
        return snprintf(err, errlen, "--same-body takes two or more modes (small,base,large, say)"), -1;
    return 0;
}

static double median_of(const double *v, size_t n)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s || !n) {
        free(s);
        return 0;
    }
    memcpy(s, v, n * sizeof *s);
    for (size_t i = 1; i < n; i++)   /* insertion sort: a few hundred samples at most */
        for (size_t j = i; j > 0 && s[j - 1] > s[j]; j--) {
            double t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}

/* Every candidate of a group mode is named group[0]; those of one layer, token count, config and
 * kind are pooled into the first: its samples are all of theirs and its median theirs (the mean of
 * the medians where one has no samples). */
static void same_body_pool(pcand *c, int *n, const same_body *sb)
{
    for (int i = 0; i < *n; i++)
        for (int g = 1; g < sb->n; g++)
            if (!strcmp(c[i].mode, sb->mode[g]))
                snprintf(c[i].mode, sizeof c[i].mode, "%s", sb->mode[0]);
    int k = 0;
    for (int i = 0; i < *n; i++) {
        int head = -1;
        for (int j = 0; j < k && head < 0 && !strcmp(c[i].mode, sb->mode[0]); j++)
            if (c[j].tokens == c[i].tokens && c[j].specialised == c[i].specialised && !strcmp(c[j].mode, c[i].mode) &&
                !strcmp(c[j].config, c[i].config) && !strcmp(c[j].layer, c[i].layer))
                head = j;
        if (head < 0) {
            c[k++] = c[i];
            continue;
        }
        pcand *h = &c[head];
        double *s = realloc(h->samples, (h->ns + c[i].ns + 1) * sizeof *s);
        int all = h->ns > 0 && c[i].ns > 0;
        if (s) {
            memcpy(s + h->ns, c[i].samples, c[i].ns * sizeof *s);
            h->samples = s;
            h->ns += c[i].ns;
        }
        h->median = all && s ? median_of(h->samples, h->ns) : (h->median * h->pooled + c[i].median) / (h->pooled + 1);
        h->pooled++;
        free(c[i].samples);
    }
    *n = k;
}

/* "TILE_N": 64, ... -> "NAME=V,..." sorted by name (the variant key's order). */
static void knobs_key(const cJSON *knobs, char *out, size_t len)
{
    const char *names[64];
    int n = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, knobs) if (n < 64 && k->string) names[n++] = k->string;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1], names[j - 1] = t;
        }
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%s%s=%lld", i ? "," : "", names[i],
                                (long long)cJSON_GetObjectItemCaseSensitive(knobs, names[i])->valuedouble);
}

typedef struct hand_store {
    fw_policy_hand h;
    char cfg[FW_POLICY_MODES][512];
    const char *source;
} hand_store;

/* options.policy form {mode: {"knobs": {...}}}, or {"thresholds": {...}, "policy": {...}}. */
static int hand_from(const cJSON *o, hand_store *hs, char *err, size_t errlen)
{
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(o, "policy"), *th = cJSON_GetObjectItemCaseSensitive(o, "thresholds");
    if (!cJSON_IsObject(pol))
        pol = o;
    hs->h.decode_max = (int)fw_cli_num(th, "decode_max", 1);
    hs->h.small_max = (int)fw_cli_num(th, "prefill4_max", fw_cli_num(th, "small_max", 16));
    hs->h.base_max = (int)fw_cli_num(th, "base_max", 32);
    int found = 0;
    for (int m = 0; m < FW_POLICY_MODES; m++) {
        static const char *const names[] = {"decode", "small", "base", "large", "grouped"};
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(pol, names[m]);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "knobs");
        if (!cJSON_IsObject(k))
            k = e;
        hs->h.config[m] = NULL;
        if (!cJSON_IsObject(k))
            continue;
        knobs_key(k, hs->cfg[m], sizeof hs->cfg[m]);
        hs->h.config[m] = hs->cfg[m];
        found++;
    }
    if (!found)
        return snprintf(err, errlen, "%s has no policy (modes decode, small, base, large with their knobs)",
                        hs->source), -1;
    return 0;
}

static cJSON *cand_json(const pcand *c)
{
    cJSON *o = cJSON_CreateObject();
    double sum = 0, sq = 0, lo = c->ns ? c->samples[0] : 0, hi = lo;
    for (size_t i = 0; i < c->ns; i++) {
        sum += c->samples[i];
        lo = c->samples[i] < lo ? c->samples[i] : lo;
        hi = c->samples[i] > hi ? c->samples[i] : hi;
    }
    double mean = c->ns ? sum / (double)c->ns : 0;
    for (size_t i = 0; i < c->ns; i++)
        sq += (c->samples[i] - mean) * (c->samples[i] - mean);
    cJSON_AddStringToObject(o, "mode", c->mode);
    cJSON_AddStringToObject(o, "config", c->config);
    cJSON_AddNumberToObject(o, "median_ns", c->median);
    cJSON_AddNumberToObject(o, "samples", (double)c->ns);
    cJSON_AddNumberToObject(o, "mean_ns", mean);
    cJSON_AddNumberToObject(o, "min_ns", lo);
    cJSON_AddNumberToObject(o, "max_ns", hi);
    cJSON_AddNumberToObject(o, "std_ns", c->ns > 1 ? sqrt(sq / (double)(c->ns - 1)) : 0);
    if (c->pooled > 1)
        cJSON_AddNumberToObject(o, "pooled", c->pooled);
    return o;
}

/* The fastest generic candidate of each mode at the point's token count. */
static cJSON *by_mode(const pcand *c, int n, int tokens)
{
    cJSON *o = cJSON_CreateObject();
    for (int m = 0; m < FW_POLICY_MODES; m++) {
        static const char *const names[] = {"decode", "small", "base", "large", "grouped"};
        int best = -1;
        for (int i = 0; i < n; i++)
            if (c[i].tokens == tokens && !c[i].specialised && !strcmp(c[i].mode, names[m]) &&
                (best < 0 || c[i].median < c[best].median))
                best = i;
        if (best >= 0)
            cJSON_AddItemToObject(o, names[m], cand_json(&c[best]));
    }
    return o;
}

static cJSON *point_json(const pcand *c, int n, const fw_policy_point *pt)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tokens", pt->tokens);
    cJSON_AddItemToObject(o, "by_mode", by_mode(c, n, pt->tokens));
    cJSON_AddItemToObject(o, "pick", cand_json(&c[pt->pick]));
    cJSON_AddBoolToObject(o, "specialised", pt->pick != pt->generic);
    cJSON_AddItemToObject(o, "fallback", cand_json(&c[pt->generic]));
    if (pt->spec_best >= 0) {
        cJSON *s = cand_json(&c[pt->spec_best]);
        cJSON_AddNumberToObject(s, "p", pt->spec_p);
        cJSON_AddBoolToObject(s, "kept", pt->pick == pt->spec_best);
        cJSON_AddItemToObject(o, "best_specialised", s);
    }
    cJSON_AddItemToObject(o, "hand", pt->hand >= 0 ? cand_json(&c[pt->hand]) : cJSON_CreateNull());
    if (pt->hand >= 0) {
        cJSON_AddNumberToObject(o, "speedup", pt->speedup);
        cJSON_AddNumberToObject(o, "speedup_p", pt->hand_p);
    }
    else
        cJSON_AddNullToObject(o, "speedup");
    return o;
}

/* One layer's policy: {"layer", "ranges": [...], "points": [...]}. */
static cJSON *layer_json(const char *layer, const pcand *all, int n, const hand_store *hs)
{
    pcand *c = malloc(((size_t)n + 1) * sizeof *c);
    fw_policy_cand *fc = malloc(((size_t)n + 1) * sizeof *fc);
    fw_policy_point *pt = malloc(((size_t)n + 1) * sizeof *pt);
    fw_policy_range *rg = malloc(((size_t)n + 1) * sizeof *rg);
    int k = 0, nr = 0, np = 0;
    for (int i = 0; c && fc && i < n; i++)
        if (!strcmp(all[i].layer, layer)) {
            c[k] = all[i];
            fc[k] = (fw_policy_cand){c[k].tokens, c[k].mode, c[k].config, c[k].specialised, c[k].median, c[k].samples, c[k].ns};
            k++;
        }
    if (c && fc && pt && rg)
        np = fw_policy_derive(fc, k, &hs->h, pt, rg, k, &nr);
    cJSON *o = cJSON_CreateObject(), *ranges, *points;
    cJSON_AddStringToObject(o, "layer", layer);
    ranges = cJSON_AddArrayToObject(o, "ranges");
    for (int r = 0; r < nr; r++) {
        cJSON *e = cand_json(&c[rg[r].generic]);
        cJSON_AddNumberToObject(e, "min_tokens", rg[r].lo);
        cJSON_AddItemToObject(e, "max_tokens", r + 1 < nr ? cJSON_CreateNumber(rg[r + 1].lo - 1) : cJSON_CreateNull());
        cJSON_AddNumberToObject(e, "max_measured_tokens", rg[r].hi);
        cJSON_AddItemToArray(ranges, e);
    }
    points = cJSON_AddArrayToObject(o, "points");
    for (int i = 0; i < np; i++)
        cJSON_AddItemToArray(points, point_json(c, k, &pt[i]));
    free(c), free(fc), free(pt), free(rg);
    return o;
}

int fw_cli_policy_build(const fw_cli_export_job *jobs, int nj, const cJSON *against, const char *against_name,
                        const char *same, cJSON **out, char *err, size_t errlen)
{
    hand_store hs = {.source = against_name};
    same_body sb = {0};
    if (same && same_body_parse(same, &sb, err, errlen) < 0)
        return -1;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(jobs[0].status, "spec");
    const cJSON *hp = against ? against
                              : cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "options"), "policy");
    if (!against)
        hs.source = "the profile's options.policy";
    if (!hp) {   /* nothing to compare with: the policy alone, every speed-up null */
        hs.source = "none (the first job's spec has no options.policy: give --against FILE)";
        hs.h = (fw_policy_hand){1, 16, 32, {NULL}, {NULL}};
    } else if (hand_from(hp, &hs, err, errlen) < 0) {
        return -1;
    }
    int n = 0;
    pcand *c = candidates(jobs, nj, &n);
    if (!c || n == 0) {
        free(c);
        return snprintf(err, errlen, "no verified measurement with a token count in the job%s", nj > 1 ? "s" : ""), -1;
    }
    if (sb.n) {
        same_body_pool(c, &n, &sb);
        for (int g = 1; g < sb.n; g++)
            hs.h.alias[fw_policy_mode_index(sb.mode[g])] = sb.mode[0];
    }
    cJSON *res = cJSON_CreateObject(), *ids = cJSON_AddArrayToObject(res, "jobs"), *layers;
    for (int j = 0; j < nj; j++)
        cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)jobs[j].id));
    cJSON_AddStringToObject(res, "family", fw_cli_str(jobs[0].status, "family", ""));
    cJSON_AddStringToObject(res, "device", fw_cli_str(jobs[0].status, "device_identity", ""));
    cJSON_AddStringToObject(res, "noise_rule", "two-sided Mann-Whitney U on the stored samples, p < 0.05");
    cJSON_AddStringToObject(res, "against", hs.source);
    cJSON *sbj = cJSON_AddArrayToObject(res, "same_body");   /* empty: no modes pooled */
    for (int g = 0; g < sb.n; g++)
        cJSON_AddItemToArray(sbj, cJSON_CreateString(sb.mode[g]));
    cJSON *th = cJSON_AddObjectToObject(res, "against_thresholds");
    cJSON_AddNumberToObject(th, "decode_max", hs.h.decode_max);
    cJSON_AddNumberToObject(th, "prefill4_max", hs.h.small_max);
    cJSON_AddNumberToObject(th, "base_max", hs.h.base_max);
    layers = cJSON_AddArrayToObject(res, "layers");
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(c[j].layer, c[i].layer);
        if (!seen)
            cJSON_AddItemToArray(layers, layer_json(c[i].layer, c, n, &hs));
    }
    for (int i = 0; i < n; i++)
        free(c[i].samples);
    free(c);
    *out = res;
    return 0;
}

int fw_cli_policy_fetch(fw_cli_global *g, fw_cli_export_job *jobs, int n)
{
    fw_cli_conn c;
    int ec = fw_cli_open_or_fail(g, &c);
    if (ec)
        return ec;
    for (int i = 0; !ec && i < n; i++) {
        ec = fw_cli_rpc(&c, "status", fw_cli_job_params(jobs[i].id), &jobs[i].status);
        if (ec)
            break;
        cJSON *p = fw_cli_job_params(jobs[i].id);
        cJSON_AddTrueToObject(p, "samples");
        ec = fw_cli_rpc(&c, "measurements", p, &jobs[i].data);
    }
    fw_cli_close(&c);
    return ec;
}

static void cand_text(const cJSON *o, char *out, size_t len)
{
    char t[32];
    fw_cli_fmt_ns(fw_cli_num(o, "median_ns", 0), t, sizeof t);
    snprintf(out, len, "%s %s (%s)", fw_cli_str(o, "mode", ""), fw_cli_str(o, "config", ""), t);
}

static void print_layer(FILE *f, const cJSON *l)
{
    const cJSON *r, *p;
    char a[700], b[700], s[64];
    fprintf(f, "\nlayer %s\n  ranges (batch size -> mode, config):\n", fw_cli_str(l, "layer", ""));
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(l, "ranges")) {
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(r, "max_tokens");
        cand_text(r, a, sizeof a);
        if (cJSON_IsNumber(hi))
            snprintf(s, sizeof s, "%d-%d", (int)fw_cli_num(r, "min_tokens", 0), hi->valueint);
        else
            snprintf(s, sizeof s, ">= %d", (int)fw_cli_num(r, "min_tokens", 0));
        fprintf(f, "    %-10s %s\n", s, a);
    }
    fw_cli_table t;
    static const char *const head[] = {"tokens", "derived pick", "fallback", "hand-written", "speed-up"};
    fw_cli_table_init(&t, 5, head);
    t.right[0] = t.right[4] = 1;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(l, "points")) {
        const cJSON *pick = cJSON_GetObjectItemCaseSensitive(p, "pick"), *hand = cJSON_GetObjectItemCaseSensitive(p, "hand");
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(p, "best_specialised");
        char tok[16], fb[700] = "-", hd[700] = "-", sp[32] = "-";
        snprintf(tok, sizeof tok, "%d", (int)fw_cli_num(p, "tokens", 0));
        cand_text(pick, a, sizeof a);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "specialised")))
            cand_text(cJSON_GetObjectItemCaseSensitive(p, "fallback"), fb, sizeof fb);
        else if (bs)
            snprintf(fb, sizeof fb, "(specialised %s not kept: p %.3g)", fw_cli_str(bs, "config", ""), fw_cli_num(bs, "p", 1));
        if (cJSON_IsObject(hand)) {
            cand_text(hand, hd, sizeof hd);
            snprintf(sp, sizeof sp, "%.3fx (p %.2g)", fw_cli_num(p, "speedup", 0), fw_cli_num(p, "speedup_p", 1));
        }
        snprintf(b, sizeof b, "%s", fb);
        const char *row[] = {tok, a, b, hd, sp};
        fw_cli_table_add(&t, row);
    }
    fw_cli_table_print(&t, f);
    fw_cli_table_release(&t);
}

typedef struct popts {
    const char *against, *same_body;
} popts;

static int policy_opt(void *vctx, const char *name, const char *arg, char *err, size_t errlen)
{
    popts *o = vctx;
    (void)err, (void)errlen;
    if (!strcmp(name, "against"))
        o->against = arg;
    else if (!strcmp(name, "same-body"))
        o->same_body = arg;
    else
        return 0;
    return 1;
}

int fw_cli_cmd_policy(fw_cli_global *g, int argc, char **argv)
{
    popts o = {0};
    char *pos[65], err[700];
    int npos, ec;
    if (fw_cli_parse_cmd(g, "policy", argc, argv, "|against|same-body|", "", policy_opt, &o, pos, 64, &npos, &ec) < 0)
        return ec;
    const char *against = o.against;
    if (npos < 1)
        return fw_cli_usage_error("policy", "give the job ids (see `fairway jobs`)");
    cJSON *hand = NULL, *res = NULL;
    if (against) {
        char *text = NULL;
        if (fw_read_file(against, &text, NULL, err, sizeof err) < 0)
            return fw_cli_error(FW_CLI_EXIT_USAGE, NULL, err);
        hand = cJSON_Parse(text);
        free(text);
        if (!cJSON_IsObject(hand)) {
            cJSON_Delete(hand);
            snprintf(err, sizeof err, "%.600s is not a JSON object", against);
            return fw_cli_error(FW_CLI_EXIT_USAGE, NULL, err);
        }
    }
    fw_cli_export_job jobs[64] = {{0}};
    for (int i = 0; i < npos; i++)
        if (fw_cli_parse_job_id("policy", pos[i], &jobs[i].id) < 0) {
            cJSON_Delete(hand);
            return FW_CLI_EXIT_USAGE;
        }
    ec = fw_cli_policy_fetch(g, jobs, npos);
    if (!ec && fw_cli_policy_build(jobs, npos, hand, against, o.same_body, &res, err, sizeof err) < 0)
        ec = fw_cli_error(o.same_body && strstr(err, "--same-body") ? FW_CLI_EXIT_USAGE : FW_CLI_EXIT_NOTFOUND, NULL, err);
    if (!ec && g->json) {
        fw_cli_print_json(res);
    } else if (!ec) {
        printf("policy of job%s", npos > 1 ? "s" : "");
        for (int i = 0; i < npos; i++)
            printf(" %lld", jobs[i].id);
        printf(" (%s, %s), against %s\nnoise rule: %s; a specialised config is kept only where it wins beyond it\n",
               fw_cli_str(res, "family", ""), fw_cli_str(res, "device", ""), fw_cli_str(res, "against", ""),
               fw_cli_str(res, "noise_rule", ""));
        if (o.same_body)
            printf("modes %s share one body: pooled as %.15s\n", o.same_body, o.same_body);
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(res, "layers")) print_layer(stdout, l);
    }
    cJSON_Delete(res);
    cJSON_Delete(hand);
    for (int i = 0; i < npos; i++) {
        cJSON_Delete(jobs[i].status);
        cJSON_Delete(jobs[i].data);
    }
    return ec;
}
