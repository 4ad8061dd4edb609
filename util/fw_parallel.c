/* fw_parallel_tasks: a fixed set of independent tasks spread over the host's cores for a moment (the
 * gemm reference's rows, the output comparison's chunks). Thread t runs tasks t, t + nt, ...; which
 * thread runs a task never changes what it computes, so callers that combine per-task results in task
 * order get the same answer at any thread count. */
#include "fw_util.h"

#include <pthread.h>
#include <unistd.h>

enum { MAX_THREADS = 16 };

typedef struct part {
    void (*fn)(void *, size_t);
    void *ctx;
    size_t first, stride, ntasks;
} part;

static void *part_main(void *arg)
{
    part *p = arg;
    for (size_t t = p->first; t < p->ntasks; t += p->stride)
        p->fn(p->ctx, t);
    return NULL;
}

void fw_parallel_tasks(size_t ntasks, size_t max_threads, void (*fn)(void *ctx, size_t task), void *ctx)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cores > 1 ? (size_t)cores : 1;
    if (max_threads > 0 && nt > max_threads)
        nt = max_threads;
    if (nt > MAX_THREADS)
        nt = MAX_THREADS;
    if (nt > ntasks)
        nt = ntasks ? ntasks : 1;
    pthread_t th[MAX_THREADS];
    part parts[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (size_t t = 0; t < nt; t++) {
        parts[t] = (part){fn, ctx, t, nt, ntasks};
        if (t > 0)
            started[t] = pthread_create(&th[t], NULL, part_main, &parts[t]) == 0;
    }
    part_main(&parts[0]);
    for (size_t t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            part_main(&parts[t]);   /* no thread: run its tasks here */
    }
}
