/*
 * DMA remapping pipeline (vtd-spec-facts.md §7): pass-through while TE is
 * off, then by RTADDR.TTM: legacy (root -> context -> TT -> SS walk),
 * scalable (root -> context -> PASID directory -> PASID entry -> PGTT:
 * pass-through, SS, FS or nested), abort-DMA, or invalid programming.
 *
 * The IOTLB is consulted first for untranslated requests (ATS requests
 * always walk, so context checks such as TT/DTE apply): a hit costs one hash probe per live page
 * size and a few compares. Only successful translations are cached; a hit
 * that does not grant the access (or would need an A/D update) falls back to
 * a full walk, which then produces the exact fault.
 */
#include "hw/intel-iommu/vtd-translate.h"
#include "hw/intel-iommu/vtd-cache.h"
#include "hw/intel-iommu/vtd-ir.h"      /* fault 29h */
#include "hw/intel-iommu/vtd-nest-cache.h"  /* SS of FS table pages */
#include "hw/intel-iommu/vtd-tables.h"
#include "hw/intel-iommu/vtd-walk-fs.h"
#include "hw/intel-iommu/vtd-walk-ss.h"

#define VTD_PAGE_MASK_4K    0xfffULL
#define VTD_RW              (IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE)

/* Working state of one request. */
typedef struct VtdXlate {
    VtdState *s;
    const IommuRequest *req;
    IommuResult *res;
    VtdFault *fault;
    bool has_pasid;
    uint32_t pasid;         /* effective PASID (scalable) */
    bool priv;              /* effective PR */
    unsigned access;        /* access to check (ZLR applied) */
    unsigned walk_access;   /* access the walk acts on (A/D) */
    bool check_perm;        /* false for ATS translation requests */
    bool nw;                /* ATS NW flag honoured (ECAP.NWFS) */
} VtdXlate;

static unsigned vtd_haw_bits(const VtdState *s)
{
    return s->cfg.aw_bits ? s->cfg.aw_bits : VTD_CAP_MGAW_GET(s->cap);
}

static bool vtd_fail(VtdXlate *x, VtdFaultReason reason)
{
    x->res->ok = false;
    x->res->fault_reason = (uint8_t)reason;
    x->fault->reason = reason;
    return true;
}

static void vtd_ok(VtdXlate *x, uint64_t out, uint64_t page_mask,
                   unsigned perm, bool user)
{
    IommuResult *res = x->res;

    res->ok = true;
    res->out_addr = out;
    res->page_mask = page_mask;
    res->perm = perm;
    res->user = user;
    /* NW honoured: the walk set no D, so the completion must not grant W. */
    if (x->nw) {
        res->perm &= ~IOMMU_ACCESS_WRITE;
    }
    /* Keep the bus from running into the interrupt window inside a page. */
    if (res->page_mask > VTD_PAGE_MASK_4K &&
        vtd_page_overlaps_intr_range(out & ~page_mask, page_mask)) {
        res->page_mask = VTD_PAGE_MASK_4K;
    }
}

/*
 * ATS translation requests that find no permission (not-present entries
 * included) complete successfully with R=W=0 and record nothing.
 */
static bool vtd_is_perm_fault(VtdFaultReason r)
{
    switch (r) {
    case VTD_FR_LGN_2: case VTD_FR_LGN_3:
    case VTD_FR_SSS_2: case VTD_FR_SFS_2:
    case VTD_FR_SGN_2: case VTD_FR_SGN_6: case VTD_FR_SGN_7:
        return true;
    default:
        return false;
    }
}

static bool vtd_walk_fault(VtdXlate *x, VtdFaultReason r)
{
    if (!x->check_perm && vtd_is_perm_fault(r)) {
        vtd_ok(x, 0, VTD_PAGE_MASK_4K, 0, false);
        return false;
    }
    return vtd_fail(x, r);
}

