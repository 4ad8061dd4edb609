/* user_gemm_tiles.h - the tile settings of user_gemm.cl, under the user's own macro names.
 * Each is #ifndef-guarded so a tuner's -D wins. The defaults are deliberately a tile no job of
 * tests/metal uses (8 columns, 1 SIMD group): if the aliased macros did not reach the compiler, the
 * kernel would cover the wrong tile and fail verification, or fail to launch. */
#ifndef U_TILE_N
#define U_TILE_N 8
#endif
#if !defined(U_SIMDGROUPS)
#define U_SIMDGROUPS 1
#endif
#ifndef U_SG_M
#define U_SG_M 1
#endif
#ifndef U_SG_N
#define U_SG_N 1
#endif
#ifndef U_NBUF
#define U_NBUF 1
#endif
