/*
 * The nested walks' second-stage caches (see vtd-nest-cache.h for what they
 * hold and when they are dropped). Each is VTD_NEST_PS_SETS sets of
 * VTD_NEST_PS_WAYS entries in VtdState: a lookup hashes the tag to a set and
 * compares a handful of entries, and a full set replaces its ways in turn.
 * Invalidations scan a whole table (256 entries), and not at all while it
 * is empty.
 */
#include "hw/intel-iommu/vtd-nest-cache.h"
#include "hw/intel-iommu/vtd-cache.h"

static VtdNestPsEntry *vtd_nest_ps_find(VtdNestPs *c, const VtdNestPsKey *k,
                                        uint64_t gpa_page, unsigned set)
{
    VtdNestPsEntry *ways = c->set[set];

    for (unsigned w = 0; w < VTD_NEST_PS_WAYS; w++) {
        if (ways[w].tag == k->tag && ways[w].gpa_page == gpa_page &&
            ways[w].ss_root == k->ss_root) {
            return &ways[w];
        }
    }
    return NULL;
}

/* The entry to (re)write for gpa_page in set: its own, a free one, or the
 * set's next victim. */
static VtdNestPsEntry *vtd_nest_ps_slot(VtdNestPs *c, const VtdNestPsKey *k,
                                        uint64_t gpa_page, unsigned set)
{
    VtdNestPsEntry *e = vtd_nest_ps_find(c, k, gpa_page, set);
    VtdNestPsEntry *ways = c->set[set];

    if (e) {
        return e;
    }
    for (unsigned w = 0; w < VTD_NEST_PS_WAYS; w++) {
        if (!ways[w].tag) {
            c->count++;
            return &ways[w];
        }
    }
    e = &ways[c->victim[set]];
    c->victim[set] = (c->victim[set] + 1) % VTD_NEST_PS_WAYS;
    return e;
}

void vtd_nest_ps_fill(VtdState *s, const VtdNestPsKey *k, uint64_t gpa,
                      const VtdSsResult *r)
{
    uint64_t gpa_page = gpa >> 12;
    VtdNestPsEntry *e = vtd_nest_ps_slot(&s->nest_ps, k, gpa_page,
                                         vtd_nest_ps_set(k, gpa_page));

    *e = (VtdNestPsEntry){
        .gpa_page = gpa_page,
        .ss_root = k->ss_root,
        .hpa = r->addr & ~0xfffULL,
        .ss_mask = r->page_mask,
        .tag = k->tag,
        .perm = (uint8_t)r->perm,
        .level = (uint8_t)r->level,
        .dirty_ok = r->dirty_ok,
    };
}

void vtd_nest_pde_fill(VtdState *s, const VtdNestPsKey *k, uint64_t gpa,
                       const VtdSsLast *last)
{
    uint64_t region = (gpa >> 12) & ~0x1ffULL;
    VtdNestPsEntry *e = vtd_nest_ps_slot(&s->nest_pde, k, region,
                                         vtd_nest_ps_set(k, region >> 9));

    *e = (VtdNestPsEntry){
        .gpa_page = region,
        .ss_root = k->ss_root,
        .hpa = last->table,
        .ss_mask = (1ULL << 21) - 1,
        .tag = k->tag,
        .perm = (uint8_t)last->perm,
        .level = 2,
    };
}

/* ---- Invalidation ------------------------------------------------------ */

typedef struct VtdNestPsSel {
    bool any_did;
    uint16_t did;
    uint64_t start, last;   /* inclusive GPA range */
} VtdNestPsSel;

static bool vtd_nest_ps_selected(const VtdNestPsEntry *e,
                                 const VtdNestPsSel *sel)
{
    uint64_t base, last;

    if (!sel->any_did && vtd_nest_ps_tag_did(e->tag) != sel->did) {
        return false;
    }
    /* The whole GPA range the entry depends on (SS leaf page, or the 2 MiB
     * region), not just one 4 KiB page: a change there may be invalidated
     * anywhere in it. */
    base = (e->gpa_page << 12) & ~e->ss_mask;
    last = base + e->ss_mask;
    return base <= sel->last && last >= sel->start;
}

static void vtd_nest_ps_drop_from(VtdNestPs *c, const VtdNestPsSel *sel)
{
    for (unsigned i = 0; i < VTD_NEST_PS_SETS && c->count; i++) {
        for (unsigned w = 0; w < VTD_NEST_PS_WAYS; w++) {
            VtdNestPsEntry *e = &c->set[i][w];

            if (e->tag && vtd_nest_ps_selected(e, sel)) {
                e->tag = 0;
                c->count--;
            }
        }
    }
}

static void vtd_nest_ps_drop(VtdState *s, const VtdNestPsSel *sel)
{
    vtd_nest_ps_drop_from(&s->nest_ps, sel);
    vtd_nest_ps_drop_from(&s->nest_pde, sel);
}

void vtd_nest_ps_invalidate_all(VtdState *s)
{
    VtdNestPsSel sel = { .any_did = true, .start = 0, .last = UINT64_MAX };

    vtd_nest_ps_drop(s, &sel);
}

void vtd_nest_ps_invalidate_domain(VtdState *s, uint16_t did)
{
    VtdNestPsSel sel = { .did = did, .start = 0, .last = UINT64_MAX };

    vtd_nest_ps_drop(s, &sel);
}

void vtd_nest_ps_invalidate_range(VtdState *s, uint16_t did, uint64_t addr,
                                  unsigned am)
{
    VtdNestPsSel sel = { .did = did };

    vtd_inval_page_range(addr, am, &sel.start, &sel.last);
    vtd_nest_ps_drop(s, &sel);
}

unsigned vtd_nest_ps_count(const VtdState *s)
{
    return s->nest_ps.count;
}

unsigned vtd_nest_pde_count(const VtdState *s)
{
    return s->nest_pde.count;
}
