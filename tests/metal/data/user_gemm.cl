/* user_gemm.cl - a user's own OpenCL gemm kernel, as a user would bring it to fairway: it follows
 * the gemm family's binding layout (0 A, 1 B, 2 C, 3 {uint M, N, K, pad} by value; work-groups of
 * 32 * SIMDGROUPS_PER_TG items over (ceil(N / TILE_N), ceil(M / TILE_M))), and names its tile
 * settings its own way (user_gemm_tiles.h), so a job maps the core knobs with "aliases". TILE_K
 * keeps the core name. C = A * B, row-major float32. */
#include "user_gemm_tiles.h"

#ifndef TILE_K
#define TILE_K 4
#endif

#define U_THREADS (32 * U_SIMDGROUPS)
#define U_TILE_M ((U_SIMDGROUPS / (U_TILE_N / (8 * U_SG_N))) * 8 * U_SG_M)

#if U_NBUF < 1
#error "U_NBUF must be at least 1"
#endif

typedef struct user_params {
    uint M, N, K, pad;
} user_params;

__kernel __attribute__((reqd_work_group_size(U_THREADS, 1, 1)))
void user_gemm(__global const float *A, __global const float *B, __global float *C, user_params p)
{
    const uint row0 = (uint)get_group_id(1) * U_TILE_M;
    const uint col0 = (uint)get_group_id(0) * U_TILE_N;
    for (uint e = (uint)get_local_id(0); e < U_TILE_M * U_TILE_N; e += U_THREADS) {
        const uint r = row0 + e / U_TILE_N, c = col0 + e % U_TILE_N;
        if (r >= p.M || c >= p.N)
            continue;
        float acc = 0.0f;
        for (uint k0 = 0; k0 < p.K; k0 += TILE_K)
            for (uint k = k0; k < k0 + TILE_K && k < p.K; k++)
                acc += A[r * p.K + k] * B[k * p.N + c];
        C[r * p.N + c] = acc;
    }
}
