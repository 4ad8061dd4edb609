/* Source transforms on an in-memory copy (fw_transform.h): constant override. */
#include "fw_transform.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"
#include "fw_xform_scan.h"

/* ---- masking: comments and string contents become spaces, newlines stay ----------------------- */

char *fw_xform_mask(const char *text)
{
    size_t n = strlen(text);
    char *m = malloc(n + 1);
    if (!m)
        return NULL;
    memcpy(m, text, n + 1);
    for (size_t i = 0; i < n;) {
        if (m[i] == '/' && m[i + 1] == '/') {
            while (i < n && m[i] != '\n')
                m[i++] = ' ';
        } else if (m[i] == '/' && m[i + 1] == '*') {
            m[i++] = ' ';
            m[i++] = ' ';
            while (i < n && !(m[i] == '*' && m[i + 1] == '/')) {
                if (m[i] != '\n')
                    m[i] = ' ';
                i++;
            }
            if (i < n) {
                m[i++] = ' ';
                m[i++] = ' ';
            }
        } else if (m[i] == '"' || m[i] == '\'') {
            char q = m[i++];
            while (i < n && m[i] != q && m[i] != '\n') {
                if (m[i] == '\\' && i + 1 < n && m[i + 1] != '\n')
                    m[i++] = ' ';
                m[i++] = ' ';
            }
            if (i < n && m[i] == q)
                i++;
        } else {
            i++;
        }
    }
    return m;
}

int fw_xform_line_of(const char *text, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && text[i]; i++)
        line += text[i] == '\n';
    return line;
}

static int is_id(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* ---- constant declarations ------------------------------------------------------------------- */

/* An integer literal at m[i]: digits [i, *dend), suffix up to *end. */
static int literal_at(const char *m, size_t i, size_t *dend, size_t *end, int64_t *value)
{
    size_t j = i;
    int hex = m[j] == '0' && (m[j + 1] == 'x' || m[j + 1] == 'X');
    if (hex)
        j += 2;
    size_t d0 = j;
    while (hex ? isxdigit((unsigned char)m[j]) : isdigit((unsigned char)m[j]))
        j++;
    if (j == d0)
        return 0;
    *dend = j;
    while (m[j] == 'u' || m[j] == 'U' || m[j] == 'l' || m[j] == 'L')
        j++;
    if (is_id(m[j]) || m[j] == '.')
        return 0;
    *end = j;
    char buf[32];
    size_t len = *dend - i;
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, m + i, len);
    buf[len] = '\0';
    *value = (int64_t)strtoll(buf, NULL, hex ? 16 : 10);
    return 1;
}

static size_t skip_sp(const char *m, size_t i)
{
    while (m[i] == ' ' || m[i] == '\t' || m[i] == '\r')
        i++;
    return i;
}

/* `#define NAME ...` with NAME at [at, at+len)? */
static int define_decl(const char *m, size_t at, size_t len, fw_const_decl *d)
{
    size_t ls = at;
    while (ls > 0 && m[ls - 1] != '\n')
        ls--;
    size_t i = skip_sp(m, ls);
    if (m[i] != '#')
        return 0;
    i = skip_sp(m, i + 1);
    if (strncmp(m + i, "define", 6) != 0 || is_id(m[i + 6]))
        return 0;
    i = skip_sp(m, i + 6);
    if (i != at)
        return 0;
    i = skip_sp(m, at + len);
    d->style = "#define";
    size_t dend, end;
    d->literal = literal_at(m, i, &dend, &end, &d->value);
    if (d->literal) {
        size_t t = skip_sp(m, end);
        d->literal = m[t] == '\n' || m[t] == '\0';
    }
    d->lit_off = i;
    d->lit_len = d->literal ? dend - i : 0;
    return 1;
}

/* `... const[expr] T NAME = lit;` with NAME at [at, at+len)? The statement runs back to the last
 * ';', '{', '}' or preprocessor line; it must name const or constexpr and contain no '(' or ','. */
