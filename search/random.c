/* Seeded sampling without replacement: a partial Fisher-Yates shuffle driven by PCG32. */
#include "fw_strategy.h"

#include <stdlib.h>

#include "fw_pcg32.h"

size_t fw_search_random(uint64_t seed, uint64_t stream, size_t n, size_t budget, size_t *out)
{
    size_t k = budget < n ? budget : n;
    if (k == 0)
        return 0;
    size_t *perm = malloc(n * sizeof *perm);
    if (!perm)
        return 0;
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    fw_pcg32 r;
    fw_pcg32_seed(&r, seed, stream);
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)fw_pcg32_bounded64(&r, (uint64_t)(n - i));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        out[i] = perm[i];
    }
    free(perm);
    return k;
}
