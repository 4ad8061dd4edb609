/* The declarative family on the host: seeded inputs the same for the same (shape, seed) and not for
 * another seed, every init, canary bytes after the output, geometry from expressions over shape and
 * knobs, and the checks before a job naming the argument. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_declarative.h"

static int failures;
#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #c); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; } } while (0)

static const char wl_json[] =
    "{\"args\": ["
    " {\"name\": \"a\", \"type\": \"f32\", \"count\": \"n\", \"init\": {\"uniform\": [2, 3]}},"
    " {\"name\": \"b\", \"type\": \"i16\", \"count\": \"n + 1\", \"init\": \"iota\"},"
    " {\"name\": \"h\", \"type\": \"f16\", \"count\": \"n\", \"init\": {\"constant\": 1.5}},"
    " {\"name\": \"g\", \"type\": \"f64\", \"count\": \"n\", \"init\": {\"normal\": [10, 0.5]}},"
    " {\"name\": \"c\", \"type\": \"f32\", \"count\": \"n\", \"dir\": \"out\", \"tolerance\": 1e-3, \"atol\": 0.5},"
    " {\"name\": \"n\", \"scalar\": \"i32\", \"value\": \"n * 2\"},"
    " {\"name\": \"s\", \"scalar\": \"f32\", \"value\": 0.25}],"
    " \"grid\": [\"cdiv(n, B * W)\", 2], \"block\": [\"B\"], \"shared_bytes\": \"4 * B\","
    " \"bytes\": \"8 * n\", \"flops\": \"n\","
    " \"reference\": {\"entry\": \"ref\", \"grid\": [\"cdiv(n, 64)\"], \"block\": [64]}}";

static int check_err(const char *edit_from, const char *edit_to, const char *want)
{
    char buf[4096], err[512] = "";
    const char *p = strstr(wl_json, edit_from);
    if (!p)
        return fprintf(stderr, "no '%s' in the test workload\n", edit_from), failures++, 0;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - wl_json), wl_json, edit_to, p + strlen(edit_from));
    cJSON *w = cJSON_Parse(buf), *shapes = cJSON_Parse("[{\"n\": 100}]");
    fw_space sp;
    memset(&sp, 0, sizeof sp);
    sp.nknobs = 2;
    snprintf(sp.knobs[0].name, sizeof sp.knobs[0].name, "B");
    snprintf(sp.knobs[1].name, sizeof sp.knobs[1].name, "W");
    sp.knobs[0].nvalues = sp.knobs[1].nvalues = 1;
    sp.knobs[0].values[0] = sp.knobs[1].values[0] = 1;
    int rc = fw_decl_check(w, "void k(void) {} void ref (int x) {}", shapes, &sp, err, sizeof err);
    CHECK(want ? (rc == -EINVAL && strstr(err, want)) : rc == 0, "'%s' -> '%s': rc %d '%s', want '%s'", edit_from,
          edit_to, rc, err, want ? want : "ok");
    cJSON_Delete(w);
    cJSON_Delete(shapes);
    return rc;
}

/* A local-memory argument's bytes per variant and for the reference, and an input padded over the
 * knobs' values: as long as its largest count, the same first elements as the unpadded one. */
