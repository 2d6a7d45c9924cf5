/*
 * Primary fault logging (vtd-spec-facts.md §4.9.1) into the NFR fault
 * recording registers, and the event interrupts (§4.9.2): the fault event
 * (FECTL/FEDATA/FEADDR/FEUADDR) and, with the same IM/IP logic, the
 * invalidation-completion (IECTL) and page-request (PECTL) events.
 *
 * Choice: no fault compression. The spec allows hardware to drop a fault
 * whose SID matches a pending record (QEMU does, with its single record);
 * with several records we log every fault, which tells software more and
 * keeps the order of records equal to the order of faults.
 */
#include "hw/intel-iommu/vtd-internal.h"

/* Status bits whose presence means a fault event is already outstanding. */
#define VTD_FSTS_EVENT_BITS (VTD_FSTS_PFO | VTD_FSTS_PPF | VTD_FSTS_IQE | \
                             VTD_FSTS_ICE | VTD_FSTS_ITE)

/* ---- Event interrupts --------------------------------------------------- */

static void vtd_event_send(VtdState *s, unsigned data_off, unsigned addr_off,
                           unsigned uaddr_off)
{
    uint64_t addr = (vtd_get32(s, addr_off) & VTD_MASK(31, 2)) |
                    ((uint64_t)vtd_get32(s, uaddr_off) << 32);

    if (s->msi.deliver) {
        s->msi.deliver(s->msi.opaque, addr, vtd_get32(s, data_off));
    }
}

void vtd_event_raise(VtdState *s, unsigned ctl_off, unsigned data_off,
                     unsigned addr_off, unsigned uaddr_off)
{
    if (vtd_get32(s, ctl_off) & VTD_XECTL_IM) {
        /* Masked: remember it; clearing IM later sends it. */
        vtd_set_clear32(s, ctl_off, 0, VTD_XECTL_IP);
        return;
    }
    vtd_set_clear32(s, ctl_off, VTD_XECTL_IP, 0);
    vtd_event_send(s, data_off, addr_off, uaddr_off);
}

void vtd_event_ctl_written(VtdState *s, unsigned ctl_off, unsigned data_off,
                           unsigned addr_off, unsigned uaddr_off)
{
    uint32_t ctl = vtd_get32(s, ctl_off);

    if ((ctl & VTD_XECTL_IP) && !(ctl & VTD_XECTL_IM)) {
        vtd_set_clear32(s, ctl_off, VTD_XECTL_IP, 0);
        vtd_event_send(s, data_off, addr_off, uaddr_off);
    }
}

void vtd_event_clear_pending(VtdState *s, unsigned ctl_off)
{
    vtd_set_clear32(s, ctl_off, VTD_XECTL_IP, 0);
}

static void vtd_fault_event(VtdState *s)
{
    vtd_event_raise(s, DMAR_FECTL_REG, DMAR_FEDATA_REG, DMAR_FEADDR_REG,
                    DMAR_FEUADDR_REG);
}

/* ---- Status ------------------------------------------------------------- */

static uint64_t vtd_frcd_hi(const VtdState *s, unsigned n)
{
    return vtd_get64(s, vtd_frcd_offset(s, n) + 8);
}

/* PPF is the OR of every record's F bit. */
static void vtd_fault_update_ppf(VtdState *s)
{
    uint32_t ppf = 0;

    for (unsigned n = 0; n < s->nfr; n++) {
        if (vtd_frcd_hi(s, n) & VTD_FRCD_HI_F) {
            ppf = VTD_FSTS_PPF;
            break;
        }
    }
    vtd_set_clear32(s, DMAR_FSTS_REG, VTD_FSTS_PPF, ppf);
}

/* Once software has cleared every status bit, IP goes too. */
static void vtd_fault_maybe_clear_ip(VtdState *s)
{
    if (!(vtd_get32(s, DMAR_FSTS_REG) & VTD_FSTS_EVENT_BITS)) {
        vtd_event_clear_pending(s, DMAR_FECTL_REG);
    }
}

/* Set status bits; an event only if none was outstanding before. */
static void vtd_fault_raise_status(VtdState *s, uint32_t bits)
{
    uint32_t before = vtd_get32(s, DMAR_FSTS_REG);

    vtd_set_clear32(s, DMAR_FSTS_REG, 0, bits);
    if (bits && !(before & VTD_FSTS_EVENT_BITS)) {
        vtd_fault_event(s);
    }
}