static unsigned vtd_page_level(uint64_t page_mask)
{
    if (page_mask >= (1ULL << 30) - 1) {
        return 3;
    }
    return page_mask >= (1ULL << 21) - 1 ? 2 : 1;
}

/* Cache a successful walk (unless its page touches the interrupt window). */
static void vtd_iotlb_fill(VtdXlate *x, uint64_t out, uint64_t page_mask,
                           uint16_t did, unsigned pgtt, unsigned perm_user,
                           unsigned perm_super, bool user, bool dirty_ok)
{
    unsigned level = vtd_page_level(page_mask);
    uint64_t size_mask = vtd_iotlb_level_mask(level);
    uint64_t base = out & ~size_mask;
    VtdIotlbEntry e = {
        .vpn = x->req->addr >> (12 + 9 * (level - 1)),
        .out_base = base,
        .pasid = x->req->pasid,
        .eff_pasid = x->pasid,
        .sid = x->req->sid,
        .did = did,
        .level = (uint8_t)level,
        .pgtt = (uint8_t)pgtt,
        .perm = { (uint8_t)perm_user, (uint8_t)perm_super },
        .user = user,
        .dirty_ok = dirty_ok,
        .priv_eff = !x->has_pasid && x->priv,
    };

    if (vtd_page_overlaps_intr_range(base, size_mask)) {
        return;
    }
    vtd_iotlb_insert(x->s, &e);
}

/* ---- IOTLB fast path --------------------------------------------------- */

static bool vtd_iotlb_try(VtdXlate *x)
{
    const IommuRequest *req = x->req;
    const VtdIotlbEntry *e = vtd_iotlb_lookup(x->s, req->sid, req->pasid,
                                              req->addr);
    unsigned perm;
    uint64_t mask;

    if (!e) {
        goto miss;
    }
    perm = e->perm[x->has_pasid ? req->priv : e->priv_eff];
    if (x->check_perm && (x->access & ~perm)) {
        goto miss;      /* re-walk: reports the fault */
    }
    if ((x->walk_access & IOMMU_ACCESS_WRITE) && (perm & IOMMU_ACCESS_WRITE) &&
        !e->dirty_ok) {
        goto miss;      /* the walk must set D */
    }
    mask = vtd_iotlb_level_mask(e->level);
    x->res->ok = true;
    x->res->out_addr = e->out_base | (req->addr & mask);
    x->res->page_mask = mask;
    x->res->perm = perm;
    x->res->user = e->user;
    x->s->stats.iotlb_hits++;
    return true;

miss:
    x->s->stats.iotlb_misses++;
    return false;
}

/* ---- Common checks ----------------------------------------------------- */

/* Identity mapping (pass-through, translated requests). */
static bool vtd_identity(VtdXlate *x, VtdFaultReason beyond_haw,
                         VtdFaultReason intr)
{
    uint64_t addr = x->req->addr;

    if (addr >> vtd_haw_bits(x->s)) {
        return vtd_fail(x, beyond_haw);
    }
    if (vtd_addr_in_intr_range(addr)) {
        return vtd_fail(x, intr);
    }
    vtd_ok(x, addr, VTD_PAGE_MASK_4K, VTD_RW, true);
    return false;
}

/* ---- Legacy mode ------------------------------------------------------- */

static VtdFaultReason vtd_legacy_context(VtdXlate *x, VtdLegacyContext *ctx)
{
    VtdState *s = x->s;
    uint16_t sid = x->req->sid;
    const VtdCtxCacheEntry *ce = vtd_ctx_cache_lookup(s, sid);
    VtdLegacyRoot root;
    VtdFaultReason r;

    if (ce && !ce->scalable) {
        *ctx = ce->legacy;
        x->fault->fpd |= ctx->fpd;
        return VTD_FR_NONE;
    }
    r = vtd_read_legacy_root(s, sid >> 8, &root);
    if (r != VTD_FR_NONE) {
        return r;
    }
    r = vtd_read_legacy_context(s, root.ctp, sid & 0xff, ctx);
    x->fault->fpd |= ctx->fpd;
    if (r == VTD_FR_NONE) {
        VtdCtxCacheEntry e = { .scalable = false, .legacy = *ctx };
        vtd_ctx_cache_insert(s, sid, &e);
    }
    return r;
}

