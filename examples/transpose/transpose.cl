/* Tiled transpose: out[cols][rows] = in[rows][cols]^T through a TILE x TILE tile in local memory,
 * PAD extra columns to keep the column reads off one bank. Tuned by examples/transpose/spec.json. */
#ifndef TILE
#define TILE 16
#endif
#ifndef PAD
#define PAD 1
#endif

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void transpose(__global const float *in, __global float *out, const int rows, const int cols)
{
    __local float tile[TILE][TILE + PAD];
    const int gx = (int)get_group_id(0) * TILE, gy = (int)get_group_id(1) * TILE;
    const int lx = (int)get_local_id(0), ly = (int)get_local_id(1);
    if (gx + lx < cols && gy + ly < rows)
        tile[ly][lx] = in[(gy + ly) * cols + gx + lx];
    barrier(CLK_LOCAL_MEM_FENCE);
    /* out row gx + ly, column gy + lx: a work-group writes contiguous runs of out too */
    if (gy + lx < rows && gx + ly < cols)
        out[(gx + ly) * rows + gy + lx] = tile[lx][ly];
}

/* The reference: one element per work-item, straight from in to out. */
__kernel void transpose_ref(__global const float *in, __global float *out, const int rows, const int cols)
{
    const int x = (int)get_global_id(0), y = (int)get_global_id(1);
    if (x < cols && y < rows)
        out[x * rows + y] = in[y * cols + x];
}
