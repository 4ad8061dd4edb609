/* gemm.body.h - tiled float32 matrix product C[M,N] = A[M,K] * B[K,N], row-major, written once in
 * fairway's portable subset (kernels/common/prelude.*.h); each dialect's gemm.entry.<dialect>.h
 * declares the threadgroup arrays, fetches the ids and calls fw_gemm_body().
 *
 * Knobs (macros; each changes the code as its name says, DESIGN.md section 3):
 *   TILE_N             output columns per threadgroup
 *   SIMDGROUPS_PER_TG  SIMD groups of 32 lanes per threadgroup: 32 * SIMDGROUPS_PER_TG threads
 *   SG_M_TILES         8-row tiles one SIMD group computes (rows of its sub-block = 8 * SG_M_TILES)
 *   SG_N_TILES         8-column tiles one SIMD group computes (columns = 8 * SG_N_TILES)
 *   NUM_BUFFERS        threadgroup-memory stages for the A/B tiles: 1 = one buffer, two barriers per
 *                      k-step; 2 = ping-pong (tile t+1 is loaded while tile t is computed, one
 *                      barrier per k-step); 3-4 = tiles t+1 .. t+NUM_BUFFERS-1 resident ahead
 *   TILE_K             k-step: columns of A / rows of B staged per step
 * Derived: the SIMD groups form a grid of FW_GEMM_SG_COLS = TILE_N / (8 * SG_N_TILES) columns and
 * FW_GEMM_SG_ROWS = SIMDGROUPS_PER_TG / FW_GEMM_SG_COLS rows, so the threadgroup computes
 * TILE_M = FW_GEMM_SG_ROWS * 8 * SG_M_TILES rows. The host (gemm.c) computes the same TILE_M.
 * Threadgroup memory: 4 * NUM_BUFFERS * TILE_K * (TILE_M + TILE_N) bytes.
 *
 * Inside a SIMD group, lane l owns column l % 8 of each of its 8x8 tiles and rows l / 8 and
 * l / 8 + 4, so each thread keeps 2 * SG_M_TILES x SG_N_TILES accumulators in registers.
 *
 * M, N, K are runtime values (fw_gemm_params, by value); every load and store is guarded, so any
 * sizes work. Test-only: FW_GEMM_SKIP_LAST_K_TILE=1 drops the last k-step (a wrong result on
 * purpose, for the harness's verify_failed tests).
 */
#ifndef TILE_N
#define TILE_N 32
#endif
#ifndef SIMDGROUPS_PER_TG
#define SIMDGROUPS_PER_TG 4
#endif
#ifndef SG_M_TILES
#define SG_M_TILES 2
#endif
#ifndef SG_N_TILES
#define SG_N_TILES 2
#endif
#ifndef NUM_BUFFERS
#define NUM_BUFFERS 2
#endif
#ifndef TILE_K
#define TILE_K 16
#endif
#ifndef FW_GEMM_SKIP_LAST_K_TILE
#define FW_GEMM_SKIP_LAST_K_TILE 0
#endif

#if TILE_N <= 0 || SIMDGROUPS_PER_TG <= 0 || SG_M_TILES <= 0 || SG_N_TILES <= 0 || TILE_K <= 0
#error "gemm: TILE_N, SIMDGROUPS_PER_TG, SG_M_TILES, SG_N_TILES and TILE_K must be positive"
#endif
#if NUM_BUFFERS < 1 || NUM_BUFFERS > 4
#error "gemm: NUM_BUFFERS must be 1, 2, 3 or 4"
#endif
#if TILE_N % (8 * SG_N_TILES) != 0
#error "gemm: TILE_N must be a multiple of 8 * SG_N_TILES (whole SIMD-group columns)"
#endif
#if SIMDGROUPS_PER_TG % (TILE_N / (8 * SG_N_TILES)) != 0
#error "gemm: SIMDGROUPS_PER_TG must be a multiple of TILE_N / (8 * SG_N_TILES) (whole SIMD-group rows)"
#endif

#define FW_GEMM_THREADS (32 * SIMDGROUPS_PER_TG)
#define FW_GEMM_SG_TILE_M (8 * SG_M_TILES)
#define FW_GEMM_SG_TILE_N (8 * SG_N_TILES)
#define FW_GEMM_SG_COLS (TILE_N / FW_GEMM_SG_TILE_N)
#define FW_GEMM_SG_ROWS (SIMDGROUPS_PER_TG / FW_GEMM_SG_COLS)
#define TILE_M (FW_GEMM_SG_ROWS * FW_GEMM_SG_TILE_M)
#define FW_GEMM_A_STAGE (TILE_K * TILE_M)   /* floats of one A stage (k-major: [TILE_K][TILE_M]) */
#define FW_GEMM_B_STAGE (TILE_K * TILE_N)   /* floats of one B stage ([TILE_K][TILE_N]) */

/* Host layout: four uint32 (the host writes the same struct, see gemm.c). */
typedef struct fw_gemm_params {
    uint M;
    uint N;
    uint K;
    uint pad;
} fw_gemm_params;

/* Stage k-tile `kt` of A and B into stage `stage`. A is stored k-major so the compute loop's reads
 * (4 rows per k across a SIMD group) fall in different banks; out-of-range elements become 0 so the
 * compute loop needs no guards. */
