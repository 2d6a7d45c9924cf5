/*
 * Simulated IOAS: an interval map IOVA -> host pointer with the kernel's
 * MAP/UNMAP/IOVA_RANGES/ALLOW_IOVAS rules (fact sheet §3.7), plus the
 * reserved list (device MSI window and RMRRs, domain apertures) and the
 * allowed list.
 */
#include "iommufd-sim-internal.h"

static bool ranges_overlap(uint64_t s1, uint64_t l1, uint64_t s2, uint64_t l2)
{
    return s1 <= l2 && s2 <= l1;
}

static uint64_t area_last(const SimArea *a)
{
    return a->iova + a->length - 1;
}

static SimIoas *ioas_get(SimCtx *ctx, uint32_t id)
{
    SimObj *obj = sim_obj_get(ctx, id);

    return obj && obj->type == SIM_OBJ_IOAS ? (SimIoas *)obj : NULL;
}

uint64_t sim_ioas_alignment(const SimIoas *ioas)
{
    if (!ioas->huge_pages) {
        return SIM_PAGE_SIZE;
    }
    /* Every VT-d domain maps with 4 KiB granularity; a domain-less IOAS with 1. */
    return ioas->hwpts->len ? SIM_PAGE_SIZE : 1;
}

static bool ioas_hits_area(const SimIoas *ioas, uint64_t start, uint64_t last)
{
    for (unsigned i = 0; i < ioas->areas->len; i++) {
        const SimArea *a = &g_array_index(ioas->areas, SimArea, i);

        if (ranges_overlap(start, last, a->iova, area_last(a))) {
            return true;
        }
    }
    return false;
}

static const SimResv *ioas_hits_resv(const SimIoas *ioas, uint64_t start, uint64_t last)
{
    for (unsigned i = 0; i < ioas->resv->len; i++) {
        const SimResv *r = &g_array_index(ioas->resv, SimResv, i);

        if (ranges_overlap(start, last, r->start, r->last)) {
            return r;
        }
    }
    return NULL;
}

static bool ioas_hits_allowed(const SimIoas *ioas, uint64_t start, uint64_t last)
{
    for (unsigned i = 0; i < ioas->allowed->len; i++) {
        const struct iommu_iova_range *r =
            &g_array_index(ioas->allowed, struct iommu_iova_range, i);

        if (ranges_overlap(start, last, r->start, r->last)) {
            return true;
        }
    }
    return false;
}

int sim_ioas_add_resv(SimIoas *ioas, uint64_t start, uint64_t last, const void *owner)
{
    /* A reservation may not take away IOVA that is mapped or explicitly allowed. */
    if (ioas_hits_area(ioas, start, last) || ioas_hits_allowed(ioas, start, last)) {
        return -EADDRINUSE;
    }
    g_array_append_val(ioas->resv, ((SimResv){ start, last, owner }));
    return 0;
}

void sim_ioas_remove_resv(SimIoas *ioas, const void *owner)
{
    for (unsigned i = ioas->resv->len; i-- > 0;) {
        if (g_array_index(ioas->resv, SimResv, i).owner == owner) {
            g_array_remove_index(ioas->resv, i);
        }
    }
}

bool sim_ioas_has_readonly_area(const SimIoas *ioas)
{
    for (unsigned i = 0; i < ioas->areas->len; i++) {
        if (!g_array_index(ioas->areas, SimArea, i).writable) {
            return true;
        }
    }
    return false;
}

/* ERRATA_772415: a nest-parent domain refuses read-only mappings. */
static bool ioas_refuses_readonly(const SimIoas *ioas)
{
    for (unsigned i = 0; i < ioas->hwpts->len; i++) {
        const SimHwpt *h = g_ptr_array_index(ioas->hwpts, i);

        if ((h->flags & IOMMU_HWPT_ALLOC_NEST_PARENT) && h->unit->errata) {
            return true;
        }
    }
    return false;
}

int sim_ioas_alloc(SimCtx *ctx, void *cmd)
{
    struct iommu_ioas_alloc *a = cmd;
    SimIoas *ioas;

    if (a->flags) {
        return -EOPNOTSUPP;
    }
    ioas = g_new0(SimIoas, 1);
    ioas->ctx = ctx;
    ioas->areas = g_array_new(false, true, sizeof(SimArea));
    ioas->resv = g_array_new(false, true, sizeof(SimResv));
    ioas->allowed = g_array_new(false, true, sizeof(struct iommu_iova_range));
    ioas->hwpts = g_ptr_array_new();
    ioas->huge_pages = true;
    sim_obj_add(ctx, &ioas->obj, SIM_OBJ_IOAS);
    a->out_ioas_id = ioas->obj.id;
    return 0;
}

