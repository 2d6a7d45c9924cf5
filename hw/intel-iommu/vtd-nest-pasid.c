/*
 * Stage 1 for passthrough devices: shadowing guest PASID entries.
 *
 * For each (device, PASID) the guest's tables are read afresh and turned
 * into one of three host attachments (VtdShadowKind):
 *   PGTT=first-stage  -> a nested HWPT (guest FSPTPTR over the device's
 *                        stage-2 HWPT), made before the old one is broken;
 *   PGTT=pass-through -> the stage-2 HWPT itself (output = GPA);
 *   anything else     -> blocked (not present, faulting, or a second-stage
 *                        table, which would need the shadow path).
 * With translation off (TE=0) DMA is untranslated, so the RID gets stage 2
 * and PASID attachments go away. The RID carries RID_PASID's shadow; other
 * PASIDs are attached per PASID.
 *
 * Host failures here happen while the unit processes an invalidation, which
 * cannot fail on the spot: they are kept for the next wait descriptor, which
 * then reports an invalidation completion error to the guest. The shadow
 * always records what is really attached on the host.
 */
#include <errno.h>

#include "hw/intel-iommu/vtd-nesting.h"

void vtd_nest_defer_error(VtdNesting *n, GError *err)
{
    g_warning("nesting: %s", err->message);
    if (!n->deferred) {
        n->deferred = err;
    } else {
        g_error_free(err);
    }
}

VtdNestShadow *vtd_nest_shadow_new(VtdNestDev *d, uint32_t pasid, bool on_rid)
{
    VtdNestShadow *sh = g_new0(VtdNestShadow, 1);

    sh->dev = d;
    sh->pasid = pasid;
    sh->on_rid = on_rid;
    sh->kind = VTD_SHADOW_BLOCKED;
    sh->why = "not evaluated yet";
    sh->pending = g_array_new(false, true,
                              sizeof(struct iommu_hwpt_vtd_s1_invalidate));
    return sh;
}

static void shadow_free(VtdNestShadow *sh)
{
    vtd_nest_ss_release(sh);    /* its SS shadow domain, if any */
    g_array_unref(sh->pending);
    g_free(sh);
}

/* The uAPI PASID of a shadow's attachment. */
static uint32_t shadow_host_pasid(const VtdNestShadow *sh)
{
    return sh->on_rid ? IOMMU_NO_PASID : sh->pasid;
}

static const char *shadow_where(const VtdNestShadow *sh, char *buf, size_t len)
{
    if (sh->on_rid) {
        g_snprintf(buf, len, "requests without PASID (RID_PASID %u)", sh->pasid);
    } else {
        g_snprintf(buf, len, "PASID %u", sh->pasid);
    }
    return buf;
}

static void defer(VtdNestShadow *sh, const char *what, GError *err)
{
    char where[64];

    g_prefix_error(&err, "%s: %s: %s: ", sh->dev->hd->name,
                   shadow_where(sh, where, sizeof(where)), what);
    vtd_nest_defer_error(sh->dev->n, err);
}

static void destroy_nested(VtdNestShadow *sh, uint32_t id)
{
    GError *err = NULL;

    if (id && !iommufd_backend_destroy(sh->dev->hd->be, id, &err)) {
        /* Not attached any more: retried at the next sync and at unplug. */
        g_array_append_val(sh->dev->orphans, id);
        defer(sh, "cannot destroy the old first-stage HWPT", err);
    }
}

bool vtd_nest_dev_retry_orphans(VtdNestDev *d)
{
    bool progress = true;

    /* Again while something went: an IOAS stays busy until the shadow
     * HWPT on it (maybe later in the list) is gone. */
    while (progress) {
        progress = false;
        for (guint i = 0; i < d->orphans->len;) {
            uint32_t id = g_array_index(d->orphans, uint32_t, i);
            GError *err = NULL;

            if (iommufd_backend_destroy(d->hd->be, id, &err)) {
                g_array_remove_index(d->orphans, i);
                progress = true;
            } else {
                g_error_free(err);
                i++;
            }
        }
    }
    return d->orphans->len == 0;
}

/* Old nested HWPT (if any) is gone from the host's view: forget it. */
static void shadow_set(VtdNestShadow *sh, VtdShadowKind kind, uint32_t nested,
                       const struct iommu_hwpt_vtd_s1 *s1, uint16_t did,
                       const char *why)
{
    uint32_t old = sh->kind == VTD_SHADOW_NESTED ? sh->nested_id : 0;

    sh->kind = kind;
    sh->nested_id = nested;
    sh->did = did;
    sh->why = why;
    if (s1) {
        sh->s1 = *s1;
    } else {
        memset(&sh->s1, 0, sizeof(sh->s1));
    }
    /* Queued invalidations were for the old HWPT; a new one starts empty. */
    vtd_nest_shadow_drop_pending(sh);
    if (kind != VTD_SHADOW_SS) {
        vtd_nest_ss_release(sh);    /* left its SS shadow domain */
    }
    if (old && old != nested) {
        destroy_nested(sh, old);
    }
}

