/*
 * The caching-mode shadow path: a passthrough device whose guest entry uses
 * a second-stage table (legacy context entry TT=00b/01b, or a PASID entry
 * with PGTT=010b) is attached to a plain paging IOAS that mirrors that table.
 *
 * The host cannot walk a guest second stage (nesting walks first stages
 * only), so the unit does: one shadow domain per guest domain (DID + SS root
 * + AW, per iommufd), its IOAS mapping IOVA = guest IOVA -> the host memory
 * behind the output GPA. Caching mode (CAP.CM) obliges the guest to
 * invalidate the IOTLB after every change, not-present -> present included,
 * so each type-2 IOTLB invalidation naming the domain re-walks the range it
 * names with the project's walker (vtd-walk-ss.h) and updates the IOAS.
 *
 * What the IOAS holds is recorded exactly (maps: one record per IOAS area,
 * never split, since the host cannot unmap part of an area): an identical
 * mapping is left alone, a changed one replaced, a vanished one unmapped.
 * Records are per guest leaf, clipped to the invalidated range and to RAM
 * blocks, so a later invalidation of a part of one re-walks the whole record.
 *
 * The IOAS has no nest-parent HWPT, so read-only mappings are fine on a host
 * with ERRATA_772415 (only nest parents refuse them).
 */
#include <errno.h>

#include "hw/intel-iommu/vtd-nesting.h"
#include "hw/intel-iommu/vtd-walk-ss.h"

/* One IOAS area as mapped. The tree key is &iova, so iova comes first. */
typedef struct SsMap {
    uint64_t iova;
    uint64_t len;
    uint64_t gpa;
    uint8_t *host;
    bool writable;
} SsMap;

/* One guest RAM block (cached from the RAM source). */
typedef struct SsRam {
    uint64_t gpa, size;
    uint8_t *host;
    bool readonly;
} SsRam;

#define SS_PAGE_MASK 0xfffULL

static uint64_t map_last(const SsMap *m)
{
    return m->iova + m->len - 1;
}

static bool map_same(const SsMap *a, const SsMap *b)
{
    return a->iova == b->iova && a->len == b->len && a->host == b->host &&
           a->writable == b->writable;
}

static gint iova_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* ---- What the guest wants ----------------------------------------------- */

/* Why the shadow path cannot serve this unit, or NULL. */
static const char *ss_unusable(VtdNesting *n)
{
    if (!(n->s->cap & VTD_CAP_CM)) {
        return "second-stage table without caching-mode=on: the guest need "
               "not invalidate new mappings, so the shadow path cannot follow "
               "them (set caching-mode=on)";
    }
    return NULL;
}

VtdShadowKind vtd_nest_ss_want_legacy(VtdNestDev *d, VtdSsKey *key,
                                      const char **why)
{
    VtdState *s = d->n->s;
    uint16_t sid = d->hd->guest_sid;
    VtdLegacyRoot root;
    VtdLegacyContext ctx;

    memset(key, 0, sizeof(*key));
    *why = NULL;
    if (s->ttm == VTD_TTM_ABORT_DMA) {
        *why = "abort-DMA translation mode";
        return VTD_SHADOW_BLOCKED;
    }
    if (s->ttm != VTD_TTM_LEGACY) {
        *why = "reserved translation table mode";
        return VTD_SHADOW_BLOCKED;
    }
    if (vtd_read_legacy_root(s, sid >> 8, &root) != VTD_FR_NONE ||
        !root.present ||
        vtd_read_legacy_context(s, root.ctp, sid & 0xff, &ctx) != VTD_FR_NONE ||
        !ctx.present) {
        *why = "root or context entry not present or invalid";
        return VTD_SHADOW_BLOCKED;
    }
    if (ctx.tt == VTD_TT_PT) {
        return VTD_SHADOW_S2;
    }
    *why = ss_unusable(d->n);
    if (*why) {
        return VTD_SHADOW_BLOCKED;
    }
    key->legacy = true;
    key->did = ctx.did;
    key->root = ctx.ssptptr;
    key->aw = ctx.aw;
    return VTD_SHADOW_SS;
}

