/* Kernel source texts embedded at build time (kernels/meson.build, scripts/embed.py). */
#ifndef FW_KERNEL_TEXT_H
#define FW_KERNEL_TEXT_H

#include <stddef.h>

/* The text of an embedded file by base name ("gemm.body.h"), or NULL. */
const char *fw_kernel_text(const char *name);

/* Assemble "prelude.<dialect>.h" + each named part, in order, into one malloc'd source. The
 * dialect's prelude defines the portable subset (FW_KERNEL, FW_GLOBAL, FW_LOCAL, FW_BARRIER(), ...).
 * Returns -ENOENT naming the missing part. */
int fw_kernel_assemble(const char *dialect, const char *const *parts, char **out,
                       char *err, size_t errlen);

#endif
