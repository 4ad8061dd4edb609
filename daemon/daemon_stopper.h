/* daemon_stopper.h - the functions of daemon/stopper.c that other daemon files call (the signal
 * thread). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take are in
 * daemon_int.h. */
#ifndef FW_DAEMON_STOPPER_H
#define FW_DAEMON_STOPPER_H

#include "daemon_int.h"

/* stopper.c: SIGTERM / SIGINT taken by a thread of their own, so a busy loop cannot ignore them.
 * block_signals first thing in main (every later thread inherits the mask); stopper_start once the
 * loop exists; stopper_close after the loop's first run; stopper_done just before main returns. */
void fw_daemon_block_signals(void);
int fw_daemon_stopper_start(fw_daemon *d, char *err, size_t errlen);
void fw_daemon_stopper_close(fw_daemon *d);
void fw_daemon_stopper_done(void);

#endif
