/*
 * Nested translation for passthrough devices: the public entry points
 * (vtdnest/intel-iommu.h), the realize-time capability checks, the hooks
 * from vtd-core and the state report. The work itself is in vtd-nest-s2.c,
 * vtd-nest-pasid.c and vtd-nest-inval.c (see vtd-nesting.h).
 */
#include <errno.h>

#include "hw/intel-iommu/vtd-nesting.h"

#define NEST_ERROR (g_quark_from_static_string("vtd-nesting-error"))

/* ---- Lifetime ----------------------------------------------------------- */

static void nest_on_root_table(VtdState *s);
static void nest_on_translation(VtdState *s);
static void nest_on_reset(VtdState *s);
static void nest_on_destroy(VtdState *s);

static const VtdNestHooks nest_hooks = {
    .root_table = nest_on_root_table,
    .translation = nest_on_translation,
    .reset = nest_on_reset,
    .destroy = nest_on_destroy,
};

static VtdNesting *nesting_get(VtdState *s, GError **errp)
{
    VtdNesting *n = s->nesting;

    if (n) {
        return n;
    }
    n = g_new0(VtdNesting, 1);
    n->s = s;
    if (!vtd_inval_add_listener(s, &vtd_nest_inval_listener, n, errp)) {
        g_prefix_error(errp, "intel-iommu: nesting: ");
        g_free(n);
        return NULL;
    }
    s->nesting = n;
    s->nest_hooks = &nest_hooks;
    return n;
}

void vtd_nesting_set_ram_source(VtdState *s, const VtdRamSource *ram)
{
    VtdNesting *n = nesting_get(s, NULL);

    if (n && ram) {
        n->ram = *ram;
        n->has_ram = ram->foreach != NULL;
    }
}

static VtdNestDev *dev_find(VtdNesting *n, const HostIommuDevice *hd)
{
    for (GList *l = n ? n->devs : NULL; l; l = l->next) {
        VtdNestDev *d = l->data;

        if (d->hd == hd) {
            return d;
        }
    }
    return NULL;
}

/* ---- Realize-time checks ------------------------------------------------ */

static bool need(bool ok, GError **errp, const HostIommuDevice *hd,
                 const char *what, const char *fix)
{
    if (!ok) {
        g_set_error(errp, NEST_ERROR, 0, "intel-iommu: passthrough device %s: "
                    "host IOMMU unit %s %s; %s", hd->name, hd->host_unit,
                    what, fix);
    }
    return ok;
}

