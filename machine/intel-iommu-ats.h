/*
 * Device-TLB invalidations, page requests and page group responses between
 * a VT-d unit and the PCI devices of the reference machine.
 */
#ifndef MACHINE_INTEL_IOMMU_ATS_H
#define MACHINE_INTEL_IOMMU_ATS_H

#include "vtdnest/intel-iommu.h"
#include "vtdnest/machine.h"

/*
 * Route the unit's device-TLB invalidations and page group responses to the
 * PCI devices whose requester id they name (PCIDevice.ats_ops), and the
 * devices' page requests (pci_page_request) to the unit. Call once, after
 * vtd_new(); the hooks go away with the machine.
 */
void intel_iommu_ats_connect(Machine *m, VtdState *vtd);

#endif
