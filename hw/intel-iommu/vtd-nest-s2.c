/*
 * Stage 2 for passthrough devices: GPA -> host memory.
 *
 * A container is one IOAS with every guest RAM block mapped at its GPA, per
 * iommufd object. Inside a container, devices share stage-2 HWPTs: a device
 * tries the existing ones and gets a new one only when the host refuses the
 * attach as incompatible (EINVAL: e.g. cache coherency enforcement differs).
 * Everything is freed with its last user.
 *
 * The HWPTs are nest parents only when the guest can program first-stage
 * tables (flts=on): only then is anything nested on them. Without flts they
 * are plain paging HWPTs (used while TE=0 and for pass-through entries; the
 * shadow path serves translated domains), which a host without nesting
 * support (ECAP.NEST=0) can allocate too. ERRATA_772415 makes nest parents
 * refuse read-only mappings, so only nest-parent containers of errata units
 * need the variant without read-only RAM ("RO-free").
 */
#include <errno.h>

#include "hw/intel-iommu/vtd-nesting.h"

bool vtd_nest_s2_nest_parent(const VtdNesting *n)
{
    return n->s->cfg.flts;
}

uint32_t vtd_nest_s2_hwpt_flags(const VtdNestDev *d)
{
    /* PASID attachments need every HWPT of the device to allow them. */
    return (vtd_nest_s2_nest_parent(d->n) ? IOMMU_HWPT_ALLOC_NEST_PARENT : 0) |
           (d->use_pasid ? IOMMU_HWPT_ALLOC_PASID : 0);
}

/* The errata refuses read-only maps into nest parents only (iommufd-uapi.md
 * §3.6); a plain paging container maps read-only RAM like any other. */
static bool container_ro_free(const VtdNesting *n, const HostIommuDevice *hd)
{
    return hd->errata_772415 && vtd_nest_s2_nest_parent(n);
}

static VtdNestContainer *container_find(VtdNesting *n, const HostIommuDevice *hd)
{
    for (GList *l = n->containers; l; l = l->next) {
        VtdNestContainer *c = l->data;

        if (c->be == hd->be && c->ro_free == container_ro_free(n, hd)) {
            return c;
        }
    }
    return NULL;
}

typedef struct MapCtx {
    VtdNestContainer *c;
    GArray *allowed;        /* struct iommu_iova_range, NULL: not checked */
    const HostIommuDevice *hd;
} MapCtx;

/* Guest RAM must not fall in a hole the host reserves (MSI window, RMRR):
 * DMA there would silently go elsewhere. */
static bool check_block_allowed(MapCtx *m, uint64_t gpa, uint64_t size,
                                GError **errp)
{
    uint64_t last = gpa + size - 1;
    uint64_t cur = gpa;

    if (!m->allowed) {
        return true;
    }
    /* Walk the allowed ranges (sorted) and require [gpa, last] covered. */
    for (guint i = 0; i < m->allowed->len && cur <= last; i++) {
        const struct iommu_iova_range *r =
            &g_array_index(m->allowed, struct iommu_iova_range, i);

        if (r->start <= cur && r->last >= cur) {
            if (r->last >= last) {
                return true;
            }
            cur = r->last + 1;
        }
    }
    g_set_error(errp, IOMMUFD_ERROR, EADDRINUSE,
                "%s: guest RAM 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                "x overlaps an IOVA range the host IOMMU unit %s reserves "
                "(from 0x%" G_GINT64_MODIFIER "x); move guest RAM (-m) "
                "below it or use another host device",
                m->hd->name, gpa, last, m->hd->host_unit, cur);
    return false;
}

static bool map_block(void *ctx, uint64_t gpa, uint64_t size, void *host,
                      bool readonly, GError **errp)
{
    MapCtx *m = ctx;

    if (!size) {
        return true;
    }
    if (!check_block_allowed(m, gpa, size, errp)) {
        return false;
    }
    if (readonly && m->c->ro_free) {
        return true;    /* the errata: read-only RAM is not DMA-mappable */
    }
    if (!m->c->mapped || !m->c->ioas_id) {
        return true;
    }
    return iommufd_backend_map(m->c->be, m->c->ioas_id, gpa, size, host,
                               readonly, errp);
}

