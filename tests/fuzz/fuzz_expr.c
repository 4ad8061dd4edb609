/* fuzz_expr.c - the constraint expression parser and evaluator (variants/expr.c), which reads the
 * "constraints" of every submitted space.
 *
 * Input: the expression text (up to the first NUL); the bytes after a NUL, if any, seed the values
 * of the names it references. Checks beyond "no crash" (and no UBSan report: overflow, shifts,
 * division): an error comes with a message; the names reported are valid names; evaluation with
 * every name bound either gives a value or an error with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_variants.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

typedef struct names_ctx {
    fw_env env;
    const uint8_t *vals;
    size_t nvals, next;
} names_ctx;

static void bind_name(const char *name, void *vctx)
{
    names_ctx *c = vctx;
    CHECK(name && *name);
    int64_t v = 0;
    for (int k = 0; k < 8 && c->nvals; k++)
        v = (int64_t)((uint64_t)v << 8 | c->vals[c->next++ % c->nvals]);
    if (c->nvals && (c->vals[0] & 1))
        v = (int64_t)(int8_t)v;   /* small values too: 0, -1, 1 reach the edge cases */
    fw_env_set(&c->env, name, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t tlen = strlen(text);
    names_ctx ctx = {.vals = data + tlen + (tlen < size), .nvals = tlen < size ? size - tlen - 1 : 0};
    fw_env_clear(&ctx.env);
    fw_expr *e = NULL;
    char err[512];
    err[0] = '\0';
    if (fw_expr_parse(text, &e, err, sizeof(err)) != 0) {
        CHECK(e == NULL && err[0]);
        free(text);
        return 0;
    }
    CHECK(e);
    int64_t out;
    err[0] = '\0';
    if (fw_expr_eval(e, &ctx.env, &out, err, sizeof(err)) != 0)   /* names unbound: an error or a constant */
        CHECK(err[0]);
    fw_expr_names(e, bind_name, &ctx);
    err[0] = '\0';
    if (fw_expr_eval(e, &ctx.env, &out, err, sizeof(err)) != 0)
        CHECK(err[0]);
    fw_expr_free(e);
    free(text);
    return 0;
}
