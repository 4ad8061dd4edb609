/* job.c - a recorded space as a job (fw_replay.h, "The replay device"): the spec's knobs, shape and
 * valid points come from the file, which is read by path and checked by the hash of its bytes.
 * Loaded files stay in a small per-process cache keyed by (path, hash), so the daemon's resolve
 * and plan and the worker's load and measurements parse a file once. */
#include "fw_replay.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fw_util.h"

#define CACHE_SLOTS 4

typedef struct slot {
    char *path;
    char hash[17];
    fw_replay_space sp;
} slot;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static slot cache[CACHE_SLOTS];
static unsigned cache_next;

int fw_replay_file_hash(const char *path, char out[17], char *err, size_t errlen)
{
    struct stat st;   /* a FIFO or a device (/dev/zero) would never end: regular files only */
    if (stat(path, &st) < 0)
        return fw_errf(err, errlen, -errno, "cannot read the recorded space %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size > FW_REPLAY_MAX_BYTES)
        return fw_errf(err, errlen, -EINVAL, "the recorded space %s is not a regular file of at most %d MiB", path,
                       FW_REPLAY_MAX_BYTES >> 20);
    char *bytes = NULL;
    size_t len = 0;
    char rerr[300];
    int rc = fw_read_file(path, &bytes, &len, rerr, sizeof rerr);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "cannot read the recorded space %s: %s", path, rerr);
    fw_hash64_hex(fw_hash64(FW_HASH64_INIT, bytes, len), out);
    free(bytes);
    return 0;
}

const fw_replay_space *fw_replay_get(const char *path, const char *hash, char *err, size_t errlen)
{
    char now[17];
    if (fw_replay_file_hash(path, now, err, errlen) < 0)
        return NULL;
    if (hash && strcmp(hash, now) != 0) {
        fw_errf(err, errlen, -ESTALE, "the recorded space %s changed since the job was made (its hash was %s, "
                "now %s): replay the new file as a new job", path, hash, now);
        return NULL;
    }
    pthread_mutex_lock(&cache_mu);
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].path && strcmp(cache[i].path, path) == 0 && strcmp(cache[i].hash, now) == 0) {
            pthread_mutex_unlock(&cache_mu);
            return &cache[i].sp;
        }
    fw_replay_space sp;
    char lerr[400];
    int rc = fw_replay_load(path, &sp, lerr, sizeof lerr);
    const fw_replay_space *out = NULL;
    if (rc < 0) {
        fw_errf(err, errlen, rc, "the recorded space %s: %s", path, lerr);
    } else {
        /* A slot is reused only by another process-wide load, never while a caller in this process
         * still reads it: the daemon and the worker hold at most one replayed job at a time. */
        slot *s = &cache[cache_next++ % CACHE_SLOTS];
        if (s->path)
            fw_replay_release(&s->sp);
        free(s->path);
        s->path = fw_strdup(path);
        memcpy(s->hash, now, sizeof now);
        memcpy(sp.hash, now, sizeof now);
        s->sp = sp;
        out = &s->sp;
    }
    pthread_mutex_unlock(&cache_mu);
    return out;
}

/* ---- knob values: integers stay, anything else becomes its index ------------------------------ */

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return 0;
    *v = x;
    return 1;
}

int fw_replay_knob_is_int(const fw_replay_space *sp, int k)
{
    int64_t v;
    for (int i = 0; i < sp->nvals[k]; i++)
        if (!parse_i64(sp->values[k][i], &v))
            return 0;
    return 1;
}

int64_t fw_replay_knob_value(const fw_replay_space *sp, int k, int is_int, int v)
{
    int64_t x = v;
    if (is_int)
        parse_i64(sp->values[k][v], &x);
    return x;
}

/* ---- the spec ------------------------------------------------------------------------------- */

