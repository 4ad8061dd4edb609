/* Job specs: resolving what a user sent into a complete, validated spec, and hashing it.
 * The resolved spec is self-contained (seed drawn and stored, defaults written out) so that
 * resolving it again gives the same spec, and the same plan, bit for bit. */
#include "fw_job.h"
#include "job_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fw_declarative.h"
#include "fw_family.h"
#include "fw_replay.h"
#include "fw_source.h"
#include "fw_transform.h"
#include "fw_util.h"
#include "fw_config.h"

/* The platform's own GPU API when a spec does not name one (or says "auto"): Metal on macOS
 * (docs/metal.md), OpenCL elsewhere (PoCL runs it on any CPU), and CUDA where this build has no
 * OpenCL (a CUDA-only build for a GPU machine: OpenCL would only answer "not compiled into this
 * worker"). Resolved into the stored spec, so a job keeps its backend on a daemon built otherwise. */
const char *fw_job_default_backend(void)
{
#if defined(__APPLE__)
    return "metal";
#elif !FW_HAVE_OPENCL && FW_HAVE_CUDA
    return "cuda";
#else
    return "opencl";
#endif
}


static const char *const user_fields[] = {
    "profile", "family", "shapes", "space", "presets", "strategy", "budget", "seed", "warmup",
    "iters", "backend", "device", "no_explore", "num_random", "aliases", "macros", "source",
    "options", "binds", "workload", "budget_s", "replay", "knob_values", NULL,
};
/* What a profile may set: a template, never a seed or a device. */
static const char *const profile_fields[] = {
    "name", "description", "family", "shapes", "space", "presets", "strategy", "budget", "warmup",
    "iters", "aliases", "macros", "source", "options", "binds", "workload", NULL,
};
static const char *const device_limits[] = {
    "DEVICE_MAX_THREADS", "DEVICE_SHARED_BYTES", "DEVICE_SIMD_WIDTH", "DEVICE_COMPUTE_UNITS", NULL,
};

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static void join(const char *const *list, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; list[i] && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", list[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* Unknown or repeated keys: cJSON keeps duplicates and lookups take the first, so a repeated key
 * would silently hide what the user wrote second. */
static int check_fields(const cJSON *obj, const char *const *known, const char *where, char *err,
                        size_t errlen)
{
    const cJSON *it, *jt;
    cJSON_ArrayForEach(it, obj) {
        if (!in_list(known, it->string)) {
            char k[512];
            join(known, k, sizeof k);
            return fw_errf(err, errlen, -EINVAL, "unknown field '%s' in %s (known: %s)", it->string, where, k);
        }
        for (jt = it->next; jt; jt = jt->next)
            if (strcmp(it->string, jt->string) == 0)
                return fw_errf(err, errlen, -EINVAL, "field '%s' appears twice in %s", it->string, where);
    }
    return 0;
}

static int get_int(const cJSON *v, const char *field, int64_t lo, int64_t hi, int64_t *out, char *err,
                   size_t errlen)
{
    int64_t x;
    if (!fw_variants_json_int(v, &x))
        return fw_errf(err, errlen, -EINVAL, "\"%s\" must be an integer", field);
    if (x < lo || x > hi) {
        if (x > hi && strcmp(field, "budget") == 0)
            return fw_errf(err, errlen, -EINVAL, "budget %" PRId64 " is over the limit of %" PRId64, x, hi);
        return fw_errf(err, errlen, -EINVAL, "\"%s\" is %" PRId64 "; it must be between %" PRId64 " and %" PRId64,
                       field, x, lo, hi);
    }
    *out = x;
    return 0;
}

static uint64_t draw_seed(void)
{
    uint64_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, &s, sizeof s);
        close(fd);
        if (r == (ssize_t)sizeof s)
            return s & (uint64_t)FW_SPEC_SEED_MAX;
    }
    /* No urandom (a chroot?): still a fresh seed, and it is stored either way. */
    char buf[64];
    snprintf(buf, sizeof buf, "%" PRIu64 ":%ld", fw_now_ns(), (long)getpid());
    return fw_hash64_str(FW_HASH64_INIT, buf) & (uint64_t)FW_SPEC_SEED_MAX;
}

typedef struct names_check {
    const fw_space *space;
    const cJSON *shapes;
    size_t ci;
    int rc;
    char *err;
    size_t errlen;
} names_check;

static void check_name(const char *name, void *vctx)
{
    names_check *c = vctx;
    if (c->rc)
        return;
    for (size_t k = 0; k < c->space->nknobs; k++)
        if (strcmp(c->space->knobs[k].name, name) == 0)
            return;
    if (strncmp(name, "DEVICE_", 7) == 0) {
        if (in_list(device_limits, name))
            return;
        char k[256];
        join(device_limits, k, sizeof k);
        c->rc = fw_errf(c->err, c->errlen, -EINVAL, "constraint %zu '%s' uses '%s', which is not a device limit (known: %s)",
                        c->ci, c->space->constraint_text[c->ci], name, k);
        return;
    }
    int si = 0;
    const cJSON *sh;
    cJSON_ArrayForEach(sh, c->shapes) {
        int64_t v;
        if (!fw_variants_json_int(cJSON_GetObjectItemCaseSensitive(sh, name), &v)) {
            c->rc = fw_errf(c->err, c->errlen, -EINVAL,
                            "constraint %zu '%s' uses '%s', which is not a knob, a device limit, or an integer "
                            "field of every shape (shape %d has no such field)",
                            c->ci, c->space->constraint_text[c->ci], name, si);
            return;
        }
        si++;
    }
}

