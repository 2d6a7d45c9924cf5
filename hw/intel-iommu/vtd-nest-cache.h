/*
 * Second-stage caching for nested (PGTT=011b) walks. Two tables:
 *
 *  - nest_ps: SS translations of first-stage table pages. Hardware keeps
 *    the HPA of the next first-stage table in its nested paging-structure
 *    caches instead of walking the second stage for every table again; this
 *    plays that part. An entry says where one 4 KiB GPA page of FS tables
 *    lives in host memory under one second stage (DID, SSPTPTR, AW, SSADE),
 *    with the cumulative SS rights of that mapping.
 *  - nest_pde: SS paging-structure entries: for a 2 MiB GPA region, the HPA
 *    of its SS last-level table and the rights above it, so other SS walks
 *    in the region (the final GPA of a nested walk) read one entry.
 *
 * The FS entries themselves are always read from memory, so only second-
 * stage changes concern these: software must follow those with a type-2
 * (or register) IOTLB invalidation of the DID, and those drop the entries
 * (vtd-iotlb.c calls the vtd_nest_ps_invalidate_* functions from its own
 * invalidations, so every source - queue, registers, SRTP, TE off, reset,
 * page requests - reaches them). Page-selective ones drop whatever meets
 * the range whatever IH says (nest_ps holds SS leaves; for nest_pde keeping
 * them would be allowed, dropping is simpler). PASID-based (type 6)
 * invalidations name first-stage changes only and leave both alone; a
 * changed PASID entry gives a different tag.
 *
 * Only successful walks are stored; faults always walk again.
 */
#ifndef VTD_NEST_CACHE_H
#define VTD_NEST_CACHE_H

#include "hw/intel-iommu/vtd-internal.h"
#include "hw/intel-iommu/vtd-walk-ss.h"

/* The second stage a nested walk goes through (from its PASID entry). */
typedef struct VtdNestPsKey {
    uint64_t ss_root;   /* SSPTPTR */
    uint32_t tag;       /* DID, AW and SSADE packed; never 0 */
} VtdNestPsKey;

#define VTD_NEST_PS_TAG_LIVE    (1u << 31)

static inline VtdNestPsKey vtd_nest_ps_key(uint64_t ss_root, uint16_t did,
                                           unsigned aw, bool ssade)
{
    return (VtdNestPsKey){
        .ss_root = ss_root,
        .tag = VTD_NEST_PS_TAG_LIVE | did | ((aw & 0xffu) << 16) |
               ((uint32_t)ssade << 24),
    };
}

static inline uint16_t vtd_nest_ps_tag_did(uint32_t tag)
{
    return (uint16_t)tag;
}

static inline bool vtd_nest_ps_tag_ssade(uint32_t tag)
{
    return (tag >> 24) & 1;
}

/*
 * Can r, the result of a successful SS walk of some address in a page,
 * stand for a walk of another address in the same page with this access?
 * Only when that walk would read the same entries, fault nowhere and make
 * no A/D update: the rights cover the access (when checked) and, with
 * SSADE, a write that would set D finds D set already. A successful SSADE
 * walk has set A in every entry it used.
 */
static inline bool vtd_ss_result_covers(const VtdSsResult *r, bool ssade,
                                        unsigned access, bool check_perm)
{
    if (check_perm && (!r->perm || (access & ~r->perm))) {
        return false;   /* the walk reports SSS.2 / SGN.6 / SGN.7 */
    }
    if (ssade && (access & IOMMU_ACCESS_WRITE) &&
        (r->perm & IOMMU_ACCESS_WRITE) && !r->dirty_ok) {
        return false;   /* the walk must set D */
    }
    return true;
}

/* Which set gpa's page lives in under k. */
static inline unsigned vtd_nest_ps_set(const VtdNestPsKey *k, uint64_t gpa_page)
{
    uint64_t h = gpa_page ^ (k->ss_root << 8) ^ ((uint64_t)k->tag << 40);

    return (unsigned)((h * 0x9e3779b97f4a7c15ULL) >> 58) &
           (VTD_NEST_PS_SETS - 1);
}

