/* gemm.entry.opencl.h - OpenCL entry point of the gemm family (body: gemm.body.h).
 * Arguments: 0 A, 1 B, 2 C, 3 fw_gemm_params by value. Launch: grid (ceil(N/TILE_N),
 * ceil(M/TILE_M)) work-groups of 32 * SIMDGROUPS_PER_TG work-items. */
FW_KERNEL __attribute__((reqd_work_group_size(FW_GEMM_THREADS, 1, 1)))
void gemm_tiled(FW_GLOBAL const float *FW_RESTRICT A, FW_GLOBAL const float *FW_RESTRICT B,
                FW_GLOBAL float *FW_RESTRICT C, fw_gemm_params p)
{
    FW_LOCAL_ARRAY(float, As, NUM_BUFFERS * FW_GEMM_A_STAGE);
    FW_LOCAL_ARRAY(float, Bs, NUM_BUFFERS * FW_GEMM_B_STAGE);
    fw_gemm_body(A, B, C, p.M, p.N, p.K, As, Bs, (uint)get_group_id(0), (uint)get_group_id(1),
                 (uint)get_local_id(0));
}