VtdShadowKind vtd_nest_ss_want_pasid(VtdNestDev *d, const VtdPasidEntry *pe,
                                     VtdSsKey *key, const char **why)
{
    memset(key, 0, sizeof(*key));
    *why = ss_unusable(d->n);
    if (*why) {
        return VTD_SHADOW_BLOCKED;
    }
    if (pe->ssade) {
        /* Host DMA through a shadow never writes the guest's entries. */
        *why = "second-stage A/D flags (SSADE=1) cannot be maintained by "
               "the shadow path";
        return VTD_SHADOW_BLOCKED;
    }
    key->did = pe->did;
    key->root = pe->ssptptr;
    key->aw = pe->aw;
    return VTD_SHADOW_SS;
}

static bool key_equal(const VtdSsKey *a, const VtdSsKey *b)
{
    return a->legacy == b->legacy && a->did == b->did && a->root == b->root &&
           a->aw == b->aw;
}

bool vtd_nest_ss_same(const VtdNestShadow *sh, const VtdSsKey *key)
{
    return sh->ss && key_equal(&sh->ss->dom->key, key);
}

/* ---- Guest RAM ---------------------------------------------------------- */

static bool collect_block(void *ctx, uint64_t gpa, uint64_t size, void *host,
                          bool readonly, GError **errp)
{
    SsRam r = { .gpa = gpa, .size = size, .host = host, .readonly = readonly };

    if (size && host) {
        g_array_append_val((GArray *)ctx, r);
    }
    return true;
}

/* The machine's RAM layout is fixed once devices exist: read it once. */
static const GArray *ram_blocks(VtdNesting *n)
{
    if (!n->ss_ram) {
        GError *err = NULL;

        n->ss_ram = g_array_new(false, false, sizeof(SsRam));
        if (n->has_ram && !n->ram.foreach(n->ram.opaque, collect_block,
                                          n->ss_ram, &err)) {
            g_warning("nesting: shadow path: %s", err->message);
            g_error_free(err);
        }
    }
    return n->ss_ram;
}

static const SsRam *ram_find(const GArray *blocks, uint64_t gpa)
{
    guint lo = 0, hi = blocks->len;

    /* Blocks come in address order and do not overlap. */
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const SsRam *r = &g_array_index(blocks, SsRam, mid);

        if (gpa < r->gpa) {
            hi = mid;
        } else if (gpa - r->gpa >= r->size) {
            lo = mid + 1;
        } else {
            return r;
        }
    }
    return NULL;
}

/*
 * A guest's tables can alias themselves (an entry pointing back up the tree)
 * into 2^36 leaves or empty slots. Bound what one walk may visit and what a
 * domain may hold, so such a table costs an error, not a hang: twice the
 * guest's RAM in pages (at least 64K) mappings, 16 times that in steps.
 */
static uint64_t ss_budget(VtdNesting *n)
{
    const GArray *blocks = ram_blocks(n);
    uint64_t pages = 0;

    for (guint i = 0; i < blocks->len; i++) {
        pages += g_array_index(blocks, SsRam, i).size >> 12;
    }
    return MAX(2 * pages, 65536);
}

/* ---- Walking the guest's table ------------------------------------------ */

/* [iova, last] maps to gpa with perm: the pieces backed by RAM go to want. */
static void add_leaf(VtdSsDomain *dom, const GArray *blocks, uint64_t iova,
                     uint64_t last, uint64_t gpa, unsigned perm, GArray *want)
{
    if (!(perm & IOMMU_ACCESS_READ)) {
        /* Write-only: iommufd maps are always readable; leave it out. */
        dom->unbacked++;
        return;
    }
    while (iova <= last) {
        const SsRam *r = ram_find(blocks, gpa);
        uint64_t len = last - iova + 1;
        SsMap m;

        if (!r) {
            /* MMIO or nothing: DMA there faults on the host. */
            dom->unbacked++;
            return;
        }
        len = MIN(len, r->size - (gpa - r->gpa));
        m = (SsMap) {
            .iova = iova, .len = len, .gpa = gpa,
            .host = r->host + (gpa - r->gpa),
            .writable = (perm & IOMMU_ACCESS_WRITE) && !r->readonly,
        };
        g_array_append_val(want, m);
        if (len == last - iova + 1) {
            return;
        }
        iova += len;
        gpa += len;
    }
}

