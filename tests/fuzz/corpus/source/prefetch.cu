/* prefetch.cu - async_prefetch_hint in CUDA (docs/transforms.md): one site (line 14); a loop in a
 * __device__ helper is no site (only kernel entries are searched). Written for fairway's tests. */
__device__ float dot(const float *a, const float *b, unsigned n)
{
    float acc = 0.0f;
    for (unsigned k = 0; k < n; k++)
        acc += a[k] * b[k];
    return acc;
}

extern "C" __global__ void rows(const float *__restrict__ A, const float *x, float *y, unsigned K)
{
    float acc = 0.0f; const unsigned r = blockIdx.x * blockDim.x + threadIdx.x;
    for (unsigned k = threadIdx.y; k < K; k = k + blockDim.y) { acc += A[r * K + k] * x[k]; }
    y[r] = acc + dot(A, x, 4);
}
