#include "fw_cli.h"
#include "fw_job.h"
#include "fw_util.h"
#include "fw_source.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* JSON numbers are doubles: integers beyond 2^53 would silently change on the way to the daemon. */
#define MAX_EXACT_INT 9007199254740992LL

static int parse_ll(const char *s, long long *out)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || *end || end == s)
        return -EINVAL;
    *out = v;
    return 0;
}

int fw_cli_split_assign(const char *text, char *name, size_t namelen, const char **value,
                        char *err, size_t errlen)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !eq[1])
        return fw_errf(err, errlen, -EINVAL, "'%s' should look like NAME=VALUE", text);
    size_t n = (size_t)(eq - text);
    if (n >= namelen)
        return fw_errf(err, errlen, -EINVAL, "the name in '%s' is longer than %zu characters", text, namelen - 1);
    memcpy(name, text, n);
    name[n] = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
            return fw_errf(err, errlen, -EINVAL, "'%s' is not a valid name (letters, digits and _ only)", name);
    }
    *value = eq + 1;
    return 0;
}

/* A value of a K=V list: a JSON array/object runs to its matching bracket, anything else to the next
 * comma. */
static const char *value_end(const char *p)
{
    if (*p == '[' || *p == '{') {
        int depth = 0;
        int instr = 0;
        for (; *p; p++) {
            if (instr) {
                if (*p == '\\' && p[1])
                    p++;
                else if (*p == '"')
                    instr = 0;
                continue;
            }
            if (*p == '"')
                instr = 1;
            else if (*p == '[' || *p == '{')
                depth++;
            else if ((*p == ']' || *p == '}') && --depth == 0)
                return p + 1;
        }
        return p;
    }
    const char *c = strchr(p, ',');
    return c ? c : p + strlen(p);
}

int fw_cli_parse_kv_object(const char *text, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!text || !*text)
        return fw_errf(err, errlen, -EINVAL, "an empty shape: write it as K=V,... (for example M=256,N=256,K=256)");
    cJSON *obj = cJSON_CreateObject();
    const char *p = text;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *comma = strchr(p, ',');
        if (!eq || (comma && comma < eq) || eq == p) {
            cJSON_Delete(obj);
            return fw_errf(err, errlen, -EINVAL, "'%s': each entry should be NAME=VALUE, separated by commas", text);
        }
        char name[64];
        size_t nl = (size_t)(eq - p);
        if (nl >= sizeof name) {
            cJSON_Delete(obj);
            return fw_errf(err, errlen, -EINVAL, "'%s': a name is too long", text);
        }
        memcpy(name, p, nl);
        name[nl] = 0;
        const char *v = eq + 1;
        const char *ve = value_end(v);
        if (ve == v) {
            cJSON_Delete(obj);
            return fw_errf(err, errlen, -EINVAL, "'%s': %s has no value", text, name);
        }
        if (cJSON_GetObjectItemCaseSensitive(obj, name)) {
            cJSON_Delete(obj);
            return fw_errf(err, errlen, -EINVAL, "'%s': %s is given twice", text, name);
        }
        char *vs = strndup(v, (size_t)(ve - v));
        long long iv;
        cJSON *item;
        if (parse_ll(vs, &iv) == 0) {
            if (iv > MAX_EXACT_INT || iv < -MAX_EXACT_INT) {
                free(vs);
                cJSON_Delete(obj);
                return fw_errf(err, errlen, -ERANGE, "'%s': %s is too large", text, name);
            }
            item = cJSON_CreateNumber((double)iv);
        } else if (vs[0] == '[' || vs[0] == '{') {
            item = cJSON_Parse(vs);
            if (!item) {
                cJSON_Delete(obj);
                fw_errf(err, errlen, -EINVAL, "'%s': the value of %s is not valid JSON", text, name);
                free(vs);
                return -EINVAL;
            }
        } else {
            item = cJSON_CreateString(vs);
        }
        free(vs);
        cJSON_AddItemToObject(obj, name, item);
        p = ve;
        if (*p == ',') {
            p++;
            if (!*p) {
                cJSON_Delete(obj);
                return fw_errf(err, errlen, -EINVAL, "'%s' ends with a comma", text);
            }
        } else if (*p) {
            cJSON_Delete(obj);
            return fw_errf(err, errlen, -EINVAL, "'%s': expected a comma after the value of %s", text, name);
        }
    }
    *out = obj;
    return 0;
}