static bool check_host(VtdState *s, const HostIommuDevice *hd, GError **errp)
{
    const VtdConfig *cfg = &s->cfg;
    uint64_t cap = hd->vtd_cap, ecap = hd->vtd_ecap;
    char what[160], drop_flts[96];

    if (!need(host_iommu_device_is_vtd(hd), errp, hd,
              "is not an Intel VT-d unit (IOMMU_GET_HW_INFO type is not "
              "INTEL_VTD)", "nesting needs a VT-d host")) {
        return false;
    }
    if (!cfg->flts && !cfg->caching_mode) {
        g_set_error(errp, NEST_ERROR, 0, "intel-iommu: passthrough device %s: "
                    "device assignment is not allowed without caching-mode=on "
                    "(or x-flts=on for nested translation)", hd->name);
        return false;
    }
    g_snprintf(what, sizeof(what), "supports %u-bit addresses (CAP.MGAW), "
               "less than the guest's aw-bits=%u", hd->aw_bits, cfg->aw_bits);
    if (!need(!hd->aw_bits || cfg->aw_bits <= hd->aw_bits, errp, hd, what,
              "lower aw-bits")) {
        return false;
    }
    g_snprintf(what, sizeof(what), "supports %u PASID bits, fewer than the "
               "guest's pasid-bits=%u", hd->max_pasid_log2, cfg->pasid_bits);
    if (!need(cfg->pasid_bits <= hd->max_pasid_log2, errp, hd, what,
              "lower pasid-bits (0 disables PASIDs)")) {
        return false;
    }
    if (!cfg->flts) {
        /* Nothing nests: stage-2 HWPTs are plain paging domains and the
         * shadow path serves translated domains, so the host's nesting
         * capabilities do not matter (vtd_nest_s2_nest_parent). */
        return true;
    }
    /* The fix names the option as the user spelled it (flts, x-flts...). */
    g_snprintf(drop_flts, sizeof(drop_flts), "set %s=off (a guest without "
               "first-stage tables needs no host nesting)",
               cfg->flts_name ? cfg->flts_name : "flts");
    return need(ecap & VTD_ECAP_SMTS, errp, hd,
                "lacks scalable mode (ECAP.SMTS)", drop_flts) &&
           need(ecap & VTD_ECAP_NEST, errp, hd,
                "lacks nested translation (ECAP.NEST)", drop_flts) &&
           need(ecap & VTD_ECAP_FSTS, errp, hd,
                "lacks first-stage translation (ECAP.FSTS)", drop_flts) &&
           need(ecap & VTD_ECAP_SSTS, errp, hd,
                "lacks second-stage translation (ECAP.SSTS)", drop_flts) &&
           need(!cfg->fs1gp || (cap & VTD_CAP_FS1GP), errp, hd,
                "lacks first-stage 1 GiB pages (CAP.FS1GP)", "set fs1gp=off") &&
           need(!cfg->x_fs5lp || (cap & VTD_CAP_FS5LP), errp, hd,
                "lacks 5-level first-stage tables (CAP.FS5LP)",
                "set x-fs5lp=off") &&
           need(!cfg->x_srs || (ecap & VTD_ECAP_SRS), errp, hd,
                "lacks supervisor requests (ECAP.SRS)", "set x-srs=off") &&
           need(!cfg->x_eafs || (ecap & VTD_ECAP_EAFS), errp, hd,
                "lacks extended accessed flags (ECAP.EAFS)", "set x-eafs=off");
}

/* ---- Public entry points ------------------------------------------------ */

static void dev_free(VtdNesting *n, VtdNestDev *d)
{
    if (d->rid) {
        vtd_nest_dev_release(d);
    }
    vtd_nest_s2_leave(n, d);
    vtd_nest_fault_leave(n, d);     /* after every HWPT that reported into it */
    n->devs = g_list_remove(n->devs, d);
    g_hash_table_destroy(d->pasids);
    g_array_unref(d->orphans);
    g_free(d);
}

bool vtd_set_host_device(VtdState *s, HostIommuDevice *hd, GError **errp)
{
    VtdNesting *n;
    VtdNestDev *d;

    if (dev_find(s->nesting, hd)) {
        g_set_error(errp, NEST_ERROR, 0, "intel-iommu: passthrough device %s "
                    "is already registered", hd->name);
        return false;
    }
    if (!check_host(s, hd, errp)) {
        return false;
    }
    n = nesting_get(s, errp);
    if (!n) {
        return false;
    }
    if (!n->has_ram) {
        g_set_error(errp, NEST_ERROR, 0, "intel-iommu: passthrough device %s: "
                    "the machine gave the IOMMU no view of guest RAM "
                    "(vtd_nesting_set_ram_source)", hd->name);
        return false;
    }
    d = g_new0(VtdNestDev, 1);
    d->n = n;
    d->hd = hd;
    d->use_pasid = s->cfg.pasid_bits > 0 && hd->max_pasid_log2 > 0;
    d->pasids = g_hash_table_new(NULL, NULL);
    d->orphans = g_array_new(false, false, sizeof(uint32_t));
    /* The fault queue first: nested HWPTs are allocated with its id. */
    if (!vtd_nest_fault_join(n, d, errp) || !vtd_nest_s2_join(n, d, errp)) {
        vtd_nest_fault_leave(n, d);
        g_hash_table_destroy(d->pasids);
        g_array_unref(d->orphans);
        g_free(d);
        return false;
    }
    n->devs = g_list_append(n->devs, d);
    /* The join left the RID on stage 2; now follow the guest's tables. */
    d->rid = vtd_nest_shadow_new(d, 0, true);
    d->rid->kind = VTD_SHADOW_S2;
    d->rid->why = NULL;
    g_clear_error(&n->deferred);
    vtd_nest_dev_refresh(d, true);
    if (n->deferred) {
        g_propagate_error(errp, n->deferred);
        n->deferred = NULL;
        dev_free(n, d);
        return false;
    }
    return true;
}

