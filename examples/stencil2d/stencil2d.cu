/* One step of a hotspot-like 2-D heat stencil: each cell moves toward its four neighbours (clamped at
 * the edges) and gains its power input, out = t + step * (p + (n + s - 2t) * ry + (e + w - 2t) * rx).
 * A work-group of BX x BY work-items, each updating PY cells along y. CUDA port of
 * stencil2d.cl. */
#ifndef BX
#define BX 16
#endif
#ifndef BY
#define BY 8
#endif
#ifndef PY
#define PY 1
#endif

static __device__ float cell(const float *t, const float *p, const int H, const int W, const int x,
                  const int y, const float rx, const float ry, const float step)
{
    const float c = t[y * W + x];
    const float n = t[max(y - 1, 0) * W + x], s = t[min(y + 1, H - 1) * W + x];
    const float w = t[y * W + max(x - 1, 0)], e = t[y * W + min(x + 1, W - 1)];
    return c + step * (p[y * W + x] + (n + s - 2.0f * c) * ry + (e + w - 2.0f * c) * rx);
}

extern "C" __global__ void __launch_bounds__(BX * BY)
stencil2d(const float *t, const float *p, float *out, const int H, const int W,
               const float rx, const float ry, const float step)
{
    const int x = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    const int y0 = (int)blockIdx.y * BY * PY + (int)threadIdx.y;
    for (int q = 0; q < PY; q++) {
        const int y = y0 + q * BY;
        if (x < W && y < H)
            out[y * W + x] = cell(t, p, H, W, x, y, rx, ry, step);
    }
}

/* The reference: one cell per work-item. */
extern "C" __global__ void stencil2d_ref(const float *t, const float *p, float *out, const int H,
                            const int W, const float rx, const float ry, const float step)
{
    const int x = (int)(blockIdx.x * blockDim.x + threadIdx.x), y = (int)(blockIdx.y * blockDim.y + threadIdx.y);
    if (x < W && y < H)
        out[y * W + x] = cell(t, p, H, W, x, y, rx, ry, step);
}
