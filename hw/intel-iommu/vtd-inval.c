/*
 * The one place where invalidations take effect (see vtd-inval.h): the
 * unit's caches drop what vtd-spec-facts.md §8.2 requires (the rules per
 * mode live in the caches, vtd-cache.h), device-TLB invalidations and page
 * group responses go to the device side, then every listener hears of it.
 *
 * Sync failures. A listener (e.g. forwarding to a host IOMMU) that cannot
 * complete a batch makes the unit report an Invalidation Completion Error:
 * FSTS.ICE with IQERCD.ICESID = 0 ("not provided": the failure belongs to
 * the batch, not to one requester), and processing continues. We chose ICE
 * over IQE because the wait descriptor itself is valid: IQE would leave the
 * head on a correct descriptor, and guests recover from IQE by rewriting the
 * descriptor at the head (Linux only when the head is the first descriptor
 * of its submission), so they would spin forever on a wait that never
 * completes. ICE is the status the spec keeps for "an invalidation did not
 * complete properly" while the queue keeps running; software sees it in
 * FSTS with a fault event, and the wait still completes.
 */
#include "hw/intel-iommu/vtd-inval.h"
#include "hw/intel-iommu/vtd-cache.h"

G_DEFINE_QUARK(vtd-inval-error-quark, vtd_inval_error)

/* ---- Listeners ---------------------------------------------------------- */

bool vtd_inval_add_listener(VtdState *s, const VtdInvalListener *l,
                            void *opaque, GError **errp)
{
    VtdInvalListenerSlot *free_slot = NULL;

    for (unsigned i = 0; i < VTD_INVAL_LISTENER_SLOTS; i++) {
        VtdInvalListenerSlot *slot = &s->inval_listeners[i];

        if (slot->l == l && slot->opaque == opaque) {
            g_set_error(errp, VTD_INVAL_ERROR, VTD_INVAL_ERROR_EXISTS,
                        "invalidation listener %p/%p is already registered",
                        (const void *)l, opaque);
            return false;
        }
        if (!slot->l && !free_slot) {
            free_slot = slot;
        }
    }
    if (!free_slot) {
        g_set_error(errp, VTD_INVAL_ERROR, VTD_INVAL_ERROR_FULL,
                    "no room for another invalidation listener "
                    "(at most %d per unit)", VTD_INVAL_LISTENER_SLOTS);
        return false;
    }
    free_slot->l = l;
    free_slot->opaque = opaque;
    return true;
}

void vtd_inval_remove_listener(VtdState *s, const VtdInvalListener *l,
                               void *opaque)
{
    for (unsigned i = 0; i < VTD_INVAL_LISTENER_SLOTS; i++) {
        VtdInvalListenerSlot *slot = &s->inval_listeners[i];

        if (slot->l == l && slot->opaque == opaque) {
            slot->l = NULL;
            slot->opaque = NULL;
        }
    }
}

static void vtd_inval_notify(VtdState *s, const VtdInvalidation *inv)
{
    for (unsigned i = 0; i < VTD_INVAL_LISTENER_SLOTS; i++) {
        const VtdInvalListenerSlot *slot = &s->inval_listeners[i];

        if (slot->l && slot->l->invalidate) {
            slot->l->invalidate(slot->opaque, s, inv);
        }
    }
}

bool vtd_inval_sync(VtdState *s, GError **errp)
{
    GError *first = NULL;

    for (unsigned i = 0; i < VTD_INVAL_LISTENER_SLOTS; i++) {
        const VtdInvalListenerSlot *slot = &s->inval_listeners[i];
        GError *err = NULL;

        if (!slot->l || !slot->l->sync) {
            continue;
        }
        if (!slot->l->sync(slot->opaque, s, &err)) {
            if (!err) {
                err = g_error_new(VTD_INVAL_ERROR, VTD_INVAL_ERROR_SYNC,
                                  "invalidation listener %p failed to sync",
                                  (const void *)slot->l);
            }
            if (first) {
                g_error_free(err);   /* keep the first, as documented */
            } else {
                first = err;
            }
        }
    }
    if (first) {
        g_propagate_error(errp, first);
        return false;
    }
    return true;
}