static bool vtd_translate_legacy(VtdXlate *x)
{
    const IommuRequest *req = x->req;
    VtdLegacyContext ctx;
    VtdSsResult ss;
    VtdFaultReason r;

    if (x->has_pasid) {
        return vtd_fail(x, VTD_FR_RTA_2);
    }
    r = vtd_legacy_context(x, &ctx);
    if (r != VTD_FR_NONE) {
        return vtd_fail(x, r);
    }
    if (req->at != IOMMU_AT_UNTRANSLATED && ctx.tt != VTD_TT_SS_ATS) {
        return vtd_fail(x, VTD_FR_LCT_5);
    }
    if (ctx.tt == VTD_TT_PT || req->at == IOMMU_AT_TRANSLATED) {
        return vtd_identity(x, VTD_FR_LGN_1, VTD_FR_LGN_4);
    }

    VtdSsWalk w = {
        .mode = VTD_SS_LEGACY,
        .root = ctx.ssptptr,
        .aw = ctx.aw,
        .access = x->check_perm ? x->access : x->walk_access,
        .check_perm = x->check_perm,
    };
    r = vtd_ss_walk(x->s, &w, req->addr, &ss);
    if (r != VTD_FR_NONE) {
        return vtd_walk_fault(x, r);
    }
    if (vtd_addr_in_intr_range(ss.addr)) {
        return vtd_fail(x, VTD_FR_LGN_4);
    }
    vtd_ok(x, ss.addr, ss.page_mask, ss.perm, false);
    if (ss.perm) {
        vtd_iotlb_fill(x, ss.addr, ss.page_mask, ctx.did, VTD_PGTT_SS,
                       ss.perm, ss.perm, false, true);
    }
    return false;
}

/* ---- Scalable mode ----------------------------------------------------- */

static VtdFaultReason vtd_sm_context(VtdXlate *x, VtdSmContext *ctx)
{
    VtdState *s = x->s;
    uint16_t sid = x->req->sid;
    const VtdCtxCacheEntry *ce = vtd_ctx_cache_lookup(s, sid);
    VtdFaultReason r;

    if (ce && ce->scalable) {
        *ctx = ce->sm;
        x->fault->fpd |= ctx->fpd;
        return VTD_FR_NONE;
    }
    r = vtd_read_sm_device_context(s, sid, ctx);
    x->fault->fpd |= ctx->fpd;
    if (r == VTD_FR_NONE) {
        VtdCtxCacheEntry e = { .scalable = true, .sm = *ctx };
        vtd_ctx_cache_insert(s, sid, &e);
    }
    return r;
}

/* Effective PASID/PR and the context-level request checks (SCT.5-10). */
static VtdFaultReason vtd_sm_request_checks(VtdXlate *x, const VtdSmContext *ctx)
{
    const IommuRequest *req = x->req;

    if (!x->has_pasid) {
        /* RID_PASID/RID_PRIV decode as 0 without RPS/RPRIVS: PASID 0. */
        x->pasid = ctx->rid_pasid;
        x->priv = ctx->rid_priv;
    } else {
        VtdFaultReason r = vtd_sm_ctx_check_pasid(x->s->ecap, ctx, req->pasid);

        if (r != VTD_FR_NONE) {
            return r;
        }
        x->pasid = req->pasid;
        x->priv = req->priv;
    }
    if (req->at != IOMMU_AT_UNTRANSLATED && !ctx->dte) {
        return VTD_FR_SCT_5;
    }
    /* No ECAP.PTRS: EPTR is always 0. */
    if (req->at == IOMMU_AT_TRANSLATED && x->has_pasid) {
        return VTD_FR_SCT_10;
    }
    return VTD_FR_NONE;
}

