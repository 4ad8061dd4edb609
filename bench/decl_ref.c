/* decl_ref.c - a declarative workload's reference (kernels/declarative/fw_declarative.h): the
 * reference kernel compiled once and launched once per shape on the workload's own inputs, its
 * output read back as the expected values every variant is compared with. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness_int.h"

#include "fw_util.h"

/* Output buffer bi read back after the reference launch into *ref (nelem doubles); -EINVAL when its
 * canary words were overwritten. */
static int take_output(const fw_backend *be, fw_device *dev, const fw_workload *wl, fw_buffer **bufs, int bi,
                       const char *entry, double **ref, size_t *nref, char *err, size_t errlen)
{
    const fw_wl_buffer *ob = &wl->buffers[bi];
    size_t esz = fw_elem_size(ob->elem), nelem = (ob->bytes - wl->output_canary) / esz;
    unsigned char *out = malloc(ob->bytes ? ob->bytes : 1);
    double *r = malloc((nelem ? nelem : 1) * sizeof *r);
    int rc = 0;
    if (!out || !r)
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory for the reference of '%s'", ob->name);
    else if ((rc = be->buffer_read(dev, bufs[bi], 0, out, ob->bytes)) < 0)
        rc = fw_errf(err, errlen, rc, "reading %s back after the reference kernel '%s' failed: %.600s", ob->name,
                     entry, be->last_error(dev));
    for (size_t k = nelem * esz; rc == 0 && k < ob->bytes; k++)
        if (out[k] != 0xFF)
            rc = fw_errf(err, errlen, -EINVAL, "the reference kernel '%s' wrote past the end of %s", entry, ob->name);
    for (size_t i = 0; rc == 0 && i < nelem; i++)
        r[i] = fw_elem_value(ob->elem, out, i);
    free(out);
    if (rc < 0) {
        free(r);
        return rc;
    }
    free(*ref);
    *ref = r;
    *nref = nelem;
    return 0;
}

int fw_bench_decl_reference(const fw_backend *be, fw_device *dev, fw_workload *wl, fw_buffer **bufs,
                            const char *job_source, const char *const *macros, size_t nmacros, const char *options,
                            char *err, size_t errlen)
{
    const char *entry, *text;
    fw_geometry geo;
    int rc = fw_decl_reference_plan(wl, &entry, &text, &geo, err, errlen);
    if (rc < 0 || !entry)
        return rc;
    if (!text)
        text = job_source;
    if (!text)
        return fw_errf(err, errlen, -EINVAL, "the reference kernel '%s' has no source: the job has no source text",
                       entry);
    fw_program *prog = NULL;
    fw_arg *args = calloc(wl->nargs ? wl->nargs : 1, sizeof *args);
    if (!args)
        return fw_errf(err, errlen, -ENOMEM, "out of memory for the reference's arguments");
    if (be->compile(dev, text, macros, nmacros, options, entry, &prog) < 0) {
        rc = fw_errf(err, errlen, -EINVAL, "the reference kernel '%s' does not compile (or the source has no such "
                     "entry): %.600s", entry, be->last_error(dev));
        goto done;
    }
    for (size_t i = 0; i < wl->nbuffers && rc == 0; i++) {
        const fw_wl_buffer *b = &wl->buffers[i];
        rc = b->host ? be->buffer_write(dev, bufs[i], 0, b->host, b->bytes) : be->buffer_fill(dev, bufs[i], 0xFFFFFFFFu,
                                                                                               b->bytes);
    }
    fw_resources res;
    memset(&res, 0, sizeof res);
    if (rc == 0 && be->resources(dev, prog, &res) == 0 && res.num_args > 0 && (size_t)res.num_args != wl->nargs) {
        char names[512] = "";
        fw_decl_arg_names(wl, names, sizeof names);
        rc = fw_errf(err, errlen, -EINVAL, "the reference kernel '%s' takes %lld arguments but the workload lists %zu "
                     "(%s)", entry, (long long)res.num_args, wl->nargs, names);
        goto done;
    }
    if (rc == 0 && (rc = fwh_bind_args(wl, bufs, &geo, args, err, errlen)) < 0)
        goto done;
    fw_launch l;
    memset(&l, 0, sizeof l);
    memcpy(l.grid, geo.grid, sizeof l.grid);
    memcpy(l.group, geo.group, sizeof l.group);
    l.args = args;
    l.nargs = wl->nargs;
    if (rc == 0)
        rc = be->launch(dev, prog, &l, NULL);
    if (rc < 0) {
        rc = fw_errf(err, errlen, rc, "running the reference kernel '%s' failed: %.600s", entry, be->last_error(dev));
        goto done;
    }
    /* every output without an "expected" file takes what the reference wrote */
    if (!wl->reference)
        rc = take_output(be, dev, wl, bufs, wl->output, entry, &wl->reference, &wl->nreference, err, errlen);
    for (size_t k = 0; rc == 0 && k < wl->nmore_outputs; k++) {
        fw_wl_output *o = &wl->more_outputs[k];
        if (!o->reference)
            rc = take_output(be, dev, wl, bufs, o->buffer, entry, &o->reference, &o->nreference, err, errlen);
    }
done:
    if (prog)
        be->program_free(dev, prog);
    free(args);
    return rc;
}
