/* Harness workloads and their device buffers: the per-process workload cache and the preparation
 * of buffers before a checked launch (fw_bench.h, harness_int.h). */
#include "harness_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

void fwh_wl_entry_release(fw_bench *b, wl_entry *e)
{
    if (!e->used)
        return;
    if (e->bufs) {
        for (size_t i = 0; i < e->wl->nbuffers; i++)
            if (e->bufs[i])
                b->be->buffer_free(b->dev, e->bufs[i]);
        free(e->bufs);
    }
    if (e->rot) {
        for (size_t i = 0; i < (size_t)(e->nrot - 1) * e->wl->nbuffers; i++)
            if (e->rot[i])
                b->be->buffer_free(b->dev, e->rot[i]);
        free(e->rot);
    }
    if (e->pristine) {
        for (size_t i = 0; i < e->wl->nbuffers; i++)
            if (e->pristine[i])
                b->be->buffer_free(b->dev, e->pristine[i]);
        free(e->pristine);
    }
    if (e->ref_dev)
        b->be->buffer_free(b->dev, e->ref_dev);
    if (e->fam && e->fam->workload_free)
        e->fam->workload_free(e->wl);
    memset(e, 0, sizeof *e);
}

/* A shape's workload: the family's, or for the declarative family the spec's "workload" one. */
int fwh_wl_new(const fw_family *fam, const fw_job_spec *spec, const cJSON *shape, uint64_t seed,
               fw_workload **out, char *err, size_t errlen)
{
    if (fam == &fw_family_declarative)
        return fw_decl_workload_new(spec->workload, shape, spec->space_knobs, seed, out, err, errlen);
    return fam->workload_new(shape, seed, out, err, errlen);
}

wl_entry *fwh_workload_get(fw_bench *b, const fw_family *fam, const fw_job_spec *spec, const cJSON *shape,
                              uint64_t seed, char *err, size_t errlen, int *rc)
{
    char *txt = cJSON_PrintUnformatted(shape);
    if (!txt) {
        *rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        return NULL;
    }
    uint64_t key = fw_hash64_str(FW_HASH64_INIT, fam->name);
    key = fw_hash64(key, "|", 1);
    key = fw_hash64_str(key, txt);
    key = fw_hash64(key, &seed, sizeof seed);
    free(txt);
    if (fam == &fw_family_declarative && (txt = cJSON_PrintUnformatted(spec->workload)) != NULL) {
        key = fw_hash64_str(key, txt);   /* another job's workload on the same shape is another workload */
        free(txt);
    }
    wl_entry *victim = &b->wl[0];
    for (int i = 0; i < FW_BENCH_WL_CACHE; i++) {
        wl_entry *e = &b->wl[i];
        if (e->used && e->key == key && e->fam == fam) {
            e->stamp = ++b->clock;
            return e;
        }
        if (!e->used || (victim->used && e->stamp < victim->stamp))
            victim = e;
    }
    /* Free the evicted workload first: workloads can be large, never hold two extra at once. */
    fwh_wl_entry_release(b, victim);
    fw_workload *wl = NULL;
    *rc = fwh_wl_new(fam, spec, shape, seed, &wl, err, errlen);
    if (*rc < 0 || !wl) {
        if (*rc >= 0)
            *rc = fw_errf(err, errlen, -EINVAL, "family '%s' made no workload", fam->name);
        return NULL;
    }
    fw_buffer **bufs = calloc(wl->nbuffers ? wl->nbuffers : 1, sizeof *bufs);
    if (!bufs) {
        fam->workload_free(wl);
        *rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < wl->nbuffers; i++) {
        int r = b->be->buffer_new(b->dev, wl->buffers[i].bytes, &bufs[i]);
        if (r < 0) {
            *rc = fw_errf(err, errlen, r, "cannot allocate workload buffer '%s' (%zu bytes): %s",
                          wl->buffers[i].name ? wl->buffers[i].name : "?", wl->buffers[i].bytes,
                          b->be->last_error(b->dev));
            for (size_t j = 0; j < i; j++)
                b->be->buffer_free(b->dev, bufs[j]);
            free(bufs);
            fam->workload_free(wl);
            return NULL;
        }
    }
    if (fam == &fw_family_declarative) {
        char **rm = NULL;   /* the spec's fixed macros reach the reference too; the knobs' do not */
        size_t nrm = 0;
        *rc = fwh_add_macro_object(spec->macros, &rm, &nrm, err, errlen);
        if (*rc == 0)
            *rc = fw_bench_decl_reference(b->be, b->dev, wl, bufs, spec->source_text, (const char *const *)rm, nrm,
                                          spec->compiler, err, errlen);
        fw_macros_free(rm, nrm);
        if (*rc < 0) {
            for (size_t j = 0; j < wl->nbuffers; j++)
                b->be->buffer_free(b->dev, bufs[j]);
            free(bufs);
            fam->workload_free(wl);
            return NULL;
        }
    }
    victim->used = 1;
    victim->key = key;
    victim->stamp = ++b->clock;
    victim->fam = fam;
    victim->wl = wl;
    victim->bufs = bufs;
    victim->nrot = 1;
    *rc = 0;
    return victim;
}

