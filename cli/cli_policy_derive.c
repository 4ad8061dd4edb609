/* cli_policy_derive.c - the derivation rule of fw_policy.h: boundaries where the best generic
 * (mode, config) changes beyond the noise, tuple-specialised kernels kept only where they win
 * beyond it, and the speed-up over a hand-written policy per token count. Pure. */
#include <stdlib.h>
#include <string.h>

#include "fw_cli.h"
#include "fw_policy.h"

static const char *const modes[FW_POLICY_MODES] = {"decode", "small", "base", "large", "grouped"};

int fw_policy_mode_index(const char *mode)
{
    for (int i = 0; mode && i < FW_POLICY_MODES; i++)
        if (!strcmp(mode, modes[i]))
            return i;
    return -1;
}

const char *fw_policy_hand_mode(const fw_policy_hand *h, int tokens)
{
    return tokens <= h->decode_max ? "decode" : tokens <= h->small_max ? "small" : tokens <= h->base_max ? "base" : "large";
}

/* The fastest candidate at a token count (generic or specialised ones); -1 when none. */
static int fastest(const fw_policy_cand *c, int n, int tokens, int specialised)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (c[i].tokens == tokens && !c[i].specialised == !specialised &&
            (best < 0 || c[i].median_ns < c[best].median_ns))
            best = i;
    return best;
}

/* The generic candidate at a token count with the same (mode, config) as c[like]; -1 when none. */
static int measured_as(const fw_policy_cand *c, int n, int tokens, const char *mode, const char *config)
{
    for (int i = 0; mode && config && i < n; i++)
        if (c[i].tokens == tokens && !c[i].specialised && !strcmp(c[i].mode, mode) && !strcmp(c[i].config, config))
            return i;
    return -1;
}

/* Does config hold every NAME=VALUE component of key? */
static int has_all(const char *config, const char *key)
{
    for (const char *p = key; *p;) {
        size_t l = strcspn(p, ","), found = 0;
        for (const char *q = config; *q && !found;) {
            size_t m = strcspn(q, ",");
            found = m == l && !strncmp(p, q, l);
            q += m + (q[m] == ',');
        }
        if (!found)
            return 0;
        p += l + (p[l] == ',');
    }
    return 1;
}

/* The hand-written policy's candidate: the generic one of that mode with exactly its knobs, else
 * the first whose config holds them all (a policy naming fewer knobs than the space has). */
static int hand_cand(const fw_policy_cand *c, int n, int tokens, const char *mode, const char *config)
{
    int exact = measured_as(c, n, tokens, mode, config);
    for (int i = 0; exact < 0 && mode && config && i < n; i++)
        if (c[i].tokens == tokens && !c[i].specialised && !strcmp(c[i].mode, mode) && has_all(c[i].config, config))
            return i;
    return exact;
}

static double p_of(const fw_policy_cand *a, const fw_policy_cand *b)
{
    return fw_cli_report_mann_whitney(a->samples, a->nsamples, b->samples, b->nsamples);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Distinct token counts with a generic candidate, ascending. */
static int token_counts(const fw_policy_cand *c, int n, int *out, int max)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].specialised)
            continue;
        int seen = 0;
        for (int j = 0; j < k && !seen; j++)
            seen = out[j] == c[i].tokens;
        if (!seen && k < max)
            out[k++] = c[i].tokens;
    }
    qsort(out, (size_t)k, sizeof *out, cmp_int);
    return k;
}

int fw_policy_derive(const fw_policy_cand *c, int n, const fw_policy_hand *hand, fw_policy_point *points,
                     fw_policy_range *ranges, int max, int *nranges)
{
    int *tok = malloc((size_t)(n > 0 ? n : 1) * sizeof *tok);
    if (!tok)
        return *nranges = 0;
    int nt = token_counts(c, n, tok, max < n ? max : n), nr = 0;
    for (int k = 0; k < nt; k++) {
        fw_policy_point *pt = &points[k];
        int t = tok[k], best = fastest(c, n, t, 0);
        int keep = nr ? measured_as(c, n, t, c[ranges[nr - 1].generic].mode, c[ranges[nr - 1].generic].config) : -1;
        if (keep >= 0 && (keep == best || c[best].median_ns >= c[keep].median_ns ||
                          p_of(&c[best], &c[keep]) >= FW_POLICY_ALPHA)) {
            ranges[nr - 1].hi = t;
        } else {
            ranges[nr].lo = ranges[nr].hi = t;
            ranges[nr++].generic = best;
            keep = best;
        }
        pt->tokens = t;
        pt->range = nr - 1;
        pt->generic = pt->pick = keep;
        pt->spec_best = fastest(c, n, t, 1);
        pt->spec_p = 1;
        if (pt->spec_best >= 0) {
            pt->spec_p = p_of(&c[pt->spec_best], &c[keep]);
            if (c[pt->spec_best].median_ns < c[keep].median_ns && pt->spec_p < FW_POLICY_ALPHA)
                pt->pick = pt->spec_best;
        }
        const char *hm = hand ? fw_policy_hand_mode(hand, t) : NULL;
        int hi = hm ? fw_policy_mode_index(hm) : -1;
        pt->hand = hi >= 0 ? hand_cand(c, n, t, hand->alias[hi] ? hand->alias[hi] : hm, hand->config[hi]) : -1;
        pt->hand_p = pt->hand >= 0 && pt->hand != pt->pick ? p_of(&c[pt->hand], &c[pt->pick]) : 1;
        pt->speedup = pt->hand >= 0 && c[pt->pick].median_ns > 0 ? c[pt->hand].median_ns / c[pt->pick].median_ns : 0;
    }
    free(tok);
    *nranges = nr;
    return nt;
}
