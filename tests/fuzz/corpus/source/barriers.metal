// Barrier sites for test_transform.c (written for fairway's tests). Line numbers are asserted.
#include <metal_stdlib>
using namespace metal;

kernel void per_simdgroup(device float *out [[buffer(0)]],
                          uint lane [[thread_index_in_simdgroup]],
                          uint sg [[simdgroup_index_in_threadgroup]])
{
    threadgroup float slice[4][32];
    slice[sg][lane] = float(lane);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[sg * 32 + lane] = slice[sg][(lane + 1) % 32];
    // threadgroup_barrier(mem_flags::mem_threadgroup);  (a comment: no site)
    threadgroup_barrier(mem_flags::mem_device);
}

kernel void across_groups(device float *out [[buffer(0)]],
                          uint tid [[thread_index_in_threadgroup]])
{
    threadgroup float tile[128];
    tile[tid] = float(tid);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[tid] = tile[127 - tid];
    threadgroup_barrier( mem_flags::mem_threadgroup );
    out[tid] += tile[tid];
}

kernel void no_shared(device float *out [[buffer(0)]], uint tid [[thread_index_in_threadgroup]])
{
    out[tid] = 1.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
}

kernel void passes_pointer(device float *out [[buffer(0)]],
                           threadgroup float *scratch [[threadgroup(0)]],
                           uint sg [[simdgroup_index_in_threadgroup]])
{
    scratch[sg] = 1.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    threadgroup float *p = scratch;
    out[sg] = p[0];
}
