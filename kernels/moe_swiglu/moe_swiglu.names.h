/* moe_swiglu.names.h - the moe body's short names, mapped onto the shared prelude
 * (kernels/common/prelude.<dialect>.h), which is assembled before this file. One file serves every
 * dialect; only the entry points (moe_swiglu.<dialect>.entry.h) differ. */
typedef ushort moe_u16;
typedef uint moe_u32;
#define MOE_G FW_GLOBAL
#define MOE_L FW_LOCAL
#define MOE_FN FW_INLINE
#define MOE_BARRIER() FW_BARRIER()
#define moe_h2f(h) fw_f16bits_to_f32((ushort)(h))
#define MOE_EXP(x) fw_exp(x)
#define moe_atomic_add_f32(p, v) fw_atomic_add_f32((p), (v))
