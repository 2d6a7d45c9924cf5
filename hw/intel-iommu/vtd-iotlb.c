/*
 * The IOTLB: a bounded hash of translations keyed by (SID, request PASID,
 * page, page size), with CLOCK eviction. Lookup hashes three small integers
 * per page size and follows a short chain, with no allocation; sizes with
 * no live entry are skipped. Invalidations scan the (bounded) entry array and
 * apply the tag rules of vtd-spec-facts.md §8.2.
 */
#include "hw/intel-iommu/vtd-cache.h"
#include "hw/intel-iommu/vtd-nest-cache.h"  /* nest-perf: SS of FS tables */

#define VTD_IOTLB_DEFAULT_SIZE  1024
#define VTD_IOTLB_LEVELS        3       /* 4K, 2M, 1G */

struct VtdIotlb {
    VtdIotlbEntry *entries;
    unsigned cap;
    int32_t *buckets;       /* head entry index, -1 if empty */
    unsigned bucket_bits;
    unsigned hand;          /* CLOCK hand */
    unsigned count;
    unsigned level_count[VTD_IOTLB_LEVELS + 1];
    int32_t *free_slots;
    unsigned nfree;
};

static inline unsigned vtd_level_shift(unsigned level)
{
    return 12 + 9 * (level - 1);
}

static inline unsigned vtd_iotlb_hash(const VtdIotlb *t, uint64_t vpn,
                                      uint16_t sid, uint32_t pasid,
                                      unsigned level)
{
    uint64_t k = vpn ^ ((uint64_t)sid << 44) ^ ((uint64_t)pasid << 21) ^
                 ((uint64_t)level << 61);
    return (unsigned)((k * 0x9e3779b97f4a7c15ULL) >> (64 - t->bucket_bits));
}

static VtdIotlb *vtd_iotlb_new(unsigned cap)
{
    VtdIotlb *t = g_new0(VtdIotlb, 1);
    unsigned nb;

    t->cap = cap ? cap : VTD_IOTLB_DEFAULT_SIZE;
    t->bucket_bits = 4;
    while ((1u << t->bucket_bits) < 2 * t->cap && t->bucket_bits < 24) {
        t->bucket_bits++;
    }
    nb = 1u << t->bucket_bits;
    t->buckets = g_new(int32_t, nb);
    memset(t->buckets, 0xff, sizeof(int32_t) * nb);
    t->entries = g_new0(VtdIotlbEntry, t->cap);
    t->free_slots = g_new(int32_t, t->cap);
    for (unsigned i = 0; i < t->cap; i++) {
        t->free_slots[i] = (int32_t)(t->cap - 1 - i);
    }
    t->nfree = t->cap;
    return t;
}

static void vtd_iotlb_free(VtdIotlb *t)
{
    if (!t) {
        return;
    }
    g_free(t->buckets);
    g_free(t->entries);
    g_free(t->free_slots);
    g_free(t);
}

static void vtd_iotlb_remove(VtdIotlb *t, int32_t idx)
{
    VtdIotlbEntry *e = &t->entries[idx];
    int32_t *link = &t->buckets[vtd_iotlb_hash(t, e->vpn, e->sid, e->pasid,
                                               e->level)];

    while (*link != idx) {
        /* The entry is valid, so it is on its chain. */
        g_assert(*link >= 0);
        link = &t->entries[*link].next;
    }
    *link = e->next;
    e->valid = false;
    t->level_count[e->level]--;
    t->count--;
    t->free_slots[t->nfree++] = idx;
}

static int32_t vtd_iotlb_find(const VtdIotlb *t, uint64_t vpn, uint16_t sid,
                              uint32_t pasid, unsigned level)
{
    int32_t i = t->buckets[vtd_iotlb_hash(t, vpn, sid, pasid, level)];

    while (i >= 0) {
        const VtdIotlbEntry *e = &t->entries[i];
        if (e->vpn == vpn && e->sid == sid && e->pasid == pasid &&
            e->level == level) {
            return i;
        }
        i = e->next;
    }
    return -1;
}