static int replay_space_json(const fw_replay_space *sp, cJSON **space, cJSON **labels, char *err, size_t errlen)
{
    *space = cJSON_CreateObject();
    *labels = NULL;
    cJSON *knobs = cJSON_AddObjectToObject(*space, "knobs");
    cJSON_AddArrayToObject(*space, "constraints");
    if (sp->nknobs > FW_MAX_KNOBS)
        return fw_errf(err, errlen, -E2BIG, "the recorded space has %d knobs; fairway tunes at most %d", sp->nknobs,
                       FW_MAX_KNOBS);
    for (int k = 0; k < sp->nknobs; k++) {
        if (!fw_variants_name_ok(sp->names[k]) || strlen(sp->names[k]) >= FW_NAME_MAX)
            return fw_errf(err, errlen, -EINVAL, "the recorded knob '%s' is not a name fairway can tune (a C "
                           "identifier of at most %d characters)", sp->names[k], FW_NAME_MAX - 1);
        if (sp->nvals[k] > FW_MAX_VALUES)
            return fw_errf(err, errlen, -E2BIG, "the recorded knob '%s' has %d values; fairway takes at most %d",
                           sp->names[k], sp->nvals[k], FW_MAX_VALUES);
        int is_int = fw_replay_knob_is_int(sp, k);
        cJSON *vals = cJSON_AddArrayToObject(knobs, sp->names[k]);
        cJSON *lab = NULL;
        if (!is_int) {   /* fairway knobs are integers: this one tunes its values' indices */
            if (!*labels)
                *labels = cJSON_CreateObject();
            lab = cJSON_AddArrayToObject(*labels, sp->names[k]);
        }
        for (int v = 0; v < sp->nvals[k]; v++) {
            cJSON_AddItemToArray(vals, cJSON_CreateNumber((double)fw_replay_knob_value(sp, k, is_int, v)));
            if (lab)
                cJSON_AddItemToArray(lab, cJSON_CreateString(sp->values[k][v]));
        }
    }
    return 0;
}

/* A user field the file decides may be given only as the file says (a resolved spec resolved again). */
static int same_or_absent(const cJSON *user, const char *field, const cJSON *want, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(user, field);
    if (!v || cJSON_Compare(v, want, 1))
        return 0;
    return fw_errf(err, errlen, -EINVAL, "a replayed job's \"%s\" comes from its recorded file: drop \"%s\" from "
                   "the spec", field, field);
}

static cJSON *canonical_space(const cJSON *space, char *err, size_t errlen, int *rc)
{
    fw_space s;
    char serr[400];
    *rc = fw_space_from_json(space, &s, serr, sizeof serr);
    if (*rc < 0) {
        fw_errf(err, errlen, *rc, "the recorded space's knobs: %s", serr);
        return NULL;
    }
    cJSON *out = fw_space_to_json(&s);
    fw_space_release(&s);
    return out;
}

static int fill_replay(cJSON *out, const cJSON *ur, const char *abs, const char *hash, const fw_replay_space *sp,
                       cJSON *labels, const char *format)
{
    cJSON *r = cJSON_CreateObject();
    const char *base = strrchr(abs, '/');
    cJSON_AddStringToObject(r, "file", abs);
    cJSON_AddStringToObject(r, "hash", hash);
    cJSON_AddStringToObject(r, "name", base ? base + 1 : abs);
    cJSON_AddStringToObject(r, "format", format);
    cJSON_AddStringToObject(r, "kernel", sp->kernel ? sp->kernel : "");
    cJSON_AddStringToObject(r, "recorded_on", sp->device ? sp->device : "");
    cJSON *keys = cJSON_AddArrayToObject(r, "keys");   /* the file's parameter order (an export keeps it) */
    for (int k = 0; k < sp->nknobs; k++)
        cJSON_AddItemToArray(keys, cJSON_CreateString(sp->names[k]));
    if (labels)
        cJSON_AddItemToObject(r, "labels", labels);
    const cJSON *it;
    cJSON_ArrayForEach(it, ur)   /* keep what the user wrote that is not derived here */
        if (!cJSON_GetObjectItemCaseSensitive(r, it->string))
            cJSON_AddItemToObject(r, it->string, cJSON_Duplicate(it, 1));
    cJSON_DeleteItemFromObjectCaseSensitive(out, "replay");
    cJSON_AddItemToObject(out, "replay", r);
    return 0;
}

