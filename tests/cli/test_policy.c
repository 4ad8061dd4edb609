/* The policy derivation rule (cli/fw_policy.h) on numbers this test controls: boundaries where the
 * best generic (mode, config) changes beyond the noise, a tuple-specialised kernel kept only where
 * it wins beyond the noise (with the generic one as its fallback), the hand-written policy's
 * candidates and the speed-up over it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_policy.h"

static int fails;
#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #c);          \
            fails++;                                                              \
        }                                                                         \
    } while (0)

#define NS 8
static double samples[32][NS];

/* samples around `centre`: centre + spread * {-3.5 .. 3.5} in steps of 1 (shifted by half a step
 * when odd, so two sets with the same centre interleave: no difference the test can see) */
static void fill(int i, double centre, double spread, int odd)
{
    for (int k = 0; k < NS; k++)
        samples[i][k] = centre + spread * ((double)k - 3.5 + (odd ? 0.5 : 0));
}

#define CAND(i, t, m, cfg, spec, med, spread, odd) \
    (fill(i, med, spread, odd), (fw_policy_cand){t, m, cfg, spec, med, samples[i], NS})

int main(void)
{
    const char *A = "TILE_N=64", *B = "TILE_N=128", *S = "GATE_BITS=6,TILE_N=64";
    fw_policy_cand c[] = {
        /* 1 token: decode/A best; a specialised decode clearly faster (kept) */
        CAND(0, 1, "decode", A, 0, 100, 1, 0), CAND(1, 1, "small", A, 0, 150, 1, 0),
        CAND(2, 1, "decode", S, 1, 80, 1, 0),
        /* 2 tokens: small/A best; a specialised one faster by less than the noise (not kept) */
        CAND(3, 2, "small", A, 0, 200, 1, 0), CAND(4, 2, "decode", A, 0, 300, 1, 0),
        CAND(5, 2, "small", S, 1, 199.8, 10, 1),
        /* 4 tokens: large/B faster than small/A by less than the noise: the range goes on */
        CAND(6, 4, "small", A, 0, 400, 20, 0), CAND(7, 4, "large", B, 0, 399, 20, 1),
        /* 8 tokens: large/B clearly faster: a boundary */
        CAND(8, 8, "small", A, 0, 800, 1, 0), CAND(9, 8, "large", B, 0, 500, 1, 0),
        /* 16 tokens: small/A not measured at all; large/B the only one */
        CAND(10, 16, "large", B, 0, 900, 1, 0),
    };
    int n = (int)(sizeof c / sizeof c[0]), nr = -1;
    fw_policy_hand hand = {1, 8, 32, {A, A, A, B, A}, {NULL}};
    fw_policy_point pts[16];
    fw_policy_range rg[16];
    int np = fw_policy_derive(c, n, &hand, pts, rg, 16, &nr);
    CHECK(np == 5);
    CHECK(nr == 3);
    if (np != 5 || nr != 3)
        return 1;
    CHECK(rg[0].lo == 1 && rg[0].hi == 1 && rg[0].generic == 0);
    CHECK(rg[1].lo == 2 && rg[1].hi == 4 && rg[1].generic == 3);   /* noise does not move the boundary */
    CHECK(rg[2].lo == 8 && rg[2].hi == 16 && rg[2].generic == 9);
    CHECK(pts[0].pick == 2 && pts[0].generic == 0 && pts[0].spec_p < FW_POLICY_ALPHA);   /* specialised kept */
    CHECK(pts[1].pick == 3 && pts[1].spec_best == 5 && pts[1].spec_p >= FW_POLICY_ALPHA); /* within noise: fallback */
    CHECK(pts[2].generic == 6 && pts[2].pick == 6 && pts[2].range == 1);
    CHECK(pts[3].generic == 9 && pts[3].range == 2);
    CHECK(pts[4].generic == 10 && pts[4].range == 2);
    /* hand: 1 decode/A, 2..8 small/A, 16 base/A (not measured) */
    CHECK(pts[0].hand == 0 && fabs(pts[0].speedup - 100.0 / 80.0) < 1e-9 && pts[0].hand_p < FW_POLICY_ALPHA);
    CHECK(pts[1].hand_p == 1);   /* the hand-written candidate is the pick */
    CHECK(pts[1].hand == 3 && fabs(pts[1].speedup - 1.0) < 1e-9);
    CHECK(pts[3].hand == 8 && fabs(pts[3].speedup - 800.0 / 500.0) < 1e-9);
    CHECK(pts[4].hand == -1 && pts[4].speedup == 0);
    /* --same-body: base pooled as large, so the hand-written base/B at 16 tokens is found as large/B */
    hand.alias[2] = "large";
    hand.config[2] = B;
    CHECK(fw_policy_derive(c, n, &hand, pts, rg, 16, &nr) == 5 && pts[4].hand == 10 && fabs(pts[4].speedup - 1.0) < 1e-9);
    hand.alias[2] = NULL;
    CHECK(fw_policy_derive(c, n, &hand, pts, rg, 16, &nr) == 5 && pts[4].hand == -1);   /* base/B: not measured */
    hand.config[2] = A;
    CHECK(fw_policy_mode_index("large") == 3 && fw_policy_mode_index("x") == -1);
    CHECK(!strcmp(fw_policy_hand_mode(&hand, 33), "large"));
    /* a hand-written policy naming fewer knobs than the configs: matched by its knobs */
    fw_policy_cand d[] = {CAND(20, 1, "decode", "SPLIT_K=1,TILE_N=64", 0, 100, 1, 0),
                          CAND(21, 1, "decode", "SPLIT_K=2,TILE_N=64", 0, 90, 1, 0)};
    fw_policy_hand few = {1, 8, 32, {"SPLIT_K=1", NULL, NULL, NULL, NULL}, {NULL}};
    CHECK(fw_policy_derive(d, 2, &few, pts, rg, 16, &nr) == 1 && pts[0].hand == 0 && pts[0].pick == 1);
    few.config[0] = "SPLIT_K=3";
    CHECK(fw_policy_derive(d, 2, &few, pts, rg, 16, &nr) == 1 && pts[0].hand == -1);
    /* no candidates: nothing */
    CHECK(fw_policy_derive(c, 0, &hand, pts, rg, 16, &nr) == 0 && nr == 0);
    if (fails)
        return 1;
    printf("policy: ok\n");
    return 0;
}
