/* NVRTC through dlopen. Kept apart from the driver half so that compiling needs no GPU: the unit
 * tests run this file on CI, and a compile cache can fill without a device. */
#include "fw_cuda.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nvrtc.h>

#ifndef FW_CUDA_ROOT
#define FW_CUDA_ROOT "/usr/local/cuda"
#endif

typedef nvrtcResult (*p_nvrtcVersion)(int *, int *);
typedef nvrtcResult (*p_nvrtcCreateProgram)(nvrtcProgram *, const char *, const char *, int,
                                            const char *const *, const char *const *);
typedef nvrtcResult (*p_nvrtcCompileProgram)(nvrtcProgram, int, const char *const *);
typedef nvrtcResult (*p_nvrtcGetProgramLogSize)(nvrtcProgram, size_t *);
typedef nvrtcResult (*p_nvrtcGetProgramLog)(nvrtcProgram, char *);
typedef nvrtcResult (*p_nvrtcGetCUBINSize)(nvrtcProgram, size_t *);
typedef nvrtcResult (*p_nvrtcGetCUBIN)(nvrtcProgram, char *);
typedef nvrtcResult (*p_nvrtcGetPTXSize)(nvrtcProgram, size_t *);
typedef nvrtcResult (*p_nvrtcGetPTX)(nvrtcProgram, char *);
typedef nvrtcResult (*p_nvrtcDestroyProgram)(nvrtcProgram *);
typedef const char *(*p_nvrtcGetErrorString)(nvrtcResult);

static struct {
    void *lib;
    char path[512];
    char why[1024];
    int major, minor;
    p_nvrtcVersion Version;
    p_nvrtcCreateProgram CreateProgram;
    p_nvrtcCompileProgram CompileProgram;
    p_nvrtcGetProgramLogSize GetProgramLogSize;
    p_nvrtcGetProgramLog GetProgramLog;
    p_nvrtcGetCUBINSize GetCUBINSize;
    p_nvrtcGetCUBIN GetCUBIN;
    p_nvrtcGetPTXSize GetPTXSize;
    p_nvrtcGetPTX GetPTX;
    p_nvrtcDestroyProgram DestroyProgram;
    p_nvrtcGetErrorString GetErrorString;
} nv;

static pthread_once_t nv_once = PTHREAD_ONCE_INIT;

static void *try_open(const char *path, size_t *whylen)
{
    if (!path || !*path)
        return NULL;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) {
        snprintf(nv.path, sizeof nv.path, "%s", path);
    } else if (*whylen < sizeof nv.why) {
        const char *e = dlerror();
        int n = snprintf(nv.why + *whylen, sizeof nv.why - *whylen, "%s%s", *whylen ? "; " : "",
                         e ? e : path);
        if (n > 0)
            *whylen += (size_t)n;
        if (*whylen > sizeof nv.why)
            *whylen = sizeof nv.why;
    }
    return h;
}

static void nv_load(void)
{
    char buf[2][600];
    const char *home = getenv("CUDA_HOME");
    snprintf(buf[0], sizeof buf[0], "%s/lib64/libnvrtc.so", home ? home : "");
    snprintf(buf[1], sizeof buf[1], "%s/lib64/libnvrtc.so", FW_CUDA_ROOT);
    const char *candidates[] = {
        getenv("FAIRWAY_LIBNVRTC"), home ? buf[0] : NULL, buf[1],
        "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
    };
    size_t whylen = 0;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && !nv.lib; i++)
        nv.lib = try_open(candidates[i], &whylen);
    if (!nv.lib) {
        char tmp[sizeof nv.why];
        snprintf(tmp, sizeof tmp, "%s", nv.why);
        snprintf(nv.why, sizeof nv.why,
                 "cannot load libnvrtc (install the CUDA toolkit or set FAIRWAY_LIBNVRTC to its "
                 "path): %.900s", tmp);
        return;
    }
#define NV_SYM(name)                                                                      \
    do {                                                                                  \
        *(void **)&nv.name = dlsym(nv.lib, "nvrtc" #name);                                \
        if (!nv.name) {                                                                   \
            snprintf(nv.why, sizeof nv.why, "%s lacks nvrtc" #name ": too old an NVRTC", \
                     nv.path);                                                            \
            dlclose(nv.lib);                                                              \
            nv.lib = NULL;                                                                \
            return;                                                                       \
        }                                                                                 \
    } while (0)
    NV_SYM(Version);
    NV_SYM(CreateProgram);
    NV_SYM(CompileProgram);
    NV_SYM(GetProgramLogSize);
    NV_SYM(GetProgramLog);
    NV_SYM(GetCUBINSize);
    NV_SYM(GetCUBIN);
    NV_SYM(GetPTXSize);
    NV_SYM(GetPTX);
    NV_SYM(DestroyProgram);
    NV_SYM(GetErrorString);
#undef NV_SYM
    if (nv.Version(&nv.major, &nv.minor) != NVRTC_SUCCESS) {
        snprintf(nv.why, sizeof nv.why, "%s: nvrtcVersion failed", nv.path);
        dlclose(nv.lib);
        nv.lib = NULL;
    }
}

static int nv_ready(void)
{
    pthread_once(&nv_once, nv_load);
    return nv.lib != NULL;
}