int fw_replay_spec_expand(const cJSON *user, cJSON **expanded, char *err, size_t errlen)
{
    *expanded = NULL;
    const cJSON *ur = cJSON_GetObjectItemCaseSensitive(user, "replay");
    const cJSON *ub = cJSON_GetObjectItemCaseSensitive(user, "backend");
    if (!ur && !(cJSON_IsString(ub) && strcmp(ub->valuestring, "replay") == 0))
        return 0;
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(ur, "file");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(ur, "hash");
    if (!cJSON_IsObject(ur) || !cJSON_IsString(file) || !*file->valuestring)
        return fw_errf(err, errlen, -EINVAL, "backend \"replay\" needs \"replay\": {\"file\": PATH}, a Kernel Tuner "
                       "cache (.json or .json.gz) or a `fairway export --format kernel-tuner` file");
    if (hash && !cJSON_IsString(hash))
        return fw_errf(err, errlen, -EINVAL, "\"replay\".\"hash\" must be the file's hash as a string");
    if (ub && !(cJSON_IsString(ub) && strcmp(ub->valuestring, "replay") == 0))
        return fw_errf(err, errlen, -EINVAL, "a \"replay\" file is measured by backend \"replay\", not \"%s\"",
                       cJSON_IsString(ub) ? ub->valuestring : "?");
    const cJSON *bad[] = {cJSON_GetObjectItemCaseSensitive(user, "profile"), cJSON_GetObjectItemCaseSensitive(user, "source"),
                          cJSON_GetObjectItemCaseSensitive(user, "workload"), cJSON_GetObjectItemCaseSensitive(user, "binds")};
    const char *badn[] = {"profile", "source", "workload", "binds"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (bad[i])
            return fw_errf(err, errlen, -EINVAL, "a replayed job measures no kernel: drop \"%s\"", badn[i]);
    char abs[PATH_MAX];
    if (!realpath(file->valuestring, abs))
        return fw_errf(err, errlen, -errno, "cannot find the recorded space %s: %s", file->valuestring, strerror(errno));
    const fw_replay_space *sp = fw_replay_get(abs, cJSON_GetStringValue(hash), err, errlen);
    if (!sp)
        return -EINVAL;
    cJSON *space = NULL, *labels = NULL, *canon = NULL, *shapes = NULL;
    int rc = replay_space_json(sp, &space, &labels, err, errlen);
    if (rc == 0)
        canon = canonical_space(space, err, errlen, &rc);
    if (rc == 0) {
        shapes = cJSON_CreateArray();
        cJSON_AddItemToArray(shapes, fw_replay_shape_json(sp));
        const cJSON *fam = cJSON_GetObjectItemCaseSensitive(user, "family");
        if (fam && !(cJSON_IsString(fam) && strcmp(fam->valuestring, FW_REPLAY_FAMILY) == 0))
            rc = fw_errf(err, errlen, -EINVAL, "a replayed job's family is \"%s\": drop \"family\"", FW_REPLAY_FAMILY);
    }
    if (rc == 0 && (rc = same_or_absent(user, "space", canon, err, errlen)) == 0)
        rc = same_or_absent(user, "shapes", shapes, err, errlen);
    if (rc == 0) {
        cJSON *out = cJSON_Duplicate(user, 1);
        const char *fields[] = {"family", "space", "shapes", "backend"};
        for (size_t i = 0; i < 4; i++)
            cJSON_DeleteItemFromObjectCaseSensitive(out, fields[i]);
        cJSON_AddStringToObject(out, "family", FW_REPLAY_FAMILY);
        cJSON_AddItemToObject(out, "space", canon);
        cJSON_AddItemToObject(out, "shapes", shapes);
        cJSON_AddStringToObject(out, "backend", "replay");
        fill_replay(out, ur, abs, sp->hash, sp, labels, sp->format ? sp->format : "kernel-tuner");
        canon = shapes = labels = NULL;
        *expanded = out;
        rc = 1;
    }
    cJSON_Delete(space);
    cJSON_Delete(labels);
    cJSON_Delete(canon);
    cJSON_Delete(shapes);
    return rc;
}

/* The shape of a recorded space: the one fairway recorded it at, else the file's problem_size
 * ({"size": N}, or {"size0": a, "size1": b, ...}), else {"size": 0}. */
cJSON *fw_replay_shape_json(const fw_replay_space *sp)
{
    if (sp->shape)
        return cJSON_Duplicate(sp->shape, 1);
    cJSON *o = cJSON_CreateObject();
    int n = 0;
    for (int i = 0; i < sp->nproblem; i++, n++) {
        char name[16];
        snprintf(name, sizeof name, sp->nproblem == 1 ? "size" : "size%d", i);
        cJSON_AddNumberToObject(o, name, (double)sp->problem[i]);
    }
    if (!n)
        cJSON_AddNumberToObject(o, "size", 0);
    return o;
}

/* ---- the plan's valid points ------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t fw_replay_point_index(const fw_replay_space *sp, const fw_space *space, size_t i)
{
    fw_point p;
    fw_point_clear(&p);
    for (int k = 0; k < sp->nknobs; k++) {
        int v = sp->points[i * (size_t)sp->nknobs + (size_t)k];
        if (fw_point_set(&p, sp->names[k], fw_replay_knob_value(sp, k, fw_replay_knob_is_int(sp, k), v)) < 0)
            return -1;
    }
    return fw_space_index(space, &p);
}

const fw_replay_space *fw_replay_of_spec(const cJSON *resolved, char *err, size_t errlen)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(resolved, "replay");
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "file"));
    const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "hash"));
    if (!file || !hash) {
        fw_errf(err, errlen, -EINVAL, "the spec's \"replay\" has no file and hash (resolve it first)");
        return NULL;
    }
    return fw_replay_get(file, hash, err, errlen);
}

int fw_replay_valid_indices(const cJSON *resolved, const fw_space *space, uint64_t **idx, size_t *n, char *err,
                            size_t errlen)
{
    if (!cJSON_GetObjectItemCaseSensitive(resolved, "replay"))
        return 0;
    *idx = NULL;
    *n = 0;
    const fw_replay_space *sp = fw_replay_of_spec(resolved, err, errlen);
    if (!sp)
        return -EINVAL;
    uint64_t *out = malloc((sp->npoints ? sp->npoints : 1) * sizeof *out);
    if (!out)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < sp->npoints; i++) {
        int64_t at = fw_replay_point_index(sp, space, i);
        if (at < 0) {
            free(out);
            return fw_errf(err, errlen, -EINVAL, "recorded configuration %zu is not a point of the job's space "
                           "(the spec's space does not match its file)", i);
        }
        out[m++] = (uint64_t)at;
    }
    qsort(out, m, sizeof *out, cmp_u64);
    size_t u = 0;   /* a configuration recorded twice is one point */
    for (size_t i = 0; i < m; i++)
        if (u == 0 || out[u - 1] != out[i])
            out[u++] = out[i];
    *idx = out;
    *n = u;
    return 1;
}

