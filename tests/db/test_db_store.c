/* Round trips through the store: devices, sources, jobs, measurements, samples; duplicates;
 * rankings; best; measured seqs; unfinished jobs; uint64 seeds. */
#include "db_test.h"

#include <stdint.h>

static fw_db *open_db(const char *name)
{
    char path[512], err[512];
    fw_db *db = NULL;
    int r = fw_db_open(test_path(name, path, sizeof path), &db, err, sizeof err);
    if (r != 0) fprintf(stderr, "open: %s\n", err);
    CHECK(r == 0 && db);
    return db;
}

static void test_devices_sources(fw_db *db)
{
    cJSON *info = cJSON_Parse("{\"backend\":\"opencl\",\"index\":0,\"identity\":\"opencl|V|D|1|C\","
                              "\"vendor\":\"V\",\"name\":\"D\",\"driver\":\"1\",\"compiler\":\"C\","
                              "\"limits\":{\"max_threads\":4096}}");
    int64_t id1 = 0, id2 = 0, id3 = 0;
    CHECK_RC(db, fw_db_device_upsert(db, "opencl|V|D|1|C", info, &id1), 0);
    CHECK(id1 > 0);
    /* same identity: same row, info updated */
    CHECK_RC(db, fw_db_device_upsert(db, "opencl|V|D|1|C", info, &id2), 0);
    CHECK(id2 == id1);
    CHECK_RC(db, fw_db_device_upsert(db, "cuda|N|H100|550|12.4", NULL, &id3), 0);
    CHECK(id3 != id1);
    CHECK_RC(db, fw_db_device_upsert(db, "", NULL, &id3), -EINVAL);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM devices") == 2);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM devices WHERE identity = 'opencl|V|D|1|C' AND "
                        "json_extract(info, '$.limits.max_threads') = 4096 AND vendor = 'V'") == 1);
    cJSON_Delete(info);

    CHECK_RC(db, fw_db_source_put(db, "h1", "kernel void k() {}"), 0);
    CHECK_RC(db, fw_db_source_put(db, "h1", "kernel void k() {}"), 0);   /* idempotent */
    CHECK(count_sql(db, "SELECT COUNT(*) FROM sources WHERE hash = 'h1' AND text LIKE 'kernel%'") == 1);
}

