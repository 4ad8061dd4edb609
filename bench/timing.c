/* Harness timing: options, early stop's best medians, input rotation, cache flushing and the timed
 * launches (fw_bench.h, harness_int.h). */
#include "harness_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

void fwh_parse_run_opts(const fw_job_spec *spec, run_opts *o)
{
    o->es_on = !spec->early_stop_off;
    o->es_after = spec->es_after.number && spec->es_after.ivalue >= 1 ? spec->es_after.ivalue : 5;
    o->es_ratio = spec->es_ratio.number && spec->es_ratio.value > 1.0 ? spec->es_ratio.value : 2.0;
    const fw_job_num *r = &spec->rotate_buffers, *f = &spec->flush_cache_mb, *n = &spec->launches_per_sample;
    o->nrot = r->number && r->ivalue > 1 ? (r->ivalue > 64 ? 64 : r->ivalue) : 1;
    o->flush_bytes = f->number && f->value > 0 ? (size_t)(f->value * 1048576.0) : 0;
    o->lps = n->number && n->value >= 1 ? (n->value > FW_BENCH_LPS_MAX ? FW_BENCH_LPS_MAX : (int)n->value) : 1;
    o->rotate_bytes = spec->rotate_bytes.number && spec->rotate_bytes.value > 0 ? spec->rotate_bytes.value : 0;
}

/* Copies of the inputs a timing needs: rotate_buffers, or enough that all copies together exceed
 * rotate_bytes (so a batch that walks through them re-reads none from a cache of that size). */
static int rotation_copies(const run_opts *ro, const fw_workload *wl)
{
    int nrot = ro->nrot;
    if (ro->rotate_bytes > 0) {
        double in = 0;
        for (size_t i = 0; i < wl->nbuffers; i++)
            if (wl->buffers[i].role == FW_BUF_INPUT && wl->buffers[i].host)
                in += (double)wl->buffers[i].bytes;
        if (in > 0) {
            double need = floor(ro->rotate_bytes / in) + 1;
            if (need > FW_BENCH_ROTATE_MAX)
                need = FW_BENCH_ROTATE_MAX;
            if ((int)need > nrot)
                nrot = (int)need;
        }
    }
    return nrot;
}

uint64_t fw_bench_batch_launches(const fw_bench *b)
{
    return b ? b->batch_launches : 0;
}

static double best_for(fw_bench *b, const char *shape_key)
{
    for (size_t i = 0; i < b->nbest; i++)
        if (strcmp(b->best[i].shape_key, shape_key) == 0)
            return b->best[i].ns;
    return 0;
}

void fw_bench_reset_best(fw_bench *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nbest; i++)
        free(b->best[i].shape_key);
    free(b->best);
    b->best = NULL;
    b->nbest = 0;
}

int fw_bench_note_best(fw_bench *b, const char *shape_key, double median_ns)
{
    if (!b || !shape_key || !(median_ns > 0))
        return -EINVAL;
    for (size_t i = 0; i < b->nbest; i++)
        if (strcmp(b->best[i].shape_key, shape_key) == 0) {
            if (median_ns < b->best[i].ns)
                b->best[i].ns = median_ns;
            return 0;
        }
    best_entry *e = realloc(b->best, (b->nbest + 1) * sizeof *e);
    if (!e)
        return -ENOMEM;
    b->best = e;
    if (!(e[b->nbest].shape_key = fw_strdup(shape_key)))
        return -ENOMEM;
    e[b->nbest++].ns = median_ns;
    return 0;
}

/* Extra copies of the workload's input buffers for rotation, written with the same bytes. */
static int ensure_rotation(fw_bench *b, wl_entry *we, int nrot)
{
    if (we->nrot >= nrot || nrot <= 1)
        return 0;
    size_t nb = we->wl->nbuffers;
    fw_buffer **rot = calloc((size_t)(nrot - 1) * (nb ? nb : 1), sizeof *rot);
    if (!rot)
        return -ENOMEM;
    int rc = 0;
    for (int c = 0; c < nrot - 1 && rc == 0; c++)
        for (size_t i = 0; i < nb && rc == 0; i++) {
            const fw_wl_buffer *wb = &we->wl->buffers[i];
            if (wb->role != FW_BUF_INPUT || !wb->host)
                continue;
            fw_buffer **slot = &rot[(size_t)c * nb + i];
            if (c < we->nrot - 1 && we->rot) {   /* keep the copies made for a smaller rotation */
                *slot = we->rot[(size_t)c * nb + i];
                we->rot[(size_t)c * nb + i] = NULL;
                continue;
            }
            rc = b->be->buffer_new(b->dev, wb->bytes, slot);
            if (rc == 0)
                rc = b->be->buffer_write(b->dev, *slot, 0, wb->host, wb->bytes);
        }
    if (we->rot) {
        for (size_t i = 0; i < (size_t)(we->nrot - 1) * nb; i++)
            if (we->rot[i])
                b->be->buffer_free(b->dev, we->rot[i]);
        free(we->rot);
    }
    we->rot = rot;
    we->nrot = nrot;
    return rc;
}

