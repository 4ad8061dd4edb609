/* async_prefetch_hint (fw_transform.h, docs/transforms.md): in a counted loop of a kernel entry,
 * prefetch what the next iteration loads from global memory, at the top of the loop body, under the
 * loop's own condition for that iteration. Found by a conservative reading of the masked text:
 * everything not understood is no site. The inserted text holds no newline, so every line keeps its
 * number. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"
#include "fw_xform_scan.h"

#define is_id fw_xform_is_id
#define word_at fw_xform_word_at
#define skip_ws fw_xform_skip_ws

#define PF_PTRS_MAX 16
#define PF_LOADS_MAX 4   /* prefetches in one site */

typedef struct span {
    size_t b, e;   /* [b, e) of the masked text */
} span;

typedef struct ptrs {
    size_t n;
    span v[PF_PTRS_MAX];
} ptrs;

static int span_is(const char *m, span s, const char *w)
{
    return strlen(w) == s.e - s.b && strncmp(m + s.b, w, s.e - s.b) == 0;
}

static span trim(const char *m, size_t b, size_t e)
{
    while (b < e && isspace((unsigned char)m[b]))
        b++;
    while (e > b && isspace((unsigned char)m[e - 1]))
        e--;
    return (span){b, e};
}

/* The next delimiter c at bracket depth 0 in [b, e), or e. */
static size_t find_top(const char *m, size_t b, size_t e, char c)
{
    int depth = 0;
    for (size_t i = b; i < e; i++) {
        if (strchr("([{", m[i]))
            depth++;
        else if (strchr(")]}", m[i]))
            depth--;
        else if (m[i] == c && depth == 0)
            return i;
    }
    return e;
}

/* Is the identifier at i (one starting there) a member name (after . or ->)? */
static int is_member(const char *m, size_t lo, size_t i)
{
    while (i > lo && isspace((unsigned char)m[i - 1]))
        i--;
    return (i > lo && m[i - 1] == '.') || (i > lo + 1 && m[i - 1] == '>' && m[i - 2] == '-');
}

/* OpenCL's work-item functions: the only calls an expression here may make (they have no side
 * effect and answer the same all through a kernel). */
static int work_item_call(const char *m, span w)
{
    static const char *const f[] = {"get_global_id", "get_local_id", "get_group_id", "get_global_size",
                                    "get_local_size", "get_num_groups", "get_global_offset", NULL};
    for (int k = 0; f[k]; k++)
        if (span_is(m, w, f[k]))
            return 1;
    return 0;
}

/* An expression with no side effect and no call but a work-item function's: no ++/--, no assignment, no identifier followed by
 * '(', no '[' (a nested subscript is not followed), no '?' (its arms are not followed either). */
static int pure_expr(const char *m, span s)
{
    for (size_t i = s.b; i < s.e; i++) {
        char c = m[i], d = i + 1 < s.e ? m[i + 1] : '\0';
        if ((c == '+' && d == '+') || (c == '-' && d == '-') || c == '[' || c == '?')
            return 0;
        if (c == '=' && d != '=' && !(i > s.b && strchr("=!<>", m[i - 1])))
            return 0;
        if (c == '(' && i > s.b) {
            size_t k = i;
            while (k > s.b && isspace((unsigned char)m[k - 1]))
                k--;
            size_t w = k;
            while (w > s.b && is_id(m[w - 1]))
                w--;
            if (w < k && !work_item_call(m, (span){w, k}))
                return 0;
        }
    }
    return 1;
}

/* Is the variable [v.b, v.e) of the masked text changed anywhere in [b, e): assigned (=, op=),
 * incremented, decremented, or its address taken? */
static int changed_in(const char *m, span v, size_t b, size_t e)
{
    size_t n = v.e - v.b;
    for (size_t i = b; i + n <= e; i++) {
        if (strncmp(m + i, m + v.b, n) != 0 || (i > 0 && is_id(m[i - 1])) || is_id(m[i + n]) || is_member(m, b, i))
            continue;
        size_t a = skip_ws(m, i + n);
        if ((m[a] == '=' && m[a + 1] != '=') || (m[a] == '+' && m[a + 1] == '+') || (m[a] == '-' && m[a + 1] == '-'))
            return 1;
        if (strchr("+-*/%&|^", m[a]) && m[a + 1] == '=')
            return 1;
        if ((m[a] == '<' || m[a] == '>') && m[a + 1] == m[a] && m[a + 2] == '=')
            return 1;
        size_t k = i;
        while (k > b && isspace((unsigned char)m[k - 1]))
            k--;
        if (k >= b + 2 && ((m[k - 1] == '+' && m[k - 2] == '+') || (m[k - 1] == '-' && m[k - 2] == '-')))
            return 1;
        if (k > b && m[k - 1] == '&' && !(k >= b + 2 && m[k - 2] == '&'))
            return 1;
    }
    return 0;
}