static void test_jobs_and_seed(fw_db *db)
{
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\",\"budget\":50,\"shapes\":[{\"M\":64}]}");
    const uint64_t big = 18446744073709551557ULL;   /* largest 64-bit prime, above 2^63 */
    fw_db_job_new j = job_template(spec, big);
    int64_t a = 0, b = 0, c = 0;
    CHECK_RC(db, fw_db_job_create(db, &j, &a), 0);
    uint64_t got = 0;
    CHECK_RC(db, fw_db_job_seed(db, a, &got), 0);
    CHECK(got == big);

    cJSON *o = NULL;
    CHECK_RC(db, fw_db_job_get(db, a, &o), 0);
    CHECK_STR(jget_str(o, "state"), "queued");
    CHECK_STR(jget_str(o, "seed"), "18446744073709551557");   /* too big for a double: a string */
    CHECK_STR(jget_str(o, "seed_text"), "18446744073709551557");
    CHECK_STR(jget_str(o, "family"), "gemm");
    CHECK_STR(jget_str(o, "strategy"), "random");
    CHECK_STR(jget_str(o, "spec_hash"), "aaaabbbbccccdddd");
    CHECK_STR(jget_str(o, "device"), "opencl:0");
    CHECK_STR(jget_str(o, "daemon_version"), "0.1.0");
    CHECK(jget_num(o, "budget") == 50);
    CHECK(jget_num(o, "evaluated") == 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "parent")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "started_at")));
    const char *created = jget_str(o, "created_at");
    CHECK(created && strlen(created) == 24 && created[10] == 'T' && created[23] == 'Z');
    CHECK(jget_num(cJSON_GetObjectItem(o, "spec"), "budget") == 50);
    CHECK(jget_num(cJSON_GetObjectItem(o, "counts"), "ok") == 0);
    cJSON_Delete(o);

    /* small seed: a plain number; rerun linked to its parent */
    j.seed = 42;
    j.parent = a;
    CHECK_RC(db, fw_db_job_create(db, &j, &b), 0);
    CHECK_RC(db, fw_db_job_get(db, b, &o), 0);
    CHECK(jget_num(o, "seed") == 42);
    CHECK(jget_num(o, "parent") == (double)a);
    cJSON_Delete(o);
    j.parent = 99999;
    CHECK_RC(db, fw_db_job_create(db, &j, &c), -ENOENT);
    j.parent = 0;
    j.seed = UINT64_MAX;
    CHECK_RC(db, fw_db_job_create(db, &j, &c), 0);
    CHECK_RC(db, fw_db_job_seed(db, c, &got), 0);
    CHECK(got == UINT64_MAX);

    /* unfinished: queued and running, oldest first */
    int64_t *ids = NULL;
    size_t n = 0;
    CHECK_RC(db, fw_db_jobs_unfinished(db, &ids, &n), 0);
    CHECK(n == 3 && ids[0] == a && ids[1] == b && ids[2] == c);
    free(ids);
    CHECK_RC(db, fw_db_job_set_state(db, a, "running", NULL), 0);
    CHECK_RC(db, fw_db_job_set_state(db, b, "done", NULL), 0);
    CHECK_RC(db, fw_db_job_set_state(db, c, "failed", "worker could not open device opencl:3"), 0);
    CHECK_RC(db, fw_db_job_set_state(db, c, "exploded", NULL), -EINVAL);
    CHECK_RC(db, fw_db_job_set_state(db, 424242, "done", NULL), -ENOENT);
    CHECK_RC(db, fw_db_jobs_unfinished(db, &ids, &n), 0);
    CHECK(n == 1 && ids[0] == a);
    free(ids);
    CHECK_RC(db, fw_db_job_get(db, a, &o), 0);
    CHECK(jget_str(o, "started_at") != NULL);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "finished_at")));
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_job_get(db, c, &o), 0);
    CHECK_STR(jget_str(o, "state"), "failed");
    CHECK_STR(jget_str(o, "error"), "worker could not open device opencl:3");
    CHECK(jget_str(o, "finished_at") != NULL);
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_job_set_state(db, a, "cancelled", NULL), 0);
    CHECK_RC(db, fw_db_jobs_unfinished(db, &ids, &n), 0);
    CHECK(n == 0);
    free(ids);

    /* list: newest first, filtered, no spec */
    cJSON *arr = NULL;
    CHECK_RC(db, fw_db_jobs_list(db, NULL, 0, &arr), 0);
    CHECK(cJSON_GetArraySize(arr) == 3);
    CHECK(jget_num(cJSON_GetArrayItem(arr, 0), "id") == (double)c);
    CHECK(jget_num(cJSON_GetArrayItem(arr, 2), "id") == (double)a);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "spec") == NULL);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "counts") != NULL);
    cJSON_Delete(arr);
    CHECK_RC(db, fw_db_jobs_list(db, "done", 10, &arr), 0);
    CHECK(cJSON_GetArraySize(arr) == 1 && jget_num(cJSON_GetArrayItem(arr, 0), "id") == (double)b);
    cJSON_Delete(arr);
    CHECK_RC(db, fw_db_jobs_list(db, NULL, 2, &arr), 0);
    CHECK(cJSON_GetArraySize(arr) == 2);
    cJSON_Delete(arr);
    CHECK_RC(db, fw_db_jobs_list(db, "bogus", 10, &arr), -EINVAL);
    CHECK_RC(db, fw_db_job_get(db, 777777, &o), -ENOENT);
    cJSON_Delete(spec);
}

static int64_t new_job(fw_db *db, const char *family)
{
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\"}");
    fw_db_job_new j = job_template(spec, 7);
    j.family = family;
    int64_t id = 0;
    CHECK_RC(db, fw_db_job_create(db, &j, &id), 0);
    cJSON_Delete(spec);
    return id;
}