static VtdFaultReason vtd_sm_pasid_entry(VtdXlate *x, const VtdSmContext *ctx,
                                         VtdPasidEntry *pe)
{
    VtdState *s = x->s;
    const VtdPasidCacheEntry *ce = vtd_pasid_cache_lookup(s, x->req->sid,
                                                          x->pasid);
    VtdPasidDirEntry dir;
    VtdFaultReason r;

    if (ce) {
        *pe = ce->pe;
        x->fault->fpd |= ce->fpd;
        return VTD_FR_NONE;
    }
    r = vtd_read_pasid_dir_entry(s, ctx->pasid_dir, x->pasid, &dir);
    x->fault->fpd |= dir.fpd;
    if (r != VTD_FR_NONE) {
        return r;
    }
    r = vtd_read_pasid_entry(s, dir.table, x->pasid, pe);
    x->fault->fpd |= pe->fpd;
    if (r == VTD_FR_NONE) {
        VtdPasidCacheEntry e = { .pe = *pe, .fpd = dir.fpd || pe->fpd };
        vtd_pasid_cache_insert(s, x->req->sid, x->pasid, &e);
    }
    return r;
}

static VtdSsWalk vtd_sm_ss_params(const VtdXlate *x, const VtdPasidEntry *pe)
{
    VtdSsWalk w = {
        .mode = VTD_SS_SCALABLE,
        .root = pe->ssptptr,
        .aw = pe->aw,
        .access = x->check_perm ? x->access : x->walk_access,
        .check_perm = x->check_perm,
        .ssade = pe->ssade,
        .snooped = (x->s->ecap & VTD_ECAP_SMPWCS) && pe->pwsnp,
    };
    return w;
}

/*
 * One nested request's SS hook. It remembers its last successful SS walk:
 * the FS structures (and often the output) of one request tend to share an
 * SS page when the SS uses 2 MiB/1 GiB pages, and a walk of the same page
 * whose access the remembered result covers (vtd_ss_result_covers) would
 * read the same entries, fault nowhere and make no A/D update. Nothing
 * outlives the request, so no invalidation is involved.
 * GPAs inside FS tables also go through the unit's cache of SS
 * translations of FS table pages (vtd-nest-cache.h), which does outlive it.
 */
typedef struct VtdNestCtx {
    VtdState *s;
    VtdSsWalk ss;
    VtdNestPsKey ps_key;
    bool memo_valid;
    uint64_t memo_gpa;
    VtdSsResult memo;
} VtdNestCtx;

static bool vtd_nest_memo_try(VtdNestCtx *n, uint64_t gpa, unsigned access,
                              bool check_perm, VtdSsResult *out)
{
    if (!n->memo_valid || ((gpa ^ n->memo_gpa) & ~n->memo.page_mask) ||
        !vtd_ss_result_covers(&n->memo, n->ss.ssade, access, check_perm)) {
        return false;
    }
    *out = n->memo;
    out->addr = (n->memo.addr & ~n->memo.page_mask) |
                (gpa & n->memo.page_mask);
    return true;
}

static void vtd_nest_memo_set(VtdNestCtx *n, uint64_t gpa,
                              const VtdSsResult *r)
{
    n->memo_valid = true;
    n->memo_gpa = gpa;
    n->memo = *r;
}