/* Every variable of expression s (members excluded) unchanged in [b, e)? */
static int invariant(const char *m, span s, size_t b, size_t e)
{
    for (size_t i = s.b; i < s.e; i++) {
        if (!is_id(m[i]) || (i > s.b && is_id(m[i - 1])) || isdigit((unsigned char)m[i]))
            continue;
        size_t j = i;
        while (j < s.e && is_id(m[j]))
            j++;
        if (!is_member(m, s.b, i) && changed_in(m, (span){i, j}, b, e))
            return 0;
        i = j - 1;
    }
    return 1;
}

/* s with every occurrence of variable v (not a member) written as (v + (step)). */
static int substitute(const char *m, span s, span v, span step, char *out, size_t len)
{
    size_t at = 0, n = v.e - v.b;
    for (size_t i = s.b; i < s.e && at + 1 < len; i++) {
        if (i + n <= s.e && strncmp(m + i, m + v.b, n) == 0 && (i == s.b || !is_id(m[i - 1])) &&
            (i + n == s.e || !is_id(m[i + n])) && !is_member(m, s.b, i)) {
            at += (size_t)snprintf(out + at, len - at, "(%.*s + (%.*s))", (int)n, m + v.b, (int)(step.e - step.b),
                                   m + step.b);
            i += n - 1;
        } else {
            out[at++] = isspace((unsigned char)m[i]) ? ' ' : m[i];
        }
    }
    if (at >= len)
        return -1;
    out[at] = '\0';
    return 0;
}

/* OpenCL's prefetch() takes a pointer to a built-in scalar or vector type. */
static int builtin_type(const char *m, span w)
{
    static const char *const t[] = {"char", "uchar", "short", "ushort", "int", "uint", "long", "ulong",
                                    "float", "double", "half", "unsigned", "signed", NULL};
    size_t n = w.e - w.b;
    while (n > 0 && isdigit((unsigned char)m[w.b + n - 1]))
        n--;   /* float4, uchar16 */
    for (int k = 0; t[k]; k++)
        if (strlen(t[k]) == n && strncmp(m + w.b, t[k], n) == 0)
            return 1;
    return 0;
}

/* The global-memory pointer parameters: for CUDA every pointer parameter of a __global__ function;
 * for OpenCL the __global/global pointers to built-in types. Metal (device pointers) has none. */
static void find_ptrs(const char *m, const fw_xform_func *f, ptrs *out)
{
    static const char *const quals[] = {"__global", "global", "const", "__const", "restrict", "__restrict",
                                        "__restrict__", "volatile", NULL};
    for (size_t b = f->params + 1; b < f->params_end - 1 && out->n < PF_PTRS_MAX;) {
        size_t e = find_top(m, b, f->params_end - 1, ',');
        int star = memchr(m + b, '*', e - b) != NULL, global = 0, types = 0, builtin = 1;
        span last = {0, 0};
        for (size_t i = b; i < e; i++) {
            if (!is_id(m[i]) || (i > b && is_id(m[i - 1])))
                continue;
            size_t j = i;
            while (j < e && is_id(m[j]))
                j++;
            span w = {i, j};
            global |= span_is(m, w, "__global") || span_is(m, w, "global");
            int qual = 0;
            for (int k = 0; quals[k]; k++)
                qual |= span_is(m, w, quals[k]);
            if (!qual) {
                if (last.e) {   /* the identifier before this one was a type word */
                    types++;
                    builtin &= builtin_type(m, last);
                }
                last = w;
            }
            i = j - 1;
        }
        if (star && last.e && (f->cuda || (global && types >= 1 && builtin)))
            out->v[out->n++] = last;
        b = e + 1;
    }
}

typedef struct loop {
    span var, cond, step, body;   /* body: what the loop runs ([{ ... }] or one statement with its ;) */
    int braced;
} loop;

