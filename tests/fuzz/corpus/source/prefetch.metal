/* prefetch.metal - a Metal loop over device memory: Metal has no prefetch built-in, so
 * async_prefetch_hint has no site here (docs/transforms.md). Written for fairway's tests. */
#include <metal_stdlib>
using namespace metal;

kernel void dot_rows(device const float *A [[buffer(0)]], device const float *x [[buffer(1)]],
                     device float *y [[buffer(2)]], constant uint &K [[buffer(3)]],
                     uint r [[thread_position_in_grid]])
{
    float acc = 0.0f;
    for (uint k = 0; k < K; k++) {
        acc += A[r * K + k] * x[k];
    }
    y[r] = acc;
}
