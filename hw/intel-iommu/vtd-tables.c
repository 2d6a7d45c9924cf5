/*
 * VT-d root, context and PASID structure readers (vtd-spec-facts.md §4.1-4.6,
 * fault conditions §6.1). Reserved-bit masks are derived from CAP/ECAP and the
 * host address width, so a field the unit does not implement is reserved.
 */
#include "hw/intel-iommu/vtd-tables.h"

/* ECAP bits vtd-regs.h does not name (Rev 5 features never advertised). */
#define VTD_ECAP_HPTS_BIT   VTD_BIT(55)
#define VTD_ECAP_PTRS_BIT   VTD_BIT(56)

void vtd_table_caps_from_state(const VtdState *s, VtdTableCaps *caps)
{
    caps->cap = s->cap;
    caps->ecap = s->ecap;
    caps->mgaw = VTD_CAP_MGAW_GET(s->cap);
    caps->haw = s->cfg.aw_bits ? s->cfg.aw_bits : caps->mgaw;
}

bool vtd_aw_supported(uint64_t cap, unsigned aw)
{
    /* SAGAW bit n+8 advertises AW encoding n; only 1..3 are defined. */
    return aw >= 1 && aw <= 3 && (cap & VTD_BIT(VTD_CAP_SAGAW_SHIFT + aw));
}

/* DID bits above the CAP.ND width are reserved in every structure. */
static uint64_t vtd_did_rsvd_mask(uint64_t cap)
{
    unsigned nd = (unsigned)(cap & 7);
    unsigned width = nd >= 6 ? 16 : 4 + 2 * nd;
    return width >= 16 ? 0 : (0xffffULL & ~((1ULL << width) - 1));
}

static void vtd_le64_to_cpu(uint64_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        v[i] = GUINT64_FROM_LE(v[i]);
    }
}

/* ---- Legacy mode ------------------------------------------------------- */

VtdFaultReason vtd_decode_legacy_root(const VtdTableCaps *caps,
                                      const uint64_t raw[2], VtdLegacyRoot *out)
{
    out->present = raw[0] & VTD_BIT(0);
    out->ctp = raw[0] & VTD_MASK(63, 12);
    if (!out->present) {
        return VTD_FR_LRT_2;
    }
    if ((raw[0] & (VTD_MASK(11, 1) | vtd_above_haw(caps->haw))) || raw[1]) {
        return VTD_FR_LRT_3;
    }
    return VTD_FR_NONE;
}

VtdFaultReason vtd_decode_legacy_context(const VtdTableCaps *caps,
                                         const uint64_t raw[2],
                                         VtdLegacyContext *out)
{
    uint64_t lo = raw[0], hi = raw[1];

    memset(out, 0, sizeof(*out));
    out->fpd = lo & VTD_BIT(1);     /* evaluated even when P=0 */
    out->present = lo & VTD_BIT(0);
    if (!out->present) {
        return VTD_FR_LCT_2;
    }
    out->tt = (unsigned)VTD_FIELD(lo, 3, 2);
    out->ssptptr = lo & VTD_MASK(63, 12);
    out->aw = (unsigned)VTD_FIELD(hi, 2, 0);
    out->did = (uint16_t)VTD_FIELD(hi, 23, 8);

    if ((lo & (VTD_MASK(11, 4) | vtd_above_haw(caps->haw))) ||
        (hi & (VTD_BIT(7) | VTD_MASK(63, 24) |
               (vtd_did_rsvd_mask(caps->cap) << 8)))) {
        return VTD_FR_LCT_3;
    }
    switch (out->tt) {
    case VTD_TT_SS:
        break;
    case VTD_TT_SS_ATS:
        if (!(caps->ecap & VTD_ECAP_DT)) {
            return VTD_FR_LCT_4;
        }
        break;
    case VTD_TT_PT:
        if (!(caps->ecap & VTD_ECAP_PT)) {
            return VTD_FR_LCT_4;
        }
        /* AW is not used for pass-through; the walk never runs. */
        return VTD_FR_NONE;
    default:
        return VTD_FR_LCT_4;
    }
    if (!vtd_aw_supported(caps->cap, out->aw)) {
        return VTD_FR_LCT_4;
    }
    return VTD_FR_NONE;
}