static void test_measurement_round_trip(fw_db *db, int64_t dev)
{
    int64_t job = new_job(db, "gemm");
    CHECK_RC(db, fw_db_job_set_planned(db, job, 10, dev), 0);
    CHECK_RC(db, fw_db_job_set_planned(db, 999999, 10, dev), -ENOENT);
    CHECK_RC(db, put(db, job, dev, make_rec(0, 0, "M=64", "gemm", "gemm_tiled", "TILE_N=16", "ok",
                                             81234, 5)), 0);
    CHECK_RC(db, put(db, job, dev, make_rec(1, 0, "M=64", "gemm", "gemm_tiled", "TILE_N=32",
                                             "compile_error", -1, 0)), 0);

    /* every column of the record landed */
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements WHERE seq = 0 AND shape_index = 0 "
                        "AND shape_key = 'M=64' AND json_extract(shape, '$.M') = 64 AND family = 'gemm' "
                        "AND kernel = 'gemm_tiled' AND mode = '' AND origin = 'preset' AND status = 'ok' "
                        "AND error IS NULL AND compile_ms = 41.25 AND cached = 1 AND rel_err = 3.5e-7 "
                        "AND nonfinite = 0 AND unwritten = 0 "
                        "AND json_extract(resources, '$.registers') = 40 "
                        "AND json_extract(geometry, '$.shared_bytes') = 8192 AND n = 5 "
                        "AND median_ns = 81234 AND mean_ns = 81234.5 AND min_ns = 81232 "
                        "AND max_ns = 81239 AND stddev_ns = 1.5 AND p95_ns = 81235 AND gbps = 12.5 "
                        "AND gflops = 410.25 AND bytes = 1000000 AND flops = 33554432 "
                        "AND json_extract(record, '$.variant_key') = 'TILE_N=16' "
                        "AND json_extract(record, '$.samples_ns') IS NULL") == 1);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements WHERE seq = 1 AND status = 'compile_error' "
                        "AND error LIKE 'build log:%' AND median_ns IS NULL") == 1);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM variants WHERE family = 'gemm' AND key = 'TILE_N=16' "
                        "AND json_extract(knobs, '$.TILE_N') = 16 AND hash = '0123456789abcdef'") == 1);

    cJSON *s = NULL;
    CHECK_RC(db, fw_db_samples(db, job, 0, &s), 0);
    CHECK(cJSON_GetArraySize(s) == 5);
    for (int i = 0; i < 5; i++) CHECK(cJSON_GetArrayItem(s, i)->valuedouble == 81232 + i);
    cJSON_Delete(s);
    CHECK_RC(db, fw_db_samples(db, job, 1, &s), 0);   /* a measurement without samples */
    CHECK(cJSON_GetArraySize(s) == 0);
    cJSON_Delete(s);
    CHECK_RC(db, fw_db_samples(db, job, 55, &s), -ENOENT);

    cJSON *o = NULL;
    CHECK_RC(db, fw_db_job_get(db, job, &o), 0);
    CHECK(jget_num(o, "evaluated") == 2);
    CHECK(jget_num(o, "planned") == 10);
    CHECK(jget_num(o, "device_id") == (double)dev);
    CHECK(jget_str(o, "device_identity") != NULL);
    cJSON *counts = cJSON_GetObjectItem(o, "counts");
    CHECK(jget_num(counts, "ok") == 1 && jget_num(counts, "compile_error") == 1);
    CHECK(jget_num(counts, "verify_failed") == 0);
    cJSON_Delete(o);

    /* duplicate (job, seq): -EEXIST, nothing changes (not even a new variant row) */
    long long meas = count_sql(db, "SELECT COUNT(*) FROM measurements");
    long long vars = count_sql(db, "SELECT COUNT(*) FROM variants");
    long long samp = count_sql(db, "SELECT COUNT(*) FROM samples");
    CHECK_RC(db, put(db, job, dev, make_rec(0, 0, "M=64", "gemm", "gemm_tiled", "TILE_N=999", "ok",
                                             5, 3)), -EEXIST);
    CHECK(strstr(fw_db_error(db), "seq 0") != NULL);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements") == meas);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM variants") == vars);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM samples") == samp);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements WHERE median_ns = 5") == 0);

    /* bad records are refused with a message, nothing stored */
    CHECK_RC(db, put(db, job, dev, make_rec(7, 0, "M=64", "gemm", "k", "TILE_N=16", "weird", 5, 1)),
             -EINVAL);
    CHECK(strstr(fw_db_error(db), "unknown status") != NULL);
    CHECK_RC(db, put(db, job, dev, make_rec(7, 0, "M=64", "gemm", "k", "TILE_N=16", "ok", -1, 0)),
             -EINVAL);   /* ok without stats cannot be ranked */
    CHECK_RC(db, put(db, 424242, dev, make_rec(7, 0, "M=64", "gemm", "k", "TILE_N=16", "ok", 5, 1)),
             -ENOENT);
    CHECK_RC(db, put(db, job, 424242, make_rec(7, 0, "M=64", "gemm", "k", "TILE_N=16", "ok", 5, 1)),
             -ENOENT);   /* unknown device id */
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements") == meas);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM samples") == samp);

    /* a daemon failure record for a seq it could not place: no keys, still stored */
    cJSON *crash = cJSON_Parse("{\"seq\": 9, \"family\": \"gemm\", \"status\": \"crashed\", "
                               "\"error\": \"the worker died measuring this variant: SIGSEGV\"}");
    CHECK_RC(db, put(db, job, dev, crash), 0);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM measurements WHERE seq = 9 AND status = 'crashed' "
                        "AND shape_key = '' AND error LIKE '%SIGSEGV'") == 1);
    cJSON *okbad = make_rec(8, 0, "M=64", "gemm", "k", "TILE_N=16", "ok", 5, 1);
    cJSON_DeleteItemFromObject(okbad, "shape_key");
    CHECK_RC(db, put(db, job, dev, okbad), -EINVAL);   /* a ranked record must name its shape */
    CHECK(strstr(fw_db_error(db), "shape_key") != NULL);
    meas++;
    vars++;

    /* the same variant in a second measurement reuses the variant row */
    CHECK_RC(db, put(db, job, dev, make_rec(5, 1, "M=128", "gemm", "gemm_tiled", "TILE_N=16", "ok",
                                             70000, 2)), 0);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM variants") == vars);

    int64_t *seqs = NULL;
    size_t n = 0;
    CHECK_RC(db, fw_db_measured_seqs(db, job, &seqs, &n), 0);
    CHECK(n == 4 && seqs[0] == 0 && seqs[1] == 1 && seqs[2] == 5 && seqs[3] == 9);
    free(seqs);
    CHECK_RC(db, fw_db_measured_seqs(db, 424242, &seqs, &n), 0);
    CHECK(n == 0);
    free(seqs);

    cJSON *seqarr = NULL;
    CHECK_RC(db, fw_db_job_sequence(db, job, &seqarr), 0);
    CHECK(cJSON_GetArraySize(seqarr) == 4);
    CHECK_STR(jget_str(cJSON_GetArrayItem(seqarr, 3), "status"), "crashed");
    cJSON *e1 = cJSON_GetArrayItem(seqarr, 1);
    CHECK(jget_num(e1, "seq") == 1);
    CHECK_STR(jget_str(e1, "status"), "compile_error");
    CHECK_STR(jget_str(e1, "variant_key"), "TILE_N=32");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(e1, "median_ns")));
    CHECK(jget_num(cJSON_GetArrayItem(seqarr, 2), "median_ns") == 70000);
    cJSON_Delete(seqarr);
}

