/* nearest.c - the distance between two shape keys, for `best` of a shape never tuned (issue 14);
 * pure, unit-tested.
 *
 * A shape key is NAME=VALUE pairs joined by commas (K=64,M=64,N=64). Two keys are comparable when
 * they have the same names and every value that is not a positive integer is equal (a mode, a bit
 * layout); their distance is the sum over the positive integer fields of |log2(a / b)|, so doubling
 * one dimension costs 1 whatever its size. The nearest of a list is the smallest distance, the first
 * in the list's order on a tie.
 */
#include "fw_daemon.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KEY_FIELDS 32

typedef struct field {
    const char *name, *val;
    size_t nlen, vlen;
} field;

/* Split at commas; a piece without '=' belongs to the value before it (a value with commas). */
static int split(const char *key, field *f)
{
    int n = 0;
    for (const char *p = key; *p;) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (eq && n < KEY_FIELDS) {
            f[n] = (field){p, eq + 1, (size_t)(eq - p), len - (size_t)(eq - p) - 1};
            n++;
        } else if (eq || n == 0) {
            return -1;
        } else {
            f[n - 1].vlen = (size_t)(p + len - f[n - 1].val);
        }
        p += len + (p[len] == ',');
    }
    return n;
}

static int positive_int(const char *v, size_t len, double *out)
{
    if (len == 0 || len > 15)
        return 0;
    double x = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return x > 0;
}

double fw_daemon_shape_distance(const char *a, const char *b)
{
    field fa[KEY_FIELDS], fb[KEY_FIELDS];
    int na = split(a, fa), nb = split(b, fb);
    if (na <= 0 || na != nb)
        return -1;
    double dist = 0;
    for (int i = 0; i < na; i++) {
        int j = 0;
        while (j < nb && (fb[j].nlen != fa[i].nlen || memcmp(fb[j].name, fa[i].name, fa[i].nlen)))
            j++;
        if (j == nb)
            return -1;
        double x, y;
        if (positive_int(fa[i].val, fa[i].vlen, &x) && positive_int(fb[j].val, fb[j].vlen, &y))
            dist += fabs(log2(x / y));
        else if (fa[i].vlen != fb[j].vlen || memcmp(fa[i].val, fb[j].val, fa[i].vlen))
            return -1;
    }
    return dist;
}

int fw_daemon_nearest_shape(const char *key, const cJSON *keys, const char **nearest, double *distance)
{
    *nearest = NULL;
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
        if (!cJSON_IsString(k) || !strcmp(k->valuestring, key))
            continue;
        double dd = fw_daemon_shape_distance(key, k->valuestring);
        if (dd >= 0 && (!*nearest || dd < *distance)) {
            *nearest = k->valuestring;
            *distance = dd;
        }
    }
    return *nearest ? 0 : -ENOENT;
}
