/* The backends compiled into this binary (fw_backend.h: fw_backends / fw_backend_find).
 *
 * A backend is listed when fw_config.h says its toolkit was found (FW_HAVE_*); each backend's
 * meson.build then appends its library to fw_backend_deps, which the worker links. The references
 * are strong on purpose: a weak reference would not pull the backend out of its static library.
 * A backend built against a different FW_BACKEND_VERSION is left out rather than called.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdint.h>
#include <string.h>

#include "fw_backend.h"
#include "fw_config.h"
#include "fw_worker_replay.h"

#if FW_HAVE_OPENCL
extern const fw_backend fw_opencl_backend;
#endif
#if FW_HAVE_CUDA
extern const fw_backend fw_cuda_backend;
#include "fw_cuda.h"
#endif
#if FW_HAVE_METAL
extern const fw_backend fw_metal_backend;
#endif

static const fw_backend *list[5];
static int built;

static void build(void)
{
    size_t n = 0;
    const fw_backend *cand[] = {
#if FW_HAVE_OPENCL
        &fw_opencl_backend,
#endif
#if FW_HAVE_CUDA
        &fw_cuda_backend,
#endif
#if FW_HAVE_METAL
        &fw_metal_backend,
#endif
        &fw_replay_backend,   /* a recorded space, always there (fw_worker_replay.h) */
        NULL,
    };
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++)
        if (cand[i] && cand[i]->version == FW_BACKEND_VERSION && n + 1 < sizeof list / sizeof list[0])
            list[n++] = cand[i];
    list[n] = NULL;
    built = 1;
}

const fw_backend *const *fw_backends(void)
{
    if (!built)
        build();
    return list;
}

const fw_backend *fw_backend_find(const char *name)
{
    const fw_backend *const *b = fw_backends();
    for (size_t i = 0; name && b[i]; i++)
        if (strcmp(b[i]->name, name) == 0)
            return b[i];
    return NULL;
}

/* Before anything else in main: `fairway-worker --nvrtc-server` is one of a CUDA worker's compiler
 * processes (fw_cuda.h), and any other run of the worker turns them on for its compile pool, unless
 * FAIRWAY_NVRTC_PROCESSES=0. Returns 1 when this process was a compiler process (*exit_code set). */
int fw_worker_backends_init(int argc, char **argv, int *exit_code)
{
#if FW_HAVE_CUDA
    if (argc == 2 && strcmp(argv[1], "--nvrtc-server") == 0) {
        *exit_code = fw_cuda_nvrtc_server(0);
        return 1;
    }
    const char *env = getenv("FAIRWAY_NVRTC_PROCESSES");
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0 && !(env && strcmp(env, "0") == 0)) {
        self[n] = '\0';
        fw_cuda_nvrtc_processes(self);
    }
#else
    (void)argc;
    (void)argv;
    (void)exit_code;
#endif
    return 0;
}
