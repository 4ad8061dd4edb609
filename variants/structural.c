/* Structural transforms (fw_transform.h): finding simdgroup_barrier sites, deciding by a
 * conservative textual analysis whether each is safe, and rewriting one site; the scanning helpers
 * (fw_xform_scan.h) that async_prefetch_hint (prefetch.c) shares. */
#include "fw_transform.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"
#include "fw_xform_scan.h"

#define is_id fw_xform_is_id
#define word_at fw_xform_word_at
#define skip_ws fw_xform_skip_ws
#define match_close fw_xform_match_close

int fw_xform_is_id(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

int fw_xform_word_at(const char *m, size_t i, const char *w)
{
    size_t n = strlen(w);
    return strncmp(m + i, w, n) == 0 && (i == 0 || !is_id(m[i - 1])) && !is_id(m[i + n]);
}

size_t fw_xform_skip_ws(const char *m, size_t i)
{
    while (m[i] && isspace((unsigned char)m[i]))
        i++;
    return i;
}

size_t fw_xform_match_close(const char *m, size_t i)
{
    char open = m[i], close = open == '(' ? ')' : open == '[' ? ']' : '}';
    int depth = 0;
    for (; m[i]; i++) {
        if (m[i] == open)
            depth++;
        else if (m[i] == close && --depth == 0)
            return i + 1;
    }
    return 0;
}

/* ---- functions ------------------------------------------------------------------------------- */

size_t fw_xform_find_funcs(const char *m, fw_xform_func *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; m[i] && n < max; i++) {
        int cuda = word_at(m, i, "__global__");
        if (!(word_at(m, i, "kernel") || word_at(m, i, "__kernel") || cuda))
            continue;
        size_t p = i;
        for (;;) {
            while (m[p] && m[p] != '(' && m[p] != ';' && m[p] != '{')
                p++;
            if (m[p] != '(' || p < 13 || strncmp(m + p - 13, "__attribute__", 13) != 0)
                break;
            size_t e = match_close(m, p);   /* __kernel __attribute__((...)) void name( */
            if (!e)
                break;
            p = e;
        }
        if (m[p] != '(')
            continue;
        size_t ne = p;
        while (ne > i && isspace((unsigned char)m[ne - 1]))
            ne--;
        size_t nb = ne;
        while (nb > i && is_id(m[nb - 1]))
            nb--;
        size_t pe = match_close(m, p);
        if (nb == ne || !pe)
            continue;
        size_t b = skip_ws(m, pe);
        while (m[b] == '[' && m[b + 1] == '[') {   /* trailing attributes */
            size_t e = match_close(m, b);
            if (!e)
                break;
            b = skip_ws(m, e);
        }
        if (m[b] != '{')
            continue;   /* a declaration */
        size_t be = match_close(m, b);
        if (!be)
            continue;
        fw_xform_func *f = &out[n++];
        f->cuda = cuda;
        size_t len = ne - nb < sizeof f->name - 1 ? ne - nb : sizeof f->name - 1;
        memcpy(f->name, m + nb, len);
        f->name[len] = '\0';
        f->params = p;
        f->params_end = pe;
        f->body = b;
        f->body_end = be;
        i = be - 1;
    }
    return n;
}

/* ---- names: SIMD-group ids and threadgroup objects ------------------------------------------- */

#define NAMES_MAX 32
typedef struct names {
    size_t n;
    char v[NAMES_MAX][FW_XFORM_NAME_MAX];
} names;

static void names_add(names *s, const char *m, size_t b, size_t e)
{
    if (s->n >= NAMES_MAX || e <= b || e - b >= FW_XFORM_NAME_MAX)
        return;
    memcpy(s->v[s->n], m + b, e - b);
    s->v[s->n][e - b] = '\0';
    s->n++;
}

static int names_has(const names *s, const char *m, size_t b, size_t e)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->v[i]) == e - b && strncmp(s->v[i], m + b, e - b) == 0)
            return 1;
    return 0;
}

/* The identifier that ends right before position e (skipping spaces): [*b, end). */
static int ident_before(const char *m, size_t lo, size_t e, size_t *b, size_t *end)
{
    while (e > lo && isspace((unsigned char)m[e - 1]))
        e--;
    size_t s = e;
    while (s > lo && is_id(m[s - 1]))
        s--;
    if (s == e || isdigit((unsigned char)m[s]))
        return 0;
    *b = s;
    *end = e;
    return 1;
}

