/*
 * The invalidation queue (vtd-spec-facts.md §3.6-3.7, §5, §8.3).
 *
 * The queue is a ring of 128-bit (IQA.DW=0) or 256-bit (DW=1) descriptors in
 * guest memory; IQH/IQT hold byte offsets (bits 18:4). We process it
 * synchronously: every IQT write, every QIE enable and every FSTS write
 * (which may clear IQE/ITE) runs the queue from IQH to IQT, one descriptor
 * fully completed before the next is fetched. That trivially satisfies the
 * ordering rules of §8.3 and the fence flag (FN).
 *
 * Each descriptor becomes a VtdInvalidation handed to vtd_inval_dispatch()
 * (vtd-inval.c); the wait descriptor is the batch boundary where listeners
 * sync before the status write and the completion interrupt.
 *
 * Errors:
 *   IQE  the descriptor at IQH is bad (IQERCD.IQEI says why): IQH stays on
 *        it, nothing more is fetched until software clears FSTS.IQE.
 *   ITE  a device-TLB invalidation timed out (IQERCD.ITESID): see
 *        vtd_qi_devtlb_timed_out() for how the pending wait is aborted.
 *   ICE  a listener failed to complete the batch (vtd-inval.c).
 *
 * A hostile tail cannot hang us: the tail is checked against the queue size
 * first, and one call handles at most the queue's number of entries.
 */
#include "hw/intel-iommu/vtd-inval.h"

/* Descriptor types: Type[6:4] = qw0 bits 11:9, Type[3:0] = qw0 bits 3:0. */
enum {
    VTD_DESC_CC = 1,
    VTD_DESC_IOTLB = 2,
    VTD_DESC_DEVTLB = 3,
    VTD_DESC_IEC = 4,
    VTD_DESC_WAIT = 5,
    VTD_DESC_PIOTLB = 6,
    VTD_DESC_PC = 7,
    VTD_DESC_PDEVTLB = 8,
    VTD_DESC_PGRP_RESP = 9,
};

static inline unsigned vtd_desc_type(uint64_t qw0)
{
    return (unsigned)(((qw0 >> 5) & 0x70) | (qw0 & 0xf));
}

/* Reserved bits per type (§5.1). Bits that are reserved only without a
 * capability (PFSID without DIT, PD without PDS) are added at decode. */
#define VTD_CC_RSVD0        (VTD_MASK(8, 6) | VTD_MASK(15, 12) | VTD_MASK(63, 50))
#define VTD_IOTLB_RSVD0     (VTD_BIT(8) | VTD_MASK(15, 12) | VTD_MASK(63, 32))
#define VTD_IOTLB_RSVD1     VTD_MASK(11, 7)
#define VTD_DEVTLB_RSVD0    (VTD_MASK(8, 4) | VTD_MASK(31, 21) | VTD_MASK(51, 48))
#define VTD_DEVTLB_RSVD1    VTD_MASK(11, 1)
#define VTD_PFSID_BITS      (VTD_MASK(15, 12) | VTD_MASK(63, 52))
#define VTD_IEC_RSVD0       (VTD_MASK(8, 5) | VTD_MASK(26, 12) | VTD_MASK(63, 48))
#define VTD_WAIT_RSVD0      (VTD_BIT(8) | VTD_MASK(31, 12))
#define VTD_WAIT_PD         VTD_BIT(7)
#define VTD_WAIT_FN         VTD_BIT(6)
#define VTD_WAIT_SW         VTD_BIT(5)
#define VTD_WAIT_IF         VTD_BIT(4)
#define VTD_WAIT_RSVD1      VTD_MASK(1, 0)
#define VTD_PIOTLB_RSVD0    (VTD_MASK(8, 6) | VTD_MASK(15, 12) | VTD_MASK(63, 52))
#define VTD_PIOTLB_RSVD1    VTD_MASK(11, 7)
#define VTD_PC_RSVD0        VTD_PIOTLB_RSVD0
#define VTD_PDEVTLB_RSVD1   VTD_MASK(10, 1)
#define VTD_PDEVTLB_S       VTD_BIT(11)
#define VTD_PDEVTLB_GI      VTD_BIT(0)
/* PDP (bit 5) is gone in Rev 5.10: reserved, like the private data. */
#define VTD_PGRP_RSVD0      (VTD_MASK(8, 5) | VTD_MASK(63, 52))
#define VTD_PGRP_RSVD1      (VTD_MASK(1, 0) | VTD_MASK(63, 12))