/* Two shapes, statuses mixed, medians out of seq order. */
static void test_rankings(fw_db *db, int64_t dev)
{
    int64_t job = new_job(db, "gemm");
    static const struct { int seq, shape; const char *status; double median; } rows[] = {
        {0, 0, "ok", 500}, {1, 0, "ok", 300}, {2, 0, "verify_failed", 100}, {3, 0, "ok", 400},
        {4, 0, "pruned", 50}, {5, 0, "ok", 300},   /* ties with seq 1: seq 1 ranks first */
        {6, 1, "ok", 900}, {7, 1, "compile_error", -1}, {8, 1, "ok", 700}, {9, 1, "crashed", -1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char vk[32];
        snprintf(vk, sizeof vk, "TILE_N=%d", 100 + rows[i].seq);
        CHECK_RC(db, put(db, job, dev, make_rec(rows[i].seq, rows[i].shape,
                                                 rows[i].shape ? "M=128" : "M=64", "gemm", "gemm_tiled",
                                                 vk, rows[i].status, rows[i].median, 3)), 0);
    }
    cJSON *r = NULL;
    CHECK_RC(db, fw_db_rankings(db, job, NULL, 0, &r), 0);
    static const struct { int rank, seq; const char *shape; double median; } want[] = {
        {1, 1, "M=64", 300}, {2, 5, "M=64", 300}, {3, 3, "M=64", 400}, {4, 0, "M=64", 500},
        {1, 8, "M=128", 700}, {2, 6, "M=128", 900},
    };
    CHECK(cJSON_GetArraySize(r) == 6);
    for (int i = 0; i < 6; i++) {
        cJSON *o = cJSON_GetArrayItem(r, i);
        CHECK(jget_num(o, "rank") == want[i].rank);
        CHECK(jget_num(o, "seq") == want[i].seq);
        CHECK_STR(jget_str(o, "shape_key"), want[i].shape);
        CHECK(jget_num(o, "median_ns") == want[i].median);
        CHECK(jget_num(cJSON_GetObjectItem(o, "knobs"), "TILE_N") == 16 + want[i].seq);
        CHECK(jget_str(o, "variant_key") && jget_str(o, "origin"));
        CHECK(jget_num(o, "n") == 3 && jget_num(o, "gbps") == 12.5 && jget_num(o, "compile_ms") == 41.25);
        CHECK(jget_num(o, "p95_ns") == want[i].median + 1);
    }
    cJSON_Delete(r);

    /* limit applies per shape */
    CHECK_RC(db, fw_db_rankings(db, job, NULL, 1, &r), 0);
    CHECK(cJSON_GetArraySize(r) == 2);
    CHECK(jget_num(cJSON_GetArrayItem(r, 0), "seq") == 1 && jget_num(cJSON_GetArrayItem(r, 1), "seq") == 8);
    cJSON_Delete(r);

    /* one shape */
    CHECK_RC(db, fw_db_rankings(db, job, "M=128", 0, &r), 0);
    CHECK(cJSON_GetArraySize(r) == 2);
    CHECK(jget_num(cJSON_GetArrayItem(r, 0), "rank") == 1 && jget_num(cJSON_GetArrayItem(r, 0), "seq") == 8);
    CHECK(jget_num(cJSON_GetArrayItem(r, 1), "rank") == 2);
    cJSON_Delete(r);
    CHECK_RC(db, fw_db_rankings(db, job, "M=64", 3, &r), 0);
    CHECK(cJSON_GetArraySize(r) == 3 && jget_num(cJSON_GetArrayItem(r, 2), "seq") == 3);
    cJSON_Delete(r);
    CHECK_RC(db, fw_db_rankings(db, job, "M=9999", 0, &r), 0);
    CHECK(cJSON_GetArraySize(r) == 0);
    cJSON_Delete(r);
}

static void test_best(fw_db *db)
{
    int64_t d1 = 0, d2 = 0;
    CHECK_RC(db, fw_db_device_upsert(db, "opencl|pocl|cpu|6.0|C", NULL, &d1), 0);
    CHECK_RC(db, fw_db_device_upsert(db, "cuda|nvidia|H100|550|12.4", NULL, &d2), 0);
    cJSON *o = NULL;
    CHECK_RC(db, fw_db_best(db, "opencl|pocl|cpu|6.0|C", "moe", NULL, "S=1", &o), -ENOENT);
    CHECK(o == NULL);
    CHECK(strstr(fw_db_error(db), "no verified measurement") != NULL);

    int64_t j1 = new_job(db, "moe"), j2 = new_job(db, "moe");
    /* j1 on d1: 800 ok; 50 verify_failed (never best); a faster one on another shape */
    CHECK_RC(db, put(db, j1, d1, make_rec(0, 0, "S=1", "moe", "swiglu", "A=1", "ok", 800, 2)), 0);
    CHECK_RC(db, put(db, j1, d1, make_rec(1, 0, "S=1", "moe", "swiglu", "A=2", "verify_failed", 50, 2)), 0);
    CHECK_RC(db, put(db, j1, d1, make_rec(2, 1, "S=2", "moe", "swiglu", "A=3", "ok", 10, 2)), 0);
    /* j2 on d1: 600 ok (the best on d1); on d2 (same job id for simplicity): 100 ok */
    CHECK_RC(db, put(db, j2, d1, make_rec(0, 0, "S=1", "moe", "swiglu", "A=4", "ok", 600, 2)), 0);
    CHECK_RC(db, put(db, j2, d2, make_rec(1, 0, "S=1", "moe", "swiglu", "A=5", "ok", 100, 2)), 0);
    /* another kernel on d1, faster */
    CHECK_RC(db, put(db, j2, d1, make_rec(2, 0, "S=1", "moe", "other", "A=6", "ok", 400, 2)), 0);

    CHECK_RC(db, fw_db_best(db, "opencl|pocl|cpu|6.0|C", "moe", "swiglu", "S=1", &o), 0);
    CHECK(jget_num(o, "job") == (double)j2);
    CHECK(jget_num(o, "seq") == 0);
    CHECK(jget_num(o, "median_ns") == 600);
    CHECK_STR(jget_str(o, "device"), "opencl|pocl|cpu|6.0|C");
    CHECK_STR(jget_str(o, "variant_key"), "A=4");
    CHECK_STR(jget_str(o, "kernel"), "swiglu");
    CHECK_STR(jget_str(o, "family"), "moe");
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(o, "knobs")));
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_best(db, "opencl|pocl|cpu|6.0|C", "moe", NULL, "S=1", &o), 0);   /* any kernel */
    CHECK_STR(jget_str(o, "variant_key"), "A=6");
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_best(db, "cuda|nvidia|H100|550|12.4", "moe", "swiglu", "S=1", &o), 0);
    CHECK(jget_num(o, "median_ns") == 100 && jget_num(o, "job") == (double)j2);
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_best(db, NULL, "moe", "swiglu", "S=1", &o), 0);   /* any device */
    CHECK_STR(jget_str(o, "device"), "cuda|nvidia|H100|550|12.4");
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_best(db, "opencl|pocl|cpu|6.0|C", "moe", "swiglu", "S=2", &o), 0);
    CHECK(jget_num(o, "median_ns") == 10 && jget_num(o, "job") == (double)j1);
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_best(db, "cuda|nvidia|H100|550|12.4", "moe", "swiglu", "S=2", &o), -ENOENT);
    CHECK_RC(db, fw_db_best(db, "metal|apple|M3|1|1", "moe", "swiglu", "S=1", &o), -ENOENT);
    CHECK_RC(db, fw_db_best(db, "opencl|pocl|cpu|6.0|C", "gemm", NULL, "S=1", &o), -ENOENT);
    CHECK_RC(db, fw_db_best(db, "opencl|pocl|cpu|6.0|C", "moe", "nope", "S=1", &o), -ENOENT);
    CHECK(o == NULL);
}