void sim_ioas_free(SimIoas *ioas)
{
    g_assert(ioas->hwpts->len == 0);   /* HWPTs hold a reference */
    g_array_free(ioas->areas, true);
    g_array_free(ioas->resv, true);
    g_array_free(ioas->allowed, true);
    g_ptr_array_free(ioas->hwpts, true);
    g_free(ioas);
}

static uint64_t round_up_pow2(uint64_t v)
{
    uint64_t p = 1;

    while (p < v && p < (1ull << 63)) {
        p <<= 1;
    }
    return p;
}

/* Aligns v up to a (a power of two); false on overflow. */
static bool align_up(uint64_t v, uint64_t a, uint64_t *out)
{
    if (v > UINT64_MAX - (a - 1)) {
        return false;
    }
    *out = (v + a - 1) & ~(a - 1);
    return true;
}

/*
 * Lowest IOVA >= PAGE_SIZE that fits length with the given alignment, avoids
 * areas and reserved ranges, and lies in an allowed range if any are set.
 */
static int ioas_find_hole(const SimIoas *ioas, uint64_t length, uint64_t align,
                          uint64_t *out)
{
    const uint64_t limit = SIM_ULONG_MAX - SIM_PAGE_SIZE;
    uint64_t cand;

    if (!align_up(SIM_PAGE_SIZE, align, &cand)) {
        return -ENOSPC;
    }
    for (;;) {
        uint64_t last;
        uint64_t next = 0;
        bool moved = false;

        if (cand > limit || length - 1 > limit - cand) {
            return -ENOSPC;
        }
        last = cand + length - 1;
        for (unsigned i = 0; i < ioas->areas->len && !moved; i++) {
            const SimArea *a = &g_array_index(ioas->areas, SimArea, i);

            if (ranges_overlap(cand, last, a->iova, area_last(a))) {
                next = area_last(a);
                moved = true;
            }
        }
        for (unsigned i = 0; i < ioas->resv->len && !moved; i++) {
            const SimResv *r = &g_array_index(ioas->resv, SimResv, i);

            if (ranges_overlap(cand, last, r->start, r->last)) {
                next = r->last;
                moved = true;
            }
        }
        if (!moved && ioas->allowed->len) {
            bool inside = false;
            uint64_t best = UINT64_MAX;

            for (unsigned i = 0; i < ioas->allowed->len; i++) {
                const struct iommu_iova_range *r =
                    &g_array_index(ioas->allowed, struct iommu_iova_range, i);

                if (cand >= r->start && last <= r->last) {
                    inside = true;
                }
                if (r->start > cand && r->start < best) {
                    best = r->start;
                }
            }
            if (!inside) {
                if (best == UINT64_MAX) {
                    return -ENOSPC;
                }
                next = best - 1;
                moved = true;
            }
        }
        if (!moved) {
            *out = cand;
            return 0;
        }
        if (next == UINT64_MAX || !align_up(next + 1, align, &cand)) {
            return -ENOSPC;
        }
    }
}

static void ioas_insert_area(SimIoas *ioas, const SimArea *area)
{
    unsigned i = 0;

    while (i < ioas->areas->len && g_array_index(ioas->areas, SimArea, i).iova < area->iova) {
        i++;
    }
    g_array_insert_val(ioas->areas, i, *area);
}

