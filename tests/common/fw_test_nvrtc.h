/* fw_test_nvrtc.h - compile a CUDA source with NVRTC in a test (header-only, static; no GPU needed).
 * fw_test_nvrtc() creates the program, compiles it with opts, and hands back the log (always, may be
 * empty) and, when ptx is non-NULL and the compile succeeded, the PTX text (else *ptx = NULL). Both
 * are malloc'd. Returns the nvrtc result; on a failed create the log is the error string. */
#ifndef FW_TEST_NVRTC_H
#define FW_TEST_NVRTC_H

#include <stdlib.h>
#include <string.h>

#include <nvrtc.h>

static inline nvrtcResult fw_test_nvrtc(const char *src, const char *name, const char *const *opts, int nopts,
                                        char **log, char **ptx)
{
    if (ptx)
        *ptx = NULL;
    nvrtcProgram prog;
    nvrtcResult r = nvrtcCreateProgram(&prog, src, name, 0, NULL, NULL);
    if (r != NVRTC_SUCCESS) {
        *log = strdup(nvrtcGetErrorString(r));
        return r;
    }
    r = nvrtcCompileProgram(prog, nopts, opts);
    size_t len = 0;
    nvrtcGetProgramLogSize(prog, &len);
    *log = calloc(1, len + 1);
    if (*log && len)
        nvrtcGetProgramLog(prog, *log);
    if (ptx && r == NVRTC_SUCCESS) {
        size_t pl = 0;
        nvrtcGetPTXSize(prog, &pl);
        *ptx = calloc(1, pl + 1);
        if (*ptx && nvrtcGetPTX(prog, *ptx) != NVRTC_SUCCESS)
            (*ptx)[0] = '\0';
    }
    nvrtcDestroyProgram(&prog);
    return r;
}

#endif
