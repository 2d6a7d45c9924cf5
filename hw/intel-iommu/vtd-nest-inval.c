/*
 * Guest invalidations, as seen by the nesting code (a vtd-inval listener).
 *
 * IOTLB kinds reach the host's first-stage caches: each is turned into
 * struct iommu_hwpt_vtd_s1_invalidate entries queued on every nested HWPT
 * whose DID (and PASID) it names, and each HWPT gets ONE IOMMU_HWPT_INVALIDATE
 * call with its whole queue at the next wait descriptor (sync). A host error
 * or a short count fails the sync, which the unit reports to the guest.
 *
 * Context- and PASID-cache invalidations are not forwarded: they make the
 * shadows re-read the guest entries they name (vtd-nest-pasid.c), with work
 * proportional to what they name.
 */
#include <errno.h>

#include "hw/intel-iommu/vtd-nesting.h"

/* Past this many entries a queue becomes one whole-space flush. */
#define VTD_NEST_MAX_QUEUED 256

void vtd_nest_shadow_drop_pending(VtdNestShadow *sh)
{
    g_array_set_size(sh->pending, 0);
    sh->pending_all = false;
}

void vtd_nest_foreach_shadow(VtdNesting *n, VtdNestShadowFn fn, void *opaque)
{
    for (GList *l = n->devs; l; l = l->next) {
        VtdNestDev *d = l->data;
        GList *vals;

        if (d->rid) {
            fn(d->rid, opaque);
        }
        vals = g_hash_table_get_values(d->pasids);
        for (GList *v = vals; v; v = v->next) {
            fn(v->data, opaque);
        }
        g_list_free(vals);
    }
}

/* ---- Queueing ----------------------------------------------------------- */

static void queue_all(VtdNestShadow *sh)
{
    struct iommu_hwpt_vtd_s1_invalidate e = { .addr = 0, .npages = UINT64_MAX };

    if (sh->pending_all) {
        return;
    }
    /* A whole-space flush makes everything queued before it redundant. */
    g_array_set_size(sh->pending, 0);
    g_array_append_val(sh->pending, e);
    sh->pending_all = true;
}

static void queue_range(VtdNestShadow *sh, uint64_t addr, unsigned am, bool ih)
{
    struct iommu_hwpt_vtd_s1_invalidate e = {
        .addr = addr & ~0xfffULL,
        .npages = am >= 52 ? UINT64_MAX : 1ULL << am,
        .flags = ih ? IOMMU_VTD_INV_FLAGS_LEAF : 0,
    };

    if (sh->pending_all) {
        return;
    }
    if (e.npages == UINT64_MAX || sh->pending->len >= VTD_NEST_MAX_QUEUED) {
        queue_all(sh);
        return;
    }
    g_array_append_val(sh->pending, e);
}

typedef struct Match {
    const VtdInvalidation *inv;
    bool any_did;           /* global */
    bool pasid;             /* the PASID must match too */
    bool page;              /* queue a range, not everything */
} Match;

static void queue_if_match(VtdNestShadow *sh, void *opaque)
{
    const Match *m = opaque;

    if (sh->kind != VTD_SHADOW_NESTED) {
        return;     /* stage 2 is GPA: nothing the guest caches there */
    }
    if (!m->any_did && sh->did != m->inv->did) {
        return;
    }
    if (m->pasid && sh->pasid != m->inv->pasid) {
        return;
    }
    if (m->page) {
        queue_range(sh, m->inv->addr, m->inv->am, m->inv->ih);
    } else {
        queue_all(sh);
    }
}

static void forward_iotlb(VtdNesting *n, const VtdInvalidation *inv)
{
    Match m = { .inv = inv };

    if (inv->kind == VTD_INVAL_PASID_IOTLB) {
        m.pasid = true;
        m.page = inv->gran == VTD_INVAL_GRAN_PAGE;
    } else {
        /* Type 2 in scalable mode: global, domain, and page-selective all
         * drop every first-stage entry of the DID (facts §8.2). */
        m.any_did = inv->gran == VTD_INVAL_GRAN_GLOBAL;
    }
    vtd_nest_foreach_shadow(n, queue_if_match, &m);
}

/* ---- Re-evaluation ------------------------------------------------------ */

static void refresh_all(VtdNesting *n, bool scan)
{
    for (GList *l = n->devs; l; l = l->next) {
        vtd_nest_dev_refresh(l->data, scan);
    }
}

/* The shadow of (d, pasid), if any: the RID one answers to RID_PASID. */
static VtdNestShadow *shadow_of(VtdNestDev *d, uint32_t pasid)
{
    if (d->rid && d->rid->pasid == pasid) {
        return d->rid;
    }
    return g_hash_table_lookup(d->pasids, GUINT_TO_POINTER(pasid));
}

