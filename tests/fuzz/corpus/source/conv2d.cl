/* 2-D convolution, "same" size with zeros outside: out[y][x] = sum over a K x K filter of
 * in[y + i - K/2][x + j - K/2] * f[i][j]. A work-group of BX x BY work-items, each computing PX
 * outputs along x. Tuned by examples/conv2d/spec.json. */
#ifndef BX
#define BX 16
#endif
#ifndef BY
#define BY 8
#endif
#ifndef PX
#define PX 1
#endif

__kernel __attribute__((reqd_work_group_size(BX, BY, 1)))
void conv2d(__global const float *in, __global const float *f, __global float *out, const int H, const int W,
            const int K)
{
    const int y = (int)get_global_id(1);
    const int x0 = (int)get_group_id(0) * BX * PX + (int)get_local_id(0);
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
__kernel void conv2d_ref(__global const float *in, __global const float *f, __global float *out, const int H,
                         const int W, const int K)
{
    const int x = (int)get_global_id(0), y = (int)get_global_id(1);
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
