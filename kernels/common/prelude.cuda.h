/* prelude.cuda.h - fairway's portable kernel subset, CUDA C++ dialect (NVRTC).
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
 * CUDA notes: the source compiles with NVRTC and includes no header (NVRTC has no include path by
 * default), so fw_half is the raw 16-bit pattern and conversions use the PTX cvt instructions that
 * __half2float / __float2half compile to. Entry points are extern "C" so the backend finds them by
 * their plain name. SIMD reductions are warp shuffles; float atomics are atomicAdd.
 */
#define FW_DIALECT_OPENCL 0
#define FW_DIALECT_CUDA 1
#define FW_DIALECT_METAL 0
#define FW_SIMD_WIDTH 32
#define FW_HAVE_SIMD_REDUCE 1

#define FW_KERNEL extern "C" __global__
#define FW_GLOBAL
#define FW_LOCAL
#define FW_CONSTANT
#define FW_CONSTANT_DATA __constant__
#define FW_LOCAL_ARRAY(type, name, count) __shared__ type name[count]
/* unused: helpers a kernel does not call would each warn "declared but never referenced" */
#define FW_INLINE static __device__ __forceinline__ __attribute__((unused))
#define FW_RESTRICT __restrict__
#define FW_BARRIER() __syncthreads()

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long long ulong;
typedef unsigned short fw_half;

FW_INLINE float fw_f16bits_to_f32(ushort bits)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(bits));
    return f;
}

FW_INLINE ushort fw_f32_to_f16bits(float v)
{
    ushort bits;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(v));
    return bits;
}

#define fw_load_u8(p, i) ((uint)((p)[(i)]))
#define fw_load_half(p, i) fw_f16bits_to_f32((p)[(i)])
#define fw_store_half(p, i, v) ((p)[(i)] = fw_f32_to_f16bits((float)(v)))

#define fw_as_float(u) __uint_as_float((uint)(u))
#define fw_as_uint(f) __float_as_uint((float)(f))
#define fw_fma(a, b, c) fmaf((float)(a), (float)(b), (float)(c))
#define fw_exp(x) expf((float)(x))
#define fw_fminf(a, b) fminf((float)(a), (float)(b))
#define fw_fmaxf(a, b) fmaxf((float)(a), (float)(b))
#define FW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FW_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Butterfly over the full warp: every lane ends with the same value. scratch is unused here. */
FW_INLINE float fw_simd_sum(float v, float *scratch, uint lane)
{
    (void)scratch;
    (void)lane;
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

FW_INLINE float fw_simd_max(float v, float *scratch, uint lane)
{
    (void)scratch;
    (void)lane;
    for (int off = 16; off > 0; off >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

FW_INLINE void fw_atomic_add_f32(float *p, float v)
{
    atomicAdd(p, v);
}
