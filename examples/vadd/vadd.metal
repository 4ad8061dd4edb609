/* Vector add (Metal port of vadd.cl): c = a + b, WPT elements per thread strided by the threadgroup
 * size. Bindings follow the spec's argument order (fw_backend.h): buffers 0 a, 1 b, 2 c, and n by
 * value at index 3 (setBytes). Tune it with the same spec:
 *   fairway tune --spec examples/vadd/spec.json --source examples/vadd/vadd.metal --entry vadd
 * Syntax-checked on Linux only (tests/kernels/test_metal_syntax.c); not yet run on Apple hardware. */
#include <metal_stdlib>
using namespace metal;

#ifndef WPT
#define WPT 1
#endif
#ifndef BLOCK
#define BLOCK 256   /* threads per threadgroup: the launch uses the same knob */
#endif

kernel void vadd(device const float *a [[buffer(0)]], device const float *b [[buffer(1)]],
                 device float *c [[buffer(2)]], constant int &n [[buffer(3)]],
                 uint g [[threadgroup_position_in_grid]], uint t [[thread_position_in_threadgroup]])
{
    const int base = (int)g * BLOCK * WPT + (int)t;
    for (int k = 0; k < WPT; k++) {
        const int i = base + k * BLOCK;
        if (i < n)
            c[i] = a[i] + b[i];
    }
}

/* The reference: one element per thread, nothing to tune. */
kernel void vadd_ref(device const float *a [[buffer(0)]], device const float *b [[buffer(1)]],
                     device float *c [[buffer(2)]], constant int &n [[buffer(3)]],
                     uint i [[thread_position_in_grid]])
{
    if ((int)i < n)
        c[i] = a[i] + b[i];
}
