/* Vector add, c = a + b, with WPT elements per work-item (strided by the work-group size, so a
 * work-group's loads stay contiguous). Tuned by examples/vadd/spec.json. */
#ifndef WPT
#define WPT 1
#endif
#ifndef BLOCK
#define BLOCK 256   /* work-group size: the launch uses the same knob */
#endif

__kernel __attribute__((reqd_work_group_size(BLOCK, 1, 1))) void vadd(__global const float *a, __global const float *b, __global float *c, const int n)
{
    const int base = (int)get_group_id(0) * (int)get_local_size(0) * WPT + (int)get_local_id(0);
    for (int k = 0; k < WPT; k++) {
        const int i = base + k * (int)get_local_size(0);
        if (i < n)
            c[i] = a[i] + b[i];
    }
}

/* The reference: one element per work-item, nothing to tune. */
__kernel void vadd_ref(__global const float *a, __global const float *b, __global float *c, const int n)
{
    const int i = (int)get_global_id(0);
    if (i < n)
        c[i] = a[i] + b[i];
}
