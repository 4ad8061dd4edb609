/* eta.c - the time left of a job, finalists included (issue 19 item 10); pure, unit-tested.
 *
 * measuring: variants left x this run's mean seconds per variant (compile, verify and timing of the
 * variants measured so far in this run; a resumed job's earlier runs may have been elsewhere), unknown
 * until this run has measured one. finalists: each candidate (the K fastest verified per shape so
 * far, by first-pass median) is launched warmup + rounds x iters times at about its first-pass
 * median; while the re-timing runs, its elapsed time is taken off (not below 0). Launch overhead and
 * the candidates of shapes not verified yet are not counted.
 */
#include "fw_daemon.h"

void fw_daemon_eta_estimate(const fw_daemon_eta_in *in, fw_daemon_eta_est *out)
{
    double fin = in->finalists && in->cand_sum_ns > 0 ? in->launches * in->cand_sum_ns * 1e-9 : 0;
    if (in->finalists_phase) {
        fin -= in->finalists_elapsed_s;
        if (fin < 0)
            fin = 0;
    }
    out->finalists_s = fin;
    out->per_variant_s = in->measured_this_run > 0 ? in->elapsed_s / (double)in->measured_this_run : -1;
    if (in->variants_left == 0 || in->finalists_phase)
        out->measuring_s = 0;
    else if (out->per_variant_s >= 0)
        out->measuring_s = out->per_variant_s * (double)in->variants_left;
    else
        out->measuring_s = -1;
    out->total_s = out->measuring_s < 0 ? -1 : out->measuring_s + out->finalists_s;
}
