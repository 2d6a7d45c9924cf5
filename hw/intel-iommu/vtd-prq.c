/*
 * Page requests (PCIe PRI) and page group responses (vtd-spec-facts.md §4.10,
 * §5.1 type 9, §8.5). A device's page request is checked against the
 * scalable-mode tables like a DMA request (without a page walk), then written
 * as a 256-bit descriptor at PQT of the queue at PQA; PRS.PPR and the page
 * request event tell software. Software answers with a page group response
 * descriptor, which goes to the device through the prq sink.
 *
 * Choices where the spec summary is silent:
 *  - ECAP.PRS=0 or TE=0: the request is not processed and nothing is
 *    recorded; the last request of a group gets an automatic "Response
 *    Failure" (PRS=0) or "Invalid Request" (TE=0) so the device never waits.
 *  - A queue pointer (PQH/PQT) beyond the queue size, or a descriptor write
 *    that fails (PQA not RAM), is treated like a full queue: PRS.PRO.
 *  - The implicit invalidation (§8.5) runs only for requests that are
 *    queued, right before the descriptor is written.
 */
#include "hw/intel-iommu/vtd-internal.h"
#include "hw/intel-iommu/vtd-cache.h"
#include "hw/intel-iommu/vtd-inval.h"
#include "hw/intel-iommu/vtd-tables.h"

#define VTD_PRQ_DESC_SIZE   32
#define VTD_PRQ_DESC_TYPE   0x01
#define VTD_PRGI_MASK       0x1ff
#define VTD_PASID_MASK      0xfffff

typedef struct VtdPageRequest {
    uint16_t sid;
    bool pasid_present;
    uint32_t pasid;
    uint64_t addr;
    bool read, write, exec, priv;
    bool lpig;
    uint16_t prgi;
} VtdPageRequest;

/* What the tables said about the request. */
typedef struct VtdPrqTarget {
    uint32_t eff_pasid;     /* RID_PASID for requests without PASID */
    VtdPasidEntry pe;
} VtdPrqTarget;

void vtd_set_prq_sink(VtdState *s, const VtdPrqSink *sink)
{
    s->prq_sink = sink ? *sink : (VtdPrqSink){ 0 };
}

static void vtd_prq_respond(VtdState *s, uint16_t sid, uint32_t pasid,
                            bool pasid_present, uint16_t prgi, uint8_t rc)
{
    if (s->prq_sink.page_response) {
        s->prq_sink.page_response(s->prq_sink.opaque, sid, pasid, pasid_present,
                                  prgi & VTD_PRGI_MASK, rc);
    }
}

/* The unit answers for software only for the last request of a group. */
static void vtd_prq_auto_respond(VtdState *s, const VtdPageRequest *pr,
                                 uint8_t rc)
{
    if (pr->lpig) {
        vtd_prq_respond(s, pr->sid, pr->pasid_present ? pr->pasid : 0,
                        pr->pasid_present, pr->prgi, rc);
    }
}

/* ---- Remapping-table checks ------------------------------------------- */

static VtdFaultReason vtd_prq_check_mode(const VtdState *s)
{
    switch (s->ttm) {
    case VTD_TTM_LEGACY:
        return s->ssirwe ? VTD_FR_RTA_1 : VTD_FR_RTA_3;
    case VTD_TTM_SCALABLE:
        return (s->ecap & VTD_ECAP_SMTS) ? VTD_FR_NONE : VTD_FR_RTA_1;
    case VTD_TTM_ABORT_DMA:
        return (s->ecap & VTD_ECAP_ADMS) ? VTD_FR_RTA_4 : VTD_FR_RTA_1;
    default:
        return VTD_FR_RTA_1;
    }
}

/*
 * Root, context (PRE), PASID directory and PASID entry, read from memory:
 * a page request gets the same non-recoverable faults a DMA request would
 * before its page walk. FPD of every entry met is accumulated into f.
 */
