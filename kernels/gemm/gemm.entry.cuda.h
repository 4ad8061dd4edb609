/* gemm.entry.cuda.h - CUDA entry point of the gemm family (body: gemm.body.h).
 * Parameters: 0 A, 1 B, 2 C, 3 fw_gemm_params by value. Launch: grid (ceil(N/TILE_N),
 * ceil(M/TILE_M)) blocks of 32 * SIMDGROUPS_PER_TG threads; static shared memory only. */
FW_KERNEL void __launch_bounds__(FW_GEMM_THREADS)
gemm_tiled(FW_GLOBAL const float *FW_RESTRICT A, FW_GLOBAL const float *FW_RESTRICT B,
           FW_GLOBAL float *FW_RESTRICT C, fw_gemm_params p)
{
    FW_LOCAL_ARRAY(float, As, NUM_BUFFERS * FW_GEMM_A_STAGE);
    FW_LOCAL_ARRAY(float, Bs, NUM_BUFFERS * FW_GEMM_B_STAGE);
    fw_gemm_body(A, B, C, p.M, p.N, p.K, As, Bs, blockIdx.x, blockIdx.y, threadIdx.x);
}
