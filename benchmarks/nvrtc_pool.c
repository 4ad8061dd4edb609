/* nvrtc_pool - how fast can NVRTC alone compile a job's variants on this host's cores? (issue 20:
 * the cold compile pool's ceiling, no GPU needed). The spec's first shape and plan give the
 * variants, exactly as the worker renders them (fwh_compile_inputs); each thread count compiles the
 * same variants to cubins, round-robin from a shared counter, and prints wall time, variants per
 * minute, the mean and median NVRTC call, and the process's CPU time over the wall time.
 *
 * usage: nvrtc_pool --spec FILE [--arch sm_90] [--threads 1,4,8,15] [--n 64]
 *                   [--options "EXTRA NVRTC OPTIONS"] [--limits JSON]
 * A spec's "options": {"compiler": ...} is used unless --options is given. The plan is built for
 * the device limits in --limits (default an H200's: 1024 threads, 48 KiB shared, warp 32, 132 SMs). */
#include "fw_cuda.h"
#include "fw_job.h"
#include "fw_util.h"
#include "harness_int.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct job {
    compile_in *in;
    size_t n;
    const char *arch, *options;
    atomic_size_t next;
    double *ms;
    atomic_int failed;
} job;

static void *compile_thread(void *arg)
{
    job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            return NULL;
        const compile_in *c = &j->in[i];
        void *bin = NULL;
        size_t len = 0;
        char *log = NULL;
        uint64_t t0 = fw_now_ns();
        int rc = fw_cuda_nvrtc_compile(c->source, (const char *const *)c->macros, c->nmacros,
                                       j->options ? j->options : c->options, j->arch, 0, &bin, &len, &log);
        j->ms[i] = (double)(fw_now_ns() - t0) / 1e6;
        if (rc) {
            if (atomic_fetch_add(&j->failed, 1) == 0)
                fprintf(stderr, "nvrtc_pool: variant %zu failed: %.400s\n", i, log ? log : "");
        }
        free(bin);
        free(log);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int run(job *j, int threads)
{
    pthread_t th[256];
    atomic_store(&j->next, 0);
    atomic_store(&j->failed, 0);
    double c0 = cpu_s();
    uint64_t t0 = fw_now_ns();
    int started = 0;
    for (; started < threads && started < 256; started++)
        if (pthread_create(&th[started], NULL, compile_thread, j) != 0)
            break;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double wall = (double)(fw_now_ns() - t0) / 1e9, cpu = cpu_s() - c0;
    double *sorted = malloc(j->n * sizeof *sorted);
    double mean = 0;
    for (size_t i = 0; i < j->n; i++)
        mean += (sorted[i] = j->ms[i]) / (double)j->n;
    qsort(sorted, j->n, sizeof *sorted, cmp_double);
    printf("threads %3d  variants %4zu  wall %7.3f s  %8.0f variants/min  nvrtc mean %7.1f ms  "
           "median %7.1f ms  cpu/wall %5.2f  failed %d\n", started, j->n, wall, (double)j->n * 60.0 / wall,
           mean, sorted[j->n / 2], cpu / wall, atomic_load(&j->failed));
    free(sorted);
    return 0;
}

int main(int argc, char **argv)
{
    const char *spec_path = NULL, *arch = "sm_90", *threads_list = "1,4,8,15", *options = NULL;
    const char *limits = "{\"max_threads\": 1024, \"shared_bytes\": 49152, \"simd_width\": 32, "
                         "\"compute_units\": 132}";
    size_t want = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--spec") && i + 1 < argc)
            spec_path = argv[++i];
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc)
            arch = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads_list = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            want = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--options") && i + 1 < argc)
            options = argv[++i];
        else if (!strcmp(argv[i], "--limits") && i + 1 < argc)
            limits = argv[++i];
        else {
            fprintf(stderr, "usage: nvrtc_pool --spec FILE [--arch sm_90] [--threads 1,4,8,15] [--n 64] "
                            "[--options \"NVRTC OPTIONS\"] [--limits JSON]\n");
            return 2;
        }
    }
    char err[1024];
    char *text = NULL;
    size_t tlen = 0;
    if (spec_path && fw_read_file(spec_path, &text, &tlen, err, sizeof err) < 0)
        text = NULL;
    cJSON *user = text ? cJSON_ParseWithLength(text, tlen) : NULL;
    free(text);
    cJSON *spec = NULL;
    fw_plan plan;
    memset(&plan, 0, sizeof plan);
    cJSON *device = cJSON_CreateObject();
    cJSON_AddItemToObject(device, "limits", cJSON_Parse(limits));
    fw_job_spec js;
    if (!user || fw_spec_resolve(user, &spec, err, sizeof err) < 0 ||
        fw_job_spec_parse(spec, &js, err, sizeof err) < 0 || fw_plan_build(spec, device, &plan, err, sizeof err) < 0) {
        fprintf(stderr, "nvrtc_pool: %s\n", user ? err : "--spec FILE with a JSON job spec is required");
        return 2;
    }
    const fw_family *fam = fw_family_find(js.family);
    const cJSON *shape = fw_job_spec_shape(&js, 0);
    fw_workload *wl = NULL;
    if (!fam || fwh_wl_new(fam, &js, shape, 1, &wl, err, sizeof err) < 0) {
        fprintf(stderr, "nvrtc_pool: no workload: %s\n", fam ? err : "no family");
        return 2;
    }
    job j = {.arch = arch, .options = options};
    j.in = calloc(plan.n ? plan.n : 1, sizeof *j.in);
    j.ms = calloc(plan.n ? plan.n : 1, sizeof *j.ms);
    for (size_t i = 0; i < plan.n && j.n < want; i++) {
        fw_geometry geo;
        if (plan.items[i].shape != 0 || fam->geometry(wl, &plan.items[i].point, &geo, err, sizeof err) < 0)
            continue;
        if (fwh_compile_inputs("cuda", fam, &js, &plan.items[i], wl, &j.in[j.n], err, sizeof err) == 0)
            j.n++;
    }
    printf("nvrtc_pool: %zu variants of %s, arch %s, options '%s', NVRTC from this process's libnvrtc\n", j.n,
           js.family, arch,
           options ? options : (j.n && j.in[0].options ? j.in[0].options : ""));
    if (!j.n)
        return 1;
    for (const char *p = threads_list; *p;) {
        int t = atoi(p);
        if (t > 0)
            run(&j, t);
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    for (size_t i = 0; i < j.n; i++)
        fwh_compile_in_release(&j.in[i]);
    free(j.in);
    free(j.ms);
    fam->workload_free(wl);
    fw_plan_release(&plan);
    cJSON_Delete(spec);
    cJSON_Delete(user);
    cJSON_Delete(device);
    return 0;
}