/* fw_db_failure_classes / fw_db_failures: the failed measurements' reasons, by class in order of
 * first occurrence and one by one in seq order, filtered by status and limited. */
static void test_failures(fw_db *db, int64_t dev)
{
    int64_t job = new_job(db, "gemm");
    const char *st[] = {"ok", "verify_failed", "compile_error", "verify_failed", "crashed"};
    for (int i = 0; i < 5; i++) {
        cJSON *m = make_rec(i, 0, "M=64", "gemm", "gemm_tiled", i == 1 ? "TILE_N=1" : "TILE_N=9", st[i],
                            strcmp(st[i], "ok") == 0 ? 100 : -1, 3);
        if (i == 1) cJSON_ReplaceItemInObject(m, "error", cJSON_CreateString("first wrong\nsecond line"));
        if (i == 4) cJSON_ReplaceItemInObject(m, "error", cJSON_CreateNull());
        CHECK_RC(db, put(db, job, dev, m), 0);
    }
    cJSON *c = NULL;
    CHECK_RC(db, fw_db_failure_classes(db, job, &c), 0);
    CHECK(cJSON_GetArraySize(c) == 3);
    const cJSON *c0 = cJSON_GetArrayItem(c, 0), *c2 = cJSON_GetArrayItem(c, 2);
    CHECK_STR(jget_str(c0, "status"), "verify_failed");
    CHECK(jget_num(c0, "count") == 2 && jget_num(c0, "first_seq") == 1);
    CHECK_STR(jget_str(c0, "first_error"), "first wrong\nsecond line");
    CHECK_STR(jget_str(cJSON_GetArrayItem(c, 1), "status"), "compile_error");
    CHECK_STR(jget_str(c2, "status"), "crashed");
    CHECK_STR(jget_str(c2, "first_error"), "");
    cJSON_Delete(c);
    CHECK_RC(db, fw_db_failures(db, job, NULL, 0, &c), 0);
    CHECK(cJSON_GetArraySize(c) == 4 && jget_num(cJSON_GetArrayItem(c, 0), "seq") == 1);
    CHECK_STR(jget_str(cJSON_GetArrayItem(c, 0), "variant_key"), "TILE_N=1");
    CHECK_STR(jget_str(cJSON_GetArrayItem(c, 0), "kernel"), "gemm_tiled");
    cJSON_Delete(c);
    CHECK_RC(db, fw_db_failures(db, job, "verify_failed", 1, &c), 0);
    CHECK(cJSON_GetArraySize(c) == 1 && jget_num(cJSON_GetArrayItem(c, 0), "seq") == 1);
    cJSON_Delete(c);
    CHECK_RC(db, fw_db_failures(db, job, "timeout", 0, &c), 0);
    CHECK(cJSON_GetArraySize(c) == 0);
    cJSON_Delete(c);
}

