/* entry.c - a user source's entry point checked at submit (issue 19 item 2): a misspelt --entry
 * used to surface only when the first variant ran ("no kernel named 'my_gemmx'"). Scanning is
 * deliberately lenient: the entry is refused only when its name is not in the text at all as a whole
 * identifier, so a kernel declared through a macro is never refused; the message lists the kernel
 * functions the scan does see (OpenCL __kernel / kernel, Metal kernel / [[kernel]], CUDA __global__). */
#include "fw_daemon.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fw_job.h"
#include "fw_util.h"

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int has_word(const char *text, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = text; n && (p = strstr(p, w)); p += n)
        if ((p == text || !ident_char(p[-1])) && !ident_char(p[n]))
            return 1;
    return 0;
}

/* Append to list the function names that follow a kernel qualifier ("kernel void NAME(", ...). */
static void list_kernels(const char *text, char *list, size_t len)
{
    static const char *const quals[] = {"__kernel", "kernel", "__global__", NULL};
    size_t off = strlen(list);
    for (size_t q = 0; quals[q]; q++) {
        size_t ql = strlen(quals[q]);
        for (const char *p = text; (p = strstr(p, quals[q])); p += ql) {
            if ((p > text && ident_char(p[-1])) || ident_char(p[ql]))
                continue;
            /* skip the return type and attributes up to the identifier just before '(' */
            const char *paren = strchr(p + ql, '(');
            const char *semi = strpbrk(p + ql, ";{");
            if (!paren || (semi && semi < paren) || paren - p > 200)
                continue;
            const char *e = paren;
            while (e > p && isspace((unsigned char)e[-1]))
                e--;
            const char *b = e;
            while (b > p && ident_char(b[-1]))
                b--;
            if (b == e || (size_t)(b - p) <= ql)
                continue;
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(e - b), b);
            if (!has_word(list, name) && off + strlen(name) + 3 < len)
                off += (size_t)snprintf(list + off, len - off, "%s%s", off ? ", " : "", name);
        }
    }
}

int fw_daemon_check_entry(const cJSON *resolved, char *err, size_t errlen)
{
    fw_job_spec js;
    if (fw_job_spec_parse(resolved, &js, NULL, 0) < 0)
        return 0;   /* fw_spec_resolve says what is wrong with the spec */
    const char *text = js.source_text, *entry = js.source_entry;
    if (!text || !entry || !*entry || has_word(text, entry))
        return 0;
    const char *name = js.source_name;
    char list[1024] = "";
    list_kernels(text, list, sizeof list);
    return fw_errf(err, errlen, -EINVAL, "no function named '%s' in %s (the entry, --entry); %s%s", entry,
                   name ? name : "the source", list[0] ? "its kernel functions: " : "the scan found no kernel function",
                   list);
}