static VtdFaultReason vtd_nest_translate(void *opaque, uint64_t gpa,
                                         unsigned access, bool check_perm,
                                         VtdSsResult *out)
{
    VtdNestCtx *n = opaque;
    VtdSsWalk w = n->ss;
    VtdSsLast last = { .valid = false };
    VtdFaultReason r;

    if (vtd_nest_memo_try(n, gpa, access, check_perm, out)) {
        return VTD_FR_NONE;
    }
    w.access = access;
    w.check_perm = check_perm;
    /* Start at the last level when the region's SS table is
     * known, else note it for the next walk there. */
    if (vtd_nest_pde_lookup(n->s, &n->ps_key, gpa, &last)) {
        w.resume = &last;
    } else {
        w.record = &last;
    }
    r = vtd_ss_walk(n->s, &w, gpa, out);
    if (r == VTD_FR_NONE) {
        vtd_nest_memo_set(n, gpa, out);
        if (w.record && last.valid) {
            vtd_nest_pde_fill(n->s, &n->ps_key, gpa, &last);
        }
    }
    return r;
}

/* GPAs inside FS tables: the memo, the unit's cache, then a walk. */
static VtdFaultReason vtd_nest_translate_table(void *opaque, uint64_t gpa,
                                               unsigned access,
                                               VtdSsResult *out)
{
    VtdNestCtx *n = opaque;
    VtdFaultReason r;

    if (vtd_nest_memo_try(n, gpa, access, true, out)) {
        return VTD_FR_NONE;
    }
    if (vtd_nest_ps_lookup(n->s, &n->ps_key, gpa, access, out)) {
        vtd_nest_memo_set(n, gpa, out);
        return VTD_FR_NONE;
    }
    r = vtd_nest_translate(n, gpa, access, true, out);
    if (r == VTD_FR_NONE) {
        vtd_nest_ps_fill(n->s, &n->ps_key, gpa, out);
    }
    return r;
}

static bool vtd_sm_finish(VtdXlate *x, const VtdPasidEntry *pe, uint64_t out,
                          uint64_t page_mask, unsigned perm_user,
                          unsigned perm_super, bool user, bool dirty_ok)
{
    unsigned perm = x->priv ? perm_super : perm_user;

    if (vtd_addr_in_intr_range(out)) {
        return vtd_fail(x, VTD_FR_SGN_8);
    }
    vtd_ok(x, out, page_mask, perm, user);
    if (perm) {
        vtd_iotlb_fill(x, out, page_mask, pe->did, pe->pgtt, perm_user,
                       pe->sre ? perm_super : 0, user, dirty_ok);
    }
    return false;
}

static bool vtd_sm_walk(VtdXlate *x, const VtdPasidEntry *pe)
{
    VtdState *s = x->s;
    uint64_t addr = x->req->addr;
    VtdFaultReason r;

    switch (pe->pgtt) {
    case VTD_PGTT_PT:
        if (addr >> vtd_haw_bits(s)) {
            return vtd_fail(x, VTD_FR_SGN_4);
        }
        return vtd_sm_finish(x, pe, addr, VTD_PAGE_MASK_4K, VTD_RW, VTD_RW,
                             true, true);
    case VTD_PGTT_SS: {
        VtdSsWalk w = vtd_sm_ss_params(x, pe);
        VtdSsResult ss;
        r = vtd_ss_walk(s, &w, addr, &ss);
        if (r != VTD_FR_NONE) {
            return vtd_walk_fault(x, r);
        }
        return vtd_sm_finish(x, pe, ss.addr, ss.page_mask, ss.perm, ss.perm,
                             true, ss.dirty_ok);
    }
    case VTD_PGTT_FS:
    case VTD_PGTT_NESTED: {
        VtdNestCtx nctx = {
            .s = s,
            .ss = vtd_sm_ss_params(x, pe),
            .ps_key = vtd_nest_ps_key(pe->ssptptr, pe->did, pe->aw,
                                      pe->ssade),
        };
        VtdFsNest nest = {
            .translate = vtd_nest_translate,
            .translate_table = vtd_nest_translate_table,
            .opaque = &nctx,
            .gpa_width = vtd_ss_input_width(s, pe->aw),
            .ssade = pe->ssade,
        };
        VtdFsWalk w = {
            .root = pe->fsptptr,
            .levels = vtd_fspm_levels(pe->fspm),
            .priv = x->priv,
            .access = x->check_perm ? x->access : x->walk_access,
            .check_perm = x->check_perm,
            .wpe = pe->wpe,
            .eafe = pe->eafe,
            .snooped = (s->ecap & VTD_ECAP_SMPWCS) && pe->pwsnp,
            .nest = pe->pgtt == VTD_PGTT_NESTED ? &nest : NULL,
        };
        VtdFsResult fs;
        r = vtd_fs_walk(s, &w, addr, &fs);
        if (r != VTD_FR_NONE) {
            return vtd_walk_fault(x, r);
        }
        return vtd_sm_finish(x, pe, fs.addr, fs.page_mask, fs.perm_user,
                             fs.perm_super, fs.user, fs.dirty_ok);
    }
    default:
        /* The decoder only accepts supported PGTTs. */
        return vtd_fail(x, VTD_FR_SPT_4);
    }
}

