/*
 * The IOTLB: a bounded hash of translations keyed by (SID, request PASID,
 * page, page size), with CLOCK eviction. Lookup hashes three small integers
 * per page size and follows a short chain, with no allocation; sizes with
 * no live entry are skipped.
 *
 * Invalidations apply the tag rules of vtd-spec-facts.md §8.2 without
 * scanning the table: every entry is also on
 *  - a per-domain list, one for FS/nested entries and one for SS/PT entries
 *    of each DID bucket (DID modulo a power of two, so unrelated DIDs rarely
 *    share a list), which domain-, PASID- and large page-selective
 *    invalidations walk; and
 *  - a page chain keyed by (DID, page, page size, FS or not), which small
 *    page-selective invalidations probe once per page of the range at each
 *    page size in use.
 * Both are intrusive doubly-linked lists in an array parallel to the entries
 * (kept apart so the lookup path touches no extra memory), preallocated with
 * the table: inserting never allocates.
 */
#include "hw/intel-iommu/vtd-cache.h"
#include "hw/intel-iommu/vtd-nest-cache.h"  /* SS of FS tables */

#define VTD_IOTLB_DEFAULT_SIZE  1024
#define VTD_IOTLB_LEVELS        3       /* 4K, 2M, 1G */
#define VTD_IOTLB_MAX_DOM_BITS  16      /* DIDs are 16 bits */

/* Per-domain list classes: what type-2 and type-6 page-selective
 * invalidations treat differently. */
enum { VTD_CLASS_SS, VTD_CLASS_FS, VTD_CLASSES };

/* Invalidation-only links of one entry. A next of -1 ends a list; a prev
 * of -(k + 1) means the entry is first on the list whose head is heads[k],
 * so unlinking needs no hash or bucket arithmetic. */
typedef struct VtdIotlbLinks {
    int32_t dom_prev, dom_next;     /* per-domain list (heads: dom_heads) */
    int32_t pg_prev, pg_next;       /* page chain (heads: pg_buckets) */
} VtdIotlbLinks;

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
    /* Invalidation indexes (see the file comment). */
    VtdIotlbLinks *links;
    int32_t *pg_buckets;    /* page chains, 1 << bucket_bits heads */
    int32_t *dom_heads;     /* [domain bucket * VTD_CLASSES + class] */
    uint32_t *dom_len;      /* entries on each of those lists */
    unsigned dom_bits;      /* 1 << dom_bits domain buckets */
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

static bool vtd_pgtt_is_fs(unsigned pgtt)
{
    return pgtt == VTD_PGTT_FS || pgtt == VTD_PGTT_NESTED;
}

static inline unsigned vtd_entry_class(const VtdIotlbEntry *e)
{
    return vtd_pgtt_is_fs(e->pgtt) ? VTD_CLASS_FS : VTD_CLASS_SS;
}

static inline unsigned vtd_pg_hash(const VtdIotlb *t, uint16_t did,
                                   uint64_t vpn, unsigned level, unsigned cls)
{
    uint64_t k = vpn ^ ((uint64_t)did << 44) ^
                 ((uint64_t)(level * VTD_CLASSES + cls) << 60);
    return (unsigned)((k * 0xc2b2ae3d27d4eb4fULL) >> (64 - t->bucket_bits));
}

/* Index of the (did, cls) list in dom_heads/dom_len. */
static inline unsigned vtd_dom_list(const VtdIotlb *t, uint16_t did,
                                    unsigned cls)
{
    return (did & ((1u << t->dom_bits) - 1)) * VTD_CLASSES + cls;
}

static VtdIotlb *vtd_iotlb_new(unsigned cap)
{
    VtdIotlb *t = g_new0(VtdIotlb, 1);
    unsigned nb, nd;

    t->cap = cap ? cap : VTD_IOTLB_DEFAULT_SIZE;
    t->bucket_bits = 4;
    while ((1u << t->bucket_bits) < 2 * t->cap && t->bucket_bits < 24) {
        t->bucket_bits++;
    }
    nb = 1u << t->bucket_bits;
    t->buckets = g_new(int32_t, nb);
    memset(t->buckets, 0xff, sizeof(int32_t) * nb);
    t->pg_buckets = g_new(int32_t, nb);
    memset(t->pg_buckets, 0xff, sizeof(int32_t) * nb);
    t->dom_bits = 4;
    while ((1u << t->dom_bits) < t->cap &&
           t->dom_bits < VTD_IOTLB_MAX_DOM_BITS) {
        t->dom_bits++;
    }
    nd = (1u << t->dom_bits) * VTD_CLASSES;
    t->dom_heads = g_new(int32_t, nd);
    memset(t->dom_heads, 0xff, sizeof(int32_t) * nd);
    t->dom_len = g_new0(uint32_t, nd);
    t->entries = g_new0(VtdIotlbEntry, t->cap);
    t->links = g_new(VtdIotlbLinks, t->cap);
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
    g_free(t->pg_buckets);
    g_free(t->dom_heads);
    g_free(t->dom_len);
    g_free(t->entries);
    g_free(t->links);
    g_free(t->free_slots);
    g_free(t);
}

