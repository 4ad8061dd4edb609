/* PCG32 reference output (DESIGN.md section 4) and the seeded sampler without replacement. */
#include <stdlib.h>

#include "fw_check.h"
#include "fw_pcg32.h"
#include "fw_strategy.h"

int main(void)
{
    static const uint32_t ref[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u, 0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    fw_pcg32 r;
    fw_pcg32_seed(&r, 42, 54);
    for (int i = 0; i < 6; i++) {
        uint32_t x = fw_pcg32_next(&r);
        if (x != ref[i])
            fprintf(stderr, "draw %d: got 0x%08x, want 0x%08x\n", i, x, ref[i]);
        CHECK(x == ref[i]);
    }

    /* bounded(): in range, every value reached, bound 1 is always 0 */
    fw_pcg32_seed(&r, 1, 2);
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint32_t x = fw_pcg32_bounded(&r, 7);
        CHECK(x < 7);
        if (x < 7)
            seen[x]++;
    }
    for (int i = 0; i < 7; i++)
        CHECK(seen[i] > 0);
    for (int i = 0; i < 100; i++) {
        CHECK_INT(fw_pcg32_bounded(&r, 1), 0);
        CHECK(fw_pcg32_bounded(&r, 0x80000001u) < 0x80000001u);
        float f = fw_pcg32_float(&r);
        CHECK(f >= 0.0f && f < 1.0f);
    }

    /* fw_search_random: distinct, in range, reproducible, seed- and stream-dependent */
    size_t a[100], b[100], c[100], d[100];
    CHECK_INT(fw_search_random(7, 0, 100, 30, a), 30);
    CHECK_INT(fw_search_random(7, 0, 100, 30, b), 30);
    CHECK_INT(fw_search_random(8, 0, 100, 30, c), 30);
    CHECK_INT(fw_search_random(7, 1, 100, 30, d), 30);
    int seen100[100] = {0};
    int same_seed = 1, diff_seed = 0, diff_stream = 0;
    for (int i = 0; i < 30; i++) {
        CHECK(a[i] < 100);
        if (a[i] < 100) {
            CHECK_INT(seen100[a[i]], 0);
            seen100[a[i]] = 1;
        }
        same_seed &= a[i] == b[i];
        diff_seed |= a[i] != c[i];
        diff_stream |= a[i] != d[i];
    }
    CHECK(same_seed);
    CHECK(diff_seed);
    CHECK(diff_stream);
    /* the prefix property of partial Fisher-Yates: a smaller budget is a prefix of a larger one */
    size_t e[10];
    CHECK_INT(fw_search_random(7, 0, 100, 10, e), 10);
    for (int i = 0; i < 10; i++)
        CHECK_INT(e[i], a[i]);
    /* budget >= n: a permutation of everything */
    size_t all[50];
    CHECK_INT(fw_search_random(3, 0, 50, 1000, all), 50);
    int seen50[50] = {0};
    for (int i = 0; i < 50; i++)
        if (all[i] < 50)
            seen50[all[i]]++;
    for (int i = 0; i < 50; i++)
        CHECK_INT(seen50[i], 1);
    CHECK_INT(fw_search_random(3, 0, 0, 10, all), 0);
    CHECK_INT(fw_search_random(3, 0, 10, 0, all), 0);
    CHECK_INT(fw_search_random(3, 0, 1, 5, all), 1);
    CHECK_INT(all[0], 0);
    /* golden sequences, computed independently (a Python PCG32 + partial Fisher-Yates written from
     * the paper): the same seed gives the same variants on any machine, and a change to the
     * sampler that would silently reorder every stored job's rerun fails here */
    {
        static const size_t g1[12] = {783, 481, 292, 840, 515, 191, 613, 247, 194, 845, 412, 561};
        static const size_t g2[20] = {17, 18, 5, 10, 3, 14, 2, 6, 19, 8, 4, 9, 16, 7, 13, 15, 0, 11, 12, 1};
        size_t o[20];
        CHECK_INT(fw_search_random(42, 54, 1000, 12, o), 12);
        for (int i = 0; i < 12; i++)
            CHECK_INT(o[i], g1[i]);
        CHECK_INT(fw_search_random(1, 0, 20, 20, o), 20);
        for (int i = 0; i < 20; i++)
            CHECK_INT(o[i], g2[i]);
    }
    return fw_check_done("test_pcg32");
}
