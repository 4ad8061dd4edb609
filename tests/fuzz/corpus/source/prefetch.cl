/* prefetch.cl - loops for the async_prefetch_hint tests (docs/transforms.md): three sites (lines
 * 10, 22, 32) and loops that are no site, each for the reason its comment gives. Written for
 * fairway's tests; not meant to run. */
typedef struct pt { float x, y; } pt;

__kernel void dot_rows(__global const float *A, __global const float *x, __global float *y, uint K)
{
    const uint r = get_global_id(0);
    float acc = 0.0f;
    for (uint k = 0; k < K; k++) {
        acc += A[r * K + k] * x[k];
    }
    y[r] = acc;
}

__kernel void tiles(__global const float *A, __global const float *B, __global float *C, uint K, uint N)
{
    const uint r = get_global_id(1), c = get_global_id(0);
    float acc = 0.0f;
    for (uint k0 = 0; k0 < K; k0 += 8)
        /* the inner loop is a statement of the outer one: the outer loop is no site */
        for (uint k = k0; k < k0 + 8 && k < K; k++)
            acc += A[r * K + k] * B[k * N + c];
    C[r * N + c] = acc;
}

__kernel void strided(__global const float4 *V, __global float *y, __local float *part, uint n)
{
    float acc = 0.0f;
    const uint lid = get_local_id(0);
    part[lid] = 0.0f;
    for (uint i = lid; i < n; i += get_local_size(0)) {
        acc += V[i].x + part[lid];
        y[i] = acc;
    }
}

__kernel void no_sites(__global const float *A, __global const pt *P, __global float *y, uint n)
{
    float acc = 0.0f;
    uint j = 0;
    for (uint k = 0; k < n; k++) {
        if (k + 1 < n)
            acc += A[k + 1];          /* conditional: no site */
    }
    for (uint k = 0; k < n; k++) {
        j = j + 2;
        acc += A[j + k];              /* j changes in the loop */
    }
    for (uint k = 0; k < n; k++) {
        if (acc > 4.0f)
            continue;
        acc += A[k];                  /* after a continue */
    }
    for (uint k = 0; k < n; k++)
        acc += P[k].x;                /* a struct: OpenCL's prefetch() takes built-in types */
    for (uint k = 0; k < n; k++)
        acc += A[j];                  /* does not follow k */
    for (uint k = 0; k < n; k++)
        y[k] = acc;                   /* a store */
    for (uint k = 0, m = 0; k < n; k++, m++)
        acc += A[k + m];              /* two variables in the header */
    for (uint k = 0; k < n; k++) {
        acc += A[k];
        k += 1;                       /* the loop variable changes in the body */
    }
    for (uint k = 0; k < n; k++)
        acc += k < 4 ? A[k] : 0.0f;   /* a conditional expression */
    y[0] = acc;
}
