/* Unit tests of the CLI's pure pieces: K=V parsing, knob lists, spec building, formatting, tables,
 * path rules. No daemon, no sockets. */
#include "fw_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static char *json_text(const cJSON *j)
{
    return cJSON_PrintUnformatted(j);
}

static void test_kv(void)
{
    char err[256];
    cJSON *o;
    CHECK(fw_cli_parse_kv_object("M=256,N=128,K=64", &o, err, sizeof err) == 0, "%s", err);
    char *t = json_text(o);
    CHECK(!strcmp(t, "{\"M\":256,\"N\":128,\"K\":64}"), "%s", t);
    free(t);
    cJSON_Delete(o);

    /* JSON values (bit tuples of moe shapes) and strings (modes). */
    CHECK(fw_cli_parse_kv_object("tokens=1,bits=[[6,2,3],[4,4,4]],mode=decode,x=-3", &o, err, sizeof err) == 0, "%s", err);
    t = json_text(o);
    CHECK(!strcmp(t, "{\"tokens\":1,\"bits\":[[6,2,3],[4,4,4]],\"mode\":\"decode\",\"x\":-3}"), "%s", t);
    free(t);
    cJSON_Delete(o);

    static const char *const bad[] = {"", "M", "M=", "=3", "M=1,", "M=1,,N=2", "M=1,M=2", "b=[1,2", "b=[1,2]x", NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = 0;
        CHECK(fw_cli_parse_kv_object(bad[i], &o, err, sizeof err) < 0 && o == NULL, "'%s' accepted", bad[i]);
        CHECK(err[0] != 0, "'%s' has no message", bad[i]);
    }
}

static void test_knob(void)
{
    char err[256], name[64];
    cJSON *v;
    CHECK(fw_cli_parse_knob("TILE_N=32,64,128", name, sizeof name, &v, err, sizeof err) == 0, "%s", err);
    char *t = json_text(v);
    CHECK(!strcmp(name, "TILE_N") && !strcmp(t, "[32,64,128]"), "%s %s", name, t);
    free(t);
    cJSON_Delete(v);
    static const char *const bad[] = {"TILE_N", "TILE_N=", "=1", "TILE N=1", "T=1,1", "T=1.5", "T=a", "T=1,", NULL};
    for (int i = 0; bad[i]; i++)
        CHECK(fw_cli_parse_knob(bad[i], name, sizeof name, &v, err, sizeof err) < 0 && !v, "'%s' accepted", bad[i]);
}