void vtd_inval_report_ice(VtdState *s, uint16_t sid)
{
    /* ICESID is valid while ICE=1: keep the first one until software
     * clears ICE. */
    if (!(vtd_get32(s, DMAR_FSTS_REG) & VTD_FSTS_ICE)) {
        vtd_set_clear64(s, DMAR_IQERCD_REG, VTD_MASK(63, 48),
                        (uint64_t)sid << VTD_IQERCD_ICESID_SHIFT);
    }
    vtd_fault_set_status(s, VTD_FSTS_ICE);
}

void vtd_inval_sync_or_report(VtdState *s)
{
    GError *err = NULL;

    if (!vtd_inval_sync(s, &err)) {
        g_warning("vtd: invalidation did not complete, reporting ICE: %s",
                  err->message);
        g_error_free(err);
        vtd_inval_report_ice(s, 0);
    }
}

/* ---- The unit's own caches ---------------------------------------------- */

static void vtd_inval_context(VtdState *s, const VtdInvalidation *inv)
{
    switch (inv->gran) {
    case VTD_INVAL_GRAN_DOMAIN:
        vtd_ctx_cache_invalidate_domain(s, inv->did);
        break;
    case VTD_INVAL_GRAN_DEVICE:
        vtd_ctx_cache_invalidate_device(s, inv->sid, inv->fm);
        break;
    default:
        vtd_ctx_cache_invalidate_all(s);
        break;
    }
}

static void vtd_inval_iotlb(VtdState *s, const VtdInvalidation *inv)
{
    switch (inv->gran) {
    case VTD_INVAL_GRAN_DOMAIN:
        vtd_iotlb_invalidate_domain(s, inv->did);
        break;
    case VTD_INVAL_GRAN_PAGE:
        vtd_iotlb_invalidate_page(s, inv->did, inv->addr, inv->am, inv->ih);
        break;
    default:
        vtd_iotlb_invalidate_all(s);
        break;
    }
}

static void vtd_inval_pasid_iotlb(VtdState *s, const VtdInvalidation *inv)
{
    if (inv->gran == VTD_INVAL_GRAN_PAGE) {
        vtd_iotlb_invalidate_pasid_page(s, inv->did, inv->pasid, inv->addr,
                                        inv->am, inv->ih);
    } else {
        vtd_iotlb_invalidate_pasid(s, inv->did, inv->pasid);
    }
}

static void vtd_inval_pasid_cache(VtdState *s, const VtdInvalidation *inv)
{
    switch (inv->gran) {
    case VTD_INVAL_GRAN_DOMAIN:
        vtd_pasid_cache_invalidate_domain(s, inv->did);
        break;
    case VTD_INVAL_GRAN_PASID:
        vtd_pasid_cache_invalidate_pasid(s, inv->did, inv->pasid);
        break;
    default:
        vtd_pasid_cache_invalidate_all(s);
        break;
    }
}

/* Device-TLB kinds: the unit caches nothing for them; the device does. */
static bool vtd_inval_devtlb(VtdState *s, const VtdInvalidation *inv)
{
    uint32_t pasid = inv->kind == VTD_INVAL_DEVTLB ? IOMMU_NO_PASID
                                                   : inv->pasid;

    return vtd_devtlb_invalidate(s, inv->sid, pasid, inv->gi,
                                 inv->devtlb_base, inv->devtlb_size);
}

bool vtd_inval_dispatch(VtdState *s, const VtdInvalidation *inv)
{
    bool completed = true;

    switch (inv->kind) {
    case VTD_INVAL_CONTEXT:
        vtd_inval_context(s, inv);
        break;
    case VTD_INVAL_IOTLB:
        vtd_inval_iotlb(s, inv);
        break;
    case VTD_INVAL_PASID_IOTLB:
        vtd_inval_pasid_iotlb(s, inv);
        break;
    case VTD_INVAL_PASID_CACHE:
        vtd_inval_pasid_cache(s, inv);
        break;
    case VTD_INVAL_IEC:
        vtd_iec_invalidate(s, inv->gran == VTD_INVAL_GRAN_GLOBAL, inv->iidx,
                           inv->im);
        break;
    case VTD_INVAL_DEVTLB:
    case VTD_INVAL_PASID_DEVTLB:
        completed = vtd_inval_devtlb(s, inv);
        break;
    case VTD_INVAL_PAGE_RESPONSE:
        vtd_prq_page_group_response(s, inv);
        break;
    }
    vtd_inval_notify(s, inv);
    return completed;
}
