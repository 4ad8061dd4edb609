/* fairway-worker end to end on PoCL: standalone tuning runs, reproducibility, verify_failed from a
 * deliberately wrong gemm, invalid variants, no --db, serve mode, fault injection, CLI errors.
 * usage: test_bench_worker PATH-TO-fairway-worker. Exits 77 without an OpenCL device. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fw_backend.h"
#include "fw_opencl.h"
#include "fw_job.h"
#include "test_util.h"

static const char *worker;
static int raw_output;   /* --help prints text, not JSON lines */
static char tmpdir[256];

typedef struct run {
    int status;          /* raw waitpid status */
    char *out;           /* stdout */
    cJSON **lines;       /* stdout parsed line by line */
    size_t nlines;
} run;

static void run_free(run *r)
{
    for (size_t i = 0; i < r->nlines; i++)
        cJSON_Delete(r->lines[i]);
    free(r->lines);
    free(r->out);
    memset(r, 0, sizeof *r);
}

static int exit_code(const run *r)
{
    return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

/* Run the worker with args (NULL-terminated) and an optional fault env; stdout is parsed. */
static run run_worker(const char *fault, const char *const *args)
{
    run r;
    memset(&r, 0, sizeof r);
    char outpath[512];
    snprintf(outpath, sizeof outpath, "%s/out.txt", tmpdir);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(outpath, "w", stdout);
        if (!f)
            _exit(99);
        if (!freopen("/dev/null", "r", stdin))
            _exit(99);
        if (fault)
            setenv("FAIRWAY_TEST_FAULT", fault, 1);
        else
            unsetenv("FAIRWAY_TEST_FAULT");
        const char *argv[32];
        size_t n = 0;
        argv[n++] = worker;
        for (size_t i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(worker, (char *const *)argv);
        _exit(98);
    }
    CHECK(waitpid(pid, &r.status, 0) == pid);
    FILE *f = fopen(outpath, "r");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    r.out = calloc(1, (size_t)len + 1);
    CHECK(fread(r.out, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    char *save = NULL;
    char *copy = strdup(r.out);
    for (char *line = strtok_r(copy, "\n", &save); line && !raw_output; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        CHECKF(j, "worker printed a line that is not JSON: %s", line);
        r.lines = realloc(r.lines, (r.nlines + 1) * sizeof *r.lines);
        r.lines[r.nlines++] = j;
    }
    free(copy);
    return r;
}

static void write_file(const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
}

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    CHECKF(cJSON_IsNumber(v), "\"%s\" is not a number", k);
    return v->valuedouble;
}

/* Every field the worker protocol promises on an ok record. */
static void check_ok_record(const cJSON *rec, size_t seq, int iters)
{
    CHECKF(strcmp(str(rec, "status"), "ok") == 0, "seq %zu is %s: %s", seq, str(rec, "status"),
           str(rec, "error") ? str(rec, "error") : "");
    CHECK(num(rec, "seq") == (double)seq);
    CHECK(num(rec, "shape_index") == 0);
    CHECK(str(rec, "shape_key") && strstr(str(rec, "shape_key"), "M="));
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(rec, "shape")));
    CHECK(strcmp(str(rec, "family"), "gemm") == 0);
    CHECK(str(rec, "kernel") && str(rec, "kernel")[0]);
    CHECK(str(rec, "variant_key") && strstr(str(rec, "variant_key"), "TILE_N="));
    CHECK(str(rec, "variant_hash") && strlen(str(rec, "variant_hash")) == 16);
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(rec, "knobs")));
    CHECK(str(rec, "origin") && str(rec, "origin")[0]);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(rec, "error")));
    CHECK(num(rec, "compile_ms") >= 0);
    CHECK(cJSON_IsBool(cJSON_GetObjectItem(rec, "cached")));
    const cJSON *v = cJSON_GetObjectItem(rec, "verify");
    CHECK(num(v, "unwritten") == 0 && num(v, "nonfinite") == 0 && num(v, "rel_err") <= num(v, "tolerance"));
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(rec, "resources")));
    const cJSON *g = cJSON_GetObjectItem(rec, "geometry");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(g, "grid")) == 3);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(g, "group")) == 3);
    const cJSON *st = cJSON_GetObjectItem(rec, "stats");
    CHECK(num(st, "n") == iters);
    CHECK(num(st, "min_ns") > 0 && num(st, "min_ns") <= num(st, "median_ns"));
    CHECK(num(st, "median_ns") <= num(st, "max_ns") && num(st, "p95_ns") <= num(st, "max_ns"));
    CHECK(num(st, "stddev_ns") >= 0 && num(st, "mean_ns") > 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(rec, "samples_ns")) == iters);
    CHECK(num(rec, "gbps") > 0 && num(rec, "gflops") > 0 && num(rec, "bytes") > 0 && num(rec, "flops") > 0);
}

