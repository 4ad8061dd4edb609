/* test_metal_fake.c - the Metal backend's own logic driven through a recording fake runtime.
 *
 * Success and every error path: device missing, class missing, queue missing, compile error,
 * compile with warnings, function missing, pipeline error, buffer allocation failure, no command
 * buffer, command buffer error (plain and sticky), missing timestamps, bad options, oversized
 * setBytes. After each, the fake must report no violation (shapes, freed objects, encoder order),
 * balanced autorelease pools, and no +1 object the backend forgot to release.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_objc.h"

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            failures++;                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

static const fw_backend *be = &fw_metal_backend;

static const char src_ok[] =
    "#include <metal_stdlib>\n"
    "#ifndef TILE_N\n#define TILE_N 32\n#endif\n"
    "kernel void gemm_tiled(device float *a [[buffer(0)]]) { a[0] = TILE_N; }\n";

/* The world after a scenario: no violation, pools balanced, every +1 object released. */
static void check_clean(const char *scenario)
{
    CHECK(fake_violations() == 0, "%s: %d violation(s), first: %s", scenario, fake_violations(),
          fake_first_violation());
    CHECK(fake_pool_depth() == 0, "%s: %d autorelease pool(s) left pushed", scenario, fake_pool_depth());
    CHECK(fake_pool_pushes() == fake_pool_pops(), "%s: %d pushes, %d pops", scenario, fake_pool_pushes(),
          fake_pool_pops());
    CHECK(fake_owned_alive() == 0, "%s: %d +1 object(s) never released", scenario, fake_owned_alive());
}

static fw_device *open_dev(fw_device_info *info)
{
    fw_device *d = NULL;
    char err[512] = "";
    int rc = be->open(0, &d, info, err, sizeof err);
    CHECK(rc == 0 && d, "open failed: %d %s", rc, err);
    return d;
}

static void test_no_runtime(void)
{
    fw_metal_set_runtime(NULL);
    /* Linux builds carry no real runtime: the backend sees no device and says why on open. */
    CHECK(be->device_count() == 0, "device_count without a runtime");
    fw_device *d = NULL;
    fw_device_info info;
    char err[256] = "";
    CHECK(be->open(0, &d, &info, err, sizeof err) == -ENODEV && !d, "open without runtime");
    CHECK(strstr(err, "macOS") != NULL, "message: %s", err);
    fw_metal_set_runtime(&fake_objc_runtime);
}

static void test_device_missing(void)
{
    fake_script s = {.no_device = 1};
    fake_reset(&s);
    CHECK(be->device_count() == 0, "device_count with no device");
    fw_device *d = NULL;
    fw_device_info info;
    char err[512] = "";
    CHECK(be->open(0, &d, &info, err, sizeof err) == -ENODEV && !d, "open with no device");
    CHECK(strstr(err, "MTLCreateSystemDefaultDevice returned nil") && strstr(err, "CoreGraphics"), "message: %s", err);
    check_clean("device missing");

    fake_script c = {.missing_class = 1};
    fake_reset(&c);
    CHECK(be->open(0, &d, &info, err, sizeof err) == -ENODEV && !d, "open with a class missing");
    CHECK(strstr(err, "MTLCompileOptions") != NULL, "message names the class: %s", err);
    check_clean("class missing");

    fake_script q = {.no_queue = 1};
    fake_reset(&q);
    CHECK(be->open(0, &d, &info, err, sizeof err) == -ENODEV && !d, "open with no queue");
    CHECK(strstr(err, "newCommandQueue") != NULL, "message: %s", err);
    check_clean("queue missing");

    fake_reset(&(fake_script){0});
    CHECK(be->open(1, &d, &info, err, sizeof err) == -ENODEV && !d, "device index 1");
    CHECK(strstr(err, "index 0") != NULL, "message: %s", err);
    check_clean("index 1");
}