static const cJSON *pick(const cJSON *user, const cJSON *prof, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(user, field);
    if (v)
        return v;
    return prof ? cJSON_GetObjectItemCaseSensitive(prof, field) : NULL;
}

static int add_dup(cJSON *obj, const char *name, const cJSON *v)
{
    cJSON *d = cJSON_Duplicate(v, 1);
    if (!d || !cJSON_AddItemToObject(obj, name, d)) {
        cJSON_Delete(d);
        return -ENOMEM;
    }
    return 0;
}

/* A declarative workload (issue 12) comes with the user's source and entry; its own fields are checked
 * by kernels/declarative against the shapes and knobs. */
static int decl_check(const cJSON *workload, const fw_family *fam, const cJSON *source, const cJSON *shapes,
                      const fw_space *space, char *err, size_t errlen)
{
    int decl = strcmp(fam->name, FW_DECL_FAMILY) == 0;
    if (workload && !decl)
        return fw_errf(err, errlen, -EINVAL, "\"workload\" describes a user kernel's arguments; family '%s' has its "
                       "own: drop \"family\" or \"workload\"", fam->name);
    if (!decl)
        return 0;
    if (!cJSON_IsObject(workload))
        return fw_errf(err, errlen, -EINVAL, "family '%s' needs a \"workload\" object (docs/spec.md, "
                       "\"Declarative workloads\")", FW_DECL_FAMILY);
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(source, "entry");
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(source, "text")) || !cJSON_IsString(entry))
        return fw_errf(err, errlen, -EINVAL, "a \"workload\" needs a \"source\" with \"text\" and \"entry\" "
                       "(the CLI's --source FILE --entry NAME)");
    return fw_decl_check(workload, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(source, "text")), shapes,
                         space, err, errlen);
}

static int strategy_known(const char *name)
{
    if (strcmp(name, "grid") == 0 || strcmp(name, "presets") == 0)
        return 1;
    for (size_t i = 0; fw_strategy_names[i]; i++)
        if (strcmp(name, fw_strategy_names[i]) == 0)
            return 1;
    return 0;
}

size_t fw_seq_default_ask_ahead(int64_t budget)
{
    if (budget <= 0)
        return FW_SEQ_ASK_AHEAD_BIG;
    if (budget <= 100)
        return FW_SEQ_ASK_AHEAD_DEFAULT;
    int64_t a = FW_SEQ_ASK_AHEAD_DEFAULT + (budget - 100) / 8;
    return a > FW_SEQ_ASK_AHEAD_BIG ? FW_SEQ_ASK_AHEAD_BIG : (size_t)a;
}

/* A learning strategy's options.ask_ahead (the interleaving of asks and tells, fw_job.h) is written
 * into the resolved spec, so a later default cannot change a stored job's sequence. Fixed orders
 * ignore results and get none (their stored specs, every job before the learning strategies, keep
 * their bytes and hashes), unless the spec has a time budget: where it ends a shape depends on A. */
static int resolve_ask_ahead(cJSON *out, const char *strategy, int64_t budget, int timed, char *err,
                             size_t errlen)
{
    cJSON *op = cJSON_GetObjectItemCaseSensitive(out, "options");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(op, "ask_ahead");
    int64_t v;
    int rc;
    if (ja && (rc = fw_job_ask_ahead_value(ja, &v, err, errlen)) < 0)
        return rc;
    if (ja || (!timed && (strcmp(strategy, "grid") == 0 || strcmp(strategy, "presets") == 0 ||
                          strcmp(strategy, "random") == 0)))
        return 0;
    if (!op && !(op = cJSON_AddObjectToObject(out, "options")))
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    if (!cJSON_AddNumberToObject(op, "ask_ahead", (double)fw_seq_default_ask_ahead(budget)))
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    return 0;
}

/* "budget_s": the time budget of each shape (seconds of the evaluations' eval_ms, a number above 0,
 * at most a week; fw_spec_budget_s), kept in the resolved spec when given. Absent in every older
 * spec, so their hashes are unchanged. */
static int resolve_budget_s(const cJSON *user, cJSON *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(user, "budget_s");
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 604800)
        return fw_errf(err, errlen, -EINVAL, "\"budget_s\" must be a number of seconds above 0 and at most a "
                       "week (604800)");
    if (!cJSON_AddNumberToObject(out, "budget_s", v->valuedouble))
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    return 0;
}

/* What fw_spec_resolve's stages share: the inputs they read, what each one resolves for the next,
 * and what the single cleanup path at its end frees. */
