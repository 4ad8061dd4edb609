/* The OpenCL backend: see fw_opencl.h for the choices it makes. */
#define CL_TARGET_OPENCL_VERSION 120
#include "fw_opencl.h"

#include <CL/cl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

struct fw_device {
    cl_platform_id platform;
    cl_device_id device;
    cl_context ctx;
    cl_command_queue queue;
    size_t max_item[3];
    char *err;            /* last error text (build logs can be long: heap) */
};

struct fw_program {
    cl_program program;
    cl_kernel kernel;
};

struct fw_buffer {
    cl_mem mem;
    size_t bytes;
};

static const char *cl_err_name(cl_int e)
{
    switch (e) {
#define C(x) case x: return #x;
    C(CL_SUCCESS) C(CL_DEVICE_NOT_FOUND) C(CL_DEVICE_NOT_AVAILABLE) C(CL_COMPILER_NOT_AVAILABLE)
    C(CL_MEM_OBJECT_ALLOCATION_FAILURE) C(CL_OUT_OF_RESOURCES) C(CL_OUT_OF_HOST_MEMORY)
    C(CL_PROFILING_INFO_NOT_AVAILABLE) C(CL_BUILD_PROGRAM_FAILURE) C(CL_INVALID_VALUE)
    C(CL_INVALID_DEVICE) C(CL_INVALID_BINARY) C(CL_INVALID_BUILD_OPTIONS) C(CL_INVALID_PROGRAM)
    C(CL_INVALID_KERNEL_NAME) C(CL_INVALID_KERNEL) C(CL_INVALID_ARG_INDEX) C(CL_INVALID_ARG_VALUE)
    C(CL_INVALID_ARG_SIZE) C(CL_INVALID_KERNEL_ARGS) C(CL_INVALID_WORK_DIMENSION)
    C(CL_INVALID_WORK_GROUP_SIZE) C(CL_INVALID_WORK_ITEM_SIZE) C(CL_INVALID_GLOBAL_OFFSET)
    C(CL_INVALID_BUFFER_SIZE) C(CL_INVALID_MEM_OBJECT) C(CL_INVALID_EVENT)
    C(CL_INVALID_OPERATION) C(CL_INVALID_GLOBAL_WORK_SIZE) C(CL_INVALID_PLATFORM)
    C(CL_INVALID_CONTEXT) C(CL_INVALID_COMMAND_QUEUE) C(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    C(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
#undef C
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "unknown OpenCL error";
    }
}

static int set_err(fw_device *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_err(fw_device *d, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(d->err);
    d->err = fw_strdup(msg);
    return code;
}

/* Flattened device list: platform order, then device order within a platform. */
static int find_device(int index, cl_platform_id *plat, cl_device_id *dev)
{
    cl_uint np = 0;
    if (clGetPlatformIDs(0, NULL, &np) != CL_SUCCESS || np == 0)
        return 0;
    cl_platform_id *ps = calloc(np, sizeof *ps);
    if (!ps)
        return -ENOMEM;
    int count = 0;
    if (clGetPlatformIDs(np, ps, NULL) == CL_SUCCESS) {
        for (cl_uint p = 0; p < np; p++) {
            cl_uint nd = 0;
            if (clGetDeviceIDs(ps[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
                continue;
            if (index >= count && index < count + (int)nd && plat && dev) {
                cl_device_id *ds = calloc(nd, sizeof *ds);
                if (!ds) {
                    free(ps);
                    return -ENOMEM;
                }
                if (clGetDeviceIDs(ps[p], CL_DEVICE_TYPE_ALL, nd, ds, NULL) == CL_SUCCESS) {
                    *plat = ps[p];
                    *dev = ds[index - count];
                }
                free(ds);
            }
            count += (int)nd;
        }
    }
    free(ps);
    return count;
}

static int ocl_device_count(void)
{
    int n = find_device(-1, NULL, NULL);
    return n < 0 ? 0 : n;
}

static void dev_str(cl_device_id d, cl_device_info what, char *out, size_t len)
{
    out[0] = '\0';
    size_t got = 0;
    if (clGetDeviceInfo(d, what, len, out, &got) != CL_SUCCESS)
        out[0] = '\0';
    out[len - 1] = '\0';
    /* trim trailing spaces some drivers append */
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\n'))
        out[--n] = '\0';
}

static const char probe_src[] = "__kernel void fw_probe(__global float *x) { x[get_global_id(0)] *= 2.0f; }\n";

static int64_t probe_simd_width(fw_device *d)
{
    const char *src = probe_src;
    cl_int e;
    cl_program p = clCreateProgramWithSource(d->ctx, 1, &src, NULL, &e);
    if (e != CL_SUCCESS)
        return 1;
    size_t mult = 0;
    if (clBuildProgram(p, 1, &d->device, "", NULL, NULL) == CL_SUCCESS) {
        cl_kernel k = clCreateKernel(p, "fw_probe", &e);
        if (e == CL_SUCCESS) {
            if (clGetKernelWorkGroupInfo(k, d->device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                         sizeof mult, &mult, NULL) != CL_SUCCESS)
                mult = 0;
            clReleaseKernel(k);
        }
    }
    clReleaseProgram(p);
    return mult > 0 ? (int64_t)mult : 1;
}

static void ocl_close(fw_device *d)
{
    if (!d)
        return;
    if (d->queue)
        clReleaseCommandQueue(d->queue);
    if (d->ctx)
        clReleaseContext(d->ctx);
    free(d->err);
    free(d);
}

static int ocl_open(int index, fw_device **out, fw_device_info *info, char *err, size_t errlen)
{
    *out = NULL;
    cl_platform_id plat = NULL;
    cl_device_id devid = NULL;
    int n = find_device(index, &plat, &devid);
    if (n < 0)
        return fw_errf(err, errlen, n, "out of memory while listing OpenCL devices");
    if (n == 0)
        return fw_errf(err, errlen, -ENODEV,
                       "no OpenCL platform found: install an ICD (e.g. the Debian package pocl-opencl-icd)");
    if (index < 0 || index >= n || !devid)
        return fw_errf(err, errlen, -ENODEV, "OpenCL device %d does not exist (%d device%s: 0..%d)",
                       index, n, n == 1 ? "" : "s", n - 1);
    fw_device *d = calloc(1, sizeof *d);
    if (!d)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    d->platform = plat;
    d->device = devid;
    cl_int e;
    cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)plat, 0 };
    d->ctx = clCreateContext(props, 1, &devid, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        ocl_close(d);
        return fw_errf(err, errlen, -ENODEV, "clCreateContext failed for OpenCL device %d: %s (%d)",
                       index, cl_err_name(e), e);
    }
    d->queue = clCreateCommandQueue(d->ctx, devid, CL_QUEUE_PROFILING_ENABLE, &e);
    if (e != CL_SUCCESS) {
        ocl_close(d);
        return fw_errf(err, errlen, -ENODEV,
                       "clCreateCommandQueue (profiling) failed for OpenCL device %d: %s (%d)",
                       index, cl_err_name(e), e);
    }
    if (clGetDeviceInfo(devid, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof d->max_item, d->max_item, NULL)
        != CL_SUCCESS)
        d->max_item[0] = d->max_item[1] = d->max_item[2] = 0;

    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "opencl");
    snprintf(info->dialect, sizeof info->dialect, "opencl");
    dev_str(devid, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    dev_str(devid, CL_DEVICE_NAME, info->name, sizeof info->name);
    dev_str(devid, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
    dev_str(devid, CL_DEVICE_OPENCL_C_VERSION, info->compiler, sizeof info->compiler);
    char ver[256];
    dev_str(devid, CL_DEVICE_VERSION, ver, sizeof ver);
    const char *a = ver;
    if (strncmp(a, "OpenCL ", 7) == 0) {
        a += 7;
        while (*a && *a != ' ')
            a++;
        while (*a == ' ')
            a++;
    }
    if (!*a)
        a = ver;
    size_t alen = strlen(a) < sizeof info->arch - 1 ? strlen(a) : sizeof info->arch - 1;
    memcpy(info->arch, a, alen);
    info->arch[alen] = '\0';

    size_t wg = 0;
    cl_ulong lm = 0, gm = 0, ma = 0;
    cl_uint cu = 0;
    clGetDeviceInfo(devid, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    clGetDeviceInfo(devid, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL);
    clGetDeviceInfo(devid, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gm, &gm, NULL);
    clGetDeviceInfo(devid, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ma, &ma, NULL);
    clGetDeviceInfo(devid, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    info->max_threads = (int64_t)wg;
    info->shared_bytes = (int64_t)lm;
    info->global_mem_bytes = (int64_t)gm;
    info->max_alloc_bytes = (int64_t)ma;
    info->compute_units = (int64_t)cu;
    info->simd_width = probe_simd_width(d);
    *out = d;
    return 0;
}

static const char *ocl_last_error(fw_device *d)
{
    return d && d->err ? d->err : "";
}

static void ocl_program_free(fw_device *d, fw_program *p)
{
    (void)d;
    if (!p)
        return;
    if (p->kernel)
        clReleaseKernel(p->kernel);
    if (p->program)
        clReleaseProgram(p->program);
    free(p);
}

static char *build_log(fw_device *d, cl_program p)
{
    size_t n = 0;
    if (clGetProgramBuildInfo(p, d->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) != CL_SUCCESS || n == 0)
        return NULL;
    char *log = malloc(n + 1);
    if (!log)
        return NULL;
    if (clGetProgramBuildInfo(p, d->device, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS) {
        free(log);
        return NULL;
    }
    log[n] = '\0';
    return log;
}

/* Build an already created program and resolve the entry; on failure the build log goes to err. */
static int build_and_resolve(fw_device *d, cl_program p, const char *opts, const char *entry,
                             fw_program **out)
{
    cl_int e = clBuildProgram(p, 1, &d->device, opts ? opts : "", NULL, NULL);
    if (e != CL_SUCCESS) {
        char *log = build_log(d, p);
        fw_sbuf b;
        fw_sbuf_init(&b);
        fw_sbuf_printf(&b, "OpenCL build failed (%s):\n%s", cl_err_name(e),
                       log && *log ? log : "(the compiler gave no build log)");
        free(log);
        free(d->err);
        d->err = fw_sbuf_take(&b);
        clReleaseProgram(p);
        return -EINVAL;
    }
    cl_kernel k = clCreateKernel(p, entry, &e);
    if (e != CL_SUCCESS) {
        clReleaseProgram(p);
        return set_err(d, -EINVAL, "the program built but has no kernel named '%s' (%s)", entry,
                       cl_err_name(e));
    }
    fw_program *prog = calloc(1, sizeof *prog);
    if (!prog) {
        clReleaseKernel(k);
        clReleaseProgram(p);
        return set_err(d, -ENOMEM, "out of memory");
    }
    prog->program = p;
    prog->kernel = k;
    *out = prog;
    return 0;
}

static int ocl_compile(fw_device *d, const char *source, const char *const *macros, size_t nmacros,
                       const char *options, const char *entry, fw_program **out)
{
    *out = NULL;
    if (!source || !entry)
        return set_err(d, -EINVAL, "compile needs a source text and an entry point name");
    fw_sbuf opts;
    fw_sbuf_init(&opts);
    for (size_t i = 0; i < nmacros; i++) {
        if (strchr(macros[i], ' ')) {
            fw_sbuf_release(&opts);
            return set_err(d, -EINVAL, "macro '%s' contains a space, which OpenCL build options cannot carry",
                           macros[i]);
        }
        fw_sbuf_printf(&opts, "%s-D%s", i ? " " : "", macros[i]);
    }
    if (options && *options)
        fw_sbuf_printf(&opts, "%s%s", opts.len ? " " : "", options);
    fw_sbuf_puts(&opts, "");
    if (opts.oom) {
        fw_sbuf_release(&opts);
        return set_err(d, -ENOMEM, "out of memory");
    }
    cl_int e;
    cl_program p = clCreateProgramWithSource(d->ctx, 1, &source, NULL, &e);
    if (e != CL_SUCCESS) {
        fw_sbuf_release(&opts);
        return set_err(d, -EINVAL, "clCreateProgramWithSource failed: %s (%d)", cl_err_name(e), e);
    }
    int rc = build_and_resolve(d, p, opts.data, entry, out);
    fw_sbuf_release(&opts);
    return rc;
}

static int ocl_resources(fw_device *d, fw_program *p, fw_resources *out)
{
    memset(out, 0, sizeof *out);
    size_t wg = 0, mult = 0;
    cl_ulong lm = 0, pm = 0;
    cl_int e = clGetKernelWorkGroupInfo(p->kernel, d->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    if (e != CL_SUCCESS)
        return set_err(d, -EIO, "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE) failed: %s", cl_err_name(e));
    clGetKernelWorkGroupInfo(p->kernel, d->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lm, &lm, NULL);
    clGetKernelWorkGroupInfo(p->kernel, d->device, CL_KERNEL_PRIVATE_MEM_SIZE, sizeof pm, &pm, NULL);
    clGetKernelWorkGroupInfo(p->kernel, d->device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                             sizeof mult, &mult, NULL);
    out->max_threads = (int64_t)wg;
    out->static_shared_bytes = (int64_t)lm;
    out->local_bytes = (int64_t)pm;
    out->simd_width = (int64_t)mult;
    cl_uint nargs = 0;
    if (clGetKernelInfo(p->kernel, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL) == CL_SUCCESS)
        out->num_args = (int64_t)nargs;
    return 0;
}

static int ocl_program_binary(fw_device *d, fw_program *p, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    size_t n = 0;
    cl_int e = clGetProgramInfo(p->program, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL);
    if (e != CL_SUCCESS || n == 0)
        return set_err(d, -ENOTSUP, "this OpenCL driver gives no program binary (%s)", cl_err_name(e));
    unsigned char *buf = malloc(n);
    if (!buf)
        return set_err(d, -ENOMEM, "out of memory");
    unsigned char *ptrs[1] = { buf };
    e = clGetProgramInfo(p->program, CL_PROGRAM_BINARIES, sizeof ptrs, ptrs, NULL);
    if (e != CL_SUCCESS) {
        free(buf);
        return set_err(d, -EIO, "clGetProgramInfo(CL_PROGRAM_BINARIES) failed: %s", cl_err_name(e));
    }
    *data = buf;
    *len = n;
    return 0;
}

static int ocl_program_load(fw_device *d, const void *data, size_t len, const char *entry, fw_program **out)
{
    *out = NULL;
    const unsigned char *bins[1] = { data };
    cl_int status = CL_SUCCESS, e;
    cl_program p = clCreateProgramWithBinary(d->ctx, 1, &d->device, &len, bins, &status, &e);
    if (e != CL_SUCCESS || status != CL_SUCCESS) {
        if (p)
            clReleaseProgram(p);
        return set_err(d, -EINVAL, "the driver refused the cached program binary: %s",
                       cl_err_name(e != CL_SUCCESS ? e : status));
    }
    return build_and_resolve(d, p, "", entry, out);
}

static int ocl_buffer_new(fw_device *d, size_t bytes, fw_buffer **out)
{
    *out = NULL;
    fw_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return set_err(d, -ENOMEM, "out of memory");
    cl_int e;
    /* OpenCL refuses zero-sized buffers; an empty workload buffer still needs a handle to bind */
    b->mem = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &e);
    if (e != CL_SUCCESS) {
        free(b);
        return set_err(d, -ENOMEM, "clCreateBuffer of %zu bytes failed: %s", bytes, cl_err_name(e));
    }
    b->bytes = bytes;
    *out = b;
    return 0;
}

static int check_range(fw_device *d, fw_buffer *b, size_t off, size_t n)
{
    if (off > b->bytes || n > b->bytes - off)
        return set_err(d, -ERANGE, "access of %zu bytes at offset %zu is outside a %zu-byte buffer",
                       n, off, b->bytes);
    return 0;
}

static int ocl_buffer_write(fw_device *d, fw_buffer *b, size_t off, const void *src, size_t n)
{
    int rc = check_range(d, b, off, n);
    if (rc < 0 || n == 0)
        return rc;
    cl_int e = clEnqueueWriteBuffer(d->queue, b->mem, CL_TRUE, off, n, src, 0, NULL, NULL);
    if (e != CL_SUCCESS)
        return set_err(d, -EIO, "clEnqueueWriteBuffer failed: %s (%d)", cl_err_name(e), e);
    return 0;
}

static int ocl_buffer_read(fw_device *d, fw_buffer *b, size_t off, void *dst, size_t n)
{
    int rc = check_range(d, b, off, n);
    if (rc < 0 || n == 0)
        return rc;
    cl_int e = clEnqueueReadBuffer(d->queue, b->mem, CL_TRUE, off, n, dst, 0, NULL, NULL);
    if (e != CL_SUCCESS)
        return set_err(d, -EIO, "clEnqueueReadBuffer failed: %s (%d)", cl_err_name(e), e);
    return 0;
}

static int ocl_buffer_fill(fw_device *d, fw_buffer *b, uint32_t pattern, size_t bytes)
{
    int rc = check_range(d, b, 0, bytes);
    if (rc < 0)
        return rc;
    size_t whole = bytes & ~(size_t)3;
    if (whole) {
        cl_int e = clEnqueueFillBuffer(d->queue, b->mem, &pattern, sizeof pattern, 0, whole, 0, NULL, NULL);
        if (e == CL_SUCCESS)
            e = clFinish(d->queue);
        if (e != CL_SUCCESS)
            return set_err(d, -EIO, "clEnqueueFillBuffer failed: %s (%d)", cl_err_name(e), e);
    }
    if (bytes > whole) /* the fill size must be a multiple of the pattern: write the tail by hand */
        return ocl_buffer_write(d, b, whole, &pattern, bytes - whole);
    return 0;
}

static int ocl_buffer_copy(fw_device *d, fw_buffer *dst, fw_buffer *src, size_t bytes)
{
    int rc = check_range(d, dst, 0, bytes);
    if (rc == 0)
        rc = check_range(d, src, 0, bytes);
    if (rc < 0 || bytes == 0)
        return rc;
    cl_int e = clEnqueueCopyBuffer(d->queue, src->mem, dst->mem, 0, 0, bytes, 0, NULL, NULL);
    if (e == CL_SUCCESS)
        e = clFinish(d->queue);
    if (e != CL_SUCCESS)
        return set_err(d, -EIO, "clEnqueueCopyBuffer failed: %s (%d)", cl_err_name(e), e);
    return 0;
}

static void ocl_buffer_free(fw_device *d, fw_buffer *b)
{
    (void)d;
    if (!b)
        return;
    clReleaseMemObject(b->mem);
    free(b);
}

/* Bind l's arguments and enqueue it; the event is the caller's. Arguments are captured at enqueue,
 * so the next launch may rebind them. */
static int enqueue(fw_device *d, fw_program *p, const fw_launch *l, cl_event *ev)
{
    for (size_t i = 0; i < l->nargs; i++) {
        const fw_arg *a = &l->args[i];
        cl_int e;
        if (a->kind == FW_ARG_BUFFER) {
            if (!a->buffer)
                return set_err(d, -EINVAL, "argument %zu is a buffer argument without a buffer", i);
            e = clSetKernelArg(p->kernel, (cl_uint)i, sizeof(cl_mem), &((fw_buffer *)a->buffer)->mem);
        } else if (a->kind == FW_ARG_BYTES) {
            e = clSetKernelArg(p->kernel, (cl_uint)i, a->size, a->bytes);
        } else if (a->kind == FW_ARG_LOCAL) {   /* a __local pointer: the size, no value */
            if (a->size == 0)
                return set_err(d, -EINVAL, "argument %zu is local memory of 0 bytes", i);
            e = clSetKernelArg(p->kernel, (cl_uint)i, a->size, NULL);
        } else {
            return set_err(d, -EINVAL, "argument %zu has an unknown kind %d", i, (int)a->kind);
        }
        if (e != CL_SUCCESS)
            return set_err(d, -EINVAL, "clSetKernelArg(%zu) failed: %s (%d)", i, cl_err_name(e), e);
    }
    size_t global[3], local[3];
    for (int k = 0; k < 3; k++) {
        if (l->grid[k] == 0 || l->group[k] == 0)
            return set_err(d, -EINVAL, "launch dimension %d is zero (grid %u, group %u)", k,
                           l->grid[k], l->group[k]);
        if (d->max_item[k] && l->group[k] > d->max_item[k])
            return set_err(d, -EINVAL, "group size %u in dimension %d is over the device's limit of %zu",
                           l->group[k], k, d->max_item[k]);
        local[k] = l->group[k];
        global[k] = (size_t)l->grid[k] * l->group[k];
    }
    cl_int e = clEnqueueNDRangeKernel(d->queue, p->kernel, 3, NULL, global, local, 0, NULL, ev);
    if (e != CL_SUCCESS)
        return set_err(d, -EINVAL, "clEnqueueNDRangeKernel failed: %s (%d)", cl_err_name(e), e);
    return 0;
}

/* Wait for `last` (the in-order queue has then run everything before it), check it, and time the
 * window from first's start to last's end on the device clock. Releases both events. */
static int finish(fw_device *d, cl_event first, cl_event last, uint64_t *elapsed_ns)
{
    cl_int e = clWaitForEvents(1, &last);
    cl_int status = CL_COMPLETE;
    clGetEventInfo(last, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
    int rc = 0;
    if (status < 0 || (e != CL_SUCCESS && e != CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST))
        rc = set_err(d, -EFAULT, "the kernel failed on the device: %s (%d); the context is no longer usable",
                     cl_err_name(status < 0 ? status : e), status < 0 ? status : e);
    else if (e != CL_SUCCESS)
        rc = set_err(d, -EFAULT, "waiting for the kernel failed: %s (%d)", cl_err_name(e), e);
    if (!rc && elapsed_ns) {
        cl_ulong t0 = 0, t1 = 0;
        cl_int e0 = clGetEventProfilingInfo(first, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        cl_int e1 = clGetEventProfilingInfo(last, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        if (e0 != CL_SUCCESS || e1 != CL_SUCCESS)
            rc = set_err(d, -EIO, "profiling information is not available: %s",
                         cl_err_name(e0 != CL_SUCCESS ? e0 : e1));
        else
            *elapsed_ns = t1 > t0 ? (uint64_t)(t1 - t0) : 0;
    }
    if (first != last)
        clReleaseEvent(first);
    clReleaseEvent(last);
    return rc;
}

static int ocl_launch(fw_device *d, fw_program *p, const fw_launch *l, uint64_t *elapsed_ns)
{
    cl_event ev = NULL;
    int rc = enqueue(d, p, l, &ev);
    return rc ? rc : finish(d, ev, ev, elapsed_ns);
}

/* fw_backend.launch_batch: n launches back to back on the in-order queue, timed as one window. */
static int ocl_launch_batch(fw_device *d, fw_program *p, const fw_launch *ls, size_t n, uint64_t *elapsed_ns)
{
    if (n < 1)
        return set_err(d, -EINVAL, "a batch needs at least one launch");
    cl_event first = NULL, last = NULL;
    for (size_t i = 0; i < n; i++) {
        cl_event ev = NULL;
        int rc = enqueue(d, p, &ls[i], &ev);
        if (rc) {
            if (last) {   /* drain what was enqueued before reporting */
                clWaitForEvents(1, &last);
                if (first != last)
                    clReleaseEvent(first);
                clReleaseEvent(last);
            }
            return rc;
        }
        if (!first)
            first = ev;
        else if (last != first)
            clReleaseEvent(last);
        last = ev;
    }
    return finish(d, first, last, elapsed_ns);
}

const fw_backend fw_opencl_backend = {
    .version = FW_BACKEND_VERSION,
    .name = "opencl",
    .device_count = ocl_device_count,
    .open = ocl_open,
    .close = ocl_close,
    .last_error = ocl_last_error,
    .compile = ocl_compile,
    .resources = ocl_resources,
    .program_free = ocl_program_free,
    .program_binary = ocl_program_binary,
    .program_load = ocl_program_load,
    .buffer_new = ocl_buffer_new,
    .buffer_write = ocl_buffer_write,
    .buffer_read = ocl_buffer_read,
    .buffer_fill = ocl_buffer_fill,
    .buffer_free = ocl_buffer_free,
    .launch = ocl_launch,
    .launch_batch = ocl_launch_batch,
    .buffer_copy = ocl_buffer_copy,
};
