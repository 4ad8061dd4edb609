/* The typed resolved spec (job/job_spec.c, fw_job.h): a resolved spec parses into the fields its
 * readers used to dig out of the JSON; each field of the wrong type or out of range is refused with
 * its sentence; options keep their old lenient meaning; and resolving is unchanged: a fixed spec
 * resolves to the same bytes and hash as before the typed spec existed (the constants below were
 * printed by main at 717a74e, whose job/spec.c this commit does not touch). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_check.h"
#include "fw_job.h"

#define FIXED_HASH "eb986bf7e74d3328"
#define FIXED_RESOLVED \
    "{\"family\":\"gemm\",\"shapes\":[{\"M\":64,\"N\":256,\"K\":16},{\"M\":16,\"N\":64,\"K\":16" \
    "}],\"space\":{\"knobs\":{\"NUM_BUFFERS\":[1,2],\"SG_M_TILES\":[1,2],\"SG_N_TILES\":[1],\"S" \
    "IMDGROUPS_PER_TG\":[4],\"TILE_K\":[16],\"TILE_N\":[8,16,32]},\"constraints\":[\"TILE_N <= " \
    "N\"]},\"presets\":[],\"strategy\":\"anneal\",\"budget\":7,\"seed\":12345,\"warmup\":2,\"it" \
    "ers\":9,\"backend\":\"opencl\",\"device\":3,\"aliases\":{},\"macros\":{},\"options\":{\"co" \
    "mpiler\":\"-cl-fast-relaxed-math\",\"rotate_bytes\":100000000,\"launches_per_sample\":4,\"" \
    "finalists\":false,\"early_stop\":{\"after\":7,\"ratio\":1.5},\"verify_on_device\":true,\"a" \
    "sk_ahead\":8},\"budget_s\":2.5}"

#define FIXED                                                                                       \
    "{\"family\": \"gemm\", \"shapes\": [{\"M\": 64, \"N\": 256, \"K\": 16}, {\"M\": 16, \"N\": 64, " \
    "\"K\": 16}], \"space\": {\"knobs\": {\"TILE_N\": [8, 16, 32], \"SG_M_TILES\": [1, 2], "            \
    "\"SG_N_TILES\": [1], \"NUM_BUFFERS\": [1, 2]}, \"constraints\": [\"TILE_N <= N\"]}, "              \
    "\"strategy\": \"anneal\", \"budget\": 7, \"seed\": 12345, \"warmup\": 2, \"iters\": 9, "           \
    "\"backend\": \"opencl\", \"device\": 3, \"budget_s\": 2.5, \"options\": {\"compiler\": "           \
    "\"-cl-fast-relaxed-math\", \"rotate_bytes\": 1e8, \"launches_per_sample\": 4, \"finalists\": "      \
    "false, \"early_stop\": {\"after\": 7, \"ratio\": 1.5}, \"verify_on_device\": true}}"

static cJSON *resolve(const char *text)
{
    char err[1024];
    cJSON *u = cJSON_Parse(text), *r = NULL;
    if (!u || fw_spec_resolve(u, &r, err, sizeof err) < 0) {
        fprintf(stderr, "test bug: %s\n", u ? err : "bad JSON");
        exit(2);
    }
    cJSON_Delete(u);
    return r;
}

static void test_fields(void)
{
    cJSON *r = resolve(FIXED);
    fw_job_spec s;
    char err[512];
    CHECK_INT(fw_job_spec_parse(r, &s, err, sizeof err), 0);
    CHECK(s.json == r);
    CHECK_STR(s.family, "gemm");
    CHECK_STR(s.strategy, "anneal");
    CHECK_STR(s.backend, "opencl");
    CHECK_INT(s.nshapes, 2);
    CHECK(fw_job_spec_shape(&s, 1) == cJSON_GetArrayItem(cJSON_GetObjectItem(r, "shapes"), 1));
    CHECK(fw_job_spec_shape(&s, 2) == NULL && fw_job_spec_shape(&s, -1) == NULL);
    CHECK(s.has_budget && s.budget == 7);
    CHECK(s.has_seed && s.seed == 12345);
    CHECK(s.has_warmup && s.warmup == 2);
    CHECK(s.has_iters && s.iters == 9);
    CHECK(s.has_device && s.device == 3 && !s.device_text);
    CHECK(s.budget_s == 2.5 && fw_spec_budget_s(r) == 2.5);
    CHECK(s.space == cJSON_GetObjectItem(r, "space") && s.aliases && s.macros && s.presets);
    CHECK(!s.source && !s.source_text && !s.source_entry && !s.source_name && !s.replay && !s.replay_hash && !s.workload && !s.binds);
    /* a learning strategy's resolved spec carries its ask-ahead */
    CHECK(s.has_ask_ahead && s.ask_ahead == FW_SEQ_ASK_AHEAD_DEFAULT);
    CHECK_STR(s.compiler, "-cl-fast-relaxed-math");
    CHECK(s.rotate_bytes.number && s.rotate_bytes.value == 1e8);
    CHECK(s.launches_per_sample.number && s.launches_per_sample.ivalue == 4);
    CHECK(s.finalists_false && s.finalists.present && !s.finalists.number);
    CHECK(!s.early_stop_off && s.es_after.ivalue == 7 && s.es_ratio.value == 1.5);
    CHECK_INT(s.verify_on_device, 1);
    CHECK(!s.compile_threads.present && !s.rotate_buffers.present && !s.reference_max_ops.present);
    fw_job_spec_release(&s);
    cJSON_Delete(r);

    /* what is absent stays absent (the readers' defaults apply), nothing refused */
    r = cJSON_Parse("{\"family\": \"gemm\", \"shapes\": [{\"M\": 8, \"N\": 8, \"K\": 8}], \"device\": \"cuda:2\", "
                    "\"options\": {\"early_stop\": false}}");
    CHECK_INT(fw_job_spec_parse(r, &s, err, sizeof err), 0);
    CHECK(!s.has_budget && !s.has_seed && !s.has_warmup && !s.has_iters && !s.strategy && !s.backend);
    CHECK(s.has_device && s.device == 2 && strcmp(s.device_text, "cuda:2") == 0);
    CHECK(s.early_stop_off && !s.has_ask_ahead && s.verify_on_device == -1 && s.budget_s == 0);
    cJSON_Delete(r);
}

