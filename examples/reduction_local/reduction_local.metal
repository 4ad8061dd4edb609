/* Partial sums (Metal port of reduction_local.cl). The spec's local-memory argument `part` (argument
 * 2) is threadgroup memory [[threadgroup(0)]], the first local argument (setThreadgroupMemoryLength:
 * 4 * BLOCK atIndex:0); no buffer is bound at index 2, so n and chunk keep their places 3 and 4
 * (setBytes). Tune it with the same spec:
 *   fairway tune --spec examples/reduction_local/spec.json --source examples/reduction_local/reduction_local.metal --entry reduce
 * Syntax-checked on Linux only (tests/kernels/test_metal_syntax.c); not yet run on Apple hardware. */
#include <metal_stdlib>
using namespace metal;

#ifndef BLOCK
#define BLOCK 128
#endif
#ifndef UNROLL
#define UNROLL 1
#endif

kernel void reduce(device const float *in [[buffer(0)]], device float *out [[buffer(1)]],
                   threadgroup float *part [[threadgroup(0)]], constant int &n [[buffer(3)]],
                   constant int &chunk [[buffer(4)]], uint g [[threadgroup_position_in_grid]],
                   uint t [[thread_position_in_threadgroup]])
{
    const int lo = (int)g * chunk, hi = min(n, lo + chunk);
    float acc[UNROLL];
    for (int u = 0; u < UNROLL; u++)
        acc[u] = 0.0f;
    int i = lo + (int)t;
    for (; i + (UNROLL - 1) * BLOCK < hi; i += UNROLL * BLOCK)
        for (int u = 0; u < UNROLL; u++)
            acc[u] += in[i + u * BLOCK];
    for (; i < hi; i += BLOCK)
        acc[0] += in[i];
    float s = 0.0f;
    for (int u = 0; u < UNROLL; u++)
        s += acc[u];
    part[t] = s;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (int w = BLOCK / 2; w > 0; w /= 2) {
        if ((int)t < w)
            part[t] += part[t + w];
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (t == 0)
        out[g] = part[0];
}

/* The reference: one thread per chunk, in order; it leaves `part` alone ("reference_count": 1). */
kernel void reduce_ref(device const float *in [[buffer(0)]], device float *out [[buffer(1)]],
                       threadgroup float *part [[threadgroup(0)]], constant int &n [[buffer(3)]],
                       constant int &chunk [[buffer(4)]], uint g [[thread_position_in_grid]])
{
    (void)part;
    const int lo = (int)g * chunk, hi = min(n, lo + chunk);
    float s = 0.0f;
    for (int i = lo; i < hi; i++)
        s += in[i];
    out[g] = s;
}