static void test_spec(void)
{
    char err[512];
    fw_cli_spec_flags f;
    fw_cli_spec_flags_init(&f);
    cJSON *s;
    CHECK(fw_cli_spec_build(&f, &s, err, sizeof err) == -EINVAL && strstr(err, "nothing says what to tune"), "%s", err);

    CHECK(fw_cli_spec_flag(&f, "profile", "gemm_small", err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_flag(&f, "num-random", "40", err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_flag(&f, "random-seed", "7", err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_flag(&f, "warmup", "10", err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_flag(&f, "iters", "50", err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_flag(&f, "knob", "TILE_N=64,128", err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_flag(&f, "knob", "TILE_N=32", err, sizeof err) < 0 && strstr(err, "twice"), "%s", err);
    CHECK(fw_cli_spec_flag(&f, "constraint", "TILE_N <= 128", err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_flag(&f, "top", "3", err, sizeof err) == 0, "not a spec flag");
    CHECK(fw_cli_spec_flag(&f, "iters", "0", err, sizeof err) < 0, "iters 0 accepted");
    CHECK(fw_cli_spec_flag(&f, "device", "1024", err, sizeof err) < 0, "device 1024 accepted");
    CHECK(fw_cli_spec_build(&f, &s, err, sizeof err) == 0, "%s", err);
    char *t = json_text(s);
    CHECK(!strcmp(t, "{\"profile\":\"gemm_small\",\"space\":{\"knobs\":{\"TILE_N\":[64,128]},\"constraints\":"
                     "[\"TILE_N <= 128\"]},\"num_random\":40,\"seed\":7,\"warmup\":10,\"iters\":50}"),
          "%s", t);
    free(t);
    cJSON_Delete(s);

    /* --budget with --num-random contradicts; --no-explore wins over --num-random. */
    CHECK(fw_cli_spec_flag(&f, "budget", "9", err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_build(&f, &s, err, sizeof err) < 0 && strstr(err, "not both"), "%s", err);
    CHECK(fw_cli_spec_flag(&f, "no-explore", NULL, err, sizeof err) == 1, "%s", err);
    CHECK(fw_cli_spec_build(&f, &s, err, sizeof err) == 0, "%s", err);
    CHECK(!cJSON_GetObjectItem(s, "num_random") &&
              !strcmp(cJSON_GetObjectItem(s, "strategy")->valuestring, "presets"),
          "no-explore");
    cJSON_Delete(s);
    fw_cli_spec_flags_release(&f);

    /* --spec file under the flags. */
    char dir[] = "/tmp/fwcliXXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[128];
    snprintf(path, sizeof path, "%s/s.json", dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"family\":\"gemm\",\"iters\":5,\"aliases\":{\"TILE_K\":\"TK\"}}", fp);
    fclose(fp);
    fw_cli_spec_flags_init(&f);
    fw_cli_spec_flag(&f, "spec", path, err, sizeof err);
    fw_cli_spec_flag(&f, "iters", "7", err, sizeof err);
    fw_cli_spec_flag(&f, "alias", "TILE_N=MY_TILE_N", err, sizeof err);
    CHECK(fw_cli_spec_flag(&f, "macro", "HIDDEN=x", err, sizeof err) < 0, "non-integer macro accepted");
    CHECK(fw_cli_spec_build(&f, &s, err, sizeof err) == 0, "%s", err);
    t = json_text(s);
    CHECK(!strcmp(t, "{\"family\":\"gemm\",\"iters\":7,\"aliases\":{\"TILE_K\":\"TK\",\"TILE_N\":\"MY_TILE_N\"}}"), "%s", t);
    free(t);
    cJSON_Delete(s);
    fw_cli_spec_flags_release(&f);
    fp = fopen(path, "w");
    fputs("[1,2]", fp);
    fclose(fp);
    fw_cli_spec_flags_init(&f);
    fw_cli_spec_flag(&f, "spec", path, err, sizeof err);
    CHECK(fw_cli_spec_build(&f, &s, err, sizeof err) < 0 && strstr(err, "is JSON but not an object"), "%s", err);
    fw_cli_spec_flags_release(&f);
    unlink(path);
    rmdir(dir);
}

static void test_format(void)
{
    char b[32];
    fw_cli_fmt_ns(812, b, sizeof b);
    CHECK(!strcmp(b, "812 ns"), "%s", b);
    fw_cli_fmt_ns(81234, b, sizeof b);
    CHECK(!strcmp(b, "81.23 us"), "%s", b);
    fw_cli_fmt_ns(1234567, b, sizeof b);
    CHECK(!strcmp(b, "1.235 ms"), "%s", b);
    fw_cli_fmt_ns(2.5e9, b, sizeof b);
    CHECK(!strcmp(b, "2.50 s"), "%s", b);
    fw_cli_fmt_ns(-1, b, sizeof b);
    CHECK(!strcmp(b, "-"), "%s", b);
    fw_cli_fmt_secs(7, b, sizeof b);
    CHECK(!strcmp(b, "0:07"), "%s", b);
    fw_cli_fmt_secs(723, b, sizeof b);
    CHECK(!strcmp(b, "12:03"), "%s", b);
    fw_cli_fmt_secs(3723, b, sizeof b);
    CHECK(!strcmp(b, "1:02:03"), "%s", b);
    fw_cli_fmt_secs(-1, b, sizeof b);
    CHECK(!strcmp(b, "?"), "%s", b);
}

static void test_table_and_rankings(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    static const char *const head[] = {"a", "bb"};
    fw_cli_table t;
    fw_cli_table_init(&t, 2, head);
    t.right[0] = 1;
    static const char *const r1[] = {"1", "x"};
    static const char *const r2[] = {"100", "yyy"};
    fw_cli_table_add(&t, r1);
    fw_cli_table_add(&t, r2);
    fw_cli_table_print(&t, out);
    fw_cli_table_release(&t);
    fclose(out);
    CHECK(!strcmp(buf, "  a  bb\n  1  x\n100  yyy\n"), "[%s]", buf);
    free(buf);

    cJSON *rk = cJSON_Parse("[{\"rank\":1,\"shape_key\":\"M=1\",\"variant_key\":\"T=2\",\"median_ns\":1500,"
                            "\"gbps\":1.25,\"gflops\":3,\"origin\":\"random\"},"
                            "{\"rank\":2,\"shape_key\":\"M=1\",\"variant_key\":\"T=1\",\"median_ns\":2500,\"origin\":\"preset\"},"
                            "{\"rank\":1,\"shape_key\":\"M=2\",\"variant_key\":\"T=1\",\"median_ns\":900,\"origin\":\"preset\"}]");
    out = open_memstream(&buf, &len);
    fw_cli_print_rankings(out, rk, 1);
    fw_cli_print_best_per_shape(out, rk);
    fclose(out);
    CHECK(strstr(buf, "1  M=1    T=2") && !strstr(buf, "2  M=1") && strstr(buf, "1.50 us") && strstr(buf, "1.2"),
          "%s", buf);
    CHECK(strstr(buf, "best config per shape:\n  M=1: T=2  (median 1.50 us)\n  M=2: T=1  (median 900 ns)\n"), "%s", buf);
    free(buf);
    cJSON_Delete(rk);

    /* Finalists rank first by their re-timed median (marked *, the header says so), even where a
     * non-finalist's first-pass median is lower (issue 19 item 3). */
    rk = cJSON_Parse("[{\"rank\":1,\"shape_key\":\"M=1\",\"variant_key\":\"T=2\",\"median_ns\":1500,\"origin\":\"random\","
                     "\"timing\":\"finalist\"},"
                     "{\"rank\":2,\"shape_key\":\"M=1\",\"variant_key\":\"T=1\",\"median_ns\":1200,\"origin\":\"preset\","
                     "\"timing\":\"first_pass\"}]");
    out = open_memstream(&buf, &len);
    fw_cli_print_rankings(out, rk, 0);
    fclose(out);
    CHECK(strstr(buf, "finalists (median marked *)") && strstr(buf, "then the others by their first-pass median"),
          "%s", buf);
    CHECK(strstr(buf, "1.50 us *") && strstr(buf, "1.20 us") && !strstr(buf, "1.20 us *"), "%s", buf);
    free(buf);
    cJSON_Delete(rk);

    /* Plain progress: one line per change, nothing for a repeat. */
    out = open_memstream(&buf, &len);
    fw_cli_progress p;
    fw_cli_progress_init(&p, out, 0);
    cJSON *n1 = cJSON_Parse("{\"job\":3,\"state\":\"running\",\"evaluated\":1,\"planned\":4,\"best\":{\"variant_key\":"
                            "\"T=2\",\"median_ns\":1500},\"failures\":{\"compile_error\":2},\"elapsed_s\":1,\"eta_s\":3}");
    cJSON *n2 = cJSON_Parse("{\"job\":3,\"state\":\"done\",\"evaluated\":4,\"planned\":4,\"best\":null,\"final\":true}");
    fw_cli_progress_show(&p, n1);
    fw_cli_progress_show(&p, n1);
    fw_cli_progress_show(&p, n2);
    fw_cli_progress_end(&p);
    fclose(out);
    CHECK(!strcmp(buf, "progress: job 3 running 1/4 evaluated, best 1.50 us (T=2), 2 failed, elapsed 0:01, eta 0:03\n"
                       "progress: job 3 done 4/4 evaluated, best 1.50 us (T=2), 0 failed, elapsed 0:00, eta 0:00\n"),
          "[%s]", buf);
    free(buf);
    cJSON_Delete(n1);
    cJSON_Delete(n2);
}

static void test_paths(void)
{
    char out[512], err[1024];
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    CHECK(fw_cli_default_socket(out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "/run/user/1000/fairway/fairwayd.sock"), "%s", out);
    unsetenv("XDG_RUNTIME_DIR");
    setenv("HOME", "/home/u", 1);
    CHECK(fw_cli_default_socket(out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "/home/u/.local/state/fairway/fairwayd.sock"), "%s", out);
    unsetenv("HOME");
    CHECK(fw_cli_default_socket(out, sizeof out, err, sizeof err) < 0 && strstr(err, "--socket"), "%s", err);

    fw_cli_global g;
    memset(&g, 0, sizeof g);
    snprintf(g.socket, sizeof g.socket, "/tmp/x/s.sock");
    g.socket_explicit = 1;
    CHECK(fw_cli_log_path(&g, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "/tmp/x/fairwayd.log"), "%s", out);
    snprintf(g.socket, sizeof g.socket, "s.sock");
    CHECK(fw_cli_log_path(&g, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "./fairwayd.log"), "%s", out);
    g.socket_explicit = 0;
    setenv("XDG_STATE_HOME", "/st", 1);
    CHECK(fw_cli_log_path(&g, out, sizeof out, err, sizeof err) == 0 && !strcmp(out, "/st/fairway/fairwayd.log"), "%s", out);
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(fw_cli_log_path(&g, out, sizeof out, err, sizeof err) == 0 &&
              !strcmp(out, "/home/u/.local/state/fairway/fairwayd.log"), "%s", out);

    /* A socket path too long for sockaddr_un is refused with advice, not truncated. */
    char longp[300];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = 0;
    fw_cli_conn c;
    CHECK(fw_cli_connect(longp, &c, err, sizeof err) == -ENAMETOOLONG && strstr(err, "shorter"), "%s", err);
    CHECK(fw_cli_connect("/nonexistent-dir/s.sock", &c, err, sizeof err) == -ENOENT, "%s", err);

    setenv("FAIRWAY_DAEMON", "/nonexistent/fairwayd", 1);
    CHECK(fw_cli_find_daemon(&g, out, sizeof out, err, sizeof err) == -ENOENT && strstr(err, "FAIRWAY_DAEMON"), "%s", err);
    unsetenv("FAIRWAY_DAEMON");
}

int main(void)
{
    test_kv();
    test_knob();
    test_spec();
    test_format();
    test_table_and_rankings();
    test_paths();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