static bool vtd_fetch_qwords(VtdState *s, uint64_t gpa, uint64_t *buf,
                             unsigned n)
{
    if (!vtd_dma_read(s, gpa, buf, 8ULL * n)) {
        return false;
    }
    vtd_le64_to_cpu(buf, n);
    return true;
}

VtdFaultReason vtd_read_legacy_root(VtdState *s, uint8_t bus, VtdLegacyRoot *out)
{
    VtdTableCaps caps;
    uint64_t raw[2];

    memset(out, 0, sizeof(*out));
    if (!vtd_fetch_qwords(s, s->root_addr + 16ULL * bus, raw, 2)) {
        return VTD_FR_LRT_1;
    }
    vtd_table_caps_from_state(s, &caps);
    return vtd_decode_legacy_root(&caps, raw, out);
}

VtdFaultReason vtd_read_legacy_context(VtdState *s, uint64_t ctp, uint8_t devfn,
                                       VtdLegacyContext *out)
{
    VtdTableCaps caps;
    uint64_t raw[2];

    memset(out, 0, sizeof(*out));
    if (!vtd_fetch_qwords(s, ctp + 16ULL * devfn, raw, 2)) {
        return VTD_FR_LCT_1;
    }
    vtd_table_caps_from_state(s, &caps);
    return vtd_decode_legacy_context(&caps, raw, out);
}

/* ---- Scalable mode ----------------------------------------------------- */

VtdFaultReason vtd_decode_sm_root(const VtdTableCaps *caps, const uint64_t raw[2],
                                  bool upper, VtdSmRoot *out)
{
    /* Both halves share one layout: P at bit 0, pointer at 63:12. */
    uint64_t half = raw[upper ? 1 : 0];

    out->present = half & VTD_BIT(0);
    out->ctp = half & VTD_MASK(63, 12);
    if (!out->present) {
        return VTD_FR_SRT_2;
    }
    if (half & (VTD_MASK(11, 1) | vtd_above_haw(caps->haw))) {
        return VTD_FR_SRT_3;
    }
    return VTD_FR_NONE;
}

static uint64_t vtd_sm_ctx_rsvd_lo(const VtdTableCaps *caps)
{
    uint64_t rsvd = VTD_MASK(8, 5) | vtd_above_haw(caps->haw);

    if (!(caps->ecap & VTD_ECAP_DT)) {
        rsvd |= VTD_BIT(2);             /* DTE */
    }
    if (!(caps->ecap & VTD_ECAP_PASID)) {
        rsvd |= VTD_BIT(3);             /* PASIDE */
    }
    if (!(caps->ecap & VTD_ECAP_PRS)) {
        rsvd |= VTD_BIT(4);             /* PRE */
    }
    if (caps->ecap & VTD_ECAP_HPTS_BIT) {
        rsvd &= ~VTD_BIT(5);            /* HPTE */
    }
    if (caps->ecap & VTD_ECAP_PTRS_BIT) {
        rsvd &= ~VTD_BIT(6);            /* EPTR */
    }
    return rsvd;
}

static uint64_t vtd_sm_ctx_rsvd_hi(const VtdTableCaps *caps)
{
    uint64_t rsvd = VTD_MASK(63, 21);

    if (!(caps->ecap & VTD_ECAP_RPS)) {
        rsvd |= VTD_MASK(19, 0);        /* RID_PASID */
    }
    if (!(caps->ecap & VTD_ECAP_RPRIVS)) {
        rsvd |= VTD_BIT(20);            /* RID_PRIV */
    }
    return rsvd;
}

