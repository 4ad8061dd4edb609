/* NVRTC in compiler processes (fw_cuda.h; cuda/fw_cuda_nvrtc_proc.c), without a GPU: this test
 * binary is its own compiler process (`--nvrtc-server`), as fairway-worker is. Checked: the child
 * compiles what this process would (the same cubin), with macros and options; a compile error comes
 * back with its log and keeps the child; a child killed while idle is replaced; a child that dies on a
 * program makes that program's compile fail with a sentence, and the next program compiles; with the
 * processes off, or an executable that cannot start, the compile runs here. */
#include "fw_cuda.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static const char *good_src =
    "#if TILE_N != 64\n#error TILE_N did not arrive as 64\n#endif\n"
    "extern \"C\" __global__ void scale(float *x, float a, int n) {\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < n) x[i] *= a * (float)(TILE_N / 64);\n"
    "}\n";

static const char *broken_src =
    "extern \"C\" __global__ void broken(float *x) { x[0] = undeclared_thing + 1; }\n";

static const char *crash_src =
    "// FW_TEST_KILLS_THE_COMPILER\n"
    "extern \"C\" __global__ void k(int *x) { x[threadIdx.x] = 1; }\n";

static int compile(fw_nvrtc_proc **p, const char *src, void **bin, size_t *len, char **log)
{
    const char *macros[] = {"TILE_N=64"};
    return fw_cuda_nvrtc_proc_compile(p, src, macros, 1, "-default-device", "sm_90", 0, bin, len, log);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--nvrtc-server") == 0)
        return fw_cuda_nvrtc_server(0);
    char ver[128];
    if (fw_cuda_nvrtc_version(ver, sizeof ver) < 0) {
        printf("SKIP: %s\n", ver);
        return 77;
    }
    setenv("FAIRWAY_NVRTC_SERVER_ABORT_ON", "FW_TEST_KILLS_THE_COMPILER", 1);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0, "readlink /proc/self/exe");
    self[n > 0 ? n : 0] = '\0';

    /* In this process, for comparison. */
    void *here = NULL, *bin = NULL;
    size_t here_len = 0, len = 0;
    char *log = NULL;
    fw_nvrtc_proc *p = NULL;
    int rc = compile(&p, good_src, &here, &here_len, &log);
    CHECK(rc == 0 && here_len > 64 && !p, "in-process compile (processes off): rc %d, %s", rc, log ? log : "");
    free(log);

    fw_cuda_nvrtc_processes(self);
    rc = compile(&p, good_src, &bin, &len, &log);
    CHECK(rc == 0 && p && fw_cuda_nvrtc_proc_pid(p) > 0, "child compile: rc %d, %s", rc, log ? log : "");
    CHECK(len == here_len && bin && here && memcmp(bin, here, len) == 0,
          "the child's cubin (%zu bytes) differs from this process's (%zu bytes)", len, here_len);
    int pid = fw_cuda_nvrtc_proc_pid(p);
    CHECK(pid != getpid(), "the compile ran in this process");
    free(bin);
    free(log);

    rc = compile(&p, broken_src, &bin, &len, &log);
    CHECK(rc == -EINVAL && !bin && log && strstr(log, "undeclared_thing"),
          "compile error: rc %d, log '%s'", rc, log ? log : "(none)");
    CHECK(fw_cuda_nvrtc_proc_pid(p) == pid, "a compile error must keep the child (%d -> %d)", pid,
          fw_cuda_nvrtc_proc_pid(p));
    free(log);

    /* Killed while idle: replaced, and the compile succeeds. */
    CHECK(kill(pid, SIGKILL) == 0, "kill the child");
    rc = compile(&p, good_src, &bin, &len, &log);
    CHECK(rc == 0 && len == here_len, "compile after the child was killed: rc %d, %s", rc, log ? log : "");
    CHECK(fw_cuda_nvrtc_proc_pid(p) > 0 && fw_cuda_nvrtc_proc_pid(p) != pid, "a new child (%d, was %d)",
          fw_cuda_nvrtc_proc_pid(p), pid);
    free(bin);
    free(log);

    /* A program that kills the compiler: a sentence, and the next program still compiles. */
    rc = compile(&p, crash_src, &bin, &len, &log);
    CHECK(rc == -EIO && !bin && log && strstr(log, "died (signal 6"),
          "a compiler crash: rc %d, log '%s'", rc, log ? log : "(none)");
    free(log);
    rc = compile(&p, good_src, &bin, &len, &log);
    CHECK(rc == 0 && len == here_len, "compile after a crash: rc %d, %s", rc, log ? log : "");
    free(bin);
    free(log);
    fw_cuda_nvrtc_proc_free(p);

    /* An executable that cannot start: this process compiles. */
    p = NULL;
    fw_cuda_nvrtc_processes("/nonexistent/fairway-worker");
    rc = compile(&p, good_src, &bin, &len, &log);
    CHECK(rc == 0 && len == here_len && fw_cuda_nvrtc_proc_pid(p) == 0, "fallback: rc %d, %s", rc,
          log ? log : "");
    free(bin);
    free(log);
    fw_cuda_nvrtc_proc_free(p);
    free(here);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("nvrtc processes: ok (%s)\n", ver);
    return failures ? 1 : 0;
}