/* SIMD-group ids: a Metal parameter with [[simdgroup_index_in_threadgroup]], or a variable
 * initialised with exactly get_sub_group_id() (OpenCL) or threadIdx.x / 32, threadIdx.x >> 5,
 * threadIdx.x / warpSize (CUDA, a 1-D block). */
static void find_sg_ids(const char *m, const fw_xform_func *f, names *out)
{
    for (size_t i = f->params; i < f->params_end; i++)
        if (word_at(m, i, "simdgroup_index_in_threadgroup")) {
            size_t a = i;
            while (a > f->params && !(m[a - 1] == '[' && a >= 2 && m[a - 2] == '['))
                a--;
            size_t b, e;
            if (a >= 2 && ident_before(m, f->params, a - 2, &b, &e))
                names_add(out, m, b, e);
        }
    static const char *const inits[] = {"get_sub_group_id()", "threadIdx.x / 32", "threadIdx.x >> 5",
                                        "threadIdx.x / warpSize", "(threadIdx.x / 32)", NULL};
    for (size_t i = f->body; i < f->body_end; i++) {
        if (m[i] != '=' || m[i + 1] == '=' || (i > 0 && strchr("=!<>+-*/%&|^", m[i - 1])))
            continue;
        size_t v = skip_ws(m, i + 1);
        for (int k = 0; inits[k]; k++) {
            size_t n = strlen(inits[k]);
            if (strncmp(m + v, inits[k], n) == 0 && m[skip_ws(m, v + n)] == ';') {
                size_t b, e;
                if (ident_before(m, f->body, i, &b, &e))
                    names_add(out, m, b, e);
            }
        }
    }
}

/* Threadgroup objects: declarations qualified threadgroup (Metal), __local/local (OpenCL) or
 * __shared__ (CUDA), in the parameters, the body, or at file scope (before the function). */
static void find_tg_objects(const char *m, const fw_xform_func *f, names *out)
{
    static const char *const quals[] = {"threadgroup", "__local", "local", "__shared__", NULL};
    for (size_t i = 0; i < f->body_end; i++) {
        if (i >= f->params_end && i < f->body)
            continue;
        int q = -1;
        for (int k = 0; quals[k] && q < 0; k++)
            if (word_at(m, i, quals[k]))
                q = k;
        if (q < 0)
            continue;
        size_t j = i + strlen(quals[q]);
        if (m[skip_ws(m, j)] == '(')
            continue;   /* [[threadgroup(0)]], a call */
        /* The declarator's name: the last identifier before [ ; = , ) or [[. */
        size_t e = j;
        while (m[e] && !strchr("[;=,)", m[e]))
            e++;
        size_t b, ne;
        if (ident_before(m, j, e, &b, &ne))
            names_add(out, m, b, ne);
        i = e;
    }
}

/* ---- the analysis ---------------------------------------------------------------------------- */

/* Every use of a threadgroup object in the function is indexed with a SIMD-group id as its first
 * subscript? 1 yes; 0 with why filled in. */