void vtd_unset_host_device(VtdState *s, HostIommuDevice *hd)
{
    VtdNestDev *d = dev_find(s->nesting, hd);

    if (d) {
        dev_free(s->nesting, d);
    }
}

static void refresh_all(VtdNesting *n, bool scan)
{
    for (GList *l = n->devs; l; l = l->next) {
        vtd_nest_dev_refresh(l->data, scan);
    }
}

void vtd_nesting_resync(VtdState *s)
{
    if (s->nesting) {
        refresh_all(s->nesting, true);
    }
}

/* ---- Hooks from vtd-core ------------------------------------------------ */

/* A new root table: re-read everything from it (with translation off the
 * refresh keeps stage 2, which is what untranslated DMA needs). */
static void nest_on_root_table(VtdState *s)
{
    vtd_nest_fault_drop_stale(s->nesting, false);
    refresh_all(s->nesting, true);
}

static void nest_on_translation(VtdState *s)
{
    vtd_nest_fault_drop_stale(s->nesting, false);   /* TE off: none taken */
    refresh_all(s->nesting, true);
}

static void nest_on_reset(VtdState *s)
{
    vtd_nest_fault_drop_stale(s->nesting, true);
    refresh_all(s->nesting, false);
    g_clear_error(&s->nesting->deferred);
}

static void nest_on_destroy(VtdState *s)
{
    VtdNesting *n = s->nesting;

    while (n->devs) {
        dev_free(n, n->devs->data);
    }
    vtd_inval_remove_listener(s, &vtd_nest_inval_listener, n);
    vtd_nest_ss_fini(n);
    g_clear_error(&n->deferred);
    s->nesting = NULL;
    s->nest_hooks = NULL;
    g_free(n);
}

/* ---- Report ------------------------------------------------------------- */

static void count_shadow(VtdNestShadow *sh, void *opaque)
{
    unsigned *nested = opaque;

    *nested += sh->kind == VTD_SHADOW_NESTED;
}

void vtd_nesting_counts(VtdState *s, VtdNestingCounts *out)
{
    VtdNesting *n = s->nesting;

    memset(out, 0, sizeof(*out));
    if (!n) {
        return;
    }
    out->containers = g_list_length(n->containers);
    for (GList *l = n->containers; l; l = l->next) {
        out->s2_hwpts += g_list_length(((VtdNestContainer *)l->data)->hwpts);
    }
    out->devices = g_list_length(n->devs);
    vtd_nest_foreach_shadow(n, count_shadow, &out->nested_hwpts);
    out->host_inval_calls = n->host_inval_calls;
    out->host_inval_entries = n->host_inval_entries;
}

static const char *kind_name(VtdShadowKind k)
{
    switch (k) {
    case VTD_SHADOW_S2:
        return "stage2";
    case VTD_SHADOW_NESTED:
        return "nested";
    case VTD_SHADOW_SS:
        return "shadow";
    default:
        return "blocked";
    }
}

static GVariant *container_report(VtdNestContainer *c)
{
    GVariantBuilder b, hw;

    g_variant_builder_init(&hw, G_VARIANT_TYPE("aa{sv}"));
    for (GList *l = c->hwpts; l; l = l->next) {
        VtdS2Hwpt *h = l->data;
        GVariantBuilder e, users;

        g_variant_builder_init(&users, G_VARIANT_TYPE("as"));
        for (GList *u = h->users; u; u = u->next) {
            g_variant_builder_add(&users, "s", ((VtdNestDev *)u->data)->hd->name);
        }
        g_variant_builder_init(&e, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&e, "{sv}", "id", g_variant_new_uint32(h->hwpt_id));
        g_variant_builder_add(&e, "{sv}", "coherent", g_variant_new_boolean(h->coherent));
        g_variant_builder_add(&e, "{sv}", "users", g_variant_builder_end(&users));
        g_variant_builder_add_value(&hw, g_variant_builder_end(&e));
    }
    g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&b, "{sv}", "iommufd", g_variant_new_string(c->iommufd_id));
    g_variant_builder_add(&b, "{sv}", "ioas", g_variant_new_uint32(c->ioas_id));
    g_variant_builder_add(&b, "{sv}", "ro-free", g_variant_new_boolean(c->ro_free));
    g_variant_builder_add(&b, "{sv}", "nest-parent",
                          g_variant_new_boolean(c->nest_parent));
    g_variant_builder_add(&b, "{sv}", "hwpts", g_variant_builder_end(&hw));
    return g_variant_builder_end(&b);
}