/* Put entry idx (already filled in) on its domain list and page chain. */
static void vtd_iotlb_index(VtdIotlb *t, int32_t idx)
{
    const VtdIotlbEntry *e = &t->entries[idx];
    VtdIotlbLinks *l = &t->links[idx];
    unsigned cls = vtd_entry_class(e);
    unsigned dk = vtd_dom_list(t, e->did, cls);
    unsigned pk = vtd_pg_hash(t, e->did, e->vpn, e->level, cls);

    l->dom_prev = -(int32_t)dk - 1;
    l->dom_next = t->dom_heads[dk];
    if (l->dom_next >= 0) {
        t->links[l->dom_next].dom_prev = idx;
    }
    t->dom_heads[dk] = idx;
    t->dom_len[dk]++;

    l->pg_prev = -(int32_t)pk - 1;
    l->pg_next = t->pg_buckets[pk];
    if (l->pg_next >= 0) {
        t->links[l->pg_next].pg_prev = idx;
    }
    t->pg_buckets[pk] = idx;
}

static void vtd_iotlb_unindex(VtdIotlb *t, int32_t idx)
{
    const VtdIotlbLinks *l = &t->links[idx];

    if (l->dom_prev >= 0) {
        t->links[l->dom_prev].dom_next = l->dom_next;
    } else {
        t->dom_heads[-l->dom_prev - 1] = l->dom_next;
    }
    if (l->dom_next >= 0) {
        t->links[l->dom_next].dom_prev = l->dom_prev;
    }
    t->dom_len[vtd_dom_list(t, t->entries[idx].did,
                            vtd_entry_class(&t->entries[idx]))]--;

    if (l->pg_prev >= 0) {
        t->links[l->pg_prev].pg_next = l->pg_next;
    } else {
        t->pg_buckets[-l->pg_prev - 1] = l->pg_next;
    }
    if (l->pg_next >= 0) {
        t->links[l->pg_next].pg_prev = l->pg_prev;
    }
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
    vtd_iotlb_unindex(t, idx);
    e->valid = false;
    t->level_count[e->level]--;
    t->count--;
    t->free_slots[t->nfree++] = idx;
}

static int32_t vtd_iotlb_find_in(const VtdIotlb *t, unsigned bucket,
                                 uint64_t vpn, uint16_t sid, uint32_t pasid,
                                 unsigned level)
{
    int32_t i = t->buckets[bucket];

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

static int32_t vtd_iotlb_find(const VtdIotlb *t, uint64_t vpn, uint16_t sid,
                              uint32_t pasid, unsigned level)
{
    return vtd_iotlb_find_in(t, vtd_iotlb_hash(t, vpn, sid, pasid, level),
                             vpn, sid, pasid, level);
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
            t->hand = t->hand + 1 == t->cap ? 0 : t->hand + 1;
        }
        vtd_iotlb_remove(t, (int32_t)t->hand);
        t->hand = t->hand + 1 == t->cap ? 0 : t->hand + 1;
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
    b = vtd_iotlb_hash(t, src->vpn, src->sid, src->pasid, level);
    idx = vtd_iotlb_find_in(t, b, src->vpn, src->sid, src->pasid, level);
    if (idx >= 0) {
        vtd_iotlb_remove(t, idx);
    }
    idx = vtd_iotlb_alloc(s);
    t->entries[idx] = *src;
    t->entries[idx].valid = true;
    t->entries[idx].ref = true;
    t->entries[idx].next = t->buckets[b];
    t->buckets[b] = idx;
    vtd_iotlb_index(t, idx);
    t->level_count[level]++;
    t->count++;
}

unsigned vtd_iotlb_count(const VtdState *s)
{
    return s->iotlb ? s->iotlb->count : 0;
}

/* ---- Invalidation ------------------------------------------------------ */

typedef struct VtdIotlbSel {
    uint16_t did;
    uint32_t pasid;
    bool by_pasid;          /* also require eff_pasid == pasid */
    bool by_range;          /* also require overlap with [start, last] */
    uint64_t start, last;   /* inclusive input range */
} VtdIotlbSel;

static bool vtd_iotlb_overlaps(const VtdIotlbEntry *e, const VtdIotlbSel *sel)
{
    unsigned shift = vtd_level_shift(e->level);
    uint64_t base = e->vpn << shift;
    uint64_t last = base + ((1ULL << shift) - 1);
    return base <= sel->last && last >= sel->start;
}

static bool vtd_iotlb_selected(const VtdIotlbEntry *e, const VtdIotlbSel *sel)
{
    return e->did == sel->did &&
           (!sel->by_pasid || e->eff_pasid == sel->pasid) &&
           (!sel->by_range || vtd_iotlb_overlaps(e, sel));
}

static void vtd_iotlb_sel_range(VtdIotlbSel *sel, uint64_t addr, unsigned am)
{
    sel->by_range = true;
    vtd_inval_page_range(addr, am, &sel->start, &sel->last);
}