static void shadow_block(VtdNestShadow *sh, const char *why)
{
    GError *err = NULL;

    if (sh->kind == VTD_SHADOW_BLOCKED) {
        sh->why = why;
        return;
    }
    if (!host_iommu_device_detach(sh->dev->hd, shadow_host_pasid(sh), &err)) {
        /* Still attached to the old translation: say so, keep the record. */
        defer(sh, "cannot block DMA", err);
        return;
    }
    shadow_set(sh, VTD_SHADOW_BLOCKED, 0, NULL, 0, why);
}

static void shadow_stage2(VtdNestShadow *sh)
{
    GError *err = NULL;

    if (sh->kind == VTD_SHADOW_S2) {
        return;
    }
    if (!host_iommu_device_attach(sh->dev->hd, shadow_host_pasid(sh),
                                  sh->dev->s2->hwpt_id, &err)) {
        defer(sh, "cannot attach the stage-2 HWPT", err);
        shadow_block(sh, "host refused the stage-2 attach");
        return;
    }
    shadow_set(sh, VTD_SHADOW_S2, 0, NULL, 0, NULL);
}

static void shadow_nested(VtdNestShadow *sh, const struct iommu_hwpt_vtd_s1 *s1,
                          uint16_t did)
{
    VtdNestDev *d = sh->dev;
    uint32_t id = 0;
    GError *err = NULL;

    if (sh->kind == VTD_SHADOW_NESTED && !memcmp(&sh->s1, s1, sizeof(*s1))) {
        sh->did = did;      /* same tables; only the tag changed */
        return;
    }
    /* With a fault queue, first-stage faults reach the guest (nest-fault). */
    if (!iommufd_backend_alloc_hwpt(d->hd->be, d->hd->dev_id, d->s2->hwpt_id,
                                    (d->use_pasid ? IOMMU_HWPT_ALLOC_PASID : 0) |
                                    vtd_nest_fault_hwpt_flags(d),
                                    IOMMU_HWPT_DATA_VTD_S1, s1, sizeof(*s1),
                                    vtd_nest_fault_id(d), &id, &err)) {
        defer(sh, "cannot allocate a first-stage HWPT", err);
        shadow_block(sh, "host refused the first-stage HWPT");
        return;
    }
    /* Make before break: the attach replaces the old translation. */
    if (!host_iommu_device_attach(d->hd, shadow_host_pasid(sh), id, &err)) {
        GError *e2 = NULL;

        defer(sh, "cannot attach the first-stage HWPT", err);
        if (!iommufd_backend_destroy(d->hd->be, id, &e2)) {
            defer(sh, "cannot destroy the unused first-stage HWPT", e2);
        }
        shadow_block(sh, "host refused the first-stage attach");
        return;
    }
    shadow_set(sh, VTD_SHADOW_NESTED, id, s1, did, NULL);
}

/* A guest second-stage table, mirrored into a shadow IOAS
 * (vtd-nest-shadow.c); made before broken like the others. */
static void shadow_ss(VtdNestShadow *sh, const VtdSsKey *key)
{
    GError *err = NULL;

    if (sh->kind == VTD_SHADOW_SS && vtd_nest_ss_same(sh, key)) {
        return;
    }
    if (!vtd_nest_ss_attach(sh, key, &err)) {
        defer(sh, "cannot attach the shadow of the guest's second stage", err);
        shadow_block(sh, "host refused the second-stage shadow");
        return;
    }
    shadow_set(sh, VTD_SHADOW_SS, 0, NULL, key->did, NULL);
}

/* ---- Reading the guest's structures ------------------------------------ */

typedef struct Want {
    VtdShadowKind kind;
    struct iommu_hwpt_vtd_s1 s1;
    VtdSsKey ss;            /* kind SS */
    uint16_t did;
    const char *why;
} Want;

static void want_from_entry(VtdNestDev *d, const VtdPasidEntry *pe, Want *w)
{
    switch (pe->pgtt) {
    case VTD_PGTT_FS:
        w->kind = VTD_SHADOW_NESTED;
        w->did = pe->did;
        w->s1.pgtbl_addr = pe->fsptptr;
        w->s1.addr_width = pe->fspm == VTD_FSPM_5LEVEL ? 57 : 48;
        w->s1.flags = (pe->sre ? IOMMU_VTD_S1_SRE : 0) |
                      (pe->wpe ? IOMMU_VTD_S1_WPE : 0) |
                      (pe->eafe ? IOMMU_VTD_S1_EAFE : 0);
        break;
    case VTD_PGTT_PT:
        w->kind = VTD_SHADOW_S2;
        break;
    case VTD_PGTT_SS:       /* nest-shadow */
        w->kind = vtd_nest_ss_want_pasid(d, pe, &w->ss, &w->why);
        w->did = pe->did;
        break;
    default:
        w->kind = VTD_SHADOW_BLOCKED;
        w->why = "nested PGTT (first stage over a guest second stage): not "
                 "supported for passthrough devices";
        break;
    }
}