/* Every mapping of [start, last] (page aligned) the guest's table has;
 * false (error deferred) when the table exceeds the budget. */
static bool walk_range(VtdSsDomain *dom, uint64_t start, uint64_t last,
                       GArray *want)
{
    VtdState *s = dom->n->s;
    const GArray *blocks = ram_blocks(dom->n);
    VtdSsWalk w = {
        .mode = dom->key.legacy ? VTD_SS_LEGACY : VTD_SS_SCALABLE,
        .root = dom->key.root,
        .aw = dom->key.aw,
        .check_perm = false,    /* report permissions, do not fault */
    };
    unsigned width = vtd_ss_input_width(s, dom->key.aw);
    uint64_t budget = ss_budget(dom->n), steps = 0;
    uint64_t addr = start;

    if (width < 64) {
        last = MIN(last, (1ULL << width) - 1);
    }
    while (addr <= last) {
        VtdSsResult r;
        VtdFaultReason fr;
        uint64_t end;

        if (++steps > 16 * budget || want->len > budget) {
            GError *err = NULL;

            g_set_error(&err, IOMMUFD_ERROR, E2BIG, "shadow of guest domain "
                        "%u (second-stage root 0x%" G_GINT64_MODIFIER "x): the "
                        "table maps or spans more than the shadow path follows "
                        "(%" G_GUINT64_FORMAT " pages; aliased tables?); "
                        "stopped at IOVA 0x%" G_GINT64_MODIFIER "x, shadow "
                        "left as it was", dom->key.did, dom->key.root, budget,
                        addr);
            vtd_nest_defer_error(dom->n, err);
            return false;
        }
        fr = vtd_ss_walk(s, &w, addr, &r);
        if (fr != VTD_FR_NONE && !r.page_mask) {
            break;      /* nothing in the tables to skip by: stop */
        }
        end = MIN(addr | r.page_mask, last);
        if (fr == VTD_FR_NONE && r.perm) {
            add_leaf(dom, blocks, addr, end, r.addr, r.perm, want);
        }
        if (end == UINT64_MAX) {
            break;
        }
        addr = end + 1;
    }
    return true;
}

/* ---- Updating the IOAS -------------------------------------------------- */

static void defer(VtdSsDomain *dom, const char *what, const SsMap *m,
                  GError *err)
{
    g_prefix_error(&err, "shadow of guest domain %u (second-stage root "
                   "0x%" G_GINT64_MODIFIER "x): %s IOVA 0x%" G_GINT64_MODIFIER
                   "x-0x%" G_GINT64_MODIFIER "x (GPA 0x%" G_GINT64_MODIFIER
                   "x): ", dom->key.did, dom->key.root, what, m->iova,
                   map_last(m), m->gpa);
    vtd_nest_defer_error(dom->n, err);
}

static void host_map(VtdSsDomain *dom, const SsMap *m)
{
    GError *err = NULL;

    if ((uint64_t)g_tree_nnodes(dom->maps) >= ss_budget(dom->n)) {
        g_set_error(&err, IOMMUFD_ERROR, E2BIG, "the shadow already holds "
                    "%d mappings, the most it follows", g_tree_nnodes(dom->maps));
        defer(dom, "cannot map", m, err);
        return;
    }
    if (!iommufd_backend_map(dom->be, dom->ioas_id, m->iova, m->len, m->host,
                             !m->writable, &err)) {
        /* Not recorded: DMA there faults, and the next sync says why. */
        defer(dom, "cannot map", m, err);
        return;
    }
    dom->host_maps++;
    g_tree_insert(dom->maps, &((SsMap *)g_memdup2(m, sizeof(*m)))->iova, NULL);
}

