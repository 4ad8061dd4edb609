/* daemon_failures.h - the functions of daemon/failures.c that other daemon files call (why a job's
 * variants failed). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take
 * are in daemon_int.h. */
#ifndef FW_DAEMON_FAILURES_H
#define FW_DAEMON_FAILURES_H

#include "daemon_int.h"

/* Why a job's variants failed (daemon/failures.c, issue 19 item 1). classes: one object per failure
 * status, in order of its first occurrence, {"status","count","first_seq","first_line"} (the first
 * line of the first such failure's text). failures: every failed measurement in seq order (status
 * NULL = any failure; limit <= 0 = all), {"seq","status","shape_key","variant_key","kernel","error"}
 * with the full stored text (a compile error's build log). -EIO on a store error. */
int fw_daemon_failure_classes(fw_db *db, int64_t job, cJSON **out);
int fw_daemon_failures(fw_db *db, int64_t job, const char *status, int limit, cJSON **out);

#endif