typedef struct resolve_ctx {
    const cJSON *user;      /* the user's spec, or the replayed one that replaces it */
    cJSON *replayed, *prof, *defaults, *presets;
    const cJSON *profile, *shapes, *aliases, *macros, *source, *binds, *workload, *options;
    cJSON *knob_values;     /* {"KNOB": [texts]} of knobs listed by non-integer values (knob_values.c) */
    const fw_family *fam;
    fw_space space;
    int have_space, space_default, npresets;
    fw_point fixed;   /* family knobs a given space left out, fixed to one value (see Space) */
    const char *strategy, *backend;
    int64_t budget, seed, warmup, iters, device;
    char *err;
    size_t errlen;
} resolve_ctx;

static int resolve_profile(resolve_ctx *c)
{
    c->profile = cJSON_GetObjectItemCaseSensitive(c->user, "profile");
    if (!c->profile)
        return 0;
    if (!cJSON_IsString(c->profile))
        return fw_errf(c->err, c->errlen, -EINVAL, "\"profile\" must be a profile name (a string)");
    const char *text = fw_profile_json(c->profile->valuestring);
    if (!text) {
        char k[512];
        join(fw_profile_names(), k, sizeof k);
        return fw_errf(c->err, c->errlen, -EINVAL, "unknown profile '%s' (known: %s)", c->profile->valuestring, k);
    }
    c->prof = cJSON_Parse(text);
    if (!cJSON_IsObject(c->prof))
        return fw_errf(c->err, c->errlen, -EIO, "profile '%s' is not a valid JSON object (a build problem: "
                       "check variants/profiles/)", c->profile->valuestring);
    char where[128];
    snprintf(where, sizeof where, "profile '%s'", c->profile->valuestring);
    return check_fields(c->prof, profile_fields, where, c->err, c->errlen);
}

/* The family (named, implied by a user source or a workload) and its defaults. */
static int resolve_family(resolve_ctx *c)
{
    const cJSON *user = c->user, *prof = c->prof;
    char *err = c->err;
    size_t errlen = c->errlen;
    const cJSON *family = pick(user, prof, "family");
    if (!family)   /* a user kernel names the family whose binding layout it follows (issue 6) */
        family = cJSON_GetObjectItemCaseSensitive(pick(user, prof, "source"), "workload");
    static const cJSON decl_name = {.type = cJSON_String, .valuestring = FW_DECL_FAMILY};
    if (!family && cJSON_IsObject(pick(user, prof, "workload")))
        family = &decl_name;   /* a "workload" object and no family: the declarative family (issue 12) */
    if (!family && pick(user, prof, "source"))   /* a kernel of one's own, nothing saying how to run it */
        return fw_errf(err, errlen, -EINVAL,
                       "the spec has a source but no \"workload\" saying how to run it: add a \"workload\" object "
                       "(its buffers, launch geometry and output check; docs/spec.md, section \"Declarative "
                       "workloads\"), as the five specs in examples/ do (`fairway tune --spec examples/vadd/spec.json`), "
                       "and pass it with --spec FILE; or name the family whose layout the kernel follows, "
                       "\"source\": {\"workload\": \"gemm\"} (docs/own-kernel.md)");
    if (!family)
        return fw_errf(err, errlen, -EINVAL, "the job spec needs a \"family\" or a \"profile\" (or, for a kernel of "
                       "your own, a \"source\" and a \"workload\": docs/spec.md)");
    if (!cJSON_IsString(family))
        return fw_errf(err, errlen, -EINVAL, "\"family\" must be a family name (a string)");
    const fw_family *fam = c->fam = fw_family_find(family->valuestring);
    if (!fam) {
        char k[512] = "";
        const fw_family *const *all = fw_families();
        const char *nm[32];
        size_t n = 0;
        for (; all[n] && n < 31; n++)
            nm[n] = all[n]->name;
        nm[n] = NULL;
        join(nm, k, sizeof k);
        return fw_errf(err, errlen, -EINVAL, "unknown family '%s' (known: %s)", family->valuestring, k);
    }
    if (fam->defaults_json) {
        c->defaults = cJSON_Parse(fam->defaults_json);
        if (!cJSON_IsObject(c->defaults))
            return fw_errf(err, errlen, -EIO, "family '%s' has defaults that are not a JSON object (a bug in "
                           "kernels/%s)", fam->name, fam->name);
    }
    return 0;
}

/* Without a user source, a given space may tune only some of the family's knobs: the family's
 * geometry and workload read all of them, so each one left out is fixed to its value in the
 * family's first preset (else the first of its default values) and written into the resolved
 * space. (A user source brings its own knobs.) *dspace is the completed copy. */