static bool vtd_translate_scalable(VtdXlate *x)
{
    const IommuRequest *req = x->req;
    VtdSmContext ctx;
    VtdPasidEntry pe;
    VtdFaultReason r;

    r = vtd_sm_context(x, &ctx);
    if (r == VTD_FR_NONE) {
        r = vtd_sm_request_checks(x, &ctx);
    }
    if (r != VTD_FR_NONE) {
        return vtd_fail(x, r);
    }
    if (req->at == IOMMU_AT_TRANSLATED) {
        /* Device-TLB output is already an HPA: only range checks apply. */
        return vtd_identity(x, VTD_FR_SGN_4, VTD_FR_SGN_8);
    }
    r = vtd_sm_pasid_entry(x, &ctx, &pe);
    if (r != VTD_FR_NONE) {
        return vtd_fail(x, r);
    }
    if (x->priv && !pe.sre) {
        if (!x->check_perm) {
            vtd_ok(x, 0, VTD_PAGE_MASK_4K, 0, false);
            return false;
        }
        return vtd_fail(x, VTD_FR_SPT_6);
    }
    return vtd_sm_walk(x, &pe);
}

/* ---- Entry points ------------------------------------------------------ */

/*
 * Requests without PASID to FEEx_xxxx are interrupt requests, never
 * remapped. ATS translation requests there complete without a fault:
 * NW=0 -> W=U=1, R=0; NW=1 -> no rights (facts §6.1 S.1/S.2).
 */
static void vtd_interrupt_window(VtdXlate *x)
{
    const IommuRequest *req = x->req;
    IommuResult *res = x->res;

    res->ok = true;
    res->is_interrupt = true;
    res->out_addr = req->addr;
    res->page_mask = 0xfffff;
    if (req->at == IOMMU_AT_TRANSLATION_REQ) {
        res->perm = x->nw ? 0 : IOMMU_ACCESS_WRITE;
        res->user = !x->nw;
    } else {
        res->perm = req->access;
    }
}

/* Remapping by the latched translation table mode (TE on or off). */
static bool vtd_translate_dma(VtdXlate *x)
{
    VtdState *s = x->s;
    const IommuRequest *req = x->req;

    if (!s->dmar_enabled) {
        /* TE off: untranslated DMA passes through, ATS requests are UR. */
        if (req->at != IOMMU_AT_UNTRANSLATED) {
            x->res->ok = false;
            return false;
        }
        vtd_ok(x, req->addr, VTD_PAGE_MASK_4K, VTD_RW, false);
        return false;
    }

    switch (s->ttm) {
    case VTD_TTM_LEGACY:
        if (s->ssirwe) {
            return vtd_fail(x, VTD_FR_RTA_1);       /* RTA.1.4 */
        }
        if (req->at == IOMMU_AT_UNTRANSLATED && !x->has_pasid &&
            vtd_iotlb_try(x)) {
            return false;
        }
        return vtd_translate_legacy(x);
    case VTD_TTM_SCALABLE:
        if (!(s->ecap & VTD_ECAP_SMTS)) {
            return vtd_fail(x, VTD_FR_RTA_1);       /* RTA.1.3 */
        }
        if (req->at == IOMMU_AT_UNTRANSLATED && vtd_iotlb_try(x)) {
            return false;
        }
        return vtd_translate_scalable(x);
    case VTD_TTM_ABORT_DMA:
        return vtd_fail(x, (s->ecap & VTD_ECAP_ADMS) ? VTD_FR_RTA_4
                                                     : VTD_FR_RTA_1);
    default:
        return vtd_fail(x, VTD_FR_RTA_1);           /* RTA.1.2 */
    }
}

