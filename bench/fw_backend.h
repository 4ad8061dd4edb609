/* fw_backend.h - the interface every GPU backend implements (DESIGN.md section 5).
 *
 * One table of function pointers with a leading version field. The worker's harness (bench/) is the
 * only caller; backends (opencl/, cuda/, metal/) never see jobs, knobs or the database.
 *
 * Geometry is explicit and Metal-shaped: `grid` counts threadgroups (CUDA blocks, OpenCL work-groups)
 * and `group` counts threads per threadgroup. OpenCL's global size is grid * group.
 *
 * Arguments are bound in order: index i of fw_launch.args is Metal buffer index i, OpenCL kernel
 * argument i, CUDA kernel parameter i. An argument is either a device buffer or a small by-value
 * blob (a params struct: Metal setBytes, OpenCL clSetKernelArg by value, CUDA by-value parameter),
 * or threadgroup memory of a size (FW_ARG_LOCAL; declarative workloads' "local" arguments):
 *   OpenCL: a __local pointer argument, clSetKernelArg(kernel, i, size, NULL);
 *   CUDA:   no parameter (the parameters after it move down one): the sizes of the launch's local
 *           arguments, each rounded up to 16 bytes, are added after dynamic_shared_bytes to the
 *           launch's dynamic shared memory, in order: the kernel's `extern __shared__` array holds
 *           its own dynamic_shared_bytes first, then each local argument at its 16-byte offset;
 *   Metal:  no buffer index is bound at i; the k-th local argument of the launch is threadgroup
 *           memory [[threadgroup(k)]] (setThreadgroupMemoryLength:atIndex:k, rounded up to 16), and
 *           a launch with local arguments must have dynamic_shared_bytes 0 (it would take index 0).
 *
 * Every function returns 0 or a negative errno-style code. Text (build logs, driver errors) goes in
 * the device's error buffer, read with ->last_error().
 */
#ifndef FW_BACKEND_H
#define FW_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#define FW_BACKEND_VERSION 1

typedef struct fw_device_info {
    char backend[16];     /* "opencl", "cuda", "metal" */
    char dialect[16];     /* source dialect the device compiles: "opencl", "cuda", "metal" */
    char vendor[128];
    char name[256];
    char driver[128];     /* driver version */
    char compiler[128];   /* compiler version (NVRTC x.y, OpenCL C version, Metal language) */
    char arch[64];        /* e.g. "sm_90", "pthread-skylake-avx512", "apple9" */
    int64_t max_threads;          /* max threads per threadgroup */
    int64_t shared_bytes;         /* max threadgroup (shared/local) memory per threadgroup */
    int64_t simd_width;           /* SIMD group / warp / sub-group width */
    int64_t compute_units;
    int64_t global_mem_bytes;
    int64_t max_grid[3];          /* max threadgroups per dimension (0 = unknown) */
    /* CUDA: the most shared memory one block may use once a kernel opts in to more dynamic shared
     * memory than shared_bytes (227 KiB on sm_90; launch() opts in). shared_bytes stays the
     * default per-block limit, which static __shared__ arrays can never exceed. 0 elsewhere. */
    int64_t shared_optin_bytes;
    /* The largest single buffer the device allocates (OpenCL CL_DEVICE_MAX_MEM_ALLOC_SIZE, Metal
     * maxBufferLength; CUDA has no such limit apart from the memory: global_mem_bytes); 0 = unknown.
     * The daemon checks a shape's largest buffer against it at submit (issue 15 item 12). */
    int64_t max_alloc_bytes;
} fw_device_info;

/* Identity = backend + vendor + name + driver/compiler version (DESIGN.md section 5). Writes a
 * stable string "opencl|GenuineIntel|pthread-...|3.1+debian|OpenCL C 1.2" into buf. */
int fw_device_identity(const fw_device_info *info, char *buf, size_t len);

/* What a compiled program uses, read back from the compiler/driver (0 = unknown). */
typedef struct fw_resources {
    int64_t max_threads;        /* max threads per threadgroup this program can launch with */
    int64_t static_shared_bytes;
    int64_t registers;          /* per thread */
    int64_t local_bytes;        /* spill / private memory per thread */
    int64_t simd_width;         /* execution width the compiler chose */
    int64_t num_args;           /* the kernel's parameters (OpenCL CL_KERNEL_NUM_ARGS); 0 = unknown */
} fw_resources;

typedef enum fw_arg_kind { FW_ARG_BUFFER = 1, FW_ARG_BYTES = 2, FW_ARG_LOCAL = 3 } fw_arg_kind;

typedef struct fw_arg {
    fw_arg_kind kind;
    void *buffer;            /* FW_ARG_BUFFER: a backend buffer handle */
    const void *bytes;       /* FW_ARG_BYTES: the value */
    size_t size;             /* FW_ARG_BYTES: its size; FW_ARG_LOCAL: the bytes of threadgroup memory */
} fw_arg;

