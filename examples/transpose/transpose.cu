/* Tiled transpose (CUDA port of transpose.cl): out[cols][rows] = in[rows][cols]^T. */
#ifndef TILE
#define TILE 16
#endif
#ifndef PAD
#define PAD 1
#endif

extern "C" __global__ void __launch_bounds__(TILE * TILE)
transpose(const float *in, float *out, const int rows, const int cols)
{
    __shared__ float tile[TILE][TILE + PAD];
    const int gx = blockIdx.x * TILE, gy = blockIdx.y * TILE;
    const int lx = threadIdx.x, ly = threadIdx.y;
    if (gx + lx < cols && gy + ly < rows)
        tile[ly][lx] = in[(gy + ly) * cols + gx + lx];
    __syncthreads();
    if (gy + lx < rows && gx + ly < cols)
        out[(gx + ly) * rows + gy + lx] = tile[lx][ly];
}

extern "C" __global__ void transpose_ref(const float *in, float *out, const int rows, const int cols)
{
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < cols && y < rows)
        out[x * rows + y] = in[y * cols + x];
}