/* A counted loop header at the `for` at i: for ([T] v = init; cond; v++ | ++v | v += s | v = v + s).
 * Fills l; 0 when the header is not of that form. */
static int parse_for(const char *m, size_t i, size_t hi, loop *l)
{
    size_t hp = skip_ws(m, i + 3);
    if (m[hp] != '(')
        return 0;
    size_t he = fw_xform_match_close(m, hp);
    if (!he || he > hi)
        return 0;
    size_t s1 = find_top(m, hp + 1, he - 1, ';'), s2 = s1 < he - 1 ? find_top(m, s1 + 1, he - 1, ';') : he - 1;
    if (s1 >= he - 1 || s2 >= he - 1 || find_top(m, hp + 1, s1, ',') != s1)
        return 0;
    size_t eq = find_top(m, hp + 1, s1, '=');
    if (eq >= s1 || m[eq + 1] == '=')
        return 0;
    size_t vb = eq;
    while (vb > hp + 1 && isspace((unsigned char)m[vb - 1]))
        vb--;
    size_t ve = vb;
    while (vb > hp + 1 && is_id(m[vb - 1]))
        vb--;
    if (vb == ve || isdigit((unsigned char)m[vb]))
        return 0;
    l->var = (span){vb, ve};
    l->cond = trim(m, s1 + 1, s2);
    span inc = trim(m, s2 + 1, he - 1);
    size_t n = ve - vb;
    const char *v = m + vb, *p = m + inc.b;
    if (inc.e - inc.b == n + 2 && ((strncmp(p, v, n) == 0 && !strncmp(p + n, "++", 2)) ||
                                   (!strncmp(p, "++", 2) && strncmp(p + 2, v, n) == 0))) {
        l->step = (span){0, 0};   /* 1 */
    } else if (strncmp(p, v, n) == 0 && !is_id(p[n])) {
        size_t a = skip_ws(m, inc.b + n);
        if (m[a] == '+' && m[a + 1] == '=') {
            l->step = trim(m, a + 2, inc.e);
        } else if (m[a] == '=' && m[a + 1] != '=') {
            size_t r = skip_ws(m, a + 1);
            if (strncmp(m + r, v, n) != 0 || is_id(m[r + n]) || m[skip_ws(m, r + n)] != '+')
                return 0;
            l->step = trim(m, skip_ws(m, r + n) + 1, inc.e);
        } else {
            return 0;
        }
        if (l->step.b == l->step.e || !pure_expr(m, l->step))
            return 0;
    } else {
        return 0;
    }
    if (!pure_expr(m, l->cond) || l->cond.b == l->cond.e)
        return 0;
    size_t b = skip_ws(m, he);
    if (m[b] == '{') {
        size_t be = fw_xform_match_close(m, b);
        if (!be || be > hi)
            return 0;
        l->body = (span){b, be};
        l->braced = 1;
    } else {
        size_t e = find_top(m, b, hi, ';');
        if (e >= hi || memchr(m + b, '{', e - b))
            return 0;
        l->body = (span){b, e + 1};
        l->braced = 0;
    }
    return 1;
}

static int starts_with_keyword(const char *m, size_t i)
{
    static const char *const kw[] = {"if", "else", "for", "while", "do", "switch", "case", "default", "return",
                                     "break", "continue", "goto", "asm", NULL};
    for (int k = 0; kw[k]; k++)
        if (word_at(m, i, kw[k]))
            return 1;
    return 0;
}

/* Before offset i in the loop body, a statement that may leave the iteration early? */
static int may_leave(const char *m, size_t b, size_t i)
{
    static const char *const kw[] = {"continue", "break", "return", "goto", NULL};
    for (size_t j = b; j < i; j++)
        for (int k = 0; kw[k]; k++)
            if (word_at(m, j, kw[k]))
                return 1;
    return 0;
}

typedef struct loads {
    int n;
    span ptr[PF_LOADS_MAX], idx[PF_LOADS_MAX];
} loads;

/* The loads of global pointers in the statement [b, e) of loop l that qualify: a read P[idx]
 * (not written, not address-taken), idx a pure expression that follows the loop variable and whose
 * other variables, like P, the loop condition and the step, the loop body does not change. */
