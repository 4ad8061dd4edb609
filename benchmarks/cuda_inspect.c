/* cuda_inspect: what NVRTC makes of one variant of a family, without a GPU. Prints ptxas's resource
 * report (registers, spills, stack, shared memory) and a histogram of the PTX memory instructions
 * (are global loads 16 bytes wide? cp.async present?), and can write the PTX, the cubin (for
 * cuobjdump -sass on a GPU machine) and the assembled source.
 *
 * usage: cuda_inspect --family F --shape JSON [--arch sm_90] [--ptx FILE] [--cubin FILE]
 *                     [--source FILE] [NAME=VALUE ...]
 * The workload's shape macros are added (the workload is built with seed 1 to get them). */
#include "fw_cuda.h"
#include "fw_family.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cuda_inspect: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

/* Count PTX opcodes that move memory: ld.global.v4.u32 and friends, by full opcode. */
static void histogram(const char *ptx)
{
    struct { char op[64]; int n; } t[128];
    int nt = 0;
    for (const char *p = ptx; *p; p++) {
        if (p != ptx && p[-1] != '\t' && p[-1] != ' ')
            continue;
        if (strncmp(p, "ld.", 3) && strncmp(p, "st.", 3) && strncmp(p, "cp.async", 8) &&
            strncmp(p, "atom.", 5) && strncmp(p, "red.", 4))
            continue;
        size_t n = strcspn(p, " \t;");
        if (n >= 64)
            continue;
        int i = 0;
        while (i < nt && (strlen(t[i].op) != n || strncmp(t[i].op, p, n)))
            i++;
        if (i == nt) {
            if (nt == 128)
                continue;
            memcpy(t[nt].op, p, n);
            t[nt].op[n] = '\0';
            t[nt++].n = 0;
        }
        t[i].n++;
    }
    printf("PTX memory instructions (static count):\n");
    for (int i = 0; i < nt; i++)
        printf("  %5d  %s\n", t[i].n, t[i].op);
}

int main(int argc, char **argv)
{
    const char *family = NULL, *shape_text = NULL, *arch = "sm_90";
    const char *ptx_out = NULL, *cubin_out = NULL, *src_out = NULL;
    const char *macros[256];
    size_t nm = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--family") && i + 1 < argc)
            family = argv[++i];
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc)
            shape_text = argv[++i];
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc)
            arch = argv[++i];
        else if (!strcmp(argv[i], "--ptx") && i + 1 < argc)
            ptx_out = argv[++i];
        else if (!strcmp(argv[i], "--cubin") && i + 1 < argc)
            cubin_out = argv[++i];
        else if (!strcmp(argv[i], "--source") && i + 1 < argc)
            src_out = argv[++i];
        else if (argv[i][0] != '-' && strchr(argv[i], '=') && nm < 200)
            macros[nm++] = argv[i];
        else {
            fprintf(stderr, "usage: cuda_inspect --family F --shape JSON [--arch sm_90] "
                            "[--ptx FILE] [--cubin FILE] [--source FILE] [NAME=VALUE ...]\n");
            return 2;
        }
    }
    if (!family || !shape_text) {
        fprintf(stderr, "cuda_inspect: --family and --shape are required\n");
        return 2;
    }
    const fw_family *fam = fw_family_find(family);
    if (!fam) {
        fprintf(stderr, "cuda_inspect: unknown family '%s'\n", family);
        return 2;
    }
    char err[4096];
    cJSON *shape = cJSON_Parse(shape_text);
    if (!shape || fam->shape_check(shape, err, sizeof err)) {
        fprintf(stderr, "cuda_inspect: bad shape: %s\n", shape ? err : "not JSON");
        return 2;
    }
    char *src = NULL;
    if (fam->source("cuda", shape, &src, err, sizeof err)) {
        fprintf(stderr, "cuda_inspect: %s\n", err);
        return 1;
    }
    fw_workload *wl = NULL;
    if (fam->workload_new(shape, 1, &wl, err, sizeof err)) {
        fprintf(stderr, "cuda_inspect: workload: %s\n", err);
        return 1;
    }
    static char shape_macro_text[64][96];
    const cJSON *it;
    int k = 0;
    cJSON_ArrayForEach(it, wl->shape_macros) {
        if (k == 64 || nm >= 250)
            break;
        snprintf(shape_macro_text[k], sizeof shape_macro_text[k], "%s=%lld", it->string,
                 (long long)it->valuedouble);
        macros[nm++] = shape_macro_text[k++];
    }
    printf("%s %s entry %s, macros:", family, shape_text, wl->kernel);
    for (size_t i = 0; i < nm; i++)
        printf(" %s", macros[i]);
    printf("\n");
    if (src_out && write_file(src_out, src, strlen(src)))
        return 1;

    void *bin = NULL;
    size_t len = 0;
    char *log = NULL;
    int rc = fw_cuda_nvrtc_compile(src, macros, nm, "--ptxas-options=-v", arch, 1, &bin, &len,
                                   &log);
    printf("%s", log ? log : "");
    if (rc) {
        fprintf(stderr, "cuda_inspect: compile failed (%d)\n", rc);
        return 1;
    }
    if (cubin_out && write_file(cubin_out, bin, len))
        return 1;
    free(bin);
    free(log);
    char varch[32];
    snprintf(varch, sizeof varch, "compute_%s", arch + 3);
    rc = fw_cuda_nvrtc_compile(src, macros, nm, NULL, varch, 0, &bin, &len, &log);
    if (rc) {
        fprintf(stderr, "cuda_inspect: PTX compile failed (%d): %s\n", rc, log ? log : "");
        return 1;
    }
    histogram(bin);
    if (ptx_out && write_file(ptx_out, bin, strlen(bin)))
        return 1;
    free(bin);
    free(log);
    free(src);
    fam->workload_free(wl);
    cJSON_Delete(shape);
    return 0;
}