/* Checks (and with c->mapped false, maps) guest RAM against the IOAS. */
static bool container_sync_ram(VtdNesting *n, VtdNestContainer *c,
                               const HostIommuDevice *hd, bool map,
                               GError **errp)
{
    MapCtx m = { .c = c, .hd = hd };
    bool ok;

    if (!n->has_ram) {
        if (map) {
            c->mapped = true;
        }
        return true;
    }
    m.allowed = iommufd_backend_get_iova_ranges(c->be, c->ioas_id, NULL, errp);
    if (!m.allowed) {
        return false;
    }
    if (map) {
        c->mapped = true;   /* map_block maps only when set */
    }
    ok = n->ram.foreach(n->ram.opaque, map_block, &m, errp);
    g_array_unref(m.allowed);
    if (!ok && map) {
        GError *ignored = NULL;

        /* Leave an empty IOAS behind, never a partial one. */
        iommufd_backend_unmap(c->be, c->ioas_id, 0, UINT64_MAX, NULL, &ignored);
        g_clear_error(&ignored);
        c->mapped = false;
    }
    return ok;
}

static bool check_only_block(void *ctx, uint64_t gpa, uint64_t size,
                             void *host, bool readonly, GError **errp)
{
    return !size || check_block_allowed(ctx, gpa, size, errp);
}

static bool container_check_ram(VtdNesting *n, VtdNestContainer *c,
                                const HostIommuDevice *hd, GError **errp)
{
    MapCtx m = { .c = c, .hd = hd };
    bool ok;

    if (!n->has_ram) {
        return true;
    }
    m.allowed = iommufd_backend_get_iova_ranges(c->be, c->ioas_id, NULL, errp);
    if (!m.allowed) {
        return false;
    }
    ok = n->ram.foreach(n->ram.opaque, check_only_block, &m, errp);
    g_array_unref(m.allowed);
    return ok;
}

static void destroy_quietly(IommufdBackend *be, uint32_t id)
{
    GError *err = NULL;

    if (id && !iommufd_backend_destroy(be, id, &err)) {
        g_warning("nesting: %s", err->message);
        g_error_free(err);
    }
}

static void container_free(VtdNesting *n, VtdNestContainer *c)
{
    GError *err = NULL;

    if (c->mapped && c->ioas_id &&
        !iommufd_backend_unmap(c->be, c->ioas_id, 0, UINT64_MAX, NULL, &err)) {
        g_warning("nesting: %s", err->message);
        g_clear_error(&err);
    }
    destroy_quietly(c->be, c->ioas_id);
    n->containers = g_list_remove(n->containers, c);
    g_free(c->iommufd_id);
    g_free(c);
}

static void s2_hwpt_free(VtdS2Hwpt *h)
{
    destroy_quietly(h->c->be, h->hwpt_id);
    h->c->hwpts = g_list_remove(h->c->hwpts, h);
    g_free(h);
}

/* Attach d's RID to h; true when it worked, *incompatible when the host said
 * EINVAL (try another HWPT). */
static bool try_attach(VtdNestDev *d, VtdS2Hwpt *h, bool *incompatible,
                       GError **errp)
{
    GError *err = NULL;

    *incompatible = false;
    if (host_iommu_device_attach(d->hd, IOMMU_NO_PASID, h->hwpt_id, &err)) {
        return true;
    }
    if (g_error_matches(err, IOMMUFD_ERROR, EINVAL)) {
        *incompatible = true;
    }
    g_propagate_error(errp, err);
    return false;
}

static void s2_add_user(VtdS2Hwpt *h, VtdNestDev *d)
{
    h->users = g_list_append(h->users, d);
    d->s2 = h;
}

