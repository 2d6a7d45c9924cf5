/*
 * Interrupt remapping (vtd-spec-facts.md §9).
 *
 * Every interrupt request (a DWORD write without PASID to FEEx_xxxx) comes
 * here. With IR off it passes through as compatibility format. With IR on:
 *   compatibility format -> blocked (25h) if EIME=1 or CFIS=0, else passed;
 *   remappable format    -> reserved request bits (20h) -> index bound (21h)
 *                           -> IRTE fetch (23h) -> P (22h) -> source-id
 *                           verification (26h) -> reserved IRTE bits (24h)
 *                           -> a compatibility-format message to the CPU.
 * Faults 22h/24h/26h are qualified: the IRTE's FPD suppresses them, and FPD
 * counts even when P=0. Posted interrupts are not supported (CAP.PI=0), so
 * IM=1 is a reserved-field error (24h).
 *
 * The interrupt entry cache holds present IRTEs as fetched; the checks run on
 * every use, so a cached entry behaves exactly like a fresh fetch of the
 * same bytes. It is emptied by reset, restore, SIRTP and IEC invalidations.
 */
#include "hw/intel-iommu/vtd-ir.h"

#include <glib.h>

/* ---- Interrupt entry cache ---------------------------------------------- */

static VtdIecSlot *vtd_iec_slot(VtdState *s, uint32_t index)
{
    return &s->iec.slot[index % VTD_IEC_SLOTS];
}

static bool vtd_iec_lookup(VtdState *s, uint32_t index, uint64_t irte[2])
{
    VtdIecSlot *e = vtd_iec_slot(s, index);

    if (e->valid && e->index == index) {
        irte[0] = e->irte[0];
        irte[1] = e->irte[1];
        s->iec.hits++;
        return true;
    }
    s->iec.misses++;
    return false;
}

static void vtd_iec_insert(VtdState *s, uint32_t index, const uint64_t irte[2])
{
    VtdIecSlot *e = vtd_iec_slot(s, index);

    e->irte[0] = irte[0];
    e->irte[1] = irte[1];
    e->index = index;
    e->valid = true;
}

void vtd_iec_invalidate(VtdState *s, bool global, uint32_t index, unsigned im)
{
    /* IM is 5 bits in the descriptor; a mask of 2^32 or more is global. */
    uint64_t mask = (global || im >= 32) ? 0 : ~((1ULL << im) - 1);

    for (unsigned i = 0; i < VTD_IEC_SLOTS; i++) {
        VtdIecSlot *e = &s->iec.slot[i];

        if (e->valid && (e->index & mask) == (index & mask)) {
            e->valid = false;
        }
    }
}

unsigned vtd_iec_count(const VtdState *s)
{
    unsigned n = 0;

    for (unsigned i = 0; i < VTD_IEC_SLOTS; i++) {
        n += s->iec.slot[i].valid;
    }
    return n;
}

void vtd_ir_reset(VtdState *s)
{
    memset(&s->iec, 0, sizeof(s->iec));
}

/*
 * Hardware without CAP.ESIRTPS need not drop the IEC on SIRTP (software
 * follows with a global IEC invalidation), but dropping more is always
 * allowed, and it guarantees that a new IRTA takes effect at once.
 */
void vtd_ir_irt_latched(VtdState *s)
{
    vtd_iec_invalidate(s, true, 0, 0);
}

/* ---- Faults ------------------------------------------------------------- */

/* Index is recorded in FI bits 63:48 (undefined for 20h/25h: pass 0). */
static bool vtd_ir_fail(VtdState *s, VtdFaultReason reason, uint16_t sid,
                        uint32_t index, bool fpd)
{
    VtdFault f = {
        .reason = reason,
        .sid = sid,
        .addr = (uint64_t)(index & 0xffff) << 48,
        .is_ir = true,
        .fpd = fpd,
    };

    vtd_fault_report(s, &f);
    return false;
}

/* ---- Remappable requests ------------------------------------------------ */

