// OpenCL barrier sites for test_transform.c.
__kernel void cl_per_subgroup(__global float *out)
{
    __local float slice[8][64];
    const uint sg = get_sub_group_id();
    const uint lane = get_sub_group_local_id();
    slice[sg][lane] = (float)lane;
    barrier(CLK_LOCAL_MEM_FENCE);
    out[get_global_id(0)] = slice[sg][lane];
}

__kernel void cl_shared(__global float *out)
{
    __local float tile[64];
    tile[get_local_id(0)] = 1.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    out[get_global_id(0)] = tile[63 - get_local_id(0)];
    barrier(CLK_GLOBAL_MEM_FENCE);
}
