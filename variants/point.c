/* Points, evaluation environments, macro rendering and device limits (fw_variants.h). */
#include "fw_variants.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

/* JSON numbers are doubles: only integers up to 2^53 survive a round trip exactly, so larger
 * magnitudes are refused rather than silently rounded. */
#define JSON_INT_MAX 9007199254740991.0

int fw_variants_name_ok(const char *name)
{
    if (!name || !name[0] || strlen(name) >= FW_NAME_MAX)
        return 0;
    if (!(name[0] == '_' || (name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
        return 0;
    for (const char *c = name + 1; *c; c++)
        if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
            return 0;
    return 1;
}

int fw_variants_json_int(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > JSON_INT_MAX)
        return 0;
    *out = (int64_t)d;
    return 1;
}

void fw_point_clear(fw_point *p)
{
    p->n = 0;
}

int fw_point_set(fw_point *p, const char *name, int64_t value)
{
    if (!fw_variants_name_ok(name))
        return -EINVAL;
    size_t i = 0;
    while (i < p->n && strcmp(p->kv[i].name, name) < 0)
        i++;
    if (i < p->n && strcmp(p->kv[i].name, name) == 0) {
        p->kv[i].value = value;
        return 0;
    }
    if (p->n >= FW_MAX_KNOBS)
        return -ENOSPC;
    memmove(&p->kv[i + 1], &p->kv[i], (p->n - i) * sizeof p->kv[0]);
    snprintf(p->kv[i].name, FW_NAME_MAX, "%s", name);
    p->kv[i].value = value;
    p->n++;
    return 0;
}

int fw_point_get(const fw_point *p, const char *name, int64_t *value)
{
    for (size_t i = 0; name && i < p->n; i++)
        if (strcmp(p->kv[i].name, name) == 0) {
            if (value)
                *value = p->kv[i].value;
            return 1;
        }
    return 0;
}

int64_t fw_point_value(const fw_point *p, const char *name, int64_t dflt)
{
    int64_t v;
    return fw_point_get(p, name, &v) ? v : dflt;
}

int fw_point_key(const fw_point *p, char *buf, size_t len)
{
    size_t off = 0;
    if (len == 0)
        return -ENOSPC;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        int w = snprintf(buf + off, len - off, "%s%s=%" PRId64, i ? "," : "", p->kv[i].name,
                         p->kv[i].value);
        if (w < 0 || (size_t)w >= len - off) {
            buf[0] = '\0';
            return -ENOSPC;
        }
        off += (size_t)w;
    }
    return (int)off;
}

int fw_point_from_key(const char *key, fw_point *p, char *err, size_t errlen)
{
    fw_point_clear(p);
    if (!key)
        return fw_errf(err, errlen, -EINVAL, "no variant key given");
    const char *s = key;
    while (*s) {
        const char *eq = strchr(s, '=');
        const char *comma = strchr(s, ',');
        if (!comma)
            comma = s + strlen(s);
        if (!eq || eq > comma)
            return fw_errf(err, errlen, -EINVAL,
                           "variant key '%s': expected NAME=VALUE at column %d", key, (int)(s - key) + 1);
        char name[FW_NAME_MAX];
        size_t nl = (size_t)(eq - s);
        if (nl == 0 || nl >= FW_NAME_MAX)
            return fw_errf(err, errlen, -EINVAL, "variant key '%s': bad knob name at column %d", key,
                           (int)(s - key) + 1);
        memcpy(name, s, nl);
        name[nl] = '\0';
        if (!fw_variants_name_ok(name))
            return fw_errf(err, errlen, -EINVAL, "variant key '%s': bad knob name '%s'", key, name);
        char num[32];
        size_t vl = (size_t)(comma - eq - 1);
        if (vl == 0 || vl >= sizeof num)
            return fw_errf(err, errlen, -EINVAL, "variant key '%s': knob '%s' has no integer value", key,
                           name);
        memcpy(num, eq + 1, vl);
        num[vl] = '\0';
        char *end;
        errno = 0;
        long long v = strtoll(num, &end, 10);
        if (errno || *end || end == num || num[0] == ' ' || num[0] == '+')
            return fw_errf(err, errlen, -EINVAL, "variant key '%s': '%s' is not an integer value for %s",
                           key, num, name);
        if (fw_point_get(p, name, NULL))
            return fw_errf(err, errlen, -EINVAL, "variant key '%s': knob '%s' appears twice", key, name);
        if (fw_point_set(p, name, (int64_t)v) < 0)
            return fw_errf(err, errlen, -ENOSPC, "variant key '%s': more than %d knobs", key, FW_MAX_KNOBS);
        s = *comma ? comma + 1 : comma;
        if (*comma && !*s)
            return fw_errf(err, errlen, -EINVAL, "variant key '%s' ends with a comma", key);
    }
    return 0;
}

cJSON *fw_point_to_json(const fw_point *p)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < p->n; i++)
        if (!cJSON_AddNumberToObject(o, p->kv[i].name, (double)p->kv[i].value)) {
            cJSON_Delete(o);
            return NULL;
        }
    return o;
}