static void host_unmap(VtdSsDomain *dom, SsMap *m)
{
    GError *err = NULL;

    if (!iommufd_backend_unmap(dom->be, dom->ioas_id, m->iova, m->len, NULL,
                               &err)) {
        defer(dom, "cannot unmap", m, err);     /* still there: keep it */
        return;
    }
    dom->host_unmaps++;
    g_tree_remove(dom->maps, &m->iova);     /* frees m */
}

static SsMap *node_map(GTreeNode *nd)
{
    return (SsMap *)g_tree_node_key(nd);
}

/* The first record ending at or after start. */
static GTreeNode *first_overlap(GTree *t, uint64_t start)
{
    GTreeNode *nd = g_tree_upper_bound(t, &start);
    GTreeNode *prev = nd ? g_tree_node_previous(nd) : g_tree_node_last(t);

    if (prev && map_last(node_map(prev)) >= start) {
        return prev;
    }
    return nd;
}

/* Does [m] overlap one of the stale records have[from..]? */
static bool overlaps_stale(const SsMap *m, GPtrArray *have, const bool *stale,
                           guint *from)
{
    while (*from < have->len &&
           map_last(g_ptr_array_index(have, *from)) < m->iova) {
        (*from)++;
    }
    for (guint i = *from; i < have->len; i++) {
        const SsMap *h = g_ptr_array_index(have, i);

        if (h->iova > map_last(m)) {
            break;
        }
        if (stale[i]) {
            return true;
        }
    }
    return false;
}

/* Make the IOAS agree with the guest's table over [start, last]. */
static void sync_range(VtdSsDomain *dom, uint64_t start, uint64_t last)
{
    g_autoptr(GArray) want = g_array_new(false, false, sizeof(SsMap));
    g_autoptr(GPtrArray) have = g_ptr_array_new();
    g_autofree bool *stale = NULL, *keep = NULL;
    guint i, j, from;

    start &= ~SS_PAGE_MASK;
    last |= SS_PAGE_MASK;
    dom->syncs++;
    /* Records are unmapped whole: grow the range over the ones it cuts. */
    for (GTreeNode *nd = first_overlap(dom->maps, start);
         nd && node_map(nd)->iova <= last; nd = g_tree_node_next(nd)) {
        g_ptr_array_add(have, node_map(nd));
    }
    if (have->len) {
        start = MIN(start, ((SsMap *)g_ptr_array_index(have, 0))->iova);
        last = MAX(last, map_last(g_ptr_array_index(have, have->len - 1)));
    }
    if (!walk_range(dom, start, last, want)) {
        return;
    }

    /* Both lists are sorted and disjoint: pair identical entries. */
    stale = g_new(bool, have->len + 1);
    keep = g_new0(bool, want->len + 1);
    for (i = 0; i < have->len; i++) {
        stale[i] = true;
    }
    for (i = 0, j = 0; i < want->len && j < have->len;) {
        const SsMap *w = &g_array_index(want, SsMap, i);
        const SsMap *h = g_ptr_array_index(have, j);

        if (h->iova < w->iova) {
            j++;
        } else if (h->iova > w->iova) {
            i++;
        } else {
            if (map_same(w, h)) {
                keep[i] = true;
                stale[j] = false;
                dom->unchanged++;
            }
            i++;
            j++;
        }
    }
    /* New mappings clear of anything stale go in first (no window), ... */
    for (i = 0, from = 0; i < want->len; i++) {
        const SsMap *w = &g_array_index(want, SsMap, i);

        if (!keep[i] && !overlaps_stale(w, have, stale, &from)) {
            host_map(dom, w);
            keep[i] = true;
        }
    }
    /* ... then what vanished or changed goes, then its replacements come:
     * DMA to a changed IOVA faults in between (as in QEMU; the IOAS cannot
     * map over an existing area). */
    for (j = 0; j < have->len; j++) {
        if (stale[j]) {
            host_unmap(dom, g_ptr_array_index(have, j));
        }
    }
    for (i = 0; i < want->len; i++) {
        if (!keep[i]) {
            host_map(dom, &g_array_index(want, SsMap, i));
        }
    }
}

