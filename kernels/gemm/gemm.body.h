/* gemm.body.h: portable tiled gemm body (to be written) */
