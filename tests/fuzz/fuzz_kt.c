/* fuzz_kt.c - the Kernel Tuner cache reader (replay/kt.c), which reads files users download.
 *
 * Input: the file's text. Checks beyond "no crash": an error comes with a message; a space read has
 * knobs, every point's value indices are inside its knob's list, and measuring every point (with
 * seeded noise) gives a positive finite time for an OK point. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_replay.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fw_replay_space sp;
    char err[512];
    err[0] = '\0';
    if (fw_replay_parse(text, size, &sp, err, sizeof(err)) != 0) {
        CHECK(err[0]);
        free(text);
        return 0;
    }
    CHECK(sp.nknobs > 0 && sp.kernel);
    for (int k = 0; k < sp.nknobs; k++)
        CHECK(sp.names[k] && sp.nvals[k] > 0);
    fw_pcg32 r;
    fw_pcg32_seed(&r, 1, 2);
    for (size_t i = 0; i < sp.npoints; i++) {
        for (int k = 0; k < sp.nknobs; k++)
            CHECK(sp.points[i * (size_t)sp.nknobs + (size_t)k] < sp.nvals[k]);
        if (sp.rec[i].status == FW_REPLAY_OK) {
            double t = fw_replay_measure(&sp, i, 0.05, &r);
            CHECK(isfinite(t) && t > 0);
        }
    }
    fw_replay_release(&sp);
    free(text);
    return 0;
}
