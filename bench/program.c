/* Harness programs: what the compiler sees for a plan item, the persistent compile cache's use and
 * the per-process program cache (fw_bench.h, harness_int.h). */
#include "harness_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_transform.h"
#include "fw_util.h"

void fwh_prog_entry_release(fw_bench *b, prog_entry *e)
{
    if (!e->used)
        return;
    if (e->prog)
        b->be->program_free(b->dev, e->prog);
    free(e->log);
    memset(e, 0, sizeof *e);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

uint64_t fwh_program_key(const char *source, char **macros, size_t n, const char *options, const char *entry)
{
    uint64_t h = fw_hash64_str(FW_HASH64_INIT, source);
    char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted) {
        memcpy(sorted, macros, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_str);
    }
    for (size_t i = 0; i < n; i++) {
        h = fw_hash64(h, "\n-D", 3);
        h = fw_hash64_str(h, sorted ? sorted[i] : macros[i]);
    }
    free(sorted);
    h = fw_hash64(h, "\n-O", 3);
    h = fw_hash64_str(h, options ? options : "");
    h = fw_hash64(h, "\n-E", 3);
    return fw_hash64_str(h, entry);
}

/* Compile through the persistent cache on `dev` (the timing device, or a compile thread's own
 * handle). With prog != NULL the result is a loaded program; with prog == NULL only the binary's
 * bytes are wanted (a compile thread hands them to the timing thread). On a compile failure *log
 * gets the build log (malloc'd) and the backend's code is returned. */
int fwh_cached_compile(const fw_backend *be, fw_device *dev, fw_ccache *cache, const char *identity,
                          const char *arch, const char *source, char **macros, size_t n, const char *options,
                          const char *entry, fw_program **prog, void **bytes, size_t *len, int *from_disk,
                          char **log)
{
    *from_disk = 0;
    *log = NULL;
    if (prog)
        *prog = NULL;
    if (bytes) {
        *bytes = NULL;
        *len = 0;
    }
    int can_bin = be->program_binary && be->program_load;
    char key[FW_CCACHE_KEY_LEN + 1];
    int have_key = cache && can_bin &&
        fw_ccache_key(identity, arch, source, (const char *const *)macros, n, options, entry, key) == 0;
    if (have_key) {
        void *data = NULL;
        size_t dlen = 0;
        if (fw_ccache_get(cache, key, &data, &dlen) == 0) {
            if (!prog) {
                *bytes = data;
                *len = dlen;
                *from_disk = 1;
                return 0;
            }
            int rc = be->program_load(dev, data, dlen, entry, prog);
            free(data);
            if (rc == 0) {
                *from_disk = 1;
                return 0;
            }
            /* the driver refused the bytes (an entry from another driver build under the same version
             * string, say): compile, and the put below replaces the entry */
        }
    }
    if (!prog && be->compile_binary) {   /* the compile pool: bytes only, the timing thread loads */
        int rc = be->compile_binary(dev, source, (const char *const *)macros, n, options, bytes, len);
        if (rc < 0) {
            const char *l = be->last_error(dev);
            *log = fw_strdup(l && *l ? l : "the compiler failed without a message");
            return rc;
        }
        if (have_key)
            fw_ccache_put(cache, key, *bytes, *len);
        return 0;
    }
    fw_program *p = NULL;
    int rc = be->compile(dev, source, (const char *const *)macros, n, options, entry, &p);
    if (rc < 0) {
        const char *l = be->last_error(dev);
        *log = fw_strdup(l && *l ? l : "the compiler failed without a message");
        return rc;
    }
    void *data = NULL;
    size_t dlen = 0;
    /* OpenCL in the timing thread: the binary is stored after the first launch instead (see
     * fw_bench_measure_family): PoCL generates code for CL_PROGRAM_BINARIES, and after the first
     * launch it reuses what the launch compiled rather than compiling a second time now. */
    int defer = prog && strcmp(be->name, "opencl") == 0;
    if (((have_key && !defer) || !prog) && can_bin && be->program_binary(dev, p, &data, &dlen) == 0) {
        if (have_key)
            fw_ccache_put(cache, key, data, dlen);
    }
    if (prog) {
        free(data);
        *prog = p;
        return 0;
    }
    be->program_free(dev, p);
    if (!data) {
        *log = fw_strdup("the backend gave no program binary to hand over");
        return -ENOTSUP;
    }
    *bytes = data;
    *len = dlen;
    return 0;
}