#define VTD_DESC_ADDR(qw1)  ((qw1) & VTD_MASK(63, 12))
#define VTD_DESC_AM(qw1)    ((unsigned)VTD_FIELD(qw1, 5, 0))
#define VTD_DESC_IH(qw1)    (((qw1) & VTD_BIT(6)) != 0)
#define VTD_DESC_G(qw0)     ((unsigned)VTD_FIELD(qw0, 5, 4))
#define VTD_DESC_DID(qw0)   ((uint16_t)VTD_FIELD(qw0, 31, 16))
#define VTD_DESC_PASID(qw0) ((uint32_t)VTD_FIELD(qw0, 51, 32))

/* Outcome of one descriptor. */
typedef enum VtdQiStep {
    VTD_QI_NEXT,        /* done: advance IQH, fetch the next one */
    VTD_QI_STOP,        /* done: advance IQH, then stop fetching */
    VTD_QI_ERROR,       /* invalid: IQE, IQH stays on it */
} VtdQiStep;

static unsigned vtd_qi_desc_size(const VtdState *s)
{
    return s->iq_dw ? 32 : 16;
}

static uint64_t vtd_qi_bytes(const VtdState *s)
{
    return (uint64_t)s->iq_entries * vtd_qi_desc_size(s);
}

static void vtd_qi_set_iqe(VtdState *s, unsigned iqei)
{
    vtd_set_clear64(s, DMAR_IQERCD_REG, VTD_MASK(3, 0), iqei & 0xf);
    vtd_fault_set_status(s, VTD_FSTS_IQE);
}

/* Address of the descriptor at byte offset head (the base was masked to
 * HAW when QIE latched it). A queue outside RAM fails the fetch: IQEI=2. */
static uint64_t vtd_qi_desc_addr(const VtdState *s, uint64_t head)
{
    return s->iq_base + head;
}

/* ---- Checks before a fetch -------------------------------------------- */

/* IQT itself (§3.6): 1 = beyond the queue, 6 = not 256-bit aligned. */
static unsigned vtd_qi_check_tail(const VtdState *s, uint64_t tail)
{
    if (tail >= vtd_qi_bytes(s)) {
        return VTD_IQEI_TAIL;
    }
    if (s->iq_dw && (tail & VTD_BIT(4))) {
        return VTD_IQEI_ALIGN;
    }
    return VTD_IQEI_NONE;
}

static bool vtd_qi_ttm_supported(const VtdState *s)
{
    switch (s->ttm) {
    case VTD_TTM_LEGACY:
        return true;
    case VTD_TTM_SCALABLE:
        return s->ecap & VTD_ECAP_SMTS;
    case VTD_TTM_ABORT_DMA:
        return s->ecap & VTD_ECAP_ADMS;
    default:
        return false;
    }
}

/*
 * Queue width against capabilities and the latched translation table mode
 * (facts §5.0 table): 256-bit descriptors need SMTS or ADMS (5); a reserved
 * or unsupported TTM accepts no descriptor (7); scalable and abort-DMA
 * modes accept only 256-bit descriptors (5).
 */
static unsigned vtd_qi_check_mode(const VtdState *s)
{
    if (s->iq_dw && !(s->ecap & (VTD_ECAP_SMTS | VTD_ECAP_ADMS))) {
        return VTD_IQEI_WIDTH;
    }
    if (!vtd_qi_ttm_supported(s)) {
        return VTD_IQEI_TTM;
    }
    if (!s->iq_dw && s->ttm != VTD_TTM_LEGACY) {
        return VTD_IQEI_WIDTH;
    }
    return VTD_IQEI_NONE;
}