static VtdFaultReason vtd_prq_check_tables(VtdState *s, const VtdPageRequest *pr,
                                           VtdFault *f, VtdPrqTarget *t)
{
    bool priv;
    VtdSmContext ctx;
    VtdPasidDirEntry dir;
    VtdFaultReason r = vtd_prq_check_mode(s);

    if (r != VTD_FR_NONE) {
        return r;
    }
    r = vtd_read_sm_device_context(s, pr->sid, &ctx);
    f->fpd |= ctx.fpd;
    if (r != VTD_FR_NONE) {
        return r;
    }
    /* Same PASID checks, in the same order, as DMA requests. */
    if (pr->pasid_present) {
        r = vtd_sm_ctx_check_pasid(s->ecap, &ctx, pr->pasid);
        if (r != VTD_FR_NONE) {
            return r;
        }
        t->eff_pasid = pr->pasid;
        priv = pr->priv;
    } else {
        /* RID_PASID/RID_PRIV decode as 0 without RPS/RPRIVS. */
        t->eff_pasid = ctx.rid_pasid;
        priv = ctx.rid_priv;
    }
    if (!ctx.pre) {
        return VTD_FR_SCT_8;
    }
    r = vtd_read_pasid_dir_entry(s, ctx.pasid_dir, t->eff_pasid, &dir);
    f->fpd |= dir.fpd;
    if (r != VTD_FR_NONE) {
        return r;
    }
    r = vtd_read_pasid_entry(s, dir.table, t->eff_pasid, &t->pe);
    f->fpd |= t->pe.fpd;
    if (r != VTD_FR_NONE) {
        return r;
    }
    return priv && !t->pe.sre ? VTD_FR_SPT_6 : VTD_FR_NONE;
}

/* ---- Implicit invalidation (§8.5) -------------------------------------- */

/* Software will change the mapping: drop what the unit cached for it. */
static void vtd_prq_implicit_invalidate(VtdState *s, const VtdPageRequest *pr,
                                        const VtdPrqTarget *t)
{
    uint64_t page = pr->addr & ~0xfffULL;
    uint16_t did = t->pe.did;

    switch (t->pe.pgtt) {
    case VTD_PGTT_FS:
        vtd_iotlb_invalidate_pasid_page(s, did, t->eff_pasid, page, 0, false);
        break;
    case VTD_PGTT_NESTED:
        vtd_iotlb_invalidate_domain(s, did);
        break;
    default:    /* second-stage only and pass-through */
        vtd_iotlb_invalidate_page(s, did, page, 0, false);
        break;
    }
}

/* ---- The queue --------------------------------------------------------- */

static void vtd_prq_encode(const VtdPageRequest *pr, uint64_t desc[4])
{
    uint64_t qw0 = VTD_PRQ_DESC_TYPE | ((uint64_t)pr->sid << 16);
    uint64_t qw1 = (pr->addr & VTD_MASK(63, 12)) |
                   ((uint64_t)(pr->prgi & VTD_PRGI_MASK) << 3);

    if (pr->pasid_present) {
        qw0 |= VTD_BIT(8) | ((uint64_t)(pr->pasid & VTD_PASID_MASK) << 32);
        qw0 |= pr->exec ? VTD_BIT(52) : 0;
        qw0 |= pr->priv ? VTD_BIT(53) : 0;
    }
    qw1 |= pr->read ? VTD_BIT(0) : 0;
    qw1 |= pr->write ? VTD_BIT(1) : 0;
    qw1 |= pr->lpig ? VTD_BIT(2) : 0;
    desc[0] = GUINT64_TO_LE(qw0);
    desc[1] = GUINT64_TO_LE(qw1);
    desc[2] = 0;
    desc[3] = 0;
}

/* Slot at PQT, or false when the queue is full (tail one behind head) or a
 * pointer lies outside the queue. */
static bool vtd_prq_free_slot(const VtdState *s, uint64_t *gpa, uint64_t *next)
{
    uint64_t pqa = vtd_get64(s, DMAR_PQA_REG);
    uint64_t entries = 1ULL << (VTD_PQA_PQS(pqa) + 7);
    uint64_t head = (vtd_get64(s, DMAR_PQH_REG) & VTD_PQ_PTR_MASK) >> 5;
    uint64_t tail = (vtd_get64(s, DMAR_PQT_REG) & VTD_PQ_PTR_MASK) >> 5;

    if (head >= entries || tail >= entries || (tail + 1) % entries == head) {
        return false;
    }
    *gpa = (pqa & VTD_PQA_BASE_MASK) + tail * VTD_PRQ_DESC_SIZE;
    *next = (tail + 1) % entries;
    return true;
}

