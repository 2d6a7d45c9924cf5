/*
 * A host IOMMU device: what a passthrough device (vfio-pci on an iommufd
 * backend) tells the vIOMMU about its host side — the iommufd backend and
 * device object id, the host unit's capabilities from IOMMU_GET_HW_INFO, and
 * hooks to attach/replace/detach a translation (HWPT or IOAS id) on the RID
 * or on a PASID. The vIOMMU never issues VFIO ioctls itself.
 */
#ifndef VTDNEST_HOST_IOMMU_DEVICE_H
#define VTDNEST_HOST_IOMMU_DEVICE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vtdnest/iommu.h"
#include "vtdnest/iommufd-backend.h"

typedef struct HostIommuDevice HostIommuDevice;

typedef struct HostIommuDeviceOps {
    /* Attach pt_id (HWPT or IOAS) on the RID (pasid == IOMMU_NO_PASID) or on a
     * PASID; replaces an existing attachment atomically. */
    bool (*attach)(HostIommuDevice *hd, uint32_t pasid, uint32_t pt_id,
                   GError **errp);
    /* Detach: DMA on the RID/PASID is blocked afterwards. */
    bool (*detach)(HostIommuDevice *hd, uint32_t pasid, GError **errp);
} HostIommuDeviceOps;

struct HostIommuDevice {
    char *name;                 /* the guest device's id (or its host BDF) */
    char *host_bdf;             /* "0000:03:00.0" */
    char *host_unit;            /* name of the host IOMMU unit (sim: unit id) */
    IommufdBackend *be;         /* the -object iommufd it is bound through */
    const char *iommufd_id;     /* that object's id: containers are keyed by it */
    uint32_t dev_id;            /* iommufd device object id (VFIO bind) */

    /* Capabilities (IOMMU_GET_HW_INFO). */
    IommufdHwInfo hw_info;
    uint64_t vtd_cap, vtd_ecap; /* host unit CAP/ECAP */
    bool errata_772415;         /* nest parent refuses read-only mappings */
    uint8_t max_pasid_log2;     /* 0: no PASID support */
    bool coherent;              /* can enforce cache coherency (no-snoop off) */
    unsigned aw_bits;           /* host address width usable as IOVA */

    /* Where the guest sees it: requester id after bridge aliasing. */
    uint16_t guest_sid;
    bool behind_bridge;         /* guest_sid is an alias shared with others */

    const HostIommuDeviceOps *ops;
    void *opaque;               /* the device model's own state */

    /* ---- nest-e2e additions: host I/O page faults (docs/nesting.md) ----
     * iopf: set by the device model when the host device can deliver I/O
     * page faults (PCIe PRI), so HWPTs with a fault queue attach to it.
     * drain_faults: set by the vIOMMU while it owns a fault queue the device
     * reports into; the device model calls host_iommu_device_drain_faults()
     * after a DMA the host faulted (the simulator queues synchronously). */
    bool iopf;
    void (*drain_faults)(void *drain_opaque);
    void *drain_opaque;
};

/* Read the host fault queue the device reports into now (no-op without one). */
static inline void host_iommu_device_drain_faults(HostIommuDevice *hd)
{
    if (hd && hd->drain_faults) {
        hd->drain_faults(hd->drain_opaque);
    }
}

static inline bool host_iommu_device_attach(HostIommuDevice *hd, uint32_t pasid,
                                            uint32_t pt_id, GError **errp)
{
    return hd->ops->attach(hd, pasid, pt_id, errp);
}

static inline bool host_iommu_device_detach(HostIommuDevice *hd, uint32_t pasid,
                                            GError **errp)
{
    return hd->ops->detach(hd, pasid, errp);
}

/* ---- Construction from a bound VFIO cdev (hw/iommufd/host-iommu-device.c) ----
 * host_iommu_device_new() issues IOMMU_GET_HW_INFO for dev_id and fills the
 * capability fields: vtd_cap/vtd_ecap (0 when the host IOMMU is not VT-d),
 * errata_772415, max_pasid_log2, coherent (VT-d ECAP.SC) and aw_bits (VT-d
 * CAP.MGAW + 1; 0 when unknown). Its ops attach/detach through cdev_fd (not
 * owned) with VFIO_DEVICE_{ATTACH,DETACH}_IOMMUFD_PT; IOMMU_NO_PASID (the
 * vIOMMU's sentinel, ~0) means the RID, and so does 0 (VFIO's "no PASID",
 * IOMMUFD_NO_PASID), since the kernel treats PASID 0 as the RID.
 * host_unit may be NULL ("unknown"). guest_sid/behind_bridge and opaque are
 * left for the device model to set.
 */
HostIommuDevice *host_iommu_device_new(IommufdBackend *be, const char *iommufd_id,
                                       int cdev_fd, uint32_t dev_id,
                                       const char *name, const char *host_bdf,
                                       const char *host_unit, GError **errp);
void host_iommu_device_free(HostIommuDevice *hd);
/* True for the VT-d unit capabilities (type INTEL_VTD). */
bool host_iommu_device_is_vtd(const HostIommuDevice *hd);

#endif
