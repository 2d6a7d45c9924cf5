/*
 * Machine glue for nested translation of passthrough devices
 * (hw/intel-iommu/vtd-nesting.c, docs/nesting.md): gives the unit a view of
 * guest RAM and exposes its nesting state:
 *   QMP   x-vtdnest-query-nesting      -> the report as a JSON object
 *   qtest x-vtdnest-nesting-state      -> "OK {json on one line}"
 */
#ifndef MACHINE_INTEL_IOMMU_NESTING_H
#define MACHINE_INTEL_IOMMU_NESTING_H

#include "vtdnest/intel-iommu.h"
#include "vtdnest/machine.h"

/* Call once, after vtd_new(). */
void intel_iommu_nesting_connect(Machine *m, VtdState *vtd);

#endif
