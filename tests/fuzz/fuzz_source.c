/* fuzz_source.c - the readers of a user's kernel source (variants/fw_source.c, transform.c,
 * structural.c): guard detection, the constant declarations a bind can override, and the structural
 * transform sites, each a hand-written scanner over text a user submits.
 *
 * Input: the source text (up to the first NUL, as a spec's source.text arrives). Checks beyond "no
 * crash": every declaration and site reported lies inside the text (offsets, lines), a literal's
 * bytes are digits, and rendering a bind of each listed constant gives a text that declares it with
 * the bound value, and switching a transform site on keeps the line count and puts the site's text in. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_source.h"
#include "fw_transform.h"
#include "fw_variants.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define MAXD 32

static int count_lines(const char *t)
{
    int n = 1;
    for (; *t; t++)
        n += *t == '\n';
    return n;
}

static void check_bind(const char *text, const char *name)
{
    /* {"binds": {"K": "NAME"}} with K = 7: the rendered text must still declare NAME, now as 7 */
    cJSON *spec = cJSON_CreateObject();
    cJSON *binds = cJSON_AddObjectToObject(spec, "binds");
    cJSON_AddStringToObject(binds, "K", name);
    fw_point p, mp;
    fw_point_clear(&p);
    fw_point_set(&p, "K", 7);
    char *t = strdup(text);
    char err[512];
    if (t && fw_transform_render(spec, &p, &t, &mp, err, sizeof(err)) == 0) {
        fw_const_decl d[MAXD];
        size_t n = 0;
        CHECK(fw_const_find(t, name, d, MAXD, &n) == 0);
        CHECK(n == 1 && d[0].literal && d[0].value == 7);
    }
    free(t);
    cJSON_Delete(spec);
}

/* The site switched on: the text renders (unless the bind's line holds a second site of that
 * transform, which the bind refuses), keeps its line count, and holds the site's new text. */
static void check_site(const char *text, const fw_xform_site *s, int lines)
{
    cJSON *spec = cJSON_CreateObject();
    cJSON *b = cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "binds"), "S");
    cJSON_AddStringToObject(b, "transform", s->transform);
    cJSON_AddStringToObject(b, "function", s->function);
    int ln[2] = {s->line, s->line};
    cJSON_AddItemToObject(b, "lines", cJSON_CreateIntArray(ln, 2));
    cJSON_AddTrueToObject(b, "unproven");
    fw_point p, mp;
    fw_point_clear(&p);
    fw_point_set(&p, "S", 1);
    char *t = strdup(text), err[512];
    if (t && fw_transform_render(spec, &p, &t, &mp, err, sizeof(err)) == 0) {
        CHECK(count_lines(t) == lines);
        CHECK(strstr(t, s->with) != NULL);
    }
    free(t);
    cJSON_Delete(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    int lines = count_lines(text);

    fw_source_has_guard(text, "TILE_N");
    fw_const_decl d[MAXD];
    static char names[MAXD][FW_NAME_MAX];
    size_t n = 0;
    CHECK(fw_const_list(text, d, names, MAXD, &n) == 0);
    for (size_t i = 0; i < n && i < MAXD; i++) {
        CHECK(d[i].line >= 1 && d[i].line <= lines);
        if (d[i].literal) {
            CHECK(d[i].lit_off + d[i].lit_len <= len && d[i].lit_len > 0);
            CHECK(text[d[i].lit_off] >= '0' && text[d[i].lit_off] <= '9');
        }
        size_t same = 0;
        fw_const_decl one[MAXD];
        CHECK(fw_const_find(text, names[i], one, MAXD, &same) == 0 && same >= 1);
        if (same == 1 && one[0].literal && i < 4)
            check_bind(text, names[i]);
    }
    static fw_xform_site sites[64];
    size_t ns = 0;
    fw_xform_sites(text, sites, 64, &ns);
    for (size_t i = 0; i < ns && i < 64; i++) {
        CHECK(sites[i].off + sites[i].len <= len && sites[i].line >= 1 && sites[i].line <= lines);
        CHECK(sites[i].fn_first <= sites[i].line && sites[i].line <= sites[i].fn_last);
        if (i < 4)
            check_site(text, &sites[i], lines);
    }
    free(text);
    return 0;
}