static uint32_t vtd_ir_index(uint64_t addr, uint32_t data)
{
    uint32_t handle = VTD_IR_ADDR_HANDLE_LO(addr) |
                      ((addr & VTD_IR_ADDR_HANDLE_HI) ? 1u << 15 : 0);

    /* With SHV the data's subhandle is added (the sum may exceed 16 bits). */
    return (addr & VTD_IR_ADDR_SHV) ? handle + (data & 0xffff) : handle;
}

/* Fetch the IRTE for index: IEC first. false = access error (23h). */
static bool vtd_ir_fetch(VtdState *s, uint32_t index, uint64_t irte[2])
{
    uint64_t raw[2];

    if (vtd_iec_lookup(s, index, irte)) {
        return true;
    }
    if (!vtd_dma_read(s, s->irt_base + 16ULL * index, raw, sizeof(raw))) {
        return false;
    }
    irte[0] = GUINT64_FROM_LE(raw[0]);
    irte[1] = GUINT64_FROM_LE(raw[1]);
    if (irte[0] & VTD_IRTE_P) {
        vtd_iec_insert(s, index, irte);    /* only present entries */
    }
    return true;
}

static bool vtd_ir_source_ok(uint64_t hi, uint16_t sid)
{
    static const uint16_t sq_mask[4] = { 0xffff, 0xfffb, 0xfff9, 0xfff8 };
    uint16_t want = VTD_IRTE_SID(hi);

    switch (VTD_IRTE_SVT(hi)) {
    case VTD_SVT_NONE:
        return true;
    case VTD_SVT_SID: {
        uint16_t mask = sq_mask[VTD_IRTE_SQ(hi)];

        return (sid & mask) == (want & mask);
    }
    case VTD_SVT_BUS_RANGE: {
        unsigned bus = sid >> 8;

        return bus >= (want >> 8) && bus <= (want & 0xffu);
    }
    default:
        return true;    /* SVT=11b is reserved: reported as 24h below */
    }
}

static bool vtd_ir_irte_reserved(const VtdState *s, const uint64_t irte[2])
{
    uint64_t lo = irte[0], hi = irte[1];

    if (lo & VTD_IRTE_IM) {
        return true;    /* posted format: no CAP.PI */
    }
    if ((lo & VTD_IRTE_LO_RSVD) || (hi & VTD_IRTE_HI_RSVD) ||
        VTD_IRTE_SVT(hi) == 3) {
        return true;
    }
    return !s->irt_eime && (lo & VTD_IRTE_LO_RSVD_XAPIC);
}

/*
 * The message the CPU receives. xAPIC: APIC ID (DST bits 15:8) in address
 * bits 19:12. x2APIC: ID bits 7:0 in address bits 19:12 and bits 31:8 in
 * the upper address dword (the x86 extended-destination MSI format).
 */
static void vtd_ir_build_msi(const VtdState *s, uint64_t lo,
                             uint64_t *out_addr, uint32_t *out_data)
{
    uint32_t dst = VTD_IRTE_DST(lo);
    uint64_t addr = VTD_MSI_ADDR_BASE;

    if (s->irt_eime) {
        addr |= VTD_MSI_ADDR_DEST(dst) | ((uint64_t)(dst & 0xffffff00u) << 32);
    } else {
        addr |= VTD_MSI_ADDR_DEST(dst >> 8);
    }
    if (lo & VTD_IRTE_RH) {
        addr |= VTD_MSI_ADDR_RH;
    }
    if (lo & VTD_IRTE_DM) {
        addr |= VTD_MSI_ADDR_DM;
    }
    *out_addr = addr;
    *out_data = VTD_IRTE_VECTOR(lo) |
                (VTD_IRTE_DLM(lo) << VTD_MSI_DATA_DLM_SHIFT) |
                ((lo & VTD_IRTE_TM) ? VTD_MSI_DATA_TM : 0);
}

