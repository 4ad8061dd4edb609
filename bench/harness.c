/* The measuring harness: one plan item in, one measurement record out (fw_bench.h), in stages
 * whose parts live beside this file (harness_int.h). */
#include "harness_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_transform.h"
#include "fw_util.h"

int fw_bench_new(const fw_backend *be, fw_device *dev, const fw_device_info *info, fw_bench **out)
{
    *out = NULL;
    if (!be || !dev || !info)
        return -EINVAL;
    fw_bench *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->be = be;
    b->dev = dev;
    b->info = *info;
    if (fw_device_identity(info, b->identity, sizeof b->identity) < 0)
        b->identity[0] = '\0';
    *out = b;
    return 0;
}

void fw_bench_set_cache(fw_bench *b, fw_ccache *c)
{
    if (b)
        b->cache = c;
}

void fw_bench_free(fw_bench *b)
{
    if (!b)
        return;
    fw_bench_pool_stop(b);
    for (size_t i = 0; i < b->nbest; i++)
        free(b->best[i].shape_key);
    free(b->best);
    if (b->flush)
        b->be->buffer_free(b->dev, b->flush);
    fwh_dev_compare_free(b);
    for (int i = 0; i < FW_BENCH_WL_CACHE; i++)
        fwh_wl_entry_release(b, &b->wl[i]);
    for (int i = 0; i < FW_BENCH_PROG_CACHE; i++)
        fwh_prog_entry_release(b, &b->prog[i]);
    free(b);
}

int fw_bench_measure(fw_bench *b, const fw_job_spec *spec, const fw_plan_item *item, int64_t seq,
                     cJSON **record, char *err, size_t errlen)
{
    return fw_bench_measure_family(b, NULL, spec, item, seq, record, err, errlen);
}

/* One measurement in flight: what the stages of fw_bench_measure_family share. Each stage returns
 * 0 to go on, STAGE_DONE when the record is complete (its status set), or < 0 for an error that
 * leaves no record (err set). `fatal` is set by a stage that met a sticky device error. */
enum { STAGE_DONE = 1 };

typedef struct measure {
    fw_bench *b;
    const fw_family *fam;
    const fw_job_spec *spec;
    const cJSON *shape;
    const fw_plan_item *item;
    int64_t seq;
    char shape_key[512];
    uint64_t wseed;
    wl_entry *we;
    fw_workload *wl;
    compile_in ci;
    int warmup, iters;
    cJSON *rec;
    uint64_t tstage;
    char why[1024];
    fw_geometry geo;
    int64_t threads;
    prog_entry *pe;
    fw_arg *args;
    size_t nbound;                /* arguments the kernel takes (fwh_bound_nargs); 0: all of wl's */
    fw_launch l;
    unsigned char *out;           /* the output read back (NULL when the device compared) */
    int dev_cmp;                  /* the device compares (m_readback) */
    int poisons;                  /* 2: an integer output checked a second time on zero bytes */
    unsigned char *tail;          /* the output's bytes past its elements (canary words) */
    unsigned char tail_buf[256];
    uint64_t *samples;
    int fatal;
    char *err;
    size_t errlen;
} measure;

/* The family (given, or the spec's), the shape, its workload and what the compiler will see. */
static int m_resolve(measure *m)
{
    const fw_job_spec *spec = m->spec;
    if (!m->fam) {
        if (!spec->family)
            return fw_errf(m->err, m->errlen, -EINVAL, "the spec names no family");
        m->fam = fw_family_find(spec->family);
        if (!m->fam)
            return fw_errf(m->err, m->errlen, -EINVAL, "unknown kernel family '%s'", spec->family);
    }
    const fw_family *fam = m->fam;
    if (!fam->workload_new || !fam->workload_free || !fam->geometry)
        return fw_errf(m->err, m->errlen, -EINVAL, "kernel family '%s' has no workload or geometry", fam->name);
    m->shape = fw_job_spec_shape(spec, m->item->shape);
    if (!cJSON_IsObject(m->shape))
        return fw_errf(m->err, m->errlen, -EINVAL, "the spec has no shape %d", m->item->shape);
    if (fam->shape_key && fam->shape_key(m->shape, m->shape_key, sizeof m->shape_key) < 0)
        m->shape_key[0] = '\0';
    m->wseed = fw_bench_workload_seed(fwh_spec_seed(spec), m->item->shape);
    int rc = 0;
    m->we = fwh_workload_get(m->b, fam, spec, m->shape, m->wseed, m->err, m->errlen, &rc);
    if (!m->we)
        return rc;
    m->wl = m->we->wl;
    rc = fwh_compile_inputs(m->b->info.dialect, fam, spec, m->item, m->wl, &m->ci, m->err, m->errlen);
    if (rc < 0)
        return rc;
    m->warmup = spec->has_warmup ? spec->warmup : 3;
    m->iters = spec->has_iters ? spec->iters : 10;
    if (m->warmup < 0)
        m->warmup = 0;
    if (m->iters < 1)
        m->iters = 1;
    return 0;
}

