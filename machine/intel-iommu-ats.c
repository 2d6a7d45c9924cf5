/*
 * ATS and PRI wiring for -device intel-iommu. The unit names devices only by
 * requester id; a device behind a conventional bridge shares the bridge's
 * id, so a message for that id reaches every such device that has an
 * address translation cache (an invalidation may always drop more).
 */
#include "machine/intel-iommu-ats.h"
#include "vtdnest/pci.h"

typedef struct DevTlbInval {
    uint16_t sid;
    uint32_t pasid;
    bool global;
    uint64_t addr, size;
    bool completed;
} DevTlbInval;

typedef struct PageResponse {
    uint16_t sid;
    uint32_t pasid;
    bool pasid_present;
    uint16_t prgi;
    uint8_t rc;
} PageResponse;

static void devtlb_invalidate_one(PCIDevice *d, void *opaque)
{
    DevTlbInval *inv = opaque;

    if (d->ats_ops && d->ats_ops->invalidate && pci_requester_id(d) == inv->sid &&
        !d->ats_ops->invalidate(d, inv->pasid, inv->global, inv->addr,
                                inv->size)) {
        inv->completed = false;
    }
}

static bool ats_devtlb_invalidate(void *opaque, uint16_t sid, uint32_t pasid,
                                  bool global, uint64_t addr, uint64_t size)
{
    DevTlbInval inv = { .sid = sid, .pasid = pasid, .global = global,
                        .addr = addr, .size = size, .completed = true };

    pci_foreach_device(opaque, devtlb_invalidate_one, &inv);
    return inv.completed;
}

static void page_response_one(PCIDevice *d, void *opaque)
{
    PageResponse *r = opaque;

    if (d->ats_ops && d->ats_ops->page_response && pci_requester_id(d) == r->sid) {
        d->ats_ops->page_response(d, r->pasid_present ? r->pasid : IOMMU_NO_PASID,
                                  r->pasid_present, r->prgi, r->rc);
    }
}

static void ats_page_response(void *opaque, uint16_t sid, uint32_t pasid,
                              bool pasid_present, uint16_t prgi, uint8_t rc)
{
    PageResponse r = { .sid = sid, .pasid = pasid,
                       .pasid_present = pasid_present, .prgi = prgi, .rc = rc };

    pci_foreach_device(opaque, page_response_one, &r);
}

static bool ats_page_request(void *opaque, uint16_t sid, uint32_t pasid,
                             bool pasid_present, uint64_t addr, bool read,
                             bool write, bool exec, bool priv, bool lpig,
                             uint16_t prgi)
{
    return vtd_page_request(opaque, sid, pasid, pasid_present, addr, read,
                            write, exec, priv, lpig, prgi);
}

void intel_iommu_ats_connect(Machine *m, VtdState *vtd)
{
    VtdDevTlbSink devtlb = { .opaque = m, .invalidate = ats_devtlb_invalidate };
    VtdPrqSink prq = { .opaque = m, .page_response = ats_page_response };
    PCIPriHook pri = { .opaque = vtd, .page_request = ats_page_request };

    vtd_set_devtlb_sink(vtd, &devtlb);
    vtd_set_prq_sink(vtd, &prq);
    pci_set_pri_hook(m, &pri);
}
