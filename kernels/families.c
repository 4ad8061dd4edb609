/* The kernel families compiled into fairway. Add a family: declare its table and list it. */
#include <stddef.h>
#include <string.h>

#include "fw_family.h"

extern const fw_family fw_family_gemm;
extern const fw_family fw_family_moe_swiglu;
extern const fw_family fw_family_declarative;
extern const fw_family fw_family_replay;

static const fw_family *const families[] = {
    &fw_family_gemm,
    &fw_family_moe_swiglu,
    &fw_family_declarative,
    &fw_family_replay,
    NULL,
};

const fw_family *const *fw_families(void)
{
    return families;
}

const fw_family *fw_family_find(const char *name)
{
    for (size_t i = 0; name && families[i]; i++)
        if (strcmp(families[i]->name, name) == 0)
            return families[i];
    return NULL;
}