/* The record's identifying fields, and the status it has if nothing below says otherwise. */
static int m_record_head(measure *m)
{
    const fw_plan_item *item = m->item;
    char vhash[17], key[FW_KEY_MAX];
    if (fw_point_key(&item->point, key, sizeof key) < 0)
        key[0] = '\0';
    uint64_t vh = fw_hash64_str(FW_HASH64_INIT, m->fam->name);
    vh = fw_hash64(vh, "|", 1);
    vh = fw_hash64_str(vh, m->ci.source_hash);
    vh = fw_hash64(vh, "|", 1);
    fw_hash64_hex(fw_hash64_str(vh, key), vhash);
    cJSON *rec = m->rec = cJSON_CreateObject();
    if (!rec)
        return fw_errf(m->err, m->errlen, -ENOMEM, "out of memory");
    cJSON_AddNumberToObject(rec, "seq", (double)m->seq);
    cJSON_AddNumberToObject(rec, "shape_index", item->shape);
    cJSON_AddStringToObject(rec, "shape_key", m->shape_key);
    cJSON_AddItemToObject(rec, "shape", cJSON_Duplicate(m->shape, 1));
    cJSON_AddStringToObject(rec, "family", m->fam->name);
    cJSON_AddStringToObject(rec, "kernel", m->ci.entry);
    cJSON_AddStringToObject(rec, "mode", m->wl->mode);
    cJSON_AddStringToObject(rec, "variant_key", key);
    cJSON_AddStringToObject(rec, "variant_hash", vhash);
    cJSON_AddStringToObject(rec, "source_hash", m->ci.source_hash);
    cJSON_AddItemToObject(rec, "knobs", fw_point_to_json(&item->point));
    cJSON *jm = cJSON_AddArrayToObject(rec, "macros");
    for (size_t i = 0; i < m->ci.nmacros; i++)
        cJSON_AddItemToArray(jm, cJSON_CreateString(m->ci.macros[i]));
    /* A variant with a structural transform switched on is "structural" (issue 13), whatever proposed it. */
    cJSON_AddStringToObject(rec, "origin", fw_transform_structural(m->spec->json, &item->point) ? "structural"
                                           : item->origin ? item->origin : "");
    cJSON_AddStringToObject(rec, "status", "runtime_error");
    cJSON_AddNullToObject(rec, "error");
    cJSON_AddNullToObject(rec, "compile_ms");
    cJSON_AddFalseToObject(rec, "cached");
    return 0;
}

static int m_set(measure *m, const char *status, const char *why)
{
    fwh_set_status(m->rec, status, why);
    return STAGE_DONE;
}

/* 1. geometry from the same knobs that are compiled; limits checked before any compile */
static int m_geometry(measure *m)
{
    fw_bench *b = m->b;
    m->why[0] = '\0';
    if (m->fam->geometry(m->wl, &m->item->point, &m->geo, m->why, sizeof m->why) < 0)
        return m_set(m, "invalid", m->why[0] ? m->why : "the family cannot run these knobs on this shape");
    cJSON_AddItemToObject(m->rec, "geometry", fwh_geometry_json(&m->geo));
    m->threads = (int64_t)m->geo.group[0] * m->geo.group[1] * m->geo.group[2];
    if (b->info.max_threads > 0 && m->threads > b->info.max_threads) {
        snprintf(m->why, sizeof m->why, "the variant needs %" PRId64 " threads per threadgroup; the device allows %"
                 PRId64, m->threads, b->info.max_threads);
        return m_set(m, "invalid", m->why);
    }
    if (b->info.shared_bytes > 0 && m->geo.shared_bytes > b->info.shared_bytes) {
        snprintf(m->why, sizeof m->why, "the variant needs %" PRId64 " bytes of threadgroup memory; the device has %"
                 PRId64, m->geo.shared_bytes, b->info.shared_bytes);
        return m_set(m, "invalid", m->why);
    }
    return 0;
}

