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

#include <cjson/cJSON.h>

#include "fw_pcg32.h"
#include "fw_variants.h"

#define FW_REPLAY_FAMILY "replay"
/* The largest recorded file read (compressed or not), and the most its JSON text may inflate to. */
#define FW_REPLAY_MAX_BYTES (1 << 30)

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
    char *failure;             /* the recorded failure string, when not OK */
    double cost_ms;            /* what evaluating it took when recorded, -1 when the file does not say:
                                * Kernel Tuner's compile_time + verification_time + benchmark_time,
                                * a fairway record's eval_ms (the replay device's eval_ms) */
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
    char *device;              /* device_name (what it was recorded on), or "" */
    int nproblem;              /* problem_size: a number (1) or a list of numbers (up to 8) */
    int64_t problem[8];
    int fairway;               /* written by `fairway export`: its "fairway" object is there */
    cJSON *shape;              /* that object's "shape" (the job's shape), or NULL */
    const char *format;        /* "kernel-tuner", or "fairway" for records one a line (lines.c) */
    char hash[17];             /* the file's content hash, set by fw_replay_get (else "") */
} fw_replay_space;

/* Read a file (gzip or plain, told apart by content). -errno or -EINVAL with a message. */
int fw_replay_load(const char *path, fw_replay_space *sp, char *err, size_t errlen);
/* Same from memory (a JSON text). A text whose first object is no Kernel Tuner cache but a fairway
 * record or header ("knobs", "seq" or "fairway") is read as records one a line (below). */
int fw_replay_parse(const char *text, size_t len, fw_replay_space *sp, char *err, size_t errlen);
/* fairway's own records, one JSON object a line: the worker's measurement records (`fairway-worker
 * --spec` output, `fairway export --format fairway`), one shape; knobs' values as the records hold
 * them, ascending; time = the mean of samples_ns (else the median); a failure keeps its status. */
int fw_replay_parse_lines(const char *text, size_t len, fw_replay_space *sp, char *err, size_t errlen);
void fw_replay_release(fw_replay_space *sp);

/* What a launch of point i measures: the recorded mean, times (1 + noise * N(0,1)) with N drawn
 * from r when noise > 0 (seeded measurement noise), floored at 1% of the recorded time. */
double fw_replay_measure(const fw_replay_space *sp, size_t i, double noise, fw_pcg32 *r);
/* That factor alone: 1 + noise * N(0,1) (two draws from r, Box-Muller), at least 0.01; 1 when
 * noise is 0 (no draw). */
double fw_replay_noise_factor(double noise, fw_pcg32 *r);

/* ---- a recorded space as a job: the replay device (replay/job.c) --------------------------------
 * A spec with "replay": {"file": PATH} (or "backend": "replay") is expanded by fw_replay_spec_expand
 * before resolution: family "replay", the file's knobs as the space (integer values kept, any other
 * value list replaced by its indices 0..n-1, the values kept in "replay"."labels"), its shape, backend
 * "replay", and "replay": {"file": absolute path, "hash": of the file's bytes, "name", "format",
 * "kernel", "recorded_on"}. A spec that already has a hash is checked against the file (-ESTALE with
 * a sentence when it changed). 0 and *expanded NULL for a spec that is not replayed; 1 with a new
 * object (caller frees) otherwise. */
int fw_replay_spec_expand(const cJSON *user, cJSON **expanded, char *err, size_t errlen);
/* The plan's valid points of a replayed spec: the space indices of the recorded configurations,
 * ascending, without repeats (*idx malloc'd). 0 when the spec is not replayed (nothing written). */
int fw_replay_valid_indices(const cJSON *resolved, const fw_space *space, uint64_t **idx, size_t *n, char *err,
                            size_t errlen);
/* The cached space of a file (read again only when its hash changed); hash NULL = any. The pointer
 * stays valid until four other files were loaded in this process. NULL with a sentence in err. */
const fw_replay_space *fw_replay_get(const char *path, const char *hash, char *err, size_t errlen);
const fw_replay_space *fw_replay_of_spec(const cJSON *resolved, char *err, size_t errlen);
int fw_replay_file_hash(const char *path, char out[17], char *err, size_t errlen);
/* Knob k's fairway value for its v-th recorded value: the integer itself, or v for a knob whose
 * values are not all integers (fw_replay_knob_is_int 0). */
int fw_replay_knob_is_int(const fw_replay_space *sp, int k);
int64_t fw_replay_knob_value(const fw_replay_space *sp, int k, int is_int, int v);
/* The space index of entry i (-1 when it is not a point of space). */
int64_t fw_replay_point_index(const fw_replay_space *sp, const fw_space *space, size_t i);
cJSON *fw_replay_shape_json(const fw_replay_space *sp);
/* The device a replayed spec runs on (docs/worker-protocol.md, DEVICE): backend "replay", identity
 * "replay|fairway|NAME|HASH|FORMAT"; NULL when the spec is not replayed. */
cJSON *fw_replay_device_json(const cJSON *resolved);
cJSON *fw_replay_device_make(const char *name, const char *hash, const char *format, const char *recorded_on);

#endif