int fwh_bind_args(const fw_workload *wl, fw_buffer **bufs, const fw_geometry *geo, fw_arg *args, char *err,
                  size_t errlen)
{
    for (size_t i = 0; i < wl->nargs; i++) {
        const fw_wl_arg *a = &wl->args[i];
        if (a->buffer >= 0) {
            if ((size_t)a->buffer >= wl->nbuffers)
                return fw_errf(err, errlen, -EINVAL, "argument %zu names buffer %d of %zu", i, a->buffer,
                               wl->nbuffers);
            args[i] = (fw_arg){.kind = FW_ARG_BUFFER, .buffer = bufs[a->buffer]};
        } else if (a->buffer == FW_WL_LOCAL) {
            if (a->size >= (size_t)geo->nlocal || geo->local_bytes[a->size] == 0)
                return fw_errf(err, errlen, -EINVAL, "argument %zu is local memory %zu, which the geometry does not "
                               "size (%d sized)", i, a->size, geo->nlocal);
            args[i] = (fw_arg){.kind = FW_ARG_LOCAL, .size = geo->local_bytes[a->size]};
        } else {
            args[i] = (fw_arg){.kind = FW_ARG_BYTES, .bytes = a->bytes, .size = a->size};
        }
    }
    return 0;
}

size_t fwh_bound_nargs(const fw_workload *wl, int64_t num_args)
{
    if (num_args <= 0 || (size_t)num_args == wl->nargs)
        return wl->nargs;
    if ((size_t)num_args > wl->nargs || wl->min_args == 0 || (size_t)num_args < wl->min_args)
        return 0;
    return (size_t)num_args;
}

/* Inputs from the pristine device copies (pristine non-NULL) or written from the host, outputs
 * poisoned, accumulators and scratch zeroed. On failure, *failed is the buffer's index. */
static int prepare(fw_bench *b, const fw_workload *w, fw_buffer **bufs, fw_buffer **pristine, size_t *failed)
{
    for (size_t i = 0; i < w->nbuffers; i++) {
        const fw_wl_buffer *wb = &w->buffers[i];
        int r = 0;
        if (wb->role == FW_BUF_INPUT && wb->host)   /* a variant may have written its inputs */
            r = pristine ? b->be->buffer_copy(b->dev, bufs[i], pristine[i], wb->bytes)
                         : b->be->buffer_write(b->dev, bufs[i], 0, wb->host, wb->bytes);
        else if (wb->role == FW_BUF_OUTPUT)
            r = b->be->buffer_fill(b->dev, bufs[i], POISON, wb->bytes);
        else if (wb->role == FW_BUF_ACCUM || wb->role == FW_BUF_SCRATCH)
            r = b->be->buffer_fill(b->dev, bufs[i], 0, wb->bytes);
        if (r < 0) {
            *failed = i;
            return r;
        }
    }
    return 0;
}

/* Seeded inputs written, outputs poisoned, accumulators and scratch zeroed: every launch that is
 * checked starts clean. On failure, *failed is the buffer's index. */
int fwh_prepare_buffers(fw_bench *b, const fw_workload *w, fw_buffer **bufs, size_t *failed)
{
    return prepare(b, w, bufs, NULL, failed);
}

/* The pristine device copies of the workload's inputs, written from the host once (1), or -1 when
 * the backend cannot copy on the device or the memory is not there (nothing kept). */
static int make_pristine(fw_bench *b, wl_entry *we)
{
    const fw_workload *w = we->wl;
    if (!b->be->buffer_copy)
        return -1;
    fw_buffer **p = calloc(w->nbuffers ? w->nbuffers : 1, sizeof *p);
    if (!p)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < w->nbuffers && rc == 0; i++) {
        const fw_wl_buffer *wb = &w->buffers[i];
        if (wb->role != FW_BUF_INPUT || !wb->host)
            continue;
        rc = b->be->buffer_new(b->dev, wb->bytes, &p[i]);
        if (rc < 0)
            p[i] = NULL;
        else
            rc = b->be->buffer_write(b->dev, p[i], 0, wb->host, wb->bytes);
    }
    if (rc < 0) {
        for (size_t i = 0; i < w->nbuffers; i++)
            if (p[i])
                b->be->buffer_free(b->dev, p[i]);
        free(p);
        return -1;
    }
    we->pristine = p;
    return 1;
}

int fwh_prepare_variant(fw_bench *b, wl_entry *we, size_t *failed)
{
    if (we->pristine_state == 0)
        we->pristine_state = make_pristine(b, we);
    return prepare(b, we->wl, we->bufs, we->pristine_state > 0 ? we->pristine : NULL, failed);
}