int main(void)
{
    fw_db *db = open_db("store.db");
    test_devices_sources(db);
    test_jobs_and_seed(db);
    int64_t dev = 0;
    CHECK_RC(db, fw_db_device_upsert(db, "opencl|V|D|1|C", NULL, &dev), 0);
    test_measurement_round_trip(db, dev);
    test_rankings(db, dev);
    test_best(db);
    test_failures(db, dev);
    fw_db_close(db);

    /* everything survives close and reopen */
    db = open_db("store.db");
    CHECK(fw_db_user_version(db) == FW_DB_SCHEMA_VERSION);
    uint64_t seed = 0;
    CHECK_RC(db, fw_db_job_seed(db, 1, &seed), 0);
    CHECK(seed == 18446744073709551557ULL);
    cJSON *o = NULL;
    CHECK_RC(db, fw_db_best(db, "cuda|nvidia|H100|550|12.4", "moe", "swiglu", "S=1", &o), 0);
    CHECK(jget_num(o, "median_ns") == 100);
    cJSON_Delete(o);
    fw_db_close(db);

    /* :memory: works too */
    char err[256];
    CHECK(fw_db_open(":memory:", &db, err, sizeof err) == 0);
    CHECK(fw_db_user_version(db) == FW_DB_SCHEMA_VERSION);
    fw_db_close(db);
    printf("db store: ok\n");
    return 0;
}
