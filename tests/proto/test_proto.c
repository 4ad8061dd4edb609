/* proto/: the line reader (limit, "\r\n", NUL, split reads), strict parsing, the envelopes and the
 * UTF-8 repair of every line written; util/'s UTF-8 cut. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fw_check.h"
#include "fw_pcg32.h"
#include "fw_proto.h"
#include "fw_util.h"

static void test_lines(void)
{
    fw_proto_lines lb;
    fw_proto_lines_init(&lb, 8);
    char *line;
    size_t len;
    fw_proto_lines_feed(&lb, "ab", 2);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 0);
    fw_proto_lines_feed(&lb, "c\r\nxyz\n\n", 8);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_INT(len, 3);
    CHECK_STR(line, "abc");
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_STR(line, "xyz");
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_INT(len, 0);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 0);
    /* exactly max bytes, then max bytes + "\r\n" split between the '\r' and the '\n' */
    fw_proto_lines_feed(&lb, "12345678", 8);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 0);
    fw_proto_lines_feed(&lb, "\n", 1);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_INT(len, 8);
    fw_proto_lines_feed(&lb, "abcdefgh\r", 9);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 0);
    fw_proto_lines_feed(&lb, "\n", 1);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_INT(len, 8);
    CHECK_STR(line, "abcdefgh");
    /* a NUL byte is kept in the line (the parser refuses it), not a line end */
    fw_proto_lines_feed(&lb, "a\0b\n", 4);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_INT(len, 3);
    CHECK(line[1] == '\0' && line[2] == 'b');
    /* over the limit: pending, and complete */
    fw_proto_lines_feed(&lb, "123456789", 9);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), -E2BIG);
    fw_proto_lines_release(&lb);
    fw_proto_lines_init(&lb, 8);
    fw_proto_lines_feed(&lb, "12345678\r", 9);   /* max + '\r' pending: not yet too long */
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 0);
    fw_proto_lines_feed(&lb, "x", 1);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), -E2BIG);
    fw_proto_lines_release(&lb);
    fw_proto_lines_init(&lb, 8);
    fw_proto_lines_feed(&lb, "123456789\nok\n", 13);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), -E2BIG);
    fw_proto_lines_release(&lb);
    fw_proto_lines_init(&lb, 8);
    fw_proto_lines_feed(&lb, "1234567\r\r\n", 10);   /* only one '\r' is dropped */
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_INT(len, 8);
    fw_proto_lines_release(&lb);

    /* a buffer grown for a long line is given back once the line is consumed */
    fw_proto_lines_init(&lb, 1 << 20);
    char *big = malloc(1 << 20);
    memset(big, 'x', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\n';
    fw_proto_lines_feed(&lb, big, 1 << 20);
    CHECK(lb.cap >= (1u << 20));
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_INT(len, (1 << 20) - 1);
    fw_proto_lines_feed(&lb, "{}\n", 3);
    CHECK(lb.cap <= FW_PROTO_LINES_KEEP);
    CHECK_INT(fw_proto_lines_next(&lb, &line, &len), 1);
    CHECK_STR(line, "{}");
    free(big);
    fw_proto_lines_release(&lb);

    /* one byte at a time: the same lines as in one feed */
    fw_proto_lines_init(&lb, 1 << 20);
    const char *text = "{\"a\":1}\r\n\n{\"b\":[1,2,3]}\n";
    int got = 0;
    for (const char *p = text; *p; p++) {
        fw_proto_lines_feed(&lb, p, 1);
        while (fw_proto_lines_next(&lb, &line, &len) == 1) {
            got++;
            if (got == 1)
                CHECK_STR(line, "{\"a\":1}");
            if (got == 3)
                CHECK_STR(line, "{\"b\":[1,2,3]}");
        }
    }
    CHECK_INT(got, 3);
    fw_proto_lines_release(&lb);
}

static void test_read_fd(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    const char *text = "one\r\ntwo\nlast";
    CHECK(write(p[1], text, strlen(text)) == (ssize_t)strlen(text));
    close(p[1]);
    fw_proto_lines lb;
    fw_proto_lines_init(&lb, 16);
    char *line;
    size_t len;
    CHECK_INT(fw_proto_lines_read_fd(&lb, p[0], &line, &len), 1);
    CHECK_STR(line, "one");
    CHECK_INT(fw_proto_lines_read_fd(&lb, p[0], &line, &len), 1);
    CHECK_STR(line, "two");
    CHECK_INT(fw_proto_lines_read_fd(&lb, p[0], &line, &len), 1);
    CHECK_STR(line, "last");
    CHECK_INT(fw_proto_lines_read_fd(&lb, p[0], &line, &len), 0);
    close(p[0]);
    fw_proto_lines_release(&lb);
}

static void test_parse(void)
{
    cJSON *j;
    size_t at;
    const char *why;
    CHECK_INT(fw_proto_parse("{\"a\":1}  \t", 10, &j, &at, &why), 0);
    CHECK(cJSON_IsObject(j));
    cJSON_Delete(j);
    CHECK_INT(fw_proto_parse("{\"a\":1} x", 9, &j, &at, &why), FW_RPC_PARSE_ERROR);
    CHECK(j == NULL);
    CHECK_INT(at, 8);
    CHECK(strstr(why, "trailing") != NULL);
    CHECK_INT(fw_proto_parse("{\"a\":1}{}", 9, &j, &at, &why), FW_RPC_PARSE_ERROR);
    CHECK_INT(at, 7);
    CHECK_INT(fw_proto_parse("{\"m\":\"ab\0cd\"}", 13, &j, &at, &why), FW_RPC_PARSE_ERROR);
    CHECK_INT(at, 8);
    CHECK_STR(why, "a NUL byte");
    CHECK_INT(fw_proto_parse("{\"a\":", 5, &j, &at, &why), FW_RPC_PARSE_ERROR);
    CHECK_STR(why, "error");
    CHECK(fw_proto_blank(" \t\r", 3));
    CHECK(!fw_proto_blank(" x", 2));
}

