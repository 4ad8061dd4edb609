/* fw_replay.h - recorded tuning spaces read back as data (issue 11, DESIGN.md section 5).
 *
 * A recorded space is a Kernel Tuner cache file (.json, or .json.gz as Kernel Tuner and the
 * benchmark hub ship them): knob names, each knob's ordered value list, and one entry per measured
 * configuration. The entries are the space: a configuration that is not there was never valid.
 * Each point carries its recorded mean time (ms) and samples, or a failure class when the file
 * records a string such as "CompilationFailedConfig". This is the part of the replay device that
 * the search benchmark and tests need; the backend behind bench/'s interface builds on it.
 */
#ifndef FW_REPLAY_H
#define FW_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "fw_pcg32.h"

typedef enum fw_replay_status {
    FW_REPLAY_OK = 0,
    FW_REPLAY_COMPILE_ERROR,   /* "CompilationFailedConfig" */
    FW_REPLAY_INVALID,         /* "InvalidConfig" */
    FW_REPLAY_CRASHED,         /* "RuntimeFailedConfig" and any other string */
} fw_replay_status;

typedef struct fw_replay_point {
    fw_replay_status status;
    double time_ms;            /* mean, when OK */
    size_t nsamples;
    double *samples;           /* nsamples (may be 0) */
} fw_replay_point;

typedef struct fw_replay_space {
    int nknobs;
    char **names;
    int *nvals;
    char ***values;            /* values[k][v]: printed JSON value (numbers as %g-like text) */
    size_t npoints;
    uint16_t *points;          /* npoints * nknobs value indices, the cache's order */
    fw_replay_point *rec;
    double optimum_ms;         /* best OK time; INFINITY when none */
    char *kernel;              /* kernel_name, or "" */
} fw_replay_space;

/* Read a file (gzip or plain, told apart by content). -errno or -EINVAL with a message. */
int fw_replay_load(const char *path, fw_replay_space *sp, char *err, size_t errlen);
/* Same from memory (a JSON text). */
int fw_replay_parse(const char *text, size_t len, fw_replay_space *sp, char *err, size_t errlen);
void fw_replay_release(fw_replay_space *sp);

/* What a launch of point i measures: the recorded mean, times (1 + noise * N(0,1)) with N drawn
 * from r when noise > 0 (seeded measurement noise), floored at 1% of the recorded time. */
double fw_replay_measure(const fw_replay_space *sp, size_t i, double noise, fw_pcg32 *r);

#endif
