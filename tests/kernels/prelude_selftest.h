/* A kernel that exercises every helper of the portable preludes, shared by test_prelude_opencl.c
 * (runs it on PoCL) and test_gemm_nvrtc.c (compiles it with NVRTC). Appended after a prelude and
 * followed by a dialect's entry point (defined in each test).
 *
 * 64 threads per group (two SIMD groups). Thread t of group g reads x = (t % 32 - 10) / 4 from the
 * half input and (t * 7) & 255 from the uchar input, and writes 8 floats to out[(g * 64 + t) * 8]:
 * simd sum (44), simd max (5.25), the uchar, x through fw_f32_to_f16bits/fw_f16bits_to_f32, fw_fma,
 * fw_exp(0), the constant table entry, fw_as_float(fw_as_uint(x)); and x / 2 as half to hout.
 * acc[0] += x and acc[1] += 1 atomically in every thread. */
#define FW_PRELUDE_SELFTEST_BODY \
"FW_CONSTANT_DATA float selftest_table[4] = {1.0f, 2.0f, 3.0f, 4.0f};\n" \
"FW_INLINE void selftest_body(FW_GLOBAL const fw_half *FW_RESTRICT h, FW_GLOBAL const uchar *u8,\n" \
"                             FW_GLOBAL float *out, FW_GLOBAL float *acc, FW_GLOBAL fw_half *hout,\n" \
"                             FW_LOCAL float *scratch, uint tid, uint group)\n" \
"{\n" \
"    const uint lane = tid % FW_SIMD_WIDTH, sg = tid / FW_SIMD_WIDTH;\n" \
"    const uint g = group * 64u + tid;\n" \
"    float x = fw_load_half(h, tid);\n" \
"    float s = fw_simd_sum(x, scratch + sg * 32u, lane);\n" \
"    float m = fw_simd_max(x, scratch + sg * 32u, lane);\n" \
"    FW_BARRIER();\n" \
"    out[g * 8u + 0u] = s;\n" \
"    out[g * 8u + 1u] = m;\n" \
"    out[g * 8u + 2u] = (float)fw_load_u8(u8, tid);\n" \
"    out[g * 8u + 3u] = fw_f16bits_to_f32(fw_f32_to_f16bits(x));\n" \
"    out[g * 8u + 4u] = fw_fma(x, 2.0f, 1.0f);\n" \
"    out[g * 8u + 5u] = fw_exp(0.0f) + fw_fminf(x, 0.0f) * 0.0f + fw_fmaxf(x, 0.0f) * 0.0f;\n" \
"    out[g * 8u + 6u] = selftest_table[FW_MIN(tid, 3u)] + (float)FW_MAX(0, 0) + (float)FW_HAVE_SIMD_REDUCE * 0.0f;\n" \
"    out[g * 8u + 7u] = fw_as_float(fw_as_uint(x));\n" \
"    fw_store_half(hout, g, x * 0.5f);\n" \
"    fw_atomic_add_f32(acc, x);\n" \
"    fw_atomic_add_f32(acc + 1, 1.0f);\n" \
"}\n"
