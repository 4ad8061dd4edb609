/* fuzz_record.c - what fairwayd does with a worker's measurement records (docs/worker-protocol.md):
 * fw_db_measurement_put parses each into the store, and the queries that answer clients (rankings,
 * the job row with its counts, failures, the sequence compare reads, compare itself) read them back.
 * A worker is the daemon's own child, but its records carry text from users' kernels and from
 * compilers, and a crashed or mismatched worker may write anything.
 *
 * Input: JSON records, one per line, put in order into a fresh in-memory store holding one job and
 * one device. Checks beyond "no crash": a put is stored, or refused with -EINVAL / -EEXIST and a
 * message, never an I/O error; a record stored once is refused the second time; a job compared with
 * itself has the same variants and a tau of 1 or none. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_daemon.h"
#include "fw_db.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void read_back(fw_db *db, int64_t job)
{
    cJSON *out = NULL;
    if (fw_db_rankings(db, job, NULL, 0, &out) == 0)
        CHECK(cJSON_IsArray(out));
    cJSON_Delete(out);
    out = NULL;
    if (fw_db_job_get(db, job, &out) == 0)
        CHECK(cJSON_IsObject(out));
    cJSON_Delete(out);
    out = NULL;
    fw_db_failure_classes(db, job, &out);
    cJSON_Delete(out);
    out = NULL;
    fw_db_failures(db, job, NULL, 0, &out);
    cJSON_Delete(out);
    cJSON *seq = NULL;
    if (fw_db_job_sequence(db, job, &seq) == 0) {
        char err[256];
        cJSON *cmp = NULL;
        if (fw_daemon_compare(seq, seq, &cmp, err, sizeof(err)) == 0) {
            CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cmp, "same_variants")));
            const cJSON *tau = cJSON_GetObjectItemCaseSensitive(cmp, "kendall_tau");
            CHECK(cJSON_IsNull(tau) || (cJSON_IsNumber(tau) && tau->valuedouble > 0.999));
        }
        cJSON_Delete(cmp);
    }
    cJSON_Delete(seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fw_db *db = NULL;
    char err[512];
    if (fw_db_open(":memory:", &db, err, sizeof(err)) != 0)
        abort();
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\",\"strategy\":\"random\",\"budget\":4,\"seed\":1}");
    cJSON *info = cJSON_Parse("{\"backend\":\"opencl\",\"index\":0,\"identity\":\"fuzz|dev\"}");
    fw_db_job_new nj = {.spec = spec, .spec_hash = "0123456789abcdef", .seed = 1, .family = "gemm",
                        .strategy = "random", .budget = 4, .planned = 4, .device = "opencl:0",
                        .daemon_version = "fuzz"};
    int64_t job = 0, dev = 0;
    CHECK(fw_db_device_upsert(db, "fuzz|dev", info, &dev) == 0);
    CHECK(fw_db_job_create(db, &nj, &job) == 0);
    const char *p = (const char *)data, *end = p + size;
    int lines = 0;
    while (p < end && lines < 64) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cJSON *m = cJSON_ParseWithLength(p, n);
        if (cJSON_IsObject(m)) {
            int rc = fw_db_measurement_put(db, job, dev, m);
            CHECK(rc == 0 || rc == -EINVAL || rc == -EEXIST || rc == -ENOENT);
            if (rc == 0)
                CHECK(fw_db_measurement_put(db, job, dev, m) == -EEXIST);
        }
        cJSON_Delete(m);
        p += n + 1;
        lines++;
    }
    read_back(db, job);
    fw_db_close(db);
    cJSON_Delete(spec);
    cJSON_Delete(info);
    return 0;
}