/* 2. compile (or reuse this process's compiled program) */
static int m_program(measure *m)
{
    int cached = 0;
    prog_entry *pe = m->pe = fwh_program_get(m->b, m->ci.source, m->ci.macros, m->ci.nmacros, m->ci.options,
                                             m->ci.entry, m->seq, &cached);
    cJSON_ReplaceItemInObject(m->rec, "compile_ms", cJSON_CreateNumber(pe->compile_ms + pe->load_ms));
    cJSON_ReplaceItemInObject(m->rec, "cached", cJSON_CreateBool(cached || pe->from_disk));
    if (pe->load_ms > 0)
        cJSON_AddNumberToObject(m->rec, "load_ms", pe->load_ms);
    if (!pe->prog)
        return m_set(m, "compile_error", pe->log);
    return 0;
}

/* 3. resources the compiler reports, against the device and the launch */
static int m_resources(measure *m)
{
    fw_bench *b = m->b;
    fw_resources res;
    memset(&res, 0, sizeof res);
    if (b->be->resources(b->dev, m->pe->prog, &res) != 0)
        return 0;
    cJSON_AddItemToObject(m->rec, "resources", fwh_resources_json(&res));
    m->nbound = fwh_bound_nargs(m->wl, res.num_args);
    if (m->nbound == 0 && m->wl->nargs > 0) {   /* no launch could bind it right */
        char names[512] = "";
        if (m->fam == &fw_family_declarative)
            fw_decl_arg_names(m->wl, names, sizeof names);
        return fw_errf(m->err, m->errlen, -EINVAL, "kernel '%s' takes %lld arguments but the workload lists %zu%s%s%s",
                       m->ci.entry, (long long)res.num_args, m->wl->nargs, names[0] ? " (" : "", names,
                       names[0] ? ")" : "");
    }
    if (res.max_threads > 0 && m->threads > res.max_threads) {
        snprintf(m->why, sizeof m->why, "the compiled kernel can launch at most %" PRId64
                 " threads per threadgroup; the variant needs %" PRId64, res.max_threads, m->threads);
        return m_set(m, "invalid", m->why);
    }
    int64_t shared = res.static_shared_bytes + m->geo.dynamic_shared_bytes;
    if (b->info.shared_bytes > 0 && shared > b->info.shared_bytes) {
        snprintf(m->why, sizeof m->why, "the compiled kernel uses %" PRId64 " bytes of threadgroup memory; the device "
                 "has %" PRId64, shared, b->info.shared_bytes);
        return m_set(m, "invalid", m->why);
    }
    return 0;
}

/* 4. seeded inputs, poisoned outputs, zeroed accumulators (every variant starts clean), and the
 * launch's arguments */
static int m_prepare(measure *m)
{
    fw_bench *b = m->b;
    fw_workload *wl = m->wl;
    size_t failed_buf = 0;
    int prep = fwh_prepare_variant(b, m->we, &failed_buf);
    if (prep < 0) {
        const char *bname = wl->buffers[failed_buf].name;
        snprintf(m->why, sizeof m->why, "preparing buffer '%s' failed: %s", bname ? bname : "?",
                 b->be->last_error(b->dev));
        m->fatal = prep == -EFAULT;
        return m_set(m, "runtime_error", m->why);
    }
    m->args = calloc(wl->nargs ? wl->nargs : 1, sizeof *m->args);
    if (!m->args)
        return fw_errf(m->err, m->errlen, -ENOMEM, "out of memory");
    char why[256];
    if (fwh_bind_args(wl, m->we->bufs, &m->geo, m->args, why, sizeof why) < 0)
        return fw_errf(m->err, m->errlen, -EINVAL, "family '%s': %s", m->fam->name, why);
    memset(&m->l, 0, sizeof m->l);
    memcpy(m->l.grid, m->geo.grid, sizeof m->l.grid);
    memcpy(m->l.group, m->geo.group, sizeof m->l.group);
    m->l.dynamic_shared_bytes = m->geo.dynamic_shared_bytes;
    m->l.args = m->args;
    m->l.nargs = m->nbound ? m->nbound : wl->nargs;   /* the kernel's own count (m_resources) */
    return 0;
}

