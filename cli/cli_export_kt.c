/* fairway export JOB --format kernel-tuner|fairway (issue 14): one shape of a job as a Kernel Tuner
 * cache file (the format of Kernel Tuner's cachefiles, schema 1.0.0), which Kernel Tuner's simulation
 * mode, its dashboards and fairway's own replay device (tune --replay) read; or as fairway's own
 * records, one JSON object a line (a {"fairway": {...}} header, then the worker's record fields the
 * store keeps: seq, shape, variant, knobs, status, median, samples), which the replay device reads. Every stored evaluation is one
 * entry: "time" is the mean of its samples in ms (Kernel Tuner ranks by the mean), "times" every
 * sample; a failure is Kernel Tuner's failure string. A "fairway" object says where it came from
 * (job, family, shape, device), so a replay keys it by the job's own shape. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw_cli.h"
#include "fw_util.h"

/* "K=64,M=64,N=64" -> {"K": 64, "M": 64, "N": 64}; NULL when a field is not NAME=INTEGER. */
static cJSON *shape_of_key(const char *key)
{
    cJSON *o = cJSON_CreateObject();
    for (const char *p = key; o && *p;) {
        size_t l = strcspn(p, ","), e = strcspn(p, "=");
        char *end;
        long long v = e < l ? strtoll(p + e + 1, &end, 10) : 0;
        if (e == 0 || e >= l || end != p + l || e >= 64) {
            cJSON_Delete(o);
            return NULL;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)e, p);
        cJSON_AddNumberToObject(o, name, (double)v);
        p += l + (p[l] == ',');
    }
    return o;
}

/* The value of knob `name` in a variant key "A=1,B=2" (0 and *ok 0 when absent). */
static long long key_value(const char *key, const char *name, int *ok)
{
    size_t n = strlen(name);
    for (const char *p = key; *p;) {
        size_t l = strcspn(p, ",");
        if (l > n && !strncmp(p, name, n) && p[n] == '=') {
            *ok = 1;
            return strtoll(p + n + 1, NULL, 10);
        }
        p += l + (p[l] == ',');
    }
    *ok = 0;
    return 0;
}

static const char *kt_failure(const char *status)
{
    if (!strcmp(status, "compile_error"))
        return "CompilationFailedConfig";
    if (!strcmp(status, "invalid"))
        return "InvalidConfig";
    return "RuntimeFailedConfig";   /* verify_failed, runtime_error, crashed, timeout */
}

/* The shape to export: the one asked for, else the job's only one. */
static int pick_shape(const cJSON *meas, const char *want, const char **out, char *err, size_t errlen)
{
    const cJSON *m;
    const char *first = NULL;
    int several = 0, found = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(meas, "measurements")) {
        const char *sk = fw_cli_str(m, "shape_key", "");
        if (!first)
            first = sk;
        several |= strcmp(first, sk) != 0;
        found |= want && !strcmp(want, sk);
    }
    if (!first)
        return fw_errf(err, errlen, -ENOENT, "the job has no stored evaluation to export");
    if (want && !found)
        return fw_errf(err, errlen, -ENOENT, "the job has no shape '%s' (its first is %s)", want, first);
    if (!want && several)
        return fw_errf(err, errlen, -EINVAL, "a Kernel Tuner cache holds one problem size and the job has several "
                       "shapes: give --shape KEY (its first is %s; `fairway rankings` lists them)", first);
    *out = want ? want : first;
    return 0;
}

