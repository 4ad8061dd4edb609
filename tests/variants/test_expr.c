/* Constraint expressions: precedence, associativity, unary operators, short-circuit, and errors that
 * name the column and the offending token. */
#include <errno.h>
#include <stdlib.h>

#include "fw_check.h"
#include "fw_variants.h"

static fw_env env;

/* Parse and evaluate; returns the eval rc (parse failures are reported as a failed check). */
static int eval(const char *text, int64_t *out, char *err, size_t errlen)
{
    fw_expr *e;
    int rc = fw_expr_parse(text, &e, err, errlen);
    if (rc < 0) {
        fprintf(stderr, "unexpected parse error for '%s': %s\n", text, err);
        fw_check_failures++;
        return rc;
    }
    rc = fw_expr_eval(e, &env, out, err, errlen);
    fw_expr_free(e);
    return rc;
}

static int64_t val(const char *text)
{
    int64_t v = -999999;
    char err[256] = "";
    int rc = eval(text, &v, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "unexpected error for '%s': %s\n", text, err);
        fw_check_failures++;
    }
    return v;
}

static void parse_error(const char *text, const char *col, const char *tok)
{
    fw_expr *e = NULL;
    char err[256] = "";
    int rc = fw_expr_parse(text, &e, err, sizeof err);
    CHECK_INT(rc, -EINVAL);
    CHECK(e == NULL);
    CHECK_HAS(err, col);
    CHECK_HAS(err, tok);
    fw_expr_free(e);
}

static void collect(const char *name, void *ctx)
{
    char *buf = ctx;
    strcat(buf, name);
    strcat(buf, ";");
}

