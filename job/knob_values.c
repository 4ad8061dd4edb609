/* knob_values.c - knobs chosen from lists of non-integer values (issue 12): a float constant, a type
 * name such as float4. A space holds integers only (variants/fw_variants.h), so such a knob is tuned
 * by its index into its list: the resolved spec's space lists 0 .. k-1 and "knob_values" keeps the
 * list, from which each variant's macro takes its text (fw_point_macros_values). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_int.h"
#include "fw_util.h"

#define VALUE_MAX 63   /* characters of one value's text */

/* 1 when the list has a value that is not an integer (a string, a number with a fraction). */
static int labelled(const cJSON *list)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, list) {
        if (cJSON_IsString(v) || (cJSON_IsNumber(v) && v->valuedouble != floor(v->valuedouble)))
            return 1;
    }
    return 0;
}

/* A value's macro text: a string as written, a number in the fewest digits that read back the same. */
static int value_text(const char *knob, int i, const cJSON *v, char *buf, size_t len, char *err, size_t errlen)
{
    if (cJSON_IsNumber(v)) {
        snprintf(buf, len, "%.15g", v->valuedouble);
        if (strtod(buf, NULL) != v->valuedouble)
            snprintf(buf, len, "%.17g", v->valuedouble);
        return 0;
    }
    if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > VALUE_MAX)
        return fw_errf(err, errlen, -EINVAL, "space: knob '%s' value %d must be a number or a string of 1 to %d "
                       "characters", knob, i, VALUE_MAX);
    for (const char *p = v->valuestring; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '"' || *p == '\'' || *p == '\\')
            return fw_errf(err, errlen, -EINVAL, "space: knob '%s' value %d ('%s'): a macro value has no spaces, "
                           "quotes or backslashes", knob, i, v->valuestring);
    snprintf(buf, len, "%s", v->valuestring);
    return 0;
}

/* A resolved spec's own "knob_values" (resolving it again): each knob's texts, one per index of its
 * list in the space, which must be 0 .. k-1. */
static int given_values(const cJSON *knobs, const cJSON *given, cJSON **values, char *err, size_t errlen)
{
    if (!cJSON_IsObject(given))
        return fw_errf(err, errlen, -EINVAL, "\"knob_values\" must be an object {\"KNOB\": [values]}");
    for (const cJSON *g = given->child; g; g = g->next) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(knobs, g->string);
        int n = cJSON_GetArraySize(list), ok = cJSON_IsArray(g) && cJSON_GetArraySize(g) == n && n > 0;
        for (int i = 0; ok && i < n; i++) {
            char buf[VALUE_MAX + 32];
            const cJSON *ix = cJSON_GetArrayItem(list, i), *t = cJSON_GetArrayItem(g, i);
            ok = cJSON_IsNumber(ix) && ix->valuedouble == i && cJSON_IsString(t);
            if (ok && value_text(g->string, i, t, buf, sizeof buf, err, errlen) < 0)
                return -EINVAL;
        }
        if (!ok)
            return fw_errf(err, errlen, -EINVAL, "\"knob_values\" of '%s' must list one text for each of the knob's "
                           "values in the space, which are then 0, 1, 2, ... (write the values themselves in "
                           "\"space\" instead)", g->string);
    }
    if (!(*values = cJSON_Duplicate(given, 1)))
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    return 0;
}

int fw_spec_knob_values(const cJSON *space, const cJSON *given, cJSON **indexed, cJSON **values, char *err,
                        size_t errlen)
{
    *indexed = *values = NULL;
    const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(space, "knobs");
    int any = 0;
    for (const cJSON *k = cJSON_IsObject(knobs) ? knobs->child : NULL; k; k = k->next)
        any |= cJSON_IsArray(k) && labelled(k);
    if (any && given)
        return fw_errf(err, errlen, -EINVAL, "the space lists non-integer knob values and the spec has "
                       "\"knob_values\" too: give the values in \"space\" only");
    if (given)
        return given_values(knobs, given, values, err, errlen);
    if (!any)
        return 0;
    cJSON *ix = cJSON_Duplicate(space, 1), *vals = cJSON_CreateObject();
    cJSON *iknobs = cJSON_GetObjectItemCaseSensitive(ix, "knobs");
    int rc = ix && vals ? 0 : fw_errf(err, errlen, -ENOMEM, "out of memory");
    for (cJSON *kn = iknobs ? iknobs->child : NULL; rc == 0 && kn; kn = kn->next) {
        if (!cJSON_IsArray(kn) || !labelled(kn))
            continue;
        int n = cJSON_GetArraySize(kn);
        cJSON *texts = cJSON_CreateArray(), *idx = cJSON_CreateArray();
        char buf[VALUE_MAX + 32];
        for (int i = 0; rc == 0 && i < n; i++) {
            rc = value_text(kn->string, i, cJSON_GetArrayItem(kn, i), buf, sizeof buf, err, errlen);
            for (int j = 0; rc == 0 && j < i; j++)
                if (strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(texts, j)), buf) == 0)
                    rc = fw_errf(err, errlen, -EINVAL, "space: knob '%s' lists the value %s twice", kn->string, buf);
            if (rc == 0) {
                cJSON_AddItemToArray(texts, cJSON_CreateString(buf));
                cJSON_AddItemToArray(idx, cJSON_CreateNumber(i));
            }
        }
        if (rc == 0 && (!texts || !idx || !cJSON_AddItemToObject(vals, kn->string, texts)))
            rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        else if (rc == 0)
            texts = NULL;
        cJSON_Delete(texts);
        if (rc == 0)
            cJSON_ReplaceItemInObjectCaseSensitive(iknobs, kn->string, idx);   /* kn is freed: go on from idx */
        else
            cJSON_Delete(idx);
        if (rc == 0)
            kn = idx;
    }
    if (rc < 0) {
        cJSON_Delete(ix);
        cJSON_Delete(vals);
        return rc;
    }
    *indexed = ix;
    *values = vals;
    return 0;
}
