/* The backends compiled into this binary (fw_backend.h: fw_backends / fw_backend_find).
 *
 * A backend is listed when fw_config.h says its toolkit was found (FW_HAVE_*); each backend's
 * meson.build then appends its library to fw_backend_deps, which the worker links. The references
 * are strong on purpose: a weak reference would not pull the backend out of its static library.
 * A backend built against a different FW_BACKEND_VERSION is left out rather than called.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fw_backend.h"
#include "fw_config.h"

#if FW_HAVE_OPENCL
extern const fw_backend fw_opencl_backend;
#endif
#if FW_HAVE_CUDA
#include "fw_cuda.h"
extern const fw_backend fw_cuda_backend;

/* The CUDA backend times a batch of identical launches between one event pair
 * (fw_cuda_launch_batch); the harness's launch_batch (fw_backend.h) may also rotate the inputs per
 * launch, which that call cannot, so such a batch is answered -ENOTSUP and the harness adds up
 * single launches instead. The table is copied once with this op filled in. */
static int cuda_batch_same_args(fw_device *dev, fw_program *prog, const fw_launch *ls, size_t n, uint64_t *elapsed_ns)
{
    if (n == 0 || n > 1u << 20)
        return -EINVAL;
    for (size_t i = 1; i < n; i++) {
        if (ls[i].nargs != ls[0].nargs)
            return -ENOTSUP;
        for (size_t a = 0; a < ls[0].nargs; a++)
            if (ls[i].args[a].kind != ls[0].args[a].kind || ls[i].args[a].buffer != ls[0].args[a].buffer ||
                ls[i].args[a].bytes != ls[0].args[a].bytes || ls[i].args[a].size != ls[0].args[a].size)
                return -ENOTSUP;
    }
    return fw_cuda_launch_batch(dev, prog, &ls[0], (int)n, elapsed_ns);
}
static fw_backend cuda_with_batch;
#endif
#if FW_HAVE_METAL
extern const fw_backend fw_metal_backend;
#endif

static const fw_backend *list[4];
static int built;

static void build(void)
{
    size_t n = 0;
#if FW_HAVE_CUDA
    cuda_with_batch = fw_cuda_backend;
    if (!cuda_with_batch.launch_batch)
        cuda_with_batch.launch_batch = cuda_batch_same_args;
#endif
    const fw_backend *cand[] = {
#if FW_HAVE_OPENCL
        &fw_opencl_backend,
#endif
#if FW_HAVE_CUDA
        &cuda_with_batch,
#endif
#if FW_HAVE_METAL
        &fw_metal_backend,
#endif
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