void vtd_nest_ss_invalidate(VtdNesting *n, const VtdInvalidation *inv)
{
    uint64_t start = 0, last = UINT64_MAX;

    if (inv->kind != VTD_INVAL_IOTLB) {
        return;     /* PASID-based IOTLB kinds leave PGTT=010b entries alone */
    }
    if (inv->gran == VTD_INVAL_GRAN_PAGE && inv->am < 52) {
        uint64_t size = 1ULL << (inv->am + 12);

        start = inv->addr & ~(size - 1);
        last = start + size - 1;
    }
    for (GList *l = n->ss_domains; l; l = l->next) {
        VtdSsDomain *dom = l->data;

        if (inv->gran == VTD_INVAL_GRAN_GLOBAL || dom->key.did == inv->did) {
            sync_range(dom, start, last);
        }
    }
}

/* ---- Domains and their HWPTs -------------------------------------------- */

static VtdSsDomain *domain_find(VtdNesting *n, IommufdBackend *be,
                                const VtdSsKey *key)
{
    for (GList *l = n->ss_domains; l; l = l->next) {
        VtdSsDomain *dom = l->data;

        if (dom->be == be && key_equal(&dom->key, key)) {
            return dom;
        }
    }
    return NULL;
}

/*
 * d: the device whose shadow let go of the object. A refused destroy is
 * kept in d's orphans (same iommufd: domains are keyed by it), retried at
 * every sync and at unplug like a nested HWPT's; forgetting it would leak
 * the host object, and a shadow IOAS pins every page it maps (fuzz-nesting
 * crash-shadow-destroy-leak).
 */
static void destroy_quietly(VtdSsDomain *dom, VtdNestDev *d, uint32_t id,
                            const char *what)
{
    GError *err = NULL;

    if (!iommufd_backend_destroy(dom->be, id, &err)) {
        g_warning("nesting: shadow of guest domain %u: cannot destroy the %s: "
                  "%s", dom->key.did, what, err->message);
        g_error_free(err);
        g_array_append_val(d->orphans, id);
    }
}

static void domain_free(VtdSsDomain *dom, VtdNestDev *d)
{
    GError *err = NULL;

    if (g_tree_nnodes(dom->maps) &&
        !iommufd_backend_unmap(dom->be, dom->ioas_id, 0, UINT64_MAX, NULL,
                               &err)) {
        g_warning("nesting: %s", err->message);
        g_error_free(err);
    }
    g_tree_destroy(dom->maps);
    destroy_quietly(dom, d, dom->ioas_id, "shadow IOAS");
    dom->n->ss_domains = g_list_remove(dom->n->ss_domains, dom);
    g_free(dom);
}

static VtdSsDomain *domain_new(VtdNesting *n, IommufdBackend *be,
                               const VtdSsKey *key, GError **errp)
{
    VtdSsDomain *dom = g_new0(VtdSsDomain, 1);

    dom->n = n;
    dom->be = be;
    dom->key = *key;
    if (!iommufd_backend_alloc_ioas(be, &dom->ioas_id, errp)) {
        g_prefix_error(errp, "cannot create the shadow IOAS of guest domain "
                       "%u: ", key->did);
        g_free(dom);
        return NULL;
    }
    /* Keys live in the values (SsMap.iova): freeing the key frees both. */
    dom->maps = g_tree_new_full(iova_cmp, NULL, g_free, NULL);
    n->ss_domains = g_list_append(n->ss_domains, dom);
    return dom;
}

