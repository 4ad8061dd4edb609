/* prelude.opencl.h - fairway's portable kernel subset, OpenCL C 1.2 dialect.
 *
 * Kernel bodies are written once against the names below and compile unchanged as OpenCL C 1.2,
 * CUDA C++ (NVRTC) and Metal Shading Language (DESIGN.md section 7). The three preludes
 * (prelude.opencl.h, prelude.cuda.h, prelude.metal.h) define exactly the same set; tests/kernels
 * checks that. A body never fetches thread or group ids itself: it is a function taking them as
 * parameters, and each dialect's thin entry point fetches them its own way (OpenCL get_local_id /
 * get_group_id, CUDA threadIdx / blockIdx, Metal [[thread_index_in_threadgroup]] /
 * [[threadgroup_position_in_grid]]).
 *
 * The set:
 *   FW_DIALECT_OPENCL / FW_DIALECT_CUDA / FW_DIALECT_METAL   1 for this dialect, 0 for the others
 *                                      (for the rare place a dialect specialises)
 *   FW_SIMD_WIDTH                      32: the SIMD group width the core knobs count in
 *   FW_HAVE_SIMD_REDUCE                1 when fw_simd_sum/max use hardware lanes, 0 for the fallback
 *   FW_KERNEL                          entry-point specifier (written before the return type)
 *   FW_GLOBAL                          address space of device buffers (pointer parameters)
 *   FW_LOCAL                           address space of threadgroup / shared / local memory
 *   FW_CONSTANT                        address space of read-only constant buffers (pointer params)
 *   FW_CONSTANT_DATA                   qualifier for program-scope constant tables
 *   FW_LOCAL_ARRAY(type, name, count)  declare a threadgroup array; only at entry-point scope
 *                                      (OpenCL 1.2 and MSL allow nothing else), pass it to the body
 *   FW_INLINE                          helper-function specifier (inlined)
 *   FW_RESTRICT                        no-alias pointer qualifier
 *   FW_BARRIER()                       threadgroup barrier with a threadgroup-memory fence; every
 *                                      thread of the threadgroup must reach it
 *   uint, ushort, uchar, ulong         32/16/8/64-bit unsigned integers (int, short, char too)
 *   fw_half                            16-bit IEEE half as stored in buffers (storage type only:
 *                                      do arithmetic in float)
 *   fw_load_u8(p, i)                   p[i] of a uchar pointer, widened to uint
 *   fw_load_half(p, i)                 p[i] of a fw_half pointer, as float (any address space)
 *   fw_store_half(p, i, v)             p[i] = v (float rounded to nearest-even half)
 *   fw_f16bits_to_f32(ushort bits)     half bit pattern -> float
 *   fw_f32_to_f16bits(float v)         float -> half bit pattern (ushort), round to nearest even
 *   fw_as_float(uint) / fw_as_uint(float)   reinterpret bits
 *   fw_fma(a, b, c)                    a * b + c (float, fused where the device has it)
 *   fw_exp(x), fw_fminf(a, b), fw_fmaxf(a, b)   float math
 *   FW_MIN(a, b), FW_MAX(a, b)         generic min / max (arguments evaluated twice)
 *   fw_simd_sum(v, scratch, lane)      sum of v over the 32 lanes of this SIMD group, returned in
 *   fw_simd_max(v, scratch, lane)      every lane (float). lane = thread index % 32; scratch =
 *                                      this SIMD group's own FW_LOCAL float[32] slice (unused
 *                                      where FW_HAVE_SIMD_REDUCE). Portable rule: call from
 *                                      threadgroup-uniform control flow (the fallback has barriers)
 *                                      with threadgroups a multiple of 32 threads.
 *   fw_atomic_add_f32(p, v)            *p += v atomically on a FW_GLOBAL float (no return value)
 *
 * OpenCL notes: half is storage-only without cl_khr_fp16, so halves are read and written with
 * vload_half / vstore_half. OpenCL 1.2 has no sub-group functions, so the SIMD reductions go
 * through threadgroup memory in a fixed order; float atomics are a compare-and-swap loop.
 */
#define FW_DIALECT_OPENCL 1
#define FW_DIALECT_CUDA 0
#define FW_DIALECT_METAL 0
#define FW_SIMD_WIDTH 32
#define FW_HAVE_SIMD_REDUCE 0

#define FW_KERNEL __kernel
#define FW_GLOBAL __global
#define FW_LOCAL __local
#define FW_CONSTANT __constant
#define FW_CONSTANT_DATA __constant
#define FW_LOCAL_ARRAY(type, name, count) __local type name[count]
#define FW_INLINE static inline
#define FW_RESTRICT restrict
#define FW_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)

typedef half fw_half;

#define fw_load_u8(p, i) ((uint)((p)[(i)]))
#define fw_load_half(p, i) vload_half((i), (p))
#define fw_store_half(p, i, v) vstore_half((float)(v), (i), (p))

FW_INLINE float fw_f16bits_to_f32(ushort bits)
{
    ushort b = bits;
    return vload_half(0, (const __private half *)&b);
}

FW_INLINE ushort fw_f32_to_f16bits(float v)
{
    ushort b;
    vstore_half_rte(v, 0, (__private half *)&b);
    return b;
}

#define fw_as_float(u) as_float((uint)(u))
#define fw_as_uint(f) as_uint((float)(f))
#define fw_fma(a, b, c) fma((float)(a), (float)(b), (float)(c))
#define fw_exp(x) exp((float)(x))
#define fw_fminf(a, b) fmin((float)(a), (float)(b))
#define fw_fmaxf(a, b) fmax((float)(a), (float)(b))
#define FW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FW_MAX(a, b) ((a) > (b) ? (a) : (b))

/* The first barrier keeps a previous reduction's readers from seeing this one's writes; summing
 * the 32 slots in index order makes the result identical in every lane. */
FW_INLINE float fw_simd_sum(float v, __local float *scratch, uint lane)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    scratch[lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    float s = 0.0f;
    for (uint i = 0; i < 32u; i++)
        s += scratch[i];
    return s;
}

FW_INLINE float fw_simd_max(float v, __local float *scratch, uint lane)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    scratch[lane] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    float m = scratch[0];
    for (uint i = 1; i < 32u; i++)
        m = fmax(m, scratch[i]);
    return m;
}

/* OpenCL 1.2 has integer atomics only: retry a CAS on the float's bits until no other thread
 * changed it between our read and our write. */
FW_INLINE void fw_atomic_add_f32(__global float *p, float v)
{
    volatile __global uint *u = (volatile __global uint *)p;
    uint old = *u;
    uint assumed;
    do {
        assumed = old;
        old = atomic_cmpxchg(u, assumed, as_uint(as_float(assumed) + v));
    } while (old != assumed);
}
