/* bind_gemm.cl - an OpenCL gemm kernel whose tile settings are constants and plain #defines, with
 * no guard anywhere: a file fairway can tune only by overriding those literals ("binds",
 * docs/transforms.md). It follows the gemm family's binding layout (0 A, 1 B, 2 C, 3 {uint M, N, K,
 * pad}; work-groups of 32 * SIMDGROUPS_PER_TG items over (ceil(N / TILE_N), ceil(M / TILE_M))).
 * The defaults are a tile no job of the test uses, so a variant verifies only if the bound values
 * reached the code. C = A * B, row-major float32. Written for fairway's tests. */
__constant uint B_TILE_N = 8;
__constant uint B_TILE_K = 4u;
#define B_SIMDGROUPS 1
#define B_SG_M 1
#define B_SG_N 1
#define B_NBUF 1

#define B_THREADS (32 * B_SIMDGROUPS)
#define B_TILE_M ((B_SIMDGROUPS / (B_TILE_N / (8 * B_SG_N))) * 8 * B_SG_M)

typedef struct bind_params {
    uint M, N, K, pad;
} bind_params;

__kernel __attribute__((reqd_work_group_size(B_THREADS, 1, 1)))
void bind_gemm(__global const float *A, __global const float *B, __global float *C, bind_params p)
{
    const uint row0 = (uint)get_group_id(1) * B_TILE_M;
    const uint col0 = (uint)get_group_id(0) * B_TILE_N;
    for (uint e = (uint)get_local_id(0); e < B_TILE_M * B_TILE_N; e += B_THREADS) {
        const uint r = row0 + e / B_TILE_N, c = col0 + e % B_TILE_N;
        if (r >= p.M || c >= p.N)
            continue;
        float acc = 0.0f;
        for (uint k0 = 0; k0 < p.K; k0 += B_TILE_K * B_NBUF)
            for (uint k = k0; k < k0 + B_TILE_K * B_NBUF && k < p.K; k++)
                acc += A[r * p.K + k] * B[k * p.N + c];
        C[r * p.N + c] = acc;
    }
}