static bool vtd_ir_remap(VtdState *s, uint16_t sid, uint64_t addr,
                         uint32_t data, uint64_t *out_addr, uint32_t *out_data)
{
    uint32_t index;
    uint64_t irte[2];
    bool fpd;

    /* Outside FEEx_xxxx the message cannot be decoded; with SHV the data's
     * upper half is reserved. Bits 1:0 are don't-care. */
    if ((addr >> 20) != VTD_IR_ADDR_WINDOW ||
        ((addr & VTD_IR_ADDR_SHV) && (data & 0xffff0000u))) {
        return vtd_ir_fail(s, VTD_FR_IR_REQ_RSVD, sid, 0, false);
    }
    index = vtd_ir_index(addr, data);
    /* The entry must lie in the table and below the host address width. */
    if (index >= s->irt_entries ||
        s->irt_base + 16ULL * index + 15 > s->haw_mask) {
        return vtd_ir_fail(s, VTD_FR_IR_INDEX, sid, index, false);
    }
    if (!vtd_ir_fetch(s, index, irte)) {
        return vtd_ir_fail(s, VTD_FR_IR_IRT_FETCH, sid, index, false);
    }
    fpd = irte[0] & VTD_IRTE_FPD;
    if (!(irte[0] & VTD_IRTE_P)) {
        return vtd_ir_fail(s, VTD_FR_IR_IRTE_P, sid, index, fpd);
    }
    if (!vtd_ir_source_ok(irte[1], sid)) {
        return vtd_ir_fail(s, VTD_FR_IR_SID, sid, index, fpd);
    }
    if (vtd_ir_irte_reserved(s, irte)) {
        return vtd_ir_fail(s, VTD_FR_IR_IRTE_RSVD, sid, index, fpd);
    }
    vtd_ir_build_msi(s, irte[0], out_addr, out_data);
    return true;
}

/* ---- Entry points ------------------------------------------------------- */

bool vtd_ir_process(VtdState *s, uint16_t sid, uint64_t addr, uint32_t data,
                    uint64_t *out_addr, uint32_t *out_data, bool *remapped)
{
    *remapped = false;
    /* IRES=0: everything is compatibility format (no IRREQ: never 2Bh). */
    if (!s->ir_enabled || !(addr & VTD_IR_ADDR_FORMAT)) {
        if (s->ir_enabled && (s->irt_eime || !s->cfi_enabled)) {
            return vtd_ir_fail(s, VTD_FR_IR_COMPAT, sid, 0, false);
        }
        *out_addr = addr;
        *out_data = data;
        return true;
    }
    if (!vtd_ir_remap(s, sid, addr, data, out_addr, out_data)) {
        return false;
    }
    *remapped = true;
    return true;
}

bool vtd_interrupt(VtdState *s, uint16_t sid, uint64_t addr, uint32_t data,
                   uint64_t *out_addr, uint32_t *out_data)
{
    bool remapped;

    return vtd_ir_process(s, sid, addr, data, out_addr, out_data, &remapped);
}

bool vtd_interrupt_ex(VtdState *s, uint16_t sid, uint64_t addr, uint32_t data,
                      uint64_t *out_addr, uint32_t *out_data, bool *remapped)
{
    return vtd_ir_process(s, sid, addr, data, out_addr, out_data, remapped);
}

bool vtd_ir_window_access_faults(const VtdState *s, const IommuRequest *req)
{
    /* Only while the unit is in the path: one of its remapping functions is
     * on. Writes are left alone: DWORD writes never get here, and the DMA
     * path cannot tell the size of the others. */
    if (!s->dmar_enabled && !s->ir_enabled) {
        return false;
    }
    if (req->pasid != IOMMU_NO_PASID || req->at != IOMMU_AT_UNTRANSLATED) {
        return false;
    }
    if (req->zlr && !(req->access & IOMMU_ACCESS_WRITE)) {
        return false;   /* a zero-length read completes */
    }
    return req->access & (IOMMU_ACCESS_READ | IOMMU_ACCESS_EXEC);
}
