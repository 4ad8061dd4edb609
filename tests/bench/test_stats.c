/* Statistics on known samples and output verification (no device needed). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fw_bench.h"
#include "fw_family.h"
#include "test_util.h"

static void test_odd(void)
{
    const uint64_t s[] = { 50, 10, 40, 20, 30 };   /* unsorted on purpose */
    fw_bench_stats st;
    CHECK(fw_bench_stats_compute(s, 5, &st) == 0);
    CHECK(st.n == 5);
    CHECK(st.median == 30.0);
    CHECK(st.mean == 30.0);
    CHECK(st.min == 10 && st.max == 50);
    /* sample stddev: sqrt((400+100+0+100+400)/4) = sqrt(250) */
    CHECK(NEAR(st.stddev, 15.811388300841896, 1e-9));
    /* p95: h = 4 * 0.95 = 3.8 -> 40 + 0.8 * 10 = 48 */
    CHECK(NEAR(st.p95, 48.0, 1e-9));
    CHECK(s[0] == 50);   /* input untouched */
}

static void test_even(void)
{
    const uint64_t s[] = { 4, 1, 3, 2 };
    fw_bench_stats st;
    CHECK(fw_bench_stats_compute(s, 4, &st) == 0);
    CHECK(st.median == 2.5);          /* mean of the two middle samples */
    CHECK(st.mean == 2.5);
    CHECK(NEAR(st.stddev, 1.2909944487358056, 1e-12));
    CHECK(NEAR(st.p95, 3.85, 1e-12));  /* h = 2.85 -> 3 + 0.85 * 1 */
}

static void test_p95_twenty(void)
{
    uint64_t s[20];
    for (int i = 0; i < 20; i++)
        s[i] = (uint64_t)(100 * (i + 1));   /* 100..2000 */
    fw_bench_stats st;
    CHECK(fw_bench_stats_compute(s, 20, &st) == 0);
    /* h = 19 * 0.95 = 18.05 -> 1900 + 0.05 * 100 = 1905 (numpy.percentile(..., 95) agrees) */
    CHECK(NEAR(st.p95, 1905.0, 1e-6));
    CHECK(st.median == 1050.0);
    CHECK(NEAR(fw_bench_percentile(s, 20, 0.0), 100.0, 0));
    CHECK(NEAR(fw_bench_percentile(s, 20, 1.0), 2000.0, 0));
}

static void test_edges(void)
{
    fw_bench_stats st;
    const uint64_t one = 7;
    CHECK(fw_bench_stats_compute(&one, 1, &st) == 0);
    CHECK(st.median == 7.0 && st.p95 == 7.0 && st.stddev == 0.0 && st.min == 7 && st.max == 7);
    CHECK(fw_bench_stats_compute(&one, 0, &st) < 0);
    /* large, close samples: the two-pass variance does not cancel to garbage */
    const uint64_t big[] = { 1000000000001ULL, 1000000000003ULL };
    CHECK(fw_bench_stats_compute(big, 2, &st) == 0);
    CHECK(NEAR(st.stddev, 1.4142135623730951, 1e-6));
}