int fw_cli_parse_knob(const char *text, char *name, size_t namelen, cJSON **values,
                      char *err, size_t errlen)
{
    *values = NULL;
    const char *v;
    int rc = fw_cli_split_assign(text, name, namelen, &v, err, errlen);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "--knob '%s' should look like NAME=v1,v2,... (for example TILE_N=32,64,128)", text);
    cJSON *arr = cJSON_CreateArray();
    const char *p = v;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        char buf[32];
        long long iv;
        if (n == 0 || n >= sizeof buf) {
            cJSON_Delete(arr);
            return fw_errf(err, errlen, -EINVAL, "--knob '%s': empty or overlong value", text);
        }
        memcpy(buf, p, n);
        buf[n] = 0;
        if (parse_ll(buf, &iv) < 0 || iv > MAX_EXACT_INT || iv < -MAX_EXACT_INT) {
            cJSON_Delete(arr);
            return fw_errf(err, errlen, -EINVAL, "--knob '%s': '%s' is not an integer (knobs take integer values)", text, buf);
        }
        cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            if ((long long)it->valuedouble == iv) {
                cJSON_Delete(arr);
                return fw_errf(err, errlen, -EINVAL, "--knob '%s': %lld is listed twice", text, iv);
            }
        }
        cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)iv));
        p += n;
        if (*p == ',') {
            p++;
            if (!*p) {
                cJSON_Delete(arr);
                return fw_errf(err, errlen, -EINVAL, "--knob '%s' ends with a comma", text);
            }
        }
    }
    *values = arr;
    return 0;
}

void fw_cli_spec_flags_init(fw_cli_spec_flags *f)
{
    memset(f, 0, sizeof *f);
    f->num_random = f->random_seed = f->warmup = f->iters = f->device = f->budget = -1;
}

void fw_cli_spec_flags_release(fw_cli_spec_flags *f)
{
    cJSON_Delete(f->shapes);
    cJSON_Delete(f->knobs);
    cJSON_Delete(f->constraints);
    cJSON_Delete(f->aliases);
    cJSON_Delete(f->macros);
    cJSON_Delete(f->binds);
    cJSON_Delete(f->devices);
    fw_cli_spec_flags_init(f);
}

static int count_flag(const char *name, const char *arg, long long min, long long max, long long *out,
                      char *err, size_t errlen)
{
    long long v;
    if (parse_ll(arg, &v) < 0)
        return fw_errf(err, errlen, -EINVAL, "--%s expects an integer, not '%s'", name, arg ? arg : "");
    if (v < min || v > max)
        return fw_errf(err, errlen, -ERANGE, "--%s %lld is out of range (%lld to %lld)", name, v, min, max);
    *out = v;
    return 0;
}

/* --devices 0,1 (indices within the backend) or --devices all: the spec's "devices" (docs/spec.md). */
static int devices_flag(fw_cli_spec_flags *f, const char *arg, char *err, size_t errlen)
{
    cJSON_Delete(f->devices);
    f->devices = NULL;
    if (arg && !strcmp(arg, "all")) {
        f->devices = cJSON_CreateString("all");
        return 1;
    }
    cJSON *arr = cJSON_CreateArray();
    const char *p = arg ? arg : "";
    do {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || (*end == ',' && !end[1]) || v < 0 || v > 1023) {
            cJSON_Delete(arr);
            return fw_errf(err, errlen, -EINVAL, "--devices expects device indices separated by commas (0,1) or "
                           "'all', not '%s'", arg ? arg : "");
        }
        cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)v));
        p = *end ? end + 1 : end;
    } while (*p);
    f->devices = arr;
    return 1;
}

static cJSON *ensure_object(cJSON **slot)
{
    if (!*slot)
        *slot = cJSON_CreateObject();
    return *slot;
}