void vtd_fault_set_status(VtdState *s, uint32_t fsts_bits)
{
    vtd_fault_raise_status(s, fsts_bits &
                           (VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE));
}

void vtd_fault_fsts_written(VtdState *s)
{
    vtd_fault_maybe_clear_ip(s);
}

void vtd_fault_fectl_written(VtdState *s)
{
    vtd_event_ctl_written(s, DMAR_FECTL_REG, DMAR_FEDATA_REG, DMAR_FEADDR_REG,
                          DMAR_FEUADDR_REG);
}

void vtd_fault_frcd_written(VtdState *s, unsigned n)
{
    (void)n;    /* any record's F may have changed PPF */
    vtd_fault_update_ppf(s);
    vtd_fault_maybe_clear_ip(s);
}

void vtd_fault_reset_index(VtdState *s)
{
    s->fault_index = 0;
}

/* ---- Recording ---------------------------------------------------------- */

/* FI: the page of the request, or the interrupt index in bits 63:48. */
static uint64_t vtd_frcd_lo(const VtdState *s, const VtdFault *f)
{
    unsigned mgaw = VTD_CAP_MGAW_GET(s->cap);

    if (f->is_ir) {
        /* Accept a bare index as well as one already shifted into place. */
        uint64_t index = f->addr <= 0xffff ? f->addr : f->addr >> 48;

        return index << 48;
    }
    /* FRCD FI: "hardware treats bits 63:N as reserved (0), where N is the
     * MGAW supported" (spec 11.4.14; facts §4.9). */
    return f->addr & VTD_FRCD_FI_MASK &
           (mgaw < 64 ? VTD_MASK(mgaw - 1, 0) : ~0ULL);
}

static uint64_t vtd_frcd_hi_encode(const VtdState *s, const VtdFault *f)
{
    uint64_t hi = VTD_FRCD_HI_SID(f->sid) | VTD_FRCD_HI_FR(f->reason) |
                  VTD_FRCD_HI_F;

    if (f->is_ir) {
        return hi;  /* type, AT and PASID are not meaningful for IR faults */
    }
    /* (T1,T2): 00 write, 10 read, 11 AtomicOp, 01 page request. */
    if (f->page_request) {
        hi |= VTD_FRCD_HI_T2;
    } else if (f->is_read && f->is_write) {
        hi |= VTD_FRCD_HI_T1 | VTD_FRCD_HI_T2;
    } else if (f->is_read || (!f->is_write && f->exec)) {
        hi |= VTD_FRCD_HI_T1;
    }
    if (f->pasid_present) {
        hi |= VTD_FRCD_HI_PP | VTD_FRCD_HI_PV(f->pasid);
        if (f->priv) {
            hi |= VTD_FRCD_HI_PRIV;
        }
        if (f->exec) {
            hi |= VTD_FRCD_HI_EXE;
        }
    }
    if (s->ecap & VTD_ECAP_DT) {
        hi |= VTD_FRCD_HI_AT(f->at);    /* RsvdZ without device-TLB support */
    }
    return hi;
}

void vtd_fault_report(VtdState *s, const VtdFault *f)
{
    unsigned index = s->fault_index % s->nfr;
    unsigned off = vtd_frcd_offset(s, index);
    uint32_t fsts = vtd_get32(s, DMAR_FSTS_REG);

    if (f->fpd && vtd_fault_reason_qualified(f->reason)) {
        s->stats.faults_suppressed++;
        return;
    }
    if (fsts & VTD_FSTS_PFO) {
        return;     /* overflow: nothing is logged until software clears PFO */
    }
    if (vtd_get64(s, off + 8) & VTD_FRCD_HI_F) {
        vtd_fault_raise_status(s, VTD_FSTS_PFO);
        return;
    }

    vtd_set64(s, off, vtd_frcd_lo(s, f));
    vtd_set64(s, off + 8, vtd_frcd_hi_encode(s, f));
    s->fault_index = (index + 1) % s->nfr;
    s->stats.faults_recorded++;
    if (fsts & VTD_FSTS_PPF) {
        return;     /* FRI keeps pointing at the first pending record */
    }
    vtd_set_clear32(s, DMAR_FSTS_REG, VTD_FSTS_FRI_MASK,
                    (uint32_t)index << VTD_FSTS_FRI_SHIFT);
    vtd_fault_raise_status(s, VTD_FSTS_PPF);
}