static void read_want(VtdNestDev *d, const VtdSmContext *ctx, uint32_t pasid,
                      Want *w)
{
    VtdState *s = d->n->s;
    VtdPasidDirEntry dir;
    VtdPasidEntry pe;

    memset(w, 0, sizeof(*w));
    w->kind = VTD_SHADOW_BLOCKED;
    if (pasid >= vtd_sm_ctx_pasid_limit(ctx)) {
        w->why = "PASID beyond the PASID directory";
        return;
    }
    if (vtd_read_pasid_dir_entry(s, ctx->pasid_dir, pasid, &dir) != VTD_FR_NONE ||
        !dir.present) {
        w->why = "PASID-directory entry not present or invalid";
        return;
    }
    if (vtd_read_pasid_entry(s, dir.table, pasid, &pe) != VTD_FR_NONE ||
        !pe.present) {
        w->why = "PASID entry not present or invalid";
        return;
    }
    want_from_entry(d, &pe, w);
}

static void apply_want(VtdNestShadow *sh, const Want *w)
{
    switch (w->kind) {
    case VTD_SHADOW_NESTED:
        shadow_nested(sh, &w->s1, w->did);
        break;
    case VTD_SHADOW_S2:
        shadow_stage2(sh);
        break;
    case VTD_SHADOW_SS:
        shadow_ss(sh, &w->ss);
        break;
    default:
        shadow_block(sh, w->why);
        break;
    }
}

/* Context entry of the device's guest SID; false: none usable. */
static bool read_context(VtdNestDev *d, VtdSmContext *ctx)
{
    return vtd_read_sm_device_context(d->n->s, d->hd->guest_sid, ctx) ==
           VTD_FR_NONE;
}

static void pasid_release(VtdNestDev *d, VtdNestShadow *sh, const char *why)
{
    shadow_block(sh, why);
    if (sh->kind == VTD_SHADOW_BLOCKED) {
        g_hash_table_remove(d->pasids, GUINT_TO_POINTER(sh->pasid));
        shadow_free(sh);
    }
}

static void release_all_pasids(VtdNestDev *d, const char *why)
{
    GList *list = g_hash_table_get_values(d->pasids);

    for (GList *l = list; l; l = l->next) {
        pasid_release(d, l->data, why);
    }
    g_list_free(list);
}

/* Can the host attach this guest PASID on its own? */
static const char *pasid_unusable(VtdNestDev *d, uint32_t pasid)
{
    if (!d->use_pasid) {
        return "PASIDs are not used for this device";
    }
    if (pasid == IOMMUFD_NO_PASID) {
        return "PASID 0 is the host's RID";
    }
    if (pasid >> d->hd->max_pasid_log2) {
        return "PASID beyond what the host device supports";
    }
    return NULL;
}

static void eval_pasid(VtdNestDev *d, const VtdSmContext *ctx, uint32_t pasid)
{
    VtdNestShadow *sh = g_hash_table_lookup(d->pasids, GUINT_TO_POINTER(pasid));
    const char *bad = pasid_unusable(d, pasid);
    Want w;

    if (bad) {
        if (sh) {
            pasid_release(d, sh, bad);
        }
        return;
    }
    read_want(d, ctx, pasid, &w);
    if (!sh) {
        if (w.kind == VTD_SHADOW_BLOCKED) {
            return;     /* nothing attached, nothing to do */
        }
        sh = vtd_nest_shadow_new(d, pasid, false);
        g_hash_table_insert(d->pasids, GUINT_TO_POINTER(pasid), sh);
    }
    apply_want(sh, &w);
    if (sh->kind == VTD_SHADOW_BLOCKED) {
        pasid_release(d, sh, w.why);
    }
}

static void eval_rid(VtdNestDev *d, const VtdSmContext *ctx, uint32_t rid_pasid)
{
    Want w;

    d->rid->pasid = rid_pasid;
    read_want(d, ctx, rid_pasid, &w);
    apply_want(d->rid, &w);
}