static int const_decl(const char *m, size_t at, size_t len, fw_const_decl *d)
{
    size_t i = skip_sp(m, at + len);
    while (m[i] == '\n' || m[i] == ' ' || m[i] == '\t' || m[i] == '\r')
        i++;
    int brace = m[i] == '{';
    if (m[i] != '=' && !brace)
        return 0;
    size_t s = at;
    for (; s > 0; s--) {
        char c = m[s - 1];
        if (c == ';' || c == '{' || c == '}')
            break;
        if (c == '(' || c == ',' || c == ')')
            return 0;   /* a parameter, an argument or a second declarator */
        if (c == '\n' && s >= 2) {   /* a preprocessor line above ends the statement too */
            size_t ls = s - 1;
            while (ls > 0 && m[ls - 1] != '\n')
                ls--;
            if (m[skip_sp(m, ls)] == '#')
                break;
        }
    }
    int is_constexpr = 0, is_const = 0, words = 0;
    for (size_t p = s; p < at;) {
        if (m[p] == '#')
            return 0;
        if (!is_id(m[p])) {
            p++;
            continue;
        }
        size_t q = p;
        while (q < at && is_id(m[q]))
            q++;
        is_constexpr |= q - p == 9 && !strncmp(m + p, "constexpr", 9);
        is_const |= (q - p == 5 && !strncmp(m + p, "const", 5)) || (q - p == 7 && !strncmp(m + p, "__const", 7)) ||
                    (q - p == 8 && !strncmp(m + p, "constant", 8)) || (q - p == 10 && !strncmp(m + p, "__constant", 10));
        words++;
        p = q;
    }
    if ((!is_constexpr && !is_const) || words < 2)
        return 0;
    d->style = is_constexpr ? "constexpr" : "const";
    i = skip_sp(m, i + 1);
    while (m[i] == '\n' || m[i] == ' ' || m[i] == '\t')
        i++;
    size_t dend, end;
    d->literal = literal_at(m, i, &dend, &end, &d->value);
    if (d->literal) {
        size_t t = skip_sp(m, end);
        d->literal = brace ? m[t] == '}' : m[t] == ';';
    }
    d->lit_off = i;
    d->lit_len = d->literal ? dend - i : 0;
    return 1;
}

static int find_masked(const char *m, const char *name, fw_const_decl *out, size_t max, size_t *n)
{
    *n = 0;
    size_t len = strlen(name);
    for (const char *p = m; (p = strstr(p, name)) != NULL; p += len) {
        if ((p > m && is_id(p[-1])) || is_id(p[len]))
            continue;
        fw_const_decl d;
        memset(&d, 0, sizeof d);
        size_t at = (size_t)(p - m);
        if (!define_decl(m, at, len, &d) && !const_decl(m, at, len, &d))
            continue;
        d.line = fw_xform_line_of(m, at);
        if (*n < max)
            out[*n] = d;
        (*n)++;
    }
    return 0;
}

int fw_const_find(const char *text, const char *name, fw_const_decl *out, size_t max, size_t *n)
{
    *n = 0;
    if (!text || !fw_variants_name_ok(name))
        return -EINVAL;
    char *m = fw_xform_mask(text);
    if (!m)
        return -ENOMEM;
    find_masked(m, name, out, max, n);
    free(m);
    return 0;
}

int fw_const_list(const char *text, fw_const_decl *out, char (*names)[FW_NAME_MAX], size_t max, size_t *n)
{
    *n = 0;
    if (!text)
        return -EINVAL;
    char *m = fw_xform_mask(text);
    if (!m)
        return -ENOMEM;
    for (size_t i = 0; m[i]; i++) {
        if (!is_id(m[i]) || isdigit((unsigned char)m[i]) || (i > 0 && is_id(m[i - 1])))
            continue;
        size_t e = i;
        while (is_id(m[e]))
            e++;
        fw_const_decl d;
        memset(&d, 0, sizeof d);
        if (e - i < FW_NAME_MAX && (define_decl(m, i, e - i, &d) || const_decl(m, i, e - i, &d)) && d.literal) {
            d.line = fw_xform_line_of(m, i);
            if (*n < max) {
                out[*n] = d;
                memcpy(names[*n], m + i, e - i);
                names[*n][e - i] = '\0';
            }
            (*n)++;
        }
        i = e - 1;
    }
    free(m);
    return 0;
}

