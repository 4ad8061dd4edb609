/* decl_ref.c - a declarative workload's reference (kernels/declarative/fw_declarative.h): the
 * reference kernel compiled once and launched once per shape on the workload's own inputs, its
 * output read back as the expected values every variant is compared with. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness_int.h"

#include "fw_util.h"

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
    const fw_wl_buffer *ob = &wl->buffers[wl->output];
    size_t esz = fw_elem_size(ob->elem), nelem = (ob->bytes - wl->output_canary) / esz;
    fw_program *prog = NULL;
    unsigned char *out = malloc(ob->bytes);
    fw_arg *args = calloc(wl->nargs ? wl->nargs : 1, sizeof *args);
    double *ref = malloc(nelem * sizeof *ref);
    if (!out || !args || !ref) {
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory for the reference of '%s'", ob->name);
        goto done;
    }
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
    if (rc == 0)
        rc = be->buffer_read(dev, bufs[wl->output], 0, out, ob->bytes);
    if (rc < 0) {
        rc = fw_errf(err, errlen, rc, "running the reference kernel '%s' failed: %.600s", entry, be->last_error(dev));
        goto done;
    }
    for (size_t k = nelem * esz; k < ob->bytes; k++)
        if (out[k] != 0xFF) {
            rc = fw_errf(err, errlen, -EINVAL, "the reference kernel '%s' wrote past the end of %s", entry, ob->name);
            goto done;
        }
    for (size_t i = 0; i < nelem; i++)
        ref[i] = fw_elem_value(ob->elem, out, i);
    free(wl->reference);
    wl->reference = ref;
    wl->nreference = nelem;
    ref = NULL;
done:
    if (prog)
        be->program_free(dev, prog);
    free(ref);
    free(args);
    free(out);
    return rc;
}
