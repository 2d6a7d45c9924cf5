/*
 * Register-based invalidation (vtd-spec-facts.md §3.3-3.4): the context-cache
 * command register CCMD and the IOTLB registers IVA/IOTLB_REG. Both complete
 * at once: the request bit (ICC / IVT) is cleared and the actual granularity
 * (CAIG / IAIG) reported, 00 when the request was refused.
 *
 * The spec allows them only while QI is disabled and the latched translation
 * table mode is legacy; otherwise they do nothing and report 00 (QEMU also
 * refuses them while QI is on).
 */
#include "hw/intel-iommu/vtd-cache.h"

#define VTD_GRAN_NONE     0   /* refused / reserved request */
#define VTD_GRAN_GLOBAL   1
#define VTD_GRAN_DOMAIN   2
#define VTD_GRAN_DEVICE   3   /* CCMD: device; IOTLB: page within domain */

static bool vtd_reg_inval_allowed(const VtdState *s)
{
    return !s->qi_enabled && s->ttm == VTD_TTM_LEGACY;
}

static unsigned vtd_ccmd_run(VtdState *s, uint64_t cmd)
{
    uint16_t did = VTD_CCMD_DID(cmd);

    switch (VTD_CCMD_CIRG(cmd)) {
    case VTD_GRAN_GLOBAL:
        vtd_ctx_cache_invalidate_all(s);
        return VTD_GRAN_GLOBAL;
    case VTD_GRAN_DOMAIN:
        vtd_ctx_cache_invalidate_domain(s, did);
        return VTD_GRAN_DOMAIN;
    case VTD_GRAN_DEVICE:
        vtd_ctx_cache_invalidate_device(s, VTD_CCMD_SID(cmd),
                                        VTD_CCMD_FM(cmd));
        return VTD_GRAN_DEVICE;
    default:
        return VTD_GRAN_NONE;
    }
}

void vtd_reg_inval_ccmd(VtdState *s)
{
    uint64_t cmd = vtd_get64(s, DMAR_CCMD_REG);
    unsigned caig = VTD_GRAN_NONE;

    if (!(cmd & VTD_CCMD_ICC)) {
        return;
    }
    if (vtd_reg_inval_allowed(s)) {
        caig = vtd_ccmd_run(s, cmd);
    }
    vtd_set_clear64(s, DMAR_CCMD_REG, VTD_CCMD_ICC | VTD_CCMD_CAIG_MASK,
                    (uint64_t)caig << VTD_CCMD_CAIG_SHIFT);
}

/* Page-selective: AM beyond MAMV is an error; low address bits are ignored. */
static unsigned vtd_iotlb_run_page(VtdState *s, uint16_t did)
{
    uint64_t iva = vtd_get64(s, VTD_IVA_OFFSET);
    unsigned am = VTD_IVA_AM(iva);
    uint64_t addr;

    if (!(s->cap & VTD_CAP_PSI) || am > VTD_CAP_MAMV_GET(s->cap)) {
        return VTD_GRAN_NONE;
    }
    addr = VTD_IVA_ADDR(iva) & ~((1ULL << (am + 12)) - 1);
    vtd_iotlb_invalidate_page(s, did, addr, am, iva & VTD_IVA_IH);
    return VTD_GRAN_DEVICE;
}

static unsigned vtd_iotlb_run(VtdState *s, uint64_t cmd)
{
    uint16_t did = VTD_IOTLB_DID(cmd);

    switch (VTD_IOTLB_IIRG(cmd)) {
    case VTD_GRAN_GLOBAL:
        vtd_iotlb_invalidate_all(s);
        return VTD_GRAN_GLOBAL;
    case VTD_GRAN_DOMAIN:
        vtd_iotlb_invalidate_domain(s, did);
        return VTD_GRAN_DOMAIN;
    case VTD_GRAN_DEVICE:
        return vtd_iotlb_run_page(s, did);
    default:
        return VTD_GRAN_NONE;
    }
}

void vtd_reg_inval_iotlb(VtdState *s)
{
    uint64_t cmd = vtd_get64(s, VTD_IOTLB_OFFSET);
    unsigned iaig = VTD_GRAN_NONE;

    if (!(cmd & VTD_IOTLB_IVT)) {
        return;
    }
    if (vtd_reg_inval_allowed(s)) {
        iaig = vtd_iotlb_run(s, cmd);
    }
    vtd_set_clear64(s, VTD_IOTLB_OFFSET, VTD_IOTLB_IVT | VTD_IOTLB_IAIG_MASK,
                    (uint64_t)iaig << VTD_IOTLB_IAIG_SHIFT);
}