/*
 * The request's attributes in a fault about to be reported; filled only
 * then, so IOTLB hits do not pay for it. PP/PV reflect the request: only
 * requests with a PASID report one. QEMU reports PP=1 PV=0 for requests
 * without PASID in scalable mode; the spec does not, and neither do we.
 */
static void vtd_fault_describe(const VtdXlate *x)
{
    const IommuRequest *req = x->req;
    VtdFault *fault = x->fault;

    fault->sid = req->sid;
    fault->addr = req->addr;
    fault->is_write = req->access & IOMMU_ACCESS_WRITE;
    fault->is_read = (req->access & IOMMU_ACCESS_READ) || !fault->is_write;
    fault->pasid_present = x->has_pasid;
    fault->pasid = x->has_pasid ? req->pasid : 0;
    fault->priv = x->priv;
    fault->exec = req->access & IOMMU_ACCESS_EXEC;
    fault->at = (uint8_t)req->at;
}

bool vtd_translate_request(VtdState *s, const IommuRequest *req,
                           IommuResult *res, VtdFault *fault)
{
    VtdXlate x = { .s = s, .req = req, .res = res, .fault = fault };

    memset(res, 0, sizeof(*res));
    memset(fault, 0, sizeof(*fault));
    s->stats.translations++;
    x.has_pasid = req->pasid != IOMMU_NO_PASID;
    x.pasid = IOMMU_NO_PASID;
    x.priv = x.has_pasid && req->priv;
    x.check_perm = req->at != IOMMU_AT_TRANSLATION_REQ;
    x.access = req->access & VTD_RW;
    if (req->zlr && (s->cap & VTD_CAP_ZLR)) {
        x.access &= ~IOMMU_ACCESS_READ;     /* ZLR to write-only pages is ok */
    }
    /* ECAP.NWFS=0: "hardware ignores NW and behaves as if NW is always 0"
     * (D is set on a writable page, W granted). */
    x.nw = !x.check_perm && req->no_write && (s->ecap & VTD_ECAP_NWFS);
    x.walk_access = x.check_perm ? x.access
                                 : IOMMU_ACCESS_READ |
                                   (x.nw ? 0 : IOMMU_ACCESS_WRITE);

    if (!x.has_pasid && req->at != IOMMU_AT_TRANSLATED &&
        vtd_addr_in_intr_range(req->addr)) {
        vtd_interrupt_window(&x);
        /* Reads/atomics there are not interrupts: IR fault 29h (vtd-ir.c
         * decides; FI is undefined for it, so the address is not kept). */
        if (vtd_ir_window_access_faults(s, req)) {
            res->ok = false;
            res->fault_reason = VTD_FR_IR_NOT_INTR;
            fault->reason = VTD_FR_IR_NOT_INTR;
            vtd_fault_describe(&x);
            fault->is_ir = true;
            fault->addr = 0;
            return true;
        }
        return false;
    }
    if (!vtd_translate_dma(&x)) {
        return false;
    }
    vtd_fault_describe(&x);
    return true;
}

void vtd_translate(VtdState *s, const IommuRequest *req, IommuResult *res)
{
    VtdFault fault;

    if (vtd_translate_request(s, req, res, &fault)) {
        vtd_fault_report(s, &fault);
    }
}
