/* Constraint expressions: a recursive-descent parser over the grammar in fw_variants.h producing a
 * small tree in one node array, and an evaluator with short-circuit && and ||. */
#include "fw_variants.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

/* Bounds keep evaluation recursion shallow and a hostile spec from exhausting the stack. */
#define EXPR_MAX_NODES 1024
#define EXPR_MAX_DEPTH 200

enum {
    N_INT = 1, N_NAME, N_NEG, N_NOT,
    N_OR, N_AND, N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_ADD, N_SUB, N_MUL, N_DIV, N_MOD,
    N_MIN, N_MAX, N_CDIV,
};

enum {
    T_END = 0, T_INT, T_NAME, T_LP, T_RP, T_OR, T_AND, T_NOT,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_ADD, T_SUB, T_MUL, T_DIV, T_MOD, T_COMMA,
};

typedef struct node {
    int op;
    int a, b;          /* child node indices */
    int64_t value;     /* N_INT */
    int name;          /* N_NAME: index into names */
} node;

struct fw_expr {
    node *nodes;
    size_t nnodes;
    int root;
    char (*names)[FW_NAME_MAX];   /* distinct names, first-appearance order */
    size_t nnames;
};

typedef struct parser {
    const char *text;
    const char *p;
    int tok;
    const char *tok_start;
    size_t tok_len;
    int64_t tok_value;
    int depth;
    fw_expr *e;
    char *err;
    size_t errlen;
    int rc;
} parser;

static int col(const parser *ps, const char *at)
{
    return (int)(at - ps->text) + 1;
}

