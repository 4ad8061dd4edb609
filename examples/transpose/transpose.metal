/* Tiled transpose (Metal port of transpose.cl): out[cols][rows] = in[rows][cols]^T through a TILE x
 * TILE threadgroup tile with PAD extra columns. Buffers 0 in, 1 out; rows and cols by value at 2
 * and 3 (setBytes). Tune it with the same spec:
 *   fairway tune --spec examples/transpose/spec.json --source examples/transpose/transpose.metal --entry transpose
 * Syntax-checked on Linux only (tests/kernels/test_metal_syntax.c); not yet run on Apple hardware. */
#include <metal_stdlib>
using namespace metal;

#ifndef TILE
#define TILE 16
#endif
#ifndef PAD
#define PAD 1
#endif

kernel void transpose(device const float *in [[buffer(0)]], device float *out [[buffer(1)]],
                      constant int &rows [[buffer(2)]], constant int &cols [[buffer(3)]],
                      uint2 tg [[threadgroup_position_in_grid]], uint2 lid [[thread_position_in_threadgroup]])
{
    threadgroup float tile[TILE][TILE + PAD];
    const int gx = (int)tg.x * TILE, gy = (int)tg.y * TILE;
    const int lx = (int)lid.x, ly = (int)lid.y;
    if (gx + lx < cols && gy + ly < rows)
        tile[ly][lx] = in[(gy + ly) * cols + gx + lx];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    /* out row gx + ly, column gy + lx: a threadgroup writes contiguous runs of out too */
    if (gy + lx < rows && gx + ly < cols)
        out[(gx + ly) * rows + gy + lx] = tile[lx][ly];
}

/* The reference: one element per thread, straight from in to out. */
kernel void transpose_ref(device const float *in [[buffer(0)]], device float *out [[buffer(1)]],
                          constant int &rows [[buffer(2)]], constant int &cols [[buffer(3)]],
                          uint2 gid [[thread_position_in_grid]])
{
    const int x = (int)gid.x, y = (int)gid.y;
    if (x < cols && y < rows)
        out[x * rows + y] = in[y * cols + x];
}