/* 5. the checked launch. Its host wall time is reported because some drivers finish compiling
 * at the first launch (PoCL specialises the kernel for the local size there). */
static int m_first_launch(measure *m)
{
    fw_bench *b = m->b;
    prog_entry *pe = m->pe;
    uint64_t tl0 = fw_now_ns();
    int rc = b->be->launch(b->dev, pe->prog, &m->l, NULL);
    cJSON_AddNumberToObject(m->rec, "first_launch_ms", (double)(fw_now_ns() - tl0) / 1e6);
    if (rc < 0) {
        m->fatal = rc == -EFAULT;
        return m_set(m, "runtime_error", b->be->last_error(b->dev));
    }
    /* PoCL finishes compiling at the first launch (the kernel specialised for its work-group size)
     * and its program binary then carries that code too: storing the binary again now lets a warm
     * cache skip the first-launch compile as well. Other backends' binaries are final at build. */
    /* (Not for a program a compile thread built: one created from a binary gives that binary back.) */
    if (b->cache && !pe->from_disk && !pe->restored && pe->load_ms == 0 && strcmp(b->be->name, "opencl") == 0 &&
        b->be->program_binary) {
        void *bin = NULL;
        size_t blen = 0;
        char ck[FW_CCACHE_KEY_LEN + 1];
        if (fw_ccache_key(b->identity, b->info.arch, m->ci.source, (const char *const *)m->ci.macros, m->ci.nmacros,
                          m->ci.options, m->ci.entry, ck) == 0 &&
            b->be->program_binary(b->dev, pe->prog, &bin, &blen) == 0)
            fw_ccache_put(b->cache, ck, bin, blen);
        free(bin);
        pe->restored = 1;
    }
    return 0;
}

/* The whole output read back to the host into m->out (the host comparison, a transformed
 * variant's checks). */
static int m_read_output(measure *m)
{
    fw_bench *b = m->b;
    const fw_wl_buffer *ob = &m->wl->buffers[m->wl->output];
    if (!m->out && !(m->out = malloc(ob->bytes ? ob->bytes : 1)))
        return fw_errf(m->err, m->errlen, -ENOMEM, "out of memory");
    int rc = b->be->buffer_read(b->dev, m->we->bufs[m->wl->output], 0, m->out, ob->bytes);
    if (rc < 0) {
        m->fatal = rc == -EFAULT;
        snprintf(m->why, sizeof m->why, "reading the output back failed: %s", b->be->last_error(b->dev));
        return m_set(m, "runtime_error", m->why);
    }
    return 0;
}

/* The output's element count (the canary words past it excluded). */
static size_t m_nelem(const measure *m)
{
    const fw_wl_buffer *ob = &m->wl->buffers[m->wl->output];
    return (ob->bytes - m->wl->output_canary) / fwh_elem_size(ob->elem);
}

/* What the comparison needs on the host: the whole output, or, when the device compares (an f32
 * output with a reference, issue 20), only the canary words past its end (into m->tail). */
static int m_readback(measure *m)
{
    fw_bench *b = m->b;
    fw_workload *wl = m->wl;
    if (wl->output < 0 || (size_t)wl->output >= wl->nbuffers)
        return fw_errf(m->err, m->errlen, -EINVAL, "family '%s' names no output buffer", m->fam->name);
    const fw_wl_buffer *ob = &wl->buffers[wl->output];
    size_t nelem = m_nelem(m), body = nelem * fwh_elem_size(ob->elem);
    int unverified = m->fam == &fw_family_declarative && fw_decl_unverified(wl);
    m->dev_cmp = ob->elem == FW_ELEM_F32 && !unverified && wl->reference && wl->nreference == nelem &&
                 fwh_dev_compare_ready(b, m->spec, nelem);
    if (!m->dev_cmp) {
        int rc = m_read_output(m);
        m->tail = m->out ? m->out + body : NULL;
        return rc;
    }
    m->tail = m->tail_buf;
    if (ob->bytes - body > sizeof m->tail_buf) {
        int rc = m_read_output(m);   /* an unusually long canary: the whole output, as before */
        m->tail = m->out ? m->out + body : NULL;
        return rc;
    }
    int rc = b->be->buffer_read(b->dev, m->we->bufs[wl->output], body, m->tail_buf, ob->bytes - body);
    if (rc < 0) {
        m->fatal = rc == -EFAULT;
        snprintf(m->why, sizeof m->why, "reading the output back failed: %s", b->be->last_error(b->dev));
        return m_set(m, "runtime_error", m->why);
    }
    return 0;
}

