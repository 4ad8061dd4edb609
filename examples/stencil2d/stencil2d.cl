/* One step of a hotspot-like 2-D heat stencil: each cell moves toward its four neighbours (clamped at
 * the edges) and gains its power input, out = t + step * (p + (n + s - 2t) * ry + (e + w - 2t) * rx).
 * A work-group of BX x BY work-items, each updating PY cells along y. Tuned by
 * examples/stencil2d/spec.json. */
#ifndef BX
#define BX 16
#endif
#ifndef BY
#define BY 8
#endif
#ifndef PY
#define PY 1
#endif

static float cell(__global const float *t, __global const float *p, const int H, const int W, const int x,
                  const int y, const float rx, const float ry, const float step)
{
    const float c = t[y * W + x];
    const float n = t[max(y - 1, 0) * W + x], s = t[min(y + 1, H - 1) * W + x];
    const float w = t[y * W + max(x - 1, 0)], e = t[y * W + min(x + 1, W - 1)];
    return c + step * (p[y * W + x] + (n + s - 2.0f * c) * ry + (e + w - 2.0f * c) * rx);
}

__kernel __attribute__((reqd_work_group_size(BX, BY, 1)))
void stencil2d(__global const float *t, __global const float *p, __global float *out, const int H, const int W,
               const float rx, const float ry, const float step)
{
    const int x = (int)get_global_id(0);
    const int y0 = (int)get_group_id(1) * BY * PY + (int)get_local_id(1);
    for (int q = 0; q < PY; q++) {
        const int y = y0 + q * BY;
        if (x < W && y < H)
            out[y * W + x] = cell(t, p, H, W, x, y, rx, ry, step);
    }
}

/* The reference: one cell per work-item. */
__kernel void stencil2d_ref(__global const float *t, __global const float *p, __global float *out, const int H,
                            const int W, const float rx, const float ry, const float step)
{
    const int x = (int)get_global_id(0), y = (int)get_global_id(1);
    if (x < W && y < H)
        out[y * W + x] = cell(t, p, H, W, x, y, rx, ry, step);
}