VtdFaultReason vtd_decode_sm_context(const VtdTableCaps *caps,
                                     const uint64_t raw[4], VtdSmContext *out)
{
    bool eptr;

    memset(out, 0, sizeof(*out));
    out->fpd = raw[0] & VTD_BIT(1);
    out->present = raw[0] & VTD_BIT(0);
    if (!out->present) {
        return VTD_FR_SCT_2;
    }
    out->dte = raw[0] & VTD_BIT(2);
    out->paside = raw[0] & VTD_BIT(3);
    out->pre = raw[0] & VTD_BIT(4);
    eptr = raw[0] & VTD_BIT(6);
    out->pdts = (unsigned)VTD_FIELD(raw[0], 11, 9);
    out->pasid_dir = raw[0] & VTD_MASK(63, 12);
    out->rid_pasid = (uint32_t)VTD_FIELD(raw[1], 19, 0);
    out->rid_priv = raw[1] & VTD_BIT(20);

    if ((raw[0] & vtd_sm_ctx_rsvd_lo(caps)) ||
        (raw[1] & vtd_sm_ctx_rsvd_hi(caps)) || raw[2] || raw[3]) {
        return VTD_FR_SCT_3;
    }
    /* SCT.4.1 - SCT.4.3 */
    if ((!out->dte && out->pre) ||
        out->rid_pasid >= vtd_sm_ctx_pasid_limit(out) ||
        (eptr && !out->paside)) {
        return VTD_FR_SCT_4;
    }
    return VTD_FR_NONE;
}

VtdFaultReason vtd_decode_pasid_dir_entry(const VtdTableCaps *caps, uint64_t raw,
                                          VtdPasidDirEntry *out)
{
    out->fpd = raw & VTD_BIT(1);
    out->present = raw & VTD_BIT(0);
    out->table = raw & VTD_MASK(63, 12);
    if (!out->present) {
        return VTD_FR_SPD_2;
    }
    if (raw & (VTD_MASK(11, 2) | vtd_above_haw(caps->haw))) {
        return VTD_FR_SPD_3;
    }
    return VTD_FR_NONE;
}

static bool vtd_pgtt_supported(const VtdTableCaps *caps, unsigned pgtt)
{
    switch (pgtt) {
    case VTD_PGTT_FS:
        return caps->ecap & VTD_ECAP_FSTS;
    case VTD_PGTT_SS:
        return caps->ecap & VTD_ECAP_SSTS;
    case VTD_PGTT_NESTED:
        return caps->ecap & VTD_ECAP_NEST;
    case VTD_PGTT_PT:
        return caps->ecap & VTD_ECAP_PT;
    default:
        return false;
    }
}

static bool vtd_pgtt_uses_ss(unsigned pgtt)
{
    return pgtt == VTD_PGTT_SS || pgtt == VTD_PGTT_NESTED;
}

static bool vtd_pgtt_uses_fs(unsigned pgtt)
{
    return pgtt == VTD_PGTT_FS || pgtt == VTD_PGTT_NESTED;
}

/*
 * Reserved bits of a PASID-table entry. Pointer fields are checked against
 * HAW only when the PGTT uses them (the spec ignores them otherwise). Qwords
 * 3-7 are "Reserved, must be 0" in Rev 5.10 (HPT fields in qwords 4-5 are
 * only defined with ECAP.HPTS, which is never advertised); QEMU does not
 * check them, we do (spec §11 open point).
 */
