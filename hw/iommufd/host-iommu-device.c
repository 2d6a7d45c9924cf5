/*
 * HostIommuDevice for a VFIO device cdev bound to an iommufd: what the host
 * IOMMU can do (IOMMU_GET_HW_INFO) and how to point the device's RID or a
 * PASID at a HWPT/IOAS (VFIO_DEVICE_{ATTACH,DETACH}_IOMMUFD_PT).
 */
#include "vtdnest/host-iommu-device.h"
#include "vtdnest/iommu.h"

#include <errno.h>

/* VT-d CAP/ECAP fields we derive from (docs: vtd-spec-facts.md §CAP/ECAP). */
#define VTD_CAP_MGAW_SHIFT  16
#define VTD_CAP_MGAW_MASK   0x3fULL
#define VTD_ECAP_SC         (1ULL << 7)

typedef struct CdevHostIommuDevice {
    HostIommuDevice hd;   /* first: the ops get &hd */
    int cdev_fd;          /* not owned: the device model closes it */
} CdevHostIommuDevice;

/* The vIOMMU says IOMMU_NO_PASID (~0) for the RID; VFIO says 0. */
static uint32_t uapi_pasid(uint32_t pasid)
{
    return pasid == IOMMU_NO_PASID ? IOMMUFD_NO_PASID : pasid;
}

static bool cdev_attach(HostIommuDevice *hd, uint32_t pasid, uint32_t pt_id,
                        GError **errp)
{
    CdevHostIommuDevice *c = (CdevHostIommuDevice *)hd;

    if (!vfio_cdev_attach(hd->be, c->cdev_fd, uapi_pasid(pasid), pt_id, NULL,
                          errp)) {
        g_prefix_error(errp, "host %s: ", hd->host_bdf ? hd->host_bdf : hd->name);
        return false;
    }
    return true;
}

static bool cdev_detach(HostIommuDevice *hd, uint32_t pasid, GError **errp)
{
    CdevHostIommuDevice *c = (CdevHostIommuDevice *)hd;

    if (!vfio_cdev_detach(hd->be, c->cdev_fd, uapi_pasid(pasid), errp)) {
        g_prefix_error(errp, "host %s: ", hd->host_bdf ? hd->host_bdf : hd->name);
        return false;
    }
    return true;
}

static const HostIommuDeviceOps cdev_ops = {
    .attach = cdev_attach,
    .detach = cdev_detach,
};

bool host_iommu_device_is_vtd(const HostIommuDevice *hd)
{
    return hd->hw_info.type == IOMMU_HW_INFO_TYPE_INTEL_VTD;
}

/* Derived capability fields, from the raw GET_HW_INFO answer. */
static void decode_hw_info(HostIommuDevice *hd)
{
    const IommufdHwInfo *info = &hd->hw_info;

    hd->max_pasid_log2 = info->max_pasid_log2;
    if (!host_iommu_device_is_vtd(hd)) {
        /* Another vendor's IOMMU: no VT-d registers to read from. */
        return;
    }
    hd->vtd_cap = info->vtd.cap_reg;
    hd->vtd_ecap = info->vtd.ecap_reg;
    hd->errata_772415 = info->vtd.flags & IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17;
    hd->coherent = hd->vtd_ecap & VTD_ECAP_SC;
    hd->aw_bits = ((hd->vtd_cap >> VTD_CAP_MGAW_SHIFT) & VTD_CAP_MGAW_MASK) + 1;
}

HostIommuDevice *host_iommu_device_new(IommufdBackend *be, const char *iommufd_id,
                                       int cdev_fd, uint32_t dev_id,
                                       const char *name, const char *host_bdf,
                                       const char *host_unit, GError **errp)
{
    IommufdHwInfo info = { 0 };
    CdevHostIommuDevice *c;

    if (!iommufd_backend_get_hw_info(be, dev_id, &info, errp)) {
        g_prefix_error(errp, "host %s: cannot read the host IOMMU capabilities: ",
                       host_bdf ? host_bdf : name);
        return NULL;
    }
    c = g_new0(CdevHostIommuDevice, 1);
    c->cdev_fd = cdev_fd;
    c->hd.name = g_strdup(name);
    c->hd.host_bdf = g_strdup(host_bdf);
    c->hd.host_unit = g_strdup(host_unit ? host_unit : "unknown");
    c->hd.be = be;
    c->hd.iommufd_id = iommufd_id;
    c->hd.dev_id = dev_id;
    c->hd.hw_info = info;
    c->hd.ops = &cdev_ops;
    decode_hw_info(&c->hd);
    return &c->hd;
}

void host_iommu_device_free(HostIommuDevice *hd)
{
    if (!hd) {
        return;
    }
    g_free(hd->name);
    g_free(hd->host_bdf);
    g_free(hd->host_unit);
    g_free((CdevHostIommuDevice *)hd);
}