const VtdIotlbEntry *vtd_iotlb_lookup(VtdState *s, uint16_t sid, uint32_t pasid,
                                      uint64_t addr)
{
    VtdIotlb *t = s->iotlb;

    for (unsigned level = 1; level <= VTD_IOTLB_LEVELS; level++) {
        if (!t->level_count[level]) {
            continue;
        }
        int32_t i = vtd_iotlb_find(t, addr >> vtd_level_shift(level), sid,
                                   pasid, level);
        if (i >= 0) {
            t->entries[i].ref = true;
            return &t->entries[i];
        }
    }
    return NULL;
}

static int32_t vtd_iotlb_alloc(VtdState *s)
{
    VtdIotlb *t = s->iotlb;

    if (!t->nfree) {
        /* CLOCK: evict the first entry not used since the hand last passed. */
        while (t->entries[t->hand].ref) {
            t->entries[t->hand].ref = false;
            t->hand = (t->hand + 1) % t->cap;
        }
        vtd_iotlb_remove(t, (int32_t)t->hand);
        t->hand = (t->hand + 1) % t->cap;
        s->stats.iotlb_evictions++;
    }
    return t->free_slots[--t->nfree];
}

void vtd_iotlb_insert(VtdState *s, const VtdIotlbEntry *src)
{
    VtdIotlb *t = s->iotlb;
    unsigned level = src->level;
    int32_t idx;
    unsigned b;

    if (level < 1 || level > VTD_IOTLB_LEVELS) {
        return;
    }
    idx = vtd_iotlb_find(t, src->vpn, src->sid, src->pasid, level);
    if (idx >= 0) {
        vtd_iotlb_remove(t, idx);
    }
    idx = vtd_iotlb_alloc(s);
    t->entries[idx] = *src;
    t->entries[idx].valid = true;
    t->entries[idx].ref = true;
    b = vtd_iotlb_hash(t, src->vpn, src->sid, src->pasid, level);
    t->entries[idx].next = t->buckets[b];
    t->buckets[b] = idx;
    t->level_count[level]++;
    t->count++;
}

unsigned vtd_iotlb_count(const VtdState *s)
{
    return s->iotlb ? s->iotlb->count : 0;
}

/* ---- Invalidation ------------------------------------------------------ */

typedef bool (*VtdIotlbMatch)(const VtdIotlbEntry *e, const void *arg);

static void vtd_iotlb_remove_if(VtdState *s, VtdIotlbMatch match,
                                const void *arg)
{
    VtdIotlb *t = s->iotlb;

    if (!t) {
        return;
    }
    for (unsigned i = 0; i < t->cap && t->count; i++) {
        if (t->entries[i].valid && (!match || match(&t->entries[i], arg))) {
            vtd_iotlb_remove(t, (int32_t)i);
        }
    }
}

typedef struct VtdIotlbSel {
    uint16_t did;
    uint32_t pasid;
    uint64_t start, last;   /* inclusive input range */
} VtdIotlbSel;

static bool vtd_pgtt_is_fs(unsigned pgtt)
{
    return pgtt == VTD_PGTT_FS || pgtt == VTD_PGTT_NESTED;
}

static bool vtd_iotlb_overlaps(const VtdIotlbEntry *e, const VtdIotlbSel *sel)
{
    unsigned shift = vtd_level_shift(e->level);
    uint64_t base = e->vpn << shift;
    uint64_t last = base + ((1ULL << shift) - 1);
    return base <= sel->last && last >= sel->start;
}

static void vtd_iotlb_sel_range(VtdIotlbSel *sel, uint64_t addr, unsigned am)
{
    /* 2^AM pages; the low AM bits of the page number are ignored. */
    uint64_t size;

    if (am >= 52) {             /* type 6 accepts any AM: the whole space */
        sel->start = 0;
        sel->last = UINT64_MAX;
        return;
    }
    size = 1ULL << (12 + am);
    sel->start = addr & ~(size - 1);
    sel->last = sel->start + (size - 1);
}

