/*
 * The unit's translation caches and their invalidation entry points (VT-d
 * spec §6.5, vtd-spec-facts.md §8). Register-based invalidation, the
 * invalidation queue and commands (SRTP, TE) call only these.
 */
#ifndef VTD_CACHE_H
#define VTD_CACHE_H

#include "hw/intel-iommu/vtd-internal.h"

bool vtd_caches_init(VtdState *s);
void vtd_caches_destroy(VtdState *s);

/* Context cache (tags: SID; legacy entries also carry the DID). */
void vtd_ctx_cache_invalidate_all(VtdState *s);
void vtd_ctx_cache_invalidate_domain(VtdState *s, uint16_t did);
/* fm: function mask 0..3 (ignore SID bits 2, 2:1, 2:0). */
void vtd_ctx_cache_invalidate_device(VtdState *s, uint16_t sid, unsigned fm);

/* PASID cache (tags: DID, PASID). */
void vtd_pasid_cache_invalidate_all(VtdState *s);
void vtd_pasid_cache_invalidate_domain(VtdState *s, uint16_t did);
void vtd_pasid_cache_invalidate_pasid(VtdState *s, uint16_t did, uint32_t pasid);

/* IOTLB and paging-structure caches. */
void vtd_iotlb_invalidate_all(VtdState *s);
void vtd_iotlb_invalidate_domain(VtdState *s, uint16_t did);
/* Inclusive input range of a page-selective invalidation: 2^AM pages from
 * ADDR with its low AM page bits ignored; AM beyond the address width (type
 * 6 accepts any) covers everything. */
static inline void vtd_inval_page_range(uint64_t addr, unsigned am,
                                        uint64_t *start, uint64_t *last)
{
    uint64_t size;

    if (am >= 52) {
        *start = 0;
        *last = UINT64_MAX;
        return;
    }
    size = 1ULL << (12 + am);
    *start = addr & ~(size - 1);
    *last = *start + (size - 1);
}
/* Type-2 descriptor / IVA register page-selective: spec §8.2 rules per mode. */
void vtd_iotlb_invalidate_page(VtdState *s, uint16_t did, uint64_t addr,
                               unsigned am, bool ih);
/* Type-6 descriptor. */
void vtd_iotlb_invalidate_pasid(VtdState *s, uint16_t did, uint32_t pasid);
void vtd_iotlb_invalidate_pasid_page(VtdState *s, uint16_t did, uint32_t pasid,
                                     uint64_t addr, unsigned am, bool ih);

/* Number of live entries (tests). */
unsigned vtd_iotlb_count(const VtdState *s);

/* ---- Lookup and fill, used by the translation pipeline (vtd-translate.c).
 * Only successful translations and valid
 * entries are ever inserted (faults are never cached, so CM=1 never sees a
 * negative first-stage result cached either: facts §8.6). ---------------- */
#include "hw/intel-iommu/vtd-tables.h"

/* One cached translation. Lookup tag: SID, request PASID, input page. */
typedef struct VtdIotlbEntry {
    uint64_t vpn;           /* input address >> page shift of level */
    uint64_t out_base;      /* output page base */
    uint32_t pasid;         /* request PASID, IOMMU_NO_PASID if none */
    uint32_t eff_pasid;     /* PASID used (RID_PASID for no-PASID requests in
                               scalable mode; IOMMU_NO_PASID in legacy) */
    uint16_t sid;
    uint16_t did;
    uint8_t level;          /* 1 = 4K, 2 = 2M, 3 = 1G */
    uint8_t pgtt;           /* VTD_PGTT_*; legacy entries use VTD_PGTT_SS */
    uint8_t perm[2];        /* granted IommuAccess bits, [0] user, [1] supervisor */
    bool user;              /* ATS U bit */
    bool dirty_ok;          /* writes need no A/D update walk */
    bool priv_eff;          /* no-PASID requests: effective PR (RID_PRIV) */
    /* Table bookkeeping. */
    bool valid;
    bool ref;
    int32_t next;
} VtdIotlbEntry;

/* size - 1 of a page of an entry's level. */
static inline uint64_t vtd_iotlb_level_mask(unsigned level)
{
    return (1ULL << (12 + 9 * (level - 1))) - 1;
}

/* Entry covering addr for (sid, pasid), or NULL. The caller counts
 * stats.iotlb_hits/misses, since it may still reject the entry. */
const VtdIotlbEntry *vtd_iotlb_lookup(VtdState *s, uint16_t sid, uint32_t pasid,
                                      uint64_t addr);
/* Insert (or replace) a translation; the caller fills vpn and out_base
 * for the entry's level. */
void vtd_iotlb_insert(VtdState *s, const VtdIotlbEntry *e);

typedef struct VtdCtxCacheEntry {
    bool scalable;
    VtdLegacyContext legacy;
    VtdSmContext sm;
} VtdCtxCacheEntry;

const VtdCtxCacheEntry *vtd_ctx_cache_lookup(VtdState *s, uint16_t sid);
void vtd_ctx_cache_insert(VtdState *s, uint16_t sid, const VtdCtxCacheEntry *e);
unsigned vtd_ctx_cache_count(const VtdState *s);

typedef struct VtdPasidCacheEntry {
    VtdPasidEntry pe;
    bool fpd;               /* PASID-directory or PASID-table entry FPD */
} VtdPasidCacheEntry;

const VtdPasidCacheEntry *vtd_pasid_cache_lookup(VtdState *s, uint16_t sid,
                                                 uint32_t pasid);
void vtd_pasid_cache_insert(VtdState *s, uint16_t sid, uint32_t pasid,
                            const VtdPasidCacheEntry *e);
unsigned vtd_pasid_cache_count(const VtdState *s);
/* Entries of SIDs equal to sid under sid_mask (context invalidation). */
void vtd_pasid_cache_invalidate_sid(VtdState *s, uint16_t sid, uint16_t sid_mask);

/* Per-cache lifetime, called by vtd_caches_init/destroy. */
bool vtd_ctx_cache_create(VtdState *s);
void vtd_ctx_cache_destroy(VtdState *s);
bool vtd_pasid_cache_create(VtdState *s);
void vtd_pasid_cache_destroy(VtdState *s);

#endif