/* Every |out - ref| at most atol. */
static int host_abs_ok(int elem, const void *out, const double *ref, size_t nelem, double atol)
{
    for (size_t i = 0; i < nelem; i++)
        if (!(fabs(fw_elem_value(elem, out, i) - ref[i]) <= atol))
            return 0;
    return 1;
}

/* The comparison with the reference, on the device when m_readback chose it (falling back to the
 * host when the reference cannot go there), else on the read-back output. *abs_ok: every element
 * within the absolute tolerance (asked only when the relative error fails). */
static int m_compare(measure *m, size_t nelem, fw_bench_verify *v, int *on_dev, int *abs_ok)
{
    fw_bench *b = m->b;
    fw_workload *wl = m->wl;
    const fw_wl_buffer *ob = &wl->buffers[wl->output];
    double max_abs = 0;
    *on_dev = 0;
    if (m->dev_cmp) {
        int rc = fwh_dev_compare(b, m->we, m->we->bufs[wl->output], nelem, v, &max_abs);
        if (rc < 0) {
            m->fatal = rc == -EFAULT;
            snprintf(m->why, sizeof m->why, "comparing the output on the device failed: %s", b->be->last_error(b->dev));
            return m_set(m, "runtime_error", m->why);
        }
        *on_dev = rc == 0;
        if (!*on_dev && (rc = m_read_output(m)) != 0)
            return rc;
    }
    /* an inout output was never poisoned: none of its elements is unwritten */
    if (!*on_dev)
        fw_bench_verify_output2(ob->elem, m->out, ob->role == FW_BUF_INPUT ? m->out : NULL, nelem, wl->reference, v);
    *abs_ok = 0;
    if (wl->abs_tolerance > 0 && !v->unwritten && !v->nonfinite && !(v->rel_err <= wl->tolerance))
        *abs_ok = *on_dev ? max_abs <= wl->abs_tolerance : host_abs_ok(ob->elem, m->out, wl->reference, nelem,
                                                                       wl->abs_tolerance);
    return 0;
}

static int is_integer(int elem)
{
    return elem != FW_ELEM_F32 && elem != FW_ELEM_F16 && elem != FW_ELEM_BF16 && elem != FW_ELEM_F64;
}

/* An integer output whose elements still hold the poison's bytes may have written -1 (or UINT_MAX)
 * there, all 0xFF being a value of every integer type: the same launch again with the output filled
 * with zero bytes, and only the elements that are the poison in the first read-back and zero in the
 * second are unwritten (fw_bench_verify_output2). The canary words must then stay zero as well. */
static int m_second_poison(measure *m, int bi, const unsigned char *out, size_t nelem, const double *ref, double tol,
                           double atol, fw_bench_verify *v, int *abs_ok)
{
    fw_bench *b = m->b;
    fw_workload *wl = m->wl;
    const fw_wl_buffer *ob = &wl->buffers[bi];
    fw_buffer *obuf = m->we->bufs[bi];
    size_t failed = 0, body = nelem * fwh_elem_size(ob->elem);
    unsigned char *out0 = malloc(ob->bytes ? ob->bytes : 1);
    if (!out0)
        return fw_errf(m->err, m->errlen, -ENOMEM, "out of memory");
    int rc = fwh_prepare_variant(b, m->we, &failed);
    if (rc == 0)
        rc = b->be->buffer_fill(b->dev, obuf, 0, ob->bytes);
    if (rc == 0)
        rc = b->be->launch(b->dev, m->pe->prog, &m->l, NULL);
    if (rc == 0)
        rc = b->be->buffer_read(b->dev, obuf, 0, out0, ob->bytes);
    if (rc < 0) {
        free(out0);
        m->fatal = rc == -EFAULT;
        snprintf(m->why, sizeof m->why, "the second checked launch (on a zeroed output) failed: %s",
                 b->be->last_error(b->dev));
        return m_set(m, "runtime_error", m->why);
    }
    for (size_t k = body; k < ob->bytes; k++)
        if (out0[k]) {
            free(out0);
            snprintf(m->why, sizeof m->why, "wrote past the end of %s", ob->name ? ob->name : "the output");
            return m_set(m, "verify_failed", m->why);
        }
    fw_bench_verify_output2(ob->elem, out, out0, nelem, ref, v);
    free(out0);
    *abs_ok = 0;
    if (atol > 0 && !v->unwritten && !v->nonfinite && !(v->rel_err <= tol))
        *abs_ok = host_abs_ok(ob->elem, out, ref, nelem, atol);
    m->poisons = 2;
    return 0;
}

