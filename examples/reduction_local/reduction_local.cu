/* Partial sums (CUDA port of reduction_local.cl). CUDA has no local-memory parameter: the spec's
 * "local" argument `part` is no parameter here (n and chunk move down one) and its bytes are the
 * launch's dynamic shared memory, which the kernel reads as `extern __shared__` (docs/spec.md). */
#ifndef BLOCK
#define BLOCK 128
#endif
#ifndef UNROLL
#define UNROLL 1
#endif

extern "C" __global__ void __launch_bounds__(BLOCK) reduce(const float *in, float *out, const int n, const int chunk)
{
    extern __shared__ float part[];   /* BLOCK floats: the spec's {"local": "f32", "count": "BLOCK"} */
    const int g = blockIdx.x, t = threadIdx.x;
    const int lo = g * chunk, hi = min(n, lo + chunk);
    float acc[UNROLL];
    for (int u = 0; u < UNROLL; u++)
        acc[u] = 0.0f;
    int i = lo + t;
    for (; i + (UNROLL - 1) * BLOCK < hi; i += UNROLL * BLOCK)
        for (int u = 0; u < UNROLL; u++)
            acc[u] += in[i + u * BLOCK];
    for (; i < hi; i += BLOCK)
        acc[0] += in[i];
    float s = 0.0f;
    for (int u = 0; u < UNROLL; u++)
        s += acc[u];
    part[t] = s;
    __syncthreads();
    for (int w = BLOCK / 2; w > 0; w /= 2) {
        if (t < w)
            part[t] += part[t + w];
        __syncthreads();
    }
    if (t == 0)
        out[g] = part[0];
}

extern "C" __global__ void reduce_ref(const float *in, float *out, const int n, const int chunk)
{
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    const int lo = g * chunk, hi = min(n, lo + chunk);
    float s = 0.0f;
    for (int i = lo; i < hi; i++)
        s += in[i];
    out[g] = s;
}