static void stmt_loads(const char *m, const ptrs *pp, const loop *l, size_t b, size_t e, loads *out)
{
    for (size_t i = b; i < e && out->n < PF_LOADS_MAX; i++) {
        if (!is_id(m[i]) || (i > b && is_id(m[i - 1])))
            continue;
        size_t j = i;
        while (j < e && is_id(m[j]))
            j++;
        span w = {i, j};
        int ptr = 0;
        for (size_t k = 0; k < pp->n; k++)
            ptr |= strncmp(m + pp->v[k].b, m + i, j - i) == 0 && pp->v[k].e - pp->v[k].b == j - i;
        size_t s = skip_ws(m, j), before = i;
        while (before > b && isspace((unsigned char)m[before - 1]))
            before--;
        if (!ptr || m[s] != '[' || is_member(m, b, i) || (before > b && m[before - 1] == '&')) {
            i = j - 1;
            continue;
        }
        size_t c = fw_xform_match_close(m, s);
        if (!c || c > e)
            return;
        size_t a = skip_ws(m, c);
        span idx = trim(m, s + 1, c - 1);
        int written = (m[a] == '=' && m[a + 1] != '=') || (strchr("+-*/%&|^", m[a]) && m[a + 1] == '=') ||
                      (m[a] == '+' && m[a + 1] == '+') || (m[a] == '-' && m[a + 1] == '-');
        int follows = 0;
        for (size_t k = idx.b; k + (l->var.e - l->var.b) <= idx.e; k++)
            follows |= strncmp(m + k, m + l->var.b, l->var.e - l->var.b) == 0 && (k == idx.b || !is_id(m[k - 1])) &&
                       !is_id(m[k + l->var.e - l->var.b]) && !is_member(m, idx.b, k);
        int dup = 0;
        for (int k = 0; k < out->n; k++)
            dup |= out->idx[k].e - out->idx[k].b == idx.e - idx.b && !strncmp(m + out->idx[k].b, m + idx.b, idx.e - idx.b) &&
                   out->ptr[k].e - out->ptr[k].b == j - i && !strncmp(m + out->ptr[k].b, m + i, j - i);
        if (!written && follows && !dup && pure_expr(m, idx) && invariant(m, idx, l->body.b, l->body.e) &&
            !changed_in(m, w, l->body.b, l->body.e)) {
            out->ptr[out->n] = w;
            out->idx[out->n++] = idx;
        }
        i = c - 1;
    }
}

/* The statements at the top level of the loop's body, each checked for loads. */
static void body_loads(const char *m, const ptrs *pp, const loop *l, loads *out)
{
    size_t b = l->braced ? l->body.b + 1 : l->body.b, e = l->braced ? l->body.e - 1 : l->body.e;
    for (size_t s = skip_ws(m, b); s < e; s = skip_ws(m, s)) {
        if (m[s] == '{' || starts_with_keyword(m, s)) {
            /* a block or a control statement: its loads run conditionally, or not at all */
            size_t semi = find_top(m, s, e, ';'), brace = s;
            while (brace < semi && m[brace] != '{')
                brace++;
            size_t end = brace < semi ? fw_xform_match_close(m, brace) : semi + 1;
            if (!end || end > e)
                return;
            s = end;
            continue;
        }
        size_t semi = find_top(m, s, e, ';');
        if (semi >= e)
            return;
        int cond = 0;
        for (size_t k = s; k < semi; k++)
            cond |= m[k] == '?' || (m[k] == '&' && m[k + 1] == '&') || (m[k] == '|' && m[k + 1] == '|');
        if (!cond && !may_leave(m, b, s))
            stmt_loads(m, pp, l, s, semi, out);
        s = semi + 1;
    }
}

/* expr with the loop variable advanced one step: (v + (step)) for every v in it. */
static int advanced(const char *m, span expr, const loop *l, const char *step, char *out, size_t len)
{
    char tmp[1024];   /* expr, v and step side by side, for substitute() */
    int a = snprintf(tmp, sizeof tmp, "%.*s", (int)(expr.e - expr.b), m + expr.b), vb = a;
    a += snprintf(tmp + a, sizeof tmp - (size_t)a, "%.*s", (int)(l->var.e - l->var.b), m + l->var.b);
    int sb = a;
    if ((size_t)a >= sizeof tmp)
        return -1;
    a += snprintf(tmp + a, sizeof tmp - (size_t)a, "%s", step);
    if ((size_t)a >= sizeof tmp)
        return -1;
    return substitute(tmp, (span){0, (size_t)vb}, (span){(size_t)vb, (size_t)sb}, (span){(size_t)sb, (size_t)a}, out,
                      len);
}

