/* fw_sha256 (util/) against the examples of FIPS 180-4's companion document (NIST, "SHA-256"
 * example values: "abc", the two-block 448-bit message) and the standard's long-message vector
 * (one million 'a', fed in uneven pieces so that block boundaries fall everywhere), the empty
 * message, and the padding edge cases (55, 56, 63, 64 bytes: one or two final blocks), checked
 * one-shot against the same text fed a byte at a time. */
#include <stdio.h>
#include <string.h>

#include "fw_check.h"
#include "fw_sha256.h"

static void one_shot_vs_bytes(size_t len)
{
    char text[200], a[65], b[65];
    for (size_t i = 0; i < len; i++)
        text[i] = (char)('a' + i % 26);
    fw_sha256_hex(text, len, a);
    fw_sha256 s;
    uint8_t d[32];
    fw_sha256_init(&s);
    for (size_t i = 0; i < len; i++)
        fw_sha256_update(&s, text + i, 1);
    fw_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        snprintf(b + 2 * i, 3, "%02x", d[i]);
    CHECK_STR(a, b);
}

int main(void)
{
    char hex[65];
    fw_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    fw_sha256_hex(m2, strlen(m2), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    fw_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    static char million[1000000];
    memset(million, 'a', sizeof million);
    fw_sha256 s;
    uint8_t d[32];
    fw_sha256_init(&s);
    for (size_t at = 0, step = 1; at < sizeof million; step = step * 7 % 1000 + 1) {
        size_t n = sizeof million - at < step ? sizeof million - at : step;
        fw_sha256_update(&s, million + at, n);
        at += n;
    }
    fw_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    size_t edges[] = {1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 199};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        one_shot_vs_bytes(edges[i]);
    return fw_check_done("util_sha256");
}