int fw_cli_spec_flag(fw_cli_spec_flags *f, const char *name, const char *arg, char *err, size_t errlen)
{
    int rc;
    if (!strcmp(name, "spec")) {
        f->spec_file = arg;
    } else if (!strcmp(name, "profile")) {
        f->profile = arg;
    } else if (!strcmp(name, "family")) {
        f->family = arg;
    } else if (!strcmp(name, "strategy")) {
        int known = !strcmp(arg, "grid") || !strcmp(arg, "presets");
        for (size_t i = 0; fw_strategy_names[i]; i++)
            known |= !strcmp(arg, fw_strategy_names[i]);
        if (!known)
            return fw_errf(err, errlen, -EINVAL, "--strategy '%s' is not known (known: " FW_SPEC_STRATEGIES
                           "; `fairway strategies` says what each does)", arg);
        f->strategy = arg;
    } else if (!strcmp(name, "backend")) {
        f->backend = arg;
    } else if (!strcmp(name, "source")) {
        f->source_file = arg;
    } else if (!strcmp(name, "entry")) {
        f->entry = arg;
    } else if (!strcmp(name, "replay")) {
        f->replay_file = arg;
    } else if (!strcmp(name, "replay-noise")) {
        char *end;
        double r = arg ? strtod(arg, &end) : -1;
        if (!arg || end == arg || *end || !(r >= 0 && r <= 1))
            return fw_errf(err, errlen, -EINVAL, "--replay-noise expects a relative standard deviation from 0 to 1 "
                           "(e.g. 0.02), not '%s'", arg ? arg : "");
        f->replay_noise = arg;
    } else if (!strcmp(name, "num-random")) {
        return count_flag(name, arg, 0, 100000, &f->num_random, err, errlen) < 0 ? -EINVAL : 1;
    } else if (!strcmp(name, "random-seed")) {
        return count_flag(name, arg, 0, MAX_EXACT_INT - 1, &f->random_seed, err, errlen) < 0 ? -EINVAL : 1;
    } else if (!strcmp(name, "warmup")) {
        return count_flag(name, arg, 0, 10000, &f->warmup, err, errlen) < 0 ? -EINVAL : 1;
    } else if (!strcmp(name, "iters")) {
        return count_flag(name, arg, 1, 100000, &f->iters, err, errlen) < 0 ? -EINVAL : 1;
    } else if (!strcmp(name, "device")) {
        return count_flag(name, arg, 0, 1023, &f->device, err, errlen) < 0 ? -EINVAL : 1;
    } else if (!strcmp(name, "devices")) {
        return devices_flag(f, arg, err, errlen);
    } else if (!strcmp(name, "budget")) {
        return count_flag(name, arg, 0, 100000, &f->budget, err, errlen) < 0 ? -EINVAL : 1;
    } else if (!strcmp(name, "budget-s")) {
        char *end;
        double b = arg ? strtod(arg, &end) : -1;
        if (!arg || end == arg || *end || !(b > 0 && b <= 604800))
            return fw_errf(err, errlen, -EINVAL, "--budget-s expects seconds per shape above 0 and at most a week "
                           "(604800), e.g. 600, not '%s'", arg ? arg : "");
        f->budget_s = b;
    } else if (!strcmp(name, "no-explore")) {
        f->no_explore = 1;
    } else if (!strcmp(name, "shape")) {
        cJSON *shape;
        rc = fw_cli_parse_kv_object(arg, &shape, err, errlen);
        if (rc < 0)
            return rc;
        if (!f->shapes)
            f->shapes = cJSON_CreateArray();
        cJSON_AddItemToArray(f->shapes, shape);
    } else if (!strcmp(name, "knob")) {
        char kn[64];
        cJSON *vals;
        rc = fw_cli_parse_knob(arg, kn, sizeof kn, &vals, err, errlen);
        if (rc < 0)
            return rc;
        cJSON *k = ensure_object(&f->knobs);
        if (cJSON_GetObjectItemCaseSensitive(k, kn)) {
            cJSON_Delete(vals);
            return fw_errf(err, errlen, -EINVAL, "--knob %s is given twice; list all its values in one flag", kn);
        }
        cJSON_AddItemToObject(k, kn, vals);
    } else if (!strcmp(name, "constraint")) {
        if (!arg || !*arg)
            return fw_errf(err, errlen, -EINVAL, "--constraint needs an expression, e.g. 'TILE_N %% 32 == 0'");
        if (!f->constraints)
            f->constraints = cJSON_CreateArray();
        cJSON_AddItemToArray(f->constraints, cJSON_CreateString(arg));
    } else if (!strcmp(name, "bind")) {
        /* --bind KNOB=CONSTANT: the knob's value replaces that constant's literal (docs/transforms.md). */
        char kn[64];
        const char *v;
        if ((rc = fw_cli_split_assign(arg, kn, sizeof kn, &v, err, errlen)) < 0)
            return fw_errf(err, errlen, rc, "--bind '%s' should look like KNOB=CONSTANT (e.g. TILE_N=MOE_TILE_N)", arg);
        cJSON_DeleteItemFromObjectCaseSensitive(ensure_object(&f->binds), kn);
        cJSON_AddStringToObject(f->binds, kn, v);
    } else if (!strcmp(name, "alias") || !strcmp(name, "macro")) {
        char kn[64];
        const char *v;
        rc = fw_cli_split_assign(arg, kn, sizeof kn, &v, err, errlen);
        if (rc < 0)
            return fw_errf(err, errlen, rc, "--%s '%s' should look like %s", name, arg,
                           name[0] == 'a' ? "KNOB=MACRO (e.g. TILE_N=MOE_TILE_N)" : "NAME=VALUE (e.g. HIDDEN=2048)");
        /* Fixed macros are integers in the spec (docs/spec.md); check before touching the object. */
        long long iv = 0;
        if (name[0] == 'm' && (parse_ll(v, &iv) < 0 || iv > MAX_EXACT_INT - 1 || iv < -(MAX_EXACT_INT - 1)))
            return fw_errf(err, errlen, -EINVAL, "--macro %s: '%s' is not an integer (fixed macros take integer values)", kn, v);
        cJSON *o = ensure_object(name[0] == 'a' ? &f->aliases : &f->macros);
        cJSON_DeleteItemFromObjectCaseSensitive(o, kn);
        if (name[0] == 'a')
            cJSON_AddStringToObject(o, kn, v);
        else
            cJSON_AddNumberToObject(o, kn, (double)iv);
    } else {
        return 0;
    }
    return 1;
}

