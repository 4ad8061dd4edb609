/* fw_pcg32.h - PCG32 (XSH-RR, 64-bit state, 32-bit output), written from O'Neill, "PCG: A Family of
 * Simple Fast Space-Efficient Statistically Good Algorithms for Random Number Generation" (2014).
 *
 * The only source of randomness in fairway (DESIGN.md section 4). Reference check (tests/search):
 * seed(42, 54) yields 0xa15c02b7 0x7b47f409 0xba1d3330 0x83d2f293 0xbfa4784b 0xcbed606e.
 * Header-only so kernels/ (seeded inputs) and search/ (strategies) share one definition.
 */
#ifndef FW_PCG32_H
#define FW_PCG32_H

#include <stdint.h>

typedef struct fw_pcg32 {
    uint64_t state;
    uint64_t inc;   /* stream selector, always odd */
} fw_pcg32;

#define FW_PCG32_MULT 6364136223846793005ULL

static inline uint32_t fw_pcg32_next(fw_pcg32 *r)
{
    uint64_t old = r->state;
    r->state = old * FW_PCG32_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

/* Seeding as in the paper's pcg32_srandom_r: state 0, inc = (seq << 1) | 1, step, add seed, step. */
static inline void fw_pcg32_seed(fw_pcg32 *r, uint64_t initstate, uint64_t initseq)
{
    r->state = 0u;
    r->inc = (initseq << 1u) | 1u;
    fw_pcg32_next(r);
    r->state += initstate;
    fw_pcg32_next(r);
}

/* Uniform in [0, bound) without modulo bias (rejection of the low remainder). bound > 0. */
static inline uint32_t fw_pcg32_bounded(fw_pcg32 *r, uint32_t bound)
{
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t x = fw_pcg32_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

/* Uniform in [0, bound) for a 64-bit bound (bound > 0): fw_pcg32_bounded's draws when the bound fits
 * 32 bits, else 64-bit words (high half drawn first) with the same rejection. */
static inline uint64_t fw_pcg32_bounded64(fw_pcg32 *r, uint64_t bound)
{
    if (bound <= UINT32_MAX)
        return fw_pcg32_bounded(r, (uint32_t)bound);
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t hi = fw_pcg32_next(r);
        uint64_t x = (hi << 32) | fw_pcg32_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

/* Uniform float in [0, 1) with 24 random bits. */
static inline float fw_pcg32_float(fw_pcg32 *r)
{
    return (float)(fw_pcg32_next(r) >> 8) * (1.0f / 16777216.0f);
}

#endif