static int only_within_sg(const char *text, const char *m, const fw_xform_func *f, const names *tg, const names *sg,
                          int cuda, char *why, size_t whylen)
{
    int used = 0;
    for (size_t i = f->body; i < f->body_end; i++) {
        if (!is_id(m[i]) || (i > 0 && is_id(m[i - 1])))
            continue;
        size_t e = i;
        while (is_id(m[e]))
            e++;
        if (!names_has(tg, m, i, e)) {
            i = e - 1;
            continue;
        }
        /* its own declaration: skip past the declarator */
        size_t before = i;
        while (before > f->body && isspace((unsigned char)m[before - 1]))
            before--;
        int decl = 0;
        for (size_t k = before; k > f->body && !strchr(";{}", m[k - 1]); k--)
            if (word_at(m, k - 1, "threadgroup") || word_at(m, k - 1, "__local") || word_at(m, k - 1, "local") ||
                word_at(m, k - 1, "__shared__"))
                decl = 1;
        if (decl) {
            i = e - 1;
            continue;
        }
        used = 1;
        size_t s = skip_ws(m, e);
        int line = fw_xform_line_of(text, i);
        if (m[s] != '[') {
            snprintf(why, whylen, "line %d: %.*s is used without a subscript (passed on or aliased), so "
                     "who reads it cannot be followed", line, (int)(e - i), m + i);
            return 0;
        }
        size_t c = match_close(m, s);
        size_t ib = skip_ws(m, s + 1), ie = c ? c - 1 : s + 1;
        while (ie > ib && isspace((unsigned char)m[ie - 1]))
            ie--;
        if (!c || !names_has(sg, m, ib, ie)) {
            snprintf(why, whylen, "line %d: %.*s[%.*s] is not indexed by a SIMD-group id as its first subscript",
                     line, (int)(e - i), m + i, (int)(ie - ib > 40 ? 40 : ie - ib), m + ib);
            return 0;
        }
        i = e - 1;
    }
    if (!used && cuda) {
        snprintf(why, whylen, "no shared memory is used, but __syncthreads also orders global memory "
                 "between the block's threads");
        return 0;
    }
    if (!used)
        snprintf(why, whylen, "the function uses no threadgroup memory");
    else
        snprintf(why, whylen, "every threadgroup access has a SIMD-group id as its first subscript");
    return 1;
}

/* A barrier call at i? Sets the dialect, the call's extent and the replacement. */
static int barrier_at(const char *m, size_t i, const char **dialect, size_t *end, const char **with)
{
    static const struct {
        const char *call, *dialect, *with;
    } forms[] = {
        {"threadgroup_barrier(mem_flags::mem_threadgroup)", "metal", "simdgroup_barrier(mem_flags::mem_threadgroup)"},
        {"barrier(CLK_LOCAL_MEM_FENCE)", "opencl", "sub_group_barrier(CLK_LOCAL_MEM_FENCE)"},
        {"work_group_barrier(CLK_LOCAL_MEM_FENCE)", "opencl", "sub_group_barrier(CLK_LOCAL_MEM_FENCE)"},
        {"__syncthreads()", "cuda", "__syncwarp()"},
    };
    if ((i > 0 && is_id(m[i - 1])) || (m[i] != 't' && m[i] != 'b' && m[i] != 'w' && m[i] != '_'))
        return 0;
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        /* compare ignoring spaces in the text */
        const char *c = forms[k].call;
        size_t j = i;
        while (*c) {
            while (m[j] == ' ' || m[j] == '\t')
                j++;
            if (m[j] != *c)
                break;
            j++;
            c++;
        }
        if (!*c) {
            *dialect = forms[k].dialect;
            *end = j;
            *with = forms[k].with;
            return 1;
        }
    }
    return 0;
}

int fw_xform_kernels(const char *text, char (*names)[FW_XFORM_NAME_MAX], size_t max)
{
    char *m = fw_xform_mask(text);
    fw_xform_func *fs = calloc(FW_XFORM_FUNCS_MAX, sizeof *fs);
    if (!m || !fs) {
        free(m);
        free(fs);
        return -ENOMEM;
    }
    size_t nf = fw_xform_find_funcs(m, fs, FW_XFORM_FUNCS_MAX);
    for (size_t i = 0; i < nf && i < max; i++)
        memcpy(names[i], fs[i].name, FW_XFORM_NAME_MAX);
    free(m);
    free(fs);
    return (int)nf;
}