/* PPR/PRO: the event fires only when neither was pending before. */
static void vtd_prq_set_status(VtdState *s, uint32_t bits)
{
    uint32_t before = vtd_get32(s, DMAR_PRS_REG);

    vtd_set_clear32(s, DMAR_PRS_REG, 0, bits);
    if (!(before & (VTD_PRS_PPR | VTD_PRS_PRO))) {
        vtd_event_raise(s, DMAR_PECTL_REG, DMAR_PEDATA_REG, DMAR_PEADDR_REG,
                        DMAR_PEUADDR_REG);
    }
}

static bool vtd_prq_enqueue(VtdState *s, const VtdPageRequest *pr,
                            const VtdPrqTarget *t)
{
    uint64_t desc[4], gpa, next;

    if (!vtd_prq_free_slot(s, &gpa, &next)) {
        return false;
    }
    vtd_prq_implicit_invalidate(s, pr, t);
    vtd_prq_encode(pr, desc);
    if (!vtd_dma_write(s, gpa, desc, sizeof(desc))) {
        return false;
    }
    vtd_set_clear64(s, DMAR_PQT_REG, VTD_PQ_PTR_MASK, next << 5);
    vtd_prq_set_status(s, VTD_PRS_PPR);
    return true;
}

/* ---- Entry points ------------------------------------------------------ */

bool vtd_page_request(VtdState *s, uint16_t sid, uint32_t pasid,
                      bool pasid_present, uint64_t addr, bool read, bool write,
                      bool exec, bool priv, bool lpig, uint16_t prgi)
{
    VtdPageRequest pr = {
        .sid = sid, .pasid_present = pasid_present,
        .pasid = pasid_present ? pasid : 0, .addr = addr,
        .read = read, .write = write, .exec = exec, .priv = priv,
        .lpig = lpig, .prgi = prgi & VTD_PRGI_MASK,
    };
    VtdFault f = {
        .sid = sid, .addr = addr, .page_request = true,
        .is_read = read, .is_write = write,
        .pasid_present = pasid_present, .pasid = pr.pasid,
        .priv = pasid_present && priv, .exec = pasid_present && exec,
        .at = IOMMU_AT_UNTRANSLATED,
    };
    VtdPrqTarget t = { 0 };

    if (!(s->ecap & VTD_ECAP_PRS)) {
        vtd_prq_auto_respond(s, &pr, VTD_PRG_RC_FAILURE);
        return false;
    }
    if (!s->dmar_enabled) {
        vtd_prq_auto_respond(s, &pr, VTD_PRG_RC_INVALID_REQUEST);
        return false;
    }
    f.reason = vtd_prq_check_tables(s, &pr, &f, &t);
    if (f.reason != VTD_FR_NONE) {
        vtd_fault_report(s, &f);
        vtd_prq_auto_respond(s, &pr, VTD_PRG_RC_INVALID_REQUEST);
        return false;
    }
    if (vtd_get32(s, DMAR_PRS_REG) & VTD_PRS_PRO) {
        /* Overflowed earlier: dropped until software clears PRO. */
        vtd_prq_auto_respond(s, &pr, VTD_PRG_RC_SUCCESS);
        return false;
    }
    if (!vtd_prq_enqueue(s, &pr, &t)) {
        vtd_prq_set_status(s, VTD_PRS_PRO);
        vtd_prq_auto_respond(s, &pr, VTD_PRG_RC_SUCCESS);
        return false;
    }
    return true;
}

/*
 * Type 9 descriptor: software's answer to a page request group. The device
 * sees RID, PASID (when PP), PRGI and the response code; LPIG changes
 * nothing on the device side of this model.
 */
void vtd_prq_page_group_response(VtdState *s, const VtdInvalidation *inv)
{
    bool pp = inv->pp && inv->pasid != IOMMU_NO_PASID;

    vtd_prq_respond(s, inv->sid, pp ? inv->pasid & VTD_PASID_MASK : 0, pp,
                    inv->prgi, inv->rc);
}
