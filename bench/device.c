/* Device identity and the DEVICE object of the worker protocol. */
#include "fw_bench.h"

#include <errno.h>
#include <stdio.h>

int fw_device_identity(const fw_device_info *info, char *buf, size_t len)
{
    if (!info || !buf || len == 0)
        return -EINVAL;
    int n = snprintf(buf, len, "%s|%s|%s|%s|%s", info->backend, info->vendor, info->name, info->driver,
                     info->compiler);
    return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

cJSON *fw_bench_device_json(const fw_device_info *info, int index)
{
    char id[1024];
    if (fw_device_identity(info, id, sizeof id) < 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *lim = cJSON_CreateObject();
    if (!o || !lim) {
        cJSON_Delete(o);
        cJSON_Delete(lim);
        return NULL;
    }
    cJSON_AddStringToObject(o, "backend", info->backend);
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddStringToObject(o, "identity", id);
    cJSON_AddStringToObject(o, "dialect", info->dialect);
    cJSON_AddStringToObject(o, "vendor", info->vendor);
    cJSON_AddStringToObject(o, "name", info->name);
    cJSON_AddStringToObject(o, "driver", info->driver);
    cJSON_AddStringToObject(o, "compiler", info->compiler);
    cJSON_AddStringToObject(o, "arch", info->arch);
    cJSON_AddNumberToObject(lim, "max_threads", (double)info->max_threads);
    cJSON_AddNumberToObject(lim, "shared_bytes", (double)info->shared_bytes);
    cJSON_AddNumberToObject(lim, "simd_width", (double)info->simd_width);
    cJSON_AddNumberToObject(lim, "compute_units", (double)info->compute_units);
    cJSON_AddNumberToObject(lim, "global_mem_bytes", (double)info->global_mem_bytes);
    cJSON_AddNumberToObject(lim, "max_alloc_bytes", (double)info->max_alloc_bytes);
    if (info->max_grid[0] || info->max_grid[1] || info->max_grid[2]) {
        double g[3] = { (double)info->max_grid[0], (double)info->max_grid[1], (double)info->max_grid[2] };
        cJSON_AddItemToObject(lim, "max_grid", cJSON_CreateDoubleArray(g, 3));
    }
    cJSON_AddItemToObject(o, "limits", lim);
    return o;
}

uint64_t fw_bench_workload_seed(uint64_t job_seed, int shape_index)
{
    uint64_t z = job_seed + (uint64_t)(shape_index + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