/* Is this type valid here (facts §5.0)? Otherwise IQEI=3. */
static bool vtd_qi_type_valid(const VtdState *s, unsigned type, uint64_t qw0)
{
    switch (type) {
    case VTD_DESC_CC:
    case VTD_DESC_IEC:
    case VTD_DESC_WAIT:
        return true;
    case VTD_DESC_IOTLB:
        /* Page-selective needs CAP.PSI. */
        return VTD_DESC_G(qw0) != 3 || (s->cap & VTD_CAP_PSI);
    case VTD_DESC_DEVTLB:
        return s->ecap & VTD_ECAP_DT;
    case VTD_DESC_PDEVTLB:
        if (!(s->ecap & VTD_ECAP_DT)) {
            return false;
        }
        /* fall through */
    case VTD_DESC_PIOTLB:
    case VTD_DESC_PC:
    case VTD_DESC_PGRP_RESP:
        /* 256-bit only types: scalable or abort-DMA mode (the check above
         * already made the queue 256-bit there); never in legacy mode. */
        return s->ttm != VTD_TTM_LEGACY;
    default:
        return false;   /* 0, 0Ah (no HPTS), everything else */
    }
}

/* ---- Decoding, one function per type ---------------------------------- */
/* Each fills inv and returns VTD_IQEI_NONE, or the IQEI of the problem. */

static unsigned vtd_qi_decode_cc(const VtdState *s, const uint64_t *qw,
                                 VtdInvalidation *inv)
{
    static const VtdInvalGran gran[4] = {
        [1] = VTD_INVAL_GRAN_GLOBAL, [2] = VTD_INVAL_GRAN_DOMAIN,
        [3] = VTD_INVAL_GRAN_DEVICE,
    };
    unsigned g = VTD_DESC_G(qw[0]);

    if ((qw[0] & VTD_CC_RSVD0) || qw[1] || g == 0) {
        return VTD_IQEI_RSVD;
    }
    inv->kind = VTD_INVAL_CONTEXT;
    inv->gran = gran[g];
    inv->did = VTD_DESC_DID(qw[0]);
    inv->sid = (uint16_t)VTD_FIELD(qw[0], 47, 32);
    inv->fm = (uint8_t)VTD_FIELD(qw[0], 49, 48);
    return VTD_IQEI_NONE;
}

/* ADDR with its low AM page bits ignored (2^AM pages, size-aligned). */
static uint64_t vtd_qi_page_base(uint64_t addr, unsigned am)
{
    if (am >= 52) {
        return 0;
    }
    return addr & ~((1ULL << (12 + am)) - 1);
}

static unsigned vtd_qi_decode_iotlb(const VtdState *s, const uint64_t *qw,
                                    VtdInvalidation *inv)
{
    unsigned g = VTD_DESC_G(qw[0]);
    unsigned mgaw = VTD_CAP_MGAW_GET(s->cap);

    if ((qw[0] & VTD_IOTLB_RSVD0) || (qw[1] & VTD_IOTLB_RSVD1) || g == 0) {
        return VTD_IQEI_RSVD;
    }
    inv->kind = VTD_INVAL_IOTLB;
    inv->did = VTD_DESC_DID(qw[0]);
    inv->gran = g == 1 ? VTD_INVAL_GRAN_GLOBAL
              : g == 2 ? VTD_INVAL_GRAN_DOMAIN : VTD_INVAL_GRAN_PAGE;
    if (inv->gran != VTD_INVAL_GRAN_PAGE) {
        return VTD_IQEI_NONE;
    }
    inv->am = VTD_DESC_AM(qw[1]);
    inv->ih = VTD_DESC_IH(qw[1]);
    /* AM beyond MAMV has no defined meaning: refuse it (as QEMU). */
    if (inv->am > VTD_CAP_MAMV_GET(s->cap)) {
        return VTD_IQEI_RSVD;
    }
    /* Second-stage input addresses: bits at and above MGAW are ignored. */
    inv->addr = vtd_qi_page_base(VTD_DESC_ADDR(qw[1]), inv->am);
    if (mgaw < 64) {
        inv->addr &= VTD_MASK(mgaw - 1, 0);
    }
    return VTD_IQEI_NONE;
}

static uint16_t vtd_qi_pfsid(uint64_t qw0)
{
    return (uint16_t)(VTD_FIELD(qw0, 15, 12) | (VTD_FIELD(qw0, 63, 52) << 4));
}

