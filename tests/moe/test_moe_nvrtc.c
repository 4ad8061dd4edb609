/* Compile the moe_swiglu CUDA source with NVRTC (no GPU needed): every preset of the default space
 * plus corner points (NUM_BUFFERS 1 and 4, TILE_N 32 and 128, compile-time bits) build all five
 * entry points, unmangled, for compute_90; a broken TILE_N fails with a log that names it. Also
 * checks the Metal source assembles with metal-marlin's buffer indices (it cannot compile here). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvrtc.h>

#include "fw_test_nvrtc.h"
#include "moe_swiglu.h"

static int failures;
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            failures++;                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
        }                                                                                 \
    } while (0)

static const char *const entries[] = {"moe_trellis_swiglu_decode", "moe_trellis_swiglu_prefill4",
                                      "moe_trellis_swiglu", "moe_trellis_swiglu_large_batch",
                                      "moe_trellis_swiglu_grouped"};

static nvrtcResult compile(const char *src, const char *macros, char **log, char **ptx)
{
    const char *opts[16];
    char buf[16][64];
    int n = 0;
    opts[n++] = "--gpu-architecture=compute_90";
    const char *p = macros;
    while (*p && n < 15) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        snprintf(buf[n], sizeof buf[n], "-D%.*s", (int)len, p);
        opts[n] = buf[n];
        n++;
        p += len;
        while (*p == ' ')
            p++;
    }
    return fw_test_nvrtc(src, "moe_swiglu.cu", opts, n, log, ptx);
}

/* a point that must not compile, with a log that names why */
static void r_bad(const char *src, const char *macros, const char *word)
{
    char *log = NULL, *ptx = NULL;
    nvrtcResult r = compile(src, macros, &log, &ptx);
    CHECK(r != NVRTC_SUCCESS && log && strstr(log, word), "%s compiled or its log does not name %s", macros, word);
    free(log);
    free(ptx);
}

/* PREFETCH and XVEC (v3 decode, loads in flight): compile, keep to registers, change the loads */
static void check_inflight(const char *src)
{
    /* PREFETCH: no local memory (the second register set stays in registers), more 64-bit weight load
     * sites than without (the prologue's and the loop's), and the constraints in the log */
    {
        int nld[3] = {0, 0, 0};
        for (int pf = 0; pf < 3; pf++) {
            char pt[160], *log = NULL, *ptx = NULL;
            snprintf(pt, sizeof pt, "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=1 V3=1 PAIR=1 "
                     "PREFETCH=%d MOE_MODE=0", pf);
            CHECK(compile(src, pt, &log, &ptx) == NVRTC_SUCCESS, "%s: %s", pt, log ? log : "");
            for (const char *q = ptx; q && (q = strstr(q, "ld.global.nc.u64")) != NULL; q++)
                nld[pf]++;
            CHECK(ptx && !strstr(ptx, "ld.local") && !strstr(ptx, "st.local"), "%s uses local memory", pt);
            free(log);
            free(ptx);
        }
        CHECK(nld[1] > nld[0] && nld[2] > nld[1], "64-bit weight load sites: %d, %d, %d at PREFETCH 0, 1, 2", nld[0],
              nld[1], nld[2]);
        printf("decode (V3=1) ld.global.nc.u64 sites: %d, %d, %d at PREFETCH 0, 1, 2\n", nld[0], nld[1], nld[2]);
        r_bad(src, "TILE_N=16 V3=1 SPLIT_K=2 PREFETCH=2 MOE_MODE=0", "PREFETCH");
        r_bad(src, "TILE_N=16 V3=2 PREFETCH=2 MOE_MODE=0", "PREFETCH");
        r_bad(src, "TILE_N=16 V3=1 PREFETCH=3 MOE_MODE=0", "PREFETCH");
        r_bad(src, "TILE_N=16 V3=1 XVEC=2 MOE_MODE=0", "XVEC");
    }
    /* XVEC: phase 1's x reads become 16-byte shared loads (none without it), still no local memory */
    for (int xv = 0; xv < 2; xv++) {
        char pt[160], *log = NULL, *ptx = NULL;
        snprintf(pt, sizeof pt, "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=1 V3=1 PAIR=1 "
                 "PREFETCH=1 XVEC=%d MOE_MODE=0", xv);
        CHECK(compile(src, pt, &log, &ptx) == NVRTC_SUCCESS, "%s: %s", pt, log ? log : "");
        CHECK(ptx && !strstr(ptx, "ld.local") && !strstr(ptx, "st.local"), "%s uses local memory", pt);
        CHECK(ptx && (strstr(ptx, "ld.shared.v4.f32") != NULL) == xv, "%s: ld.shared.v4.f32 %s", pt,
              xv ? "missing" : "present");
        free(log);
        free(ptx);
    }
}

