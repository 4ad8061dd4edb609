/* fw_test_spec.h - the typed spec a C test hands the harness (header-only, static).
 * fw_test_typed() parses a resolved spec with fw_job_spec_parse into one static fw_job_spec, valid
 * until the next call; a spec that does not parse is a bug in the test (exit 2). */
#ifndef FW_TEST_SPEC_H
#define FW_TEST_SPEC_H

#include <stdio.h>
#include <stdlib.h>

#include "fw_job.h"

static inline const fw_job_spec *fw_test_typed(const cJSON *spec)
{
    static fw_job_spec s;
    char perr[512];
    if (fw_job_spec_parse(spec, &s, perr, sizeof perr) < 0) {
        fprintf(stderr, "test bug: %s\n", perr);
        exit(2);
    }
    return &s;
}

#endif
