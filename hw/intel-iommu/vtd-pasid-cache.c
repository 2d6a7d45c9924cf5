/*
 * PASID cache: decoded, valid PASID-table entries keyed by (SID, PASID) —
 * the PASID directory is per context, so the SID is part of the key — and
 * tagged with the entry's DID for pc invalidations (facts §8.2).
 */
#include "hw/intel-iommu/vtd-cache.h"
#include "hw/intel-iommu/vtd-slot-cache.h"

#define VTD_PASID_CACHE_SIZE  1024

struct VtdPasidCache {
    VtdSlotCache *slots;
};

static inline uint64_t vtd_pasid_key(uint16_t sid, uint32_t pasid)
{
    return ((uint64_t)sid << 32) | pasid;
}

bool vtd_pasid_cache_create(VtdState *s)
{
    s->pasid_cache = g_new0(VtdPasidCache, 1);
    s->pasid_cache->slots = vtd_slot_cache_new(VTD_PASID_CACHE_SIZE,
                                               sizeof(VtdPasidCacheEntry));
    return true;
}

void vtd_pasid_cache_destroy(VtdState *s)
{
    if (s->pasid_cache) {
        vtd_slot_cache_free(s->pasid_cache->slots);
        g_free(s->pasid_cache);
        s->pasid_cache = NULL;
    }
}

const VtdPasidCacheEntry *vtd_pasid_cache_lookup(VtdState *s, uint16_t sid,
                                                 uint32_t pasid)
{
    const VtdPasidCacheEntry *e =
        vtd_slot_cache_lookup(s->pasid_cache->slots, vtd_pasid_key(sid, pasid));

    if (e) {
        s->stats.pasid_hits++;
    } else {
        s->stats.pasid_misses++;
    }
    return e;
}

void vtd_pasid_cache_insert(VtdState *s, uint16_t sid, uint32_t pasid,
                            const VtdPasidCacheEntry *e)
{
    vtd_slot_cache_insert(s->pasid_cache->slots, vtd_pasid_key(sid, pasid), e);
}

unsigned vtd_pasid_cache_count(const VtdState *s)
{
    return s->pasid_cache ? s->pasid_cache->slots->count : 0;
}

typedef struct VtdPasidSel {
    uint16_t did;
    uint32_t pasid;
    bool by_pasid;
    uint16_t sid, sid_mask;
} VtdPasidSel;

void vtd_pasid_cache_invalidate_all(VtdState *s)
{
    if (s->pasid_cache) {
        vtd_slot_cache_remove_if(s->pasid_cache->slots, NULL, NULL);
    }
}

static bool vtd_pasid_match(uint64_t key, const void *payload, const void *arg)
{
    const VtdPasidCacheEntry *e = payload;
    const VtdPasidSel *sel = arg;

    return e->pe.did == sel->did &&
           (!sel->by_pasid || (uint32_t)key == sel->pasid);
}

void vtd_pasid_cache_invalidate_domain(VtdState *s, uint16_t did)
{
    VtdPasidSel sel = { .did = did };
    vtd_slot_cache_remove_if(s->pasid_cache->slots, vtd_pasid_match, &sel);
}

void vtd_pasid_cache_invalidate_pasid(VtdState *s, uint16_t did, uint32_t pasid)
{
    VtdPasidSel sel = { .did = did, .pasid = pasid, .by_pasid = true };
    vtd_slot_cache_remove_if(s->pasid_cache->slots, vtd_pasid_match, &sel);
}

static bool vtd_pasid_match_sid(uint64_t key, const void *payload,
                                const void *arg)
{
    const VtdPasidSel *sel = arg;
    uint16_t sid = (uint16_t)(key >> 32);
    return (sid & sel->sid_mask) == (sel->sid & sel->sid_mask);
}

void vtd_pasid_cache_invalidate_sid(VtdState *s, uint16_t sid, uint16_t sid_mask)
{
    VtdPasidSel sel = { .sid = sid, .sid_mask = sid_mask };
    vtd_slot_cache_remove_if(s->pasid_cache->slots, vtd_pasid_match_sid, &sel);
}