static void check_local_and_knob_counts(void)
{
    char err[512] = "";
    cJSON *w = cJSON_Parse("{\"args\": ["
        " {\"name\": \"a\", \"type\": \"i32\", \"count\": \"n + cdiv(n, B) * B - n + W\", \"init\": \"iota\"},"
        " {\"name\": \"c\", \"type\": \"i32\", \"count\": \"n\", \"dir\": \"out\"},"
        " {\"name\": \"p\", \"local\": \"f64\", \"count\": \"B * W\", \"reference_count\": \"n / 10\"},"
        " {\"name\": \"q\", \"local\": \"u8\", \"count\": 3},"
        " {\"name\": \"n\", \"scalar\": \"i32\", \"value\": \"n\"}],"
        " \"grid\": [\"cdiv(n, B)\"], \"block\": [\"B\"],"
        " \"reference\": {\"entry\": \"ref\", \"grid\": [1], \"block\": [1]}}");
    cJSON *shape = cJSON_Parse("{\"n\": 100}"), *knobs = cJSON_Parse("{\"B\": [16, 64, 32], \"W\": [1, 5]}");
    fw_workload *wl = NULL;
    CHECK(fw_decl_workload_new(w, shape, knobs, 1, &wl, err, sizeof err) == 0, "%s", err);
    if (wl) {
        /* the largest count: B = 64 (cdiv(100, 64) * 64 = 128), W = 5 */
        CHECK(wl->nbuffers == 2 && wl->buffers[0].bytes == 4 * 133 && fw_elem_value(FW_ELEM_I32, wl->buffers[0].host,
              132) == 132, "padded input: %zu bytes", wl->buffers[0].bytes);
        CHECK(wl->nargs == 5 && wl->args[2].buffer == FW_WL_LOCAL && wl->args[2].size == 0 &&
              wl->args[3].buffer == FW_WL_LOCAL && wl->args[3].size == 1 && wl->args[4].buffer == -1, "local args");
        fw_point p;
        memset(&p, 0, sizeof p);
        fw_point_set(&p, "B", 32);
        fw_point_set(&p, "W", 5);
        fw_geometry g;
        CHECK(fw_family_declarative.geometry(wl, &p, &g, err, sizeof err) == 0 && g.nlocal == 2 &&
              g.local_bytes[0] == 8 * 160 && g.local_bytes[1] == 3 && g.shared_bytes == 8 * 160 + 3,
              "variant local bytes %u %u shared %lld: %s", g.local_bytes[0], g.local_bytes[1],
              (long long)g.shared_bytes, err);
        const char *entry, *text;
        CHECK(fw_decl_reference_plan(wl, &entry, &text, &g, err, sizeof err) == 0 && g.nlocal == 2 &&
              g.local_bytes[0] == 8 * 10 && g.local_bytes[1] == 3, "reference local bytes %u %u: %s",
              g.local_bytes[0], g.local_bytes[1], err);
        char names[64];
        fw_decl_arg_names(wl, names, sizeof names);
        CHECK(!strcmp(names, "a, c, p, q, n"), "names '%s'", names);
        fw_family_declarative.workload_free(wl);
    }
    /* a count naming a knob the space does not have */
    cJSON_DeleteItemFromObject(knobs, "W");
    CHECK(fw_decl_workload_new(w, shape, knobs, 1, &wl, err, sizeof err) == -EINVAL && !wl &&
          strstr(err, "argument 'a' count uses 'W', which is neither a shape field nor a knob"), "%s", err);
    cJSON_Delete(w);
    cJSON_Delete(shape);
    cJSON_Delete(knobs);
}

/* Several outputs, each with its tolerances; an output's expected values from a raw file named with
 * the shape's fields, so a workload whose outputs all have one needs no reference kernel. */
static void check_outputs_and_expected(void)
{
    char err[512] = "", dir[] = "/tmp/fw-decl-XXXXXX", path[600], wl_text[2048];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/d_8.bin", dir);
    FILE *f = fopen(path, "wb");
    int32_t dv[8] = {-1, 0, 1, 2, 3, 4, 5, -7};
    CHECK(f && fwrite(dv, sizeof dv, 1, f) == 1, "writing %s", path);
    if (f)
        fclose(f);
    snprintf(wl_text, sizeof wl_text, "{\"args\": ["
             " {\"name\": \"a\", \"type\": \"f32\", \"count\": \"n\"},"
             " {\"name\": \"s\", \"type\": \"f32\", \"count\": \"n\", \"dir\": \"out\", \"tolerance\": 0.01},"
             " {\"name\": \"d\", \"type\": \"i32\", \"count\": \"n\", \"dir\": \"inout\", \"init\": \"zeros\","
             "  \"atol\": 2, \"expected\": \"%s/d_{n}.bin\"}],"
             " \"grid\": [1], \"block\": [1], \"reference\": {\"entry\": \"ref\", \"grid\": [1], \"block\": [1]}}", dir);
    cJSON *w = cJSON_Parse(wl_text), *shape = cJSON_Parse("{\"n\": 8}"), *shapes = cJSON_Parse("[{\"n\": 8}]");
    fw_workload *wl = NULL;
    CHECK(fw_decl_workload_new(w, shape, NULL, 1, &wl, err, sizeof err) == 0, "%s", err);
    if (wl) {
        CHECK(wl->output == 1 && !wl->reference && wl->tolerance == 0.01 && wl->nmore_outputs == 1 &&
              wl->more_outputs[0].buffer == 2 && wl->more_outputs[0].abs_tolerance == 2 &&
              wl->more_outputs[0].nreference == 8 && wl->more_outputs[0].reference[0] == -1 &&
              wl->more_outputs[0].reference[7] == -7, "outputs");
        const char *entry, *text;
        fw_geometry g;
        CHECK(fw_decl_reference_plan(wl, &entry, &text, &g, err, sizeof err) == 0 && entry, "s needs the reference");
        fw_family_declarative.workload_free(wl);
    }
    CHECK(fw_decl_check(w, "void ref(void) {}", shapes, NULL, err, sizeof err) == 0, "%s", err);
    /* every output from a file: no reference kernel, none needed */
    cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "args"), 1);
    cJSON_AddStringToObject(s, "expected", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "args"), 2), "expected")));
    cJSON_ReplaceItemInObject(s, "type", cJSON_CreateString("u32"));
    cJSON_DeleteItemFromObject(w, "reference");
    wl = NULL;
    CHECK(fw_decl_workload_new(w, shape, NULL, 1, &wl, err, sizeof err) == 0 && wl && wl->reference &&
          wl->reference[1] == 0 && wl->reference[0] == 4294967295.0, "%s", err);
    if (wl) {
        const char *entry = "x", *text;
        fw_geometry g;
        CHECK(fw_decl_reference_plan(wl, &entry, &text, &g, err, sizeof err) == 0 && !entry, "no reference to run");
        fw_family_declarative.workload_free(wl);
    }
    /* the check before the job: the file for every shape, with the shape's count of elements */
    cJSON_Delete(shapes);
    shapes = cJSON_Parse("[{\"n\": 8}, {\"n\": 9}]");
    CHECK(fw_decl_check(w, "", shapes, NULL, err, sizeof err) == -EINVAL && strstr(err, "argument 's': cannot read "
          "its expected file") && strstr(err, "d_9.bin"), "%s", err);
    cJSON_Delete(shapes);
    shapes = cJSON_Parse("[{\"n\": 7}]");
    snprintf(path, sizeof path, "%s/d_7.bin", dir);
    f = fopen(path, "wb");
    CHECK(f && fwrite(dv, sizeof dv, 1, f) == 1, "writing %s", path);
    if (f)
        fclose(f);
    CHECK(fw_decl_check(w, "", shapes, NULL, err, sizeof err) == -EINVAL && strstr(err, "d_7.bin has 32 bytes; this "
          "shape's output is 7 elements of u32, 28 bytes (raw, little-endian)"), "%s", err);
    remove(path);
    snprintf(path, sizeof path, "%s/d_8.bin", dir);
    remove(path);
    remove(dir);
    cJSON_Delete(w);
    cJSON_Delete(shape);
    cJSON_Delete(shapes);
    check_err("\"init\": \"iota\"}", "\"init\": \"iota\", \"expected\": \"b.bin\"}", "argument 'b': \"expected\" is an "
              "output's expected values");
}