int sim_ioas_map(SimCtx *ctx, void *cmd)
{
    struct iommu_ioas_map *m = cmd;
    const uint32_t known = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE |
                           IOMMU_IOAS_MAP_READABLE;
    SimIoas *ioas;
    uint64_t align, iova;
    SimArea area;

    if ((m->flags & ~known) || m->__reserved) {
        return -EOPNOTSUPP;
    }
    if (m->iova >= SIM_ULONG_MAX || m->length >= SIM_ULONG_MAX) {
        return -EOVERFLOW;
    }
    if (!(m->flags & (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE))) {
        return -EINVAL;
    }
    ioas = ioas_get(ctx, m->ioas_id);
    if (!ioas) {
        return -ENOENT;
    }
    align = sim_ioas_alignment(ioas);
    if (m->length == 0 || m->length % align) {
        return -EINVAL;
    }
    if (!m->user_va) {
        return -EFAULT;   /* pinning address 0 fails */
    }
    if (m->flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
        iova = m->iova;
        if (iova % align) {
            return -EINVAL;
        }
        if (iova > UINT64_MAX - (m->length - 1)) {
            return -EOVERFLOW;
        }
        if (ioas_hits_resv(ioas, iova, iova + m->length - 1)) {
            return -EINVAL;
        }
        if (ioas_hits_area(ioas, iova, iova + m->length - 1)) {
            return -EEXIST;
        }
    } else {
        /* Natural alignment for the length, limited by the user VA's alignment. */
        uint64_t a = round_up_pow2(m->length);
        uint64_t va_align = m->user_va & -m->user_va;
        uint64_t cap = ioas->huge_pages ? (1ull << 30) : SIM_PAGE_SIZE;
        int rc;

        a = MIN(MIN(a, va_align), cap);
        if (a < align) {
            return -EINVAL;
        }
        rc = ioas_find_hole(ioas, m->length, a, &iova);
        if (rc) {
            return rc;
        }
    }
    if (!(m->flags & IOMMU_IOAS_MAP_WRITEABLE) && ioas_refuses_readonly(ioas)) {
        return -EINVAL;
    }
    area = (SimArea) {
        .iova = iova,
        .length = m->length,
        .host = (uint8_t *)(uintptr_t)m->user_va,
        .readable = m->flags & IOMMU_IOAS_MAP_READABLE,
        .writable = m->flags & IOMMU_IOAS_MAP_WRITEABLE,
    };
    ioas_insert_area(ioas, &area);
    m->iova = iova;
    return 0;
}

int sim_ioas_unmap(SimCtx *ctx, void *cmd)
{
    struct iommu_ioas_unmap *u = cmd;
    SimIoas *ioas = ioas_get(ctx, u->ioas_id);
    uint64_t unmapped = 0;
    uint64_t last;
    bool found = false;
    int rc = 0;

    if (!ioas) {
        return -ENOENT;
    }
    if (u->iova == 0 && u->length == UINT64_MAX) {
        for (unsigned i = 0; i < ioas->areas->len; i++) {
            unmapped += g_array_index(ioas->areas, SimArea, i).length;
        }
        g_array_set_size(ioas->areas, 0);
        goto out;
    }
    if (u->iova >= SIM_ULONG_MAX || u->length >= SIM_ULONG_MAX) {
        return -EOVERFLOW;
    }
    if (u->length == 0) {
        return -EINVAL;
    }
    if (u->iova > UINT64_MAX - (u->length - 1)) {
        return -EOVERFLOW;
    }
    last = u->iova + u->length - 1;
    /* Areas are never split; one only partly covered stops the walk. */
    for (unsigned i = 0; i < ioas->areas->len;) {
        SimArea *a = &g_array_index(ioas->areas, SimArea, i);

        if (!ranges_overlap(u->iova, last, a->iova, area_last(a))) {
            i++;
            continue;
        }
        if (a->iova < u->iova || area_last(a) > last) {
            rc = -ENOENT;
            break;
        }
        found = true;
        unmapped += a->length;
        g_array_remove_index(ioas->areas, i);
    }
    if (!rc && !found) {
        rc = -ENOENT;
    }
out:
    if (unmapped) {
        /* The kernel flushes the parent, which drops the nested combined entries. */
        sim_ioas_flush_nested(ioas);
    }
    if (rc) {
        return rc;
    }
    u->length = unmapped;
    return 0;
}

