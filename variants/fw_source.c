/* Users' own kernel sources: include inlining and knob guard checks (fw_source.h). */
#include "fw_source.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_transform.h"
#include "fw_util.h"

/* ---- a line scanner that knows where comments are ---------------------------------------------
 * Directives are recognised only on lines that do not start inside a block comment, so a
 * commented-out #include or #ifndef is never taken for a real one. String and character literals
 * are skipped so a comment opener inside a string does not open a comment. */

typedef struct scan {
    const char *p;        /* next line */
    int in_comment;       /* inside a block comment at the start of the next line */
    int line;             /* number of the line last returned, from 1 */
} scan;

/* Returns the next line [*b, *e) (without its newline) and whether it may be a directive. */
static int next_line(scan *s, const char **b, const char **e, int *directive)
{
    if (!*s->p)
        return 0;
    const char *q = s->p;
    *b = q;
    int starts_in_comment = s->in_comment;
    while (*q && *q != '\n') {
        if (s->in_comment) {
            if (q[0] == '*' && q[1] == '/') {
                s->in_comment = 0;
                q += 2;
                continue;
            }
            q++;
            continue;
        }
        if (q[0] == '/' && q[1] == '*') {
            s->in_comment = 1;
            q += 2;
            continue;
        }
        if (q[0] == '/' && q[1] == '/') {
            while (*q && *q != '\n')
                q++;
            break;
        }
        if (*q == '"' || *q == '\'') {
            char quote = *q++;
            while (*q && *q != '\n' && *q != quote) {
                if (*q == '\\' && q[1] && q[1] != '\n')
                    q++;
                q++;
            }
            if (*q == quote)
                q++;
            continue;
        }
        q++;
    }
    *e = q;
    s->p = *q ? q + 1 : q;
    s->line++;
    const char *t = *b;
    while (t < *e && (*t == ' ' || *t == '\t'))
        t++;
    *directive = !starts_in_comment && t < *e && *t == '#';
    return 1;
}

/* '\r' too: a file saved with CRLF line ends keeps its directives. */
static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

/* After the '#' and the directive's name: returns the position past `word`, or NULL. */
static const char *directive_word(const char *b, const char *e, const char *word)
{
    const char *p = skip_ws(b, e);
    if (p >= e || *p != '#')
        return NULL;
    p = skip_ws(p + 1, e);
    size_t n = strlen(word);
    if ((size_t)(e - p) < n || strncmp(p, word, n) != 0)
        return NULL;
    p += n;
    if (p < e && (isalnum((unsigned char)*p) || *p == '_'))
        return NULL;
    return p;
}

static int ident_is(const char *p, const char *e, const char *name, const char **after)
{
    size_t n = strlen(name);
    if ((size_t)(e - p) < n || strncmp(p, name, n) != 0)
        return 0;
    p += n;
    if (p < e && (isalnum((unsigned char)*p) || *p == '_'))
        return 0;
    if (after)
        *after = p;
    return 1;
}

/* ---- guards ---------------------------------------------------------------------------------- */

int fw_source_has_guard(const char *text, const char *macro)
{
    scan s = {text ? text : "", 0, 0};
    const char *b, *e;
    int dir;
    while (next_line(&s, &b, &e, &dir)) {
        if (!dir)
            continue;
        const char *p;
        if ((p = directive_word(b, e, "ifndef")) != NULL) {
            if (ident_is(skip_ws(p, e), e, macro, NULL))
                return 1;
        } else if ((p = directive_word(b, e, "if")) != NULL) {
            p = skip_ws(p, e);
            if (p >= e || *p != '!')
                continue;
            p = skip_ws(p + 1, e);
            if (!ident_is(p, e, "defined", &p))
                continue;
            p = skip_ws(p, e);
            int paren = p < e && *p == '(';
            if (paren)
                p = skip_ws(p + 1, e);
            const char *after;
            if (!ident_is(p, e, macro, &after))
                continue;
            after = skip_ws(after, e);
            if (!paren || (after < e && *after == ')'))
                return 1;
        }
    }
    return 0;
}

/* Does the text use `macro` as an identifier anywhere (comments included: a hint, not a proof)? */
static int mentions(const char *text, const char *macro)
{
    size_t n = strlen(macro);
    for (const char *p = text; (p = strstr(p, macro)) != NULL; p += n) {
        int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = isalnum((unsigned char)p[n]) || p[n] == '_';
        if (!before && !after)
            return 1;
    }
    return 0;
}

