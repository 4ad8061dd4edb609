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

/* v3 (moe_swiglu.v3.h) needs a few things the shared prelude does not carry, one line per dialect:
 * an integer atomic on a global counter that returns the old value (the split-K arrival count, the
 * P2_SPREAD tickets), an atomic read of a global word (P2_SPREAD's ready flags and h values), a
 * float exchange on global memory (the last group of a split reads and zeroes the partial sums in
 * one step), a device-scope fence (partial sums before the arrival count), an atomic increment on
 * threadgroup memory (the parallel token gather) and the private address space of a pointer to a
 * register array (Metal needs `thread`). Metal cannot be compiled here; its lines follow MSL 3.x. */
#if FW_DIALECT_CUDA
#define moe_atomic_inc_g(p) atomicAdd((p), 1u)
#define moe_atomic_read_g(p) atomicOr((p), 0u)
#define moe_atomic_xchg_f32(p, v) atomicExch((p), (v))
#define MOE_GLOBAL_FENCE() __threadfence()
#define moe_atomic_inc_l(p) atomicAdd((p), 1)
#define MOE_P
#elif FW_DIALECT_OPENCL
#define moe_atomic_inc_g(p) atomic_inc((volatile __global uint *)(p))
#define moe_atomic_read_g(p) atomic_or((volatile __global uint *)(p), 0u)
#define moe_atomic_xchg_f32(p, v) atomic_xchg((volatile __global float *)(p), (v))
#define MOE_GLOBAL_FENCE() mem_fence(CLK_GLOBAL_MEM_FENCE)
#define moe_atomic_inc_l(p) atomic_inc((volatile __local int *)(p))
#define MOE_P
#else
#define moe_atomic_inc_g(p) atomic_fetch_add_explicit((device atomic_uint *)(p), 1u, memory_order_relaxed)
#define moe_atomic_read_g(p) atomic_fetch_or_explicit((device atomic_uint *)(p), 0u, memory_order_relaxed)
#define moe_atomic_xchg_f32(p, v) atomic_exchange_explicit((device atomic_float *)(p), (v), memory_order_relaxed)
#define MOE_GLOBAL_FENCE() atomic_thread_fence(mem_flags::mem_device, memory_order_seq_cst, thread_scope_device)
#define moe_atomic_inc_l(p) atomic_fetch_add_explicit((threadgroup atomic_int *)(p), 1, memory_order_relaxed)
#define MOE_P thread
#endif