/* A further output (more_outputs[k], a declarative workload's second, third, ... "out"/"inout"),
 * checked on the host like the first: canary, unwritten (a second launch for an integer one),
 * non-finite, its own tolerances. Its numbers go into the record's verify.outputs. */
static int m_verify_more(measure *m, size_t k, cJSON *jouts)
{
    fw_workload *wl = m->wl;
    const fw_wl_output *o = &wl->more_outputs[k];
    const fw_wl_buffer *ob = &wl->buffers[o->buffer];
    const char *name = ob->name ? ob->name : "an output";
    size_t nelem = (ob->bytes - wl->output_canary) / fwh_elem_size(ob->elem), body = nelem * fwh_elem_size(ob->elem);
    unsigned char *out = malloc(ob->bytes ? ob->bytes : 1);
    if (!out)
        return fw_errf(m->err, m->errlen, -ENOMEM, "out of memory");
    int rc = m->b->be->buffer_read(m->b->dev, m->we->bufs[o->buffer], 0, out, ob->bytes);
    if (rc < 0) {
        m->fatal = rc == -EFAULT;
        snprintf(m->why, sizeof m->why, "reading %s back failed: %s", name, m->b->be->last_error(m->b->dev));
        rc = m_set(m, "runtime_error", m->why);
    }
    for (size_t i = body; rc == 0 && i < ob->bytes; i++)
        if (out[i] != 0xFFu) {
            snprintf(m->why, sizeof m->why, "wrote past the end of %s", name);
            rc = m_set(m, "verify_failed", m->why);
        }
    if (rc == 0 && (o->nreference != nelem || !o->reference)) {
        snprintf(m->why, sizeof m->why, "the reference of %s has %zu elements but the buffer holds %zu", name,
                 o->nreference, nelem);
        rc = m_set(m, "verify_failed", m->why);
    }
    fw_bench_verify v;
    int abs_ok = 0;
    if (rc == 0) {
        fw_bench_verify_output2(ob->elem, out, ob->role == FW_BUF_INPUT ? out : NULL, nelem, o->reference, &v);
        if (o->abs_tolerance > 0 && !v.unwritten && !v.nonfinite && !(v.rel_err <= o->tolerance))
            abs_ok = host_abs_ok(ob->elem, out, o->reference, nelem, o->abs_tolerance);
        if (v.unwritten && is_integer(ob->elem) && ob->role == FW_BUF_OUTPUT)
            rc = m_second_poison(m, o->buffer, out, nelem, o->reference, o->tolerance, o->abs_tolerance, &v, &abs_ok);
    }
    free(out);
    if (rc != 0)
        return rc;
    cJSON *jo = cJSON_CreateObject();
    cJSON_AddStringToObject(jo, "name", name);
    cJSON_AddNumberToObject(jo, "rel_err", isfinite(v.rel_err) ? v.rel_err : 1e308);
    cJSON_AddNumberToObject(jo, "nonfinite", (double)v.nonfinite);
    cJSON_AddNumberToObject(jo, "unwritten", (double)v.unwritten);
    cJSON_AddNumberToObject(jo, "tolerance", o->tolerance);
    cJSON_AddItemToArray(jouts, jo);
    if (v.unwritten || v.nonfinite || (!(v.rel_err <= o->tolerance) && !abs_ok)) {
        snprintf(m->why, sizeof m->why, "output %s differs from the reference: %zu of %zu elements unwritten, "
                 "%zu NaN/Inf, relative L2 error %.3g (tolerance %.3g)", name, v.unwritten, nelem, v.nonfinite,
                 v.rel_err, o->tolerance);
        return m_set(m, "verify_failed", m->why);
    }
    return 0;
}

/* The output against the reference (canary, unwritten, non-finite, error norm), then a transformed
 * variant's extra checks. */
