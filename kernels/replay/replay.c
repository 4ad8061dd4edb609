/* The "replay" family: a recorded space (replay/, DESIGN.md section 5) measures no kernel, so the
 * family has no source, workload or geometry; it only checks and keys the shape the file was
 * recorded at (an object of integer fields, e.g. {"size0": 4096, "size1": 4096}). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fw_family.h"
#include "fw_util.h"

static int replay_shape_check(const cJSON *shape, char *err, size_t errlen)
{
    if (!cJSON_IsObject(shape))
        return fw_errf(err, errlen, -EINVAL, "a recorded space's shape is an object of integer fields");
    for (const cJSON *f = shape->child; f; f = f->next)
        if (!cJSON_IsNumber(f) || f->valuedouble != floor(f->valuedouble))
            return fw_errf(err, errlen, -EINVAL, "shape field \"%s\" must be an integer", f->string);
    return 0;
}

/* "size0=4096,size1=4096": the fields sorted by name (a gemm job exported and replayed keeps its
 * "K=256,M=256,N=256"). */
static int replay_shape_key(const cJSON *shape, char *buf, size_t len)
{
    const cJSON *f[64];
    size_t n = 0;
    for (const cJSON *c = shape ? shape->child : NULL; c && n < 64; c = c->next)
        if (cJSON_IsNumber(c))
            f[n++] = c;
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(f[k - 1]->string, f[k]->string) > 0; k--) {
            const cJSON *t = f[k];
            f[k] = f[k - 1];
            f[k - 1] = t;
        }
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, len - used, "%s%s=%.0f", i ? "," : "", f[i]->string, f[i]->valuedouble);
        if (w < 0 || (size_t)w >= len - used)
            return -ENOSPC;
        used += (size_t)w;
    }
    return 0;
}

static int replay_workload_refuse(const cJSON *shape, uint64_t seed, fw_workload **out, char *err, size_t errlen)
{
    (void)shape;
    (void)seed;
    *out = NULL;
    return fw_errf(err, errlen, -ENOTSUP, "family \"replay\" has no kernel to run: its times come from the "
                   "recorded file (backend \"replay\")");
}

const fw_family fw_family_replay = {
    .version = FW_FAMILY_VERSION,
    .name = "replay",
    .description = "a recorded space (Kernel Tuner cache or fairway export) replayed as a device: no kernel",
    .defaults_json = NULL,
    .shape_check = replay_shape_check,
    .shape_key = replay_shape_key,
    .source = NULL,
    .workload_new = replay_workload_refuse,
    .workload_free = NULL,
    .geometry = NULL,
};
