/* daemon_best.h - the functions of daemon/best.c that other daemon files call (what the best method
 * adds). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take are in
 * daemon_int.h. */
#ifndef FW_DAEMON_BEST_H
#define FW_DAEMON_BEST_H

#include "daemon_int.h"

/* best.c: the best of the nearest tuned shape (flagged "nearest", with "requested_shape_key",
 * "distance" and "distance_rule"; -ENOENT when none), and what best adds to the store's row (the
 * job's finalist winner, "macros", "source_transforms", "source_hash", "source_name"). */
int fw_daemon_best_nearest(fw_daemon *d, const char *identity, const char *family, const char *kernel,
                           const char *key, cJSON **best);
void fw_daemon_best_decorate(fw_daemon *d, cJSON *best);

#endif