static bool vtd_pasid_entry_rsvd(const VtdTableCaps *caps, const uint64_t raw[8],
                                 unsigned pgtt)
{
    uint64_t r0 = VTD_BIT(5) | VTD_MASK(11, 10);
    uint64_t r1 = VTD_MASK(22, 16) | VTD_MASK(31, 27) |
                  vtd_did_rsvd_mask(caps->cap);
    uint64_t r2 = VTD_BIT(1) | VTD_MASK(11, 8);

    if (!(caps->ecap & VTD_ECAP_SSTS) || !(caps->ecap & VTD_ECAP_SSADS)) {
        r0 |= VTD_BIT(9);                       /* SSADE */
    }
    if (vtd_pgtt_uses_ss(pgtt)) {
        r0 |= vtd_above_haw(caps->haw);         /* SSPTPTR */
    }
    if (!(caps->ecap & VTD_ECAP_SMPWCS)) {
        r1 |= VTD_BIT(23);                      /* PWSNP */
    }
    if (!(caps->ecap & VTD_ECAP_SC)) {
        r1 |= VTD_BIT(24);                      /* PGSNP */
    }
    if (!(caps->ecap & VTD_ECAP_MTS)) {
        r1 |= VTD_BIT(25) | VTD_BIT(26) | VTD_MASK(63, 32); /* CD EMTE PAT */
    }
    if (!(caps->ecap & VTD_ECAP_SRS)) {
        r2 |= VTD_BIT(0);                       /* SRE */
    }
    if (!(caps->ecap & VTD_ECAP_EAFS)) {
        r2 |= VTD_BIT(7);                       /* EAFE */
    }
    if (vtd_pgtt_uses_fs(pgtt)) {
        r2 |= vtd_above_haw(caps->haw);         /* FSPTPTR */
    }
    if ((raw[0] & r0) || (raw[1] & r1) || (raw[2] & r2)) {
        return true;
    }
    for (unsigned i = 3; i < 8; i++) {
        if (raw[i]) {
            return true;
        }
    }
    return false;
}

VtdFaultReason vtd_decode_pasid_entry(const VtdTableCaps *caps,
                                      const uint64_t raw[8], VtdPasidEntry *out)
{
    memset(out, 0, sizeof(*out));
    out->fpd = raw[0] & VTD_BIT(1);
    out->present = raw[0] & VTD_BIT(0);
    if (!out->present) {
        return VTD_FR_SPT_2;
    }
    out->aw = (unsigned)VTD_FIELD(raw[0], 4, 2);
    out->pgtt = (unsigned)VTD_FIELD(raw[0], 8, 6);
    out->ssade = raw[0] & VTD_BIT(9);
    out->ssptptr = raw[0] & VTD_MASK(63, 12);
    out->did = (uint16_t)VTD_FIELD(raw[1], 15, 0);
    out->pwsnp = raw[1] & VTD_BIT(23);
    out->pgsnp = raw[1] & VTD_BIT(24);
    out->sre = raw[2] & VTD_BIT(0);
    out->fspm = (unsigned)VTD_FIELD(raw[2], 3, 2);
    out->wpe = raw[2] & VTD_BIT(4);
    out->eafe = raw[2] & VTD_BIT(7);
    out->fsptptr = raw[2] & VTD_MASK(63, 12);

    if (vtd_pasid_entry_rsvd(caps, raw, out->pgtt)) {
        return VTD_FR_SPT_3;
    }
    /* SPT.4.2: reserved or unsupported PGTT. */
    if (!vtd_pgtt_supported(caps, out->pgtt)) {
        return VTD_FR_SPT_4;
    }
    /* SPT.4.1: AW must be a supported AGAW where the SS tables are used. */
    if (vtd_pgtt_uses_ss(out->pgtt) && !vtd_aw_supported(caps->cap, out->aw)) {
        return VTD_FR_SPT_4;
    }
    if (vtd_pgtt_uses_fs(out->pgtt)) {
        /* SPT.4.3: 5-level FS paging needs CAP.FS5LP; 10b/11b reserved. */
        if (out->fspm > VTD_FSPM_5LEVEL ||
            (out->fspm == VTD_FSPM_5LEVEL && !(caps->cap & VTD_CAP_FS5LP))) {
            return VTD_FR_SPT_4;
        }
    }
    if (out->pgtt == VTD_PGTT_NESTED) {
        /* SPT.4.4: FSPTPTR is a GPA that must fit the SS input width. */
        unsigned width = MIN(caps->mgaw, vtd_aw_bits(out->aw));
        if (out->fsptptr >> width) {
            return VTD_FR_SPT_4;
        }
    }
    return VTD_FR_NONE;
}