static GVariant *shadow_report(const VtdNestShadow *sh)
{
    GVariantBuilder b;

    g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&b, "{sv}", "pasid", g_variant_new_uint32(sh->pasid));
    g_variant_builder_add(&b, "{sv}", "rid", g_variant_new_boolean(sh->on_rid));
    g_variant_builder_add(&b, "{sv}", "kind", g_variant_new_string(kind_name(sh->kind)));
    if (sh->kind == VTD_SHADOW_NESTED) {
        g_variant_builder_add(&b, "{sv}", "did", g_variant_new_uint32(sh->did));
        g_variant_builder_add(&b, "{sv}", "hwpt", g_variant_new_uint32(sh->nested_id));
        g_variant_builder_add(&b, "{sv}", "fsptptr",
                              g_variant_new_uint64(sh->s1.pgtbl_addr));
        g_variant_builder_add(&b, "{sv}", "addr-width",
                              g_variant_new_uint32(sh->s1.addr_width));
    } else if (sh->kind == VTD_SHADOW_SS && sh->ss) {
        /* The shadow domain mirroring the guest's SS table */
        const VtdSsDomain *dom = sh->ss->dom;

        g_variant_builder_add(&b, "{sv}", "did", g_variant_new_uint32(sh->did));
        g_variant_builder_add(&b, "{sv}", "hwpt", g_variant_new_uint32(sh->ss->hwpt_id));
        g_variant_builder_add(&b, "{sv}", "ioas", g_variant_new_uint32(dom->ioas_id));
        g_variant_builder_add(&b, "{sv}", "ssptptr", g_variant_new_uint64(dom->key.root));
        g_variant_builder_add(&b, "{sv}", "legacy", g_variant_new_boolean(dom->key.legacy));
        g_variant_builder_add(&b, "{sv}", "mappings",
                              g_variant_new_uint32(g_tree_nnodes(dom->maps)));
    } else if (sh->kind == VTD_SHADOW_BLOCKED && sh->why) {
        g_variant_builder_add(&b, "{sv}", "why", g_variant_new_string(sh->why));
    }
    return g_variant_builder_end(&b);
}

static gint pasid_cmp(gconstpointer a, gconstpointer b)
{
    const VtdNestShadow *x = a, *y = b;

    return x->pasid < y->pasid ? -1 : x->pasid > y->pasid;
}

static GVariant *dev_report(VtdNestDev *d)
{
    GVariantBuilder b, att;
    GList *vals = g_list_sort(g_hash_table_get_values(d->pasids), pasid_cmp);

    g_variant_builder_init(&att, G_VARIANT_TYPE("aa{sv}"));
    g_variant_builder_add_value(&att, shadow_report(d->rid));
    for (GList *l = vals; l; l = l->next) {
        g_variant_builder_add_value(&att, shadow_report(l->data));
    }
    g_list_free(vals);
    g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&b, "{sv}", "name", g_variant_new_string(d->hd->name));
    g_variant_builder_add(&b, "{sv}", "host",
                          g_variant_new_string(d->hd->host_bdf ? d->hd->host_bdf : ""));
    g_variant_builder_add(&b, "{sv}", "sid", g_variant_new_uint16(d->hd->guest_sid));
    g_variant_builder_add(&b, "{sv}", "s2-hwpt",
                          g_variant_new_uint32(d->s2 ? d->s2->hwpt_id : 0));
    g_variant_builder_add(&b, "{sv}", "attachments", g_variant_builder_end(&att));
    return g_variant_builder_end(&b);
}