/* Lines that mention the name at all (for the "no declaration" message). */
static void mention_lines(const char *m, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name), off = 0;
    int last = 0, count = 0;
    buf[0] = '\0';
    for (const char *p = m; (p = strstr(p, name)) != NULL; p += nl) {
        if ((p > m && is_id(p[-1])) || is_id(p[nl]))
            continue;
        int line = fw_xform_line_of(m, (size_t)(p - m));
        if (line == last)
            continue;
        last = line;
        if (++count > 8) {
            snprintf(buf + off, len - off, ", ...");
            return;
        }
        int w = snprintf(buf + off, len - off, "%s%d", off ? ", " : "", line);
        if (w < 0 || (size_t)w >= len - off)
            return;
        off += (size_t)w;
    }
}

/* The one literal declaration of `cname` bound to `knob`, or an error naming the lines. */
static int one_decl(const char *text, const char *m, const char *src, const char *knob, const char *cname,
                    fw_const_decl *d, char *err, size_t errlen)
{
    fw_const_decl found[FW_CONST_MAX];
    size_t n;
    find_masked(m, cname, found, FW_CONST_MAX, &n);
    if (n == 0) {
        char lines[128];
        mention_lines(m, cname, lines, sizeof lines);
        return fw_errf(err, errlen, -EINVAL,
                       "bind %s -> %s: %s has no declaration of %s (looked for \"constant constexpr T %s = "
                       "<integer>;\", \"const T %s = <integer>;\" and \"#define %s <integer>\", outside comments)%s%s",
                       knob, cname, src, cname, cname, cname, cname, lines[0] ? "; it is mentioned on lines " : "",
                       lines);
    }
    if (n > 1) {
        char lines[128] = "";
        size_t off = 0;
        for (size_t i = 0; i < n && i < FW_CONST_MAX; i++) {
            int w = snprintf(lines + off, sizeof lines - off, "%s%d", i ? ", " : "", found[i].line);
            if (w < 0 || (size_t)w >= sizeof lines - off)
                break;
            off += (size_t)w;
        }
        return fw_errf(err, errlen, -EINVAL,
                       "bind %s -> %s: %s declares %s %zu times (lines %s), so fairway cannot tell which one to "
                       "override (keep one declaration, or bind another name)", knob, cname, src, cname, n, lines);
    }
    if (!found[0].literal) {
        const char *ls = text + found[0].lit_off, *le = ls;
        while (*le && *le != '\n' && *le != ';')
            le++;
        return fw_errf(err, errlen, -EINVAL,
                       "bind %s -> %s: the %s declaration of %s on line %d has the value '%.*s', not an integer "
                       "literal, so there is nothing to replace", knob, cname, src, cname, found[0].line,
                       (int)(le - ls > 60 ? 60 : le - ls), ls);
    }
    *d = found[0];
    return 0;
}

int fw_binds_has(const cJSON *binds, const char *knob)
{
    return cJSON_IsObject(binds) && cJSON_GetObjectItemCaseSensitive(binds, knob) != NULL;
}