static int complete_space(resolve_ctx *c, const cJSON *space_json, cJSON **dspace)
{
    const cJSON *fknobs = cJSON_GetObjectItemCaseSensitive(c->defaults, "knobs");
    const cJSON *preset0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c->defaults, "presets"), 0);
    const cJSON *fk;
    *dspace = cJSON_Duplicate(space_json, 1);
    cJSON *dknobs = cJSON_GetObjectItemCaseSensitive(*dspace, "knobs");
    cJSON_ArrayForEach(fk, fknobs) {
        if (cJSON_GetObjectItemCaseSensitive(dknobs, fk->string))
            continue;
        const cJSON *pv = cJSON_GetObjectItemCaseSensitive(preset0, fk->string);
        const cJSON *val = cJSON_IsNumber(pv) ? pv : cJSON_GetArrayItem(fk, 0);
        cJSON *one = cJSON_CreateArray();
        if (!val || !one || !cJSON_AddItemToArray(one, cJSON_CreateNumber(val->valuedouble)) ||
            !cJSON_AddItemToObject(dknobs, fk->string, one) ||
            fw_point_set(&c->fixed, fk->string, (int64_t)val->valuedouble) < 0) {
            cJSON_Delete(one);
            cJSON_Delete(*dspace);
            *dspace = NULL;
            return fw_errf(c->err, c->errlen, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* Space: a given space replaces the family's whole default space (knobs and constraints), since
 * default constraints name default knobs. Family presets only apply to the family's space. */
static int resolve_space(resolve_ctx *c)
{
    const cJSON *space_json = pick(c->user, c->prof, "space");
    cJSON *dspace = NULL, *indexed = NULL;
    int rc = fw_spec_knob_values(space_json, cJSON_GetObjectItemCaseSensitive(c->user, "knob_values"), &indexed,
                                 &c->knob_values, c->err, c->errlen);
    if (rc < 0)
        return rc;
    if (indexed)
        space_json = indexed;   /* tuned by index; the values' texts are the macros */
    if (!space_json) {
        const cJSON *dk = cJSON_GetObjectItemCaseSensitive(c->defaults, "knobs");
        if (!dk)
            return fw_errf(c->err, c->errlen, -EINVAL, "family '%s' has no default space: give \"space\": "
                           "{\"knobs\": {...}, \"constraints\": [...]}", c->fam->name);
        dspace = cJSON_CreateObject();
        const cJSON *dc = cJSON_GetObjectItemCaseSensitive(c->defaults, "constraints");
        if (!dspace || add_dup(dspace, "knobs", dk) < 0 || (dc && add_dup(dspace, "constraints", dc) < 0)) {
            cJSON_Delete(dspace);
            return fw_errf(c->err, c->errlen, -ENOMEM, "out of memory");
        }
        space_json = dspace;
        c->space_default = 1;
    } else if (!pick(c->user, c->prof, "source") &&
               cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(c->defaults, "knobs")) && cJSON_IsObject(space_json) &&
               cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(space_json, "knobs")) > 0) {
        if ((rc = complete_space(c, space_json, &dspace)) < 0) {
            cJSON_Delete(indexed);
            return rc;
        }
        space_json = dspace;
    }
    char serr[400];
    rc = fw_space_from_json(space_json, &c->space, serr, sizeof serr);
    cJSON_Delete(dspace);
    cJSON_Delete(indexed);
    if (rc < 0) {
        fw_errf(c->err, c->errlen, rc, "space: %s", serr);
        return rc;
    }
    c->have_space = 1;
    uint64_t size = fw_space_size(&c->space);
    if (size > FW_SPEC_MAX_SPACE && !c->replayed)   /* a recorded space's points are listed, never walked */
        return fw_errf(c->err, c->errlen, -E2BIG, "the space has %" PRIu64 " points before constraints, over the "
                       "limit of %d: shorten the knobs' value lists", size, FW_SPEC_MAX_SPACE);
    return 0;
}

static int resolve_shapes(resolve_ctx *c)
{
    char *err = c->err;
    size_t errlen = c->errlen;
    const cJSON *v, *shapes = c->shapes = pick(c->user, c->prof, "shapes");
    if (!shapes)
        shapes = c->shapes = cJSON_GetObjectItemCaseSensitive(c->defaults, "shapes");
    if (!shapes)
        return fw_errf(err, errlen, -EINVAL, "the job spec needs \"shapes\" (family '%s' has no default shapes)",
                       c->fam->name);
    if (!cJSON_IsArray(shapes))
        return fw_errf(err, errlen, -EINVAL, "\"shapes\" must be a list of shape objects");
    int nshapes = cJSON_GetArraySize(shapes);
    if (nshapes < 1 || nshapes > FW_SPEC_MAX_SHAPES)
        return fw_errf(err, errlen, -EINVAL, "the job spec has %d shapes; give between 1 and %d", nshapes,
                       FW_SPEC_MAX_SHAPES);
    int si = 0;
    cJSON_ArrayForEach(v, shapes) {
        if (!cJSON_IsObject(v))
            return fw_errf(err, errlen, -EINVAL, "shape %d must be a JSON object of named integers", si);
        if (c->fam->shape_check) {
            char cerr[300];
            int rc = c->fam->shape_check(v, cerr, sizeof cerr);
            if (rc < 0) {
                fw_errf(err, errlen, rc, "shape %d: %s", si, cerr);
                return rc;
            }
        }
        si++;
    }
    /* A knob named like a shape field would shadow the field in every constraint. */
    si = 0;
    cJSON_ArrayForEach(v, shapes) {
        for (size_t k = 0; k < c->space.nknobs; k++)
            if (cJSON_GetObjectItemCaseSensitive(v, c->space.knobs[k].name))
                return fw_errf(err, errlen, -EINVAL, "knob '%s' has the name of a field of shape %d, so "
                               "constraints could not tell them apart: rename the knob (\"aliases\" keeps its "
                               "macro name)", c->space.knobs[k].name, si);
        si++;
    }
    return 0;
}

/* Presets: complete points of the space. */
static int resolve_presets(resolve_ctx *c)
{
    const cJSON *v, *pr = pick(c->user, c->prof, "presets");
    if (!pr && c->space_default)
        pr = cJSON_GetObjectItemCaseSensitive(c->defaults, "presets");
    c->presets = cJSON_CreateArray();
    if (!c->presets)
        return fw_errf(c->err, c->errlen, -ENOMEM, "out of memory");
    if (pr && !cJSON_IsArray(pr))
        return fw_errf(c->err, c->errlen, -EINVAL, "\"presets\" must be a list of knob objects");
    int pi = 0;
    c->npresets = pr ? cJSON_GetArraySize(pr) : 0;
    cJSON_ArrayForEach(v, pr) {
        fw_point p;
        char perr[300];
        int rc = fw_point_from_json(v, &p, perr, sizeof perr);
        for (size_t f = 0; rc == 0 && f < c->fixed.n; f++)   /* a preset need not name a fixed knob */
            if (!fw_point_get(&p, c->fixed.kv[f].name, NULL))
                rc = fw_point_set(&p, c->fixed.kv[f].name, c->fixed.kv[f].value);
        if (rc == 0)
            rc = fw_space_check_point(&c->space, &p, perr, sizeof perr);
        if (rc < 0) {
            fw_errf(c->err, c->errlen, rc, "%s in preset %d", perr, pi);
            return rc;
        }
        cJSON *pj = fw_point_to_json(&p);
        if (!pj)
            return fw_errf(c->err, c->errlen, -ENOMEM, "out of memory");
        cJSON_AddItemToArray(c->presets, pj);
        pi++;
    }
    return 0;
}

/* Strategy and budget, with the old tool's flags mapped onto them. */
static int resolve_strategy(resolve_ctx *c)
{
    const cJSON *user = c->user;
    char *err = c->err;
    size_t errlen = c->errlen;
    const cJSON *ustrat = cJSON_GetObjectItemCaseSensitive(user, "strategy");
    const cJSON *noexp = cJSON_GetObjectItemCaseSensitive(user, "no_explore");
    const cJSON *numr = cJSON_GetObjectItemCaseSensitive(user, "num_random");
    const cJSON *ubudget = cJSON_GetObjectItemCaseSensitive(user, "budget");
    int rc, npresets = c->npresets;
    if (ustrat && !cJSON_IsString(ustrat))
        return fw_errf(err, errlen, -EINVAL, "\"strategy\" must be one of " FW_SPEC_STRATEGIES);
    if (noexp && !cJSON_IsBool(noexp))
        return fw_errf(err, errlen, -EINVAL, "\"no_explore\" must be true or false");
    const char *strategy = NULL;
    int64_t budget = -1;
    if (cJSON_IsTrue(noexp)) {
        if (ustrat && strcmp(ustrat->valuestring, "presets") != 0)
            return fw_errf(err, errlen, -EINVAL, "\"no_explore\": true means strategy \"presets\", but the spec "
                           "asks for \"%s\": drop one of them", ustrat->valuestring);
        strategy = "presets";
    } else if (numr) {
        int64_t n;
        if ((rc = get_int(numr, "num_random", 0, FW_SPEC_MAX_BUDGET, &n, err, errlen)) < 0)
            return rc;
        if (ustrat && strcmp(ustrat->valuestring, "random") != 0)
            return fw_errf(err, errlen, -EINVAL, "\"num_random\" means strategy \"random\", but the spec asks "
                           "for \"%s\": drop one of them", ustrat->valuestring);
        if (ubudget)
            return fw_errf(err, errlen, -EINVAL, "give either \"num_random\" (random variants after the presets) "
                           "or \"budget\" (evaluations per shape), not both");
        strategy = "random";
        budget = n + npresets;
        if (budget > FW_SPEC_MAX_BUDGET)
            return fw_errf(err, errlen, -EINVAL, "budget %" PRId64 " (num_random %" PRId64 " + %d presets) is "
                           "over the limit of %d", budget, n, npresets, FW_SPEC_MAX_BUDGET);
    }
    if (!strategy) {
        const cJSON *s = pick(user, c->prof, "strategy");
        if (s && !cJSON_IsString(s))
            return fw_errf(err, errlen, -EINVAL, "\"strategy\" must be one of " FW_SPEC_STRATEGIES);
        strategy = s ? s->valuestring : FW_SPEC_DEFAULT_STRATEGY;
    }
    c->strategy = strategy;
    if (!strategy_known(strategy))
        return fw_errf(err, errlen, -EINVAL, "unknown strategy '%s' (known: " FW_SPEC_STRATEGIES ")", strategy);
    if (budget < 0) {
        const cJSON *b = pick(user, c->prof, "budget");
        budget = strcmp(strategy, "presets") == 0 ? 0 : FW_SPEC_DEFAULT_BUDGET;
        if (b && (rc = get_int(b, "budget", 0, FW_SPEC_MAX_BUDGET, &budget, err, errlen)) < 0)
            return rc;
    }
    c->budget = budget;
    if (strcmp(strategy, "presets") == 0 && npresets == 0)
        return fw_errf(err, errlen, -EINVAL, "strategy \"presets\" (or no_explore) needs at least one preset, "
                       "and the spec has none");
    return 0;
}

/* Seed (drawn when absent), warmup, iters, device and backend. */
static int resolve_run(resolve_ctx *c)
{
    const cJSON *v, *user = c->user;
    int rc;
    c->warmup = 5;
    c->iters = 20;
    c->device = 0;
    v = cJSON_GetObjectItemCaseSensitive(user, "seed");
    if (v) {
        if ((rc = get_int(v, "seed", 0, FW_SPEC_SEED_MAX, &c->seed, c->err, c->errlen)) < 0)
            return rc;
    } else {
        c->seed = (int64_t)draw_seed();
    }
    if ((v = pick(user, c->prof, "warmup")) &&
        (rc = get_int(v, "warmup", 0, FW_SPEC_WARMUP_MAX, &c->warmup, c->err, c->errlen)) < 0)
        return rc;
    if ((v = pick(user, c->prof, "iters")) &&
        (rc = get_int(v, "iters", 1, FW_SPEC_ITERS_MAX, &c->iters, c->err, c->errlen)) < 0)
        return rc;
    if ((v = cJSON_GetObjectItemCaseSensitive(user, "device")) &&
        (rc = get_int(v, "device", 0, FW_SPEC_DEVICE_MAX, &c->device, c->err, c->errlen)) < 0)
        return rc;
    c->backend = fw_job_default_backend();
    if ((v = cJSON_GetObjectItemCaseSensitive(user, "backend"))) {
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "opencl") != 0 && strcmp(v->valuestring, "cuda") != 0 &&
                                   strcmp(v->valuestring, "metal") != 0 && strcmp(v->valuestring, "auto") != 0 &&
                                   strcmp(v->valuestring, "replay") != 0))
            return fw_errf(c->err, c->errlen, -EINVAL, "\"backend\" must be one of opencl, cuda, metal, replay, auto");
        if (strcmp(v->valuestring, "auto") != 0)
            c->backend = v->valuestring;
    }
    return 0;
}

