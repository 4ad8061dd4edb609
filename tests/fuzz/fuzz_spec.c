/* fuzz_spec.c - what fairwayd does with a submitted spec before anything runs (daemon/methods.c):
 * the options check, fw_spec_resolve, the entry check of a user source, the hash, and the plan for a
 * device.
 *
 * Input: a JSON text (the "spec" of a submit). Checks beyond "no crash": an error always comes with
 * a message; a resolved spec resolves again to the same spec (same hash: search/spec.c promises
 * it, and rerun relies on it); a plan has at most budget x shapes items, each naming a valid shape.
 * Plans are built only for spaces of at most 20000 raw points in all, so one input stays fast (the
 * cost of big spaces is the daemon's work bound, not a parser's concern). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_daemon.h"
#include "fw_job.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define PLAN_POINTS_MAX 20000

static cJSON *device_json(void)
{
    return cJSON_Parse("{\"limits\":{\"max_threads\":1024,\"shared_bytes\":49152,\"simd_width\":32,"
                       "\"compute_units\":4,\"global_mem_bytes\":1073741824}}");
}

static void try_plan(const cJSON *resolved)
{
    fw_space sp;
    char err[1024];
    if (fw_space_from_json(cJSON_GetObjectItemCaseSensitive(resolved, "space"), &sp, err, sizeof(err)) != 0)
        return;
    uint64_t points = fw_space_size(&sp);
    fw_space_release(&sp);
    int nshapes = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resolved, "shapes"));
    if (nshapes <= 0 || points == 0 || points > PLAN_POINTS_MAX / (uint64_t)nshapes)
        return;
    cJSON *dev = device_json();
    fw_plan plan = {0};
    err[0] = '\0';
    int rc = fw_plan_build(resolved, dev, &plan, err, sizeof(err));
    if (rc == 0) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(resolved, "budget");
        double budget = cJSON_IsNumber(b) ? b->valuedouble : 0;
        if (budget > 0)
            CHECK((double)plan.n <= budget * nshapes);
        for (size_t i = 0; i < plan.n; i++)
            CHECK(plan.items[i].shape >= 0 && plan.items[i].shape < nshapes && plan.items[i].origin);
    } else {
        CHECK(err[0]);
    }
    fw_plan_release(&plan);
    cJSON_Delete(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *user = cJSON_ParseWithLength((const char *)data, size);
    if (!user)
        return 0;
    char err[4096];
    err[0] = '\0';
    if (fw_spec_check_options(user, err, sizeof(err)) != 0) {
        CHECK(err[0]);
        cJSON_Delete(user);
        return 0;
    }
    cJSON *res = NULL;
    err[0] = '\0';
    if (fw_spec_resolve(user, &res, err, sizeof(err)) != 0) {
        CHECK(err[0] && res == NULL);
        cJSON_Delete(user);
        return 0;
    }
    CHECK(res);
    char h1[17], h2[17];
    fw_spec_hash(res, h1);
    cJSON *again = NULL;
    err[0] = '\0';
    int rc = fw_spec_resolve(res, &again, err, sizeof(err));
    CHECK(rc == 0);   /* a resolved spec is a valid spec */
    fw_spec_hash(again, h2);
    CHECK(strcmp(h1, h2) == 0);
    cJSON_Delete(again);
    err[0] = '\0';
    if (fw_daemon_check_entry(res, err, sizeof(err)) != 0)
        CHECK(err[0]);
    try_plan(res);
    cJSON_Delete(res);
    cJSON_Delete(user);
    return 0;
}
