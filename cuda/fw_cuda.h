/* fw_cuda.h - the CUDA backend: NVRTC for compiles, the driver API for everything else.
 *
 * fw_cuda_backend implements bench/fw_backend.h. Both libraries are loaded with dlopen at run time,
 * never linked: the worker built on a machine with the toolkit still starts where there is no
 * driver (CI), and there device_count() returns 0. The toolkit's headers are used for types only.
 *
 * Libraries, first that loads wins:
 *   libcuda:  $FAIRWAY_LIBCUDA, then libcuda.so.1.
 *   libnvrtc: $FAIRWAY_LIBNVRTC, then $CUDA_HOME/lib64/libnvrtc.so, the build's toolkit
 *             (FW_CUDA_ROOT/lib64/libnvrtc.so), then libnvrtc.so.13, .so.12, .so on the loader path.
 *
 * Device and limits. arch is "sm_XY" from the compute capability; compiles target exactly that
 * (--gpu-architecture=sm_XY, a cubin: no PTX JIT at load time). info->shared_bytes is the default
 * per-block limit (48 KiB), the most static __shared__ arrays can have; info->shared_optin_bytes is
 * the opt-in maximum (227 KiB on sm_90): launch() raises a function's dynamic shared-memory limit
 * with cuFuncSetAttribute when a launch asks for more than the default. driver is
 * "<kernel module version> (CUDA x.y)" where /proc/driver/nvidia/version can be read, else
 * "CUDA x.y"; compiler is "NVRTC x.y".
 *
 * Compile. NVRTC options: --gpu-architecture=sm_XY, -DNAME=VALUE per macro, -I<toolkit>/include
 * when that folder exists, -lineinfo when $FAIRWAY_CUDA_LINEINFO=1 (for compute-sanitizer reports;
 * it does not change the code), then `options` split on blanks. The entry must be extern "C"
 * (kernels/common/prelude.cuda.h's FW_KERNEL does that): names are resolved unmangled. A compile
 * error returns -EINVAL with the NVRTC log; a missing entry returns -ENOENT.
 *
 * Threads. Every call makes the device's primary context current on the calling thread, so the
 * worker may compile on pool threads while its benchmark thread launches. last_error() is kept per
 * thread: read it on the thread whose call failed.
 *
 * Errors. Driver failures return -EIO with the driver's error name and text, bad arguments
 * -EINVAL, a geometry over a limit (threads per block, shared memory) -E2BIG before any launch,
 * allocation failure -ENOMEM. A sticky error (illegal address, illegal instruction, misaligned
 * address, kernel assert, launch failure, ...) leaves the context unusable: the call returns
 * -EFAULT and so does every later call on that device, so the worker exits and the daemon records
 * the variant as crashed.
 *
 * Memory is plain device memory (cuMemAlloc), never managed. launch() times with CUDA events
 * recorded on the device's stream around the one cuLaunchKernel, then waits for the stop event.
 * program_binary() returns a malloc'd copy of the cubin (free() it); program_load() loads one.
 */
#ifndef FW_CUDA_H
#define FW_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "fw_backend.h"

extern const fw_backend fw_cuda_backend;

/* CUDA only (benchmarks): `count` back-to-back launches of the same geometry between one pair of
 * events, then wait. *elapsed_ns is the total; divided by count it is the cost of a launch when
 * launches are pipelined (as in an inference engine), against launch()'s isolated one. */
int fw_cuda_launch_batch(fw_device *dev, fw_program *prog, const fw_launch *l, int count,
                         uint64_t *elapsed_ns);

/* NVRTC alone, no driver or device needed (the unit tests and the compile cache use it).
 * Compile `source` for `arch` ("sm_90") with macros ("NAME=VALUE" or "NAME") and extra blank-
 * separated `options`. On success *cubin is a malloc'd ELF image of *cubin_len bytes; for a
 * virtual architecture ("compute_90") it is the PTX text instead, NUL-terminated (inspection tools
 * read it; launches never use PTX). *log (may be
 * NULL) receives the malloc'd NVRTC log, also on failure; free() it. Returns 0, -EINVAL on a compile
 * error, -ENOENT when libnvrtc cannot be loaded (the reason is in *log), -ENOMEM. */
int fw_cuda_nvrtc_compile(const char *source, const char *const *macros, size_t nmacros,
                          const char *options, const char *arch, int lineinfo,
                          void **cubin, size_t *cubin_len, char **log);

/* Compiler processes (fw_cuda_nvrtc_proc.c): one NVRTC process does not scale past a few compiles
 * at once, several do. After fw_cuda_nvrtc_processes(EXE), compile_binary (the compile pool's path)
 * runs each device handle's compiles in a child `EXE --nvrtc-server`, which must call
 * fw_cuda_nvrtc_server(0) (fairway-worker does); NULL or "" turns it off (the default). A child
 * that cannot be started means compiling in this process; one that dies compiling a program twice
 * makes that program's compile fail with -EIO and a sentence in *log. */
void fw_cuda_nvrtc_processes(const char *exe);
int fw_cuda_nvrtc_server(int fd);
typedef struct fw_nvrtc_proc fw_nvrtc_proc;
/* fw_cuda_nvrtc_compile through *pp's child (started on first use; *pp NULL at first). */
int fw_cuda_nvrtc_proc_compile(fw_nvrtc_proc **pp, const char *source, const char *const *macros,
                               size_t nmacros, const char *options, const char *arch, int lineinfo,
                               void **cubin, size_t *cubin_len, char **log);
int fw_cuda_nvrtc_proc_pid(const fw_nvrtc_proc *p);   /* the child's pid, 0 when none runs */
void fw_cuda_nvrtc_proc_free(fw_nvrtc_proc *p);

/* NVRTC version as "NVRTC 13.0" into buf; -ENOENT (reason in buf) when it cannot be loaded. */
int fw_cuda_nvrtc_version(char *buf, size_t len);

/* Why device_count() is 0 (no driver, stub library, no GPU), as a sentence; "" when devices exist. */
const char *fw_cuda_why_no_device(void);

/* 1 when a driver error code (CUresult) leaves the context unusable, else 0. */
int fw_cuda_error_is_sticky(int cuda_result);

/* Split blank-separated options into at most `max` pointers into a malloc'd copy of `options`
 * (*storage, free() it). Returns the count, or -E2BIG when there are more than max. */
int fw_cuda_split_options(const char *options, char **storage, const char **argv, int max);

#endif
