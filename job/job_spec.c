/* The typed resolved spec (fw_job.h): every field a consumer reads, read and checked once. The ranges
 * are fw_spec_resolve's (job/spec.c), so a resolved spec always parses; what is absent keeps a has_
 * flag of 0 and each consumer's own default. */
#include "fw_job.h"
#include "job_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

static const cJSON *field(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* An integer field in lo..hi: 1 with *out, 0 when absent, -EINVAL with the sentence. */
static int int_field(const cJSON *spec, const char *name, int64_t lo, int64_t hi, int64_t *out, char *err,
                     size_t errlen)
{
    const cJSON *v = field(spec, name);
    if (!v)
        return 0;
    if (!fw_variants_json_int(v, out) || *out < lo || *out > hi)
        return fw_errf(err, errlen, -EINVAL, "\"%s\" must be an integer from %" PRId64 " to %" PRId64, name, lo, hi);
    return 1;
}

/* A string field: 0 with *out (NULL when absent), -EINVAL when present and not a string. */
static int str_field(const cJSON *spec, const char *name, const char **out, char *err, size_t errlen)
{
    const cJSON *v = field(spec, name);
    *out = NULL;
    if (!v)
        return 0;
    if (!cJSON_IsString(v))
        return fw_errf(err, errlen, -EINVAL, "\"%s\" must be a string", name);
    *out = v->valuestring;
    return 0;
}

/* An object field: 0 with *out (NULL when absent), -EINVAL when present and not an object. */
static int obj_field(const cJSON *spec, const char *name, const cJSON **out, char *err, size_t errlen)
{
    const cJSON *v = field(spec, name);
    *out = v;
    if (v && !cJSON_IsObject(v))
        return fw_errf(err, errlen, -EINVAL, "\"%s\" must be an object", name);
    return 0;
}

int fw_job_ask_ahead_value(const cJSON *v, int64_t *a, char *err, size_t errlen)
{
    if (!fw_variants_json_int(v, a) || *a < 0 || *a > FW_SEQ_ASK_AHEAD_MAX)
        return fw_errf(err, errlen, -EINVAL, "options.ask_ahead must be an integer in 0..%d", FW_SEQ_ASK_AHEAD_MAX);
    return 0;
}

static fw_job_num num_of(const cJSON *o, const char *name)
{
    const cJSON *v = field(o, name);
    fw_job_num n = {.present = v != NULL, .number = cJSON_IsNumber(v)};
    if (n.number) {
        n.value = v->valuedouble;
        n.ivalue = v->valueint;
    }
    return n;
}

/* family, strategy, backend, shapes and the parts kept as JSON. */
static int parse_parts(const cJSON *r, fw_job_spec *s, char *err, size_t errlen)
{
    int rc;
    if ((rc = str_field(r, "family", &s->family, err, errlen)) < 0 ||
        (rc = str_field(r, "strategy", &s->strategy, err, errlen)) < 0 ||
        (rc = str_field(r, "backend", &s->backend, err, errlen)) < 0)
        return rc;
    s->shapes = field(r, "shapes");
    if (s->shapes) {
        if (!cJSON_IsArray(s->shapes))
            return fw_errf(err, errlen, -EINVAL, "\"shapes\" must be an array of shape objects");
        const cJSON *sh;
        cJSON_ArrayForEach(sh, s->shapes) {
            if (!cJSON_IsObject(sh))
                return fw_errf(err, errlen, -EINVAL, "shape %d must be an object of integer fields", s->nshapes);
            s->nshapes++;
        }
    }
    s->presets = field(r, "presets");
    if (s->presets && !cJSON_IsArray(s->presets))
        return fw_errf(err, errlen, -EINVAL, "\"presets\" must be an array");
    if ((rc = obj_field(r, "space", &s->space, err, errlen)) < 0 ||
        (rc = obj_field(r, "aliases", &s->aliases, err, errlen)) < 0 ||
        (rc = obj_field(r, "knob_values", &s->knob_values, err, errlen)) < 0 ||
        (rc = obj_field(r, "source", &s->source, err, errlen)) < 0 ||
        (rc = obj_field(r, "workload", &s->workload, err, errlen)) < 0 ||
        (rc = obj_field(r, "replay", &s->replay, err, errlen)) < 0 ||
        (rc = obj_field(r, "options", &s->options, err, errlen)) < 0)
        return rc;
    /* macros and binds are checked by their readers (the harness says "\"macros\" must be an object of
     * NAME: value"; fw_transform.h the binds), as they always were */
    s->macros = field(r, "macros");
    s->binds = field(r, "binds");
    const cJSON *t = field(s->source, "text");
    if (t && !cJSON_IsString(t))
        return fw_errf(err, errlen, -EINVAL, "\"source\".\"text\" must be the kernel source as a string");
    s->source_text = cJSON_GetStringValue(t);
    s->source_entry = cJSON_GetStringValue(field(s->source, "entry"));
    s->source_name = cJSON_GetStringValue(field(s->source, "name"));
    s->source_entries = field(s->source, "entries");
    s->space_knobs = field(s->space, "knobs");
    s->replay_hash = cJSON_GetStringValue(field(s->replay, "hash"));
    return 0;
}

/* budget, seed, warmup, iters, device, budget_s. */
static int parse_run(const cJSON *r, fw_job_spec *s, char *err, size_t errlen)
{
    int64_t v = 0;
    int rc;
    if ((rc = s->has_budget = int_field(r, "budget", 0, FW_SPEC_MAX_BUDGET, &s->budget, err, errlen)) < 0)
        return rc;
    if ((rc = s->has_seed = int_field(r, "seed", 0, FW_SPEC_SEED_MAX, &v, err, errlen)) < 0)
        return rc;
    s->seed = (uint64_t)v;
    if ((rc = s->has_warmup = int_field(r, "warmup", 0, FW_SPEC_WARMUP_MAX, &v, err, errlen)) < 0)
        return rc;
    s->warmup = (int)v;
    if ((rc = s->has_iters = int_field(r, "iters", 1, FW_SPEC_ITERS_MAX, &v, err, errlen)) < 0)
        return rc;
    s->iters = (int)v;
    const cJSON *d = field(r, "device");
    if (cJSON_IsString(d)) {   /* "opencl:1" or "1" */
        const char *c = strrchr(d->valuestring, ':');
        s->device_text = d->valuestring;
        s->device = atoi(c ? c + 1 : d->valuestring);
        s->has_device = 1;
    } else if ((rc = s->has_device = int_field(r, "device", 0, FW_SPEC_DEVICE_MAX, &v, err, errlen)) < 0) {
        return rc;
    } else {
        s->device = (int)v;
    }
    const cJSON *b = field(r, "budget_s");   /* fw_spec_budget_s: what is not a positive number is none */
    s->budget_s = cJSON_IsNumber(b) && b->valuedouble > 0 ? b->valuedouble : 0;
    return 0;
}

static int parse_options(fw_job_spec *s, char *err, size_t errlen)
{
    const cJSON *o = s->options, *v;
    int64_t a;
    if ((v = field(o, "ask_ahead"))) {
        int rc = fw_job_ask_ahead_value(v, &a, err, errlen);
        if (rc < 0)
            return rc;
        s->has_ask_ahead = 1;
        s->ask_ahead = (int)a;
    }
    s->compiler = cJSON_GetStringValue(field(o, "compiler"));
    const cJSON *es = field(o, "early_stop");
    s->early_stop_off = cJSON_IsFalse(es) || (cJSON_IsObject(es) && cJSON_IsFalse(field(es, "enabled")));
    if (cJSON_IsObject(es)) {
        s->es_after = num_of(es, "after");
        s->es_ratio = num_of(es, "ratio");
    }
    s->finalists_false = cJSON_IsFalse(field(o, "finalists"));
    v = field(o, "verify_on_device");
    s->verify_on_device = cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
    s->compile_threads = num_of(o, "compile_threads");
    s->finalists = num_of(o, "finalists");
    s->finalist_rounds = num_of(o, "finalist_rounds");
    s->finalist_iters = num_of(o, "finalist_iters");
    s->rotate_buffers = num_of(o, "rotate_buffers");
    s->flush_cache_mb = num_of(o, "flush_cache_mb");
    s->rotate_bytes = num_of(o, "rotate_bytes");
    s->launches_per_sample = num_of(o, "launches_per_sample");
    s->reference_max_ops = num_of(o, "reference_max_ops");
    s->replay_noise = num_of(o, "replay_noise");
    return 0;
}

int fw_job_spec_parse(const cJSON *resolved, fw_job_spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->verify_on_device = -1;
    if (err && errlen)
        err[0] = '\0';
    if (!cJSON_IsObject(resolved))
        return fw_errf(err, errlen, -EINVAL, "a job spec must be a JSON object (see docs/spec.md)");
    out->json = resolved;
    int rc;
    if ((rc = parse_parts(resolved, out, err, errlen)) < 0 || (rc = parse_run(resolved, out, err, errlen)) < 0 ||
        (rc = parse_options(out, err, errlen)) < 0) {
        fw_job_spec_release(out);
        return rc;
    }
    return 0;
}

void fw_job_spec_release(fw_job_spec *spec)
{
    if (spec)
        memset(spec, 0, sizeof *spec);
}

const cJSON *fw_job_spec_shape(const fw_job_spec *spec, int i)
{
    return i >= 0 && i < spec->nshapes ? cJSON_GetArrayItem(spec->shapes, i) : NULL;
}
