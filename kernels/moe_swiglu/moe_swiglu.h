/* moe_swiglu.h - the moe_swiglu kernel family: mixed-bit trellis-quantized MoE SwiGLU (issue 4;
 * v3 structure: issue 16, knobs V3 (0..3) / SPLIT_K / SIDE / GRID_COPIES / P2_SPREAD / PAIR / OCC_WARPS /
 * DOWN_ROWS / GROUPS below).
 *
 * COMPUTATION
 *   For each token t and each of its top_k routed experts e with probability p:
 *     out[t] += p * down_e( silu(gate_e(x_t)) * up_e(x_t) )
 *   x_t: half [hidden]; gate_e, up_e: [hidden -> intermediate]; down_e: [intermediate -> hidden].
 *   Output: float [tokens, hidden], an ACCUM buffer (zeroed before the checked launch; the kernel
 *   adds into it with float atomics).
 *
 * WEIGHT FORMAT (metal-marlin trellis, reference/metal-marlin-notes.md 5.3)
 *   A projection W maps K inputs to N outputs (gate/up: K = hidden, N = intermediate; down:
 *   K = intermediate, N = hidden); y[n] = sum_k x[k] * W[k][n].
 *   - 16x16 tiles of `bits`-bit codes; a tile is 32*bits bytes; tiles laid out tile_k * tiles_n + tile_n.
 *   - Inside a tile the code index is n-major (transposed, as metal-marlin): i = n_in*16 + k_in.
 *   - Bit order: code i occupies bits [i*bits, i*bits + bits) of the tile's little-endian bit stream
 *     (bit j of the stream is bit j%8 of byte j/8); a code may straddle two bytes (or two 32-bit words).
 *     Every bit pattern is a valid code (code < 2^bits), so no clamping is needed.
 *   - W[k][n] = grid[code] * scales[e][k/128][n] * su[e][k] * sv[e][n]
 *     grid: half [64], one codebook shared by the three projections, a b-bit projection uses grid[0 .. 2^b);
 *     scales: half [experts][K/128][N] (group 128 along K); su: half [experts][K]; sv: half [experts][N]
 *     (signs +-1; per expert, as each expert's weight carries its own Hadamard signs).
 *   - Each expert has its own (gate, up, down) bits, 2..6. The three weight buffers are the experts'
 *     blocks back to back; per-expert byte offsets and bits come in the meta buffer (below). An expert
 *     no token is routed to has an empty block (its weights are never generated or read).
 *
 * BINDINGS (argument i = Metal buffer i = OpenCL arg i = CUDA param i), metal-marlin's layout:
 *   0 activations half[tokens][hidden]   1 gate w   2 gate scales   3 up w   4 up scales
 *   5 down w   6 down scales   7 gate su   8 gate sv   9 up su   10 up sv   11 down su   12 down sv
 *   13 grid half[64]
 *   per-token modes: 14 expert_ids uint[tokens][top_k]  15 expert_probs half  16 output float
 *                    17 MoEParams (by value)  18 meta  19 side  20 scratch
 *   grouped:         14 sorted_token_ids uint[n]  15 expert_offsets uint[experts+1]
 *                    16 sorted_probs half[n]  17 output float  18 MoEParams (by value)  19 meta
 *                    20 side  21 scratch
 *   MoEParams = 12 x uint32 (batch, hidden, intermediate, num_experts, top_k, gate_bits, up_bits,
 *   down_bits, tile_size=128, gate/up/down n_levels). DEVIATION from metal-marlin's single-tuple params:
 *   the bits fields hold the layer's tuple only when every expert shares it (0 when mixed), and the
 *   extra buffer `meta` (uint[experts][8]: gate_bits, up_bits, down_bits, 0, gate_off, up_off,
 *   down_off, 0; offsets in bytes, multiples of 4) placed AFTER the params index carries per-expert bits
 *   and weight offsets, so one launch serves every bit tuple of a layer. `side` (SIDE DATA below) and
 *   `scratch` (float [top_k][2][intermediate] partial sums, uint [top_k][intermediate/16] arrival
 *   counts, then for P2_SPREAD float [top_k][intermediate] h, uint [top_k][intermediate/16] ready
 *   flags, uint [top_k] tickets, uint [top_k] done counts; V3=2 uses the same h region, ready counts
 *   [top_k][intermediate/16] (the first ceil(intermediate/DOWN_ROWS) of a slot), ticket and done word 0;
 *   a SCRATCH buffer, zeroed before the checked launch, and left zeroed by every launch, except h, which
 *   is always written before it is read) come after it; only the v3 decode kernel reads them, metal-marlin's kernels ignore them.
 *
 * SIDE DATA (v3, SIDE=1; written by the workload from the buffers above, every expert, so metal-
 * marlin's kernels and SIDE=0 keep reading their own layout from the same workload)
 *   Expert e's block starts at word e * W, W = (H/128)*I + (I/128)*H/2 + H/16 + I/32 (32-bit words):
 *   - gu scales uint [H/128][I]: low half = gate scale[g][n] * gate sv[n], high half = up scale[g][n]
 *     * up sv[n] (sv is +-1, so the product is exact): one 32-bit load gives a lane both scales;
 *   - down scales half [I/128][H]: scale[g][h] * down sv[h];
 *   - gate and up su bits uint [H/32][2]: bit k%32 of word 2*(k/32) is 1 when gate su[k] = -1, of
 *     word 2*(k/32)+1 the same for up (32 signs per load instead of one);
 *   - down su bits uint [I/32].
 *
 * SHAPE JSON (all integers except mode and bits)
 *   tokens (1..4096), hidden and intermediate (multiples of 128, <= 16384), experts (1..256),
 *   top_k (1..experts), mode (optional: "decode" | "small" | "base" | "large" | "grouped"; default
 *   from tokens: 1 decode, 2-16 small, 17-32 base, >= 33 large; "decode" needs tokens == 1),
 *   bits: [g,u,d] for every expert, or [[g,u,d], ...] given to experts round robin, or "glm47"
 *   (experts must be 64): (6,2,3)x42, (6,2,2)x8, (6,3,3)x6, (6,3,4)x4, (6,2,4)x3, (6,3,2)x1 assigned to
 *   experts by a fixed seeded shuffle (the layer is part of the shape, not of the job seed).
 *   layout (optional): "routed" (default: only routed experts get weight blocks, packed back to back)
 *   or "dense" (every expert's block is generated and block e sits at e * the block size when the
 *   layer is uniform: the addressing of metal-marlin's own kernels, which take one tuple and no
 *   offsets; costs the whole layer's memory).
 *   Shape key: "bits=glm47,experts=64,hidden=2048,intermediate=1536,mode=grouped,tokens=6,top_k=4";
 *   bits written 6-2-3, or 6-2-3/2-3-4 for a round-robin list; ",layout=dense" appended when dense.
 *
 * MODES AND ENTRY POINTS (one threadgroup = one expert x one chunk of TILE_N intermediate columns)
 *   decode  moe_trellis_swiglu_decode       grid (intermediate/TILE_N, top_k): one slot per group, 1 row
 *                                           (V3: (intermediate/TILE_N [+1 with P2_SPREAD]) * SPLIT_K
 *                                           groups per slot, moe_swiglu.v3.h; V3=2: grid (GROUPS or
 *                                           the work items, 1), moe_swiglu.v3t.h; V3=3: grid
 *                                           (intermediate/TILE_N, top_k), moe_swiglu.v3m.h)
 *   small   moe_trellis_swiglu_prefill4     grid (intermediate/TILE_N, experts)
 *   base    moe_trellis_swiglu              same grid
 *   large   moe_trellis_swiglu_large_batch  same grid
 *   grouped moe_trellis_swiglu_grouped      same grid, tokens sorted by expert
 *   small/base/large share one body path: the groups of expert e scan expert_ids for e's tokens (an
 *   expert with none leaves after the scan), so e's weights are read once per block of 8*SG_M_TILES
 *   tokens; they differ in entry name and in the policy presets that pick them. grouped reads the
 *   host's sorted lists instead of scanning (every expert and every bit tuple in ONE launch).
 *   Structure (v2, every mode; the H100 prototype's, benchmarks/h100_proto.sh):
 *   - The block's tokens' activations and the su signs are staged in threadgroup memory one slab of
 *     hidden rows at a time (slab: the largest power of two <= 2048 with (M + 2) * slab <= 6144
 *     floats at decode, 4096 batched; M = token rows per pass): two barriers per slab, none per tile.
 *   - Phase 1: lane (h = lane / 16, c = lane % 16) owns column c of a 16x16 tile: 16 codes, 16*bits
 *     contiguous bits, which always lie in two 8-byte-aligned 64-bit words of the tile (the second
 *     read only when the bits reach it), so no read leaves the expert's block. The slab's K tile
 *     rows are split over 2 * KP parts (half-warp h of the warps of a column group); a lane issues
 *     the loads of CH1 tile rows x its column tiles x (gate, up), plus their scales, before
 *     decoding any; codes are decoded in registers and applied to every token of the block. The K
 *     parts are summed once in threadgroup memory; SwiGLU (with down's su folded in) follows.
 *   - Phase 2: the TILE_N matching rows of down over every hidden column: half-warp h of warp w
 *     takes output tiles 2w + h, + 2*SIMDGROUPS_PER_TG, ...; a lane loads CH2 output tiles x
 *     TILE_N/16 K tiles before decoding, then does one atomic add per token and output column.
 *   Weight traffic: every byte of a routed expert is read once per block of 8*SG_M_TILES of its
 *   tokens (once in all when the expert has no more tokens than that); activations are re-read once
 *   per TILE_N chunk; the output takes intermediate/TILE_N atomic adds per element and assignment.
 *   Weight blocks start at multiples of 32 bytes (a tile is 32*bits bytes), so 8- and 16-byte
 *   alignment always hold; the codes of one lane are not 16-byte aligned for odd widths, which is
 *   why the loads are 64-bit. Register arrays are indexed only by unrolled compile-time loops.
 *   The workload passes MOE_MODE (0..4, the modes above in order) as a shape macro so a variant
 *   compiles only its mode's entry; without it every entry is built.
 *
 * KNOBS (every mode unless said)
 *   TILE_N             intermediate columns per threadgroup: 16, 32, 64 or 128 (a chunk must not
 *                      straddle a 128-row scale group of down). Larger: fewer groups and fewer output
 *                      atomics, more accumulators per lane. At decode the grid is
 *                      (intermediate/TILE_N) x top_k: TILE_N 16 gives 384 groups at glm47 (~3 per SM
 *                      of an H100); batched modes have (intermediate/TILE_N) x experts.
 *   SIMDGROUPS_PER_TG  warps per group (threads = 32 * SIMDGROUPS_PER_TG). Warps beyond the column
 *                      groups split K (KP = SIMDGROUPS_PER_TG / column groups); fewer warps than
 *                      column groups walk several in turn (more accumulators per lane). Phase 2
 *                      spreads the hidden output tiles over all warps.
 *   SG_M_TILES         batched modes: token rows per pass M = 8 * SG_M_TILES (registers: 2 * M
 *                      accumulators per column tile); decode: one row, constrained to 1.
 *   SG_N_TILES         column tiles a warp takes at once (capped at TILE_N/16); column groups =
 *                      TILE_N / (16 * SG_N_TILES). More: more independent loads per K row, fewer
 *                      warps left to split K.
 *   NUM_BUFFERS        tile groups in flight per lane: phase 1 loads CH1 = 2*NUM_BUFFERS / (column
 *                      tiles per lane) K tile rows of gate and up, phase 2 CH2 = 4*NUM_BUFFERS /
 *                      (TILE_N/16) output tiles of down (each at least 1), before using any; the
 *                      batched modes divide both by SG_M_TILES (their accumulators need the
 *                      registers; they reuse each weight across tokens). Decode, TILE_N 16: 2, 4,
 *                      6, 8 tile rows x (gate, up) = 4..16 windows of 16*bits bits per lane.
 *   GATE_BITS/UP_BITS/DOWN_BITS (optional, not in the default space): compile-time bit widths
 *                      (0 = per-expert run-time bits). Only correct for a layer whose experts all
 *                      share that width; a mismatched variant fails verification.
 *   V3                 0: v2 as above. 1: decode runs moe_swiglu.v3.h (split-K, x*su staged, width-
 *                      specialised code extraction, one scale per tile, contiguous K rows per part)
 *                      and the batched modes gather their tokens with every thread (a queue of
 *                      matches in threadgroup memory instead of thread 0 scanning expert_ids).
 *   SPLIT_K            v3 decode: groups per (slot, TILE_N chunk), each summing hidden/SPLIT_K rows of
 *                      gate and up; partial sums meet in `scratch` by float atomics, the last group
 *                      to arrive (an atomic count) does SwiGLU and down. Grid: (intermediate/TILE_N *
 *                      SPLIT_K) x top_k. 1, 2, 4, 8 (16 in the geometry); hidden % (16*SPLIT_K) == 0.
 *   SIDE               v3 decode: 0 reads metal-marlin's scales/su/sv buffers, 1 the side buffer.
 *   P2_SPREAD          v3 decode with SPLIT_K > 1: 0 = the last group of a chunk runs all of down for
 *                      it; 1 = groups take tickets in start order (an atomic count), the last group
 *                      of a chunk publishes h (SwiGLU output) in `scratch` with a ready flag, and each
 *                      group then runs 1/SPLIT_K of the output tiles of down for the chunk before its
 *                      own (waiting on that flag: its writers hold smaller tickets, so they have
 *                      started and wait on nothing later; no deadlock). Grid: (intermediate/TILE_N
 *                      + 1) * SPLIT_K x top_k; the last group of a slot resets tickets and flags.
 *   GRID_COPIES        v3 decode: 1 or 32 copies of the 64-entry grid in threadgroup memory; with 32,
 *                      lane l reads copy l (bank l), so the lookups of 6-bit codes never conflict.
 *   PAIR               v3 decode: less work per weight for 2- and 3-bit codes. The codes of rows k and
 *                      k+1 are adjacent in a lane's window, so 2*bits bits at once index a table of
 *                      pairs. 0: one grid lookup + one FMA per weight (and one x read per 4).
 *                      1: down (phase 2) of widths 2, 3 reads a pair-sum table of the chunk's h,
 *                      lut[kp][c0 | c1 << b] = grid[c0]*h[2kp] + grid[c1]*h[2kp+1] (TILE_N/2 x 4^b
 *                      floats, built after SwiGLU in the x*su staging area): one extraction, one
 *                      lookup and one add per two weights, no h reads. 2: also gate/up of widths
 *                      2, 3 read static pair tables (grid[c0], grid[c1]) (16 + 64 pairs, 640 bytes):
 *                      one lookup per two weights. Widths 4..6 keep the grid lookup.
 *   OCC_WARPS          v3, CUDA only: resident warps per SM asked of ptxas, as __launch_bounds__'s
 *                      minimum of OCC_WARPS / SIMDGROUPS_PER_TG groups per SM (0: none; at 256
 *                      threads ptxas then takes 80 registers at decode, 32 caps it at 64, 40 at 48,
 *                      with spills the tuner sees as time). A multiple of SIMDGROUPS_PER_TG. OpenCL
 *                      and Metal compile it as a no-op.
 *   V3=2               decode only (the batched modes' constraint keeps V3 at 0 or 1), moe_swiglu.v3t.h:
 *                      the ticketed decode. Groups take tickets from one counter in `scratch`: first
 *                      the A items (one TILE_N chunk of one slot, hidden/SPLIT_K rows of gate/up; the
 *                      chunk's last split to arrive runs SwiGLU, stores h in scratch and bumps the
 *                      ready count of its DOWN_ROWS range), then the
 *                      B items (one DOWN_ROWS range of one slot x 2 * SIMDGROUPS_PER_TG * OT output
 *                      tiles: wait for the range's ready count, stage its h rows, down, one atomic per
 *                      output column), so an output element takes intermediate/DOWN_ROWS atomics per
 *                      slot instead of intermediate/TILE_N, and down overlaps the last A items. A B
 *                      item waits only on A items, whose tickets are all smaller (held by running
 *                      groups, which wait on nothing): no deadlock. NUM_BUFFERS sets a B lane's loads in
 *                      flight: min(4*NB, 8) K tiles x OT = max(4*NB/8, 1) output tiles. SIDE,
 *                      GRID_COPIES, PAIR 2 (gate/up pair tables) and OCC_WARPS as at V3=1; needs
 *                      P2_SPREAD 0, PAIR 0 or 2.
 *   DOWN_ROWS          V3=2: rows of h (K of down) per B item, a multiple of 128 up to 4096 (default
 *                      384; a last range may be shorter). Not in the profile's space (the benchmark's
 *                      GRID=v3b walks it).
 *   GROUPS             V3=2: groups launched, each taking tickets until none are left (persistent);
 *                      0 (default) = one per work item. Not in the profile's space either.
 *   PREFETCH           v3 decode (V3=1 and V3=2's A items): 0 = phase 1 loads a chunk (CH1 tile rows of
 *                      gate and up) and then decodes it. 1 = software-pipelined: the next chunk's
 *                      windows and scales go into a second register set before the current chunk
 *                      is decoded, and a slab's first chunk before the slab's staging barriers, so
 *                      loads stay in flight through decode and barriers (twice phase 1's load
 *                      registers: NUM_BUFFERS 1 with PREFETCH 1 holds what NUM_BUFFERS 2 holds).
 *                      2 = 1, and down's first chunk (CH2 output tiles) is loaded before the join,
 *                      in flight through the join, SwiGLU and PAIR-table barriers; needs V3=1 and
 *                      SPLIT_K 1 (the group that runs down is known up front). Not in the profile's
 *                      space (the benchmark's GRID=inflight walks it).
 *   XVEC               v3 decode (V3=1, V3=2): 1 = phase 1 reads the staged x*su 16 bytes at a time (one
 *                      threadgroup load per 4 weights of a lane instead of one per weight; the same
 *                      values, the same sums); 0 (default) one float at a time. Not in the profile's
 *                      space (GRID=inflight walks it).
 *   V3=3               decode only, moe_swiglu.v3m.h: the tensor-core decode. V3=1's group (one TILE_N
 *                      chunk, one slot, SPLIT_K 1), but each 16x16 weight tile is one m16n8k16 product
 *                      (half inputs, float sums) on CUDA: a lane's A registers come from half2 pair tables
 *                      (4^bits words per width, built per group in threadgroup memory) indexed by two
 *                      adjacent codes, B is x*su (down: h) split into half(v) and half(v - half(v)) in
 *                      B's columns 0 and 1, so the sums keep float precision. Reads metal-marlin's
 *                      trellis tiles unchanged (SIDE 0 or 1). NUM_BUFFERS 1: 4 tiles in flight a lane,
 *                      else 8; PREFETCH 0 or 1 (1 pipelines them: twice the registers). OpenCL and
 *                      Metal compute the same sums without tensor cores (slowly). Needs SPLIT_K 1,
 *                      P2_SPREAD 0, PAIR 0, XVEC 0, GRID_COPIES 1. Threadgroup memory 4 * (4096 + 5520 +
 *                      2*SIMDGROUPS_PER_TG*TILE_N + 2*TILE_N + 68) bytes.
 *   MOE_TEST_DROP_LAST_K (tests only): skips the last K tile row, a deliberately broken variant.
 *   Constraints (defaults_json): intermediate % TILE_N == 0; decode -> SG_M_TILES == 1; per-lane
 *   accumulators bounded (TILE_N * SG_M_TILES <= 128 * SIMDGROUPS_PER_TG, SG_N_TILES * SG_M_TILES
 *   <= 8); threads and threadgroup memory (4 * (2*M*TILE_N + (M+2)*slab + 64 + 2*M + 2) bytes)
 *   within the device limits. The geometry also rejects SIMDGROUPS_PER_TG and column-group counts
 *   that do not divide one another. v3: V3 == 1 || (SPLIT_K, SIDE, GRID_COPIES at 1, 0, 1); the
 *   batched modes likewise keep those three at their v2 values (they only use the parallel gather);
 *   hidden % (16 * SPLIT_K) == 0; PAIR only at decode under V3, OCC_WARPS only under V3; V3=2 only at
 *   decode with PAIR != 1 (P2_SPREAD's constraint already asks V3 == 1); V3=3 only at decode with its
 *   knobs at SPLIT_K 1, P2_SPREAD 0, PAIR 0, GRID_COPIES 1 and its threadgroup memory bounded; the v3
 *   decode threadgroup memory, 4 * (4096 + 64*GRID_COPIES + 4*KP*TILE_N + 2*TILE_N + 4 + 160*(PAIR==2))
 *   bytes (KP: K parts per column group), bounded in the constraint by 4 * (4100 + 64*GRID_COPIES +
 *   64*SIMDGROUPS_PER_TG*SG_N_TILES + 6*TILE_N + 80*PAIR); the batched modes'
 *   token queue adds 8 * 32 * SIMDGROUPS_PER_TG bytes under V3.
 */