/* Drop the entries of one class of sel->did's domain list that sel selects. */
static void vtd_iotlb_drop_dom(VtdIotlb *t, unsigned cls,
                               const VtdIotlbSel *sel)
{
    int32_t i = t->dom_heads[vtd_dom_list(t, sel->did, cls)];

    while (i >= 0) {
        int32_t next = t->links[i].dom_next;

        if (vtd_iotlb_selected(&t->entries[i], sel)) {
            vtd_iotlb_remove(t, i);
        }
        i = next;
    }
}

/* Page-chain probes sel's range would need, over the page sizes in use
 * (saturates well before overflowing: a range has at most 2^52 pages). */
static uint64_t vtd_iotlb_probes(const VtdIotlb *t, const VtdIotlbSel *sel)
{
    uint64_t n = 0;

    for (unsigned level = 1; level <= VTD_IOTLB_LEVELS; level++) {
        unsigned shift = vtd_level_shift(level);

        if (t->level_count[level]) {
            n += (sel->last >> shift) - (sel->start >> shift) + 1;
        }
    }
    return n;
}

/* Drop the class-cls entries of sel->did that sel selects within its range:
 * probe the page chains when the range has fewer pages (at the sizes in
 * use) than the domain list has entries, else walk the list. */
static void vtd_iotlb_drop_range(VtdIotlb *t, unsigned cls,
                                 const VtdIotlbSel *sel)
{
    uint32_t len = t->dom_len[vtd_dom_list(t, sel->did, cls)];

    if (!len) {
        return;
    }
    if (vtd_iotlb_probes(t, sel) > len) {
        vtd_iotlb_drop_dom(t, cls, sel);
        return;
    }
    for (unsigned level = 1; level <= VTD_IOTLB_LEVELS; level++) {
        unsigned shift = vtd_level_shift(level);
        uint64_t vpn = sel->start >> shift, last = sel->last >> shift;

        if (!t->level_count[level]) {
            continue;
        }
        for (;; vpn++) {
            int32_t i = t->pg_buckets[vtd_pg_hash(t, sel->did, vpn, level,
                                                  cls)];

            while (i >= 0) {
                const VtdIotlbEntry *e = &t->entries[i];
                int32_t next = t->links[i].pg_next;

                if (e->vpn == vpn && e->level == level &&
                    vtd_entry_class(e) == cls && vtd_iotlb_selected(e, sel)) {
                    vtd_iotlb_remove(t, i);
                }
                i = next;
            }
            if (vpn == last) {
                break;
            }
        }
    }
}

void vtd_iotlb_invalidate_all(VtdState *s)
{
    VtdIotlb *t = s->iotlb;

    for (unsigned i = 0; t && i < t->cap && t->count; i++) {
        if (t->entries[i].valid) {
            vtd_iotlb_remove(t, (int32_t)i);
        }
    }
    vtd_nest_ps_invalidate_all(s);
}

void vtd_iotlb_invalidate_domain(VtdState *s, uint16_t did)
{
    VtdIotlbSel sel = { .did = did };

    if (s->iotlb) {
        vtd_iotlb_drop_dom(s->iotlb, VTD_CLASS_SS, &sel);
        vtd_iotlb_drop_dom(s->iotlb, VTD_CLASS_FS, &sel);
    }
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
void vtd_iotlb_invalidate_page(VtdState *s, uint16_t did, uint64_t addr,
                               unsigned am, bool ih)
{
    VtdIotlbSel all = { .did = did };
    VtdIotlbSel range = { .did = did };

    (void)ih;
    if (s->iotlb) {
        vtd_iotlb_drop_dom(s->iotlb, VTD_CLASS_FS, &all);
        vtd_iotlb_sel_range(&range, addr, am);
        vtd_iotlb_drop_range(s->iotlb, VTD_CLASS_SS, &range);
    }
    /* SS translations of FS tables are SS leaves: IH does not keep them. */
    vtd_nest_ps_invalidate_range(s, did, addr, am);
}

/* Type-6 PASID-selective: every PGTT of DID+PASID. */
void vtd_iotlb_invalidate_pasid(VtdState *s, uint16_t did, uint32_t pasid)
{
    VtdIotlbSel sel = { .did = did, .pasid = pasid, .by_pasid = true };

    if (s->iotlb) {
        vtd_iotlb_drop_dom(s->iotlb, VTD_CLASS_SS, &sel);
        vtd_iotlb_drop_dom(s->iotlb, VTD_CLASS_FS, &sel);
    }
}

/* Type-6 page-selective: only FS/nested entries of DID+PASID in range. */
void vtd_iotlb_invalidate_pasid_page(VtdState *s, uint16_t did, uint32_t pasid,
                                     uint64_t addr, unsigned am, bool ih)
{
    VtdIotlbSel sel = { .did = did, .pasid = pasid, .by_pasid = true };

    (void)ih;
    if (s->iotlb) {
        vtd_iotlb_sel_range(&sel, addr, am);
        vtd_iotlb_drop_range(s->iotlb, VTD_CLASS_FS, &sel);
    }
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
