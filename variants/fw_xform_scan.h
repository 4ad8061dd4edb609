/* fw_xform_scan.h - text helpers shared by the transforms in variants/ (internal, not a contract). */
#ifndef FW_XFORM_SCAN_H
#define FW_XFORM_SCAN_H

#include <stddef.h>

/* A copy of text with comments and the contents of string and character literals replaced by
 * spaces; newlines and every other byte stay, so offsets and line numbers are the text's. */
char *fw_xform_mask(const char *text);
/* The line (from 1) of byte offset off. */
int fw_xform_line_of(const char *text, size_t off);

/* The one site a bind object names ({"transform", "function", "lines", "unproven"?}), or an error. */
#include <cjson/cJSON.h>
struct fw_xform_site;
int fw_xform_bind_site(const char *text, const char *src, const char *knob, const cJSON *bind,
                       struct fw_xform_site *site, char *err, size_t errlen);

#endif
