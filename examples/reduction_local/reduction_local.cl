/* Partial sums with the work-group's scratch passed in as local memory: the host sizes `part` per
 * variant (the spec's {"local": "f32", "count": "BLOCK"}, clSetKernelArg(kernel, 2, 4 * BLOCK, NULL))
 * instead of the kernel declaring a __local array. Work-group g adds in[g * chunk, (g + 1) * chunk) of
 * n floats into out[g]. Tuned by examples/reduction_local/spec.json. */
#ifndef BLOCK
#define BLOCK 128
#endif
#ifndef UNROLL
#define UNROLL 1
#endif

__kernel __attribute__((reqd_work_group_size(BLOCK, 1, 1)))
void reduce(__global const float *in, __global float *out, __local float *part, const int n, const int chunk)
{
    const int g = (int)get_group_id(0), t = (int)get_local_id(0);
    const int lo = g * chunk, hi = min(n, lo + chunk);
    float acc[UNROLL];
    for (int u = 0; u < UNROLL; u++)
        acc[u] = 0.0f;
    int i = lo + t;
    for (; i + (UNROLL - 1) * BLOCK < hi; i += UNROLL * BLOCK)
        for (int u = 0; u < UNROLL; u++)
            acc[u] += in[i + u * BLOCK];
    for (; i < hi; i += BLOCK)
        acc[0] += in[i];
    float s = 0.0f;
    for (int u = 0; u < UNROLL; u++)
        s += acc[u];
    part[t] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = BLOCK / 2; w > 0; w /= 2) {
        if (t < w)
            part[t] += part[t + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0)
        out[g] = part[0];
}

/* The reference: one work-item per chunk, in order; it has the same arguments and leaves `part`
 * alone (the spec's "reference_count": 1). */
__kernel void reduce_ref(__global const float *in, __global float *out, __local float *part, const int n,
                         const int chunk)
{
    (void)part;
    const int g = (int)get_global_id(0);
    const int lo = g * chunk, hi = min(n, lo + chunk);
    float s = 0.0f;
    for (int i = lo; i < hi; i++)
        s += in[i];
    out[g] = s;
}
