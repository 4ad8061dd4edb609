#include "fw_kernel_text.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fw_util.h"

extern const char *const fw_kernel_texts_names[];
extern const char *const fw_kernel_texts_texts[];

const char *fw_kernel_text(const char *name)
{
    for (size_t i = 0; fw_kernel_texts_names[i]; i++)
        if (strcmp(fw_kernel_texts_names[i], name) == 0)
            return fw_kernel_texts_texts[i];
    return NULL;
}

int fw_kernel_assemble(const char *dialect, const char *const *parts, char **out,
                       char *err, size_t errlen)
{
    char prelude[64];
    snprintf(prelude, sizeof prelude, "prelude.%s.h", dialect);
    const char *p = fw_kernel_text(prelude);
    if (!p)
        return fw_errf(err, errlen, -ENOENT, "no prelude for dialect '%s'", dialect);
    fw_sbuf b;
    fw_sbuf_init(&b);
    fw_sbuf_printf(&b, "/* ---- %s ---- */\n", prelude);
    fw_sbuf_puts(&b, p);
    for (size_t i = 0; parts[i]; i++) {
        const char *t = fw_kernel_text(parts[i]);
        if (!t) {
            fw_sbuf_release(&b);
            return fw_errf(err, errlen, -ENOENT, "no embedded kernel text '%s'", parts[i]);
        }
        fw_sbuf_printf(&b, "\n/* ---- %s ---- */\n", parts[i]);
        fw_sbuf_puts(&b, t);
    }
    *out = fw_sbuf_take(&b);
    return *out ? 0 : fw_errf(err, errlen, -ENOMEM, "out of memory");
}