int fw_cli_source_load(const char *path, char **text, char *err, size_t errlen)
{
    /* A user kernel that #includes its own headers must reach the daemon as one text, because the
     * daemon and worker never read the user's files: local includes are inlined relative to the
     * including file, with #line markers, and the files on disk are only read (fw_source.h). */
    char ierr[768];
    int rc = fw_source_inline_file(path, text, ierr, sizeof ierr);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "cannot read --source %s: %s", path, ierr);
    return 0;
}

static void set_item(cJSON *o, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(o, key))
        cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
    else
        cJSON_AddItemToObject(o, key, v);
}

static cJSON *child_object(cJSON *o, const char *key)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsObject(c)) {
        c = cJSON_CreateObject();
        set_item(o, key, c);
    }
    return c;
}

static void merge_object(cJSON *dst, const cJSON *src)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, src) set_item(dst, it->string, cJSON_Duplicate(it, 1));
}

/* A spec file's "source": {"file": "vadd.cl", ...} names the kernel relative to the spec's own folder
 * (examples/NAME/spec.json); the CLI sends its text, as for --source, and drops "file". */
static int source_file_inline(cJSON *spec, const char *spec_path, char *err, size_t errlen)
{
    cJSON *src = cJSON_GetObjectItemCaseSensitive(spec, "source");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(src, "file");
    if (!file)
        return 0;
    if (!cJSON_IsString(file) || cJSON_GetObjectItemCaseSensitive(src, "text"))
        return fw_errf(err, errlen, -EINVAL, "--spec %s: \"source\".\"file\" must be a file name, without \"text\"",
                       spec_path);
    const char *slash = strrchr(spec_path, '/');
    char path[4096];
    if (file->valuestring[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", file->valuestring);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - spec_path), spec_path, file->valuestring);
    char *text;
    int rc = fw_cli_source_load(path, &text, err, errlen);
    if (rc < 0)
        return rc;
    const char *base = strrchr(path, '/');
    set_item(src, "text", cJSON_CreateString(text));
    free(text);
    if (!cJSON_GetObjectItemCaseSensitive(src, "name"))
        cJSON_AddStringToObject(src, "name", base ? base + 1 : path);
    cJSON_DeleteItemFromObjectCaseSensitive(src, "file");
    return 0;
}

/* --replay FILE: the recorded space by its absolute path (the daemon's working directory is not
 * ours), measured by backend replay; --replay-noise R: options.replay_noise. */
static int replay_flags(cJSON *spec, const fw_cli_spec_flags *f, char *err, size_t errlen)
{
    if (f->replay_file) {
        char abs[PATH_MAX];
        if (!realpath(f->replay_file, abs))
            return fw_errf(err, errlen, -errno, "cannot read --replay %s: %s", f->replay_file, strerror(errno));
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "file", abs);
        set_item(spec, "replay", r);
        set_item(spec, "backend", cJSON_CreateString("replay"));
    }
    if (f->replay_noise)
        set_item(child_object(spec, "options"), "replay_noise", cJSON_CreateNumber(strtod(f->replay_noise, NULL)));
    return 0;
}

/* A spec file's "replay": {"file": NAME} is relative to the spec's folder, like "source"."file"; the
 * daemon gets the absolute path (its working directory is not ours). */
static int replay_file_abs(cJSON *spec, const char *spec_path, char *err, size_t errlen)
{
    cJSON *r = cJSON_GetObjectItemCaseSensitive(spec, "replay");
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(r, "file");
    if (!cJSON_IsString(file))
        return 0;
    const char *slash = strrchr(spec_path, '/');
    char path[4096], abs[PATH_MAX];
    if (file->valuestring[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", file->valuestring);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - spec_path), spec_path, file->valuestring);
    if (!realpath(path, abs))
        return fw_errf(err, errlen, -errno, "--spec %s: cannot read its \"replay\" file %s: %s", spec_path, path,
                       strerror(errno));
    cJSON_ReplaceItemInObjectCaseSensitive(r, "file", cJSON_CreateString(abs));
    return 0;
}

/* A declarative workload's "expected" files ({"name": "c", "dir": "out", "expected": "c_{n}.bin"}) are
 * relative to the spec's folder, like "source"."file"; the daemon and the worker get them absolute. The
 * name may hold {FIELD} templates, so only the folder is resolved here. */
static int expected_files_abs(cJSON *spec, const char *spec_path, char *err, size_t errlen)
{
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "workload"), "args");
    const char *slash = strrchr(spec_path, '/');
    char dir[4096], abs[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - spec_path) : 1, slash ? spec_path : ".");
    for (cJSON *a = args ? args->child : NULL; a; a = a->next) {
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(a, "expected");
        if (!cJSON_IsString(ex) || ex->valuestring[0] == '/')
            continue;
        if (!realpath(dir[0] ? dir : "/", abs))
            return fw_errf(err, errlen, -errno, "--spec %s: cannot resolve its folder: %s", spec_path, strerror(errno));
        char path[PATH_MAX + 4096];
        snprintf(path, sizeof path, "%s/%s", abs, ex->valuestring);
        cJSON_ReplaceItemInObjectCaseSensitive(a, "expected", cJSON_CreateString(path));
    }
    return 0;
}