#ifndef FW_MOE_SWIGLU_H
#define FW_MOE_SWIGLU_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_family.h"

#define FW_MOE_MAX_EXPERTS 256
#define FW_MOE_GROUP 128            /* scale group along K */
#define FW_MOE_GRID_LEVELS 64       /* codebook entries (2^6) */

enum { FW_MOE_DECODE = 0, FW_MOE_SMALL = 1, FW_MOE_BASE = 2, FW_MOE_LARGE = 3, FW_MOE_GROUPED = 4 };

extern const fw_family fw_family_moe_swiglu;

typedef struct fw_moe_shape {
    int tokens, hidden, intermediate, experts, top_k;
    int mode;                                   /* FW_MOE_* */
    int dense;                                  /* layout "dense": every expert's block present */
    char bits_key[1024];                        /* canonical bits text ("glm47", "6-2-3", ...) */
    uint8_t bits[FW_MOE_MAX_EXPERTS][3];        /* per expert: gate, up, down */
} fw_moe_shape;

/* Parse and check a shape object (see SHAPE JSON above). */
int fw_moe_shape_parse(const cJSON *shape, fw_moe_shape *out, char *err, size_t errlen);
const char *fw_moe_mode_name(int mode);
const char *fw_moe_kernel_name(int mode);

/* Bytes of one projection's packed codes: (K/16)*(N/16)*32*bits. */
size_t fw_moe_proj_bytes(int bits, int K, int N);
/* Pack codes[k*N + n] (each < 2^bits) into the tile format; out must hold fw_moe_proj_bytes(). */
void fw_moe_pack(const uint8_t *codes, int bits, int K, int N, uint8_t *out);
/* The code of W[k][n] in packed data. */
unsigned fw_moe_code(const uint8_t *packed, int bits, int N, int k, int n);
/* Dequantize one expert's projection into out[k*N + n] (double): grid[code]*scale*su*sv. scales is
 * the expert's [K/128][N] block, su [K], sv [N], all IEEE half bits. */