int fw_cuda_nvrtc_version(char *buf, size_t len)
{
    if (!nv_ready()) {
        if (buf && len)
            snprintf(buf, len, "%s", nv.why);
        return -ENOENT;
    }
    snprintf(buf, len, "NVRTC %d.%d", nv.major, nv.minor);
    return 0;
}

int fw_cuda_split_options(const char *options, char **storage, const char **argv, int max)
{
    *storage = NULL;
    if (!options)
        return 0;
    char *copy = strdup(options);
    if (!copy)
        return -ENOMEM;
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
        if (n == max) {
            free(copy);
            return -E2BIG;
        }
        argv[n++] = tok;
    }
    *storage = copy;
    return n;
}

static char *dup_log(nvrtcProgram prog)
{
    size_t n = 0;
    if (nv.GetProgramLogSize(prog, &n) != NVRTC_SUCCESS || n == 0)
        return strdup("");
    char *log = malloc(n + 1);
    if (!log)
        return NULL;
    if (nv.GetProgramLog(prog, log) != NVRTC_SUCCESS)
        log[0] = '\0';
    log[n] = '\0';
    return log;
}

#define MAX_OPTS 256

int fw_cuda_nvrtc_compile(const char *source, const char *const *macros, size_t nmacros,
                          const char *options, const char *arch, int lineinfo,
                          void **cubin, size_t *cubin_len, char **log)
{
    *cubin = NULL;
    *cubin_len = 0;
    if (log)
        *log = NULL;
    if (!nv_ready()) {
        if (log)
            *log = strdup(nv.why);
        return -ENOENT;
    }
    if (!source || !arch || nmacros > MAX_OPTS - 8) {
        if (log)
            *log = strdup("fw_cuda_nvrtc_compile: source and arch are required, and at most 248 "
                          "macros");
        return -EINVAL;
    }

    /* One allocation holds every "-D..." string, so cleanup is one free. */
    size_t need = 64 + strlen(FW_CUDA_ROOT) + 16;
    for (size_t i = 0; i < nmacros; i++)
        need += strlen(macros[i]) + 3;
    char *text = malloc(need);
    if (!text)
        return -ENOMEM;
    const char *argv[MAX_OPTS];
    int argc = 0;
    char *p = text;
    argv[argc++] = p;
    p += sprintf(p, "--gpu-architecture=%s", arch) + 1;
    for (size_t i = 0; i < nmacros; i++) {
        argv[argc++] = p;
        p += sprintf(p, "-D%s", macros[i]) + 1;
    }
    /* NVRTC ships cuda_fp16.h and friends built in since 12.x; the toolkit folder is a fallback for
     * older ones and for headers it does not carry. */
    struct stat st;
    char inc[600];
    snprintf(inc, sizeof inc, "%s/include", FW_CUDA_ROOT);
    if (stat(inc, &st) == 0 && S_ISDIR(st.st_mode)) {
        argv[argc++] = p;
        p += sprintf(p, "-I%s", inc) + 1;
    }
    if (lineinfo)
        argv[argc++] = "-lineinfo";
    char *optstore = NULL;
    int nextra = fw_cuda_split_options(options, &optstore, argv + argc, MAX_OPTS - argc);
    if (nextra < 0) {
        free(text);
        if (log)
            *log = strdup("too many compiler options");
        return nextra == -ENOMEM ? -ENOMEM : -EINVAL;
    }
    argc += nextra;

    nvrtcProgram prog = NULL;
    nvrtcResult r = nv.CreateProgram(&prog, source, "fairway.cu", 0, NULL, NULL);
    if (r != NVRTC_SUCCESS) {
        free(text);
        free(optstore);
        if (log) {
            char msg[256];
            snprintf(msg, sizeof msg, "nvrtcCreateProgram failed: %s", nv.GetErrorString(r));
            *log = strdup(msg);
        }
        return r == NVRTC_ERROR_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
    }
    r = nv.CompileProgram(prog, argc, argv);
    free(text);
    free(optstore);
    if (log)
        *log = dup_log(prog);
    int rc = 0;
    if (r != NVRTC_SUCCESS) {
        rc = r == NVRTC_ERROR_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
        if (log && *log && !**log) {
            free(*log);
            char msg[256];
            snprintf(msg, sizeof msg, "NVRTC failed (%s) and wrote no log", nv.GetErrorString(r));
            *log = strdup(msg);
        }
    } else {
        /* compute_XY: virtual architecture, the output is PTX text (for inspection tools). */
        int ptx = strncmp(arch, "compute_", 8) == 0;
        size_t n = 0;
        nvrtcResult rs = ptx ? nv.GetPTXSize(prog, &n) : nv.GetCUBINSize(prog, &n);
        if (rs != NVRTC_SUCCESS || n == 0) {
            rc = -EINVAL;
            if (log) {
                free(*log);
                char msg[256];
                snprintf(msg, sizeof msg, "NVRTC produced no %s for %s", ptx ? "PTX" : "cubin",
                         arch);
                *log = strdup(msg);
            }
        } else if (!(*cubin = malloc(n))) {
            rc = -ENOMEM;
        } else if ((ptx ? nv.GetPTX(prog, *cubin) : nv.GetCUBIN(prog, *cubin)) != NVRTC_SUCCESS) {
            free(*cubin);
            *cubin = NULL;
            rc = -EIO;
        } else {
            *cubin_len = n;
        }
    }
    nv.DestroyProgram(&prog);
    return rc;
}
