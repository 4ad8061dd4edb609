/* fw_xform_scan.h - text helpers shared by the transforms in variants/ (internal, not a contract). */
#ifndef FW_XFORM_SCAN_H
#define FW_XFORM_SCAN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "fw_transform.h"

/* A copy of text with comments and the contents of string and character literals replaced by
 * spaces; newlines and every other byte stay, so offsets and line numbers are the text's. */
char *fw_xform_mask(const char *text);
/* The line (from 1) of byte offset off. */
int fw_xform_line_of(const char *text, size_t off);

/* Scanning the masked text (variants/structural.c). */
int fw_xform_is_id(char c);
/* The whole word w at m[i] (not part of a longer identifier)? */
int fw_xform_word_at(const char *m, size_t i, const char *w);
size_t fw_xform_skip_ws(const char *m, size_t i);
/* The index past the bracket that matches the one at i (m[i] is one of ([{), or 0 when unmatched. */
size_t fw_xform_match_close(const char *m, size_t i);

/* A kernel entry function of the masked text. */
typedef struct fw_xform_func {
    char name[FW_XFORM_NAME_MAX];
    int cuda;                    /* declared __global__ */
    size_t params, params_end;   /* [params, params_end): the parameter list, parentheses included */
    size_t body, body_end;       /* [body, body_end): the body, braces included */
} fw_xform_func;
/* Kernel entry points: Metal `kernel void`, OpenCL `__kernel`/`kernel`, CUDA `__global__`, with a
 * body, in text order (up to max). */
size_t fw_xform_find_funcs(const char *m, fw_xform_func *out, size_t max);

/* async_prefetch_hint sites of one function (variants/prefetch.c): appends to out[*n..max), *n
 * counting all. */
void fw_xform_prefetch_sites(const char *text, const char *m, const fw_xform_func *f, fw_xform_site *out,
                             size_t max, size_t *n);

/* The one site a bind object names ({"transform", "function", "lines", "unproven"?}), or an error. */
int fw_xform_bind_site(const char *text, const char *src, const char *knob, const cJSON *bind,
                       fw_xform_site *site, char *err, size_t errlen);

#endif
