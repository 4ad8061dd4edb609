#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "fw_family.h"
#include "fw_pcg32.h"

void fw_fill_uniform_f32(float *dst, size_t n, uint64_t seed, uint64_t stream, float lo, float hi)
{
    fw_pcg32 r;
    fw_pcg32_seed(&r, seed, stream);
    for (size_t i = 0; i < n; i++)
        dst[i] = lo + (hi - lo) * fw_pcg32_float(&r);
}

/* Round-to-nearest-even float -> IEEE half, with overflow to inf and subnormals. */
uint16_t fw_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffffu;
    if (((x >> 23) & 0xff) == 0xff)   /* inf / nan */
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t h = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++;   /* may carry into the exponent, which is still correct (up to inf) */
    return (uint16_t)(sign | h);
}

float fw_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ffu;
    uint32_t x;
    if (exp == 0) {
        if (mant == 0) {
            x = sign;
        } else {
            float f = ldexpf((float)mant, -24);
            return sign ? -f : f;
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

fw_workload *fw_workload_alloc(size_t nbuffers, size_t nargs)
{
    fw_workload *wl = calloc(1, sizeof *wl);
    if (!wl)
        return NULL;
    wl->buffers = calloc(nbuffers ? nbuffers : 1, sizeof *wl->buffers);
    wl->args = calloc(nargs ? nargs : 1, sizeof *wl->args);
    if (!wl->buffers || !wl->args) {
        free(wl->buffers);
        free(wl->args);
        free(wl);
        return NULL;
    }
    wl->nbuffers = nbuffers;
    wl->nargs = nargs;
    wl->output = -1;
    return wl;
}

void fw_workload_free_common(fw_workload *wl)
{
    if (!wl)
        return;
    for (size_t i = 0; i < wl->nbuffers; i++)
        free(wl->buffers[i].host);
    for (size_t i = 0; i < wl->nargs; i++)
        if (wl->args[i].buffer < 0)
            free((void *)wl->args[i].bytes);
    free(wl->buffers);
    free(wl->args);
    free(wl->reference);
    for (size_t i = 0; i < wl->nmore_outputs; i++)
        free(wl->more_outputs[i].reference);
    free(wl->more_outputs);
    cJSON_Delete(wl->shape_macros);
    free(wl);
}

void fw_wl_cost_add(fw_wl_cost *c, const char *name, double bytes, int input)
{
    c->device_bytes += bytes;
    if (input)
        c->input_bytes += bytes;
    if (bytes > c->largest_bytes) {
        c->largest_bytes = bytes;
        snprintf(c->largest, sizeof c->largest, "%s", name);
    }
}