void fw_moe_dequant(const uint8_t *packed, int bits, int K, int N, const uint16_t *scales,
                    const uint16_t *su, const uint16_t *sv, const uint16_t *grid, double *out);
/* One expert on one token, in double: y[h] = sum_i Wd[i][h] * silu(g[i]) * u[i], g = x.Wg, u = x.Wu.
 * Wg, Wu: [H][I]; Wd: [I][H]. */
void fw_moe_expert_ffn(const double *x, const double *wg, const double *wu, const double *wd,
                       int H, int I, double *y);

/* v3 side data (SIDE DATA above): the 32-bit words of one expert's side block, and the packing of
 * one expert's metal-marlin side buffers (IEEE half bits) into it. */
typedef struct fw_moe_side_src {
    const uint16_t *gs, *us, *ds;           /* [H/128][I], [H/128][I], [I/128][H] */
    const uint16_t *gsu, *gsv, *usu, *usv, *dsu, *dsv;   /* [H], [I], [H], [I], [I], [H] */
} fw_moe_side_src;
size_t fw_moe_side_words(int H, int I);
void fw_moe_side_pack(int H, int I, const fw_moe_side_src *src, uint32_t *out);

/* The v3 knobs of a point (defaults: V3 0, SPLIT_K 1, SIDE 0, GRID_COPIES 1, P2_SPREAD 0, PAIR 0,
 * OCC_WARPS 0), checked. */
