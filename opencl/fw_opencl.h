/* fw_opencl.h - the OpenCL backend (any OpenCL 1.2+ platform; PoCL on machines without a GPU).
 *
 * Implements bench/fw_backend.h as `fw_opencl_backend`. Choices this backend makes:
 *   - Devices are numbered across every platform in clGetPlatformIDs order, then each platform's
 *     devices of any type in clGetDeviceIDs order. No platform (no ICD installed) = 0 devices.
 *   - One context and one in-order queue with CL_QUEUE_PROFILING_ENABLE per opened device.
 *   - fw_device_info: identity from CL_DEVICE_VENDOR / CL_DEVICE_NAME / CL_DRIVER_VERSION /
 *     CL_DEVICE_OPENCL_C_VERSION; arch = CL_DEVICE_VERSION without its "OpenCL x.y " prefix (PoCL puts
 *     its host triple and CPU there); simd_width = CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE of a
 *     probe kernel compiled at open (1 if that fails); max_grid unknown (0).
 *   - compile: options "-DNAME=VALUE ..." then the caller's options. A build failure returns -EINVAL
 *     with "OpenCL build failed (CL_BUILD_PROGRAM_FAILURE):\n<full build log>" in last_error(); a
 *     missing entry point also returns -EINVAL.
 *   - resources: max_threads = CL_KERNEL_WORK_GROUP_SIZE, static_shared_bytes =
 *     CL_KERNEL_LOCAL_MEM_SIZE, local_bytes = CL_KERNEL_PRIVATE_MEM_SIZE, simd_width =
 *     CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, registers unknown (0).
 *   - launch: 3-D NDRange, global = grid * group, local = group; waits for the event and reads
 *     CL_PROFILING_COMMAND_START/END. An enqueue error (bad work-group size, out of resources at
 *     launch) is -EINVAL; a kernel whose event ends with a negative execution status (the device
 *     aborted it: after that the context cannot be trusted) is -EFAULT.
 */
#ifndef FW_OPENCL_H
#define FW_OPENCL_H

#include "fw_backend.h"

extern const fw_backend fw_opencl_backend;

#endif