/*
 * The cached translation of gpa's page under k, if it answers a checked
 * access exactly as a walk would (vtd_ss_result_covers). Fills out as
 * vtd_ss_walk() would and counts stats.nest_ps_hits/misses. Inline: it is
 * on every nested IOTLB miss, up to five times.
 */
static inline bool vtd_nest_ps_lookup(VtdState *s, const VtdNestPsKey *k,
                                      uint64_t gpa, unsigned access,
                                      VtdSsResult *out)
{
    uint64_t gpa_page = gpa >> 12;
    const VtdNestPsEntry *ways;

    if (!s->nest_ps.count) {
        goto miss;
    }
    ways = s->nest_ps.set[vtd_nest_ps_set(k, gpa_page)];
    for (unsigned i = 0; i < VTD_NEST_PS_WAYS; i++) {
        const VtdNestPsEntry *e = &ways[i];
        VtdSsResult r;

        if (e->gpa_page != gpa_page || e->tag != k->tag ||
            e->ss_root != k->ss_root) {
            continue;
        }
        r = (VtdSsResult){
            .addr = e->hpa | (gpa & 0xfff),
            .page_mask = e->ss_mask,
            .perm = e->perm,
            .level = e->level,
            .dirty_ok = e->dirty_ok,
        };
        if (!vtd_ss_result_covers(&r, vtd_nest_ps_tag_ssade(k->tag), access,
                                  true)) {
            /* The walk reports the fault or makes the A/D update (and then
             * refills the entry). */
            break;
        }
        *out = r;
        s->stats.nest_ps_hits++;
        return true;
    }
miss:
    s->stats.nest_ps_misses++;
    return false;
}

/* Remember r, the successful checked SS walk of gpa under k. */
void vtd_nest_ps_fill(VtdState *s, const VtdNestPsKey *k, uint64_t gpa,
                      const VtdSsResult *r);

/* Where an SS walk of gpa under k may resume (vtd_ss_walk's VtdSsWalk
 * resume), if a walk in gpa's 2 MiB region left it. */
static inline bool vtd_nest_pde_lookup(VtdState *s, const VtdNestPsKey *k,
                                       uint64_t gpa, VtdSsLast *out)
{
    uint64_t region = (gpa >> 12) & ~0x1ffULL;
    const VtdNestPsEntry *ways;

    if (!s->nest_pde.count) {
        return false;
    }
    ways = s->nest_pde.set[vtd_nest_ps_set(k, region >> 9)];
    for (unsigned i = 0; i < VTD_NEST_PS_WAYS; i++) {
        const VtdNestPsEntry *e = &ways[i];

        if (e->gpa_page == region && e->tag == k->tag &&
            e->ss_root == k->ss_root) {
            *out = (VtdSsLast){ .table = e->hpa, .perm = e->perm,
                                .valid = true };
            return true;
        }
    }
    return false;
}
/* Remember where a successful SS walk of gpa under k reached level 1. */
void vtd_nest_pde_fill(VtdState *s, const VtdNestPsKey *k, uint64_t gpa,
                       const VtdSsLast *last);

/* Invalidation (spec §6.5 / facts §8.2, type-2 and register IOTLB). */
void vtd_nest_ps_invalidate_all(VtdState *s);
void vtd_nest_ps_invalidate_domain(VtdState *s, uint16_t did);
/* Entries of did whose SS page meets [addr, addr + 2^(am+12)), addr's low
 * am page bits ignored. IH does not matter: the entries are SS leaves. */
void vtd_nest_ps_invalidate_range(VtdState *s, uint16_t did, uint64_t addr,
                                  unsigned am);

/* Live entries (tests). */
unsigned vtd_nest_ps_count(const VtdState *s);
unsigned vtd_nest_pde_count(const VtdState *s);

#endif