static void vtd_qi_devtlb_range(VtdInvalidation *inv, uint64_t qw1, bool s_bit)
{
    inv->addr = VTD_DESC_ADDR(qw1);
    inv->s = s_bit;
    vtd_ats_decode_range(inv->addr, s_bit, &inv->devtlb_base,
                         &inv->devtlb_size);
}

static unsigned vtd_qi_decode_devtlb(const VtdState *s, const uint64_t *qw,
                                     VtdInvalidation *inv)
{
    uint64_t rsvd0 = VTD_DEVTLB_RSVD0;

    if (!(s->ecap & VTD_ECAP_DIT)) {
        rsvd0 |= VTD_PFSID_BITS;
    }
    if ((qw[0] & rsvd0) || (qw[1] & VTD_DEVTLB_RSVD1)) {
        return VTD_IQEI_RSVD;
    }
    inv->kind = VTD_INVAL_DEVTLB;
    inv->gran = VTD_INVAL_GRAN_DEVICE;
    inv->sid = (uint16_t)VTD_FIELD(qw[0], 47, 32);
    inv->mip = (uint8_t)VTD_FIELD(qw[0], 20, 16);
    inv->pfsid = vtd_qi_pfsid(qw[0]);
    inv->pasid = IOMMU_NO_PASID;
    vtd_qi_devtlb_range(inv, qw[1], qw[1] & VTD_BIT(0));
    return VTD_IQEI_NONE;
}

static unsigned vtd_qi_decode_iec(const VtdState *s, const uint64_t *qw,
                                  VtdInvalidation *inv)
{
    if ((qw[0] & VTD_IEC_RSVD0) || qw[1]) {
        return VTD_IQEI_RSVD;
    }
    inv->kind = VTD_INVAL_IEC;
    /* G: 0 = global, 1 = index-selective (facts §12.8). */
    inv->gran = (qw[0] & VTD_BIT(4)) ? VTD_INVAL_GRAN_INDEX
                                     : VTD_INVAL_GRAN_GLOBAL;
    inv->im = (uint8_t)VTD_FIELD(qw[0], 31, 27);
    /* The low IM bits of the index are ignored (aligned block). */
    inv->iidx = (uint32_t)VTD_FIELD(qw[0], 47, 32) & ~((1u << inv->im) - 1);
    return VTD_IQEI_NONE;
}

static unsigned vtd_qi_decode_piotlb(const VtdState *s, const uint64_t *qw,
                                     VtdInvalidation *inv)
{
    unsigned g = VTD_DESC_G(qw[0]);

    if ((qw[0] & VTD_PIOTLB_RSVD0) || (qw[1] & VTD_PIOTLB_RSVD1) ||
        qw[2] || qw[3] || g < 2) {
        return VTD_IQEI_RSVD;
    }
    inv->kind = VTD_INVAL_PASID_IOTLB;
    inv->did = VTD_DESC_DID(qw[0]);
    inv->pasid = VTD_DESC_PASID(qw[0]);
    if (g == 2) {
        inv->gran = VTD_INVAL_GRAN_PASID;
        return VTD_IQEI_NONE;
    }
    inv->gran = VTD_INVAL_GRAN_PAGE;
    /* Any AM is accepted here: MAMV does not apply to first-stage. */
    inv->am = VTD_DESC_AM(qw[1]);
    inv->ih = VTD_DESC_IH(qw[1]);
    inv->addr = vtd_qi_page_base(VTD_DESC_ADDR(qw[1]), inv->am);
    return VTD_IQEI_NONE;
}

static unsigned vtd_qi_decode_pc(const VtdState *s, const uint64_t *qw,
                                 VtdInvalidation *inv)
{
    static const VtdInvalGran gran[4] = {
        [0] = VTD_INVAL_GRAN_DOMAIN, [1] = VTD_INVAL_GRAN_PASID,
        [3] = VTD_INVAL_GRAN_GLOBAL,
    };
    unsigned g = VTD_DESC_G(qw[0]);

    if ((qw[0] & VTD_PC_RSVD0) || qw[1] || qw[2] || qw[3] || g == 2) {
        return VTD_IQEI_RSVD;
    }
    inv->kind = VTD_INVAL_PASID_CACHE;
    inv->gran = gran[g];
    inv->did = VTD_DESC_DID(qw[0]);
    inv->pasid = VTD_DESC_PASID(qw[0]);
    return VTD_IQEI_NONE;
}