/* The text the site inserts (or, for an unbraced body, the statement it becomes). */
static int render(const char *text, const char *m, const fw_xform_func *f, const loop *l, const loads *ld,
                  char *with, size_t len)
{
    char step[128], guard[400], idx[400];
    if (l->step.e == 0)
        snprintf(step, sizeof step, "1");
    else if (l->step.e - l->step.b < sizeof step)
        snprintf(step, sizeof step, "%.*s", (int)(l->step.e - l->step.b), m + l->step.b);
    else
        return -1;
    if (advanced(m, l->cond, l, step, guard, sizeof guard) < 0)
        return -1;
    fw_sbuf sb;
    fw_sbuf_init(&sb);
    fw_sbuf_printf(&sb, "%sif (%s) { ", l->braced ? " " : "{ ", guard);
    for (int k = 0; k < ld->n; k++) {
        if (advanced(m, ld->idx[k], l, step, idx, sizeof idx) < 0) {
            fw_sbuf_release(&sb);
            return -1;
        }
        int pn = (int)(ld->ptr[k].e - ld->ptr[k].b);
        if (f->cuda)
            fw_sbuf_printf(&sb, "asm volatile(\"prefetch.L2 [%%0];\" :: \"l\"(&%.*s[%s])); ", pn, m + ld->ptr[k].b, idx);
        else
            fw_sbuf_printf(&sb, "prefetch(&%.*s[%s], 1); ", pn, m + ld->ptr[k].b, idx);
    }
    fw_sbuf_puts(&sb, "}");
    if (!l->braced)
        fw_sbuf_printf(&sb, " %.*s }", (int)(l->body.e - l->body.b), text + l->body.b);
    char *t = sb.oom ? NULL : fw_sbuf_take(&sb);
    fw_sbuf_release(&sb);
    int ok = t && strlen(t) < len;
    if (ok)
        memcpy(with, t, strlen(t) + 1);
    free(t);
    return ok ? 0 : -1;
}

void fw_xform_prefetch_sites(const char *text, const char *m, const fw_xform_func *f, fw_xform_site *out,
                             size_t max, size_t *n)
{
    ptrs pp = {0};
    find_ptrs(m, f, &pp);
    if (!pp.n)
        return;
    for (size_t i = f->body; i < f->body_end; i++) {
        loop l;
        if (!word_at(m, i, "for") || !parse_for(m, i, f->body_end, &l))
            continue;
        if (changed_in(m, l.var, l.body.b, l.body.e) || !invariant(m, l.cond, l.body.b, l.body.e) ||
            (l.step.e && !invariant(m, l.step, l.body.b, l.body.e)))
            continue;
        if (!l.braced && memmem(text + l.body.b, l.body.e - l.body.b, "//", 2))
            continue;   /* a line comment inside would swallow the closing brace */
        loads ld = {0};
        body_loads(m, &pp, &l, &ld);
        if (!ld.n)
            continue;
        fw_xform_site s;
        memset(&s, 0, sizeof s);
        if (render(text, m, f, &l, &ld, s.with, sizeof s.with) < 0)
            continue;
        s.transform = "async_prefetch_hint";
        s.dialect = f->cuda ? "cuda" : "opencl";
        snprintf(s.function, sizeof s.function, "%s", f->name);
        s.line = fw_xform_line_of(text, i);
        s.fn_first = fw_xform_line_of(text, f->body);
        s.fn_last = fw_xform_line_of(text, f->body_end - 1);
        s.off = l.braced ? l.body.b + 1 : l.body.b;
        s.len = l.braced ? 0 : l.body.e - l.body.b;
        s.proven = 1;
        size_t at = (size_t)snprintf(s.why, sizeof s.why, "prefetches ");
        for (int k = 0; k < ld.n && at < sizeof s.why; k++)
            at += (size_t)snprintf(s.why + at, sizeof s.why - at, "%s%.*s", k ? ", " : "",
                                   (int)(ld.ptr[k].e - ld.ptr[k].b), m + ld.ptr[k].b);
        if (at < sizeof s.why)
            snprintf(s.why + at, sizeof s.why - at, " for the next iteration, under its loop condition; a prefetch "
                     "changes no result");
        if (*n < max)
            out[*n] = s;
        (*n)++;
    }
}
