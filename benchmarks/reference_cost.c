/* reference_cost: what a multiply-add that job/cost.c counts costs in time (issue 15 item 12), to see
 * what options.reference_max_ops (default 2^36) means in seconds. For each shape given (a family and
 * the shape's JSON) it builds the workload once, as a worker does before the shape's first variant
 * (inputs drawn, the double-precision CPU reference computed), and prints the multiply-adds the
 * family's cost counts, the build's seconds, the ns per counted multiply-add and what 2^36 of them
 * would take at that rate. The time is the whole build, not the reference alone: it is what the
 * bound stands for (the worker spends it before any variant of the shape runs).
 *   reference_cost gemm '{"M": 1024, "N": 1024, "K": 1024}' \
 *                  moe_swiglu '{"tokens": 64, "hidden": 2048, "intermediate": 1536, "experts": 64,
 *                               "top_k": 4, "bits": "glm47"}'  [family shape]... */
#include <stdio.h>
#include <time.h>

#include "fw_family.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int one(const char *family, const char *text)
{
    char err[1024];
    const fw_family *f = fw_family_find(family);
    cJSON *shape = cJSON_Parse(text);
    fw_wl_cost c;
    fw_workload *wl = NULL;
    const char *why = !f ? "unknown family" : !f->cost ? "the family does not say its cost" : !shape ? "bad JSON"
                    : f->cost(shape, &c, err, sizeof err) < 0 ? err : NULL;
    if (!why && c.reference_ops <= 0)
        why = "its cost counts no CPU reference";
    double t0 = now();
    if (!why && f->workload_new(shape, 1, &wl, err, sizeof err) < 0)
        why = err;
    double s = now() - t0;
    if (why)
        fprintf(stderr, "%s %s: %s\n", family, text, why);
    else
        printf("%s %s: %.3g multiply-adds, %.2f s, %.2f ns each (2^36 would take %.0f s)\n", family, text,
               c.reference_ops, s, s / c.reference_ops * 1e9, s / c.reference_ops * 68719476736.0);
    if (wl)
        f->workload_free(wl);
    cJSON_Delete(shape);
    return why ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc % 2 == 0) {
        fprintf(stderr, "usage: reference_cost FAMILY SHAPE_JSON [FAMILY SHAPE_JSON]...\n");
        return 2;
    }
    int bad = 0;
    for (int i = 1; i + 1 < argc; i += 2)
        bad |= one(argv[i], argv[i + 1]);
    return bad;
}