static int m_verify(measure *m)
{
    fw_workload *wl = m->wl;
    const fw_wl_buffer *ob = &wl->buffers[wl->output];
    size_t nelem = m_nelem(m), body = nelem * fwh_elem_size(ob->elem);
    for (size_t k = 0; k < ob->bytes - body; k++)
        if (m->tail[k] != 0xFFu) {   /* a canary word past the end of the output was overwritten */
            snprintf(m->why, sizeof m->why, "wrote past the end of %s", ob->name ? ob->name : "the output");
            return m_set(m, "verify_failed", m->why);
        }
    if (m->fam == &fw_family_declarative && fw_decl_unverified(wl)) {
        cJSON_AddTrueToObject(m->rec, "unverified");   /* "verify": false in the workload */
        return 0;
    }
    if (wl->nreference != nelem || !wl->reference) {
        snprintf(m->why, sizeof m->why, "the reference has %zu elements but the output buffer holds %zu",
                 wl->nreference, nelem);
        return m_set(m, "verify_failed", m->why);
    }
    fw_bench_verify v;
    int on_dev = 0, abs_ok = 0;
    int rc = m_compare(m, nelem, &v, &on_dev, &abs_ok);
    if (rc == 0 && v.unwritten && !on_dev && is_integer(ob->elem) && ob->role == FW_BUF_OUTPUT)
        rc = m_second_poison(m, wl->output, m->out, nelem, wl->reference, wl->tolerance, wl->abs_tolerance, &v,
                             &abs_ok);
    if (rc != 0)
        return rc;
    cJSON *jv = cJSON_AddObjectToObject(m->rec, "verify");
    if (m->poisons == 2)
        cJSON_AddNumberToObject(jv, "poisons", 2);   /* checked on 0xFF bytes and on zero bytes */
    cJSON_AddNumberToObject(jv, "rel_err", isfinite(v.rel_err) ? v.rel_err : 1e308);
    cJSON_AddNumberToObject(jv, "nonfinite", (double)v.nonfinite);
    cJSON_AddNumberToObject(jv, "unwritten", (double)v.unwritten);
    cJSON_AddNumberToObject(jv, "tolerance", wl->tolerance);
    cJSON_AddStringToObject(jv, "compared_on", on_dev ? "device" : "host");
    if (v.unwritten || v.nonfinite || (!(v.rel_err <= wl->tolerance) && !abs_ok)) {
        snprintf(m->why, sizeof m->why, "output differs from the reference: %zu of %zu elements unwritten, "
                 "%zu NaN/Inf, relative L2 error %.3g (tolerance %.3g)",
                 v.unwritten, nelem, v.nonfinite, v.rel_err, wl->tolerance);
        return m_set(m, "verify_failed", m->why);
    }
    cJSON *jouts = wl->nmore_outputs ? cJSON_AddArrayToObject(jv, "outputs") : NULL;
    for (size_t k = 0; k < wl->nmore_outputs; k++)
        if ((rc = m_verify_more(m, k, jouts)) != 0)
            return rc;
    if (fw_transform_applies(m->spec->json, &m->item->point)) {
        if (!m->out && !(m->out = malloc(ob->bytes ? ob->bytes : 1)))   /* the checks' read-back buffer */
            return fw_errf(m->err, m->errlen, -ENOMEM, "out of memory");
        int xr = fwh_xform_checks(m->b, m->fam, m->shape, m->wseed, wl, m->we->bufs, m->pe->prog, &m->l, m->out,
                                  m->why, sizeof m->why);
        cJSON_AddNumberToObject(jv, "seeds", FW_BENCH_XFORM_SEEDS);
        cJSON_AddNumberToObject(jv, "launches", FW_BENCH_XFORM_SEEDS + FW_BENCH_XFORM_REPEATS - 1);
        if (xr != 0) {
            m->fatal = xr == -EFAULT;
            return m_set(m, xr > 0 ? "verify_failed" : "runtime_error", m->why);
        }
    }
    return 0;
}

/* 6. warmup, then every timed sample on the device clock (rotating inputs, flushing caches and
 * stopping early as the options say); the statistics, and ok or pruned. */