static void test_success(int has_math_mode)
{
    fake_script s = {.has_math_mode = has_math_mode};
    fake_reset(&s);
    CHECK(be->device_count() == 1, "device_count");
    fw_device_info info;
    fw_device *d = open_dev(&info);
    if (!d)
        return;
    CHECK(strcmp(info.backend, "metal") == 0 && strcmp(info.dialect, "metal") == 0, "backend/dialect");
    CHECK(strcmp(info.name, "Fake Apple M3") == 0, "name '%s'", info.name);
    CHECK(strcmp(info.arch, "apple8") == 0, "arch '%s' (highest family supported)", info.arch);
    CHECK(strcmp(info.compiler, "Metal 3.0") == 0, "compiler '%s'", info.compiler);
    CHECK(strstr(info.driver, "14.5") != NULL, "driver '%s'", info.driver);
    CHECK(info.max_threads == 1024 && info.shared_bytes == 32768 && info.simd_width == 32, "limits");
    CHECK(info.global_mem_bytes == (int64_t)16 << 30, "global mem %lld", (long long)info.global_mem_bytes);
    CHECK(info.max_alloc_bytes == (int64_t)8 << 30, "max alloc %lld", (long long)info.max_alloc_bytes);

    const char *macros[] = {"TILE_N=64", "FW_NAME=abc", "FLAG", "NEG=-3"};
    fw_program *p = NULL;
    int rc = be->compile(d, src_ok, macros, 4, "-std=metal3.1 -fno-fast-math", "gemm_tiled", &p);
    CHECK(rc == 0 && p, "compile: %d %s", rc, be->last_error(d));
    fake_record *r = fake_rec();
    CHECK(r->macros_n == 4, "macros %d", r->macros_n);
    CHECK(strcmp(r->macro_keys[0], "TILE_N") == 0 && strcmp(r->macro_vals[0], "num:64") == 0,
          "TILE_N -> NSNumber 64: %s %s", r->macro_keys[0], r->macro_vals[0]);
    CHECK(strcmp(r->macro_vals[1], "str:abc") == 0, "non-integer value stays a string: %s", r->macro_vals[1]);
    CHECK(strcmp(r->macro_keys[2], "FLAG") == 0 && strcmp(r->macro_vals[2], "num:1") == 0, "bare macro is 1");
    CHECK(strcmp(r->macro_vals[3], "num:-3") == 0, "negative: %s", r->macro_vals[3]);
    CHECK(r->language == ((3UL << 16) | 1), "language %#lx", r->language);
    if (has_math_mode) {
        CHECK(r->math_mode == 0 && r->fast_math == -1, "mathMode safe, fastMathEnabled untouched");
    } else {
        CHECK(r->fast_math == 0 && r->math_mode == -1, "fastMathEnabled NO when mathMode is unknown");
    }
    CHECK(strcmp(r->function_name, "gemm_tiled") == 0, "function '%s'", r->function_name);
    fw_resources res;
    CHECK(be->resources(d, p, &res) == 0, "resources");
    CHECK(res.max_threads == 896 && res.simd_width == 32 && res.static_shared_bytes == 4096,
          "reflection: %lld %lld %lld", (long long)res.max_threads, (long long)res.simd_width,
          (long long)res.static_shared_bytes);

    /* default options: Metal 3.0, fast math on */
    fw_program *p2 = NULL;
    CHECK(be->compile(d, src_ok, NULL, 0, NULL, "gemm_tiled", &p2) == 0, "compile without macros");
    CHECK(r->language == (3UL << 16), "default language %#lx", r->language);
    if (has_math_mode)
        CHECK(r->math_mode == 2, "default math mode fast");
    else
        CHECK(r->fast_math == 1, "default fast math on");
    be->program_free(d, p2);

    fw_buffer *a = NULL, *c = NULL;
    CHECK(be->buffer_new(d, 1024, &a) == 0 && a, "buffer a");
    CHECK(be->buffer_new(d, 0, &c) == 0 && c, "zero-byte buffer still gets a handle");
    CHECK(r->buffer_options == FW_MTL_STORAGE_SHARED, "shared storage, options %lu", r->buffer_options);
    float in[4] = {1, 2, 3, 4}, out[4] = {0};
    CHECK(be->buffer_write(d, a, 16, in, sizeof in) == 0, "write");
    CHECK(be->buffer_read(d, a, 16, out, sizeof out) == 0 && memcmp(in, out, sizeof in) == 0, "read back");
    CHECK(be->buffer_read(d, a, 1020, out, 8) == -ERANGE, "read past the end");
    CHECK(be->buffer_fill(d, a, 0xFFFFFFFFu, 1024) == 0, "fill");
    unsigned char b0[3];
    CHECK(be->buffer_read(d, a, 1021, b0, 3) == 0 && b0[0] == 0xFF && b0[2] == 0xFF, "filled");

    uint32_t params[4] = {7, 8, 9, 0};
    fw_arg args[3] = {{FW_ARG_BUFFER, a, NULL, 0}, {FW_ARG_BUFFER, c, NULL, 0},
                      {FW_ARG_BYTES, NULL, params, sizeof params}};
    fw_launch l = {.grid = {3, 2, 1}, .group = {128, 1, 1}, .dynamic_shared_bytes = 100, .args = args, .nargs = 3};
    uint64_t ns = 0;
    rc = be->launch(d, p, &l, &ns);
    CHECK(rc == 0, "launch: %d %s", rc, be->last_error(d));
    CHECK(ns == 123456, "GPUEndTime - GPUStartTime = %llu ns", (unsigned long long)ns);
    CHECK(r->grid[0] == 3 && r->grid[1] == 2 && r->grid[2] == 1 && r->group[0] == 128 && r->group[1] == 1,
          "dispatch sizes");
    CHECK(r->set_buffers == 2 && r->set_bytes == 1 && r->set_bytes_len[2] == 16, "bindings");
    CHECK(r->tg_mem_len == 112, "threadgroup memory rounded to 16: %lu", r->tg_mem_len);
    CHECK(r->commits == 1, "one commit");
    CHECK(be->launch(d, p, &l, NULL) == 0, "launch without timing");
    CHECK(r->commits == 2, "two commits");

    /* local-memory arguments: threadgroup(k) for the k-th, rounded to 16; no buffer at their index */
    fw_arg largs[4] = {{FW_ARG_BUFFER, a, NULL, 0}, {FW_ARG_LOCAL, NULL, NULL, 100},
                       {FW_ARG_BYTES, NULL, params, sizeof params}, {FW_ARG_LOCAL, NULL, NULL, 32}};
    fw_launch ll = {.grid = {1, 1, 1}, .group = {64, 1, 1}, .args = largs, .nargs = 4};
    memset(r->tg_mem_at, 0, sizeof r->tg_mem_at);
    r->buffer_at = 0;
    CHECK(be->launch(d, p, &ll, NULL) == 0, "launch with local memory: %s", be->last_error(d));
    CHECK(r->tg_mem_at[0] == 112 && r->tg_mem_at[1] == 32 && r->tg_mem_at[2] == 0, "threadgroup memory %lu %lu %lu",
          r->tg_mem_at[0], r->tg_mem_at[1], r->tg_mem_at[2]);
    CHECK(r->buffer_at == 1 && r->set_bytes_len[2] == 16, "buffers at %#lx", r->buffer_at);
    CHECK(r->commits == 3, "three commits");
    ll.dynamic_shared_bytes = 64;
    CHECK(be->launch(d, p, &ll, NULL) == -EINVAL && strstr(be->last_error(d), "threadgroup(0)"),
          "local memory and dynamic_shared_bytes both: %s", be->last_error(d));
    ll.dynamic_shared_bytes = 0;
    largs[1].size = 0;
    CHECK(be->launch(d, p, &ll, NULL) == -EINVAL, "local memory of 0 bytes");
    CHECK(r->commits == 3, "nothing committed for the refused local launches");
    CHECK(be->launch(d, p, &l, NULL) == 0, "launch without timing, again");

    /* refused before anything is encoded */
    fw_launch big = l;
    big.group[0] = 1024;
    CHECK(be->launch(d, p, &big, &ns) == -EINVAL, "over the pipeline's max threads");
    CHECK(strstr(be->last_error(d), "896") != NULL, "names the pipeline limit: %s", be->last_error(d));
    unsigned char blob[5000] = {0};
    fw_arg bigarg[1] = {{FW_ARG_BYTES, NULL, blob, sizeof blob}};
    fw_launch lb = {.grid = {1, 1, 1}, .group = {32, 1, 1}, .args = bigarg, .nargs = 1};
    CHECK(be->launch(d, p, &lb, &ns) == -EINVAL, "setBytes over 4096");
    CHECK(r->commits == 4, "nothing committed for refused launches");

    be->buffer_free(d, a);
    be->buffer_free(d, c);
    be->program_free(d, p);
    be->close(d);
    check_clean(has_math_mode ? "success (mathMode)" : "success (fastMathEnabled)");
    CHECK(fake_sent("endEncoding") == 4 && fake_sent("commit") == 4 && fake_sent("waitUntilCompleted") == 4,
          "encoder/commit/wait counts");
}

