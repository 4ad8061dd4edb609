/* moe_swiglu.names.h - the moe body's short names, mapped onto the shared prelude
 * (kernels/common/prelude.<dialect>.h), which is assembled before this file. One file serves every
 * dialect; only the entry points (moe_swiglu.<dialect>.entry.h) differ. */
typedef ushort moe_u16;
typedef uint moe_u32;
typedef ulong moe_u64;
#define MOE_G FW_GLOBAL
#define MOE_L FW_LOCAL
#define MOE_FN FW_INLINE
#define MOE_BARRIER() FW_BARRIER()
#define moe_h2f(h) fw_f16bits_to_f32((ushort)(h))
#define MOE_EXP(x) fw_exp(x)
#define moe_atomic_add_f32(p, v) fw_atomic_add_f32((p), (v))
/* A 64-bit load of word i (in 8-byte units) of a 32-bit-word buffer; the address must be 8-byte
 * aligned (moe_swiglu.h: tiles are 32*bits bytes, expert blocks start at multiples of 32). */
#define moe_ld64(p, i) (((MOE_G const moe_u64 *)(p))[(i)])
/* Full unrolling of the loops over register arrays (their indices must be compile-time after it).
 * PoCL's LLVM 15 crashes inlining the fully unrolled body, and a CPU does not need it: OpenCL
 * leaves the choice to the compiler. */
/* The 16-code loops index no register array: unrolled 4 deep only, which keeps NVRTC's time and
 * the code size of the batched modes (16 codes x 8..32 tokens) in check. */
#if FW_DIALECT_OPENCL
#define MOE_UNROLL
#define MOE_UNROLL_J
#else
#define MOE_UNROLL _Pragma("unroll")
#define MOE_UNROLL_J _Pragma("unroll 4")
#endif