static void pasid_cache(VtdNesting *n, const VtdInvalidation *inv)
{
    switch (inv->gran) {
    case VTD_INVAL_GRAN_PASID:
        for (GList *l = n->devs; l; l = l->next) {
            VtdNestShadow *sh = shadow_of(l->data, inv->pasid);

            /* An entry shadowed under another DID is not named; an entry
             * not shadowed yet may be the one just written. */
            if (sh && sh->kind == VTD_SHADOW_NESTED && sh->did != inv->did) {
                continue;
            }
            vtd_nest_dev_refresh_pasid(l->data, inv->pasid);
        }
        break;
    case VTD_INVAL_GRAN_DOMAIN:
        for (GList *l = n->devs; l; l = l->next) {
            VtdNestDev *d = l->data;
            GList *keys = g_hash_table_get_keys(d->pasids);

            /* RID_PASID always (its DID may be new), others of that DID. */
            if (d->rid) {
                vtd_nest_dev_refresh_pasid(d, d->rid->pasid);
            }
            for (GList *k = keys; k; k = k->next) {
                VtdNestShadow *sh = g_hash_table_lookup(d->pasids, k->data);

                if (sh && (sh->kind != VTD_SHADOW_NESTED || sh->did == inv->did)) {
                    vtd_nest_dev_refresh_pasid(d, GPOINTER_TO_UINT(k->data));
                }
            }
            g_list_free(keys);
        }
        break;
    default:
        refresh_all(n, true);
        break;
    }
}

static void context_cache(VtdNesting *n, const VtdInvalidation *inv)
{
    if (inv->gran != VTD_INVAL_GRAN_DEVICE) {
        refresh_all(n, true);   /* domain acts as global in scalable mode */
        return;
    }
    for (GList *l = n->devs; l; l = l->next) {
        VtdNestDev *d = l->data;

        if (!((d->hd->guest_sid ^ inv->sid) & vtd_fm_sid_mask(inv->fm))) {
            vtd_nest_dev_refresh(d, true);
        }
    }
}

static void nest_invalidate(void *opaque, VtdState *s, const VtdInvalidation *inv)
{
    VtdNesting *n = opaque;

    switch (inv->kind) {
    case VTD_INVAL_IOTLB:
    case VTD_INVAL_PASID_IOTLB:
        forward_iotlb(n, inv);
        vtd_nest_ss_invalidate(n, inv);     /* SS shadow domains: type 2 only */
        break;
    case VTD_INVAL_PASID_CACHE:
        pasid_cache(n, inv);
        break;
    case VTD_INVAL_CONTEXT:
        context_cache(n, inv);
        break;
    default:
        break;      /* device-TLB: the host flushes it with the IOTLB */
    }
}

/* ---- Sync: one host call per nested HWPT -------------------------------- */

typedef struct Flush {
    VtdNesting *n;
    GError *first;
} Flush;

static void flush_one(VtdNestShadow *sh, void *opaque)
{
    Flush *f = opaque;
    uint32_t done = 0, num = sh->pending->len;
    GError *err = NULL;

    if (!num) {
        return;
    }
    if (sh->kind != VTD_SHADOW_NESTED) {
        vtd_nest_shadow_drop_pending(sh);
        return;
    }
    f->n->host_inval_calls++;
    f->n->host_inval_entries += num;
    if (!iommufd_backend_invalidate(sh->dev->hd->be, sh->nested_id,
                                    (const void *)sh->pending->data, num,
                                    &done, &err) ||
        done != num) {
        if (!err) {
            g_set_error(&err, IOMMUFD_ERROR, EIO,
                        "IOMMU_HWPT_INVALIDATE hwpt %u: host handled %u of %u "
                        "entries", sh->nested_id, done, num);
        }
        g_prefix_error(&err, "%s: PASID %u: host IOTLB invalidation failed: ",
                       sh->dev->hd->name, sh->pasid);
        g_warning("nesting: %s", err->message);
        if (!f->first) {
            f->first = err;
        } else {
            g_error_free(err);
        }
    }
    vtd_nest_shadow_drop_pending(sh);
}

static bool nest_sync(void *opaque, VtdState *s, GError **errp)
{
    VtdNesting *n = opaque;
    Flush f = { .n = n };

    n->syncs++;
    for (GList *l = n->devs; l; l = l->next) {
        vtd_nest_dev_retry_orphans(l->data);
    }
    vtd_nest_foreach_shadow(n, flush_one, &f);
    if (n->deferred) {
        /* A shadow update failed earlier in this batch: that comes first. */
        if (f.first) {
            g_error_free(f.first);
        }
        f.first = n->deferred;
        n->deferred = NULL;
    }
    if (f.first) {
        g_propagate_error(errp, f.first);
        return false;
    }
    return true;
}

const VtdInvalListener vtd_nest_inval_listener = {
    .invalidate = nest_invalidate,
    .sync = nest_sync,
};