static void check_line(cJSON *o, const char *want)
{
    size_t n;
    char *s = fw_proto_print(o, &n);
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(n, strlen(want));
        CHECK_STR(s, want);
    }
    free(s);
    cJSON_Delete(o);
}

static void test_envelopes(void)
{
    cJSON *id = cJSON_CreateNumber(7);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "job", 1);
    check_line(fw_proto_result(id, r), "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"job\":1}}\n");
    check_line(fw_proto_result(id, NULL), "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n");
    cJSON *data = cJSON_CreateObject();
    cJSON_AddNumberToObject(data, "limit", 3);
    check_line(fw_proto_error(NULL, FW_RPC_LINE_TOO_LONG, "too long", data),
               "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32003,\"message\":\"too long\",\"data\":{\"limit\":3}}}\n");
    check_line(fw_proto_error(id, FW_RPC_INVALID_PARAMS, "bad", NULL),
               "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32602,\"message\":\"bad\"}}\n");
    check_line(fw_proto_notification("progress", cJSON_CreateObject()),
               "{\"jsonrpc\":\"2.0\",\"method\":\"progress\",\"params\":{}}\n");
    check_line(fw_proto_request(3, "load", NULL), "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"load\",\"params\":{}}\n");
    cJSON_Delete(id);

    /* bytes that are not UTF-8 become U+FFFD in a line written, valid UTF-8 stays as it is */
    check_line(fw_proto_error(NULL, -32601, "unknown method 'a\xff\xc3'", NULL),
               "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,\"message\":\"unknown method 'a\xef\xbf\xbd\xef\xbf\xbd'\"}}\n");
    check_line(fw_proto_notification("\xc3\xa9\xe2\x82\xac", NULL),
               "{\"jsonrpc\":\"2.0\",\"method\":\"\xc3\xa9\xe2\x82\xac\",\"params\":{}}\n");
    size_t n;
    cJSON *o = fw_proto_notification("a\xff", NULL);
    char *exact = fw_proto_print_exact(o, &n);
    CHECK(exact && strstr(exact, "a\xff") != NULL);
    free(exact);
    cJSON_Delete(o);
}

static void test_utf8(void)
{
    CHECK(fw_utf8_valid("abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 12));
    CHECK(!fw_utf8_valid("\xc0\xaf", 2));           /* overlong */
    CHECK(!fw_utf8_valid("\xed\xa0\x80", 3));       /* surrogate */
    CHECK(!fw_utf8_valid("\xf4\x90\x80\x80", 4));   /* over U+10FFFF */
    CHECK(!fw_utf8_valid("\xe2\x82", 2));           /* cut short */
    /* "é€" cut at each length: never inside a character */
    const char *s = "a\xc3\xa9\xe2\x82\xac";
    size_t want[] = {0, 1, 1, 3, 3, 3, 6};
    for (size_t k = 0; k <= 6; k++)
        CHECK_INT(fw_utf8_cut(s, k), want[k]);
    CHECK_INT(fw_utf8_cut("ab\xff", 3), 3);             /* not a cut character: left to the repair */
    size_t n;
    char *f = fw_utf8_fix("a\xe2\x82z\xff", 5, &n);     /* maximal subpart: one U+FFFD for \xe2\x82 */
    CHECK_STR(f, "a\xef\xbf\xbdz\xef\xbf\xbd");
    CHECK_INT(n, 8);
    free(f);
    char err[7];
    fw_errf(err, sizeof err, -1, "%s", "abcd\xe2\x82\xac\xe2\x82\xac");   /* 6 bytes fit: "abcd" + a cut euro sign */
    CHECK_STR(err, "abcd");
}

/* Seeded random bytes (biased towards UTF-8 lead and continuation bytes): the repair always yields
 * valid UTF-8 and leaves valid text alone; a cut never ends inside a character of valid text. */
static void test_utf8_random(void)
{
    fw_pcg32 r;
    fw_pcg32_seed(&r, 15, 7);
    static const unsigned char pool[] = {'a', 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xed, 0xef,
                                         0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x90, 0x8f, 0x9f};
    for (int round = 0; round < 20000; round++) {
        char buf[24];
        size_t n = fw_pcg32_bounded(&r, sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)pool[fw_pcg32_bounded(&r, sizeof pool)];
        size_t m;
        char *f = fw_utf8_fix(buf, n, &m);
        CHECK(f && fw_utf8_valid(f, m));
        if (fw_utf8_valid(buf, n)) {
            CHECK(m == n && memcmp(f, buf, n) == 0);
            for (size_t k = 0; k <= n; k++)
                CHECK(fw_utf8_valid(buf, fw_utf8_cut(buf, k)) && fw_utf8_cut(buf, k) + 4 > k);
        }
        free(f);
    }
}

int main(void)
{
    test_utf8_random();
    test_lines();
    test_read_fd();
    test_parse();
    test_envelopes();
    test_utf8();
    return fw_check_failures != 0;
}