int fw_binds_check(const char *text, const char *src, const cJSON *binds, const fw_space *space,
                   const cJSON *aliases, char *err, size_t errlen)
{
    if (!binds)
        return 0;
    if (!cJSON_IsObject(binds))
        return fw_errf(err, errlen, -EINVAL, "\"binds\" must be an object {\"KNOB\": \"CONSTANT_NAME\"}");
    const char *sname = src && *src ? src : "the source";
    const cJSON *b;
    cJSON_ArrayForEach(b, binds) {
        int known = 0;
        for (size_t k = 0; space && k < space->nknobs; k++)
            known |= strcmp(space->knobs[k].name, b->string) == 0;
        if (!known)
            return fw_errf(err, errlen, -EINVAL, "bind for unknown knob '%s' (only the space's knobs can be bound)",
                           b->string);
        if (cJSON_GetObjectItemCaseSensitive(aliases, b->string))
            return fw_errf(err, errlen, -EINVAL, "knob '%s' is both aliased to a macro and bound to %s: give it "
                           "one of the two", b->string, cJSON_IsString(b) ? b->valuestring : "a transform site");
        if (cJSON_IsObject(b)) {   /* a structural site: an on/off knob */
            for (size_t k = 0; k < space->nknobs; k++)
                for (size_t v = 0; strcmp(space->knobs[k].name, b->string) == 0 && v < space->knobs[k].nvalues; v++)
                    if (space->knobs[k].values[v] != 0 && space->knobs[k].values[v] != 1)
                        return fw_errf(err, errlen, -EINVAL, "knob '%s' switches a transform site: its values "
                                       "must be 0 (off) and 1 (on), not %lld", b->string,
                                       (long long)space->knobs[k].values[v]);
            continue;
        }
        if (!cJSON_IsString(b) || !fw_variants_name_ok(b->valuestring))
            return fw_errf(err, errlen, -EINVAL, "bind of knob '%s' must name a constant (a C identifier) or be "
                           "a transform site {\"transform\", \"function\", \"lines\"}", b->string);
        for (const cJSON *w = binds->child; w != b; w = w->next)
            if (cJSON_IsString(w) && strcmp(w->valuestring, b->valuestring) == 0)
                return fw_errf(err, errlen, -EINVAL, "knobs '%s' and '%s' are both bound to constant %s", w->string,
                               b->string, b->valuestring);
    }
    if (!text)
        return fw_errf(err, errlen, -EINVAL, "\"binds\" override constants of a user source: give \"source\" "
                       "{\"text\": ...} (fairway tune --source FILE)");
    char *m = fw_xform_mask(text);
    if (!m)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    int rc = 0;
    size_t site_off[FW_MAX_KNOBS];
    const char *site_knob[FW_MAX_KNOBS];
    size_t nsites = 0;
    cJSON_ArrayForEach(b, binds) {
        if (cJSON_IsObject(b)) {
            fw_xform_site site;
            if ((rc = fw_xform_bind_site(text, sname, b->string, b, &site, err, errlen)) < 0)
                break;
            for (size_t i = 0; i < nsites; i++)
                if (site_off[i] == site.off) {
                    rc = fw_errf(err, errlen, -EINVAL, "knobs '%s' and '%s' both switch the site at line %d",
                                 site_knob[i], b->string, site.line);
                    break;
                }
            if (rc < 0 || nsites >= FW_MAX_KNOBS)
                break;
            site_off[nsites] = site.off;
            site_knob[nsites++] = b->string;
            continue;
        }
        fw_const_decl d;
        if ((rc = one_decl(text, m, sname, b->string, b->valuestring, &d, err, errlen)) < 0)
            break;
    }
    free(m);
    return rc;
}

typedef struct edit {
    size_t off, len;
    char with[FW_XFORM_WITH_MAX];
} edit;

