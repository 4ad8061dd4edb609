/* worker_int.h - what the worker's standalone mode (worker.c) and serve mode (serve.c) share. */
#ifndef FW_WORKER_INT_H
#define FW_WORKER_INT_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "fw_backend.h"
#include "fw_bench.h"
#include "fw_job.h"

#define EXIT_USAGE 2
#define EXIT_DEVICE 3
#define EXIT_STICKY 70

typedef struct opts {
    const char *spec, *backend;
    int device, have_device;
    int serve, list, expand, resolve;
    const char *warmup, *iters, *budget, *seed, *strategy;
    const char *compile_threads, *cache_dir, *cache_max_mb, *finalists;
    int no_cache, no_early_stop;
} opts;

void fault_check_at(const char *where);
void fault_check(int64_t seq);
void print_json(const cJSON *o);
int open_device(const char *bname, int index, const fw_backend **be, fw_device **dev,
                fw_device_info *info, char *err, size_t errlen);
fw_ccache *open_cache(const opts *o);
int compile_threads(const opts *o, const fw_job_spec *spec, const fw_device_info *info);
void apply_early_stop(cJSON *spec, const opts *o);
int bench_pool_threads(int asked, fw_bench *b);
void finalist_params(const fw_job_spec *spec, int *rounds, int *iters, int *warmup);

/* backends.c */
int fw_worker_backends_init(int argc, char **argv, int *exit_code);

/* serve.c */
int serve(const opts *o);
/* An item from the wire ({"seq","shape_index","index","knobs","origin"}, docs/worker-protocol.md) as
 * a plan item of a job with `planned` evaluations and `nshapes` shapes over space. */
int wk_item_from_json(const cJSON *j, const fw_space *space, size_t planned, int nshapes, size_t *seq,
                      fw_plan_item *out, char *err, size_t errlen);

#endif