/* Aliases (knob -> the source's own macro name) and fixed macros (NAME -> integer, passed to every
 * variant). A fixed macro must not collide with a knob's macro, or one of the two -D definitions
 * would silently win. */
static int resolve_macros(resolve_ctx *c)
{
    char *err = c->err;
    size_t errlen = c->errlen;
    const fw_space *space = &c->space;
    const cJSON *v, *aliases = c->aliases = pick(c->user, c->prof, "aliases");
    if (aliases && !cJSON_IsObject(aliases))
        return fw_errf(err, errlen, -EINVAL, "\"aliases\" must be an object {\"KNOB\": \"MACRO_NAME\"}");
    cJSON_ArrayForEach(v, aliases) {
        int known = 0;
        for (size_t k = 0; k < space->nknobs; k++)
            known |= strcmp(space->knobs[k].name, v->string) == 0;
        if (!known)
            return fw_errf(err, errlen, -EINVAL, "alias for unknown knob '%s' (the space's knobs are the only "
                           "names that can be aliased)", v->string);
        if (!cJSON_IsString(v) || !fw_variants_name_ok(v->valuestring))
            return fw_errf(err, errlen, -EINVAL, "alias of knob '%s' must be a macro name (a C identifier)",
                           v->string);
        for (const cJSON *w = aliases->child; w != v; w = w->next)
            if (strcmp(w->valuestring, v->valuestring) == 0)
                return fw_errf(err, errlen, -EINVAL, "knobs '%s' and '%s' both map to macro '%s'", w->string,
                               v->string, v->valuestring);
    }
    const cJSON *macros = c->macros = pick(c->user, c->prof, "macros");
    if (macros && !cJSON_IsObject(macros))
        return fw_errf(err, errlen, -EINVAL, "\"macros\" must be an object {\"NAME\": integer}");
    cJSON_ArrayForEach(v, macros) {
        int64_t x;
        if (!fw_variants_name_ok(v->string) || !fw_variants_json_int(v, &x))
            return fw_errf(err, errlen, -EINVAL, "macro '%s' must be a C identifier with an integer value",
                           v->string);
        for (size_t k = 0; k < space->nknobs; k++) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(aliases, space->knobs[k].name);
            const char *mname = a ? a->valuestring : space->knobs[k].name;
            if (strcmp(mname, v->string) == 0)
                return fw_errf(err, errlen, -EINVAL, "macro '%s' is also the macro of knob '%s': remove it from "
                               "\"macros\"", v->string, space->knobs[k].name);
        }
    }
    return 0;
}

