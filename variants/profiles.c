/* Profiles: JSON job templates embedded at build time (variants/meson.build, scripts/embed.py).
 * A profile is found by its "name" field, or by its file's base name without ".json", so renaming a
 * file cannot silently hide a profile that users ask for by its declared name. */
#include "fw_variants.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned fw_profiles_embed_count;
extern const char *const fw_profiles_embed_names[];
extern const char *const fw_profiles_embed_texts[];

#define PROFILE_MAX 64

static char names_buf[PROFILE_MAX][FW_NAME_MAX * 2];
static const char *names[PROFILE_MAX + 1];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void base_name(const char *file, char *out, size_t len)
{
    snprintf(out, len, "%s", file);
    size_t l = strlen(out);
    if (l > 5 && strcmp(out + l - 5, ".json") == 0)
        out[l - 5] = '\0';
}

static void load_names(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < fw_profiles_embed_count && n < PROFILE_MAX; i++) {
        cJSON *j = cJSON_Parse(fw_profiles_embed_texts[i]);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(j, "name");
        if (cJSON_IsString(nm) && nm->valuestring[0])
            snprintf(names_buf[n], sizeof names_buf[n], "%s", nm->valuestring);
        else
            base_name(fw_profiles_embed_names[i], names_buf[n], sizeof names_buf[n]);
        cJSON_Delete(j);
        names[n] = names_buf[n];
        n++;
    }
    names[n] = NULL;
}

const char *const *fw_profile_names(void)
{
    pthread_once(&names_once, load_names);
    return names;
}

const char *fw_profile_json(const char *name)
{
    if (!name)
        return NULL;
    pthread_once(&names_once, load_names);
    for (unsigned i = 0; i < fw_profiles_embed_count && i < PROFILE_MAX; i++)
        if (strcmp(names[i], name) == 0)
            return fw_profiles_embed_texts[i];
    for (unsigned i = 0; i < fw_profiles_embed_count; i++) {
        char b[FW_NAME_MAX * 2];
        base_name(fw_profiles_embed_names[i], b, sizeof b);
        if (strcmp(b, name) == 0)
            return fw_profiles_embed_texts[i];
    }
    return NULL;
}
