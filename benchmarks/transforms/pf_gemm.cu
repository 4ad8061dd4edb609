/* pf_gemm.cu - a CUDA gemm in the gemm family's layout (0 A, 1 B, 2 C, 3 {uint M, N, K, pad} by
 * value; grid (ceil(N / TILE_N), ceil(M / TILE_M)) of 32 * SIMDGROUPS_PER_TG threads) whose inner
 * loop is an async_prefetch_hint site (docs/transforms.md): each thread computes one element of C
 * straight from global memory, so the loop's loads of A and B are what a prefetch of the next
 * iteration can hide. Written for fairway's benchmarks. */
#ifndef TILE_N
#define TILE_N 32
#endif
#ifndef SIMDGROUPS_PER_TG
#define SIMDGROUPS_PER_TG 4
#endif
#ifndef SG_M_TILES
#define SG_M_TILES 1
#endif
#ifndef SG_N_TILES
#define SG_N_TILES 1
#endif
#ifndef NUM_BUFFERS
#define NUM_BUFFERS 1
#endif
#ifndef TILE_K
#define TILE_K 8
#endif
#define PF_THREADS (32 * SIMDGROUPS_PER_TG)
#define PF_TILE_M ((SIMDGROUPS_PER_TG / (TILE_N / (8 * SG_N_TILES))) * 8 * SG_M_TILES)

struct pf_params {
    unsigned M, N, K, pad;
};

extern "C" __global__ void pf_gemm(const float *A, const float *B, float *C, pf_params p)
{
    const unsigned row0 = blockIdx.y * PF_TILE_M, col0 = blockIdx.x * TILE_N;
    for (unsigned e = threadIdx.x; e < PF_TILE_M * TILE_N; e += PF_THREADS) {
        const unsigned r = row0 + e / TILE_N, c = col0 + e % TILE_N;
        if (r >= p.M || c >= p.N)
            continue;
        float acc = 0.0f;
        for (unsigned k = 0; k < p.K; k++)
            acc += A[r * p.K + k] * B[k * p.N + c];
        C[r * p.N + c] = acc;
    }
}