static const char *spec_e2e =
    "{\"family\":\"gemm\",\"shapes\":[{\"M\":64,\"N\":48,\"K\":40}],\"strategy\":\"random\",\"budget\":7,"
    "\"seed\":11,\"warmup\":1,\"iters\":3,"
    /* every record ok and fully timed, no finalists line: the pruning and finalists paths are
     * tested in tests/throughput */
    "\"options\":{\"early_stop\":false,\"finalists\":0}}";

static void test_standalone(void)
{
    char spec[512], db[512];
    write_file("e2e.json", spec_e2e, spec, sizeof spec);
    snprintf(db, sizeof db, "%s/w.db", tmpdir);
    run a = run_worker(NULL, (const char *[]){ "--spec", spec, NULL });
    CHECKF(exit_code(&a) == 0, "exit %d, output:\n%s", exit_code(&a), a.out);
    CHECK(a.nlines == 8);   /* 7 records + summary */
    for (size_t i = 0; i < 7; i++)
        check_ok_record(a.lines[i], i, 3);
    const cJSON *sum = cJSON_GetObjectItem(a.lines[7], "summary");
    CHECK(sum);
    CHECK(num(sum, "evaluated") == 7 && num(sum, "ok") == 7);
    CHECK(num(cJSON_GetObjectItem(sum, "by_status"), "ok") == 7);
    CHECK(num(sum, "wall_s") > 0 && num(sum, "compile_s") >= 0);
    const cJSON *best = cJSON_GetObjectItem(sum, "best");
    CHECK(cJSON_IsObject(best) && str(best, "variant_key"));
    for (size_t i = 0; i < 7; i++)
        CHECK(num(best, "median_ns") <= num(cJSON_GetObjectItem(a.lines[i], "stats"), "median_ns"));

    /* the same spec and seed: the same variant sequence (and the same plan as --expand) */
    run b = run_worker(NULL, (const char *[]){ "--spec", spec, NULL });
    run e = run_worker(NULL, (const char *[]){ "--spec", spec, "--expand", NULL });
    CHECK(exit_code(&b) == 0 && b.nlines == 8);
    CHECK(exit_code(&e) == 0 && e.nlines == 7);
    for (size_t i = 0; i < 7; i++) {
        CHECK(strcmp(str(a.lines[i], "variant_key"), str(b.lines[i], "variant_key")) == 0);
        CHECK(strcmp(str(a.lines[i], "variant_key"), str(e.lines[i], "variant_key")) == 0);
        CHECK(strcmp(str(a.lines[i], "origin"), str(e.lines[i], "origin")) == 0);
        CHECK(!cJSON_GetObjectItem(e.lines[i], "status"));   /* expand measures nothing */
    }
    /* another seed changes the sampled (non-preset) part of the sequence */
    run c = run_worker(NULL, (const char *[]){ "--spec", spec, "--expand", "--seed", "12", NULL });
    CHECK(exit_code(&c) == 0 && c.nlines == 7);
    int differs = 0;
    for (size_t i = 0; i < 7; i++)
        differs |= strcmp(str(c.lines[i], "variant_key"), str(e.lines[i], "variant_key")) != 0;
    CHECK(differs);

    /* the worker never opens a store (DESIGN.md section 1): --db is gone, the daemon stores */
    run x = run_worker(NULL, (const char *[]){ "--spec", spec, "--db", db, NULL });
    CHECK(exit_code(&x) == 2 && x.nlines == 0);
    CHECK(access(db, F_OK) != 0);
    run_free(&x);
    run_free(&a);
    run_free(&b);
    run_free(&c);
    run_free(&e);
}