static fw_device *fresh(const fake_script *s)
{
    fake_reset(s);
    fw_device_info info;
    return open_dev(&info);
}

static void test_compile_paths(void)
{
    fw_program *p = NULL;
    fw_device *d = fresh(&(fake_script){.compile_error = 1});
    if (!d)
        return;
    CHECK(be->compile(d, src_ok, NULL, 0, NULL, "gemm_tiled", &p) == -EINVAL && !p, "compile error");
    CHECK(strstr(be->last_error(d), "use of undeclared identifier 'TILE_Q'") &&
          strstr(be->last_error(d), "MTLLibraryError 3"), "log: %s", be->last_error(d));
    be->close(d);
    check_clean("compile error");

    d = fresh(&(fake_script){.compile_warning = 1});
    if (!d)
        return;
    CHECK(be->compile(d, src_ok, NULL, 0, NULL, "gemm_tiled", &p) == 0 && p, "warnings are a success");
    CHECK(strstr(be->last_error(d), "warning: unused variable") != NULL, "warning kept: %s", be->last_error(d));
    be->program_free(d, p);
    p = NULL;
    be->close(d);
    check_clean("compile warning");

    d = fresh(&(fake_script){0});
    if (!d)
        return;
    CHECK(be->compile(d, src_ok, NULL, 0, NULL, "moe_trellis_swiglu", &p) == -EINVAL && !p, "function missing");
    CHECK(strstr(be->last_error(d), "no function named 'moe_trellis_swiglu'") != NULL, "message: %s",
          be->last_error(d));
    CHECK(be->compile(d, src_ok, NULL, 0, "-O3", "gemm_tiled", &p) == -EINVAL && !p, "unknown option");
    CHECK(strstr(be->last_error(d), "'-O3'") != NULL, "names the option: %s", be->last_error(d));
    CHECK(be->compile(d, src_ok, NULL, 0, "-std=metal3", "gemm_tiled", &p) == -EINVAL, "malformed -std");
    const char *bad[] = {"=5"};
    CHECK(be->compile(d, src_ok, bad, 1, NULL, "gemm_tiled", &p) == -EINVAL, "macro without a name");
    CHECK(be->compile(d, src_ok, NULL, 0, NULL, "", &p) == -EINVAL, "empty entry");
    CHECK(be->compile(d, "kernel void gemm_tiled() { /* \xff */ }", NULL, 0, NULL, "gemm_tiled", &p) == -EINVAL && !p,
          "source that is not UTF-8");
    CHECK(strstr(be->last_error(d), "UTF-8") != NULL, "message: %s", be->last_error(d));
    be->close(d);
    check_clean("function missing / options");

    d = fresh(&(fake_script){.pipeline_error = 1});
    if (!d)
        return;
    CHECK(be->compile(d, src_ok, NULL, 0, NULL, "gemm_tiled", &p) == -EINVAL && !p, "pipeline error");
    CHECK(strstr(be->last_error(d), "compute pipeline") && strstr(be->last_error(d), "internal error"),
          "message: %s", be->last_error(d));
    be->close(d);
    check_clean("pipeline error");
}