GVariant *vtd_nesting_report(VtdState *s)
{
    VtdNesting *n = s->nesting;
    GVariantBuilder b, cs, ds;

    g_variant_builder_init(&cs, G_VARIANT_TYPE("aa{sv}"));
    g_variant_builder_init(&ds, G_VARIANT_TYPE("aa{sv}"));
    for (GList *l = n ? n->containers : NULL; l; l = l->next) {
        g_variant_builder_add_value(&cs, container_report(l->data));
    }
    for (GList *l = n ? n->devs : NULL; l; l = l->next) {
        g_variant_builder_add_value(&ds, dev_report(l->data));
    }
    g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
    g_variant_builder_add(&b, "{sv}", "containers", g_variant_builder_end(&cs));
    g_variant_builder_add(&b, "{sv}", "devices", g_variant_builder_end(&ds));
    g_variant_builder_add(&b, "{sv}", "host-invalidate-calls",
                          g_variant_new_uint64(n ? n->host_inval_calls : 0));
    g_variant_builder_add(&b, "{sv}", "host-invalidate-entries",
                          g_variant_new_uint64(n ? n->host_inval_entries : 0));
    return g_variant_builder_end(&b);
}

char *vtd_nesting_report_text(VtdState *s)
{
    VtdNesting *n = s->nesting;
    GString *out = g_string_new(NULL);

    for (GList *l = n ? n->containers : NULL; l; l = l->next) {
        VtdNestContainer *c = l->data;

        g_string_append_printf(out, "container iommufd=%s ioas=%u%s%s\n",
                               c->iommufd_id, c->ioas_id,
                               c->nest_parent ? " nest-parent" : "",
                               c->ro_free ? " ro-free" : "");
        for (GList *h = c->hwpts; h; h = h->next) {
            VtdS2Hwpt *w = h->data;

            g_string_append_printf(out, "  s2-hwpt %u%s users:", w->hwpt_id,
                                   w->coherent ? " coherent" : "");
            for (GList *u = w->users; u; u = u->next) {
                g_string_append_printf(out, " %s", ((VtdNestDev *)u->data)->hd->name);
            }
            g_string_append_c(out, '\n');
        }
    }
    for (GList *l = n ? n->devs : NULL; l; l = l->next) {
        VtdNestDev *d = l->data;
        GList *vals = g_list_sort(g_hash_table_get_values(d->pasids), pasid_cmp);

        vals = g_list_prepend(vals, d->rid);
        g_string_append_printf(out, "device %s host=%s sid=%04x s2-hwpt=%u\n",
                               d->hd->name, d->hd->host_bdf ? d->hd->host_bdf : "-",
                               d->hd->guest_sid, d->s2 ? d->s2->hwpt_id : 0);
        for (GList *v = vals; v; v = v->next) {
            VtdNestShadow *sh = v->data;

            g_string_append_printf(out, "  %s %u: %s", sh->on_rid ? "rid-pasid" : "pasid",
                                   sh->pasid, kind_name(sh->kind));
            if (sh->kind == VTD_SHADOW_NESTED) {
                g_string_append_printf(out, " hwpt=%u did=%u fsptptr=0x%" G_GINT64_MODIFIER
                                       "x aw=%u", sh->nested_id, sh->did,
                                       (uint64_t)sh->s1.pgtbl_addr, sh->s1.addr_width);
            } else if (sh->kind == VTD_SHADOW_SS && sh->ss) {
                g_string_append_printf(out, " hwpt=%u did=%u ioas=%u ssptptr=0x%"
                                       G_GINT64_MODIFIER "x%s mappings=%d",
                                       sh->ss->hwpt_id, sh->did, sh->ss->dom->ioas_id,
                                       sh->ss->dom->key.root,
                                       sh->ss->dom->key.legacy ? " legacy" : "",
                                       g_tree_nnodes(sh->ss->dom->maps));
            } else if (sh->kind == VTD_SHADOW_BLOCKED && sh->why) {
                g_string_append_printf(out, " (%s)", sh->why);
            }
            g_string_append_c(out, '\n');
        }
        g_list_free(vals);
    }
    g_string_append_printf(out, "host-invalidate calls=%" G_GUINT64_FORMAT
                           " entries=%" G_GUINT64_FORMAT "\n",
                           n ? n->host_inval_calls : 0,
                           n ? n->host_inval_entries : 0);
    return g_string_free(out, false);
}