void vtd_iotlb_invalidate_all(VtdState *s)
{
    vtd_iotlb_remove_if(s, NULL, NULL);
    vtd_nest_ps_invalidate_all(s);
}

static bool vtd_match_did(const VtdIotlbEntry *e, const void *arg)
{
    return e->did == ((const VtdIotlbSel *)arg)->did;
}

void vtd_iotlb_invalidate_domain(VtdState *s, uint16_t did)
{
    VtdIotlbSel sel = { .did = did };
    vtd_iotlb_remove_if(s, vtd_match_did, &sel);
    vtd_nest_ps_invalidate_domain(s, did);
}

/*
 * Type-2 / IVA page-selective: SS and PT entries of the DID in the range; in
 * scalable mode every FS/nested entry of the DID whatever its address (their
 * input is a first-stage address the descriptor does not name). Legacy
 * entries are all SS. IH only lets paging-structure caches survive; leaf
 * IOTLB entries always go (the only paging-structure-like cache, the SS
 * translations of FS tables in vtd-nest-cache.c, holds SS leaves: it goes
 * too).
 */
static bool vtd_match_page(const VtdIotlbEntry *e, const void *arg)
{
    const VtdIotlbSel *sel = arg;
    if (e->did != sel->did) {
        return false;
    }
    return vtd_pgtt_is_fs(e->pgtt) || vtd_iotlb_overlaps(e, sel);
}

void vtd_iotlb_invalidate_page(VtdState *s, uint16_t did, uint64_t addr,
                               unsigned am, bool ih)
{
    VtdIotlbSel sel = { .did = did };

    (void)ih;
    vtd_iotlb_sel_range(&sel, addr, am);
    vtd_iotlb_remove_if(s, vtd_match_page, &sel);
    /* SS translations of FS tables are SS leaves: IH does not keep them. */
    vtd_nest_ps_invalidate_range(s, did, addr, am);
}

/* Type-6 PASID-selective: every PGTT of DID+PASID. */
static bool vtd_match_pasid(const VtdIotlbEntry *e, const void *arg)
{
    const VtdIotlbSel *sel = arg;
    return e->did == sel->did && e->eff_pasid == sel->pasid;
}

void vtd_iotlb_invalidate_pasid(VtdState *s, uint16_t did, uint32_t pasid)
{
    VtdIotlbSel sel = { .did = did, .pasid = pasid };
    vtd_iotlb_remove_if(s, vtd_match_pasid, &sel);
}

/* Type-6 page-selective: only FS/nested entries of DID+PASID in range. */
static bool vtd_match_pasid_page(const VtdIotlbEntry *e, const void *arg)
{
    return vtd_pgtt_is_fs(e->pgtt) && vtd_match_pasid(e, arg) &&
           vtd_iotlb_overlaps(e, arg);
}

void vtd_iotlb_invalidate_pasid_page(VtdState *s, uint16_t did, uint32_t pasid,
                                     uint64_t addr, unsigned am, bool ih)
{
    VtdIotlbSel sel = { .did = did, .pasid = pasid };

    (void)ih;
    vtd_iotlb_sel_range(&sel, addr, am);
    vtd_iotlb_remove_if(s, vtd_match_pasid_page, &sel);
}

/* ---- Lifetime of all three caches ------------------------------------- */

bool vtd_caches_init(VtdState *s)
{
    s->iotlb = vtd_iotlb_new(s->cfg.iotlb_size);
    return vtd_ctx_cache_create(s) && vtd_pasid_cache_create(s);
}

void vtd_caches_destroy(VtdState *s)
{
    vtd_iotlb_free(s->iotlb);
    s->iotlb = NULL;
    vtd_ctx_cache_destroy(s);
    vtd_pasid_cache_destroy(s);
}