static void test_buffer_fail(void)
{
    fw_device *d = fresh(&(fake_script){.buffer_fail = 1});
    if (!d)
        return;
    fw_buffer *b = NULL;
    CHECK(be->buffer_new(d, 4096, &b) == -ENOMEM && !b, "buffer allocation failure");
    CHECK(strstr(be->last_error(d), "4096 bytes") != NULL, "message: %s", be->last_error(d));
    be->close(d);
    check_clean("buffer failure");
}

static void launch_failure(const fake_script *s, int want_rc, const char *want_text, const char *scenario)
{
    fw_device *d = fresh(s);
    if (!d)
        return;
    fw_program *p = NULL;
    fw_buffer *b = NULL;
    CHECK(be->compile(d, src_ok, NULL, 0, NULL, "gemm_tiled", &p) == 0, "%s: compile", scenario);
    CHECK(be->buffer_new(d, 64, &b) == 0, "%s: buffer", scenario);
    if (p && b) {
        fw_arg args[1] = {{FW_ARG_BUFFER, b, NULL, 0}};
        fw_launch l = {.grid = {1, 1, 1}, .group = {32, 1, 1}, .args = args, .nargs = 1};
        uint64_t ns = 77;
        int rc = be->launch(d, p, &l, &ns);
        CHECK(rc == want_rc, "%s: launch returned %d, want %d (%s)", scenario, rc, want_rc, be->last_error(d));
        CHECK(strstr(be->last_error(d), want_text) != NULL, "%s: message: %s", scenario, be->last_error(d));
    }
    be->buffer_free(d, b);
    be->program_free(d, p);
    be->close(d);
    check_clean(scenario);
}