/* One cache entry: the knob values in tune_params_keys order, then what was measured. */
static cJSON *entry(const cJSON *m, const cJSON *keys, const cJSON *labels, const char *stamp, char *key, size_t klen)
{
    cJSON *e = cJSON_CreateObject();
    const char *vk = fw_cli_str(m, "variant_key", "");
    size_t off = 0;
    key[0] = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
        int ok;
        long long v = key_value(vk, k->valuestring, &ok);
        (void)ok;
        const cJSON *lab = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(labels, k->valuestring), (int)v);
        char vs[64];
        if (cJSON_IsString(lab)) {   /* a replayed knob of strings: its value, not its index */
            cJSON_AddStringToObject(e, k->valuestring, lab->valuestring);
            snprintf(vs, sizeof vs, "%s", lab->valuestring);
        } else {
            cJSON_AddNumberToObject(e, k->valuestring, (double)v);
            snprintf(vs, sizeof vs, "%lld", v);
        }
        off += (size_t)snprintf(key + off, off < klen ? klen - off : 0, "%s%s", off ? "," : "", vs);
    }
    const char *status = fw_cli_str(m, "status", "");
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(m, "samples_ns");
    if (!strcmp(status, "ok") || !strcmp(status, "pruned")) {
        double sum = 0;
        int n = 0;
        cJSON *times = cJSON_CreateArray();
        const cJSON *s;
        cJSON_ArrayForEach(s, samples) {
            sum += s->valuedouble;
            n++;
            cJSON_AddItemToArray(times, cJSON_CreateNumber(s->valuedouble / 1e6));
        }
        cJSON_AddNumberToObject(e, "time", n ? sum / n / 1e6 : fw_cli_num(m, "median_ns", 0) / 1e6);
        if (n)
            cJSON_AddItemToObject(e, "times", times);
        else
            cJSON_Delete(times);
    } else {
        cJSON_AddStringToObject(e, "time", kt_failure(status));
    }
    const char *zero[] = {"compile_time", "verification_time", "benchmark_time", "strategy_time", "framework_time"};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        cJSON_AddNumberToObject(e, zero[i], 0);
    cJSON_AddStringToObject(e, "timestamp", stamp);
    if (strcmp(status, "ok"))
        cJSON_AddStringToObject(e, "fairway_status", status);
    return e;
}

/* The job's device name (the identity's third field), or the file a replayed job was recorded on. */
static void device_name(const cJSON *status, const fw_job_spec *spec, char *out, size_t len)
{
    const char *on = fw_cli_str(spec->replay, "recorded_on", NULL);
    const char *id = fw_cli_str(status, "device_identity", "");
    const char *a = strchr(id, '|'), *b = a ? strchr(a + 1, '|') : NULL, *c = b ? strchr(b + 1, '|') : NULL;
    if (on && *on)
        snprintf(out, len, "%s", on);
    else if (b && c)
        snprintf(out, len, "%.*s", (int)(c - b - 1), b + 1);
    else
        snprintf(out, len, "%s", id);
}

int fw_cli_export_kt(FILE *f, long long job, const cJSON *status, const cJSON *meas, const char *want, char *err,
                     size_t errlen)
{
    const char *sk = NULL;
    int rc = pick_shape(meas, want, &sk, err, errlen);
    if (rc < 0)
        return rc;
    fw_job_spec spec;
    fw_cli_status_spec(status, &spec);
    const cJSON *knobs = spec.space_knobs, *replay = spec.replay;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(replay, "labels");
    cJSON *root = cJSON_CreateObject(), *keys = cJSON_CreateArray(), *params = cJSON_CreateObject(), *k;
    char dev[256], stamp[40];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    device_name(status, &spec, dev, sizeof dev);
    cJSON_AddStringToObject(root, "schema_version", "1.0.0");
    cJSON_AddStringToObject(root, "device_name", dev);
    const char *kernel = fw_cli_str(replay, "kernel", spec.source_entry ? spec.source_entry
                                                      : fw_cli_str(status, "family", ""));
    cJSON_AddStringToObject(root, "kernel_name", kernel);
    cJSON *shape = shape_of_key(sk), *ps = cJSON_AddArrayToObject(root, "problem_size");
    cJSON_ArrayForEach(k, shape)
        cJSON_AddItemToArray(ps, cJSON_CreateNumber(k->valuedouble));
    /* a replayed job keeps its file's parameter order (Kernel Tuner looks entries up by it) */
    const cJSON *order = cJSON_GetObjectItemCaseSensitive(replay, "keys");
    if (cJSON_GetArraySize(order) != cJSON_GetArraySize(knobs))
        order = NULL;
    const cJSON *names = order ? order : knobs;
    cJSON_ArrayForEach(k, names) {
        const char *name = order ? k->valuestring : k->string;
        const cJSON *vals = cJSON_GetObjectItemCaseSensitive(knobs, name);
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(labels, name);
        if (!vals)
            continue;
        cJSON_AddItemToArray(keys, cJSON_CreateString(name));
        cJSON_AddItemToObject(params, name, cJSON_Duplicate(lab ? lab : vals, 1));
    }
    cJSON_AddItemToObject(root, "tune_params_keys", keys);
    cJSON_AddItemToObject(root, "tune_params", params);
    cJSON_AddStringToObject(root, "objective", "time");
    cJSON *fw = cJSON_AddObjectToObject(root, "fairway");
    cJSON_AddNumberToObject(fw, "job", (double)job);
    cJSON_AddStringToObject(fw, "family", fw_cli_str(status, "family", ""));
    cJSON_AddStringToObject(fw, "shape_key", sk);
    if (shape)
        cJSON_AddItemToObject(fw, "shape", shape);
    cJSON_AddStringToObject(fw, "device", fw_cli_str(status, "device_identity", ""));
    cJSON_AddStringToObject(fw, "seed", fw_cli_str(status, "seed_text", ""));
    cJSON *cache = cJSON_AddObjectToObject(root, "cache");   /* last: Kernel Tuner checks the file ends "}}}" */
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(meas, "measurements")) {
        char key[1024];
        if (strcmp(fw_cli_str(m, "shape_key", ""), sk))
            continue;
        cJSON *e = entry(m, keys, labels, stamp, key, sizeof key);
        if (cJSON_GetObjectItemCaseSensitive(cache, key))
            cJSON_Delete(e);   /* measured twice (a rerun's preset): the first stays */
        else
            cJSON_AddItemToObject(cache, key, e);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    fprintf(f, "%s\n", text);
    free(text);
    return 0;
}