int fw_cli_spec_build(const fw_cli_spec_flags *f, cJSON **out, char *err, size_t errlen)
{
    *out = NULL;
    cJSON *spec;
    if (f->spec_file) {
        char *text = NULL;
        size_t n;
        char rerr[256];
        int rc = fw_read_file(f->spec_file, &text, &n, rerr, sizeof rerr);
        if (rc < 0)
            return fw_errf(err, errlen, rc, "cannot read --spec %s: %s", f->spec_file, rerr);
        const char *end = NULL;
        spec = cJSON_ParseWithLengthOpts(text, n, &end, 0);
        if (!spec) {   /* where the parser stopped, as line:column, for the user's editor */
            size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
            int line = 1, col = 1;
            for (size_t i = 0; i < at; i++, col++)
                if (text[i] == '\n') {
                    line++;
                    col = 0;
                }
            free(text);
            return fw_errf(err, errlen, -EINVAL, "--spec %s is not valid JSON (the parser stopped at line %d, "
                           "column %d%s)", f->spec_file, line, col, at + 1 >= n ? ", the end of the file: is it cut short?" : "");
        }
        free(text);
        if (!cJSON_IsObject(spec)) {
            cJSON_Delete(spec);
            return fw_errf(err, errlen, -EINVAL, "--spec %s is JSON but not an object: a job spec is {...}",
                           f->spec_file);
        }
        if ((rc = source_file_inline(spec, f->spec_file, err, errlen)) < 0 ||
            (rc = replay_file_abs(spec, f->spec_file, err, errlen)) < 0 ||
            (rc = expected_files_abs(spec, f->spec_file, err, errlen)) < 0) {
            cJSON_Delete(spec);
            return rc;
        }
    } else {
        spec = cJSON_CreateObject();
    }

    if (!f->no_explore && f->num_random >= 0 && f->budget >= 0) {
        cJSON_Delete(spec);
        return fw_errf(err, errlen, -EINVAL,
                       "give either --num-random (random variants after the presets) or --budget (evaluations per shape), not both");
    }
    if (!f->no_explore && f->num_random >= 0 && f->strategy && strcmp(f->strategy, "random")) {
        cJSON_Delete(spec);
        return fw_errf(err, errlen, -EINVAL, "--num-random means strategy random, which contradicts --strategy %s; drop one of them",
                       f->strategy);
    }
    if (f->no_explore && f->strategy && strcmp(f->strategy, "presets")) {
        cJSON_Delete(spec);
        return fw_errf(err, errlen, -EINVAL,
                       "--no-explore keeps only the presets, which contradicts --strategy %s; drop one of them", f->strategy);
    }
    if (f->profile)
        set_item(spec, "profile", cJSON_CreateString(f->profile));
    if (f->family)
        set_item(spec, "family", cJSON_CreateString(f->family));
    if (f->shapes)
        set_item(spec, "shapes", cJSON_Duplicate(f->shapes, 1));
    if (f->knobs || f->constraints) {
        cJSON *space = child_object(spec, "space");
        if (f->knobs)
            merge_object(child_object(space, "knobs"), f->knobs);
        if (f->constraints) {
            cJSON *cs = cJSON_GetObjectItemCaseSensitive(space, "constraints");
            if (!cJSON_IsArray(cs)) {
                cs = cJSON_CreateArray();
                set_item(space, "constraints", cs);
            }
            const cJSON *it;
            cJSON_ArrayForEach(it, f->constraints) cJSON_AddItemToArray(cs, cJSON_Duplicate(it, 1));
        }
    }
    if (f->no_explore) {
        /* As in optimize_kernel.py: deterministic presets only, random count forced to 0. */
        set_item(spec, "no_explore", cJSON_CreateTrue());
        set_item(spec, "strategy", cJSON_CreateString("presets"));
    } else {
        if (f->strategy)
            set_item(spec, "strategy", cJSON_CreateString(f->strategy));
        /* The resolver turns it into strategy random with budget = presets + N (docs/spec.md). */
        if (f->num_random >= 0)
            set_item(spec, "num_random", cJSON_CreateNumber((double)f->num_random));
    }
    if (f->budget >= 0)
        set_item(spec, "budget", cJSON_CreateNumber((double)f->budget));
    if (f->budget_s > 0)
        set_item(spec, "budget_s", cJSON_CreateNumber(f->budget_s));
    if (f->random_seed >= 0)
        set_item(spec, "seed", cJSON_CreateNumber((double)f->random_seed));
    if (f->warmup >= 0)
        set_item(spec, "warmup", cJSON_CreateNumber((double)f->warmup));
    if (f->iters >= 0)
        set_item(spec, "iters", cJSON_CreateNumber((double)f->iters));
    if (f->backend)
        set_item(spec, "backend", cJSON_CreateString(f->backend));
    if (f->device >= 0)
        set_item(spec, "device", cJSON_CreateNumber((double)f->device));
    if (f->devices)
        set_item(spec, "devices", cJSON_Duplicate(f->devices, 1));
    if (f->source_file) {
        char *text;
        int rc = fw_cli_source_load(f->source_file, &text, err, errlen);
        if (rc < 0) {
            cJSON_Delete(spec);
            return rc;
        }
        cJSON *src = cJSON_CreateObject();
        cJSON_AddStringToObject(src, "text", text);
        free(text);
        const char *base = strrchr(f->source_file, '/');
        cJSON_AddStringToObject(src, "name", base ? base + 1 : f->source_file);
        set_item(spec, "source", src);
    }
    if (f->entry) {
        cJSON *src = cJSON_GetObjectItemCaseSensitive(spec, "source");
        if (!cJSON_IsObject(src)) {
            cJSON_Delete(spec);
            return fw_errf(err, errlen, -EINVAL, "--entry names a kernel of a user source: give --source FILE too");
        }
        set_item(src, "entry", cJSON_CreateString(f->entry));
    }
    if (f->replay_file || f->replay_noise) {
        int rc = replay_flags(spec, f, err, errlen);
        if (rc < 0) {
            cJSON_Delete(spec);
            return rc;
        }
    }
    if (f->aliases)
        merge_object(child_object(spec, "aliases"), f->aliases);
    if (f->macros)
        merge_object(child_object(spec, "macros"), f->macros);
    if (f->binds)
        merge_object(child_object(spec, "binds"), f->binds);

    if (!cJSON_GetObjectItemCaseSensitive(spec, "profile") && !cJSON_GetObjectItemCaseSensitive(spec, "family") &&
        !cJSON_GetObjectItemCaseSensitive(spec, "source") && !cJSON_GetObjectItemCaseSensitive(spec, "replay")) {
        cJSON_Delete(spec);
        return fw_errf(err, errlen, -EINVAL,
                       "nothing says what to tune: give --profile NAME (see `fairway profiles`), --family F with --shape, "
                       "--replay FILE, or --spec FILE");
    }
    *out = spec;
    return 0;
}