static void test_wrong_gemm(void)
{
    /* FW_GEMM_SKIP_LAST_K_TILE drops the last K tile: every variant must fail verification */
    char spec[512];
    write_file("skip.json",
        "{\"family\":\"gemm\",\"shapes\":[{\"M\":64,\"N\":48,\"K\":40}],\"strategy\":\"random\",\"budget\":5,"
        "\"seed\":3,\"warmup\":0,\"iters\":2,\"macros\":{\"FW_GEMM_SKIP_LAST_K_TILE\":1}}", spec, sizeof spec);
    run a = run_worker(NULL, (const char *[]){ "--spec", spec, NULL });
    CHECKF(exit_code(&a) == 0 && a.nlines == 6, "exit %d, %zu lines", exit_code(&a), a.nlines);
    for (size_t i = 0; i < 5; i++) {
        CHECKF(strcmp(str(a.lines[i], "status"), "verify_failed") == 0, "seq %zu: %s", i, str(a.lines[i], "status"));
        CHECK(!cJSON_GetObjectItem(a.lines[i], "stats"));
        CHECK(num(cJSON_GetObjectItem(a.lines[i], "verify"), "rel_err") > 1e-3);
    }
    CHECK(num(cJSON_GetObjectItem(a.lines[5], "summary"), "ok") == 0);
    /* the same spec without the macro: all ok */
    write_file("noskip.json",
        "{\"family\":\"gemm\",\"shapes\":[{\"M\":64,\"N\":48,\"K\":40}],\"strategy\":\"random\",\"budget\":5,"
        "\"seed\":3,\"warmup\":0,\"iters\":2}", spec, sizeof spec);
    run b = run_worker(NULL, (const char *[]){ "--spec", spec, "--no-early-stop", "--finalists", "0", NULL });
    CHECK(exit_code(&b) == 0 && b.nlines == 6);
    for (size_t i = 0; i < 5; i++) {
        check_ok_record(b.lines[i], i, 2);
        CHECK(strcmp(str(a.lines[i], "variant_key"), str(b.lines[i], "variant_key")) == 0);
    }
    run_free(&a);
    run_free(&b);
}

static void test_invalid(void)
{
    /* a space without the device-limit constraint: 32 * 256 threads is over PoCL's (and most GPUs')
     * limit, so the harness must refuse it before compiling */
    char spec[1024];
    write_file("invalid.json",
        "{\"family\":\"gemm\",\"shapes\":[{\"M\":64,\"N\":64,\"K\":64}],\"strategy\":\"grid\",\"seed\":1,"
        "\"iters\":2,\"space\":{\"knobs\":{\"TILE_N\":[32],\"SIMDGROUPS_PER_TG\":[256],\"SG_M_TILES\":[1],"
        "\"SG_N_TILES\":[1],\"NUM_BUFFERS\":[1],\"TILE_K\":[8]},\"constraints\":[]}}", spec, sizeof spec);
    run a = run_worker(NULL, (const char *[]){ "--spec", spec, NULL });
    CHECK(exit_code(&a) == 0 && a.nlines == 2);
    CHECK(strcmp(str(a.lines[0], "status"), "invalid") == 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(a.lines[0], "compile_ms")));
    CHECK(strstr(str(a.lines[0], "error"), "threads"));
    run_free(&a);
}