VtdFaultReason vtd_read_sm_root(VtdState *s, uint8_t bus, uint8_t devfn,
                                VtdSmRoot *out)
{
    VtdTableCaps caps;
    uint64_t raw[2];

    memset(out, 0, sizeof(*out));
    if (!vtd_fetch_qwords(s, s->root_addr + 16ULL * bus, raw, 2)) {
        return VTD_FR_SRT_1;
    }
    vtd_table_caps_from_state(s, &caps);
    return vtd_decode_sm_root(&caps, raw, devfn >= 0x80, out);
}

VtdFaultReason vtd_read_sm_context(VtdState *s, uint64_t ctp, uint8_t devfn,
                                   VtdSmContext *out)
{
    VtdTableCaps caps;
    uint64_t raw[4];

    memset(out, 0, sizeof(*out));
    if (!vtd_fetch_qwords(s, ctp + 32ULL * (devfn & 0x7f), raw, 4)) {
        return VTD_FR_SCT_1;
    }
    vtd_table_caps_from_state(s, &caps);
    return vtd_decode_sm_context(&caps, raw, out);
}

VtdFaultReason vtd_read_sm_device_context(VtdState *s, uint16_t sid,
                                          VtdSmContext *out)
{
    VtdSmRoot root;
    VtdFaultReason r = vtd_read_sm_root(s, sid >> 8, sid & 0xff, &root);

    if (r != VTD_FR_NONE) {
        memset(out, 0, sizeof(*out));
        return r;
    }
    return vtd_read_sm_context(s, root.ctp, sid & 0xff, out);
}

VtdFaultReason vtd_sm_ctx_check_pasid(uint64_t ecap, const VtdSmContext *ctx,
                                      uint32_t pasid)
{
    if (!ctx->paside) {
        return VTD_FR_SCT_6;
    }
    if (pasid >> VTD_ECAP_PSS_GET(ecap)) {
        return VTD_FR_SGN_10;
    }
    if (pasid >= vtd_sm_ctx_pasid_limit(ctx)) {
        return VTD_FR_SCT_7;
    }
    /*
     * Rev 5.10 SCT.9: that PASID is reserved for requests without PASID
     * (RID_PASID, or 0 without RPS). QEMU does not enforce this.
     */
    if (pasid == ctx->rid_pasid) {
        return VTD_FR_SCT_9;
    }
    return VTD_FR_NONE;
}

VtdFaultReason vtd_read_pasid_dir_entry(VtdState *s, uint64_t dir, uint32_t pasid,
                                        VtdPasidDirEntry *out)
{
    VtdTableCaps caps;
    uint64_t raw;

    memset(out, 0, sizeof(*out));
    if (!vtd_fetch_qwords(s, dir + 8ULL * ((pasid >> 6) & 0x3fff), &raw, 1)) {
        return VTD_FR_SPD_1;
    }
    vtd_table_caps_from_state(s, &caps);
    return vtd_decode_pasid_dir_entry(&caps, raw, out);
}

VtdFaultReason vtd_read_pasid_entry(VtdState *s, uint64_t table, uint32_t pasid,
                                    VtdPasidEntry *out)
{
    VtdTableCaps caps;
    uint64_t raw[8];

    memset(out, 0, sizeof(*out));
    if (!vtd_fetch_qwords(s, table + 64ULL * (pasid & 0x3f), raw, 8)) {
        return VTD_FR_SPT_1;
    }
    vtd_table_caps_from_state(s, &caps);
    return vtd_decode_pasid_entry(&caps, raw, out);
}