/* Present PASID entries of the directory the host can attach. */
static void scan_pasids(VtdNestDev *d, const VtdSmContext *ctx, uint32_t rid_pasid)
{
    VtdState *s = d->n->s;
    uint64_t limit = vtd_sm_ctx_pasid_limit(ctx);

    limit = MIN(limit, 1ULL << d->hd->max_pasid_log2);
    limit = MIN(limit, 1ULL << MIN(s->cfg.pasid_bits, 20u));
    for (uint64_t base = 0; base < limit; base += 64) {
        VtdPasidDirEntry dir;

        if (vtd_read_pasid_dir_entry(s, ctx->pasid_dir, base, &dir) != VTD_FR_NONE ||
            !dir.present) {
            continue;
        }
        for (uint32_t p = base; p < base + 64 && p < limit; p++) {
            VtdPasidEntry pe;

            if (p == rid_pasid || g_hash_table_contains(d->pasids, GUINT_TO_POINTER(p))) {
                continue;
            }
            if (vtd_read_pasid_entry(s, dir.table, p, &pe) == VTD_FR_NONE &&
                pe.present) {
                eval_pasid(d, ctx, p);
            }
        }
    }
}

/* The unit state decides before any table is read; true: tables apply. */
static bool gate(VtdNestDev *d, VtdSmContext *ctx)
{
    VtdState *s = d->n->s;

    if (!s->dmar_enabled) {
        release_all_pasids(d, "translation disabled");
        shadow_stage2(d->rid);
        return false;
    }
    if (s->ttm != VTD_TTM_SCALABLE) {
        Want w = { 0 };

        /* The context entry decides (SS shadow, PT, blocked). */
        release_all_pasids(d, "legacy mode");
        w.kind = vtd_nest_ss_want_legacy(d, &w.ss, &w.why);
        w.did = w.ss.did;
        d->rid->pasid = 0;
        apply_want(d->rid, &w);
        return false;
    }
    if (!read_context(d, ctx)) {
        release_all_pasids(d, "no context entry");
        shadow_block(d->rid, "root or context entry not present or invalid");
        return false;
    }
    return true;
}

void vtd_nest_dev_refresh(VtdNestDev *d, bool scan)
{
    VtdSmContext ctx;
    uint32_t rid_pasid;
    GList *known;

    if (!gate(d, &ctx)) {
        return;
    }
    rid_pasid = ctx.rid_pasid;     /* decodes as 0 without ECAP.RPS */
    eval_rid(d, &ctx, rid_pasid);
    known = g_hash_table_get_keys(d->pasids);
    for (GList *l = known; l; l = l->next) {
        uint32_t p = GPOINTER_TO_UINT(l->data);

        if (p == rid_pasid || !ctx.paside) {
            VtdNestShadow *sh = g_hash_table_lookup(d->pasids, l->data);

            pasid_release(d, sh, "PASIDs disabled in the context entry");
        } else {
            eval_pasid(d, &ctx, p);
        }
    }
    g_list_free(known);
    if (scan && ctx.paside && d->use_pasid) {
        scan_pasids(d, &ctx, rid_pasid);
    }
}

void vtd_nest_dev_refresh_pasid(VtdNestDev *d, uint32_t pasid)
{
    VtdSmContext ctx;
    uint32_t rid_pasid;

    if (!gate(d, &ctx)) {
        return;
    }
    rid_pasid = ctx.rid_pasid;
    if (pasid == rid_pasid) {
        eval_rid(d, &ctx, rid_pasid);
    } else if (ctx.paside) {
        eval_pasid(d, &ctx, pasid);
    }
}

void vtd_nest_dev_release(VtdNestDev *d)
{
    GError *err = NULL;

    release_all_pasids(d, "device released");
    /* Leftovers (a detach failed): forget them; the HWPTs go with the fd. */
    if (g_hash_table_size(d->pasids)) {
        GList *list = g_hash_table_get_values(d->pasids);

        for (GList *l = list; l; l = l->next) {
            shadow_free(l->data);
        }
        g_list_free(list);
        g_hash_table_remove_all(d->pasids);
    }
    if (d->rid->kind != VTD_SHADOW_BLOCKED || d->s2) {
        if (!host_iommu_device_detach(d->hd, IOMMU_NO_PASID, &err)) {
            g_warning("nesting: %s", err->message);
            g_clear_error(&err);
        }
    }
    if (d->rid->kind == VTD_SHADOW_NESTED) {
        destroy_nested(d->rid, d->rid->nested_id);
    }
    /* The RID's shadow domain first: what it cannot destroy joins the
     * orphans retried just below. */
    shadow_free(d->rid);
    d->rid = NULL;
    if (!vtd_nest_dev_retry_orphans(d)) {
        g_warning("nesting: %s: %u host objects could not be destroyed",
                  d->hd->name, d->orphans->len);
    }
    g_clear_error(&d->n->deferred);     /* unplug: nobody to report to */
}
