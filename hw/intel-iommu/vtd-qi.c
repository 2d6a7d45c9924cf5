/*
 * Queued invalidation: placeholder until the invalidation queue lands.
 * It only satisfies the hooks vtd-core.c calls (see vtd-internal.h,
 * "queued invalidation (vtd-qi.c)"); descriptors are not processed yet.
 */
#include "hw/intel-iommu/vtd-internal.h"

void vtd_qi_process(VtdState *s)
{
    (void)s;
}

void vtd_qi_enabled(VtdState *s)
{
    (void)s;
}