FW_INLINE void fw_gemm_load_stage(FW_GLOBAL const float *FW_RESTRICT A,
                                  FW_GLOBAL const float *FW_RESTRICT B,
                                  FW_LOCAL float *As, FW_LOCAL float *Bs,
                                  uint M, uint N, uint K, uint m0, uint n0, uint kt, uint stage,
                                  uint tid)
{
    const uint k0 = kt * TILE_K;
    FW_LOCAL float *as = As + stage * FW_GEMM_A_STAGE;
    FW_LOCAL float *bs = Bs + stage * FW_GEMM_B_STAGE;
    for (uint i = tid; i < (uint)FW_GEMM_A_STAGE; i += FW_GEMM_THREADS) {
        const uint r = i / TILE_K, c = i % TILE_K;
        const uint gm = m0 + r, gk = k0 + c;
        as[c * TILE_M + r] = (gm < M && gk < K) ? A[gm * K + gk] : 0.0f;
    }
    for (uint i = tid; i < (uint)FW_GEMM_B_STAGE; i += FW_GEMM_THREADS) {
        const uint r = i / TILE_N, c = i % TILE_N;
        const uint gk = k0 + r, gn = n0 + c;
        bs[i] = (gk < K && gn < N) ? B[gk * N + gn] : 0.0f;
    }
}

/* group_n, group_m: this threadgroup's position (column block, row block); tid: thread index in the
 * threadgroup, 0 .. 32 * SIMDGROUPS_PER_TG - 1. As / Bs: NUM_BUFFERS stages each. */
FW_INLINE void fw_gemm_body(FW_GLOBAL const float *FW_RESTRICT A,
                            FW_GLOBAL const float *FW_RESTRICT B,
                            FW_GLOBAL float *FW_RESTRICT C,
                            uint M, uint N, uint K,
                            FW_LOCAL float *As, FW_LOCAL float *Bs,
                            uint group_n, uint group_m, uint tid)
{
    const uint m0 = group_m * TILE_M;
    const uint n0 = group_n * TILE_N;
    const uint sg = tid / 32u;
    const uint lane = tid % 32u;
    const uint row_base = (sg / FW_GEMM_SG_COLS) * FW_GEMM_SG_TILE_M + lane / 8u;
    const uint col_base = (sg % FW_GEMM_SG_COLS) * FW_GEMM_SG_TILE_N + lane % 8u;

    float acc[2 * SG_M_TILES][SG_N_TILES];
#pragma unroll
    for (int i = 0; i < 2 * SG_M_TILES; i++)
#pragma unroll
        for (int j = 0; j < SG_N_TILES; j++)
            acc[i][j] = 0.0f;

    uint ntiles = (K + TILE_K - 1u) / TILE_K;
#if FW_GEMM_SKIP_LAST_K_TILE
    ntiles = ntiles > 0u ? ntiles - 1u : 0u;
#endif

#if NUM_BUFFERS == 1
    for (uint t = 0; t < ntiles; t++) {
        fw_gemm_load_stage(A, B, As, Bs, M, N, K, m0, n0, t, 0u, tid);
        FW_BARRIER();
        const uint stage = 0u;
#else
    /* Prologue: stages 0 .. NUM_BUFFERS-2 hold k-tiles 0 .. NUM_BUFFERS-2. At step t the tile
     * t + NUM_BUFFERS - 1 goes into the stage tile t - 1 used; the barrier closing step t - 1
     * guarantees every thread is done reading it, so one barrier per k-step suffices. */
    for (uint s = 0; s < (uint)(NUM_BUFFERS - 1); s++)
        if (s < ntiles)
            fw_gemm_load_stage(A, B, As, Bs, M, N, K, m0, n0, s, s, tid);
    FW_BARRIER();
    for (uint t = 0; t < ntiles; t++) {
        const uint ahead = t + (uint)(NUM_BUFFERS - 1);
        if (ahead < ntiles)
            fw_gemm_load_stage(A, B, As, Bs, M, N, K, m0, n0, ahead, ahead % NUM_BUFFERS, tid);
        const uint stage = t % NUM_BUFFERS;
#endif
        FW_LOCAL const float *as = As + stage * FW_GEMM_A_STAGE;
        FW_LOCAL const float *bs = Bs + stage * FW_GEMM_B_STAGE;
        for (uint kk = 0; kk < (uint)TILE_K; kk++) {
            float a[2 * SG_M_TILES];
            float b[SG_N_TILES];
#pragma unroll
            for (int i = 0; i < 2 * SG_M_TILES; i++)
                a[i] = as[kk * TILE_M + row_base + (uint)(i / 2) * 8u + (uint)(i % 2) * 4u];
#pragma unroll
            for (int j = 0; j < SG_N_TILES; j++)
                b[j] = bs[kk * TILE_N + col_base + (uint)j * 8u];
#pragma unroll
            for (int i = 0; i < 2 * SG_M_TILES; i++)
#pragma unroll
                for (int j = 0; j < SG_N_TILES; j++)
                    acc[i][j] = fw_fma(a[i], b[j], acc[i][j]);
        }
        FW_BARRIER();
    }

#pragma unroll
    for (int i = 0; i < 2 * SG_M_TILES; i++) {
        const uint gm = m0 + row_base + (uint)(i / 2) * 8u + (uint)(i % 2) * 4u;
#pragma unroll
        for (int j = 0; j < SG_N_TILES; j++) {
            const uint gn = n0 + col_base + (uint)j * 8u;
            if (gm < M && gn < N)
                C[gm * N + gn] = acc[i][j];
        }
    }
}