static void test_verify(void)
{
    float out[4] = { 1.0f, 2.0f, 3.0f, 4.0f };
    double ref[4] = { 1.0, 2.0, 3.0, 4.0 };
    fw_bench_verify v;
    CHECK(fw_bench_verify_output(FW_ELEM_F32, out, 4, ref, &v) == 0);
    CHECK(v.unwritten == 0 && v.nonfinite == 0 && v.rel_err == 0.0);

    uint32_t poison = 0xFFFFFFFFu;
    memcpy(&out[1], &poison, 4);       /* left as poisoned: unwritten, not "NaN" */
    out[2] = NAN;
    out[3] = 5.0f;                     /* error 1 against a norm of sqrt(1 + 16) over the rest */
    CHECK(fw_bench_verify_output(FW_ELEM_F32, out, 4, ref, &v) == 0);
    CHECK(v.unwritten == 1);
    CHECK(v.nonfinite == 1);
    CHECK(NEAR(v.rel_err, 1.0 / sqrt(17.0), 1e-12));

    uint16_t h[2] = { fw_f32_to_f16(1.5f), 0xFFFFu };
    double href[2] = { 1.5, 2.0 };
    CHECK(fw_bench_verify_output(FW_ELEM_F16, h, 2, href, &v) == 0);
    CHECK(v.unwritten == 1 && v.rel_err == 0.0);

    /* An integer output that holds -1 (all 0xFF, the poison's bytes): alone it looks unwritten; with
     * the read-back of the launch on zeroed bytes only a real hole (the poison there, zero here) is. */
    int32_t io[4] = { -1, 7, -1, -1 }, io0[4] = { -1, 7, 0, -1 };
    double iref[4] = { -1, 7, -1, -1 };
    CHECK(fw_bench_verify_output(FW_ELEM_I32, io, 4, iref, &v) == 0 && v.unwritten == 3);
    CHECK(fw_bench_verify_output2(FW_ELEM_I32, io, io0, 4, iref, &v) == 0 && v.unwritten == 1 && v.rel_err == 0.0);
    CHECK(fw_bench_verify_output2(FW_ELEM_I32, io, io, 4, iref, &v) == 0 && v.unwritten == 0 && v.rel_err == 0.0);
    uint8_t u8[3] = { 255, 255, 3 }, u80[3] = { 255, 0, 3 };
    double u8ref[3] = { 255, 255, 3 };
    CHECK(fw_bench_verify_output2(FW_ELEM_U8, u8, u80, 3, u8ref, &v) == 0 && v.unwritten == 1);
    int64_t i64[2] = { -1, -1 }, i640[2] = { -1, -1 };
    double i64ref[2] = { -1, -1 };
    CHECK(fw_bench_verify_output2(FW_ELEM_I64, i64, i640, 2, i64ref, &v) == 0 && v.unwritten == 0 && v.rel_err == 0.0);
    float fo[2] = { 1.0f, 2.0f }, fo0[2] = { 1.0f, 0.0f };
    memcpy(&fo[1], &poison, 4);
    double fref[2] = { 1.0, 2.0 };
    CHECK(fw_bench_verify_output2(FW_ELEM_F32, fo, fo0, 2, fref, &v) == 0 && v.unwritten == 1);
}

/* An output of several comparison chunks (compared on several threads): counts add up across chunk
 * edges and the error is the single-pass one up to rounding. */
static void test_verify_large(void)
{
    const size_t n = 300007;   /* 4 full chunks of 65536 and a partial one */
    float *out = malloc(n * sizeof *out);
    double *ref = malloc(n * sizeof *ref);
    CHECK(out && ref);
    if (!out || !ref) {
        free(out);
        free(ref);
        return;
    }
    double num = 0, den = 0;
    uint32_t poison = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        ref[i] = (double)(i % 1000) / 7.0 - 50.0;
        out[i] = (float)(ref[i] * (1.0 + ((i % 3) ? 1e-6 : -2e-6)));
        if (i == 65535 || i == 65536 || i == n - 1) {
            memcpy(&out[i], &poison, 4);
            continue;
        }
        if (i == 131072)
            out[i] = INFINITY;
        if (i == 131072)
            continue;
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    fw_bench_verify v;
    CHECK(fw_bench_verify_output(FW_ELEM_F32, out, n, ref, &v) == 0);
    CHECK(v.unwritten == 3 && v.nonfinite == 1);
    CHECK(NEAR(v.rel_err, sqrt(num / den), 1e-9 * sqrt(num / den)));
    fw_bench_verify v2;
    CHECK(fw_bench_verify_output(FW_ELEM_F32, out, n, ref, &v2) == 0);
    CHECK(v2.rel_err == v.rel_err);   /* fixed chunks: the same sums every time */
    free(out);
    free(ref);
}

static void test_seed_and_identity(void)
{
    CHECK(fw_bench_workload_seed(42, 0) == fw_bench_workload_seed(42, 0));
    CHECK(fw_bench_workload_seed(42, 0) != fw_bench_workload_seed(42, 1));
    CHECK(fw_bench_workload_seed(42, 0) != fw_bench_workload_seed(43, 0));
    fw_device_info info;
    memset(&info, 0, sizeof info);
    strcpy(info.backend, "opencl");
    strcpy(info.vendor, "V");
    strcpy(info.name, "N");
    strcpy(info.driver, "1.0");
    strcpy(info.compiler, "OpenCL C 1.2");
    char id[256];
    CHECK(fw_device_identity(&info, id, sizeof id) == 0);
    CHECK(strcmp(id, "opencl|V|N|1.0|OpenCL C 1.2") == 0);
    CHECK(fw_device_identity(&info, id, 5) == -ENOSPC);
    cJSON *j = fw_bench_device_json(&info, 3);
    CHECK(j);
    CHECK(cJSON_GetObjectItem(j, "index")->valueint == 3);
    CHECK(strcmp(cJSON_GetObjectItem(j, "identity")->valuestring, "opencl|V|N|1.0|OpenCL C 1.2") == 0);
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(j, "limits")));
    cJSON_Delete(j);
}

int main(void)
{
    test_odd();
    test_even();
    test_p95_twenty();
    test_edges();
    test_verify();
    test_verify_large();
    test_seed_and_identity();
    puts("stats ok");
    return 0;
}
