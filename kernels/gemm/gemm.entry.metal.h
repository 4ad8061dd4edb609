/* gemm.entry.metal.h - Metal entry point of the gemm family (body: gemm.body.h).
 * Buffers: 0 A, 1 B, 2 C, 3 fw_gemm_params (setBytes). Dispatch: threadgroups (ceil(N/TILE_N),
 * ceil(M/TILE_M)) of 32 * SIMDGROUPS_PER_TG threads. Not compiled on Linux: kept mechanical. */
FW_KERNEL void gemm_tiled(FW_GLOBAL const float *A [[buffer(0)]],
                          FW_GLOBAL const float *B [[buffer(1)]],
                          FW_GLOBAL float *C [[buffer(2)]],
                          FW_CONSTANT fw_gemm_params &p [[buffer(3)]],
                          uint3 tg [[threadgroup_position_in_grid]],
                          uint tid [[thread_index_in_threadgroup]])
{
    FW_LOCAL_ARRAY(float, As, NUM_BUFFERS * FW_GEMM_A_STAGE);
    FW_LOCAL_ARRAY(float, Bs, NUM_BUFFERS * FW_GEMM_B_STAGE);
    fw_gemm_body(A, B, C, p.M, p.N, p.K, As, Bs, tg.x, tg.y, tid);
}