static int edit_cmp(const void *a, const void *b)
{
    const edit *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

int fw_transform_render(const cJSON *spec, const fw_point *p, char **text, fw_point *macro_point, char *err,
                        size_t errlen)
{
    *macro_point = *p;
    const cJSON *binds = cJSON_GetObjectItemCaseSensitive(spec, "binds");
    if (!cJSON_IsObject(binds) || !binds->child)
        return 0;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(spec, "source");
    const cJSON *sname = cJSON_GetObjectItemCaseSensitive(src, "name");
    const char *name = cJSON_IsString(sname) ? sname->valuestring : "the source";
    char *m = fw_xform_mask(*text);
    if (!m)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    edit edits[FW_MAX_KNOBS];
    size_t ne = 0;
    fw_point_clear(macro_point);
    int rc = 0;
    for (size_t i = 0; i < p->n && rc == 0; i++) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(binds, p->kv[i].name);
        if (cJSON_IsObject(b)) {
            fw_xform_site site;
            if (p->kv[i].value == 0)
                continue;   /* off: the site stays as written */
            if ((rc = fw_xform_bind_site(*text, name, p->kv[i].name, b, &site, err, errlen)) < 0)
                break;
            edits[ne].off = site.off;
            edits[ne].len = site.len;
            snprintf(edits[ne].with, sizeof edits[ne].with, "%s", site.with);
            ne++;
            continue;
        }
        if (!cJSON_IsString(b)) {
            rc = fw_point_set(macro_point, p->kv[i].name, p->kv[i].value);
            continue;
        }
        fw_const_decl d;
        if ((rc = one_decl(*text, m, name, p->kv[i].name, b->valuestring, &d, err, errlen)) < 0)
            break;
        edits[ne].off = d.lit_off;
        edits[ne].len = d.lit_len;
        snprintf(edits[ne].with, sizeof edits[ne].with, "%lld", (long long)p->kv[i].value);
        ne++;
    }
    free(m);
    if (rc < 0)
        return rc;
    qsort(edits, ne, sizeof *edits, edit_cmp);
    for (size_t i = 1; i < ne; i++)
        if (edits[i].off < edits[i - 1].off + edits[i - 1].len)
            return fw_errf(err, errlen, -EINVAL, "two of the variant's transforms rewrite the same text of %s (at "
                           "line %d): switch one of them off", name, fw_xform_line_of(*text, edits[i].off));
    fw_sbuf out;
    fw_sbuf_init(&out);
    size_t at = 0;
    for (size_t i = 0; i < ne; i++) {
        fw_sbuf_append(&out, *text + at, edits[i].off - at);
        fw_sbuf_puts(&out, edits[i].with);
        at = edits[i].off + edits[i].len;
    }
    fw_sbuf_puts(&out, *text + at);
    char *t = out.oom ? NULL : fw_sbuf_take(&out);
    fw_sbuf_release(&out);
    if (!t)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    free(*text);
    *text = t;
    return 0;
}

int fw_transform_structural(const cJSON *spec, const fw_point *p)
{
    const cJSON *binds = cJSON_GetObjectItemCaseSensitive(spec, "binds");
    for (size_t i = 0; p && i < p->n; i++)
        if (p->kv[i].value != 0 && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(binds, p->kv[i].name)))
            return 1;
    return 0;
}

int fw_transform_applies(const cJSON *spec, const fw_point *p)
{
    const cJSON *binds = cJSON_GetObjectItemCaseSensitive(spec, "binds");
    for (size_t i = 0; p && i < p->n; i++) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(binds, p->kv[i].name);
        if (cJSON_IsString(b) || (cJSON_IsObject(b) && p->kv[i].value != 0))
            return 1;
    }
    return 0;
}

cJSON *fw_binds_describe(const cJSON *binds, const fw_point *p, fw_point *macro_point)
{
    fw_point_clear(macro_point);
    cJSON *o = NULL;
    for (size_t i = 0; i < p->n; i++) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(binds, p->kv[i].name);
        if (!cJSON_IsString(b) && !cJSON_IsObject(b)) {
            fw_point_set(macro_point, p->kv[i].name, p->kv[i].value);
            continue;
        }
        if (!o && !(o = cJSON_CreateObject()))
            continue;
        if (cJSON_IsString(b)) {
            cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "constants");
            if (!c)
                c = cJSON_AddObjectToObject(o, "constants");
            cJSON_AddNumberToObject(c, b->valuestring, (double)p->kv[i].value);
        } else if (p->kv[i].value != 0) {
            cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "transforms");
            if (!t)
                t = cJSON_AddArrayToObject(o, "transforms");
            cJSON_AddItemToArray(t, cJSON_Duplicate(b, 1));
        }
    }
    return o;
}