static int fail(parser *ps, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parser *ps, int code, const char *fmt, ...)
{
    if (ps->rc == 0) {
        ps->rc = code;
        if (ps->err && ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err, ps->errlen, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* A printable description of the current token for error messages. */
static void tok_desc(const parser *ps, char *buf, size_t len)
{
    if (ps->tok == T_END)
        snprintf(buf, len, "end of input");
    else
        snprintf(buf, len, "'%.*s'", (int)(ps->tok_len > 40 ? 40 : ps->tok_len), ps->tok_start);
}

static int next(parser *ps)
{
    const char *s = ps->p;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    ps->tok_start = s;
    ps->tok_len = 1;
    if (!*s) {
        ps->tok = T_END;
        ps->tok_len = 0;
        ps->p = s;
        return 0;
    }
    if (*s >= '0' && *s <= '9') {
        const char *b = s;
        uint64_t v = 0;
        while (*s >= '0' && *s <= '9') {
            unsigned d = (unsigned)(*s - '0');
            if (v > (uint64_t)(INT64_MAX - d) / 10u) {
                ps->tok_len = (size_t)(s - b) + 1;
                return fail(ps, -EINVAL, "integer at column %d is too large (the limit is %" PRId64 ")",
                            col(ps, b), INT64_MAX);
            }
            v = v * 10u + d;
            s++;
        }
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')
            return fail(ps, -EINVAL, "unexpected character '%c' at column %d (numbers are decimal integers)",
                        *s, col(ps, s));
        ps->tok = T_INT;
        ps->tok_value = (int64_t)v;
        ps->tok_len = (size_t)(s - b);
        ps->p = s;
        return 0;
    }
    if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_') {
        const char *b = s;
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' || (*s >= '0' && *s <= '9'))
            s++;
        ps->tok = T_NAME;
        ps->tok_len = (size_t)(s - b);
        ps->p = s;
        if (ps->tok_len >= FW_NAME_MAX)
            return fail(ps, -EINVAL, "name '%.*s...' at column %d is longer than %d characters", 20, b,
                        col(ps, b), FW_NAME_MAX - 1);
        return 0;
    }
    static const struct { const char *text; int tok; } ops[] = {
        {"||", T_OR}, {"&&", T_AND}, {"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE},
        {"<", T_LT}, {">", T_GT}, {"!", T_NOT}, {"+", T_ADD}, {"-", T_SUB}, {"*", T_MUL},
        {"/", T_DIV}, {"%", T_MOD}, {"(", T_LP}, {")", T_RP}, {",", T_COMMA},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t l = strlen(ops[i].text);
        if (strncmp(s, ops[i].text, l) == 0) {
            ps->tok = ops[i].tok;
            ps->tok_len = l;
            ps->p = s + l;
            return 0;
        }
    }
    if (*s == '=' || *s == '&' || *s == '|')
        return fail(ps, -EINVAL, "unexpected '%c' at column %d (did you mean '%c%c'?)", *s, col(ps, s), *s, *s);
    if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
        return fail(ps, -EINVAL, "unexpected byte 0x%02x at column %d", (unsigned char)*s, col(ps, s));
    return fail(ps, -EINVAL, "unexpected character '%c' at column %d", *s, col(ps, s));
}

static int add_node(parser *ps, int op, int a, int b)
{
    fw_expr *e = ps->e;
    if (e->nnodes >= EXPR_MAX_NODES)
        return fail(ps, -E2BIG, "expression is too long (more than %d operations)", EXPR_MAX_NODES);
    if (e->nnodes % 32 == 0) {
        node *nn = realloc(e->nodes, (e->nnodes + 32) * sizeof *nn);
        if (!nn)
            return fail(ps, -ENOMEM, "out of memory");
        e->nodes = nn;
    }
    node *n = &e->nodes[e->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->a = a;
    n->b = b;
    return (int)e->nnodes++;
}

static int add_name(parser *ps, const char *s, size_t len)
{
    fw_expr *e = ps->e;
    for (size_t i = 0; i < e->nnames; i++)
        if (strlen(e->names[i]) == len && strncmp(e->names[i], s, len) == 0)
            return (int)i;
    if (e->nnames % 8 == 0) {
        char (*nn)[FW_NAME_MAX] = realloc(e->names, (e->nnames + 8) * sizeof *nn);
        if (!nn)
            return fail(ps, -ENOMEM, "out of memory");
        e->names = nn;
    }
    memcpy(e->names[e->nnames], s, len);
    e->names[e->nnames][len] = '\0';
    return (int)e->nnames++;
}

static int parse_or(parser *ps);

/* Functions of two arguments: min(a, b), max(a, b), cdiv(a, b) = ceil(a / b) for b > 0. A name
 * followed by '(' is a call; without '(' min, max and cdiv stay ordinary names. */
static int func_op(const char *s, size_t len)
{
    static const struct { const char *name; int op; } fns[] = {
        {"min", N_MIN}, {"max", N_MAX}, {"cdiv", N_CDIV},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strlen(fns[i].name) == len && strncmp(fns[i].name, s, len) == 0)
            return fns[i].op;
    return 0;
}

static int parse_call(parser *ps)
{
    char d[64];
    int op = func_op(ps->tok_start, ps->tok_len);
    char fname[8];
    snprintf(fname, sizeof fname, "%.*s", (int)ps->tok_len, ps->tok_start);
    if (next(ps) < 0 || next(ps) < 0)   /* the name, then the '(' */
        return -1;
    int a = parse_or(ps);
    if (a < 0)
        return -1;
    if (ps->tok != T_COMMA) {
        tok_desc(ps, d, sizeof d);
        return fail(ps, -EINVAL, "%s() takes two arguments: expected ',' at column %d, found %s", fname,
                    col(ps, ps->tok_start), d);
    }
    if (next(ps) < 0)
        return -1;
    int b = parse_or(ps);
    if (b < 0)
        return -1;
    if (ps->tok != T_RP) {
        tok_desc(ps, d, sizeof d);
        return fail(ps, -EINVAL, "%s() takes two arguments: expected ')' at column %d, found %s", fname,
                    col(ps, ps->tok_start), d);
    }
    if (next(ps) < 0)
        return -1;
    return add_node(ps, op, a, b);
}

static int parse_unary(parser *ps)
{
    char d[64];
    if (++ps->depth > EXPR_MAX_DEPTH)
        return fail(ps, -E2BIG, "expression nests deeper than %d at column %d", EXPR_MAX_DEPTH,
                    col(ps, ps->tok_start));
    int r;
    if (ps->tok == T_NOT || ps->tok == T_SUB) {
        int op = ps->tok == T_NOT ? N_NOT : N_NEG;
        if (next(ps) < 0)
            return -1;
        int a = parse_unary(ps);
        if (a < 0)
            return -1;
        r = add_node(ps, op, a, -1);
    } else if (ps->tok == T_INT) {
        r = add_node(ps, N_INT, -1, -1);
        if (r >= 0)
            ps->e->nodes[r].value = ps->tok_value;
        if (r >= 0 && next(ps) < 0)
            return -1;
    } else if (ps->tok == T_NAME && func_op(ps->tok_start, ps->tok_len) && ps->p[strspn(ps->p, " \t\r\n")] == '(') {
        r = parse_call(ps);
        if (r < 0)
            return -1;
    } else if (ps->tok == T_NAME) {
        int nm = add_name(ps, ps->tok_start, ps->tok_len);
        if (nm < 0)
            return -1;
        r = add_node(ps, N_NAME, -1, -1);
        if (r >= 0)
            ps->e->nodes[r].name = nm;
        if (r >= 0 && next(ps) < 0)
            return -1;
    } else if (ps->tok == T_LP) {
        const char *open = ps->tok_start;
        if (next(ps) < 0)
            return -1;
        r = parse_or(ps);
        if (r < 0)
            return -1;
        if (ps->tok != T_RP) {
            tok_desc(ps, d, sizeof d);
            return fail(ps, -EINVAL, "expected ')' at column %d to close the '(' at column %d, found %s",
                        col(ps, ps->tok_start), col(ps, open), d);
        }
        if (next(ps) < 0)
            return -1;
    } else {
        tok_desc(ps, d, sizeof d);
        return fail(ps, -EINVAL, "expected a value at column %d, found %s", col(ps, ps->tok_start), d);
    }
    ps->depth--;
    return r;
}

static int parse_mul(parser *ps)
{
    int a = parse_unary(ps);
    while (a >= 0 && (ps->tok == T_MUL || ps->tok == T_DIV || ps->tok == T_MOD)) {
        int op = ps->tok == T_MUL ? N_MUL : ps->tok == T_DIV ? N_DIV : N_MOD;
        if (next(ps) < 0)
            return -1;
        int b = parse_unary(ps);
        if (b < 0)
            return -1;
        a = add_node(ps, op, a, b);
    }
    return a;
}

static int parse_add(parser *ps)
{
    int a = parse_mul(ps);
    while (a >= 0 && (ps->tok == T_ADD || ps->tok == T_SUB)) {
        int op = ps->tok == T_ADD ? N_ADD : N_SUB;
        if (next(ps) < 0)
            return -1;
        int b = parse_mul(ps);
        if (b < 0)
            return -1;
        a = add_node(ps, op, a, b);
    }
    return a;
}

static int parse_cmp(parser *ps)
{
    int a = parse_add(ps);
    if (a < 0)
        return -1;
    int op = 0;
    switch (ps->tok) {
    case T_EQ: op = N_EQ; break;
    case T_NE: op = N_NE; break;
    case T_LT: op = N_LT; break;
    case T_LE: op = N_LE; break;
    case T_GT: op = N_GT; break;
    case T_GE: op = N_GE; break;
    default: return a;
    }
    if (next(ps) < 0)
        return -1;
    int b = parse_add(ps);
    if (b < 0)
        return -1;
    return add_node(ps, op, a, b);
}

static int parse_and(parser *ps)
{
    int a = parse_cmp(ps);
    while (a >= 0 && ps->tok == T_AND) {
        if (next(ps) < 0)
            return -1;
        int b = parse_cmp(ps);
        if (b < 0)
            return -1;
        a = add_node(ps, N_AND, a, b);
    }
    return a;
}

static int parse_or(parser *ps)
{
    int a = parse_and(ps);
    while (a >= 0 && ps->tok == T_OR) {
        if (next(ps) < 0)
            return -1;
        int b = parse_and(ps);
        if (b < 0)
            return -1;
        a = add_node(ps, N_OR, a, b);
    }
    return a;
}

int fw_expr_parse(const char *text, fw_expr **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!text)
        return fw_errf(err, errlen, -EINVAL, "no expression given");
    fw_expr *e = calloc(1, sizeof *e);
    if (!e)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    parser ps = {.text = text, .p = text, .e = e, .err = err, .errlen = errlen};
    int root = -1;
    if (next(&ps) == 0) {
        root = parse_or(&ps);
        if (root >= 0 && ps.tok != T_END) {
            char d[64];
            tok_desc(&ps, d, sizeof d);
            fail(&ps, -EINVAL, "unexpected %s at column %d after a complete expression", d,
                 col(&ps, ps.tok_start));
        }
    }
    if (ps.rc < 0) {
        fw_expr_free(e);
        return ps.rc;
    }
    e->root = root;
    *out = e;
    return 0;
}

typedef struct evalctx {
    const fw_expr *e;
    const fw_env *env;
    char *err;
    size_t errlen;
    int rc;
    uint64_t visits;
} evalctx;

static int64_t ev(evalctx *c, int i)
{
    const node *n = &c->e->nodes[i];
    c->visits++;
    int64_t a, b, r = 0;
    switch (n->op) {
    case N_INT:
        return n->value;
    case N_NAME:
        if (!fw_env_get(c->env, c->e->names[n->name], &r)) {
            c->rc = fw_errf(c->err, c->errlen, -EINVAL,
                            "unknown name '%s' (not a knob, a shape field or a device limit)",
                            c->e->names[n->name]);
            return 0;
        }
        return r;
    case N_NOT:
        a = ev(c, n->a);
        return c->rc ? 0 : !a;
    case N_NEG:
        a = ev(c, n->a);
        if (c->rc)
            return 0;
        if (a == INT64_MIN) {
            c->rc = fw_errf(c->err, c->errlen, -ERANGE, "integer overflow negating %" PRId64, a);
            return 0;
        }
        return -a;
    case N_AND:
        a = ev(c, n->a);
        if (c->rc || !a)
            return 0;
        b = ev(c, n->b);
        return c->rc ? 0 : b != 0;
    case N_OR:
        a = ev(c, n->a);
        if (c->rc)
            return 0;
        if (a)
            return 1;
        b = ev(c, n->b);
        return c->rc ? 0 : b != 0;
    default:
        break;
    }
    a = ev(c, n->a);
    if (c->rc)
        return 0;
    b = ev(c, n->b);
    if (c->rc)
        return 0;
    switch (n->op) {
    case N_EQ: return a == b;
    case N_NE: return a != b;
    case N_LT: return a < b;
    case N_LE: return a <= b;
    case N_GT: return a > b;
    case N_GE: return a >= b;
    case N_ADD:
        if (__builtin_add_overflow(a, b, &r))
            goto overflow;
        return r;
    case N_SUB:
        if (__builtin_sub_overflow(a, b, &r))
            goto overflow;
        return r;
    case N_MUL:
        if (__builtin_mul_overflow(a, b, &r))
            goto overflow;
        return r;
    case N_MIN: return a < b ? a : b;
    case N_MAX: return a > b ? a : b;
    case N_CDIV:
        if (b <= 0) {
            c->rc = fw_errf(c->err, c->errlen, -EDOM, "cdiv(%" PRId64 ", %" PRId64 "): the divisor must be positive",
                            a, b);
            return 0;
        }
        return a / b + (a % b > 0);
    case N_DIV:
    case N_MOD:
        if (b == 0) {
            c->rc = fw_errf(c->err, c->errlen, -EDOM, "division by zero (%" PRId64 " %c 0)", a,
                            n->op == N_DIV ? '/' : '%');
            return 0;
        }
        if (a == INT64_MIN && b == -1)
            goto overflow;
        return n->op == N_DIV ? a / b : a % b;
    default:
        c->rc = fw_errf(c->err, c->errlen, -EINVAL, "corrupt expression");
        return 0;
    }
overflow:
    c->rc = fw_errf(c->err, c->errlen, -ERANGE, "integer overflow computing %" PRId64 " and %" PRId64,
                    a, b);
    return 0;
}

int fw_expr_eval_count(const fw_expr *e, const fw_env *env, int64_t *out, uint64_t *nodes, char *err,
                       size_t errlen)
{
    if (!e || e->root < 0)
        return fw_errf(err, errlen, -EINVAL, "no expression to evaluate");
    evalctx c = {.e = e, .env = env, .err = err, .errlen = errlen};
    int64_t v = ev(&c, e->root);
    if (nodes)
        *nodes += c.visits;
    if (c.rc)
        return c.rc;
    *out = v;
    return 0;
}

int fw_expr_eval(const fw_expr *e, const fw_env *env, int64_t *out, char *err, size_t errlen)
{
    return fw_expr_eval_count(e, env, out, NULL, err, errlen);
}

void fw_expr_names(const fw_expr *e, void (*fn)(const char *name, void *ctx), void *ctx)
{
    for (size_t i = 0; e && i < e->nnames; i++)
        fn(e->names[i], ctx);
}

void fw_expr_free(fw_expr *e)
{
    if (!e)
        return;
    free(e->nodes);
    free(e->names);
    free(e);
}