/* warmup untimed launches, then up to n timed ones into samples; *taken says how many. With early
 * stop on, stops after es_after samples once the running median exceeds es_ratio x the shape's best
 * (best_out / med_out then say by how much). Returns 0, -ENOMEM, or the backend's code (-EFAULT
 * sticky) with *failed pointing at a message when the failure was not a launch. */
int fwh_timed_launches(fw_bench *b, fw_program *prog, const fw_launch *base, wl_entry *we, const run_opts *ro,
                          int warmup, size_t n, uint64_t *samples, const char *shape_key, size_t *taken,
                          double *best_out, double *med_out, const char **failed)
{
    *taken = 0;
    *failed = NULL;
    int nrot = rotation_copies(ro, we->wl);
    int lps = ro->lps;
    size_t nb = we->wl->nbuffers;
    b->last_lps = lps;
    b->last_nrot = nrot;
    b->last_window = lps > 1 && b->be->launch_batch ? 1 : 0;
    if (nrot > 1 && ensure_rotation(b, we, nrot) < 0) {
        *failed = "cannot allocate the rotated copies of the input buffers (options.rotate_buffers): "
                  "the device is out of memory";
        return -ENOSPC;
    }
    if (ro->flush_bytes && (!b->flush || b->flush_bytes != ro->flush_bytes)) {
        if (b->flush)
            b->be->buffer_free(b->dev, b->flush);
        b->flush = NULL;
        if (b->be->buffer_new(b->dev, ro->flush_bytes, &b->flush) < 0) {
            b->flush = NULL;
            *failed = "cannot allocate the cache-flush buffer (options.flush_cache_mb): lower it";
            return -ENOSPC;
        }
        b->flush_bytes = ro->flush_bytes;
    }
    /* one argument list per input copy: copy c swaps in the c-th rotated buffer of each input */
    fw_arg *args = calloc((size_t)nrot * (base->nargs ? base->nargs : 1), sizeof *args);
    uint64_t *sorted = calloc(n ? n : 1, sizeof *sorted);
    fw_launch *batch = lps > 1 ? calloc((size_t)lps, sizeof *batch) : NULL;
    if (!args || !sorted || (lps > 1 && !batch)) {
        free(args);
        free(sorted);
        free(batch);
        return -ENOMEM;
    }
    for (int c = 0; c < nrot; c++)
        for (size_t i = 0; i < base->nargs; i++) {
            fw_arg *a = &args[(size_t)c * base->nargs + i];
            *a = base->args[i];
            int bi = we->wl->args[i].buffer;
            if (c > 0 && bi >= 0 && (size_t)bi < nb && we->rot[(size_t)(c - 1) * nb + (size_t)bi])
                a->buffer = we->rot[(size_t)(c - 1) * nb + (size_t)bi];
        }
    fw_launch l = *base;
    int rc = 0;
    size_t k = 0;
    for (int i = 0; i < warmup && rc == 0; i++, k++) {
        l.args = &args[(k % (size_t)nrot) * base->nargs];
        rc = b->be->launch(b->dev, prog, &l, NULL);
    }
    double best = ro->es_on ? best_for(b, shape_key) : 0;
    for (size_t i = 0; i < n && rc == 0; i++, k++) {
        if (b->flush) {
            rc = b->be->buffer_fill(b->dev, b->flush, (uint32_t)(0x9e3779b9u * (uint32_t)(k + 1)), b->flush_bytes);
            if (rc < 0)
                break;
        }
        if (lps == 1) {
            l.args = &args[(k % (size_t)nrot) * base->nargs];
            rc = b->be->launch(b->dev, prog, &l, &samples[i]);
        } else {
            /* lps launches in one sample, each on the next input copy, divided by lps: the launch
             * overhead is paid once per window, not once per kernel */
            for (int j = 0; j < lps; j++) {
                batch[j] = *base;
                batch[j].args = &args[((k + (size_t)j) % (size_t)nrot) * base->nargs];
            }
            uint64_t total = 0;
            rc = b->last_window ? b->be->launch_batch(b->dev, prog, batch, (size_t)lps, &total) : -ENOTSUP;
            if (rc == -ENOTSUP) {
                b->last_window = 0;   /* this backend times each launch: add them up */
                rc = 0;
                total = 0;
                for (int j = 0; j < lps && rc == 0; j++) {
                    uint64_t one = 0;
                    rc = b->be->launch(b->dev, prog, &batch[j], &one);
                    total += one;
                }
            }
            k += (size_t)lps - 1;
            b->batch_launches += (uint64_t)lps;
            samples[i] = (total + (uint64_t)lps / 2) / (uint64_t)lps;
        }
        if (rc < 0)
            break;
        *taken = i + 1;
        if (best > 0 && *taken >= (size_t)ro->es_after && *taken < n) {
            memcpy(sorted, samples, *taken * sizeof *sorted);
            fw_bench_stats st;
            fw_bench_stats_compute(sorted, *taken, &st);
            if (st.median > ro->es_ratio * best) {
                *best_out = best;
                *med_out = st.median;
                break;
            }
        }
    }
    free(args);
    free(sorted);
    free(batch);
    return rc;
}