static void test_launch_failures(void)
{
    launch_failure(&(fake_script){.no_command_buffer = 1}, -EIO, "no command buffer", "no command buffer");
    launch_failure(&(fake_script){.cb_error = FW_MTL_CB_ERROR_TIMEOUT}, -EIO, "watchdog", "command buffer timeout");
    launch_failure(&(fake_script){.cb_error = FW_MTL_CB_ERROR_PAGE_FAULT}, -EFAULT, "page fault",
                   "command buffer page fault (sticky)");
    launch_failure(&(fake_script){.cb_error = FW_MTL_CB_ERROR_OUT_OF_MEMORY}, -EIO, "aborted due to an error",
                   "command buffer out of memory");
    launch_failure(&(fake_script){.no_timestamps = 1}, -EIO, "without GPU timestamps", "no timestamps");
}

static void test_selectors_reviewed(const char *list_path)
{
    /* Every selector the backend registered during the scenarios is in metal/selectors.txt. */
    FILE *f = fopen(list_path, "r");
    CHECK(f != NULL, "cannot open %s", list_path);
    if (!f)
        return;
    static char names[128][96];
    const char *allowed[129];
    size_t n = 0;
    char line[256];
    while (n < 128 && fgets(line, sizeof line, f)) {
        char name[96];
        if (sscanf(line, "sel %95s", name) == 1) {
            memcpy(names[n], name, sizeof name);
            allowed[n] = names[n];
            n++;
        }
    }
    fclose(f);
    allowed[n] = NULL;
    CHECK(n > 30, "selectors.txt lists only %zu selectors", n);
    /* run the success scenario again so the fake's selector table is full */
    test_success(1);
    const char *out = fake_sel_outside(allowed);
    CHECK(out == NULL, "selector '%s' was sent but is not in %s", out ? out : "", list_path);
}

int main(int argc, char **argv)
{
    fw_metal_set_runtime(&fake_objc_runtime);
    test_no_runtime();
    test_device_missing();
    test_success(1);
    test_success(0);
    test_compile_paths();
    test_buffer_fail();
    test_launch_failures();
    if (argc > 1)
        test_selectors_reviewed(argv[1]);
    fake_reset(NULL);
    fw_metal_set_runtime(NULL);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("metal fake runtime: all scenarios clean\n");
    return 0;
}