/* Free IOVA: holes of the reserved list, restricted to the allowed list if set. */
static GArray *ioas_usable_ranges(const SimIoas *ioas)
{
    GArray *holes = g_array_new(false, true, sizeof(struct iommu_iova_range));
    GArray *out;
    uint64_t cursor = 0;
    bool done = false;
    g_autoptr(GArray) resv = g_array_copy(ioas->resv);

    /* Sort reserved ranges by start (tiny lists: insertion sort). */
    for (unsigned i = 1; i < resv->len; i++) {
        for (unsigned j = i; j > 0 &&
             g_array_index(resv, SimResv, j).start < g_array_index(resv, SimResv, j - 1).start;
             j--) {
            SimResv t = g_array_index(resv, SimResv, j);

            g_array_index(resv, SimResv, j) = g_array_index(resv, SimResv, j - 1);
            g_array_index(resv, SimResv, j - 1) = t;
        }
    }
    for (unsigned i = 0; i < resv->len && !done; i++) {
        const SimResv *r = &g_array_index(resv, SimResv, i);

        if (r->last < cursor) {
            continue;
        }
        if (r->start > cursor) {
            g_array_append_val(holes, ((struct iommu_iova_range){ cursor, r->start - 1 }));
        }
        if (r->last == UINT64_MAX) {
            done = true;
        } else {
            cursor = MAX(cursor, r->last + 1);
        }
    }
    if (!done) {
        g_array_append_val(holes, ((struct iommu_iova_range){ cursor, UINT64_MAX }));
    }
    if (!ioas->allowed->len) {
        return holes;
    }
    out = g_array_new(false, true, sizeof(struct iommu_iova_range));
    for (unsigned i = 0; i < holes->len; i++) {
        const struct iommu_iova_range *h = &g_array_index(holes, struct iommu_iova_range, i);

        for (unsigned j = 0; j < ioas->allowed->len; j++) {
            const struct iommu_iova_range *a =
                &g_array_index(ioas->allowed, struct iommu_iova_range, j);

            if (ranges_overlap(h->start, h->last, a->start, a->last)) {
                g_array_append_val(out, ((struct iommu_iova_range){
                    MAX(h->start, a->start), MIN(h->last, a->last) }));
            }
        }
    }
    g_array_free(holes, true);
    return out;
}

int sim_ioas_iova_ranges(SimCtx *ctx, void *cmd, bool *copy_out)
{
    struct iommu_ioas_iova_ranges *r = cmd;
    SimIoas *ioas;
    g_autoptr(GArray) ranges = NULL;
    uint32_t cap = r->num_iovas;

    if (r->__reserved) {
        return -EOPNOTSUPP;
    }
    ioas = ioas_get(ctx, r->ioas_id);
    if (!ioas) {
        return -ENOENT;
    }
    ranges = ioas_usable_ranges(ioas);
    if (cap && !r->allowed_iovas) {
        return -EFAULT;
    }
    if (cap && ranges->len) {   /* a size query passes no buffer */
        memcpy((void *)(uintptr_t)r->allowed_iovas, ranges->data,
               MIN(cap, ranges->len) * sizeof(struct iommu_iova_range));
    }
    r->num_iovas = ranges->len;
    r->out_iova_alignment = sim_ioas_alignment(ioas);
    if (ranges->len > cap) {
        *copy_out = true;   /* the caller learns how many it needs */
        return -EMSGSIZE;
    }
    return 0;
}

int sim_ioas_allow_iovas(SimCtx *ctx, void *cmd)
{
    struct iommu_ioas_allow_iovas *a = cmd;
    const struct iommu_iova_range *in = (const void *)(uintptr_t)a->allowed_iovas;
    SimIoas *ioas;

    if (a->__reserved) {
        return -EOPNOTSUPP;
    }
    ioas = ioas_get(ctx, a->ioas_id);
    if (!ioas) {
        return -ENOENT;
    }
    if (a->num_iovas && !in) {
        return -EFAULT;
    }
    for (uint32_t i = 0; i < a->num_iovas; i++) {
        if (in[i].start >= in[i].last) {
            return -EINVAL;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (ranges_overlap(in[i].start, in[i].last, in[j].start, in[j].last)) {
                return -EINVAL;
            }
        }
        if (ioas_hits_resv(ioas, in[i].start, in[i].last)) {
            return -EADDRINUSE;
        }
    }
    g_array_set_size(ioas->allowed, 0);
    g_array_append_vals(ioas->allowed, in, a->num_iovas);
    return 0;
}

uint8_t *sim_ioas_host_ptr(SimIoas *ioas, uint64_t iova, uint64_t len,
                           bool need_write, IommufdSimFaultReason *why)
{
    for (unsigned i = 0; i < ioas->areas->len; i++) {
        SimArea *a = &g_array_index(ioas->areas, SimArea, i);

        if (iova < a->iova || iova - a->iova >= a->length) {
            continue;
        }
        if (len > a->length - (iova - a->iova)) {
            break;   /* crosses the end of the area: next bytes are checked separately */
        }
        if (need_write ? !a->writable : !a->readable) {
            *why = IOMMUFD_SIM_FAULT_S2_PERM;
            return NULL;
        }
        return a->host + (iova - a->iova);
    }
    *why = IOMMUFD_SIM_FAULT_S2_UNMAPPED;
    return NULL;
}
