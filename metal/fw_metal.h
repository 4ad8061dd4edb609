/* fw_metal.h - the Metal backend (bench/fw_backend.h) in C over the Objective-C runtime.
 *
 * Choices (DESIGN.md section 5, reference/metal-from-c-and-style.md part 1):
 *   - Device: MTLCreateSystemDefaultDevice() (one device, index 0). CoreGraphics is linked so a
 *     daemon's worker gets a device at all.
 *   - Compile: newLibraryWithSource:options:error: with an MTLCompileOptions whose preprocessorMacros
 *     is an NSDictionary of NSString -> NSNumber (integer values; other values stay NSString, a bare
 *     NAME is 1), languageVersion pinned (Metal 3.0 unless -std=metalX.Y) and fast math as Metal's
 *     default (on) unless -fno-fast-math. Options understood: "-std=metalX.Y", "-ffast-math",
 *     "-fno-fast-math"; anything else is refused with -EINVAL. A library returned together with an
 *     NSError compiled with warnings: it is a success, and the warning text is kept in last_error().
 *     Then newFunctionWithName: (nil without an error when the name is absent) and
 *     newComputePipelineStateWithFunction:error:; the pipeline's maxTotalThreadsPerThreadgroup,
 *     threadExecutionWidth and staticThreadgroupMemoryLength are what ->resources reports.
 *   - Buffers: newBufferWithLength:options: with shared storage; reads and writes are memcpy on
 *     -contents (coherent once waitUntilCompleted has returned, and launches are synchronous).
 *   - Launch: one command buffer per launch, one compute encoder, setBuffer:offset:atIndex: and
 *     setBytes:length:atIndex: (at most 4096 bytes, Apple's limit), dispatchThreadgroups:
 *     threadsPerThreadgroup:, endEncoding, commit, waitUntilCompleted. The time is the command
 *     buffer's GPUEndTime - GPUStartTime. A command buffer that ends in error returns -EIO with the
 *     NSError's localizedDescription, or -EFAULT (the worker exits, the variant is "crashed") for a
 *     page fault or a removed device.
 *   - Memory: every unit of work (open, compile, launch, device_count) runs inside
 *     objc_autoreleasePoolPush/Pop, so +0 objects never pile up in a daemon's worker.
 *
 * Every Objective-C call goes through one table of thin wrappers, fw_metal_rt: one function per call
 * shape (the exact C signature objc_msgSend is cast to), plus the few C entry points. The real table
 * (fw_metal_objc.c, macOS only) is the single place that touches objc_msgSend; tests/metal installs
 * a recording fake with fw_metal_set_runtime() and drives the backend's own logic on Linux.
 */
#ifndef FW_METAL_H
#define FW_METAL_H

#include "fw_backend.h"
#include "fw_metal_objc.h"

#define FW_METAL_RT_VERSION 1

typedef struct fw_metal_rt {
    int version;   /* FW_METAL_RT_VERSION */
    /* C entry points */
    id (*create_device)(void);
    Class (*get_class)(const char *name);
    SEL (*sel)(const char *name);
    void *(*pool_push)(void);
    void (*pool_pop)(void *pool);
    /* message sends, named by the C signature they are cast to: receiver, SEL, arguments */
    id (*send_id)(id, SEL);
    void (*send_void)(id, SEL);
    fw_nsuint (*send_uint)(id, SEL);
    fw_nsint (*send_int)(id, SEL);
    double (*send_double)(id, SEL);
    const char *(*send_cstr)(id, SEL);
    void *(*send_ptr)(id, SEL);
    fw_mtl_size (*send_size)(id, SEL);                          /* objc_msgSend_stret on x86_64 */
    fw_objc_bool (*send_bool_sel)(id, SEL, SEL);                /* respondsToSelector: */
    fw_objc_bool (*send_bool_int)(id, SEL, fw_nsint);           /* supportsFamily: */
    id (*send_id_cstr)(id, SEL, const char *);                  /* stringWithUTF8String: */
    id (*send_id_id)(id, SEL, id);                              /* newFunctionWithName: */
    id (*send_id_llong)(id, SEL, long long);                    /* numberWithLongLong: */
    id (*send_id_id_id_err)(id, SEL, id, id, id *);             /* newLibraryWithSource:options:error: */
    id (*send_id_id_err)(id, SEL, id, id *);                    /* newComputePipelineStateWithFunction:error: */
    id (*send_id_uint_uint)(id, SEL, fw_nsuint, fw_nsuint);     /* newBufferWithLength:options: */
    id (*send_id_objs_keys_count)(id, SEL, const id *, const id *, fw_nsuint); /* dictionaryWithObjects:... */
    void (*send_void_id)(id, SEL, id);                          /* setComputePipelineState: */
    void (*send_void_bool)(id, SEL, fw_objc_bool);              /* setFastMathEnabled: */
    void (*send_void_uint)(id, SEL, fw_nsuint);                 /* setLanguageVersion: */
    void (*send_void_int)(id, SEL, fw_nsint);                   /* setMathMode: */
    void (*send_void_uint_uint)(id, SEL, fw_nsuint, fw_nsuint); /* setThreadgroupMemoryLength:atIndex: */
    void (*send_void_id_uint_uint)(id, SEL, id, fw_nsuint, fw_nsuint);          /* setBuffer:offset:atIndex: */
    void (*send_void_ptr_uint_uint)(id, SEL, const void *, fw_nsuint, fw_nsuint); /* setBytes:length:atIndex: */
    void (*send_void_size_size)(id, SEL, fw_mtl_size, fw_mtl_size); /* dispatchThreadgroups:threadsPerThreadgroup: */
} fw_metal_rt;

extern const fw_backend fw_metal_backend;

/* The real runtime (fw_metal_objc.c); only macOS builds define it. */
extern const fw_metal_rt fw_metal_objc_runtime;

/* The runtime the backend calls: the real one on macOS, none elsewhere (device_count() is then 0),
 * or whatever fw_metal_set_runtime() installed (tests). Install before opening a device; NULL
 * restores the default. The selectors are registered again on the next open. */
const fw_metal_rt *fw_metal_runtime(void);
void fw_metal_set_runtime(const fw_metal_rt *rt);

/* Constants from Apple's headers (values of metal-cpp's enums). */
#define FW_MTL_STORAGE_SHARED 0UL
#define FW_MTL_CB_STATUS_COMPLETED 4UL
#define FW_MTL_CB_STATUS_ERROR 5UL
#define FW_MTL_CB_ERROR_TIMEOUT 2L
#define FW_MTL_CB_ERROR_PAGE_FAULT 3L
#define FW_MTL_CB_ERROR_OUT_OF_MEMORY 8L
#define FW_MTL_CB_ERROR_DEVICE_REMOVED 11L
#define FW_MTL_LIBRARY_ERROR_COMPILE_WARNING 4L
#define FW_MTL_MATH_MODE_SAFE 0L
#define FW_MTL_MATH_MODE_FAST 2L
#define FW_MTL_GPU_FAMILY_APPLE1 1001L
#define FW_MTL_GPU_FAMILY_APPLE9 1009L
#define FW_MTL_SET_BYTES_MAX 4096

#endif