static void test_cli_errors(void)
{
    char spec[512], bad[512];
    write_file("e2e.json", spec_e2e, spec, sizeof spec);
    write_file("bad.json", "{\"family\": ", bad, sizeof bad);
    raw_output = 1;
    run r = run_worker(NULL, (const char *[]){ "--help", NULL });
    raw_output = 0;
    CHECK(exit_code(&r) == 0);
    const char *flags[] = { "--spec", "--serve", "--backend", "--device", "--list-devices", "--expand",
                            "--warmup", "--iters", "--budget", "--seed", "--strategy", "70", NULL };
    for (size_t i = 0; flags[i]; i++)
        CHECKF(strstr(r.out, flags[i]), "--help does not mention %s", flags[i]);
    run_free(&r);
    r = run_worker(NULL, (const char *[]){ "--frobnicate", NULL });
    CHECK(exit_code(&r) == 2);
    run_free(&r);
    r = run_worker(NULL, (const char *[]){ "--spec", bad, NULL });
    CHECK(exit_code(&r) == 2 && r.nlines == 0);
    run_free(&r);
    r = run_worker(NULL, (const char *[]){ "--spec", spec, "--iters", "many", NULL });
    CHECK(exit_code(&r) == 2);
    run_free(&r);
    r = run_worker(NULL, (const char *[]){ "--spec", spec, "--backend", "nosuch", NULL });
    CHECK(exit_code(&r) == 3);
    run_free(&r);
    r = run_worker(NULL, (const char *[]){ "--spec", spec, "--device", "999", NULL });
    CHECK(exit_code(&r) == 3);
    run_free(&r);
    r = run_worker(NULL, (const char *[]){ "--list-devices", NULL });
    CHECK(exit_code(&r) == 0 && r.nlines == 1 && cJSON_IsArray(r.lines[0]));
    const cJSON *d0 = cJSON_GetArrayItem(r.lines[0], 0);
    CHECK(strcmp(str(d0, "backend"), "opencl") == 0 && str(d0, "identity"));
    CHECK(num(cJSON_GetObjectItem(d0, "limits"), "max_threads") > 0);
    run_free(&r);
}

/* A serve-mode worker with pipes both ways. */
typedef struct served {
    pid_t pid;
    FILE *in, *out;
} served;

static served serve_start(const char *fault)
{
    int to[2], from[2];
    CHECK(pipe(to) == 0 && pipe(from) == 0);
    served s;
    s.pid = fork();
    CHECK(s.pid >= 0);
    if (s.pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]); close(to[1]); close(from[0]); close(from[1]);
        if (fault)
            setenv("FAIRWAY_TEST_FAULT", fault, 1);
        else
            unsetenv("FAIRWAY_TEST_FAULT");
        execl(worker, worker, "--serve", (char *)NULL);
        _exit(98);
    }
    close(to[0]);
    close(from[1]);
    s.in = fdopen(to[1], "w");
    s.out = fdopen(from[0], "r");
    CHECK(s.in && s.out);
    return s;
}

static cJSON *serve_read(served *s)
{
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, s->out) <= 0) {
        free(line);
        return NULL;
    }
    cJSON *j = cJSON_Parse(line);
    CHECKF(j, "not JSON: %s", line);
    free(line);
    return j;
}

static cJSON *serve_call(served *s, int id, const char *method, cJSON *params)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "jsonrpc", "2.0");
    cJSON_AddNumberToObject(req, "id", id);
    cJSON_AddStringToObject(req, "method", method);
    cJSON_AddItemToObject(req, "params", params ? params : cJSON_CreateObject());
    char *t = cJSON_PrintUnformatted(req);
    fprintf(s->in, "%s\n", t);
    fflush(s->in);
    free(t);
    cJSON_Delete(req);
    cJSON *resp = serve_read(s);
    if (resp)
        CHECK(num(resp, "id") == id);
    return resp;
}

static cJSON *resolved_spec(void)
{
    cJSON *user = cJSON_Parse(spec_e2e);
    cJSON *spec = NULL;
    char err[512];
    CHECKF(fw_spec_resolve(user, &spec, err, sizeof err) == 0, "%s", err);
    cJSON_Delete(user);
    return spec;
}

/* measure's params: seq with its item (from the plan of the spec on this device) */
static cJSON *measure_params(const cJSON *dev, int seq)
{
    cJSON *spec = resolved_spec();
    fw_plan plan;
    char err[512];
    CHECKF(fw_plan_build(spec, dev, &plan, err, sizeof err) == 0, "%s", err);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "seq", seq);
    cJSON *it = cJSON_AddObjectToObject(p, "item");
    cJSON_AddNumberToObject(it, "seq", seq);
    size_t at = (size_t)seq < plan.n ? (size_t)seq : 0;
    cJSON_AddNumberToObject(it, "shape_index", plan.n ? plan.items[at].shape : 0);
    cJSON_AddItemToObject(it, "knobs", plan.n ? fw_point_to_json(&plan.items[at].point) : cJSON_CreateObject());
    cJSON_AddStringToObject(it, "origin", plan.n ? plan.items[at].origin : "random");
    fw_plan_release(&plan);
    cJSON_Delete(spec);
    return p;
}