/* The source (a user kernel's, or the family's own), binds, workload and options, then every name
 * the constraints use. */
static int resolve_source(resolve_ctx *c)
{
    char *err = c->err;
    size_t errlen = c->errlen;
    const fw_family *fam = c->fam;
    int rc;
    const cJSON *source = c->source = pick(c->user, c->prof, "source");
    if (source && !cJSON_IsObject(source))
        return fw_errf(err, errlen, -EINVAL, "\"source\" must be an object {\"text\", \"name\", ...}");
    /* Binds: knob -> a constant of the user source whose literal the knob's value replaces, in an
     * in-memory copy (issue 13, variants/fw_transform.h); checked against the source below. */
    const cJSON *binds = c->binds = pick(c->user, c->prof, "binds");
    if (binds && (!source || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(source, "text"))) &&
        (rc = fw_binds_check(NULL, NULL, binds, &c->space, c->aliases, err, errlen)) < 0)
        return rc;
    if (source) {
        /* A user kernel (issue 6): it must follow the job family's binding layout, and every knob's
         * macro (after aliases) must be #ifndef-guarded, or the knob would not reach the code. */
        const cJSON *stext = cJSON_GetObjectItemCaseSensitive(source, "text");
        const cJSON *sname = cJSON_GetObjectItemCaseSensitive(source, "name");
        const cJSON *swl = cJSON_GetObjectItemCaseSensitive(source, "workload");
        if (swl && (!cJSON_IsString(swl) || strcmp(swl->valuestring, fam->name) != 0))
            return fw_errf(err, errlen, -EINVAL, "\"source\".\"workload\" must name the job's family '%s' (the "
                           "family whose buffers, launch geometry and reference the kernel follows)", fam->name);
        if (stext && !cJSON_IsString(stext))
            return fw_errf(err, errlen, -EINVAL, "\"source\".\"text\" must be the kernel source as a string");
        if (stext && (rc = fw_source_check_knobs_binds(stext->valuestring, cJSON_IsString(sname) ? sname->valuestring
                                                       : NULL, &c->space, c->aliases, binds, err, errlen)) < 0)
            return rc;
    }
    if (!source && fam->source) {
        /* The family's own source must take every knob too (GATE_BITS in moe_swiglu is one beyond the
         * default space): the same guard check as a user kernel's, on the family's OpenCL source, so a
         * knob that would reach no code is refused before the job instead of changing nothing. */
        char *text = NULL;
        char serr2[300];
        if (fam->source("opencl", cJSON_GetArrayItem(c->shapes, 0), &text, serr2, sizeof serr2) == 0) {
            rc = fw_source_check_knobs(text, fam->name, &c->space, c->aliases, err, errlen);
            free(text);
            if (rc < 0)
                return rc;
        }
    }
    c->workload = pick(c->user, c->prof, "workload");
    if ((rc = decl_check(c->workload, fam, source, c->shapes, &c->space, err, errlen)) < 0)
        return rc;
    c->options = pick(c->user, c->prof, "options");
    if (c->options && !cJSON_IsObject(c->options))
        return fw_errf(err, errlen, -EINVAL, "\"options\" must be an object");
    /* Every name a constraint uses must exist for every shape, before any job starts. */
    for (size_t ci = 0; ci < c->space.nconstraints; ci++) {
        names_check nc = {.space = &c->space, .shapes = c->shapes, .ci = ci, .err = err, .errlen = errlen};
        fw_expr_names(c->space.constraints[ci], check_name, &nc);
        if (nc.rc < 0)
            return nc.rc;
    }
    return 0;
}

