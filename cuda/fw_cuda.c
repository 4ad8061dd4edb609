/* The CUDA backend's driver half: libcuda through dlopen, one primary context per opened device.
 * Contracts are in fw_cuda.h; this file says why where it is not obvious. */
#include "fw_cuda.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda.h>

/* Per-thread error text: the worker compiles on pool threads while its benchmark thread launches,
 * and a shared buffer would hand one thread's build log to another. */
#define ERR_CAP 32768
static _Thread_local char tls_err[ERR_CAP];

/* The exported names behind cuda.h's macros (cuMemAlloc is cuMemAlloc_v2, ...). We call through
 * our own pointer types so the header's renaming never decides which symbol we bind. */
typedef CUresult (*p_cuInit)(unsigned);
typedef CUresult (*p_cuDriverGetVersion)(int *);
typedef CUresult (*p_cuDeviceGetCount)(int *);
typedef CUresult (*p_cuDeviceGet)(CUdevice *, int);
typedef CUresult (*p_cuDeviceGetName)(char *, int, CUdevice);
typedef CUresult (*p_cuDeviceGetAttribute)(int *, CUdevice_attribute, CUdevice);
typedef CUresult (*p_cuDeviceTotalMem)(size_t *, CUdevice);
typedef CUresult (*p_cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
typedef CUresult (*p_cuDevicePrimaryCtxRelease)(CUdevice);
typedef CUresult (*p_cuCtxSetCurrent)(CUcontext);
typedef CUresult (*p_cuStreamCreate)(CUstream *, unsigned);
typedef CUresult (*p_cuStreamDestroy)(CUstream);
typedef CUresult (*p_cuStreamSynchronize)(CUstream);
typedef CUresult (*p_cuEventCreate)(CUevent *, unsigned);
typedef CUresult (*p_cuEventDestroy)(CUevent);
typedef CUresult (*p_cuEventRecord)(CUevent, CUstream);
typedef CUresult (*p_cuEventSynchronize)(CUevent);
typedef CUresult (*p_cuEventElapsedTime)(float *, CUevent, CUevent);
typedef CUresult (*p_cuModuleLoadData)(CUmodule *, const void *);
typedef CUresult (*p_cuModuleUnload)(CUmodule);
typedef CUresult (*p_cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
typedef CUresult (*p_cuFuncGetAttribute)(int *, CUfunction_attribute, CUfunction);
typedef CUresult (*p_cuFuncSetAttribute)(CUfunction, CUfunction_attribute, int);
typedef CUresult (*p_cuMemAlloc)(CUdeviceptr *, size_t);
typedef CUresult (*p_cuMemFree)(CUdeviceptr);
typedef CUresult (*p_cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
typedef CUresult (*p_cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
typedef CUresult (*p_cuMemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
typedef CUresult (*p_cuMemsetD32)(CUdeviceptr, unsigned, size_t);
typedef CUresult (*p_cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
typedef CUresult (*p_cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                                     unsigned, unsigned, CUstream, void **, void **);
typedef CUresult (*p_cuGetErrorName)(CUresult, const char **);
typedef CUresult (*p_cuGetErrorString)(CUresult, const char **);

static struct {
    void *lib;
    int count;           /* devices, 0 when the driver or a GPU is missing */
    int version;         /* cuDriverGetVersion */
    char why[512];       /* why count is 0 */
    p_cuInit Init;
    p_cuDriverGetVersion DriverGetVersion;
    p_cuDeviceGetCount DeviceGetCount;
    p_cuDeviceGet DeviceGet;
    p_cuDeviceGetName DeviceGetName;
    p_cuDeviceGetAttribute DeviceGetAttribute;
    p_cuDeviceTotalMem DeviceTotalMem;
    p_cuDevicePrimaryCtxRetain DevicePrimaryCtxRetain;
    p_cuDevicePrimaryCtxRelease DevicePrimaryCtxRelease;
    p_cuCtxSetCurrent CtxSetCurrent;
    p_cuStreamCreate StreamCreate;
    p_cuStreamDestroy StreamDestroy;
    p_cuStreamSynchronize StreamSynchronize;
    p_cuEventCreate EventCreate;
    p_cuEventDestroy EventDestroy;
    p_cuEventRecord EventRecord;
    p_cuEventSynchronize EventSynchronize;
    p_cuEventElapsedTime EventElapsedTime;
    p_cuModuleLoadData ModuleLoadData;
    p_cuModuleUnload ModuleUnload;
    p_cuModuleGetFunction ModuleGetFunction;
    p_cuFuncGetAttribute FuncGetAttribute;
    p_cuFuncSetAttribute FuncSetAttribute;
    p_cuMemAlloc MemAlloc;
    p_cuMemFree MemFree;
    p_cuMemcpyHtoD MemcpyHtoD;
    p_cuMemcpyDtoH MemcpyDtoH;
    p_cuMemcpyDtoD MemcpyDtoD;
    p_cuMemsetD32 MemsetD32;
    p_cuMemsetD8 MemsetD8;
    p_cuLaunchKernel LaunchKernel;
    p_cuGetErrorName GetErrorName;
    p_cuGetErrorString GetErrorString;
} cu;

static pthread_once_t cu_once = PTHREAD_ONCE_INIT;

/* Bind the first of up to three exported names (newest first). */
static void *sym3(const char *a, const char *b, const char *c)
{
    void *p = dlsym(cu.lib, a);
    if (!p && b)
        p = dlsym(cu.lib, b);
    if (!p && c)
        p = dlsym(cu.lib, c);
    return p;
}

static void cu_load(void)
{
    const char *env = getenv("FAIRWAY_LIBCUDA");
    cu.lib = dlopen(env && *env ? env : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!cu.lib) {
        const char *e = dlerror();
        snprintf(cu.why, sizeof cu.why, "no NVIDIA driver: cannot load %s (%s)",
                 env && *env ? env : "libcuda.so.1", e ? e : "not found");
        return;
    }
    struct { void **slot; const char *a, *b, *c; } t[] = {
        {(void **)&cu.Init, "cuInit", NULL, NULL},
        {(void **)&cu.DriverGetVersion, "cuDriverGetVersion", NULL, NULL},
        {(void **)&cu.DeviceGetCount, "cuDeviceGetCount", NULL, NULL},
        {(void **)&cu.DeviceGet, "cuDeviceGet", NULL, NULL},
        {(void **)&cu.DeviceGetName, "cuDeviceGetName", NULL, NULL},
        {(void **)&cu.DeviceGetAttribute, "cuDeviceGetAttribute", NULL, NULL},
        {(void **)&cu.DeviceTotalMem, "cuDeviceTotalMem_v2", "cuDeviceTotalMem", NULL},
        {(void **)&cu.DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", NULL, NULL},
        {(void **)&cu.DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",
         "cuDevicePrimaryCtxRelease", NULL},
        {(void **)&cu.CtxSetCurrent, "cuCtxSetCurrent", NULL, NULL},
        {(void **)&cu.StreamCreate, "cuStreamCreate", NULL, NULL},
        {(void **)&cu.StreamDestroy, "cuStreamDestroy_v2", "cuStreamDestroy", NULL},
        {(void **)&cu.StreamSynchronize, "cuStreamSynchronize", NULL, NULL},
        {(void **)&cu.EventCreate, "cuEventCreate", NULL, NULL},
        {(void **)&cu.EventDestroy, "cuEventDestroy_v2", "cuEventDestroy", NULL},
        {(void **)&cu.EventRecord, "cuEventRecord", NULL, NULL},
        {(void **)&cu.EventSynchronize, "cuEventSynchronize", NULL, NULL},
        {(void **)&cu.EventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime", NULL},
        {(void **)&cu.ModuleLoadData, "cuModuleLoadData", NULL, NULL},
        {(void **)&cu.ModuleUnload, "cuModuleUnload", NULL, NULL},
        {(void **)&cu.ModuleGetFunction, "cuModuleGetFunction", NULL, NULL},
        {(void **)&cu.FuncGetAttribute, "cuFuncGetAttribute", NULL, NULL},
        {(void **)&cu.FuncSetAttribute, "cuFuncSetAttribute", NULL, NULL},
        {(void **)&cu.MemAlloc, "cuMemAlloc_v2", NULL, NULL},
        {(void **)&cu.MemFree, "cuMemFree_v2", NULL, NULL},
        {(void **)&cu.MemcpyHtoD, "cuMemcpyHtoD_v2", NULL, NULL},
        {(void **)&cu.MemcpyDtoH, "cuMemcpyDtoH_v2", NULL, NULL},
        {(void **)&cu.MemcpyDtoD, "cuMemcpyDtoD_v2", NULL, NULL},
        {(void **)&cu.MemsetD32, "cuMemsetD32_v2", NULL, NULL},
        {(void **)&cu.MemsetD8, "cuMemsetD8_v2", NULL, NULL},
        {(void **)&cu.LaunchKernel, "cuLaunchKernel", NULL, NULL},
        {(void **)&cu.GetErrorName, "cuGetErrorName", NULL, NULL},
        {(void **)&cu.GetErrorString, "cuGetErrorString", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        *t[i].slot = sym3(t[i].a, t[i].b, t[i].c);
        if (!*t[i].slot) {
            snprintf(cu.why, sizeof cu.why, "the NVIDIA driver's libcuda lacks %s: it is too old "
                     "for this build (CUDA %d)", t[i].a, CUDA_VERSION);
            dlclose(cu.lib);
            cu.lib = NULL;
            return;
        }
    }
    CUresult r = cu.Init(0);
    if (r != CUDA_SUCCESS) {
        const char *name = NULL;
        cu.GetErrorName(r, &name);
        snprintf(cu.why, sizeof cu.why, "the NVIDIA driver did not start (cuInit: %s)%s",
                 name ? name : "?",
                 r == CUDA_ERROR_NO_DEVICE ? ": no CUDA device is visible" :
                 r == CUDA_ERROR_STUB_LIBRARY ? ": the toolkit's stub libcuda was loaded, not a "
                                                "driver" : "");
        return;
    }
    cu.DriverGetVersion(&cu.version);
    if (cu.DeviceGetCount(&cu.count) != CUDA_SUCCESS)
        cu.count = 0;
    if (cu.count == 0)
        snprintf(cu.why, sizeof cu.why, "the NVIDIA driver sees no CUDA device");
}

static int cu_ready(void)
{
    pthread_once(&cu_once, cu_load);
    return cu.lib != NULL && cu.count > 0;
}

int fw_cuda_error_is_sticky(int code)
{
    switch (code) {
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_CONTEXT_IS_DESTROYED:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_TENSOR_MEMORY_LEAK:
    case CUDA_ERROR_UNKNOWN:
        return 1;
    default:
        return 0;
    }
}

struct fw_device {
    int index;
    CUdevice dev;
    CUcontext ctx;
    CUstream stream;
    CUevent ev_start, ev_stop;
    char arch[16];
    int max_threads;
    int shared_default;    /* 48 KiB: what a launch gets without cuFuncSetAttribute */
    int shared_optin;      /* the most one block may have after raising the attribute */
    atomic_int poisoned;   /* a sticky error happened: every call answers -EFAULT */
    pthread_mutex_t launch_lock;   /* one event pair: launches never overlap */
    fw_nvrtc_proc *nvproc; /* this handle's compiler process (compile_binary), if any */
};

struct fw_program {
    CUmodule mod;
    CUfunction fn;
    void *cubin;
    size_t cubin_len;
    int max_threads;
    int static_shared;
    int dyn_limit;         /* the dynamic shared-memory limit set on fn so far */
    pthread_mutex_t lock;
};

struct fw_buffer {
    CUdeviceptr ptr;
    size_t bytes;
};

static int seterr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int seterr(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err, sizeof tls_err, fmt, ap);
    va_end(ap);
    return code;
}

/* Map a driver result to our code, writing a sentence that names the call and the driver's own
 * words. A sticky result poisons the device. */
static int check(fw_device *d, CUresult r, const char *what)
{
    if (r == CUDA_SUCCESS)
        return 0;
    const char *name = NULL, *text = NULL;
    cu.GetErrorName(r, &name);
    cu.GetErrorString(r, &text);
    if (fw_cuda_error_is_sticky((int)r)) {
        if (d)
            atomic_store(&d->poisoned, 1);
        return seterr(-EFAULT, "%s failed with %s (%s): the CUDA context is unusable now; the "
                      "worker must exit and the variant counts as crashed", what,
                      name ? name : "?", text ? text : "");
    }
    int code = r == CUDA_ERROR_OUT_OF_MEMORY ? -ENOMEM :
               r == CUDA_ERROR_INVALID_VALUE || r == CUDA_ERROR_INVALID_IMAGE ||
               r == CUDA_ERROR_NO_BINARY_FOR_GPU ? -EINVAL :
               r == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES ? -E2BIG : -EIO;
    return seterr(code, "%s failed with %s (%s)", what, name ? name : "?", text ? text : "");
}

/* Every entry point runs through here: the primary context must be current on this thread. */
static int enter(fw_device *d)
{
    if (!d)
        return seterr(-EINVAL, "no CUDA device handle");
    if (atomic_load(&d->poisoned))
        return seterr(-EFAULT, "the CUDA context of device %d is unusable after an earlier "
                      "sticky error: restart the worker", d->index);
    return check(d, cu.CtxSetCurrent(d->ctx), "cuCtxSetCurrent");
}

const char *fw_cuda_why_no_device(void)
{
    return cu_ready() ? "" : cu.why;
}

static int cuda_device_count(void)
{
    return cu_ready() ? cu.count : 0;
}

/* The kernel module's version ("580.159.04") says more than the CUDA API level, and identity
 * should change when the driver does. The line reads "NVRM version: NVIDIA UNIX [Open] Kernel
 * Module [for x86_64]  580.159.04  Release Build ...": take the first token shaped N.N[.N]. */
static void module_version(char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    if (!f)
        return;
    char line[512];
    if (fgets(line, sizeof line, f)) {
        char *save = NULL;
        for (char *t = strtok_r(line, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
            size_t n = strlen(t), digits = strspn(t, "0123456789.");
            if (n > 2 && digits == n && t[0] != '.' && strchr(t, '.') && n < len) {
                memcpy(buf, t, n + 1);
                break;
            }
        }
    }
    fclose(f);
}

static void cuda_close(fw_device *d)
{
    if (!d)
        return;
    cu.CtxSetCurrent(d->ctx);
    if (d->ev_start)
        cu.EventDestroy(d->ev_start);
    if (d->ev_stop)
        cu.EventDestroy(d->ev_stop);
    if (d->stream)
        cu.StreamDestroy(d->stream);
    if (d->ctx)
        cu.DevicePrimaryCtxRelease(d->dev);
    cu.CtxSetCurrent(NULL);
    pthread_mutex_destroy(&d->launch_lock);
    fw_cuda_nvrtc_proc_free(d->nvproc);
    free(d);
}

static int attr(fw_device *d, CUdevice_attribute a, int *out)
{
    *out = 0;
    return check(d, cu.DeviceGetAttribute(out, a, d->dev), "cuDeviceGetAttribute");
}

static int cuda_open(int index, fw_device **out, fw_device_info *info, char *err, size_t errlen)
{
    *out = NULL;
    if (!cu_ready()) {
        if (err && errlen)
            snprintf(err, errlen, "%s", cu.why);
        return -ENODEV;
    }
    if (index < 0 || index >= cu.count) {
        if (err && errlen)
            snprintf(err, errlen, "CUDA device %d does not exist: the driver sees %d (0..%d)",
                     index, cu.count, cu.count - 1);
        return -ENODEV;
    }
    fw_device *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->index = index;
    pthread_mutex_init(&d->launch_lock, NULL);
    int rc = check(d, cu.DeviceGet(&d->dev, index), "cuDeviceGet");
    if (!rc)
        rc = check(d, cu.DevicePrimaryCtxRetain(&d->ctx, d->dev), "cuDevicePrimaryCtxRetain");
    if (!rc)
        rc = check(d, cu.CtxSetCurrent(d->ctx), "cuCtxSetCurrent");
    /* Flags 0: a blocking stream, so the synchronous copies on the legacy stream stay ordered
     * with our launches without extra synchronisation. */
    if (!rc)
        rc = check(d, cu.StreamCreate(&d->stream, 0), "cuStreamCreate");
    if (!rc)
        rc = check(d, cu.EventCreate(&d->ev_start, CU_EVENT_DEFAULT), "cuEventCreate");
    if (!rc)
        rc = check(d, cu.EventCreate(&d->ev_stop, CU_EVENT_DEFAULT), "cuEventCreate");

    fw_device_info in;
    memset(&in, 0, sizeof in);
    int major = 0, minor = 0, v = 0;
    if (!rc)
        rc = attr(d, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &major);
    if (!rc)
        rc = attr(d, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &minor);
    if (!rc)
        rc = attr(d, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &d->max_threads);
    if (!rc)
        rc = attr(d, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &d->shared_default);
    if (!rc)
        rc = attr(d, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &d->shared_optin);
    if (!rc && cu.DeviceGetName(in.name, (int)sizeof in.name, d->dev) != CUDA_SUCCESS)
        snprintf(in.name, sizeof in.name, "CUDA device %d", index);
    if (rc) {
        if (err && errlen)
            snprintf(err, errlen, "cannot open CUDA device %d: %s", index, tls_err);
        cuda_close(d);
        return rc;
    }
    if (d->shared_optin < d->shared_default)
        d->shared_optin = d->shared_default;
    snprintf(d->arch, sizeof d->arch, "sm_%d%d", major, minor);

    snprintf(in.backend, sizeof in.backend, "cuda");
    snprintf(in.dialect, sizeof in.dialect, "cuda");
    snprintf(in.vendor, sizeof in.vendor, "NVIDIA");
    snprintf(in.arch, sizeof in.arch, "%s", d->arch);
    char kmod[64];
    module_version(kmod, sizeof kmod);
    if (kmod[0])
        snprintf(in.driver, sizeof in.driver, "%s (CUDA %d.%d)", kmod, cu.version / 1000,
                 (cu.version % 1000) / 10);
    else
        snprintf(in.driver, sizeof in.driver, "CUDA %d.%d", cu.version / 1000,
                 (cu.version % 1000) / 10);
    if (fw_cuda_nvrtc_version(in.compiler, sizeof in.compiler) < 0)
        snprintf(in.compiler, sizeof in.compiler, "NVRTC unavailable");
    in.max_threads = d->max_threads;
    /* Static __shared__ arrays (the portable FW_LOCAL_ARRAY) stop at the default, so that is the
     * limit families' constraints must see; the opt-in maximum only serves dynamic memory. */
    in.shared_bytes = d->shared_default;
    in.shared_optin_bytes = d->shared_optin;
    attr(d, CU_DEVICE_ATTRIBUTE_WARP_SIZE, &v);
    in.simd_width = v;
    attr(d, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &v);
    in.compute_units = v;
    size_t total = 0;
    if (cu.DeviceTotalMem(&total, d->dev) == CUDA_SUCCESS)
        in.global_mem_bytes = (int64_t)total;
    in.max_alloc_bytes = in.global_mem_bytes;   /* cuMemAlloc has no limit of its own below the memory */
    attr(d, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, &v);
    in.max_grid[0] = v;
    attr(d, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, &v);
    in.max_grid[1] = v;
    attr(d, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, &v);
    in.max_grid[2] = v;
    if (info)
        *info = in;
    *out = d;
    return 0;
}

static const char *cuda_last_error(fw_device *d)
{
    (void)d;
    return tls_err;
}

static void program_release(fw_program *p)
{
    if (!p)
        return;
    if (p->mod)
        cu.ModuleUnload(p->mod);
    free(p->cubin);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Takes ownership of cubin (also on failure). */
static int load_cubin(fw_device *d, void *cubin, size_t len, const char *entry, fw_program **out)
{
    fw_program *p = calloc(1, sizeof *p);
    if (!p) {
        free(cubin);
        return seterr(-ENOMEM, "out of host memory loading a CUDA module");
    }
    pthread_mutex_init(&p->lock, NULL);
    p->cubin = cubin;
    p->cubin_len = len;
    int rc = check(d, cu.ModuleLoadData(&p->mod, cubin), "cuModuleLoadData");
    if (rc) {
        program_release(p);
        return rc;
    }
    CUresult r = cu.ModuleGetFunction(&p->fn, p->mod, entry);
    if (r == CUDA_ERROR_NOT_FOUND) {
        program_release(p);
        return seterr(-ENOENT, "the program has no kernel named '%s': declare it extern \"C\" "
                      "__global__ (FW_KERNEL in prelude.cuda.h) so its name is not mangled",
                      entry);
    }
    if ((rc = check(d, r, "cuModuleGetFunction"))) {
        program_release(p);
        return rc;
    }
    rc = check(d, cu.FuncGetAttribute(&p->max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                                      p->fn), "cuFuncGetAttribute");
    if (!rc)
        rc = check(d, cu.FuncGetAttribute(&p->static_shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
                                          p->fn), "cuFuncGetAttribute");
    if (!rc)
        rc = check(d, cu.FuncGetAttribute(&p->dyn_limit,
                                          CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, p->fn),
                   "cuFuncGetAttribute");
    if (rc) {
        program_release(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* FAIRWAY_CUDA_LINEINFO=1: compile with -lineinfo (profilers map SASS back to source lines). */
static int lineinfo_on(void)
{
    const char *li = getenv("FAIRWAY_CUDA_LINEINFO");
    return li && *li == '1';
}

static int cuda_compile(fw_device *d, const char *source, const char *const *macros,
                        size_t nmacros, const char *options, const char *entry, fw_program **out)
{
    *out = NULL;
    int rc = enter(d);
    if (rc)
        return rc;
    if (!entry || !*entry)
        return seterr(-EINVAL, "no kernel entry name given to compile");
    void *cubin = NULL;
    size_t len = 0;
    char *log = NULL;
    rc = fw_cuda_nvrtc_compile(source, macros, nmacros, options, d->arch, lineinfo_on(),
                               &cubin, &len, &log);
    if (rc) {
        seterr(rc, "%s", log ? log : "NVRTC failed and wrote no log");
        free(log);
        return rc;
    }
    free(log);
    return load_cubin(d, cubin, len, entry, out);
}

/* NVRTC to a cubin and nothing else: no context, no module (the compile pool's path), in this
 * handle's compiler process when they are on (fw_cuda_nvrtc_processes). */
static int cuda_compile_binary(fw_device *d, const char *source, const char *const *macros,
                               size_t nmacros, const char *options, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!d)
        return seterr(-EINVAL, "no CUDA device handle");
    char *log = NULL;
    int rc = fw_cuda_nvrtc_proc_compile(&d->nvproc, source, macros, nmacros, options, d->arch,
                                        lineinfo_on(), data, len, &log);
    if (rc)
        seterr(rc, "%s", log ? log : "NVRTC failed and wrote no log");
    free(log);
    return rc;
}

static int cuda_resources(fw_device *d, fw_program *p, fw_resources *out)
{
    int rc = enter(d);
    if (rc)
        return rc;
    int regs = 0, local = 0;
    rc = check(d, cu.FuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, p->fn),
               "cuFuncGetAttribute");
    if (!rc)
        rc = check(d, cu.FuncGetAttribute(&local, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, p->fn),
                   "cuFuncGetAttribute");
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->max_threads = p->max_threads;
    out->static_shared_bytes = p->static_shared;
    out->registers = regs;
    out->local_bytes = local;
    out->simd_width = 32;
    return 0;
}

static void cuda_program_free(fw_device *d, fw_program *p)
{
    if (!p)
        return;
    if (d)
        cu.CtxSetCurrent(d->ctx);
    program_release(p);
}

static int cuda_program_binary(fw_device *d, fw_program *p, void **data, size_t *len)
{
    (void)d;
    *data = malloc(p->cubin_len ? p->cubin_len : 1);
    if (!*data)
        return seterr(-ENOMEM, "out of host memory copying a cubin");
    memcpy(*data, p->cubin, p->cubin_len);
    *len = p->cubin_len;
    return 0;
}

static int cuda_program_load(fw_device *d, const void *data, size_t len, const char *entry,
                             fw_program **out)
{
    *out = NULL;
    int rc = enter(d);
    if (rc)
        return rc;
    /* An ELF header at least: anything else came from another compiler or got truncated. */
    if (!data || len < 64 || memcmp(data, "\x7f" "ELF", 4) != 0)
        return seterr(-EINVAL, "not a cubin (%zu bytes without an ELF header): recompile", len);
    void *copy = malloc(len);
    if (!copy)
        return seterr(-ENOMEM, "out of host memory loading a cubin");
    memcpy(copy, data, len);
    return load_cubin(d, copy, len, entry, out);
}

static int cuda_buffer_new(fw_device *d, size_t bytes, fw_buffer **out)
{
    *out = NULL;
    int rc = enter(d);
    if (rc)
        return rc;
    fw_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return seterr(-ENOMEM, "out of host memory");
    /* cuMemAlloc refuses 0 bytes; a zero-sized workload buffer still needs a valid pointer. */
    rc = check(d, cu.MemAlloc(&b->ptr, bytes ? bytes : 4), "cuMemAlloc");
    if (rc) {
        free(b);
        if (rc == -ENOMEM)
            seterr(-ENOMEM, "cannot allocate %zu bytes of device memory: the GPU is full", bytes);
        return rc;
    }
    b->bytes = bytes;
    *out = b;
    return 0;
}

static int range_ok(fw_buffer *b, size_t off, size_t n)
{
    return b && off <= b->bytes && n <= b->bytes - off;
}

static int cuda_buffer_write(fw_device *d, fw_buffer *b, size_t off, const void *src, size_t n)
{
    int rc = enter(d);
    if (rc)
        return rc;
    if (!range_ok(b, off, n))
        return seterr(-EINVAL, "write of %zu bytes at %zu past the end of a %zu-byte buffer", n,
                      off, b ? b->bytes : 0);
    return n ? check(d, cu.MemcpyHtoD(b->ptr + off, src, n), "cuMemcpyHtoD") : 0;
}

static int cuda_buffer_read(fw_device *d, fw_buffer *b, size_t off, void *dst, size_t n)
{
    int rc = enter(d);
    if (rc)
        return rc;
    if (!range_ok(b, off, n))
        return seterr(-EINVAL, "read of %zu bytes at %zu past the end of a %zu-byte buffer", n,
                      off, b ? b->bytes : 0);
    return n ? check(d, cu.MemcpyDtoH(dst, b->ptr + off, n), "cuMemcpyDtoH") : 0;
}

static int cuda_buffer_fill(fw_device *d, fw_buffer *b, uint32_t pattern, size_t bytes)
{
    int rc = enter(d);
    if (rc)
        return rc;
    if (!range_ok(b, 0, bytes))
        return seterr(-EINVAL, "fill of %zu bytes past the end of a %zu-byte buffer", bytes,
                      b ? b->bytes : 0);
    size_t words = bytes / 4;
    if (words)
        rc = check(d, cu.MemsetD32(b->ptr, pattern, words), "cuMemsetD32");
    /* A tail shorter than a word gets the pattern's leading bytes, as a host memcpy of the
     * repeated little-endian word would. */
    for (size_t i = words * 4; !rc && i < bytes; i++)
        rc = check(d, cu.MemsetD8(b->ptr + i, (unsigned char)(pattern >> (8 * (i % 4))), 1),
                   "cuMemsetD8");
    if (!rc)
        rc = check(d, cu.StreamSynchronize(NULL), "cuStreamSynchronize");
    return rc;
}

static int cuda_buffer_copy(fw_device *d, fw_buffer *dst, fw_buffer *src, size_t bytes)
{
    int rc = enter(d);
    if (rc)
        return rc;
    if (!range_ok(dst, 0, bytes) || !range_ok(src, 0, bytes))
        return seterr(-EINVAL, "copy of %zu bytes past the end of a buffer", bytes);
    if (bytes)
        rc = check(d, cu.MemcpyDtoD(dst->ptr, src->ptr, bytes), "cuMemcpyDtoD");
    if (!rc)
        rc = check(d, cu.StreamSynchronize(NULL), "cuStreamSynchronize");
    return rc;
}

static void cuda_buffer_free(fw_device *d, fw_buffer *b)
{
    if (!b)
        return;
    if (d)
        cu.CtxSetCurrent(d->ctx);
    cu.MemFree(b->ptr);
    free(b);
}

#define MAX_ARGS 64

/* The launch's dynamic shared memory: its own dynamic_shared_bytes, then each local-memory argument
 * (FW_ARG_LOCAL, a declarative workload's "local") at a 16-byte aligned offset (fw_backend.h). */
static uint64_t dynamic_bytes(const fw_launch *l)
{
    uint64_t dyn = l->dynamic_shared_bytes;
    for (size_t i = 0; i < l->nargs; i++)
        if (l->args[i].kind == FW_ARG_LOCAL)
            dyn = ((dyn + 15u) & ~(uint64_t)15u) + l->args[i].size;
    return dyn;
}

/* Checks and argument marshalling shared by launch() and fw_cuda_launch_batch(). A local-memory
 * argument is no kernel parameter: the ones after it move down one, and its bytes are in *dyn, the
 * launch's dynamic shared memory. */
static int prepare(fw_device *d, fw_program *p, const fw_launch *l, void **params, unsigned *dyn)
{
    int rc = enter(d);
    if (rc)
        return rc;
    if (!p || !l || l->nargs > MAX_ARGS)
        return seterr(-EINVAL, "launch needs a program and at most %d arguments", MAX_ARGS);
    uint64_t threads = (uint64_t)l->group[0] * l->group[1] * l->group[2];
    uint64_t blocks = (uint64_t)l->grid[0] * l->grid[1] * l->grid[2];
    if (threads == 0 || blocks == 0)
        return seterr(-EINVAL, "empty launch geometry: grid %ux%ux%u, block %ux%ux%u",
                      l->grid[0], l->grid[1], l->grid[2], l->group[0], l->group[1], l->group[2]);
    if (threads > (uint64_t)p->max_threads)
        return seterr(-E2BIG, "%llu threads per block exceed this kernel's limit of %d (set by "
                      "its registers and the device's %d): a smaller threadgroup is needed",
                      (unsigned long long)threads, p->max_threads, d->max_threads);
    uint64_t dynamic = dynamic_bytes(l);
    uint64_t shared = (uint64_t)p->static_shared + dynamic;
    if (shared > (uint64_t)d->shared_optin)
        return seterr(-E2BIG, "%llu bytes of shared memory per block (%d static + %llu dynamic) "
                      "exceed the device's %d", (unsigned long long)shared, p->static_shared,
                      (unsigned long long)dynamic, d->shared_optin);
    *dyn = (unsigned)dynamic;
    pthread_mutex_lock(&p->lock);
    if ((int)dynamic > p->dyn_limit) {
        /* Above the 48 KiB default a block only gets the memory once the function opts in. */
        rc = check(d, cu.FuncSetAttribute(p->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                          (int)dynamic), "cuFuncSetAttribute");
        if (!rc)
            p->dyn_limit = (int)dynamic;
    }
    pthread_mutex_unlock(&p->lock);
    if (rc)
        return rc;
    static const CUdeviceptr null_ptr = 0;
    size_t np = 0;
    for (size_t i = 0; i < l->nargs; i++) {
        const fw_arg *a = &l->args[i];
        if (a->kind == FW_ARG_BUFFER)
            params[np++] = a->buffer ? (void *)&((fw_buffer *)a->buffer)->ptr : (void *)&null_ptr;
        else if (a->kind == FW_ARG_BYTES && a->bytes && a->size)
            params[np++] = (void *)a->bytes;
        else if (a->kind != FW_ARG_LOCAL)
            return seterr(-EINVAL, "launch argument %zu is neither a buffer, a by-value blob nor local memory",
                          i);
    }
    return 0;
}

/* count launches, timed as a whole when elapsed_ns is set; the caller holds launch_lock. */
static int run_launches(fw_device *d, fw_program *p, const fw_launch *l, void **params, unsigned dyn,
                        int count, uint64_t *elapsed_ns)
{
    int rc = 0;
    if (elapsed_ns)
        rc = check(d, cu.EventRecord(d->ev_start, d->stream), "cuEventRecord");
    for (int i = 0; !rc && i < count; i++)
        rc = check(d, cu.LaunchKernel(p->fn, l->grid[0], l->grid[1], l->grid[2], l->group[0],
                                      l->group[1], l->group[2], dyn,
                                      d->stream, l->nargs ? params : NULL, NULL),
                   "cuLaunchKernel");
    if (!rc && elapsed_ns) {
        rc = check(d, cu.EventRecord(d->ev_stop, d->stream), "cuEventRecord");
        if (!rc)
            rc = check(d, cu.EventSynchronize(d->ev_stop), "the kernel (cuEventSynchronize)");
        float ms = 0.0f;
        if (!rc)
            rc = check(d, cu.EventElapsedTime(&ms, d->ev_start, d->ev_stop),
                       "cuEventElapsedTime");
        if (!rc)
            *elapsed_ns = (uint64_t)((double)ms * 1e6 + 0.5);
    } else if (!rc) {
        rc = check(d, cu.StreamSynchronize(d->stream), "the kernel (cuStreamSynchronize)");
    }
    return rc;
}

static int cuda_launch(fw_device *d, fw_program *p, const fw_launch *l, uint64_t *elapsed_ns)
{
    void *params[MAX_ARGS];
    unsigned dyn = 0;
    int rc = prepare(d, p, l, params, &dyn);
    if (rc)
        return rc;
    pthread_mutex_lock(&d->launch_lock);
    rc = run_launches(d, p, l, params, dyn, 1, elapsed_ns);
    pthread_mutex_unlock(&d->launch_lock);
    return rc;
}

int fw_cuda_launch_batch(fw_device *d, fw_program *p, const fw_launch *l, int count,
                         uint64_t *elapsed_ns)
{
    if (count < 1)
        return seterr(-EINVAL, "a batch needs at least one launch");
    void *params[MAX_ARGS];
    unsigned dyn = 0;
    int rc = prepare(d, p, l, params, &dyn);
    if (rc)
        return rc;
    pthread_mutex_lock(&d->launch_lock);
    rc = run_launches(d, p, l, params, dyn, count, elapsed_ns);
    pthread_mutex_unlock(&d->launch_lock);
    return rc;
}

/* fw_backend.launch_batch: n launches, each with its own arguments (the harness rotates input copies
 * so no launch re-reads the previous one's data from L2), between one event pair, so the launch
 * overhead is paid while the previous kernel runs. Arguments are marshalled before the first event. */
static int cuda_launch_batch(fw_device *d, fw_program *p, const fw_launch *ls, size_t n, uint64_t *elapsed_ns)
{
    if (n < 1 || n > 4096)
        return seterr(-EINVAL, "a batch needs 1 to 4096 launches, not %zu", n);
    void **params = calloc(n * MAX_ARGS, sizeof *params);
    unsigned *dyn = calloc(n, sizeof *dyn);
    if (!params || !dyn) {
        free(params);
        free(dyn);
        return seterr(-ENOMEM, "out of memory for %zu launches' arguments", n);
    }
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = prepare(d, p, &ls[i], params + i * MAX_ARGS, &dyn[i]);
    if (rc) {
        free(params);
        free(dyn);
        return rc;
    }
    pthread_mutex_lock(&d->launch_lock);
    if (elapsed_ns)
        rc = check(d, cu.EventRecord(d->ev_start, d->stream), "cuEventRecord");
    for (size_t i = 0; !rc && i < n; i++)
        rc = check(d, cu.LaunchKernel(p->fn, ls[i].grid[0], ls[i].grid[1], ls[i].grid[2], ls[i].group[0],
                                      ls[i].group[1], ls[i].group[2], dyn[i], d->stream,
                                      ls[i].nargs ? params + i * MAX_ARGS : NULL, NULL),
                   "cuLaunchKernel");
    if (!rc && elapsed_ns) {
        rc = check(d, cu.EventRecord(d->ev_stop, d->stream), "cuEventRecord");
        if (!rc)
            rc = check(d, cu.EventSynchronize(d->ev_stop), "the kernels (cuEventSynchronize)");
        float ms = 0.0f;
        if (!rc)
            rc = check(d, cu.EventElapsedTime(&ms, d->ev_start, d->ev_stop), "cuEventElapsedTime");
        if (!rc)
            *elapsed_ns = (uint64_t)((double)ms * 1e6 + 0.5);
    } else if (!rc) {
        rc = check(d, cu.StreamSynchronize(d->stream), "the kernels (cuStreamSynchronize)");
    }
    pthread_mutex_unlock(&d->launch_lock);
    free(params);
    free(dyn);
    return rc;
}

const fw_backend fw_cuda_backend = {
    .version = FW_BACKEND_VERSION,
    .name = "cuda",
    .device_count = cuda_device_count,
    .open = cuda_open,
    .close = cuda_close,
    .last_error = cuda_last_error,
    .compile = cuda_compile,
    .resources = cuda_resources,
    .program_free = cuda_program_free,
    .program_binary = cuda_program_binary,
    .program_load = cuda_program_load,
    .compile_binary = cuda_compile_binary,
    .buffer_new = cuda_buffer_new,
    .buffer_write = cuda_buffer_write,
    .buffer_read = cuda_buffer_read,
    .buffer_fill = cuda_buffer_fill,
    .buffer_free = cuda_buffer_free,
    .launch = cuda_launch,
    .launch_batch = cuda_launch_batch,
    .buffer_copy = cuda_buffer_copy,
};