int fw_cli_export_lines(FILE *f, long long job, const cJSON *status, const cJSON *meas, const char *want, char *err,
                        size_t errlen)
{
    const char *sk = NULL;
    int rc = pick_shape(meas, want, &sk, err, errlen);
    if (rc < 0)
        return rc;
    fw_job_spec spec;
    fw_cli_status_spec(status, &spec);
    char dev[256];
    device_name(status, &spec, dev, sizeof dev);
    cJSON *head = cJSON_CreateObject(), *fw = cJSON_AddObjectToObject(head, "fairway");
    cJSON *shape = shape_of_key(sk);
    cJSON_AddNumberToObject(fw, "job", (double)job);
    cJSON_AddStringToObject(fw, "family", fw_cli_str(status, "family", ""));
    cJSON_AddStringToObject(fw, "shape_key", sk);
    if (shape)
        cJSON_AddItemToObject(fw, "shape", cJSON_Duplicate(shape, 1));
    cJSON_AddStringToObject(fw, "kernel", fw_cli_str(spec.replay, "kernel", fw_cli_str(status, "family", "")));
    cJSON_AddStringToObject(fw, "device_name", dev);
    cJSON_AddStringToObject(fw, "device", fw_cli_str(status, "device_identity", ""));
    cJSON_AddStringToObject(fw, "seed", fw_cli_str(status, "seed_text", ""));
    char *t = cJSON_PrintUnformatted(head);
    fprintf(f, "%s\n", t ? t : "{}");
    free(t);
    cJSON_Delete(head);
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(meas, "measurements")) {
        if (strcmp(fw_cli_str(m, "shape_key", ""), sk))
            continue;
        cJSON *r = cJSON_CreateObject(), *kn = cJSON_CreateObject();
        const char *vk = fw_cli_str(m, "variant_key", "");
        cJSON_AddNumberToObject(r, "seq", fw_cli_num(m, "seq", 0));
        cJSON_AddStringToObject(r, "shape_key", sk);
        if (shape)
            cJSON_AddItemToObject(r, "shape", cJSON_Duplicate(shape, 1));
        cJSON_AddStringToObject(r, "variant_key", vk);
        for (const char *p = vk; *p;) {
            size_t l = strcspn(p, ","), e = strcspn(p, "=");
            char name[64];
            if (e < l && e < sizeof name) {
                snprintf(name, sizeof name, "%.*s", (int)e, p);
                cJSON_AddNumberToObject(kn, name, (double)strtoll(p + e + 1, NULL, 10));
            }
            p += l + (p[l] == ',');
        }
        cJSON_AddItemToObject(r, "knobs", kn);
        cJSON_AddStringToObject(r, "status", fw_cli_str(m, "status", ""));
        const cJSON *med = cJSON_GetObjectItemCaseSensitive(m, "median_ns");
        if (cJSON_IsNumber(med))
            cJSON_AddNumberToObject(cJSON_AddObjectToObject(r, "stats"), "median_ns", med->valuedouble);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "samples_ns");
        if (s)
            cJSON_AddItemToObject(r, "samples_ns", cJSON_Duplicate(s, 1));
        t = cJSON_PrintUnformatted(r);
        fprintf(f, "%s\n", t ? t : "{}");
        free(t);
        cJSON_Delete(r);
    }
    cJSON_Delete(shape);
    return 0;
}
