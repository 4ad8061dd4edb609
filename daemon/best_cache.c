/* best_cache.c - the answers of `best`, printed once and kept until the store changes (issue 15
 * item 13: each `best` cost three queries, a job's whole spec parsed and a reply printed, about
 * 140-250 us of the loop; the goal is 50,000 a second on one core).
 *
 * An answer depends only on the store and the request (the device's identity, family, kernel, shape
 * key, exact), and the daemon is the store's only writer: an answer kept with the store's
 * generation (fw_db_generation) is the one the queries would give while that generation lasts. The
 * first request after any write computes its answer again. A slot is chosen by a hash of the
 * request; a request that lands on a slot another request holds replaces it. So the cache holds at
 * most BEST_SLOTS answers (a few MiB), and a hit is a hash, a compare and one write. */
#include "daemon_best_cache.h"

#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

#include "daemon_server.h"

#define BEST_SLOTS 4096   /* a power of two */

typedef struct best_slot {
    uint64_t gen;
    char *key;                 /* NULL: empty */
    const char *member;        /* "result" or "error" (static) */
    char *json;                /* the member's value as printed */
    size_t len;
} best_slot;

struct fw_daemon_best_cache {
    best_slot slot[BEST_SLOTS];
};

static best_slot *slot_of(fw_daemon *d, const char *key)
{
    if (!d->best_cache && !(d->best_cache = calloc(1, sizeof(*d->best_cache))))
        return NULL;
    return &d->best_cache->slot[fw_hash64_str(FW_HASH64_INIT, key) & (BEST_SLOTS - 1)];
}

int fw_daemon_best_cached(fw_daemon *d, fw_daemon_req *req, const char *key)
{
    best_slot *s = key ? slot_of(d, key) : NULL;
    if (!s || !s->key || s->gen != fw_db_generation(d->db) || strcmp(s->key, key) != 0)
        return 0;
    fw_daemon_reply_text(req, s->member, s->json, s->len);
    return 1;
}

static void slot_clear(best_slot *s)
{
    free(s->key);
    free(s->json);
    memset(s, 0, sizeof(*s));
}

void fw_daemon_best_answer(fw_daemon *d, fw_daemon_req *req, const char *key, const char *member, cJSON *value)
{
    size_t n;
    char *json = fw_proto_print(value, &n);   /* valid UTF-8, newline-terminated */
    cJSON_Delete(value);
    if (!json) {
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "out of memory answering best");
        return;
    }
    n--;
    fw_daemon_reply_text(req, member, json, n);
    best_slot *s = key ? slot_of(d, key) : NULL;
    if (!s) {
        free(json);
        return;
    }
    slot_clear(s);
    s->key = fw_strdup(key);
    if (!s->key) {
        free(json);
        return;
    }
    s->gen = fw_db_generation(d->db);
    s->member = member;
    s->json = json;
    s->len = n;
}

void fw_daemon_best_cache_free(fw_daemon *d)
{
    if (!d->best_cache)
        return;
    for (size_t i = 0; i < BEST_SLOTS; i++)
        slot_clear(&d->best_cache->slot[i]);
    free(d->best_cache);
    d->best_cache = NULL;
}