static unsigned vtd_qi_decode_pdevtlb(const VtdState *s, const uint64_t *qw,
                                      VtdInvalidation *inv)
{
    uint64_t rsvd0 = (s->ecap & VTD_ECAP_DIT) ? 0 : VTD_PFSID_BITS;

    if ((qw[0] & rsvd0) || (qw[1] & VTD_PDEVTLB_RSVD1) || qw[2] || qw[3]) {
        return VTD_IQEI_RSVD;
    }
    inv->kind = VTD_INVAL_PASID_DEVTLB;
    inv->gran = VTD_INVAL_GRAN_DEVICE;
    inv->mip = (uint8_t)VTD_FIELD(qw[0], 8, 4);
    inv->sid = (uint16_t)VTD_FIELD(qw[0], 31, 16);
    inv->pasid = VTD_DESC_PASID(qw[0]);
    inv->pfsid = vtd_qi_pfsid(qw[0]);
    inv->gi = qw[1] & VTD_PDEVTLB_GI;
    vtd_qi_devtlb_range(inv, qw[1], qw[1] & VTD_PDEVTLB_S);
    return VTD_IQEI_NONE;
}

/*
 * Page group response. The facts do not make type 9 depend on ECAP.PRS, so
 * it is accepted in scalable mode and handed to vtd-prq.c, which drops it
 * when there is no page-request support.
 */
static unsigned vtd_qi_decode_pgrp(const VtdState *s, const uint64_t *qw,
                                   VtdInvalidation *inv)
{
    if ((qw[0] & VTD_PGRP_RSVD0) || (qw[1] & VTD_PGRP_RSVD1) || qw[2] ||
        qw[3]) {
        return VTD_IQEI_RSVD;
    }
    inv->kind = VTD_INVAL_PAGE_RESPONSE;
    inv->gran = VTD_INVAL_GRAN_DEVICE;
    inv->pp = qw[0] & VTD_BIT(4);
    inv->rc = (uint8_t)VTD_FIELD(qw[0], 15, 12);
    inv->sid = (uint16_t)VTD_FIELD(qw[0], 31, 16);
    inv->pasid = inv->pp ? VTD_DESC_PASID(qw[0]) : IOMMU_NO_PASID;
    inv->lpig = qw[1] & VTD_BIT(2);
    inv->prgi = (uint16_t)VTD_FIELD(qw[1], 11, 3);
    return VTD_IQEI_NONE;
}

static unsigned vtd_qi_decode(const VtdState *s, unsigned type,
                              const uint64_t *qw, VtdInvalidation *inv)
{
    memset(inv, 0, sizeof(*inv));
    inv->pasid = IOMMU_NO_PASID;
    memcpy(inv->raw, qw, sizeof(inv->raw));

    switch (type) {
    case VTD_DESC_CC:
        return vtd_qi_decode_cc(s, qw, inv);
    case VTD_DESC_IOTLB:
        return vtd_qi_decode_iotlb(s, qw, inv);
    case VTD_DESC_DEVTLB:
        return vtd_qi_decode_devtlb(s, qw, inv);
    case VTD_DESC_IEC:
        return vtd_qi_decode_iec(s, qw, inv);
    case VTD_DESC_PIOTLB:
        return vtd_qi_decode_piotlb(s, qw, inv);
    case VTD_DESC_PC:
        return vtd_qi_decode_pc(s, qw, inv);
    case VTD_DESC_PDEVTLB:
        return vtd_qi_decode_pdevtlb(s, qw, inv);
    case VTD_DESC_PGRP_RESP:
        return vtd_qi_decode_pgrp(s, qw, inv);
    default:
        return VTD_IQEI_TYPE;   /* not reached: the type was checked */
    }
}

/* ---- The wait descriptor ------------------------------------------------ */

