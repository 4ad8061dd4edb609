/* fw_worker_replay.h - the replay device inside fairway-worker (DESIGN.md section 5, replay/).
 *
 * A replayed job (a resolved spec with "replay", see replay/fw_replay.h) skips the harness: no
 * compile, no buffers, no verification. Each launch returns the recorded sample (cycling through
 * the file's "times", else its mean "time"), times a seeded noise factor when options.replay_noise
 * is set (PCG32 seeded by the job seed, one stream per seq, another per finalist round), so a seq
 * always measures the same; a failed entry is a record with its class (compile_error, invalid,
 * crashed). Records and finalists have the fields docs/worker-protocol.md lists. */
#ifndef FW_WORKER_REPLAY_H
#define FW_WORKER_REPLAY_H

#include <cjson/cJSON.h>

#include "fw_backend.h"
#include "fw_job.h"

/* The backend behind --backend replay: one device whose identity names no file; a replayed job's
 * device is fw_replay_device_json(spec), which the worker answers from once the job is loaded. */
extern const fw_backend fw_replay_backend;

typedef struct fw_wreplay fw_wreplay;

/* 0 (and *out NULL) when the spec is not replayed, 1 when loaded, < 0 with a sentence. */
int fw_wreplay_load(const fw_job_spec *spec, fw_wreplay **out, char *err, size_t errlen);
void fw_wreplay_free(fw_wreplay *w);
int fw_wreplay_measure(const fw_wreplay *w, const fw_job_spec *spec, const fw_plan_item *it, int64_t seq, cJSON **out,
                       char *err, size_t errlen);
/* Like fw_bench_finalists (warmup has no meaning here). */
int fw_wreplay_finalists(const fw_wreplay *w, const fw_job_spec *spec, const fw_plan *plan, const cJSON *records, int k,
                         int rounds, int iters, cJSON **out, char *err, size_t errlen);

#endif
