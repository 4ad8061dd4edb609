/* Every examples/NAME/NAME.cu compiles with NVRTC at every point of its spec's space (the knobs as
 * -D macros), and its PTX has the tuned entry and the reference entry. Needs the toolkit, not a GPU.
 * Usage: test_examples_nvrtc EXAMPLES_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fw_test_nvrtc.h"
#include "fw_util.h"

static int failures;

static int has_entry(const char *ptx, const char *entry)
{
    char pat[160];
    snprintf(pat, sizeof pat, ".entry %s(", entry);
    return strstr(ptx, pat) != NULL;
}

/* Compiles at every point of the knobs' odometer; returns the number of points. */
static int compile_all(const char *name, const char *src, const cJSON *knobs, const char *entry, const char *ref)
{
    int nk = cJSON_GetArraySize(knobs), idx[16] = {0}, points = 0;
    if (nk > 16)
        return 0;
    for (;;) {
        char defs[16][96];
        const char *opts[17];
        int k = 0;
        for (const cJSON *kn = knobs->child; kn; kn = kn->next, k++) {
            snprintf(defs[k], sizeof defs[k], "-D%s=%d", kn->string, (int)cJSON_GetArrayItem(kn, idx[k])->valuedouble);
            opts[k] = defs[k];
        }
        opts[nk] = "--gpu-architecture=compute_90";
        char *log = NULL, *ptx = NULL;
        nvrtcResult r = fw_test_nvrtc(src, name, opts, nk + 1, &log, &ptx);
        if (r != NVRTC_SUCCESS || !ptx || !has_entry(ptx, entry) || !has_entry(ptx, ref)) {
            fprintf(stderr, "FAIL %s (%s ...): %s\n%s\n", name, nk ? defs[0] : "", nvrtcGetErrorString(r),
                    log ? log : "");
            failures++;
        }
        free(log);
        free(ptx);
        points++;
        int d = nk - 1;   /* next point: the last knob fastest */
        for (const cJSON *kn; d >= 0; d--) {
            kn = cJSON_GetArrayItem(knobs, d);
            if (++idx[d] < cJSON_GetArraySize(kn))
                break;
            idx[d] = 0;
        }
        if (d < 0)
            return points;
    }
}

static void example(const char *dir, const char *name)
{
    char path[1024], err[256];
    char *text = NULL, *src = NULL;
    size_t n;
    snprintf(path, sizeof path, "%s/%s/spec.json", dir, name);
    if (fw_read_file(path, &text, &n, err, sizeof err) < 0) {
        fprintf(stderr, "FAIL %s: %s\n", path, err);
        failures++;
        return;
    }
    cJSON *spec = cJSON_Parse(text);
    free(text);
    const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "space"), "knobs");
    const char *entry = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(spec, "source"), "entry"));
    const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "workload"), "reference"), "entry"));
    snprintf(path, sizeof path, "%s/%s/%s.cu", dir, name, name);
    if (!cJSON_IsObject(knobs) || !entry || !ref || fw_read_file(path, &src, &n, err, sizeof err) < 0) {
        fprintf(stderr, "FAIL %s: no knobs, entry or reference entry in its spec, or no %s\n", name, path);
        failures++;
    } else {
        int pts = compile_all(path, src, knobs, entry, ref);
        printf("%s: %d points compiled\n", name, pts);
    }
    free(src);
    cJSON_Delete(spec);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s EXAMPLES_DIR\n", argv[0]);
        return 2;
    }
    static const char *const names[] = {"vadd", "transpose", "reduction", "reduction_local", "conv2d", "stencil2d"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        example(argv[1], names[i]);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