/* A field of the wrong type or out of range: its sentence, -EINVAL. */
static void refused(const char *text, const char *want)
{
    cJSON *r = cJSON_Parse(text);
    fw_job_spec s;
    char err[512] = "";
    if (!r) {
        fprintf(stderr, "test bug: bad JSON %s\n", text);
        exit(2);
    }
    CHECK_INT(fw_job_spec_parse(r, &s, err, sizeof err), -EINVAL);
    CHECK_HAS(err, want);
    cJSON_Delete(r);
}

static void test_refused(void)
{
    refused("[]", "a job spec must be a JSON object");
    refused("{\"family\": 3}", "\"family\" must be a string");
    refused("{\"strategy\": [\"grid\"]}", "\"strategy\" must be a string");
    refused("{\"backend\": 1}", "\"backend\" must be a string");
    refused("{\"shapes\": {\"M\": 1}}", "\"shapes\" must be an array of shape objects");
    refused("{\"shapes\": [{\"M\": 1}, 4]}", "shape 1 must be an object of integer fields");
    refused("{\"presets\": {}}", "\"presets\" must be an array");
    refused("{\"space\": []}", "\"space\" must be an object");
    refused("{\"aliases\": 1}", "\"aliases\" must be an object");
    refused("{\"source\": \"x\"}", "\"source\" must be an object");
    refused("{\"source\": {\"text\": 1}}", "\"source\".\"text\" must be the kernel source as a string");
    refused("{\"options\": true}", "\"options\" must be an object");
    refused("{\"budget\": -1}", "\"budget\" must be an integer from 0 to 100000");
    refused("{\"budget\": 100001}", "\"budget\" must be an integer from 0 to 100000");
    refused("{\"budget\": 2.5}", "\"budget\" must be an integer from 0 to 100000");
    refused("{\"seed\": \"7\"}", "\"seed\" must be an integer from 0 to 9007199254740991");
    refused("{\"seed\": -3}", "\"seed\" must be an integer from 0 to 9007199254740991");
    refused("{\"warmup\": 10001}", "\"warmup\" must be an integer from 0 to 10000");
    refused("{\"iters\": 0}", "\"iters\" must be an integer from 1 to 100000");
    refused("{\"device\": 1024}", "\"device\" must be an integer from 0 to 1023");
    refused("{\"device\": true}", "\"device\" must be an integer from 0 to 1023");
    refused("{\"options\": {\"ask_ahead\": 65}}", "options.ask_ahead must be an integer in 0..64");
    refused("{\"options\": {\"ask_ahead\": \"2\"}}", "options.ask_ahead must be an integer in 0..64");
}

/* Options the harness has always read leniently keep that meaning: a value of another type is as if
 * absent, so a stored job with one resumes as before; a bad replay_noise is the replayed worker's to
 * refuse, as it always was. */
static void test_lenient(void)
{
    cJSON *r = cJSON_Parse("{\"replay\": {\"hash\": \"ab\"}, \"options\": {\"rotate_buffers\": \"4\", \"flush_cache_mb\": -2, \"compiler\": 3, "
                           "\"replay_noise\": \"x\", \"verify_on_device\": 1, \"early_stop\": {\"enabled\": false}}}");
    fw_job_spec s;
    char err[256];
    CHECK_INT(fw_job_spec_parse(r, &s, err, sizeof err), 0);
    CHECK(s.rotate_buffers.present && !s.rotate_buffers.number);
    CHECK(s.flush_cache_mb.number && s.flush_cache_mb.value == -2);
    CHECK(!s.compiler && s.verify_on_device == -1 && s.early_stop_off);
    CHECK(s.replay_noise.present && !s.replay_noise.number && strcmp(s.replay_hash, "ab") == 0);
    cJSON_Delete(r);
}

/* The resolved bytes and hash of a fixed spec, as main printed them before job_spec.c existed. */
static void test_hash_unchanged(void)
{
    cJSON *r = resolve(FIXED);
    char *text = cJSON_PrintUnformatted(r);
    char h[17];
    fw_spec_hash(r, h);
    CHECK_STR(text, FIXED_RESOLVED);
    CHECK_STR(h, FIXED_HASH);
    free(text);
    /* parsing reads, never writes: the hash after a parse is the same */
    fw_job_spec s;
    CHECK_INT(fw_job_spec_parse(r, &s, NULL, 0), 0);
    fw_spec_hash(r, h);
    CHECK_STR(h, FIXED_HASH);
    cJSON_Delete(r);
}

int main(void)
{
    test_fields();
    test_refused();
    test_lenient();
    test_hash_unchanged();
    return fw_check_failures != 0;
}
