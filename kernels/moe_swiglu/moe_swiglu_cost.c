/* moe_swiglu_cost.c - what a moe_swiglu shape costs before its workload is built (fw_wl_cost,
 * fw_family.h; issue 15 item 12): the buffers moe_swiglu.c's workload makes, sized from the shape
 * alone, and the multiply-adds of its double-precision reference. The routing is drawn from the
 * workload's seed, so a routed layout's weights are bounded by the largest blocks of as many
 * experts as could be routed (min(experts, tokens * top_k)); a dense layout's buffers are exact.
 * tests/job/test_cost.c checks the sizes against the workload itself. */
#include "moe_swiglu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

static int cmp_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* One projection's packed weights (+ 8 bytes of slack, as the workload has): the `routed` largest
 * expert blocks. */
static double weight_bytes(const fw_moe_shape *s, int p, int K, int N, int routed)
{
    size_t b[FW_MOE_MAX_EXPERTS];
    for (int e = 0; e < s->experts; e++)
        b[e] = fw_moe_proj_bytes(s->bits[e][p], K, N);
    qsort(b, (size_t)s->experts, sizeof b[0], cmp_desc);
    double sum = 8;
    for (int e = 0; e < routed; e++)
        sum += (double)b[e];
    return sum;
}

static void add(fw_wl_cost *c, const char *name, double bytes, int input)
{
    fw_wl_cost_add(c, name, bytes > 0 ? bytes : 16, input);   /* set_buf's least size */
}

int fw_moe_cost(const cJSON *shape, fw_wl_cost *out, char *err, size_t errlen)
{
    fw_moe_shape *s = malloc(sizeof *s);
    if (!s)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    int rc = fw_moe_shape_parse(shape, s, err, errlen);
    if (rc < 0) {
        free(s);
        return rc;
    }
    memset(out, 0, sizeof *out);
    const double T = s->tokens, H = s->hidden, I = s->intermediate, E = s->experts, K = s->top_k;
    const double nassign = T * K;
    const int routed = s->dense || nassign >= E ? s->experts : (int)nassign;
    add(out, "activations", T * H * 2, 1);
    add(out, "gate_weights", weight_bytes(s, 0, s->hidden, s->intermediate, routed), 1);
    add(out, "gate_scales", E * (H / 128) * I * 2, 1);
    add(out, "up_weights", weight_bytes(s, 1, s->hidden, s->intermediate, routed), 1);
    add(out, "up_scales", E * (H / 128) * I * 2, 1);
    add(out, "down_weights", weight_bytes(s, 2, s->intermediate, s->hidden, routed), 1);
    add(out, "down_scales", E * (I / 128) * H * 2, 1);
    const char *sides[6] = {"gate_su", "gate_sv", "up_su", "up_sv", "down_su", "down_sv"};
    const double side_len[6] = {H, I, H, I, I, H};
    for (int i = 0; i < 6; i++)
        add(out, sides[i], E * side_len[i] * 2, 1);
    add(out, "grid", FW_MOE_GRID_LEVELS * 2, 1);
    if (s->mode == FW_MOE_GROUPED) {
        add(out, "sorted_token_ids", nassign * 4, 1);
        add(out, "expert_offsets", (E + 1) * 4, 1);
        add(out, "sorted_probs", nassign * 2, 1);
    } else {
        add(out, "expert_ids", nassign * 4, 1);
        add(out, "expert_probs", nassign * 2, 1);
    }
    add(out, "output", T * H * 4, 0);
    add(out, "meta", E * 32, 1);
    add(out, "side", E * (double)fw_moe_side_words(s->hidden, s->intermediate) * 4, 1);
    add(out, "scratch", K * (3 * I + (double)(s->intermediate / 8) + 2) * 4, 0);
    /* moe_reference: the reference (tokens x hidden doubles), three dequantized projections of
     * hidden x intermediate doubles; each routed expert dequantized (3*H*I), each assignment's FFN
     * (x.Wg and x.Wu, then the down projection: 3*H*I multiply-adds) */
    out->host_bytes = out->input_bytes + T * H * 8 + 3 * H * I * 8 + 2 * T * H * 4;
    out->reference_ops = ((double)routed + nassign) * 3 * H * I;
    free(s);
    return 0;
}
