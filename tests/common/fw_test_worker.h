/* fw_test_worker.h - running the real fairway-worker from a C test (header-only, static).
 *
 * fw_test_worker_run() writes the spec into dir, runs `WORKER --spec FILE --backend opencl` and sorts
 * its stdout lines: plan records (lines with a "seq") into an array, the {"summary"} and {"finalists"}
 * lines apart, and counts lines that are not JSON (a test asserts there are none).
 * fw_test_worker_has_opencl() asks the worker for its devices (tests skip with 77 without OpenCL). */
#ifndef FW_TEST_WORKER_H
#define FW_TEST_WORKER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

typedef struct fw_test_run {
    cJSON *records;     /* array of plan records, in output order */
    cJSON *summary;     /* the {"summary": ...} line, or NULL */
    cJSON *finalists;   /* the {"finalists": ...} line, or NULL */
    int bad_lines;      /* lines that were not JSON */
} fw_test_run;

static inline void fw_test_run_release(fw_test_run *r)
{
    cJSON_Delete(r->records);
    cJSON_Delete(r->summary);
    cJSON_Delete(r->finalists);
    memset(r, 0, sizeof *r);
}

/* Returns the worker's exit status (128 when it did not exit normally), or -errno. */
static inline int fw_test_worker_run(const char *worker, const char *dir, const char *spec, fw_test_run *out)
{
    char path[512], cmd[1200];
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "%s/spec.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fputs(spec, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' --spec '%s' --backend opencl", worker, path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -errno;
    out->records = cJSON_CreateArray();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, p) > 0) {
        cJSON *j = cJSON_Parse(line);
        cJSON **slot = NULL;
        if (!j) {
            out->bad_lines++;
            fprintf(stderr, "the worker printed a line that is not JSON: %.200s", line);
            continue;
        }
        if (cJSON_GetObjectItem(j, "summary"))
            slot = &out->summary;
        else if (cJSON_GetObjectItem(j, "finalists"))
            slot = &out->finalists;
        if (slot) {
            cJSON_Delete(*slot);
            *slot = j;
        } else if (cJSON_GetObjectItem(j, "seq")) {
            cJSON_AddItemToArray(out->records, j);
        } else {
            cJSON_Delete(j);
        }
    }
    free(line);
    int st = pclose(p);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static inline int fw_test_worker_has_opencl(const char *worker)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' --list-devices", worker);
    FILE *p = popen(cmd, "r");
    char buf[8192] = "";
    size_t got = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
    buf[got] = '\0';
    if (p)
        pclose(p);
    return strstr(buf, "\"opencl\"") != NULL;
}

/* A worker test's start: the worker from argv[1], a private dir made from dir_template (mkdtemp), and
 * the skip when the worker sees no OpenCL device. Returns -1 to go on, else main's exit code. */
static inline int fw_test_worker_start(int argc, char **argv, char *dir_template, const char **worker)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-fairway-worker\n", argv[0]);
        return 2;
    }
    *worker = argv[1];
    if (!mkdtemp(dir_template)) {
        perror("mkdtemp");
        return 1;
    }
    if (!fw_test_worker_has_opencl(*worker)) {
        printf("no OpenCL device: skipped\n");
        rmdir(dir_template);
        return 77;
    }
    return -1;
}

#endif