int fw_point_from_json(const cJSON *obj, fw_point *p, char *err, size_t errlen)
{
    fw_point_clear(p);
    if (!cJSON_IsObject(obj))
        return fw_errf(err, errlen, -EINVAL, "a variant must be a JSON object {\"KNOB\": integer, ...}");
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        int64_t v;
        if (!fw_variants_name_ok(it->string))
            return fw_errf(err, errlen, -EINVAL, "'%s' is not a valid knob name (letters, digits, _; at most %d)",
                           it->string ? it->string : "", FW_NAME_MAX - 1);
        if (!fw_variants_json_int(it, &v))
            return fw_errf(err, errlen, -EINVAL, "knob '%s' must have an integer value", it->string);
        if (fw_point_get(p, it->string, NULL))
            return fw_errf(err, errlen, -EINVAL, "knob '%s' appears twice", it->string);
        if (fw_point_set(p, it->string, v) < 0)
            return fw_errf(err, errlen, -ENOSPC, "more than %d knobs", FW_MAX_KNOBS);
    }
    return 0;
}

void fw_env_clear(fw_env *e)
{
    e->n = 0;
}

int fw_env_set(fw_env *e, const char *name, int64_t value)
{
    if (!fw_variants_name_ok(name))
        return -EINVAL;
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->kv[i].name, name) == 0) {
            e->kv[i].value = value;
            return 0;
        }
    if (e->n >= FW_ENV_MAX)
        return -ENOSPC;
    snprintf(e->kv[e->n].name, FW_NAME_MAX, "%s", name);
    e->kv[e->n].value = value;
    e->n++;
    return 0;
}

int fw_env_get(const fw_env *e, const char *name, int64_t *value)
{
    for (size_t i = 0; name && i < e->n; i++)
        if (strcmp(e->kv[i].name, name) == 0) {
            if (value)
                *value = e->kv[i].value;
            return 1;
        }
    return 0;
}

int fw_env_add_json_ints(fw_env *e, const cJSON *obj)
{
    if (!cJSON_IsObject(obj))
        return -EINVAL;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        int64_t v;
        if (!fw_variants_json_int(it, &v) || !fw_variants_name_ok(it->string))
            continue;
        int rc = fw_env_set(e, it->string, v);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fw_env_add_point(fw_env *e, const fw_point *p)
{
    for (size_t i = 0; i < p->n; i++) {
        int rc = fw_env_set(e, p->kv[i].name, p->kv[i].value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fw_point_macros(const fw_point *p, const cJSON *aliases, char ***out, size_t *n)
{
    return fw_point_macros_values(p, aliases, NULL, out, n);
}

int fw_point_macros_values(const fw_point *p, const cJSON *aliases, const cJSON *values, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (aliases && !cJSON_IsObject(aliases) && !cJSON_IsNull(aliases))
        return -EINVAL;
    char **m = calloc(p->n ? p->n : 1, sizeof *m);
    if (!m)
        return -ENOMEM;
    for (size_t i = 0; i < p->n; i++) {
        const char *name = p->kv[i].name;
        const cJSON *a = aliases ? cJSON_GetObjectItemCaseSensitive(aliases, name) : NULL;
        if (a) {
            if (!cJSON_IsString(a) || !fw_variants_name_ok(a->valuestring)) {
                fw_macros_free(m, i);
                return -EINVAL;
            }
            name = a->valuestring;
        }
        /* a knob listed by non-integer values: its value is the index of its text */
        const cJSON *texts = values ? cJSON_GetObjectItemCaseSensitive(values, p->kv[i].name) : NULL;
        const char *text = NULL;
        if (texts && !(p->kv[i].value >= 0 && p->kv[i].value < cJSON_GetArraySize(texts) &&
                       (text = cJSON_GetStringValue(cJSON_GetArrayItem(texts, (int)p->kv[i].value))))) {
            fw_macros_free(m, i);
            return -EINVAL;
        }
        size_t len = strlen(name) + (text ? strlen(text) : 0) + 24;
        m[i] = malloc(len);
        if (!m[i]) {
            fw_macros_free(m, i);
            return -ENOMEM;
        }
        if (text)
            snprintf(m[i], len, "%s=%s", name, text);
        else
            snprintf(m[i], len, "%s=%" PRId64, name, p->kv[i].value);
    }
    *out = m;
    *n = p->n;
    return 0;
}

void fw_macros_free(char **m, size_t n)
{
    if (!m)
        return;
    for (size_t i = 0; i < n; i++)
        free(m[i]);
    free(m);
}

int fw_device_env(const cJSON *device, fw_env *e)
{
    static const struct { const char *json, *name; } map[] = {
        {"max_threads", "DEVICE_MAX_THREADS"},
        {"shared_bytes", "DEVICE_SHARED_BYTES"},
        {"simd_width", "DEVICE_SIMD_WIDTH"},
        {"compute_units", "DEVICE_COMPUTE_UNITS"},
    };
    if (!cJSON_IsObject(device))
        return -EINVAL;
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(device, "limits");
    if (!lim)
        return 0;
    if (!cJSON_IsObject(lim))
        return -EINVAL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        int64_t v;
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(lim, map[i].json);
        if (!it)
            continue;
        if (!fw_variants_json_int(it, &v))
            return -EINVAL;
        int rc = fw_env_set(e, map[i].name, v);
        if (rc < 0)
            return rc;
    }
    return 0;
}