typedef struct fw_launch {
    uint32_t grid[3];        /* threadgroups */
    uint32_t group[3];       /* threads per threadgroup */
    uint32_t dynamic_shared_bytes;  /* CUDA dynamic shared memory; 0 elsewhere */
    const fw_arg *args;
    size_t nargs;
} fw_launch;

typedef struct fw_device fw_device;     /* backend-private */
typedef struct fw_program fw_program;   /* backend-private: a compiled kernel, entry resolved */
typedef struct fw_buffer fw_buffer;     /* backend-private */

typedef struct fw_backend {
    int version;                         /* FW_BACKEND_VERSION */
    const char *name;                    /* "opencl" */

    /* Number of devices this backend sees (0 when the runtime is missing: not an error). */
    int (*device_count)(void);
    int (*open)(int index, fw_device **dev, fw_device_info *info, char *err, size_t errlen);
    void (*close)(fw_device *dev);
    const char *(*last_error)(fw_device *dev);

    /* Compile `source` with preprocessor macros ("NAME=VALUE" strings) and resolve `entry`.
     * `options` are extra compiler options (may be NULL). A compile failure returns -EINVAL and
     * leaves the full build log in last_error(). */
    int (*compile)(fw_device *dev, const char *source, const char *const *macros, size_t nmacros,
                   const char *options, const char *entry, fw_program **prog);
    int (*resources)(fw_device *dev, fw_program *prog, fw_resources *out);
    void (*program_free)(fw_device *dev, fw_program *prog);
    /* Optional (NULL if unsupported): serialize a compiled program for the compile cache, and
     * load one back. A load that fails returns < 0 and the caller recompiles. */
    int (*program_binary)(fw_device *dev, fw_program *prog, void **data, size_t *len);
    int (*program_load)(fw_device *dev, const void *data, size_t len, const char *entry,
                        fw_program **prog);
    /* Optional (NULL if unsupported): compile straight to the bytes program_load takes, without
     * loading them (the compile pool's threads hand the bytes to the timing thread, which loads
     * them; loading and unloading a module per compile thread would only contend for the device's
     * context). Same error contract as compile. */
    int (*compile_binary)(fw_device *dev, const char *source, const char *const *macros,
                          size_t nmacros, const char *options, void **data, size_t *len);

    int (*buffer_new)(fw_device *dev, size_t bytes, fw_buffer **buf);
    int (*buffer_write)(fw_device *dev, fw_buffer *buf, size_t offset, const void *src, size_t n);
    int (*buffer_read)(fw_device *dev, fw_buffer *buf, size_t offset, void *dst, size_t n);
    /* Fill with a repeated 4-byte pattern (poisoning and zeroing). */
    int (*buffer_fill)(fw_device *dev, fw_buffer *buf, uint32_t pattern, size_t bytes);
    void (*buffer_free)(fw_device *dev, fw_buffer *buf);

    /* Launch once and wait for completion. When elapsed_ns is non-NULL, store the kernel's duration
     * on the device clock (OpenCL profiling events, CUDA events, Metal GPUStartTime/GPUEndTime).
     * A sticky device error (CUDA illegal address) returns -EFAULT: the worker must exit, and the
     * daemon records the variant as crashed. */
    int (*launch)(fw_device *dev, fw_program *prog, const fw_launch *l, uint64_t *elapsed_ns);

    /* Optional (NULL if unsupported; added after version 1 without changing it, so a backend that
     * does not set it keeps working): n launches back to back, ls[i] the i-th (same program and
     * geometry, the arguments may differ: rotated input copies), on one in-order queue/stream with
     * no host wait between them, then wait. *elapsed_ns is the device time from the first launch's
     * start to the last one's end (OpenCL: START of the first event to END of the last; CUDA: one
     * event pair around the batch; Metal: one command buffer's GPUStartTime/GPUEndTime). It lets
     * the harness time kernels shorter than one launch's overhead (options.launches_per_sample).
     * Returns like launch; -ENOTSUP when this batch cannot be done (the harness then times each
     * launch with launch() and adds them up). */
    int (*launch_batch)(fw_device *dev, fw_program *prog, const fw_launch *ls, size_t n, uint64_t *elapsed_ns);

    /* Optional (NULL if unsupported; added after version 1 like launch_batch): copy the first
     * `bytes` of src into dst on the device and wait. The harness restores a workload's inputs from
     * a device-resident pristine copy with it instead of writing them from the host for every
     * variant (issue 20); without it the inputs are written from the host as before. */
    int (*buffer_copy)(fw_device *dev, fw_buffer *dst, fw_buffer *src, size_t bytes);
} fw_backend;

/* The backends compiled into this binary (bench/backends.c); NULL-terminated. */
const fw_backend *const *fw_backends(void);
const fw_backend *fw_backend_find(const char *name);

#endif