static int m_timing(measure *m)
{
    fw_bench *b = m->b;
    run_opts ro;
    fwh_parse_run_opts(m->spec, &ro);
    m->samples = calloc((size_t)m->iters, sizeof *m->samples);
    if (!m->samples)
        return fw_errf(m->err, m->errlen, -ENOMEM, "out of memory");
    size_t taken = 0;
    double prune_best = 0, prune_med = 0;
    const char *failed = NULL;
    int rc = fwh_timed_launches(b, m->pe->prog, &m->l, m->we, &ro, m->warmup, (size_t)m->iters, m->samples,
                                m->shape_key, &taken, &prune_best, &prune_med, &failed);
    if (rc < 0) {
        m->fatal = rc == -EFAULT;
        if (rc == -ENOMEM)
            return fw_errf(m->err, m->errlen, -ENOMEM, "out of memory");
        return m_set(m, "runtime_error", failed ? failed : b->be->last_error(b->dev));
    }
    fwh_stage_mark(m->rec, "timing", &m->tstage);
    cJSON *rec = m->rec;
    fw_bench_stats st;
    fwh_add_stats(rec, m->samples, taken, &st);
    double med = st.median > 0 ? st.median : 1.0;   /* a 0 ns median would divide by zero */
    cJSON_AddNumberToObject(rec, "gbps", m->wl->bytes / med);
    cJSON_AddNumberToObject(rec, "gflops", m->wl->flops / med);
    cJSON_AddNumberToObject(rec, "bytes", m->wl->bytes);
    cJSON_AddNumberToObject(rec, "flops", m->wl->flops);
    cJSON *jt = cJSON_AddObjectToObject(rec, "timing");
    cJSON_AddNumberToObject(jt, "launches_per_sample", b->last_lps);
    cJSON_AddNumberToObject(jt, "rotate_copies", b->last_nrot);
    cJSON_AddNumberToObject(jt, "rotate_bytes", ro.rotate_bytes);
    cJSON_AddStringToObject(jt, "window", b->last_lps == 1 ? "launch" : b->last_window ? "batch" : "sum_of_launches");
    fwh_add_samples(rec, m->samples, taken);
    fwh_stage_mark(rec, "stats", &m->tstage);
    if (taken < (size_t)m->iters) {
        snprintf(m->why, sizeof m->why, "stopped early after %zu of %d timed launches: running median %.0f ns "
                 "is %.2fx the best so far for this shape (%.0f ns; options.early_stop.ratio %.3g)",
                 taken, m->iters, prune_med, prune_med / prune_best, prune_best, ro.es_ratio);
        return m_set(m, "pruned", m->why);
    }
    fw_bench_note_best(b, m->shape_key, st.median);
    return m_set(m, "ok", NULL);
}

/* The stages in order, each followed by its "stages_ms" mark (the mark of a stage that ended the
 * record is not taken). Resources are timed with the preparation; timing marks its own two. */
static int m_run(measure *m)
{
    static const struct { int (*fn)(measure *); const char *mark; } stages[] = {
        {m_geometry, "setup"}, {m_program, "program"}, {m_resources, NULL}, {m_prepare, "prepare"},
        {m_first_launch, "first_launch"}, {m_readback, "readback"}, {m_verify, "verify"}, {m_timing, NULL},
    };
    m->tstage = fw_now_ns();
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
        int rc = stages[i].fn(m);
        if (rc != 0)
            return rc;
        if (stages[i].mark)
            fwh_stage_mark(m->rec, stages[i].mark, &m->tstage);
    }
    return 0;
}

int fw_bench_measure_family(fw_bench *b, const fw_family *fam, const fw_job_spec *spec,
                            const fw_plan_item *item, int64_t seq, cJSON **record, char *err, size_t errlen)
{
    *record = NULL;
    measure *m = calloc(1, sizeof *m);
    if (!m)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    *m = (measure){ .b = b, .fam = fam, .spec = spec, .item = item, .seq = seq, .err = err, .errlen = errlen };
    uint64_t t_start = fw_now_ns();   /* eval_ms: what a time budget counts (docs/worker-protocol.md) */
    int rc = m_resolve(m);
    if (rc == 0)
        rc = m_record_head(m);
    if (rc == 0)
        rc = m_run(m);
    free(m->samples);
    free(m->out);
    free(m->args);
    fwh_compile_in_release(&m->ci);
    int fatal = m->fatal;
    cJSON *rec = m->rec;
    free(m);
    if (rc < 0) {
        cJSON_Delete(rec);
        return rc;
    }
    if (fatal) {
        cJSON_Delete(rec);
        return fw_errf(err, errlen, -EFAULT, "sticky device error: %s", b->be->last_error(b->dev));
    }
    cJSON_AddNumberToObject(rec, "eval_ms", (double)(fw_now_ns() - t_start) / 1e6);
    *record = rec;
    return 0;
}