int main(void)
{
    char err[512] = "";
    cJSON *w = cJSON_Parse(wl_json), *shape = cJSON_Parse("{\"n\": 1000}");
    fw_workload *w1 = NULL, *w2 = NULL, *w3 = NULL;
    CHECK(fw_decl_workload_new(w, shape, NULL, 7, &w1, err, sizeof err) == 0, "%s", err);
    CHECK(fw_decl_workload_new(w, shape, NULL, 7, &w2, err, sizeof err) == 0, "%s", err);
    CHECK(fw_decl_workload_new(w, shape, NULL, 8, &w3, err, sizeof err) == 0, "%s", err);
    if (!w1 || !w2 || !w3)
        return 1;
    CHECK(w1->nbuffers == 5 && w1->nargs == 7 && w1->output == 4, "%zu buffers %zu args output %d", w1->nbuffers,
          w1->nargs, w1->output);
    CHECK(memcmp(w1->buffers[0].host, w2->buffers[0].host, 4000) == 0, "same seed, other inputs");
    CHECK(memcmp(w1->buffers[0].host, w3->buffers[0].host, 4000) != 0, "another seed, the same inputs");
    const float *a = w1->buffers[0].host;
    double amin = 9, amax = -9;
    for (int i = 0; i < 1000; i++) {
        amin = fmin(amin, a[i]);
        amax = fmax(amax, a[i]);
    }
    CHECK(amin >= 2 && amax < 3 && amax - amin > 0.9, "uniform [2, 3): %g..%g", amin, amax);
    CHECK(w1->buffers[1].bytes == 2 * 1001 && fw_elem_value(FW_ELEM_I16, w1->buffers[1].host, 1000) == 1000,
          "iota i16");
    CHECK(fw_elem_value(FW_ELEM_F16, w1->buffers[2].host, 999) == 1.5, "constant f16");
    double mean = 0;
    for (int i = 0; i < 1000; i++)
        mean += fw_elem_value(FW_ELEM_F64, w1->buffers[3].host, (size_t)i) / 1000;
    CHECK(fabs(mean - 10) < 0.1, "normal mean %g", mean);
    CHECK(w1->buffers[4].bytes == 4000 + w1->output_canary && w1->output_canary >= 16 && !w1->buffers[4].host,
          "output bytes %zu canary %zu", w1->buffers[4].bytes, w1->output_canary);
    CHECK(w1->tolerance == 1e-3 && w1->abs_tolerance == 0.5, "tolerances");
    CHECK(w1->args[5].size == 4 && *(const int *)w1->args[5].bytes == 2000, "scalar n");
    CHECK(w1->args[6].size == 4 && *(const float *)w1->args[6].bytes == 0.25f, "scalar s");
    CHECK(w1->bytes == 8000 && w1->flops == 1000, "bytes %g flops %g", w1->bytes, w1->flops);

    fw_point p;
    memset(&p, 0, sizeof p);
    fw_point_set(&p, "B", 64);
    fw_point_set(&p, "W", 4);
    fw_geometry g;
    CHECK(fw_family_declarative.geometry(w1, &p, &g, err, sizeof err) == 0, "%s", err);
    CHECK(g.grid[0] == 4 && g.grid[1] == 2 && g.grid[2] == 1 && g.group[0] == 64 && g.group[1] == 1 &&
          g.dynamic_shared_bytes == 256, "geometry %u %u %u / %u", g.grid[0], g.grid[1], g.grid[2], g.group[0]);
    const char *entry, *text;
    CHECK(fw_decl_reference_plan(w1, &entry, &text, &g, err, sizeof err) == 0 && entry && !strcmp(entry, "ref") &&
          !text && g.grid[0] == 16 && g.group[0] == 64, "reference plan");
    char key[64];
    cJSON *s2 = cJSON_Parse("{\"W\": 3, \"H\": 2, \"name\": \"x\"}");
    CHECK(fw_family_declarative.shape_key(s2, key, sizeof key) == 0 && !strcmp(key, "H=2,W=3"), "key '%s'", key);
    cJSON_Delete(s2);
    fw_family_declarative.workload_free(w1);
    fw_family_declarative.workload_free(w2);
    fw_family_declarative.workload_free(w3);
    cJSON_Delete(w);
    cJSON_Delete(shape);

    check_err("\"n + 1\"", "\"n + Q\"", "argument 'b' count uses 'Q'");
    check_err("\"cdiv(n, B * W)\"", "\"cdiv(n, B * X)\"", "grid[0] uses 'X'");
    check_err("\"cdiv(n, 64)\"", "\"cdiv(n, B)\"", "reference grid[0] uses 'B'");
    check_err("\"entry\": \"ref\"", "\"entry\": \"re\"", "reference entry 're' is not a function");
    check_err("\"i16\"", "\"i17\"", "argument 'b': unknown element type 'i17'");
    check_err("\"iota\"", "\"iotas\"", "argument 'b': unknown init 'iotas'");
    check_err("\"dir\": \"out\"", "\"dir\": \"in\"", "the workload has no output");
    check_err("{\"uniform\": [2, 3]}", "{\"uniform\": [3, 2]}", "uniform range [3, 2) is empty");
    check_err("\"value\": 0.25", "\"value\": \"n / 0\"", NULL);   /* evaluated per shape, not at check */
    check_err(" \"bytes\"", " \"bogus\": 1, \"bytes\"", "unknown field 'bogus' in the workload");
    check_err("\"grid\": [\"cdiv(n, B * W)\", 2]", "\"grid\": []", "grid must be a list of 1 to 3");
    /* local memory: sized over knobs, with a reference_count when the count names one */
    const char *loc = "{\"name\": \"s\", \"scalar\": \"f32\", \"value\": 0.25}";
    check_err(loc, "{\"name\": \"s\", \"local\": \"f32\", \"count\": \"B * W\", \"reference_count\": 1}", NULL);
    check_err(loc, "{\"name\": \"s\", \"local\": \"f32\", \"count\": \"B\"}", "argument 's' count uses the knob 'B', "
              "and the reference launch has no knobs: give the argument a \"reference_count\"");
    check_err(loc, "{\"name\": \"s\", \"local\": \"f32\", \"count\": \"n\"}", NULL);
    check_err(loc, "{\"name\": \"s\", \"local\": \"f32\", \"count\": \"B\", \"reference_count\": \"B\"}",
              "argument 's' reference_count uses 'B'");
    check_err(loc, "{\"name\": \"s\", \"local\": \"f32\", \"count\": 4, \"dir\": \"out\"}", "argument 's' is local "
              "memory (uninitialised, one per threadgroup, never compared): it takes \"count\" and \"reference_count\", "
              "not \"dir\"");
    check_err(loc, "{\"name\": \"s\", \"local\": \"f12\", \"count\": 4}", "argument 's': unknown element type 'f12'");
    check_err("\"count\": \"n\", \"init\": {\"uniform\"", "\"count\": 4, \"reference_count\": 2, \"init\": {\"uniform\"",
              "argument 'a': \"reference_count\" sizes local memory");
    /* knob-dependent counts: an input's may name knobs, an output's may not */
    check_err("\"n + 1\"", "\"n + B * W\"", NULL);
    check_err("\"count\": \"n\", \"dir\": \"out\"", "\"count\": \"n + B\", \"dir\": \"out\"", "argument 'c' count "
              "uses the knob 'B': an output's count is over the shape only");
    check_local_and_knob_counts();
    check_outputs_and_expected();
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