static unsigned vtd_qi_check_wait(const VtdState *s, const uint64_t *qw)
{
    uint64_t rsvd0 = VTD_WAIT_RSVD0;

    if (!(s->ecap & VTD_ECAP_PDS)) {
        rsvd0 |= VTD_WAIT_PD;
    }
    if ((qw[0] & rsvd0) || (qw[1] & VTD_WAIT_RSVD1)) {
        return VTD_IQEI_RSVD;
    }
    return VTD_IQEI_NONE;
}

/*
 * Complete a wait (§8.3): listeners sync first (the batch before it must be
 * done everywhere), then the status write, then the interrupt.
 *
 * SW=IF=0 is legal: a pure ordering point (QEMU rejects it with IQE; the
 * spec does not). FN needs nothing here: the next descriptor is only
 * fetched after this one completed. PD (page-request drain, with PDS)
 * needs nothing either: page requests are written to the page request
 * queue synchronously, so every earlier one is already there.
 *
 * A status write that does not reach memory (an address outside RAM) is
 * not an error the spec can report: IQEI has no code for it (2 is about
 * fetching descriptors) and the write is an ordinary posted DMA write, which
 * hardware cannot see fail. It is dropped and the wait still completes,
 * including its interrupt.
 */
static void vtd_qi_complete_wait(VtdState *s, const uint64_t *qw, bool aborted)
{
    /* Even an aborted wait closes a batch for the listeners. */
    vtd_inval_sync_or_report(s);
    if (aborted) {
        return;     /* ITE: no status write, no IWC */
    }
    if (qw[0] & VTD_WAIT_SW) {
        /* Status Address is bits HAW-1:2 of qw1; higher bits are ignored. */
        uint64_t addr = qw[1] & ~VTD_WAIT_RSVD1 & s->haw_mask;
        uint32_t data = GUINT32_TO_LE((uint32_t)(qw[0] >> 32));

        (void)vtd_dma_write(s, addr, &data, sizeof(data));
    }
    /* IF: only when IWC goes from 0 to 1 is there a new event. Never
     * aborts, whatever the state of IECTL (regression guard, QEMU #3028). */
    if ((qw[0] & VTD_WAIT_IF) &&
        !(vtd_get32(s, DMAR_ICS_REG) & VTD_ICS_IWC)) {
        vtd_set_clear32(s, DMAR_ICS_REG, 0, VTD_ICS_IWC);
        vtd_event_raise(s, DMAR_IECTL_REG, DMAR_IEDATA_REG, DMAR_IEADDR_REG,
                        DMAR_IEUADDR_REG);
    }
}

/* ---- Device-TLB time-out ------------------------------------------------ */

/*
 * ITE (§5.2): hardware aborts the wait descriptors pending when the time-out
 * is detected and stops fetching until software clears ITE. Hardware
 * fetches ahead, so the wait closing the batch of the timed-out
 * invalidation is normally among them; software (Linux) finds the aborted
 * waits behind IQH and resubmits. We model that fetch-ahead: after the
 * time-out the rest of the batch is still carried out, its closing wait is
 * consumed without status write or interrupt, and fetching stops there (IQH
 * just past that wait). If the tail comes first, the next wait fetched once
 * ITE is cleared is the one aborted (iq_abort_next_wait).
 */
static void vtd_qi_devtlb_timed_out(VtdState *s, uint16_t sid)
{
    if (!(vtd_get32(s, DMAR_FSTS_REG) & VTD_FSTS_ITE)) {
        /* ITESID is valid while ITE=1: the first time-out's requester. */
        vtd_set_clear64(s, DMAR_IQERCD_REG, VTD_MASK(47, 32),
                        (uint64_t)sid << VTD_IQERCD_ITESID_SHIFT);
    }
    vtd_fault_set_status(s, VTD_FSTS_ITE);
    s->iq_abort_next_wait = true;
}

/* ---- One descriptor ----------------------------------------------------- */

static bool vtd_qi_fetch(VtdState *s, uint64_t head, uint64_t qw[4])
{
    uint64_t raw[4] = { 0 };
    unsigned size = vtd_qi_desc_size(s);

    if (!vtd_dma_read(s, vtd_qi_desc_addr(s, head), raw, size)) {
        return false;
    }
    for (unsigned i = 0; i < 4; i++) {
        qw[i] = GUINT64_FROM_LE(raw[i]);
    }
    return true;
}

