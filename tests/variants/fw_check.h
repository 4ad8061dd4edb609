/* fw_check.h - a tiny assert for the variants and search tests: prints file:line and the values,
 * counts failures, and main returns fw_check_failures != 0. */
#ifndef FW_CHECK_H
#define FW_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int fw_check_failures;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            fw_check_failures++;                                                      \
        }                                                                             \
    } while (0)

#define CHECK_INT(a, b)                                                                          \
    do {                                                                                         \
        long long fw_a_ = (long long)(a), fw_b_ = (long long)(b);                                \
        if (fw_a_ != fw_b_) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, \
                    #a, #b, fw_a_, fw_b_);                                                       \
            fw_check_failures++;                                                                 \
        }                                                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *fw_a_ = (a), *fw_b_ = (b);                                                  \
        if (!fw_a_ || !fw_b_ || strcmp(fw_a_, fw_b_) != 0) {                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s ('%s' != '%s')\n", __FILE__, __LINE__, \
                    #a, #b, fw_a_ ? fw_a_ : "(null)", fw_b_ ? fw_b_ : "(null)");                \
            fw_check_failures++;                                                                \
        }                                                                                       \
    } while (0)

/* The text contains the substring (error messages). */
#define CHECK_HAS(text, sub)                                                                       \
    do {                                                                                           \
        const char *fw_t_ = (text), *fw_s_ = (sub);                                                \
        if (!fw_t_ || !strstr(fw_t_, fw_s_)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: '%s' should contain '%s'\n", __FILE__, __LINE__, \
                    fw_t_ ? fw_t_ : "(null)", fw_s_);                                              \
            fw_check_failures++;                                                                   \
        }                                                                                          \
    } while (0)

static inline int fw_check_done(const char *name)
{
    if (fw_check_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, fw_check_failures);
    else
        printf("%s: all checks passed\n", name);
    return fw_check_failures ? 1 : 0;
}

#endif