typedef struct fw_moe_v3 {
    int v3, split_k, side, grid_copies, p2_spread, pair, occ_warps;
    int down_rows, groups;                      /* V3=2 only (defaults 384, 0) */
    int prefetch, xvec;                         /* decode under V3 only (defaults 0) */
} fw_moe_v3;
int fw_moe_v3_knobs(const fw_point *k, fw_moe_v3 *v, char *err, size_t errlen);
/* Threadgroup bytes of the v3 decode kernel for TILE_N and its K parts per column group (MOE_KP). */
int64_t fw_moe_v3_decode_shared(int64_t tile_n, int64_t kparts, int64_t sgs, const fw_moe_v3 *v);
/* V3=2: the work items of a decode launch (A: intermediate/TILE_N chunks per slot; B: DOWN_ROWS
 * ranges x slots x output groups of 2 * SIMDGROUPS_PER_TG * OT tiles), and the groups launched
 * (GROUPS, or one per item); must equal moe3t_plan_of of moe_swiglu.v3t.h. */
int64_t fw_moe_v3t_items(int H, int I, int top_k, int64_t tile_n, int64_t sgs, int64_t nbuf, const fw_moe_v3 *v);
int64_t fw_moe_v3t_groups(int H, int I, int top_k, int64_t tile_n, int64_t sgs, int64_t nbuf, const fw_moe_v3 *v);

/* The cost of a shape (fw_family.cost; moe_swiglu_cost.c). */
int fw_moe_cost(const cJSON *shape, fw_wl_cost *out, char *err, size_t errlen);

/* For tests: the number of (token, slot) assignments routed to expert e in a workload of this
 * family, and its weight block's byte size in the gate buffer (0 when no token is routed to it). */
int fw_moe_workload_expert_tokens(const fw_workload *wl, int e);
size_t fw_moe_workload_gate_bytes(const fw_workload *wl, int e);

#endif
