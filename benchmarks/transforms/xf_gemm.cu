/* xf_gemm.cu - a CUDA gemm in the gemm family's layout (0 A, 1 B, 2 C, 3 {uint M, N, K, pad} by
 * value; grid (ceil(N / TILE_N), ceil(M / TILE_M)) of 32 * SIMDGROUPS_PER_TG threads) for the
 * simdgroup_barrier transform on a GPU (docs/transforms.md, BENCHMARKS.md). Each thread computes one
 * element, stages it in shared memory, and after a barrier writes a neighbour's element:
 *   xf_in_warp   the neighbour is in the same warp (part[warp][lane ^ 1]): the site is proven and
 *                __syncwarp() is enough;
 *   xf_cross     the neighbour is in the next warp (part[(warp + 1) % SG][lane]): the site is
 *                unproven, and __syncwarp() there is a race.
 * Written for fairway's benchmarks. */
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
#define XF_THREADS (32 * SIMDGROUPS_PER_TG)
#define XF_TILE_M ((SIMDGROUPS_PER_TG / (TILE_N / (8 * SG_N_TILES))) * 8 * SG_M_TILES)

struct xf_params {
    unsigned M, N, K, pad;
};

__device__ float xf_dot(const float *A, const float *B, xf_params p, unsigned r, unsigned c)
{
    float acc = 0.0f;
    for (unsigned k = 0; k < p.K; k++)
        acc += A[r * p.K + k] * B[k * p.N + c];
    return acc;
}

extern "C" __global__ void xf_in_warp(const float *A, const float *B, float *C, xf_params p)
{
    __shared__ float part[SIMDGROUPS_PER_TG][32];
    const unsigned warp = threadIdx.x / 32;
    const unsigned row0 = blockIdx.y * XF_TILE_M, col0 = blockIdx.x * TILE_N;
    for (unsigned base = 0; base < XF_TILE_M * TILE_N; base += XF_THREADS) {
        unsigned e = base + threadIdx.x, r = row0 + e / TILE_N, c = col0 + e % TILE_N;
        part[warp][threadIdx.x % 32] = (e < XF_TILE_M * TILE_N && r < p.M && c < p.N) ? xf_dot(A, B, p, r, c) : 0.0f;
        __syncthreads();
        unsigned ln = (threadIdx.x % 32) ^ 1, en = base + warp * 32 + ln;
        unsigned rn = row0 + en / TILE_N, cn = col0 + en % TILE_N;
        if (en < XF_TILE_M * TILE_N && rn < p.M && cn < p.N)
            C[rn * p.N + cn] = part[warp][ln];
        __syncthreads();
    }
}

extern "C" __global__ void xf_cross(const float *A, const float *B, float *C, xf_params p)
{
    __shared__ float part[SIMDGROUPS_PER_TG][32];
    const unsigned warp = threadIdx.x / 32;
    const unsigned row0 = blockIdx.y * XF_TILE_M, col0 = blockIdx.x * TILE_N;
    for (unsigned base = 0; base < XF_TILE_M * TILE_N; base += XF_THREADS) {
        unsigned e = base + threadIdx.x, r = row0 + e / TILE_N, c = col0 + e % TILE_N;
        part[warp][threadIdx.x % 32] = (e < XF_TILE_M * TILE_N && r < p.M && c < p.N) ? xf_dot(A, B, p, r, c) : 0.0f;
        __syncthreads();
        unsigned wn = (warp + 1) % SIMDGROUPS_PER_TG, en = base + wn * 32 + threadIdx.x % 32;
        unsigned rn = row0 + en / TILE_N, cn = col0 + en % TILE_N;
        if (en < XF_TILE_M * TILE_N && rn < p.M && cn < p.N)
            C[rn * p.N + cn] = part[wn][threadIdx.x % 32];
        __syncthreads();
    }
}