int fw_source_check_knobs(const char *text, const char *name, const fw_space *space, const cJSON *aliases,
                          char *err, size_t errlen)
{
    return fw_source_check_knobs_binds(text, name, space, aliases, NULL, err, errlen);
}

int fw_source_check_knobs_binds(const char *text, const char *name, const fw_space *space, const cJSON *aliases,
                                const cJSON *binds, char *err, size_t errlen)
{
    const char *src = name && *name ? name : "the source";
    if (!text)
        return fw_errf(err, errlen, -EINVAL, "%s has no text", src);
    for (size_t k = 0; k < space->nknobs; k++) {
        const char *knob = space->knobs[k].name;
        if (fw_binds_has(binds, knob))
            continue;   /* its value reaches the code through a constant, not a macro */
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(aliases, knob);
        const char *macro = cJSON_IsString(a) && a->valuestring[0] ? a->valuestring : knob;
        char via[FW_NAME_MAX + 64] = "";
        if (strcmp(macro, knob) != 0)
            snprintf(via, sizeof via, " reaches the source as macro %s, but", macro);
        else
            snprintf(via, sizeof via, " is passed as macro %s, but", macro);
        if (!mentions(text, macro))
            return fw_errf(err, errlen, -EINVAL,
                           "knob %s%s %s never mentions %s: the knob would change nothing (map it to the "
                           "source's own macro with \"aliases\": {\"%s\": \"...\"}, or leave the knob out "
                           "of the space)", knob, via, src, macro, knob);
        if (!fw_source_has_guard(text, macro))
            return fw_errf(err, errlen, -EINVAL,
                           "knob %s%s %s does not guard it with #ifndef %s: the source's own value would "
                           "override every value fairway passes (wrap its #define in #ifndef %s ... #endif)",
                           knob, via, src, macro, macro);
    }
    return fw_binds_check(text, name, binds, space, aliases, err, errlen);
}

/* ---- include inlining ------------------------------------------------------------------------ */

typedef struct frame {
    char *real;       /* realpath: identity for cycles and #pragma once */
    char *shown;      /* the path as the user would recognise it */
} frame;

typedef struct inliner {
    fw_sbuf out;
    frame stack[FW_SOURCE_MAX_DEPTH + 1];
    int depth;        /* frames in use */
    char **once;
    size_t nonce;
    char *err;
    size_t errlen;
} inliner;

static void put_line_marker(inliner *st, int line, const char *file)
{
    fw_sbuf_printf(&st->out, "#line %d \"", line);
    for (const char *c = file; *c; c++) {
        if (*c == '"' || *c == '\\')
            fw_sbuf_append(&st->out, "\\", 1);
        fw_sbuf_append(&st->out, c, 1);
    }
    fw_sbuf_puts(&st->out, "\"\n");
}

static int is_once(inliner *st, const char *real)
{
    for (size_t i = 0; i < st->nonce; i++)
        if (strcmp(st->once[i], real) == 0)
            return 1;
    return 0;
}