/* A new HWPT in c for d, attached. */
static bool s2_hwpt_create(VtdNesting *n, VtdNestContainer *c, VtdNestDev *d,
                           GError **errp)
{
    VtdS2Hwpt *h = g_new0(VtdS2Hwpt, 1);
    bool incompatible;

    h->c = c;
    h->coherent = d->hd->coherent;
    if (!iommufd_backend_alloc_hwpt(c->be, d->hd->dev_id, c->ioas_id,
                                    vtd_nest_s2_hwpt_flags(d),
                                    IOMMU_HWPT_DATA_NONE, NULL, 0, 0,
                                    &h->hwpt_id, errp)) {
        g_prefix_error(errp, "%s: cannot allocate a %s HWPT on host unit "
                       "%s: ", d->hd->name, c->nest_parent ? "nesting-parent"
                       : "stage-2", d->hd->host_unit);
        g_free(h);
        return false;
    }
    if (!try_attach(d, h, &incompatible, errp)) {
        destroy_quietly(c->be, h->hwpt_id);
        g_free(h);
        return false;
    }
    c->hwpts = g_list_append(c->hwpts, h);
    s2_add_user(h, d);
    return true;
}

static void s2_detach_quietly(VtdNestDev *d)
{
    GError *err = NULL;

    if (!host_iommu_device_detach(d->hd, IOMMU_NO_PASID, &err)) {
        g_clear_error(&err);
    }
}

bool vtd_nest_s2_join(VtdNesting *n, VtdNestDev *d, GError **errp)
{
    VtdNestContainer *c = container_find(n, d->hd);
    GError *last = NULL;

    if (!c) {
        /* New container: the first HWPT is attached before RAM is mapped,
         * so the host can still pick its coherency mode. */
        c = g_new0(VtdNestContainer, 1);
        c->n = n;
        c->be = d->hd->be;
        c->iommufd_id = g_strdup(d->hd->iommufd_id ? d->hd->iommufd_id : "?");
        c->nest_parent = vtd_nest_s2_nest_parent(n);
        c->ro_free = container_ro_free(n, d->hd);
        c->seq = n->next_seq++;
        if (!iommufd_backend_alloc_ioas(c->be, &c->ioas_id, errp)) {
            g_prefix_error(errp, "%s: cannot create the stage-2 IOAS: ",
                           d->hd->name);
            g_free(c->iommufd_id);
            g_free(c);
            return false;
        }
        n->containers = g_list_append(n->containers, c);
        if (!s2_hwpt_create(n, c, d, errp)) {
            container_free(n, c);
            return false;
        }
        if (!container_sync_ram(n, c, d->hd, true, errp)) {
            s2_detach_quietly(d);
            d->s2->users = g_list_remove(d->s2->users, d);
            s2_hwpt_free(d->s2);
            d->s2 = NULL;
            container_free(n, c);
            return false;
        }
        return true;
    }

    for (GList *l = c->hwpts; l; l = l->next) {
        VtdS2Hwpt *h = l->data;
        bool incompatible;

        if (try_attach(d, h, &incompatible, &last)) {
            if (!container_check_ram(n, c, d->hd, errp)) {
                s2_detach_quietly(d);
                g_clear_error(&last);
                return false;
            }
            g_clear_error(&last);
            s2_add_user(h, d);
            return true;
        }
        if (!incompatible) {
            g_propagate_prefixed_error(errp, last, "%s: cannot attach to the "
                                       "shared stage-2 HWPT %u: ",
                                       d->hd->name, h->hwpt_id);
            return false;
        }
        g_clear_error(&last);
    }
    /* Incompatible with every HWPT there (or none yet): its own one. */
    if (!s2_hwpt_create(n, c, d, errp)) {
        if (!c->hwpts) {
            container_free(n, c);
        }
        return false;
    }
    if (!container_check_ram(n, c, d->hd, errp)) {
        VtdS2Hwpt *h = d->s2;

        s2_detach_quietly(d);
        h->users = g_list_remove(h->users, d);
        s2_hwpt_free(h);
        d->s2 = NULL;
        return false;
    }
    return true;
}

void vtd_nest_s2_leave(VtdNesting *n, VtdNestDev *d)
{
    VtdS2Hwpt *h = d->s2;
    VtdNestContainer *c;

    if (!h) {
        return;
    }
    c = h->c;
    h->users = g_list_remove(h->users, d);
    d->s2 = NULL;
    if (!h->users) {
        s2_hwpt_free(h);
    }
    if (!c->hwpts) {
        container_free(n, c);
    }
}