static int site_cmp(const void *a, const void *b)
{
    const fw_xform_site *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

int fw_xform_sites(const char *text, fw_xform_site *out, size_t max, size_t *n)
{
    *n = 0;
    char *m = fw_xform_mask(text);
    if (!m)
        return -ENOMEM;
    fw_xform_func *fs = calloc(FW_XFORM_FUNCS_MAX, sizeof *fs);
    if (!fs) {
        free(m);
        return -ENOMEM;
    }
    size_t nf = fw_xform_find_funcs(m, fs, FW_XFORM_FUNCS_MAX);
    for (size_t fi = 0; fi < nf; fi++) {
        const fw_xform_func *f = &fs[fi];
        names sg = {0}, tg = {0};
        find_sg_ids(m, f, &sg);
        find_tg_objects(m, f, &tg);
        char why[FW_XFORM_WHY_MAX];
        int proven = -1;
        for (size_t i = f->body; i < f->body_end; i++) {
            const char *dialect, *with;
            size_t end;
            if (!barrier_at(m, i, &dialect, &end, &with))
                continue;
            if (proven < 0)
                proven = only_within_sg(text, m, f, &tg, &sg, strcmp(dialect, "cuda") == 0, why, sizeof why);
            if (*n < max) {
                fw_xform_site *s = &out[*n];
                memset(s, 0, sizeof *s);
                s->transform = "simdgroup_barrier";
                s->dialect = dialect;
                snprintf(s->function, sizeof s->function, "%s", f->name);
                s->line = fw_xform_line_of(text, i);
                s->fn_first = fw_xform_line_of(text, f->body);
                s->fn_last = fw_xform_line_of(text, f->body_end - 1);
                s->off = i;
                s->len = end - i;
                snprintf(s->with, sizeof s->with, "%s", with);
                s->proven = proven;
                snprintf(s->why, sizeof s->why, "%s", why);
            }
            (*n)++;
            i = end - 1;
        }
        fw_xform_prefetch_sites(text, m, f, out, max, n);
    }
    qsort(out, *n < max ? *n : max, sizeof *out, site_cmp);
    free(fs);
    free(m);
    return 0;
}

/* ---- binding a knob to a site ---------------------------------------------------------------- */

int fw_xform_bind_site(const char *text, const char *src, const char *knob, const cJSON *bind,
                       fw_xform_site *site, char *err, size_t errlen)
{
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(bind, "transform");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(bind, "function");
    const cJSON *ln = cJSON_GetObjectItemCaseSensitive(bind, "lines");
    const cJSON *un = cJSON_GetObjectItemCaseSensitive(bind, "unproven");
    int64_t lo = 0, hi = 0;
    if (!cJSON_IsString(tr) || (strcmp(tr->valuestring, "simdgroup_barrier") != 0 &&
                                strcmp(tr->valuestring, "async_prefetch_hint") != 0))
        return fw_errf(err, errlen, -EINVAL, "bind of knob '%s': \"transform\" must be \"simdgroup_barrier\" or "
                       "\"async_prefetch_hint\" (the structural transforms fairway has; see docs/transforms.md)", knob);
    if (!cJSON_IsString(fn) || !cJSON_IsArray(ln) || cJSON_GetArraySize(ln) != 2 ||
        !fw_variants_json_int(cJSON_GetArrayItem(ln, 0), &lo) || !fw_variants_json_int(cJSON_GetArrayItem(ln, 1), &hi) ||
        lo > hi)
        return fw_errf(err, errlen, -EINVAL, "bind of knob '%s' needs \"function\": NAME and \"lines\": [FIRST, LAST] "
                       "(as `fairway transforms --source FILE` lists them)", knob);
    if (un && !cJSON_IsBool(un))
        return fw_errf(err, errlen, -EINVAL, "bind of knob '%s': \"unproven\" must be true or false", knob);
    fw_xform_site *all = calloc(FW_XFORM_SITES_MAX, sizeof *all);
    if (!all)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    size_t n, hits = 0, pick = 0;
    int rc = fw_xform_sites(text, all, FW_XFORM_SITES_MAX, &n);
    for (size_t i = 0; rc == 0 && i < n && i < FW_XFORM_SITES_MAX; i++)
        if (!strcmp(all[i].transform, tr->valuestring) && !strcmp(all[i].function, fn->valuestring) &&
            all[i].line >= lo && all[i].line <= hi) {
            if (!hits++)
                pick = i;
        }
    if (rc < 0)
        rc = fw_errf(err, errlen, rc, "out of memory");
    else if (hits != 1)
        rc = fw_errf(err, errlen, -EINVAL, "bind of knob '%s': %s has %zu %s sites in %s lines %lld-%lld; a knob "
                     "switches exactly one (see `fairway transforms --source FILE`)", knob, src, hits,
                     tr->valuestring, fn->valuestring, (long long)lo, (long long)hi);
    else if (!all[pick].proven && !cJSON_IsTrue(un))
        rc = fw_errf(err, errlen, -EINVAL, "bind of knob '%s': the %s site at %s:%d in %s is unproven (%s); fairway "
                     "does not offer it unless the bind says \"unproven\": true", knob, tr->valuestring, src,
                     all[pick].line, fn->valuestring, all[pick].why);
    else
        *site = all[pick];
    free(all);
    return rc;
}