/* The resolved spec, in its fixed field order (the order is part of every stored spec's bytes). */
static int resolve_output(resolve_ctx *c, cJSON **resolved)
{
    char *err = c->err;
    size_t errlen = c->errlen;
    const cJSON *v;
    int rc;
    cJSON *out = cJSON_CreateObject();
    cJSON *sj = fw_space_to_json(&c->space);
    if (!out || !sj) {
        cJSON_Delete(sj);
        cJSON_Delete(out);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    int ok = 1;
    if (c->profile)
        ok &= add_dup(out, "profile", c->profile) == 0;
    ok &= cJSON_AddStringToObject(out, "family", c->fam->name) != NULL;
    ok &= add_dup(out, "shapes", c->shapes) == 0;
    cJSON_AddItemToObject(out, "space", sj);
    if (c->knob_values)   /* only when a knob has non-integer values: other specs' bytes are unchanged */
        ok &= add_dup(out, "knob_values", c->knob_values) == 0;
    cJSON_AddItemToObject(out, "presets", c->presets);
    c->presets = NULL;
    ok &= cJSON_AddStringToObject(out, "strategy", c->strategy) != NULL;
    ok &= cJSON_AddNumberToObject(out, "budget", (double)c->budget) != NULL;
    ok &= cJSON_AddNumberToObject(out, "seed", (double)c->seed) != NULL;
    ok &= cJSON_AddNumberToObject(out, "warmup", (double)c->warmup) != NULL;
    ok &= cJSON_AddNumberToObject(out, "iters", (double)c->iters) != NULL;
    ok &= cJSON_AddStringToObject(out, "backend", c->backend) != NULL;
    ok &= cJSON_AddNumberToObject(out, "device", (double)c->device) != NULL;
    if (c->aliases)
        ok &= add_dup(out, "aliases", c->aliases) == 0;
    else
        ok &= cJSON_AddObjectToObject(out, "aliases") != NULL;
    if (c->macros)
        ok &= add_dup(out, "macros", c->macros) == 0;
    else
        ok &= cJSON_AddObjectToObject(out, "macros") != NULL;
    if (c->source)
        ok &= add_dup(out, "source", c->source) == 0;
    if (c->options)
        ok &= add_dup(out, "options", c->options) == 0;
    if ((ok && (rc = resolve_ask_ahead(out, c->strategy, c->budget, cJSON_HasObjectItem(c->user, "budget_s"),
                                       err, errlen)) < 0) ||
        (ok && (rc = resolve_budget_s(c->user, out, err, errlen)) < 0)) {
        cJSON_Delete(out);
        return rc;
    }
    if (c->binds)
        ok &= add_dup(out, "binds", c->binds) == 0;
    if (c->workload)
        ok &= add_dup(out, "workload", c->workload) == 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(c->user, "replay")))
        ok &= add_dup(out, "replay", v) == 0;
    if (!ok) {
        cJSON_Delete(out);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    *resolved = out;
    return 0;
}

