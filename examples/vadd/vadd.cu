/* Vector add, c = a + b, with WPT elements per thread (CUDA port of vadd.cl). */
#ifndef WPT
#define WPT 1
#endif
#ifndef BLOCK
#define BLOCK 256   /* work-group size: the launch uses the same knob */
#endif

extern "C" __global__ void __launch_bounds__(BLOCK) vadd(const float *a, const float *b, float *c, const int n)
{
    const int base = blockIdx.x * blockDim.x * WPT + threadIdx.x;
    for (int k = 0; k < WPT; k++) {
        const int i = base + k * blockDim.x;
        if (i < n)
            c[i] = a[i] + b[i];
    }
}

extern "C" __global__ void vadd_ref(const float *a, const float *b, float *c, const int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}
