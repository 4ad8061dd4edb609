/* Points, keys, spaces (strict JSON, counts, canonical order, index), macros, device limits and
 * the embedded profiles. */
#include <errno.h>
#include <stdlib.h>

#include "fw_check.h"
#include "fw_variants.h"

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        fprintf(stderr, "test bug: bad JSON %s\n", text);
        exit(2);
    }
    return j;
}

/* fw_space_from_json on text must fail with rc and a message containing sub. */
static void space_error(const char *text, int rc, const char *sub)
{
    cJSON *j = parse(text);
    fw_space s;
    char err[300] = "";
    int got = fw_space_from_json(j, &s, err, sizeof err);
    if (got != rc)
        fprintf(stderr, "for %s\n", text);
    CHECK_INT(got, rc);
    CHECK_HAS(err, sub);
    cJSON_Delete(j);
}

static void test_points(void)
{
    fw_point p;
    char key[FW_KEY_MAX], err[200];
    fw_point_clear(&p);
    CHECK_INT(fw_point_set(&p, "TILE_N", 64), 0);
    CHECK_INT(fw_point_set(&p, "NUM_BUFFERS", 2), 0);
    CHECK_INT(fw_point_set(&p, "SG_M_TILES", 1), 0);
    CHECK_INT(fw_point_set(&p, "TILE_N", 32), 0);   /* replace */
    CHECK_INT(fw_point_set(&p, "1BAD", 1), -EINVAL);
    CHECK_INT(fw_point_set(&p, "", 1), -EINVAL);
    CHECK_INT(p.n, 3);
    CHECK_STR(p.kv[0].name, "NUM_BUFFERS");
    CHECK_STR(p.kv[2].name, "TILE_N");
    CHECK_INT(fw_point_value(&p, "TILE_N", 0), 32);
    CHECK_INT(fw_point_value(&p, "TILE_K", -5), -5);
    CHECK_INT(fw_point_key(&p, key, sizeof key), (int)strlen("NUM_BUFFERS=2,SG_M_TILES=1,TILE_N=32"));
    CHECK_STR(key, "NUM_BUFFERS=2,SG_M_TILES=1,TILE_N=32");
    char small[10];
    CHECK_INT(fw_point_key(&p, small, sizeof small), -ENOSPC);

    fw_point q;
    CHECK_INT(fw_point_from_key(key, &q, err, sizeof err), 0);
    char key2[FW_KEY_MAX];
    fw_point_key(&q, key2, sizeof key2);
    CHECK_STR(key2, key);
    CHECK_INT(fw_point_from_key("TILE_N=32,NUM_BUFFERS=2,SG_M_TILES=1", &q, err, sizeof err), 0);
    fw_point_key(&q, key2, sizeof key2);
    CHECK_STR(key2, key);
    CHECK_INT(fw_point_from_key("A=-3", &q, err, sizeof err), 0);
    CHECK_INT(fw_point_value(&q, "A", 0), -3);
    CHECK_INT(fw_point_from_key("", &q, err, sizeof err), 0);
    CHECK_INT(q.n, 0);
    CHECK_INT(fw_point_from_key("A=1,,B=2", &q, err, sizeof err), -EINVAL);
    CHECK_INT(fw_point_from_key("A", &q, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "NAME=VALUE");
    CHECK_INT(fw_point_from_key("A=x", &q, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "'x' is not an integer");
    CHECK_INT(fw_point_from_key("A=1,A=2", &q, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "twice");
    CHECK_INT(fw_point_from_key("A=1,", &q, err, sizeof err), -EINVAL);

    cJSON *j = fw_point_to_json(&p);
    char *t = cJSON_PrintUnformatted(j);
    CHECK_STR(t, "{\"NUM_BUFFERS\":2,\"SG_M_TILES\":1,\"TILE_N\":32}");
    free(t);
    CHECK_INT(fw_point_from_json(j, &q, err, sizeof err), 0);
    fw_point_key(&q, key2, sizeof key2);
    CHECK_STR(key2, key);
    cJSON_Delete(j);
    j = parse("{\"A\": 1.5}");
    CHECK_INT(fw_point_from_json(j, &q, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "'A' must have an integer value");
    cJSON_Delete(j);
    j = parse("{\"A\": \"4\"}");
    CHECK_INT(fw_point_from_json(j, &q, err, sizeof err), -EINVAL);
    cJSON_Delete(j);
    j = parse("[1]");
    CHECK_INT(fw_point_from_json(j, &q, err, sizeof err), -EINVAL);
    cJSON_Delete(j);
}

/* The test space: values deliberately unsorted, knobs listed out of name order. */
static const char *SPACE =
    "{\"knobs\": {\"C\": [1, 0], \"A\": [4, 1, 2, 3], \"B\": [32, 8, 16]},"
    " \"constraints\": [\"A * B <= LIMIT\", \"C == 0 || A % 2 == 0\"]}";
static const int64_t AV[] = {4, 1, 2, 3}, BV[] = {32, 8, 16}, CV[] = {1, 0};

static void test_space(void)
{
    char err[300];
    fw_space s;
    cJSON *j = parse(SPACE);
    CHECK_INT(fw_space_from_json(j, &s, err, sizeof err), 0);
    cJSON_Delete(j);
    CHECK_INT(s.nknobs, 3);
    CHECK_STR(s.knobs[0].name, "A");
    CHECK_STR(s.knobs[1].name, "B");
    CHECK_STR(s.knobs[2].name, "C");
    CHECK_INT(s.knobs[0].values[0], 4);   /* listed order kept */
    CHECK_INT(fw_space_size(&s), 24);
    CHECK_INT(s.nconstraints, 2);

    for (int64_t limit = 0; limit <= 160; limit += 32) {
        fw_env ctx;
        fw_env_clear(&ctx);
        fw_env_set(&ctx, "LIMIT", limit);
        /* independent count and order by nested loops (A outer, C fastest) */
        fw_point expect[24];
        size_t ne = 0;
        int64_t raw_index[24];
        int64_t raw = 0;
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 3; b++)
                for (int c = 0; c < 2; c++, raw++) {
                    if (!(AV[a] * BV[b] <= limit && (CV[c] == 0 || AV[a] % 2 == 0)))
                        continue;
                    fw_point_clear(&expect[ne]);
                    fw_point_set(&expect[ne], "A", AV[a]);
                    fw_point_set(&expect[ne], "B", BV[b]);
                    fw_point_set(&expect[ne], "C", CV[c]);
                    raw_index[ne++] = raw;
                }
        fw_point *pts;
        size_t n;
        CHECK_INT(fw_space_expand(&s, &ctx, 1000, &pts, &n, err, sizeof err), 0);
        CHECK_INT(n, ne);
        for (size_t i = 0; i < n && i < ne; i++) {
            char k1[FW_KEY_MAX], k2[FW_KEY_MAX];
            fw_point_key(&pts[i], k1, sizeof k1);
            fw_point_key(&expect[i], k2, sizeof k2);
            CHECK_STR(k1, k2);
            CHECK_INT(fw_space_index(&s, &pts[i]), raw_index[i]);
            CHECK_INT(fw_space_check_point(&s, &pts[i], err, sizeof err), 0);
            CHECK_INT(fw_space_valid(&s, &pts[i], &ctx, NULL, 0), 1);
        }
        free(pts);
    }
    /* Hand count for LIMIT=64: A*B<=64 leaves A=4:{8,16}, A=1:{32,8,16}, A=2:{32,8,16}, A=3:{8,16};
     * odd A also need C=0. A=4: 2x2 = 4, A=1: 3, A=2: 3x2 = 6, A=3: 2; 15 in all. */
    {
        fw_env ctx;
        fw_env_clear(&ctx);
        fw_env_set(&ctx, "LIMIT", 64);
        fw_point *pts;
        size_t n;
        CHECK_INT(fw_space_expand(&s, &ctx, 0, &pts, &n, err, sizeof err), 0);
        CHECK_INT(n, 15);
        free(pts);
        /* limit on raw points */
        CHECK_INT(fw_space_expand(&s, &ctx, 23, &pts, &n, err, sizeof err), -E2BIG);
        CHECK_HAS(err, "24 points");
        /* an unknown name at evaluation names it */
        fw_env_clear(&ctx);
        CHECK_INT(fw_space_expand(&s, &ctx, 0, &pts, &n, err, sizeof err), -EINVAL);
        CHECK_HAS(err, "unknown name 'LIMIT'");
        CHECK_HAS(err, "constraint 0");
    }
    /* valid / whynot */
    {
        fw_env ctx;
        fw_env_clear(&ctx);
        fw_env_set(&ctx, "LIMIT", 64);
        fw_point p;
        char why[200];
        fw_point_from_key("A=3,B=8,C=1", &p, err, sizeof err);
        CHECK_INT(fw_space_valid(&s, &p, &ctx, why, sizeof why), 0);
        CHECK_STR(why, "C == 0 || A % 2 == 0");
        fw_point_from_key("A=3,B=32,C=0", &p, err, sizeof err);
        CHECK_INT(fw_space_valid(&s, &p, &ctx, why, sizeof why), 0);
        CHECK_STR(why, "A * B <= LIMIT");
        /* check_point */
        fw_point_from_key("A=3,B=48,C=0", &p, err, sizeof err);
        CHECK_INT(fw_space_check_point(&s, &p, err, sizeof err), -EINVAL);
        CHECK_STR(err, "B=48 is not in the space's list");
        CHECK_INT(fw_space_index(&s, &p), -1);
        fw_point_from_key("A=3,B=8,C=0,D=1", &p, err, sizeof err);
        CHECK_INT(fw_space_check_point(&s, &p, err, sizeof err), -EINVAL);
        CHECK_STR(err, "unknown knob 'D'");
        CHECK_INT(fw_space_index(&s, &p), -1);
        fw_point_from_key("A=3,B=8", &p, err, sizeof err);
        CHECK_INT(fw_space_check_point(&s, &p, err, sizeof err), -EINVAL);
        CHECK_HAS(err, "'C'");
    }
    /* point_at is the inverse of index; expand_indices lists the same points as expand */
    {
        for (uint64_t i = 0; i < 24; i++) {
            fw_point p;
            CHECK_INT(fw_space_point_at(&s, i, &p), 0);
            CHECK_INT(fw_space_index(&s, &p), (int64_t)i);
        }
        fw_point p;
        CHECK_INT(fw_space_point_at(&s, 24, &p), -ERANGE);
        fw_env ctx;
        fw_env_clear(&ctx);
        fw_env_set(&ctx, "LIMIT", 96);
        fw_point *pts;
        uint64_t *idx;
        size_t n1, n2;
        CHECK_INT(fw_space_expand(&s, &ctx, 0, &pts, &n1, err, sizeof err), 0);
        CHECK_INT(fw_space_expand_indices(&s, &ctx, 0, &idx, &n2, err, sizeof err), 0);
        CHECK_INT(n1, n2);
        for (size_t i = 0; i < n1 && i < n2; i++) {
            CHECK_INT(fw_space_index(&s, &pts[i]), (int64_t)idx[i]);
            if (i)
                CHECK(idx[i] > idx[i - 1]);
        }
        free(pts);
        free(idx);
    }
    /* JSON round trip keeps knobs, values, constraints */
    {
        cJSON *o = fw_space_to_json(&s);
        char *t = cJSON_PrintUnformatted(o);
        CHECK_STR(t, "{\"knobs\":{\"A\":[4,1,2,3],\"B\":[32,8,16],\"C\":[1,0]},"
                     "\"constraints\":[\"A * B <= LIMIT\",\"C == 0 || A % 2 == 0\"]}");
        fw_space s2;
        CHECK_INT(fw_space_from_json(o, &s2, err, sizeof err), 0);
        CHECK_INT(fw_space_size(&s2), 24);
        fw_space_release(&s2);
        free(t);
        cJSON_Delete(o);
    }
    fw_space_release(&s);
}

static void test_strict(void)
{
    space_error("{\"knobs\": {\"A\": [1, 2.5]}}", -EINVAL, "knob 'A': value 1 (2.5) is not an integer");
    space_error("{\"knobs\": {\"A\": [1, \"2\"]}}", -EINVAL, "not an integer");
    space_error("{\"knobs\": {\"A\": [true]}}", -EINVAL, "not an integer");
    space_error("{\"knobs\": {\"A\": [2, null]}}", -EINVAL, "knob 'A': value 1 is null, not an integer");
    space_error("{\"knobs\": {\"A\": []}}", -EINVAL, "knob 'A' has an empty list");
    space_error("{\"knobs\": {\"A\": [1, 2, 1]}}", -EINVAL, "value 1 is listed twice");
    space_error("{\"knobs\": {\"A\": [1], \"A\": [2]}}", -EINVAL, "knob 'A' is listed twice");
    space_error("{\"knobs\": {\"A\": 4}}", -EINVAL, "must be a list");
    space_error("{\"knobs\": {}}", -EINVAL, "empty");
    space_error("{\"constraints\": []}", -EINVAL, "needs \"knobs\"");
    space_error("{\"knobs\": {\"A\": [1]}, \"constrains\": []}", -EINVAL, "unknown field 'constrains'");
    space_error("{\"knobs\": {\"A-B\": [1]}}", -EINVAL, "'A-B' is not a valid knob name");
    space_error("{\"knobs\": {\"A\": [1]}, \"constraints\": [3]}", -EINVAL, "constraint 0 must be a string");
    space_error("{\"knobs\": {\"A\": [1]}, \"constraints\": \"A > 0\"}", -EINVAL, "must be a list");
    space_error("{\"knobs\": {\"A\": [1]}, \"constraints\": [\"A > 0\", \"A >\"]}", -EINVAL,
                "constraint 1 'A >': expected a value at column 4");
    space_error("[]", -EINVAL, "JSON object");
    /* 17 knobs */
    {
        char buf[1024] = "{\"knobs\": {";
        for (int i = 0; i < FW_MAX_KNOBS + 1; i++)
            sprintf(buf + strlen(buf), "%s\"K%02d\": [1]", i ? "," : "", i);
        strcat(buf, "}}");
        space_error(buf, -E2BIG, "more than 16 knobs");
    }
    /* 65 values */
    {
        char buf[1024] = "{\"knobs\": {\"A\": [";
        for (int i = 0; i < FW_MAX_VALUES + 1; i++)
            sprintf(buf + strlen(buf), "%s%d", i ? "," : "", i);
        strcat(buf, "]}}");
        space_error(buf, -E2BIG, "65 values");
    }
    /* 16 knobs of 64 values: the size saturates instead of wrapping */
    {
        char buf[8192] = "{\"knobs\": {";
        for (int i = 0; i < FW_MAX_KNOBS; i++) {
            sprintf(buf + strlen(buf), "%s\"K%02d\": [", i ? "," : "", i);
            for (int v = 0; v < FW_MAX_VALUES; v++)
                sprintf(buf + strlen(buf), "%s%d", v ? "," : "", v);
            strcat(buf, "]");
        }
        strcat(buf, "}}");
        cJSON *j = parse(buf);
        fw_space s;
        char err[200];
        CHECK_INT(fw_space_from_json(j, &s, err, sizeof err), 0);
        CHECK(fw_space_size(&s) == UINT64_MAX);
        fw_point *pts;
        size_t n;
        CHECK_INT(fw_space_expand(&s, NULL, 1000000, &pts, &n, err, sizeof err), -E2BIG);
        fw_space_release(&s);
        cJSON_Delete(j);
    }
}

static void test_macros_env(void)
{
    fw_point p;
    char err[100];
    fw_point_from_key("TILE_N=64,NUM_BUFFERS=2,SG_M_TILES=-1", &p, err, sizeof err);
    char **m;
    size_t n;
    CHECK_INT(fw_point_macros(&p, NULL, &m, &n), 0);
    CHECK_INT(n, 3);
    CHECK_STR(m[0], "NUM_BUFFERS=2");
    CHECK_STR(m[1], "SG_M_TILES=-1");
    CHECK_STR(m[2], "TILE_N=64");
    fw_macros_free(m, n);
    cJSON *al = parse("{\"TILE_N\": \"MOE_TILE_N\", \"OTHER\": \"X\"}");
    CHECK_INT(fw_point_macros(&p, al, &m, &n), 0);
    CHECK_INT(n, 3);
    CHECK_STR(m[0], "NUM_BUFFERS=2");
    CHECK_STR(m[2], "MOE_TILE_N=64");
    fw_macros_free(m, n);
    cJSON_Delete(al);
    al = parse("{\"TILE_N\": 5}");
    CHECK_INT(fw_point_macros(&p, al, &m, &n), -EINVAL);
    cJSON_Delete(al);

    fw_env e;
    fw_env_clear(&e);
    fw_env_set(&e, "M", 1);
    cJSON *dev = parse("{\"name\": \"x\", \"limits\": {\"max_threads\": 1024, \"shared_bytes\": 49152,"
                       " \"simd_width\": 32, \"compute_units\": 132, \"other\": 5}}");
    CHECK_INT(fw_device_env(dev, &e), 0);
    int64_t v;
    CHECK(fw_env_get(&e, "DEVICE_MAX_THREADS", &v) == 1 && v == 1024);
    CHECK(fw_env_get(&e, "DEVICE_SHARED_BYTES", &v) == 1 && v == 49152);
    CHECK(fw_env_get(&e, "DEVICE_SIMD_WIDTH", &v) == 1 && v == 32);
    CHECK(fw_env_get(&e, "DEVICE_COMPUTE_UNITS", &v) == 1 && v == 132);
    CHECK(fw_env_get(&e, "M", &v) == 1 && v == 1);   /* adds, does not clear */
    CHECK_INT(e.n, 5);
    cJSON_Delete(dev);
    dev = parse("{\"limits\": {\"max_threads\": 256}}");
    fw_env_clear(&e);
    CHECK_INT(fw_device_env(dev, &e), 0);
    CHECK_INT(e.n, 1);
    CHECK_INT(fw_env_get(&e, "DEVICE_SIMD_WIDTH", &v), 0);
    cJSON_Delete(dev);
    dev = parse("{\"limits\": {\"max_threads\": \"lots\"}}");
    CHECK_INT(fw_device_env(dev, &e), -EINVAL);
    cJSON_Delete(dev);

    cJSON *shape = parse("{\"M\": 7, \"N\": 8.5, \"name\": \"x\", \"K\": -2}");
    fw_env_clear(&e);
    CHECK_INT(fw_env_add_json_ints(&e, shape), 0);
    CHECK_INT(e.n, 2);
    CHECK(fw_env_get(&e, "K", &v) == 1 && v == -2);
    cJSON_Delete(shape);
    /* full environment */
    fw_env_clear(&e);
    for (int i = 0; i < FW_ENV_MAX; i++) {
        char nm[16];
        sprintf(nm, "V%d", i);
        CHECK_INT(fw_env_set(&e, nm, i), 0);
    }
    CHECK_INT(fw_env_set(&e, "ONE_MORE", 1), -ENOSPC);
    CHECK_INT(fw_env_set(&e, "V3", 33), 0);   /* replacing still works */
}

/* The work bound of a plan (issue 15 item 2): nodes counted as evaluated, -ETIME past the bound,
 * -ECANCELED once the cancel flag is set; the counts are exact, so the tests are too. */
static void test_work(void)
{
    /* 10 x 10 points; "A + B > 0" is 5 nodes (>, +, A, B, 0), "A > 100 && B > 0" short-circuits */
    cJSON *j = parse("{\"knobs\": {\"A\": [1,2,3,4,5,6,7,8,9,10], \"B\": [1,2,3,4,5,6,7,8,9,10]},"
                     " \"constraints\": [\"A + B > 0\", \"A > 100 && B > 0\"]}");
    fw_space s;
    char err[400];
    CHECK_INT(fw_space_from_json(j, &s, err, sizeof err), 0);
    uint64_t *idx;
    size_t n;
    fw_work w = {0};
    CHECK_INT(fw_space_expand_work(&s, NULL, 0, &w, &idx, &n, err, sizeof err), 0);
    CHECK_INT((long long)n, 0);
    /* per point: 5 nodes for the first constraint, 4 for the second (&&, >, A, 100: B > 0 skipped) */
    CHECK_INT((long long)w.nodes, 100 * 9);
    free(idx);
    fw_work bounded = {.max_nodes = 450};
    CHECK_INT(fw_space_expand_work(&s, NULL, 0, &bounded, &idx, &n, err, sizeof err), -ETIME);
    CHECK_HAS(err, "more than 450 expression-node evaluations");
    CHECK_HAS(err, "after 51 of the space's 100 points");
    CHECK(idx == NULL && n == 0);
    atomic_int cancel;
    atomic_init(&cancel, 1);
    fw_work cw = {.cancel = &cancel};
    CHECK_INT(fw_space_expand_work(&s, NULL, 0, &cw, &idx, &n, err, sizeof err), -ECANCELED);
    CHECK_INT((long long)cw.nodes, 0);
    /* fw_space_valid_work counts the same nodes and stops the same way */
    fw_point p;
    CHECK_INT(fw_space_point_at(&s, 0, &p), 0);
    fw_work vw = {0};
    CHECK_INT(fw_space_valid_work(&s, &p, NULL, &vw, err, sizeof err), 0);
    CHECK_INT((long long)vw.nodes, 9);
    CHECK_INT(fw_space_valid_work(&s, &p, NULL, &cw, err, sizeof err), -ECANCELED);
    fw_work tiny = {.max_nodes = 5};
    CHECK_INT(fw_space_valid_work(&s, &p, NULL, &tiny, err, sizeof err), 0);
    CHECK_INT(fw_space_valid_work(&s, &p, NULL, &tiny, err, sizeof err), -ETIME);
    fw_space_release(&s);
    cJSON_Delete(j);
}

static void test_profiles(void)
{
    const char *const *names = fw_profile_names();
    int n = 0, gemm = 0;
    for (; names[n]; n++) {
        const char *text = fw_profile_json(names[n]);
        CHECK(text != NULL);
        cJSON *j = cJSON_Parse(text);
        CHECK(cJSON_IsObject(j));
        /* the declared name is the name users type; it must match what the list shows */
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(j, "name");
        CHECK(cJSON_IsString(nm) && strcmp(nm->valuestring, names[n]) == 0);
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "family")));
        gemm |= strcmp(names[n], "gemm_small") == 0;
        cJSON_Delete(j);
    }
    CHECK(n >= 2);
    CHECK(gemm);
    CHECK(fw_profile_json("mixed_bpw_fairway_glm47") != NULL);
    CHECK(fw_profile_json("no_such_profile") == NULL);
    CHECK(fw_profile_json(NULL) == NULL);
}

int main(void)
{
    test_points();
    test_space();
    test_strict();
    test_macros_env();
    test_profiles();
    test_work();
    return fw_check_done("test_space");
}