static VtdQiStep vtd_qi_run_one(VtdState *s, uint64_t head, unsigned *iqei)
{
    uint64_t qw[4];
    unsigned type;
    VtdInvalidation inv;

    *iqei = vtd_qi_check_mode(s);
    if (*iqei) {
        return VTD_QI_ERROR;
    }
    if (!vtd_qi_fetch(s, head, qw)) {
        *iqei = VTD_IQEI_FETCH;
        return VTD_QI_ERROR;
    }
    type = vtd_desc_type(qw[0]);
    if (!vtd_qi_type_valid(s, type, qw[0])) {
        *iqei = VTD_IQEI_TYPE;
        return VTD_QI_ERROR;
    }
    /* 128-bit types in a 256-bit queue are zero-padded. */
    if (type <= VTD_DESC_WAIT && (qw[2] || qw[3])) {
        *iqei = VTD_IQEI_RSVD;
        return VTD_QI_ERROR;
    }

    if (type == VTD_DESC_WAIT) {
        *iqei = vtd_qi_check_wait(s, qw);
        if (*iqei) {
            return VTD_QI_ERROR;
        }
        s->stats.descriptors++;
        s->iq_last_was_wait = true;
        if (s->iq_abort_next_wait) {
            s->iq_abort_next_wait = false;
            vtd_qi_complete_wait(s, qw, true);
            return VTD_QI_STOP;
        }
        vtd_qi_complete_wait(s, qw, false);
        return VTD_QI_NEXT;
    }

    *iqei = vtd_qi_decode(s, type, qw, &inv);
    if (*iqei) {
        return VTD_QI_ERROR;
    }
    s->stats.descriptors++;
    s->iq_last_was_wait = false;
    if (!vtd_inval_dispatch(s, &inv)) {
        vtd_qi_devtlb_timed_out(s, inv.sid);
    }
    return VTD_QI_NEXT;
}

/* ---- The queue ---------------------------------------------------------- */

/* Fetching needs QIES=1 and IQE=ITE=0 (§5.2), whatever TES/IRES say. */
static bool vtd_qi_can_fetch(const VtdState *s)
{
    return s->qi_enabled && s->iq_entries &&
           !(vtd_get32(s, DMAR_FSTS_REG) & (VTD_FSTS_IQE | VTD_FSTS_ITE));
}

void vtd_qi_process(VtdState *s)
{
    uint64_t bytes, tail, head;
    unsigned dsz, iqei;

    /* A listener or a device reacting synchronously may write IQT again:
     * the loop below picks the new tail up, so a nested call has nothing
     * to add. */
    if (s->iq_busy || !vtd_qi_can_fetch(s)) {
        return;
    }
    dsz = vtd_qi_desc_size(s);
    bytes = vtd_qi_bytes(s);
    /* IQH is ours; keep it a valid slot even if a snapshot said otherwise. */
    head = (vtd_get64(s, DMAR_IQH_REG) & VTD_IQ_PTR_MASK & ~(uint64_t)(dsz - 1))
           % bytes;

    s->iq_busy = true;
    for (uint32_t n = 0; n < s->iq_entries; n++) {
        VtdQiStep step;

        /* IQT first (a bad tail is an error even with nothing queued);
         * re-read each time: a descriptor's side effects may move it. */
        tail = vtd_get64(s, DMAR_IQT_REG) & VTD_IQ_PTR_MASK;
        iqei = vtd_qi_check_tail(s, tail);
        if (iqei) {
            vtd_qi_set_iqe(s, iqei);
            break;
        }
        if (head == tail) {
            break;
        }
        step = vtd_qi_run_one(s, head, &iqei);
        if (step == VTD_QI_ERROR) {
            vtd_qi_set_iqe(s, iqei);
            break;
        }
        head += dsz;
        if (head >= bytes) {
            head = 0;   /* wrap */
        }
        vtd_set64(s, DMAR_IQH_REG, head);
        if (step == VTD_QI_STOP) {
            break;
        }
    }
    s->iq_busy = false;
}

void vtd_qi_enabled(VtdState *s)
{
    /* A new queue: no batch is pending from a previous life. */
    s->iq_abort_next_wait = false;
    vtd_qi_process(s);
}
