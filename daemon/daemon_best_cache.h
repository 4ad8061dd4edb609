/* daemon_best_cache.h - the functions of daemon/best_cache.c that other daemon files call (best's
 * answers while the store is unchanged). Private to daemon/ (tests/layers/check_daemon_headers.py);
 * the structs they take are in daemon_int.h. */
#ifndef FW_DAEMON_BEST_CACHE_H
#define FW_DAEMON_BEST_CACHE_H

#include "daemon_int.h"

/* best_cache.c: best's answers, printed, kept until the store changes (fw_db_generation). key names
 * the request (NULL: not kept). cached: 1 when req was answered from it. answer: reply with member
 * ("result" or "error") = value (consumed) and keep it. cache_free at stop. */
int fw_daemon_best_cached(fw_daemon *d, fw_daemon_req *req, const char *key);
void fw_daemon_best_answer(fw_daemon *d, fw_daemon_req *req, const char *key, const char *member, cJSON *value);
void fw_daemon_best_cache_free(fw_daemon *d);

#endif