prog_entry *fwh_program_get(fw_bench *b, const char *source, char **macros, size_t n,
                               const char *options, const char *entry, int64_t seq, int *cached)
{
    uint64_t key = fwh_program_key(source, macros, n, options, entry);
    prog_entry *victim = &b->prog[0];
    for (int i = 0; i < FW_BENCH_PROG_CACHE; i++) {
        prog_entry *e = &b->prog[i];
        if (e->used && e->key == key) {
            e->stamp = ++b->clock;
            *cached = 1;
            return e;
        }
        if (!e->used || (victim->used && e->stamp < victim->stamp))
            victim = e;
    }
    *cached = 0;
    fwh_prog_entry_release(b, victim);
    victim->used = 1;
    victim->key = key;
    victim->stamp = ++b->clock;
    pool_result r;
    if (b->pool && seq >= 0 && fwh_pool_take(b->pool, seq, key, &r) == 1) {
        victim->compile_ms = r.ms;
        victim->from_disk = r.from_disk;
        if (r.rc < 0) {
            victim->compile_rc = r.rc;
            victim->log = r.log;
            return victim;
        }
        free(r.log);
        uint64_t t0 = fw_now_ns();
        fw_program *prog = NULL;
        int rc = b->be->program_load(b->dev, r.bytes, r.len, entry, &prog);
        victim->load_ms = (double)(fw_now_ns() - t0) / 1e6;
        free(r.bytes);
        if (rc == 0) {
            victim->prog = prog;
            return victim;
        }
        /* fall through: compile here as if there were no pool */
    }
    uint64_t t0 = fw_now_ns();
    fw_program *prog = NULL;
    char *log = NULL;
    int rc = fwh_cached_compile(b->be, b->dev, b->cache, b->identity, b->info.arch, source, macros, n, options,
                            entry, &prog, NULL, NULL, &victim->from_disk, &log);
    victim->compile_ms = (double)(fw_now_ns() - t0) / 1e6;
    victim->load_ms = 0;
    victim->compile_rc = rc;
    victim->prog = rc < 0 ? NULL : prog;
    victim->log = log;
    return victim;
}

void fwh_compile_in_release(compile_in *c)
{
    fw_macros_free(c->macros, c->nmacros);
    free(c->source);
    memset(c, 0, sizeof *c);
}

int fwh_compile_inputs(const char *dialect, const fw_family *fam, const fw_job_spec *spec, const fw_plan_item *item,
                       const fw_workload *wl, compile_in *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const cJSON *shape = fw_job_spec_shape(spec, item->shape);
    const char *src_entry = spec->source_entry;
    const char *entry = src_entry && *src_entry ? src_entry : wl->kernel;
    /* docs/spec.md also allows "entries": one name, or {dialect or family kernel name: entry} */
    const cJSON *src_entries = spec->source_entries;
    if (!src_entry && cJSON_IsString(src_entries) && *src_entries->valuestring)
        entry = src_entries->valuestring;
    else if (!src_entry && cJSON_IsObject(src_entries)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(src_entries, dialect);
        if (!cJSON_IsString(e))
            e = cJSON_GetObjectItemCaseSensitive(src_entries, wl->kernel);
        if (cJSON_IsString(e) && *e->valuestring)
            entry = e->valuestring;
    }
    c->entry = entry;
    int rc;
    if (spec->source_text) {
        c->source = fw_strdup(spec->source_text);
        if (!c->source)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
    } else {
        if (!fam->source)
            return fw_errf(err, errlen, -EINVAL, "family '%s' has no source", fam->name);
        rc = fam->source(dialect, shape, &c->source, err, errlen);
        if (rc < 0)
            return rc;
    }
    /* Source transforms (spec "binds", variants/fw_transform.h) rewrite this in-memory copy, so the
     * hash below is the transformed text's; bound knobs are not passed as macros. */
    fw_point mpoint;
    rc = fw_transform_render(spec->json, &item->point, &c->source, &mpoint, err, errlen);
    if (rc < 0) {
        fwh_compile_in_release(c);
        return rc;
    }
    fw_hash64_hex(fw_hash64_str(FW_HASH64_INIT, c->source), c->source_hash);
    rc = fw_point_macros_values(&mpoint, spec->aliases, spec->knob_values, &c->macros, &c->nmacros);
    if (rc < 0) {
        fwh_compile_in_release(c);
        return fw_errf(err, errlen, rc, "cannot render the variant's macros");
    }
    rc = fwh_add_macro_object(spec->macros, &c->macros, &c->nmacros, err, errlen);
    if (rc == 0)
        rc = fwh_add_macro_object(wl->shape_macros, &c->macros, &c->nmacros, err, errlen);
    if (rc < 0) {
        fwh_compile_in_release(c);
        return rc;
    }
    c->options = spec->compiler;
    return 0;
}