static int add_once(inliner *st, const char *real)
{
    if (is_once(st, real))
        return 0;
    char **n = realloc(st->once, (st->nonce + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    st->once = n;
    if (!(st->once[st->nonce] = fw_strdup(real)))
        return -ENOMEM;
    st->nonce++;
    return 0;
}

/* `dir` of a path, with its trailing slash ("" for a bare name). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* `#include "name"` on this line? Copies the name into buf. */
static int local_include(const char *b, const char *e, char *buf, size_t len)
{
    const char *p = directive_word(b, e, "include");
    if (!p)
        return 0;
    p = skip_ws(p, e);
    if (p >= e || *p != '"')
        return 0;
    const char *q = memchr(p + 1, '"', (size_t)(e - p - 1));
    if (!q || (size_t)(q - p - 1) >= len || q == p + 1)
        return 0;
    memcpy(buf, p + 1, (size_t)(q - p - 1));
    buf[q - p - 1] = '\0';
    return 1;
}

static int pragma_once(const char *b, const char *e)
{
    const char *p = directive_word(b, e, "pragma");
    if (!p)
        return 0;
    const char *after;
    if (!ident_is(skip_ws(p, e), e, "once", &after))
        return 0;
    return skip_ws(after, e) == e;
}

static int inline_file(inliner *st, const char *path, const char *from, int from_line)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        int e = errno;
        if (from)
            return fw_errf(st->err, st->errlen, -ENOENT, "%s:%d: cannot open \"%s\": %s", from, from_line, path,
                           strerror(e));
        return fw_errf(st->err, st->errlen, -ENOENT, "cannot read the kernel source %s: %s", path, strerror(e));
    }
    for (int i = 0; i < st->depth; i++) {
        if (strcmp(st->stack[i].real, real) != 0)
            continue;
        fw_sbuf chain;
        fw_sbuf_init(&chain);
        for (int j = i; j < st->depth; j++)
            fw_sbuf_printf(&chain, "%s -> ", st->stack[j].shown);
        fw_sbuf_puts(&chain, path);
        fw_errf(st->err, st->errlen, -ELOOP, "include cycle: %s (included at %s:%d)",
                chain.data ? chain.data : path, from, from_line);
        fw_sbuf_release(&chain);
        return -ELOOP;
    }
    if (st->depth > FW_SOURCE_MAX_DEPTH)
        return fw_errf(st->err, st->errlen, -ELOOP, "includes nested deeper than %d levels at %s (from %s:%d)",
                       FW_SOURCE_MAX_DEPTH, path, from, from_line);
    if (is_once(st, real))
        return 0;
    char *text = NULL;
    size_t len;
    char rerr[256];
    int rc = fw_read_file(path, &text, &len, rerr, sizeof rerr);
    if (rc < 0) {
        if (from)
            return fw_errf(st->err, st->errlen, rc, "%s:%d: cannot read \"%s\": %s", from, from_line, path, rerr);
        return fw_errf(st->err, st->errlen, rc, "cannot read the kernel source %s: %s", path, rerr);
    }
    if (strlen(text) != len) {
        free(text);
        return fw_errf(st->err, st->errlen, -EINVAL, "%s contains a NUL byte: it is not a kernel source text",
                       path);
    }
    frame *f = &st->stack[st->depth];
    f->real = fw_strdup(real);
    f->shown = fw_strdup(path);
    char *dir = dir_of(path);
    if (!f->real || !f->shown || !dir) {
        free(f->real);
        free(f->shown);
        free(dir);
        free(text);
        return fw_errf(st->err, st->errlen, -ENOMEM, "out of memory");
    }
    st->depth++;
    if (from)
        put_line_marker(st, 1, path);
    scan s = {text, 0, 0};
    const char *b, *e;
    int directive;
    rc = 0;
    while (rc == 0 && next_line(&s, &b, &e, &directive)) {
        char name[PATH_MAX];
        if (directive && local_include(b, e, name, sizeof name)) {
            fw_sbuf inc;
            fw_sbuf_init(&inc);
            if (name[0] == '/')
                fw_sbuf_puts(&inc, name);
            else
                fw_sbuf_printf(&inc, "%s%s", dir, name);
            if (inc.oom) {
                fw_sbuf_release(&inc);
                rc = fw_errf(st->err, st->errlen, -ENOMEM, "out of memory");
                break;
            }
            rc = inline_file(st, inc.data, path, s.line);
            fw_sbuf_release(&inc);
            if (rc == 0)
                put_line_marker(st, s.line + 1, path);
            continue;
        }
        if (directive && pragma_once(b, e)) {
            if (add_once(st, real) < 0)
                rc = fw_errf(st->err, st->errlen, -ENOMEM, "out of memory");
            fw_sbuf_puts(&st->out, "\n");   /* keep the line numbers of the file */
            continue;
        }
        fw_sbuf_append(&st->out, b, (size_t)(e - b));
        fw_sbuf_puts(&st->out, "\n");
    }
    st->depth--;
    free(f->real);
    free(f->shown);
    f->real = f->shown = NULL;
    free(dir);
    free(text);
    if (rc == 0 && st->out.oom)
        rc = fw_errf(st->err, st->errlen, -ENOMEM, "out of memory while inlining %s", path);
    return rc;
}

int fw_source_inline_file(const char *path, char **text, char *err, size_t errlen)
{
    *text = NULL;
    if (!path || !*path)
        return fw_errf(err, errlen, -EINVAL, "no kernel source path given");
    inliner st;
    memset(&st, 0, sizeof st);
    fw_sbuf_init(&st.out);
    st.err = err;
    st.errlen = errlen;
    int rc = inline_file(&st, path, NULL, 0);
    for (size_t i = 0; i < st.nonce; i++)
        free(st.once[i]);
    free(st.once);
    if (rc == 0) {
        fw_sbuf_puts(&st.out, "");
        *text = fw_sbuf_take(&st.out);
        if (!*text)
            rc = fw_errf(err, errlen, -ENOMEM, "out of memory while inlining %s", path);
    }
    fw_sbuf_release(&st.out);
    return rc;
}