int main(void)
{
    const fw_family *fam = fw_family_find("moe_swiglu");
    char err[256];
    char *src = NULL;
    if (!fam || fam->source("cuda", NULL, &src, err, sizeof err) < 0) {
        fprintf(stderr, "no CUDA source: %s\n", err);
        return 1;
    }
    const char *points[] = {
        "TILE_N=64 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=2",
        "TILE_N=64 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=2 NUM_BUFFERS=2",
        "TILE_N=64 SIMDGROUPS_PER_TG=4 SG_M_TILES=4 SG_N_TILES=2 NUM_BUFFERS=2",
        "TILE_N=128 SIMDGROUPS_PER_TG=4 SG_M_TILES=2 SG_N_TILES=2 NUM_BUFFERS=2",
        "TILE_N=32 SIMDGROUPS_PER_TG=1 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=1",
        "TILE_N=128 SIMDGROUPS_PER_TG=2 SG_M_TILES=2 SG_N_TILES=4 NUM_BUFFERS=4",
        "TILE_N=64 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=2 GATE_BITS=6 UP_BITS=2 DOWN_BITS=3",
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=2 SG_N_TILES=1 NUM_BUFFERS=3",
        /* v3 (issue 16): split-K decode, both side-data modes, the grid copies, the parallel gather */
        "TILE_N=64 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=2 V3=1 SPLIT_K=4 SIDE=1 GRID_COPIES=32",
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=2 SG_N_TILES=1 NUM_BUFFERS=2 V3=1 SPLIT_K=1 SIDE=0 GRID_COPIES=1",
        "TILE_N=128 SIMDGROUPS_PER_TG=2 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=4 V3=1 SPLIT_K=8 SIDE=0 GRID_COPIES=32",
        "TILE_N=32 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=2 V3=1 SPLIT_K=4 SIDE=1 GRID_COPIES=1 P2_SPREAD=1",
        /* PAIR 1, 2 and OCC_WARPS 32, 40 (every entry: the batched ones take OCC_WARPS too) */
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=2 V3=1 PAIR=1 OCC_WARPS=32",
        "TILE_N=128 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=2 NUM_BUFFERS=2 V3=1 SPLIT_K=2 P2_SPREAD=1 SIDE=1 "
        "GRID_COPIES=32 PAIR=2 OCC_WARPS=40",
        "TILE_N=32 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=2 V3=1 PAIR=2",
        /* V3=2, the ticketed decode (every entry builds: the batched ones keep the parallel gather) */
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=2 V3=2 DOWN_ROWS=384 GROUPS=264",
        "TILE_N=32 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=2 NUM_BUFFERS=4 V3=2 DOWN_ROWS=128 SIDE=1 GRID_COPIES=32 "
        "PAIR=2 OCC_WARPS=32",
        "TILE_N=128 SIMDGROUPS_PER_TG=16 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=1 V3=2 DOWN_ROWS=4096",
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=2 V3=2 SPLIT_K=4 GROUPS=396",
        /* PREFETCH 1 (phase 1 pipelined) under V3=1 and V3=2, 2 (+ down's first chunk before the join) */
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=1 V3=1 PAIR=1 PREFETCH=1",
        "TILE_N=32 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=2 NUM_BUFFERS=2 V3=1 SPLIT_K=4 SIDE=1 GRID_COPIES=32 "
        "P2_SPREAD=1 PAIR=2 PREFETCH=1",
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=2 V3=1 PAIR=2 OCC_WARPS=24 PREFETCH=2",
        "TILE_N=128 SIMDGROUPS_PER_TG=2 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=4 V3=1 SIDE=1 PREFETCH=2",
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=1 V3=2 DOWN_ROWS=128 SPLIT_K=2 PAIR=2 "
        "PREFETCH=1",
        /* XVEC 1 (float4 x reads in phase 1) */
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=1 V3=1 PAIR=2 PREFETCH=2 OCC_WARPS=24 XVEC=1",
        "TILE_N=64 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=2 V3=2 SIDE=1 XVEC=1",
        /* V3=3, the tensor-core decode (the batched entries keep the parallel gather) */
        "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=1 V3=3",
        "TILE_N=32 SIMDGROUPS_PER_TG=16 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=2 V3=3 SIDE=1 OCC_WARPS=32",
        "TILE_N=128 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=2 V3=3",
    };
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        char *log = NULL, *ptx = NULL;
        nvrtcResult r = compile(src, points[i], &log, &ptx);
        CHECK(r == NVRTC_SUCCESS, "%s: %s\n%s", points[i], nvrtcGetErrorString(r), log ? log : "");
        for (size_t e = 0; ptx && e < 5; e++) {
            char want[96];
            snprintf(want, sizeof want, ".entry %s(", entries[e]);
            CHECK(strstr(ptx, want) != NULL, "%s: PTX lacks %s", points[i], entries[e]);
        }
        printf("nvrtc ok: %s\n", points[i]);
        free(log);
        free(ptx);
    }
    /* v2 structure of the decode kernel: weights come in 64-bit loads, NUM_BUFFERS puts more of them
     * in flight (more load sites in the unrolled chunk), and no register array lands in local memory. */
    {
        int nld[2] = {0, 0};
        const char *nbs[2] = {"TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=1 MOE_MODE=0",
                              "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=4 MOE_MODE=0"};
        for (int i = 0; i < 2; i++) {
            char *log = NULL, *ptx = NULL;
            CHECK(compile(src, nbs[i], &log, &ptx) == NVRTC_SUCCESS, "%s: %s", nbs[i], log ? log : "");
            for (const char *q = ptx; q && (q = strstr(q, "ld.global.nc.u64")) != NULL; q++)
                nld[i]++;
            CHECK(ptx && !strstr(ptx, "ld.local") && !strstr(ptx, "st.local"), "%s uses local memory", nbs[i]);
            free(log);
            free(ptx);
        }
        CHECK(nld[0] >= 4 && nld[1] >= 4 * nld[0] / 2, "64-bit weight loads: %d at NUM_BUFFERS 1, %d at 4",
              nld[0], nld[1]);
        printf("decode ld.global.nc.u64 sites: %d at NUM_BUFFERS=1, %d at NUM_BUFFERS=4\n", nld[0], nld[1]);
    }
    /* v3 decode: no local memory, 64-bit weight loads, the split's arrival count and exchange */
    {
        char *log = NULL, *ptx = NULL;
        const char *pt = "TILE_N=32 SIMDGROUPS_PER_TG=4 SG_M_TILES=1 SG_N_TILES=2 NUM_BUFFERS=2 V3=1 SPLIT_K=8 SIDE=1 "
                         "GRID_COPIES=32 MOE_MODE=0";
        CHECK(compile(src, pt, &log, &ptx) == NVRTC_SUCCESS, "%s: %s", pt, log ? log : "");
        CHECK(ptx && !strstr(ptx, "ld.local") && !strstr(ptx, "st.local"), "%s uses local memory", pt);
        CHECK(ptx && strstr(ptx, "ld.global.nc.u64") && strstr(ptx, "atom.global.exch") && strstr(ptx, "atom.global.add.u32"),
              "%s: no 64-bit weight loads, scratch exchange or arrival count", pt);
        free(log);
        free(ptx);
    }
    /* V3=2 decode: no local memory, 64-bit weight loads, the ticket and ready counts */
    {
        char *log = NULL, *ptx = NULL;
        const char *pt = "TILE_N=16 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=4 NUM_BUFFERS=2 V3=2 DOWN_ROWS=384 "
                         "GROUPS=396 SIDE=1 MOE_MODE=0";
        CHECK(compile(src, pt, &log, &ptx) == NVRTC_SUCCESS, "%s: %s", pt, log ? log : "");
        CHECK(ptx && !strstr(ptx, "ld.local") && !strstr(ptx, "st.local"), "%s uses local memory", pt);
        CHECK(ptx && strstr(ptx, "ld.global.nc.u64") && strstr(ptx, "atom.global.add.u32") && strstr(ptx, "atom.global.or"),
              "%s: no 64-bit weight loads, tickets or ready-count reads", pt);
        free(log);
        free(ptx);
        r_bad(src, "TILE_N=16 V3=2 SPLIT_K=2 P2_SPREAD=1 MOE_MODE=0", "V3=2");
        r_bad(src, "TILE_N=16 V3=2 DOWN_ROWS=200 MOE_MODE=0", "DOWN_ROWS");
    }
    /* V3=3 decode: tensor-core products, 32-bit weight loads, no local memory; the knobs it cannot take */
    {
        char *log = NULL, *ptx = NULL;
        const char *pt = "TILE_N=32 SIMDGROUPS_PER_TG=8 SG_M_TILES=1 SG_N_TILES=1 NUM_BUFFERS=2 V3=3 MOE_MODE=0";
        CHECK(compile(src, pt, &log, &ptx) == NVRTC_SUCCESS, "%s: %s", pt, log ? log : "");
        CHECK(ptx && !strstr(ptx, "ld.local") && !strstr(ptx, "st.local"), "%s uses local memory", pt);
        CHECK(ptx && strstr(ptx, "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32") && strstr(ptx, "ld.global.nc.u32"),
              "%s: no m16n8k16 products or 32-bit weight loads", pt);
        free(log);
        free(ptx);
        r_bad(src, "TILE_N=16 V3=3 PAIR=2 MOE_MODE=0", "V3=3");
        r_bad(src, "TILE_N=16 V3=3 SPLIT_K=2 MOE_MODE=0", "V3=3");
    }
    check_inflight(src);
    /* one mode only, as the workload's MOE_MODE macro asks */
    {
        char *log = NULL, *ptx = NULL;
        CHECK(compile(src, "TILE_N=64 MOE_MODE=4", &log, &ptx) == NVRTC_SUCCESS, "%s", log ? log : "");
        CHECK(ptx && strstr(ptx, ".entry moe_trellis_swiglu_grouped(") && !strstr(ptx, ".entry moe_trellis_swiglu_decode("),
              "MOE_MODE=4 should build only the grouped entry");
        free(log);
        free(ptx);
    }
    {
        char *log = NULL, *ptx = NULL;
        nvrtcResult r = compile(src, "TILE_N=24", &log, &ptx);
        CHECK(r != NVRTC_SUCCESS && log && strstr(log, "TILE_N"), "TILE_N=24 compiled or its log does not say why");
        free(log);
        free(ptx);
    }
    free(src);

    char *metal = NULL;
    CHECK(fam->source("metal", NULL, &metal, err, sizeof err) == 0, "%s", err);
    if (metal) {
        for (size_t e = 0; e < 5; e++) {
            char want[96];
            snprintf(want, sizeof want, "(%s, ", entries[e]);
            CHECK(strstr(metal, entries[e]) != NULL, "Metal source lacks %s", entries[e]);
        }
        CHECK(strstr(metal, "constant MoEParams &p [[buffer(17)]]") && strstr(metal, "[[buffer(19)]]"),
              "Metal entries do not bind params at 17 (per-token) and meta at 19 (grouped)");
        free(metal);
    }
    return failures ? 1 : 0;
}
