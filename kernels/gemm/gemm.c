/* placeholder so the tree links while kernels/gemm is written */
#include "fw_family.h"
const fw_family fw_family_gemm = { .version = FW_FAMILY_VERSION, .name = "gemm" };
