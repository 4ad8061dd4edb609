/* daemon_methods.h - the functions of daemon/methods.c that other daemon files call (the method table
 * and what its methods share). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs
 * they take are in daemon_int.h. */
#ifndef FW_DAEMON_METHODS_H
#define FW_DAEMON_METHODS_H

#include "daemon_int.h"

typedef void (*fw_daemon_method_fn)(fw_daemon *d, fw_daemon_req *req);
/* {"field": field}: the data of an invalid-params error. */
cJSON *fw_daemon_field_data(const char *field);
fw_daemon_method_fn fw_daemon_method_find(const char *name);
const char *fw_daemon_method_names(void);

#endif
