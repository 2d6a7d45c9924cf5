/*
 * Context cache: decoded, valid context entries by SID (the root entry is
 * folded in). Legacy entries carry their DID for domain-selective
 * invalidation; scalable entries are not DID-tagged, so a domain-selective
 * invalidation drops them all (facts §8.2). Bounded like the IOTLB.
 */
#include "hw/intel-iommu/vtd-cache.h"
#include "hw/intel-iommu/vtd-slot-cache.h"

#define VTD_CTX_CACHE_SIZE  1024

struct VtdContextCache {
    VtdSlotCache *slots;
};

/*
 * Context changes also make the PASID entries found through them stale;
 * dropping those here too is allowed ("an implementation may always drop
 * more") and protects guests that skip the PASID-cache step.
 */
typedef struct VtdCtxSel {
    uint16_t sid, sid_mask;
    uint16_t did;
} VtdCtxSel;

bool vtd_ctx_cache_create(VtdState *s)
{
    s->ctx_cache = g_new0(VtdContextCache, 1);
    s->ctx_cache->slots = vtd_slot_cache_new(VTD_CTX_CACHE_SIZE,
                                             sizeof(VtdCtxCacheEntry));
    return true;
}

void vtd_ctx_cache_destroy(VtdState *s)
{
    if (s->ctx_cache) {
        vtd_slot_cache_free(s->ctx_cache->slots);
        g_free(s->ctx_cache);
        s->ctx_cache = NULL;
    }
}

const VtdCtxCacheEntry *vtd_ctx_cache_lookup(VtdState *s, uint16_t sid)
{
    const VtdCtxCacheEntry *e = vtd_slot_cache_lookup(s->ctx_cache->slots, sid);

    if (e) {
        s->stats.ctx_hits++;
    } else {
        s->stats.ctx_misses++;
    }
    return e;
}

void vtd_ctx_cache_insert(VtdState *s, uint16_t sid, const VtdCtxCacheEntry *e)
{
    vtd_slot_cache_insert(s->ctx_cache->slots, sid, e);
}

unsigned vtd_ctx_cache_count(const VtdState *s)
{
    return s->ctx_cache ? s->ctx_cache->slots->count : 0;
}

void vtd_ctx_cache_invalidate_all(VtdState *s)
{
    if (s->ctx_cache) {
        vtd_slot_cache_remove_if(s->ctx_cache->slots, NULL, NULL);
    }
    vtd_pasid_cache_invalidate_all(s);
}

static bool vtd_ctx_match_domain(uint64_t key, const void *payload,
                                 const void *arg)
{
    const VtdCtxCacheEntry *e = payload;
    const VtdCtxSel *sel = arg;
    return e->scalable || e->legacy.did == sel->did;
}

void vtd_ctx_cache_invalidate_domain(VtdState *s, uint16_t did)
{
    VtdCtxSel sel = { .did = did };
    vtd_slot_cache_remove_if(s->ctx_cache->slots, vtd_ctx_match_domain, &sel);
    vtd_pasid_cache_invalidate_all(s);
}

static bool vtd_ctx_match_device(uint64_t key, const void *payload,
                                 const void *arg)
{
    const VtdCtxSel *sel = arg;
    return ((uint16_t)key & sel->sid_mask) == (sel->sid & sel->sid_mask);
}

void vtd_ctx_cache_invalidate_device(VtdState *s, uint16_t sid, unsigned fm)
{
    VtdCtxSel sel = { .sid = sid, .sid_mask = vtd_fm_sid_mask(fm) };

    vtd_slot_cache_remove_if(s->ctx_cache->slots, vtd_ctx_match_device, &sel);
    vtd_pasid_cache_invalidate_sid(s, sid, sel.sid_mask);
}
