/* 2-D convolution, "same" size with zeros outside: out[y][x] = sum over a K x K filter of
 * in[y + i - K/2][x + j - K/2] * f[i][j]. A work-group of BX x BY work-items, each computing PX
 * outputs along x. CUDA port of conv2d.cl. */
#ifndef BX
#define BX 16
#endif
#ifndef BY
#define BY 8
#endif
#ifndef PX
#define PX 1
#endif

extern "C" __global__ void __launch_bounds__(BX * BY)
conv2d(const float *in, const float *f, float *out, const int H, const int W,
            const int K)
{
    const int y = (int)(blockIdx.y * blockDim.y + threadIdx.y);
    const int x0 = (int)blockIdx.x * BX * PX + (int)threadIdx.x;
    for (int p = 0; p < PX; p++) {
        const int x = x0 + p * BX;
        if (x < W && y < H) {
            float s = 0.0f;
            for (int i = 0; i < K; i++) {
                const int yy = y + i - K / 2;
                if (yy < 0 || yy >= H)
                    continue;
                for (int j = 0; j < K; j++) {
                    const int xx = x + j - K / 2;
                    if (xx >= 0 && xx < W)
                        s += in[yy * W + xx] * f[i * K + j];
                }
            }
            out[y * W + x] = s;
        }
    }
}

/* The reference: one output per work-item. */
extern "C" __global__ void conv2d_ref(const float *in, const float *f, float *out, const int H,
                         const int W, const int K)
{
    const int x = (int)(blockIdx.x * blockDim.x + threadIdx.x), y = (int)(blockIdx.y * blockDim.y + threadIdx.y);
    if (x >= W || y >= H)
        return;
    float s = 0.0f;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            const int yy = y + i - K / 2, xx = x + j - K / 2;
            if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                s += in[yy * W + xx] * f[i * K + j];
        }
    out[y * W + x] = s;
}