static void hwpt_put(VtdSsHwpt *h, VtdNestDev *d)
{
    VtdSsDomain *dom = h->dom;

    if (--h->users) {
        return;
    }
    destroy_quietly(dom, d, h->hwpt_id, "shadow HWPT");
    dom->hwpts = g_list_remove(dom->hwpts, h);
    g_free(h);
    if (!dom->hwpts) {
        domain_free(dom, d);
    }
}

static uint32_t host_pasid(const VtdNestShadow *sh)
{
    return sh->on_rid ? IOMMU_NO_PASID : sh->pasid;
}

/* Attach sh to a HWPT of dom the host accepts for its device. */
static VtdSsHwpt *hwpt_attach(VtdSsDomain *dom, VtdNestShadow *sh,
                              GError **errp)
{
    VtdNestDev *d = sh->dev;
    uint32_t flags = d->use_pasid ? IOMMU_HWPT_ALLOC_PASID : 0;
    VtdSsHwpt *h;
    GError *err = NULL;

    for (GList *l = dom->hwpts; l; l = l->next) {
        h = l->data;
        if (h->flags != flags) {
            continue;
        }
        if (host_iommu_device_attach(d->hd, host_pasid(sh), h->hwpt_id, &err)) {
            return h;
        }
        if (!g_error_matches(err, IOMMUFD_ERROR, EINVAL)) {
            g_propagate_error(errp, err);
            return NULL;
        }
        g_clear_error(&err);    /* incompatible (coherency): try the next */
    }
    h = g_new0(VtdSsHwpt, 1);
    h->dom = dom;
    h->flags = flags;
    /* A plain paging domain, never a nest parent: read-only maps are fine
     * even with ERRATA_772415. */
    if (!iommufd_backend_alloc_hwpt(dom->be, d->hd->dev_id, dom->ioas_id, flags,
                                    IOMMU_HWPT_DATA_NONE, NULL, 0, 0,
                                    &h->hwpt_id, errp)) {
        g_free(h);
        return NULL;
    }
    if (!dom->hwpts) {
        /* A new domain: fill it before any device uses it (the HWPT went
         * first so the IOAS already knows the host's aperture). */
        sync_range(dom, 0, UINT64_MAX);
    }
    if (!host_iommu_device_attach(d->hd, host_pasid(sh), h->hwpt_id, errp)) {
        destroy_quietly(dom, d, h->hwpt_id, "unused shadow HWPT");
        g_free(h);
        return NULL;
    }
    dom->hwpts = g_list_append(dom->hwpts, h);
    return h;
}

bool vtd_nest_ss_attach(VtdNestShadow *sh, const VtdSsKey *key, GError **errp)
{
    VtdNesting *n = sh->dev->n;
    IommufdBackend *be = sh->dev->hd->be;
    VtdSsDomain *dom = domain_find(n, be, key);
    VtdSsHwpt *h, *old = sh->ss;

    if (!dom) {
        dom = domain_new(n, be, key, errp);
        if (!dom) {
            return false;
        }
    }
    h = hwpt_attach(dom, sh, errp);
    if (!h) {
        if (!dom->hwpts) {
            domain_free(dom, sh->dev);   /* new and unused */
        }
        return false;
    }
    /* The host switched over: now the old one can go. */
    h->users++;
    sh->ss = h;
    if (old) {
        hwpt_put(old, sh->dev);
    }
    return true;
}

void vtd_nest_ss_release(VtdNestShadow *sh)
{
    VtdSsHwpt *h = sh->ss;

    if (h) {
        sh->ss = NULL;
        hwpt_put(h, sh->dev);
    }
}

void vtd_nest_ss_fini(VtdNesting *n)
{
    if (n->ss_domains) {
        g_warning("nesting: %u shadow domains left at teardown",
                  g_list_length(n->ss_domains));
    }
    if (n->ss_ram) {
        g_array_unref(n->ss_ram);
        n->ss_ram = NULL;
    }
}