static void test_serve(void)
{
    served s = serve_start(NULL);
    cJSON *ready = serve_read(&s);
    CHECK(ready && strcmp(str(ready, "method"), "ready") == 0);
    const cJSON *dev = cJSON_GetObjectItem(cJSON_GetObjectItem(ready, "params"), "device");
    CHECK(str(dev, "identity") && strncmp(str(dev, "identity"), "opencl|", 7) == 0);

    cJSON *r = serve_call(&s, 1, "measure", measure_params(dev, 0));
    CHECK(num(cJSON_GetObjectItem(r, "error"), "code") == -32602);   /* nothing loaded yet */
    cJSON_Delete(r);

    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToObject(p, "spec", resolved_spec());
    cJSON_AddNumberToObject(p, "job", 1);
    r = serve_call(&s, 2, "load", p);
    CHECK(num(cJSON_GetObjectItem(r, "result"), "planned") == 7);
    cJSON_Delete(r);

    r = serve_call(&s, 3, "measure", measure_params(dev, 2));
    check_ok_record(cJSON_GetObjectItem(r, "result"), 2, 3);
    cJSON_Delete(r);

    r = serve_call(&s, 4, "measure", measure_params(dev, 7));
    CHECK(num(cJSON_GetObjectItem(r, "error"), "code") == -32602);
    cJSON_Delete(r);

    r = serve_call(&s, 5, "device", NULL);
    CHECK(strcmp(str(cJSON_GetObjectItem(r, "result"), "identity"), str(dev, "identity")) == 0);
    cJSON_Delete(r);

    r = serve_call(&s, 6, "frobnicate", NULL);
    CHECK(num(cJSON_GetObjectItem(r, "error"), "code") == -32601);
    cJSON_Delete(r);

    r = serve_call(&s, 7, "shutdown", NULL);
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(r, "result")));
    cJSON_Delete(r);
    int st;
    CHECK(waitpid(s.pid, &st, 0) == s.pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cJSON_Delete(ready);
    fclose(s.in);
    fclose(s.out);
}

static void test_fault(void)
{
    served s = serve_start("hang@5,crash@1");
    cJSON *ready = serve_read(&s);
    CHECK(ready);
    const cJSON *dev = cJSON_GetObjectItem(cJSON_GetObjectItem(ready, "params"), "device");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToObject(p, "spec", resolved_spec());
    cJSON_AddNumberToObject(p, "job", 1);
    cJSON *r = serve_call(&s, 1, "load", p);
    cJSON_Delete(r);
    r = serve_call(&s, 2, "measure", measure_params(dev, 0));
    CHECK(strcmp(str(cJSON_GetObjectItem(r, "result"), "status"), "ok") == 0);
    cJSON_Delete(r);
    r = serve_call(&s, 3, "measure", measure_params(dev, 1));
    CHECK(r == NULL);   /* died without answering */
    int st;
    CHECK(waitpid(s.pid, &st, 0) == s.pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    cJSON_Delete(ready);
    fclose(s.in);
    fclose(s.out);

    /* standalone: seq 0 is printed, then the worker dies on seq 1 */
    char spec[512];
    write_file("e2e.json", spec_e2e, spec, sizeof spec);
    run a = run_worker("crash@1", (const char *[]){ "--spec", spec, NULL });
    CHECK(WIFSIGNALED(a.status) && WTERMSIG(a.status) == SIGABRT);
    CHECK(a.nlines == 1 && num(a.lines[0], "seq") == 0);
    run_free(&a);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-fairway-worker\n", argv[0]);
        return 2;
    }
    worker = argv[1];
    if (fw_opencl_backend.device_count() == 0) {
        puts("no OpenCL device: skipped");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fw-test-worker-XXXXXX");
    CHECK(mkdtemp(tmpdir));
    setenv("XDG_CACHE_HOME", tmpdir, 1);   /* the workers' compile cache stays in the temp dir */
    test_cli_errors();
    test_invalid();
    test_standalone();
    test_wrong_gemm();
    test_serve();
    test_fault();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    puts("worker ok");
    return 0;
}