int main(void)
{
    fw_env_clear(&env);
    CHECK_INT(fw_env_set(&env, "A", 7), 0);
    CHECK_INT(fw_env_set(&env, "B", 3), 0);
    CHECK_INT(fw_env_set(&env, "ZERO", 0), 0);
    CHECK_INT(fw_env_set(&env, "TILE_N", 64), 0);
    CHECK_INT(fw_env_set(&env, "bad name", 1), -EINVAL);

    /* precedence */
    CHECK_INT(val("1 + 2 * 3"), 7);
    CHECK_INT(val("(1 + 2) * 3"), 9);
    CHECK_INT(val("2 + 3 == 5"), 1);
    CHECK_INT(val("1 < 2 && 3 > 4 || 1"), 1);
    CHECK_INT(val("1 || 0 && 0"), 1);           /* && binds tighter than || */
    CHECK_INT(val("A % B + 1"), 2);
    CHECK_INT(val("A + B * 2 - 1"), 12);
    CHECK_INT(val("!0 + 1"), 2);                /* unary binds tighter than + */
    /* left associativity */
    CHECK_INT(val("10 - 3 - 2"), 5);
    CHECK_INT(val("100 / 10 / 5"), 2);
    CHECK_INT(val("17 % 7 % 2"), 1);
    CHECK_INT(val("2 * 3 % 4"), 2);
    /* negative numbers and truncating division */
    CHECK_INT(val("-3"), -3);
    CHECK_INT(val("- -3"), 3);
    CHECK_INT(val("-A * 2"), -14);
    CHECK_INT(val("-7 / 2"), -3);
    CHECK_INT(val("-7 % 2"), -1);
    CHECK_INT(val("3 - -2"), 5);
    CHECK_INT(val("9223372036854775807"), INT64_MAX);
    /* comparisons and logic */
    CHECK_INT(val("TILE_N % 8 == 0"), 1);
    CHECK_INT(val("TILE_N != 64"), 0);
    CHECK_INT(val("A <= 7"), 1);
    CHECK_INT(val("A >= 8"), 0);
    CHECK_INT(val("!A"), 0);
    CHECK_INT(val("!!A"), 1);
    CHECK_INT(val("5 && 6"), 1);
    /* short-circuit: the right side would divide by zero or name an unknown value */
    CHECK_INT(val("0 && 1 / ZERO"), 0);
    CHECK_INT(val("1 || 1 / ZERO"), 1);
    CHECK_INT(val("ZERO == 0 || NOPE > 1"), 1);
    CHECK_INT(val("ZERO != 0 && A / ZERO > 1"), 0);

    /* evaluation errors */
    int64_t v;
    char err[256];
    CHECK_INT(eval("A / ZERO", &v, err, sizeof err), -EDOM);
    CHECK_HAS(err, "division by zero");
    CHECK_INT(eval("A % (B - 3)", &v, err, sizeof err), -EDOM);
    CHECK_HAS(err, "division by zero");
    CHECK_INT(eval("TILE_M * 2", &v, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "unknown name 'TILE_M'");
    CHECK_INT(eval("1 && NOPE", &v, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "NOPE");
    CHECK_INT(eval("9223372036854775807 + 1", &v, err, sizeof err), -ERANGE);
    CHECK_HAS(err, "overflow");

    /* malformed input: each names the column and the token */
    parse_error("TILE_N %", "column 9", "end of input");
    parse_error("(A", "column 3", "end of input");
    parse_error("(A", "expected ')'", "column 1");
    parse_error("A ==", "column 5", "end of input");
    parse_error("3 $ 4", "column 3", "'$'");
    parse_error("", "column 1", "end of input");
    parse_error("A B", "column 3", "'B'");
    parse_error("A = 1", "column 3", "'='");
    parse_error("A < B < 3", "column 7", "'<'");   /* comparisons do not chain (grammar: cmp := add (op add)?) */
    parse_error("A & B", "column 3", "'&'");
    parse_error("1 + * 2", "column 5", "'*'");
    parse_error("2 )", "column 3", "')'");
    parse_error("99999999999999999999", "column 1", "too large");
    parse_error("3x", "column 2", "'x'");

    /* the header's example message */
    {
        fw_space s;
        cJSON *j = cJSON_Parse("{\"knobs\":{\"TILE_N\":[8]},\"constraints\":[\"1\",\"1\",\"TILE_N % \"]}");
        CHECK_INT(fw_space_from_json(j, &s, err, sizeof err), -EINVAL);
        CHECK_STR(err, "constraint 2 'TILE_N % ': expected a value at column 10, found end of input");
        cJSON_Delete(j);
    }

    /* names: each distinct name once, in order of first appearance */
    {
        fw_expr *e;
        char names[256] = "";
        CHECK_INT(fw_expr_parse("B * (A + B) <= DEVICE_MAX_THREADS && A", &e, err, sizeof err), 0);
        fw_expr_names(e, collect, names);
        CHECK_STR(names, "B;A;DEVICE_MAX_THREADS;");
        fw_expr_free(e);
    }

    /* deep nesting is refused, not a stack overflow */
    {
        char deep[2100];
        memset(deep, '(', 1000);
        strcpy(deep + 1000, "1");
        memset(deep + 1001, ')', 1000);
        deep[2001] = '\0';
        fw_expr *e = NULL;
        int rc = fw_expr_parse(deep, &e, err, sizeof err);
        CHECK(rc < 0);
        CHECK_HAS(err, "deeper");
        fw_expr_free(e);
    }
    /* min, max and cdiv (declarative workloads' geometry, docs/spec.md) */
    CHECK_INT(val("min(A, 3)"), 3);
    CHECK_INT(val("max(A, 3 * 4)"), 12);
    CHECK_INT(val("cdiv(A, 2)"), 4);
    CHECK_INT(val("cdiv(8, 4)"), 2);
    CHECK_INT(val("cdiv(0, 4)"), 0);
    CHECK_INT(val("cdiv(-7, 2)"), -3);
    CHECK_INT(val("cdiv(min(A, 100) * 2, max(1, 3)) + 1"), 6);
    CHECK_INT(val("min (A, max(A, 9))"), 7);
    {
        int64_t v = 0;
        char err[256] = "";
        CHECK_INT(eval("cdiv(A, 0)", &v, err, sizeof err), -EDOM);
        CHECK_HAS(err, "cdiv(7, 0)");
    }
    parse_error("min(A)", "column 6", "two arguments");
    parse_error("max(A, 2, 3)", "column 9", "','");
    parse_error("cdiv(A 2)", "column 8", "'2'");
    return fw_check_done("test_expr");
}
