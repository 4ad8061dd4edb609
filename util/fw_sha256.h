/* fw_sha256.h - SHA-256 (FIPS 180-4, section 6.2), written from the standard for the names other
 * tools derive from it (metal-marlin's kernel_tuning_<sha256>.json cache files, cli/cli_export_mm.c).
 * Not for secrets: no constant-time care, no key handling. */
#ifndef FW_SHA256_H
#define FW_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct fw_sha256 {
    uint32_t h[8];          /* the hash value H(i) */
    uint8_t block[64];      /* the message block being filled */
    size_t used;            /* bytes in block */
    uint64_t bits;          /* message length so far, in bits */
} fw_sha256;

void fw_sha256_init(fw_sha256 *s);
void fw_sha256_update(fw_sha256 *s, const void *data, size_t len);
/* Pads, finishes and writes the 32-byte digest; s must be initialised again before reuse. */
void fw_sha256_final(fw_sha256 *s, uint8_t digest[32]);
/* The digest of len bytes as 64 lowercase hex digits and a NUL. */
void fw_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