int fw_spec_resolve(const cJSON *user, cJSON **resolved, char *err, size_t errlen)
{
    *resolved = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!cJSON_IsObject(user))
        return fw_errf(err, errlen, -EINVAL, "a job spec must be a JSON object (see docs/spec.md)");
    int rc = check_fields(user, user_fields, "the job spec", err, errlen);
    if (rc < 0)
        return rc;
    resolve_ctx c = {.user = user, .err = err, .errlen = errlen};
    fw_point_clear(&c.fixed);
    /* A recorded space (replay/): its file gives the family, knobs, shape and backend. */
    if ((rc = fw_replay_spec_expand(user, &c.replayed, err, errlen)) < 0)
        return rc;
    if (c.replayed)
        c.user = c.replayed;
    if ((rc = resolve_profile(&c)) < 0 || (rc = resolve_family(&c)) < 0 || (rc = resolve_space(&c)) < 0 ||
        (rc = resolve_shapes(&c)) < 0 || (rc = resolve_presets(&c)) < 0 || (rc = resolve_strategy(&c)) < 0 ||
        (rc = resolve_run(&c)) < 0 || (rc = resolve_macros(&c)) < 0 || (rc = resolve_source(&c)) < 0 ||
        (rc = resolve_output(&c, resolved)) < 0)
        goto done;
    rc = 0;
done:
    cJSON_Delete(c.replayed);
    cJSON_Delete(c.presets);
    cJSON_Delete(c.prof);
    cJSON_Delete(c.defaults);
    cJSON_Delete(c.knob_values);
    if (c.have_space)
        fw_space_release(&c.space);
    return rc;
}

/* Stable insertion sort of every object's members by key, recursively. */
static void sort_keys(cJSON *j)
{
    if (!j)
        return;
    for (cJSON *c = j->child; c; c = c->next)
        sort_keys(c);
    if (!cJSON_IsObject(j) || !j->child)
        return;
    cJSON *sorted = NULL;
    cJSON *c = j->child;
    while (c) {
        cJSON *next = c->next;
        c->prev = c->next = NULL;
        if (!sorted || strcmp(c->string, sorted->string) < 0) {
            c->next = sorted;
            sorted = c;
        } else {
            cJSON *p = sorted;
            while (p->next && strcmp(p->next->string, c->string) <= 0)
                p = p->next;
            c->next = p->next;
            p->next = c;
        }
        c = next;
    }
    /* cJSON keeps child->prev pointing at the last element. */
    cJSON *last = NULL;
    for (cJSON *p = sorted; p; p = p->next) {
        p->prev = last;
        last = p;
    }
    sorted->prev = last;
    j->child = sorted;
}

void fw_spec_hash(const cJSON *resolved, char out[17])
{
    cJSON *copy = cJSON_Duplicate(resolved, 1);
    sort_keys(copy);
    char *text = copy ? cJSON_PrintUnformatted(copy) : NULL;
    fw_hash64_hex(fw_hash64_str(FW_HASH64_INIT, text ? text : ""), out);
    free(text);
    cJSON_Delete(copy);
}

int fw_spec_check_options(const cJSON *user, char *err, size_t errlen)
{
    static const char *const known[] = {"ask_ahead", "compiler", "compile_threads", "early_stop", "finalists",
                                        "finalist_rounds", "finalist_iters", "rotate_buffers",
                                        "flush_cache_mb", "rotate_bytes", "launches_per_sample", "replay_noise",
                                        "verify_on_device", "reference_max_ops",
                                        /* the profiles' own: read by `fairway policy` and the reports */
                                        "policy", "preset_names", NULL};
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(user, "options"), *it;
    if (!cJSON_IsObject(o))
        return 0;   /* fw_spec_resolve says what is wrong with a non-object */
    cJSON_ArrayForEach(it, o) {
        int ok = 0;
        for (size_t i = 0; known[i]; i++)
            ok |= strcmp(known[i], it->string) == 0;
        if (!ok) {
            char list[300] = "";
            size_t off = 0;
            for (size_t i = 0; known[i] && off < sizeof list; i++)
                off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", known[i]);
            return fw_errf(err, errlen, -EINVAL, "unknown option \"%s\" in \"options\" (known: %s; docs/spec.md "
                           "says what each does)", it->string, list);
        }
    }
    return 0;
}

int fw_job_family_source(const char *family, const char *dialect, const cJSON *shape, char **text,
                         char *err, size_t errlen)
{
    const fw_family *fam = family ? fw_family_find(family) : NULL;
    *text = NULL;
    if (!fam || !fam->source)
        return 0;
    return fam->source(dialect, shape, text, err, errlen);
}
