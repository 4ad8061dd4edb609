// CUDA barrier sites for test_transform.c.
extern "C" __global__ void cu_per_warp(float *out)
{
    __shared__ float slice[8][32];
    const unsigned warp = threadIdx.x / 32;
    slice[warp][threadIdx.x % 32] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = slice[warp][(threadIdx.x + 1) % 32];
}

extern "C" __global__ void cu_global_only(float *out)
{
    out[threadIdx.x] = 1.0f;
    __syncthreads();
    out[threadIdx.x] += out[blockDim.x - 1 - threadIdx.x];
}
