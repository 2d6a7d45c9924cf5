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
#include "hw/intel-iommu/vtd-inval.h"

#define VTD_GRAN_NONE     0   /* refused / reserved request */
#define VTD_GRAN_GLOBAL   1
#define VTD_GRAN_DOMAIN   2
#define VTD_GRAN_DEVICE   3   /* CCMD: device; IOTLB: page within domain */

static bool vtd_reg_inval_allowed(const VtdState *s)
{
    return !s->qi_enabled && s->ttm == VTD_TTM_LEGACY;
}

/*
 * Every invalidation goes through vtd_inval_dispatch()
 * (vtd-inval.h) so that listeners see register-based ones too; each command
 * is its own batch, synced before the request bit clears.
 */
static void vtd_reg_inval_run(VtdState *s, const VtdInvalidation *inv)
{
    vtd_inval_dispatch(s, inv);
    vtd_inval_sync_or_report(s);
}

static unsigned vtd_ccmd_run(VtdState *s, uint64_t cmd)
{
    VtdInvalidation inv = {
        .kind = VTD_INVAL_CONTEXT,
        .from_register = true,
        .did = VTD_CCMD_DID(cmd),
        .sid = VTD_CCMD_SID(cmd),
        .fm = VTD_CCMD_FM(cmd),
        .pasid = IOMMU_NO_PASID,
    };
    unsigned cirg = VTD_CCMD_CIRG(cmd);

    switch (cirg) {
    case VTD_GRAN_GLOBAL:
        inv.gran = VTD_INVAL_GRAN_GLOBAL;
        break;
    case VTD_GRAN_DOMAIN:
        inv.gran = VTD_INVAL_GRAN_DOMAIN;
        break;
    case VTD_GRAN_DEVICE:
        inv.gran = VTD_INVAL_GRAN_DEVICE;
        break;
    default:
        return VTD_GRAN_NONE;
    }
    vtd_reg_inval_run(s, &inv);
    return cirg;
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

/* Page-selective: AM beyond MAMV is an error; the low address bits (below
 * 2^AM pages) and those at or above MGAW are ignored. */
static unsigned vtd_iotlb_run_page(VtdState *s, uint16_t did)
{
    uint64_t iva = vtd_get64(s, VTD_IVA_OFFSET);
    unsigned am = VTD_IVA_AM(iva);
    uint64_t addr;

    if (!(s->cap & VTD_CAP_PSI) || am > VTD_CAP_MAMV_GET(s->cap)) {
        return VTD_GRAN_NONE;
    }
    addr = VTD_IVA_ADDR(iva) & ~((1ULL << (am + 12)) - 1);
    /* IVA.ADDR is an SS input address: bits at and above MGAW are ignored
     * (spec 11.4.8.1; facts §3.4), as for a type-2 descriptor's ADDR. */
    if (VTD_CAP_MGAW_GET(s->cap) < 64) {
        addr &= VTD_MASK(VTD_CAP_MGAW_GET(s->cap) - 1, 0);
    }
    vtd_reg_inval_run(s, &(VtdInvalidation){
        .kind = VTD_INVAL_IOTLB, .gran = VTD_INVAL_GRAN_PAGE,
        .from_register = true, .did = did, .pasid = IOMMU_NO_PASID,
        .addr = addr, .am = am, .ih = iva & VTD_IVA_IH,
    });
    return VTD_GRAN_DEVICE;
}

static unsigned vtd_iotlb_run(VtdState *s, uint64_t cmd)
{
    uint16_t did = VTD_IOTLB_DID(cmd);

    switch (VTD_IOTLB_IIRG(cmd)) {
    case VTD_GRAN_GLOBAL:
    case VTD_GRAN_DOMAIN:
        vtd_reg_inval_run(s, &(VtdInvalidation){
            .kind = VTD_INVAL_IOTLB, .from_register = true, .did = did,
            .pasid = IOMMU_NO_PASID,
            .gran = VTD_IOTLB_IIRG(cmd) == VTD_GRAN_GLOBAL
                    ? VTD_INVAL_GRAN_GLOBAL : VTD_INVAL_GRAN_DOMAIN,
        });
        return VTD_IOTLB_IIRG(cmd);
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