/* ---- the device ------------------------------------------------------------------------------- */

cJSON *fw_replay_device_json(const cJSON *resolved)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(resolved, "replay");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "name"));
    const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "hash"));
    const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "format"));
    const char *on = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "recorded_on"));
    if (!name || !hash)
        return NULL;
    return fw_replay_device_make(name, hash, fmt ? fmt : "kernel-tuner", on ? on : "");
}

cJSON *fw_replay_device_make(const char *name, const char *hash, const char *format, const char *recorded_on)
{
    char id[1024];
    snprintf(id, sizeof id, "replay|fairway|%s|%s|%s", name, hash, format);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "backend", "replay");
    cJSON_AddNumberToObject(o, "index", 0);
    cJSON_AddStringToObject(o, "identity", id);
    cJSON_AddStringToObject(o, "dialect", "none");
    cJSON_AddStringToObject(o, "vendor", "fairway");
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "driver", hash);
    cJSON_AddStringToObject(o, "compiler", format);
    cJSON_AddStringToObject(o, "arch", recorded_on);
    cJSON *lim = cJSON_AddObjectToObject(o, "limits");
    /* a replayed device allocates nothing: 0, no limit */
    const char *keys[] = {"max_threads", "shared_bytes", "simd_width", "compute_units", "global_mem_bytes",
                          "max_alloc_bytes"};
    for (size_t i = 0; i < 6; i++)
        cJSON_AddNumberToObject(lim, keys[i], 0);
    return o;
}
