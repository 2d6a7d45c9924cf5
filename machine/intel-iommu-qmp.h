/*
 * QMP access to the VT-d unit's saved state (docs/saved-state.md):
 *   x-vtdnest-save-state                 -> {"data": BASE64}
 *   x-vtdnest-load-state {"data": BASE64} -> {}
 */
#ifndef MACHINE_INTEL_IOMMU_QMP_H
#define MACHINE_INTEL_IOMMU_QMP_H

#include "vtdnest/intel-iommu.h"
#include "vtdnest/machine.h"

/* Make vtd reachable from the commands (registered on first use); the link
 * goes away with the machine. Call once, after vtd_new(). */
void intel_iommu_qmp_connect(Machine *m, VtdState *vtd);

#endif
