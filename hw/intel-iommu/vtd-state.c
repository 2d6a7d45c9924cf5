/*
 * Saved state of the VT-d unit: everything software can observe or that
 * affects later results (register window, state latched by commands,
 * enables, queue and fault positions), in a versioned little-endian blob.
 * Caches are not saved: they refill, and refilling cannot change results
 * because software must invalidate after changing a cached entry anyway.
 * The format is documented in docs/saved-state.md; keep the two in step.
 *
 * Layout: header | section* | SHA-256 of everything before it.
 * A loader validates the whole blob (lengths, checksum, configuration
 * fingerprint, every field's range) before it changes the unit, so a bad
 * blob leaves the unit as it was.
 */
#include "hw/intel-iommu/vtd-internal.h"
#include "hw/intel-iommu/vtd-cache.h"

#include <glib.h>

#define VTD_STATE_MAGIC         "VTDSTATE"
#define VTD_STATE_VERSION       1u
#define VTD_STATE_HEADER_LEN    48u
#define VTD_STATE_SECTION_HDR   8u
#define VTD_STATE_TRAILER_LEN   32u     /* SHA-256 */

/* Section tags: four ASCII characters, stored as bytes in this order. */
#define VTD_TAG(a, b, c, d)     ((uint32_t)(a) | (uint32_t)(b) << 8 | \
                                 (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define VTD_TAG_REGS            VTD_TAG('R', 'E', 'G', 'S')
#define VTD_TAG_CORE            VTD_TAG('C', 'O', 'R', 'E')

/* CORE section: latched state, fixed layout (docs/saved-state.md). */
#define VTD_CORE_LEN            40u
enum {
    VTD_CORE_SSIRWE         = 1u << 0,
    VTD_CORE_DMAR_ENABLED   = 1u << 1,
    VTD_CORE_QI_ENABLED     = 1u << 2,
    VTD_CORE_IR_ENABLED     = 1u << 3,
    VTD_CORE_CFI_ENABLED    = 1u << 4,
    VTD_CORE_IQ_DW          = 1u << 5,
    VTD_CORE_IQ_LAST_WAIT   = 1u << 6,
    VTD_CORE_IRT_EIME       = 1u << 7,
};
#define VTD_CORE_FLAGS_KNOWN    0xffu
/* Second flags byte. */
enum {
    VTD_CORE2_IQ_ABORT_NEXT_WAIT = 1u << 0,   /* ITE pending: see vtd-qi.c */
};
#define VTD_CORE_FLAGS2_KNOWN   0x01u

/* ---- Little-endian encoding --------------------------------------------- */

static void put_le32(GByteArray *b, uint32_t v)
{
    uint32_t le = GUINT32_TO_LE(v);

    g_byte_array_append(b, (const guint8 *)&le, 4);
}

static void put_le64(GByteArray *b, uint64_t v)
{
    uint64_t le = GUINT64_TO_LE(v);

    g_byte_array_append(b, (const guint8 *)&le, 8);
}

static void put_u8(GByteArray *b, uint8_t v)
{
    g_byte_array_append(b, &v, 1);
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return GUINT32_FROM_LE(v);
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return GUINT64_FROM_LE(v);
}

static void set_le32(uint8_t *p, uint32_t v)
{
    uint32_t le = GUINT32_TO_LE(v);

    memcpy(p, &le, 4);
}

static bool state_error(GError **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool state_error(GError **errp, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, g_quark_from_static_string("vtd-state-error"), 0,
                "saved VT-d state: %s", msg);
    g_free(msg);
    return false;
}

/* ---- Sections ----------------------------------------------------------- */

/* What a load has gathered and checked before anything is applied. */
typedef struct VtdStateStaging {
    const uint8_t *regs;        /* REGS payload (window, LE dwords) */
    uint64_t root_addr, iq_base, irt_base;
    uint32_t iq_entries, irt_entries, fault_index;
    uint8_t ttm, flags, flags2;
} VtdStateStaging;

/*
 * One section kind. save appends the payload; parse checks a payload and
 * fills the staging (it may rely on sections earlier in this table having
 * been parsed: the loader parses in table order); apply commits it.
 *
 * Extension point: a module with state of its own (e.g. the page request
 * queue) adds a row with a new tag and raises nothing else; old blobs
 * without the section stay loadable when `needed` says it is optional for
 * them. Changing an existing section's layout needs VTD_STATE_VERSION + 1.
 */
typedef struct VtdStateSection {
    uint32_t tag;
    const char *name;
    bool (*needed)(const VtdState *s);
    void (*save)(VtdState *s, GByteArray *b);
    bool (*parse)(VtdState *s, const uint8_t *p, uint32_t len,
                  VtdStateStaging *st, GError **errp);
    void (*apply)(VtdState *s, const VtdStateStaging *st);
} VtdStateSection;

static bool vtd_state_always(const VtdState *s)
{
    (void)s;
    return true;
}

/* REGS: the window as the guest reads it, one little-endian dword at a time. */
static void vtd_regs_save(VtdState *s, GByteArray *b)
{
    for (unsigned off = 0; off < VTD_MMIO_SIZE; off += 4) {
        put_le32(b, vtd_get32(s, off));
    }
}

static bool vtd_regs_parse(VtdState *s, const uint8_t *p, uint32_t len,
                           VtdStateStaging *st, GError **errp)
{
    static const struct { unsigned off; const char *name; } ro64[] = {
        { DMAR_CAP_REG, "CAP" }, { DMAR_ECAP_REG, "ECAP" },
    };

    if (len != VTD_MMIO_SIZE) {
        return state_error(errp, "register image is %u bytes, expected %u",
                           len, VTD_MMIO_SIZE);
    }
    if (get_le32(p + DMAR_VER_REG) != vtd_get32(s, DMAR_VER_REG)) {
        return state_error(errp, "register image has VER 0x%x, this unit 0x%x",
                           get_le32(p + DMAR_VER_REG),
                           vtd_get32(s, DMAR_VER_REG));
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(ro64); i++) {
        uint64_t v = get_le64(p + ro64[i].off);

        if (v != vtd_get64(s, ro64[i].off)) {
            return state_error(errp, "register image has %s 0x%016" G_GINT64_MODIFIER
                               "x, this unit 0x%016" G_GINT64_MODIFIER "x",
                               ro64[i].name, v, vtd_get64(s, ro64[i].off));
        }
    }
    st->regs = p;
    return true;
}

static void vtd_regs_apply(VtdState *s, const VtdStateStaging *st)
{
    for (unsigned off = 0; off < VTD_MMIO_SIZE; off += 4) {
        vtd_set32(s, off, get_le32(st->regs + off));
    }
}

/* CORE: state latched by commands, the enables, queue and fault positions. */
static void vtd_core_save(VtdState *s, GByteArray *b)
{
    uint8_t flags = (s->ssirwe ? VTD_CORE_SSIRWE : 0) |
                    (s->dmar_enabled ? VTD_CORE_DMAR_ENABLED : 0) |
                    (s->qi_enabled ? VTD_CORE_QI_ENABLED : 0) |
                    (s->ir_enabled ? VTD_CORE_IR_ENABLED : 0) |
                    (s->cfi_enabled ? VTD_CORE_CFI_ENABLED : 0) |
                    (s->iq_dw ? VTD_CORE_IQ_DW : 0) |
                    (s->iq_last_was_wait ? VTD_CORE_IQ_LAST_WAIT : 0) |
                    (s->irt_eime ? VTD_CORE_IRT_EIME : 0);

    put_le64(b, s->root_addr);
    put_le64(b, s->iq_base);
    put_le64(b, s->irt_base);
    put_le32(b, s->iq_entries);
    put_le32(b, s->irt_entries);
    put_le32(b, s->fault_index);
    put_u8(b, (uint8_t)s->ttm);
    put_u8(b, flags);
    put_u8(b, s->iq_abort_next_wait ? VTD_CORE2_IQ_ABORT_NEXT_WAIT : 0);
    put_u8(b, 0);
}

static bool vtd_pow2_in(uint32_t v, unsigned lo_log2, unsigned hi_log2)
{
    return v && !(v & (v - 1)) && v >= (1u << lo_log2) && v <= (1u << hi_log2);
}

static bool vtd_table_addr_ok(const VtdState *s, uint64_t a)
{
    return !(a & 0xfff) && (a & ~s->haw_mask) == 0;
}

/* Enables must agree with what GSTS in the register image shows. */
static bool vtd_core_check_gsts(const VtdStateStaging *st, GError **errp)
{
    static const struct { uint32_t bit, flag; const char *name; } map[] = {
        { VTD_GSTS_TES, VTD_CORE_DMAR_ENABLED, "TES" },
        { VTD_GSTS_QIES, VTD_CORE_QI_ENABLED, "QIES" },
        { VTD_GSTS_IRES, VTD_CORE_IR_ENABLED, "IRES" },
        { VTD_GSTS_CFIS, VTD_CORE_CFI_ENABLED, "CFIS" },
    };
    uint32_t gsts = get_le32(st->regs + DMAR_GSTS_REG);

    for (unsigned i = 0; i < G_N_ELEMENTS(map); i++) {
        if (!(gsts & map[i].bit) != !(st->flags & map[i].flag)) {
            return state_error(errp, "GSTS.%s disagrees with the saved enables",
                               map[i].name);
        }
    }
    return true;
}

/* IQH is hardware-owned: it must point inside the latched queue. */
static bool vtd_core_check_iqh(const VtdStateStaging *st, GError **errp)
{
    uint64_t iqh = get_le64(st->regs + DMAR_IQH_REG);
    uint64_t qbytes = (uint64_t)st->iq_entries *
                      ((st->flags & VTD_CORE_IQ_DW) ? 32 : 16);

    if ((iqh & ~VTD_IQ_PTR_MASK) || iqh >= MAX(qbytes, 16) ||
        ((st->flags & VTD_CORE_IQ_DW) && (iqh & 0x10))) {
        return state_error(errp, "IQH 0x%" G_GINT64_MODIFIER "x lies outside "
                           "the saved %u-entry queue", iqh, st->iq_entries);
    }
    return true;
}

static bool vtd_core_parse(VtdState *s, const uint8_t *p, uint32_t len,
                           VtdStateStaging *st, GError **errp)
{
    bool dw;

    if (len != VTD_CORE_LEN) {
        return state_error(errp, "CORE section is %u bytes, expected %u",
                           len, VTD_CORE_LEN);
    }
    st->root_addr = get_le64(p);
    st->iq_base = get_le64(p + 8);
    st->irt_base = get_le64(p + 16);
    st->iq_entries = get_le32(p + 24);
    st->irt_entries = get_le32(p + 28);
    st->fault_index = get_le32(p + 32);
    st->ttm = p[36];
    st->flags = p[37];
    st->flags2 = p[38];
    dw = st->flags & VTD_CORE_IQ_DW;

    if (p[39] || (st->flags & ~VTD_CORE_FLAGS_KNOWN) ||
        (st->flags2 & ~VTD_CORE_FLAGS2_KNOWN)) {
        return state_error(errp, "CORE section has reserved bits set");
    }
    if (st->ttm > VTD_TTM_ABORT_DMA) {
        return state_error(errp, "TTM %u is not a 2-bit value", st->ttm);
    }
    if (!vtd_table_addr_ok(s, st->root_addr) ||
        !vtd_table_addr_ok(s, st->iq_base) ||
        !vtd_table_addr_ok(s, st->irt_base)) {
        return state_error(errp, "a latched table address is unaligned or "
                           "beyond the host address width");
    }
    /* Queue sizes QS 0..7: 2^(8+QS) 128-bit or 2^(7+QS) 256-bit entries. */
    if (st->iq_entries ? !vtd_pow2_in(st->iq_entries, dw ? 7 : 8, dw ? 14 : 15)
                       : (st->flags & VTD_CORE_QI_ENABLED) != 0) {
        return state_error(errp, "invalidation queue size %u is impossible",
                           st->iq_entries);
    }
    if (st->irt_entries && !vtd_pow2_in(st->irt_entries, 1, 16)) {
        return state_error(errp, "interrupt table size %u is impossible",
                           st->irt_entries);
    }
    if (st->fault_index >= s->nfr) {
        return state_error(errp, "fault index %u beyond the %u records",
                           st->fault_index, s->nfr);
    }
    if ((st->flags & VTD_CORE_IRT_EIME) && !(s->ecap & VTD_ECAP_EIM)) {
        return state_error(errp, "EIME latched on a unit without EIM");
    }
    if ((st->flags & (VTD_CORE_IR_ENABLED | VTD_CORE_CFI_ENABLED)) &&
        !(s->ecap & VTD_ECAP_IR)) {
        return state_error(errp, "interrupt remapping enabled on a unit "
                           "without IR");
    }
    /* The REGS row comes first in the table, so st->regs is set. */
    return vtd_core_check_gsts(st, errp) && vtd_core_check_iqh(st, errp);
}

static void vtd_core_apply(VtdState *s, const VtdStateStaging *st)
{
    s->root_addr = st->root_addr;
    s->ttm = st->ttm;
    s->ssirwe = st->flags & VTD_CORE_SSIRWE;
    s->dmar_enabled = st->flags & VTD_CORE_DMAR_ENABLED;
    s->qi_enabled = st->flags & VTD_CORE_QI_ENABLED;
    s->ir_enabled = st->flags & VTD_CORE_IR_ENABLED;
    s->cfi_enabled = st->flags & VTD_CORE_CFI_ENABLED;
    s->iq_base = st->iq_base;
    s->iq_entries = st->iq_entries;
    s->iq_dw = st->flags & VTD_CORE_IQ_DW;
    s->iq_last_was_wait = st->flags & VTD_CORE_IQ_LAST_WAIT;
    s->irt_base = st->irt_base;
    s->irt_entries = st->irt_entries;
    s->irt_eime = st->flags & VTD_CORE_IRT_EIME;
    s->fault_index = st->fault_index;
    s->iq_abort_next_wait = st->flags2 & VTD_CORE2_IQ_ABORT_NEXT_WAIT;
}

/* Parse order matters: CORE cross-checks REGS. */
static const VtdStateSection vtd_state_sections[] = {
    { VTD_TAG_REGS, "REGS", vtd_state_always, vtd_regs_save, vtd_regs_parse,
      vtd_regs_apply },
    { VTD_TAG_CORE, "CORE", vtd_state_always, vtd_core_save, vtd_core_parse,
      vtd_core_apply },
    /* ats-prq: a page-request-queue section goes here (docs/saved-state.md). */
};
#define VTD_STATE_NSECTIONS G_N_ELEMENTS(vtd_state_sections)

/* ---- Save --------------------------------------------------------------- */

static void vtd_state_checksum(const uint8_t *p, size_t len, uint8_t out[32])
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    gsize n = 32;

    g_checksum_update(c, p, len);
    g_checksum_get_digest(c, out, &n);
    g_checksum_free(c);
}

bool vtd_state_save(VtdState *s, GByteArray *out)
{
    GByteArray *b = g_byte_array_new();
    uint32_t nsections = 0;
    uint8_t digest[VTD_STATE_TRAILER_LEN];

    g_byte_array_append(b, (const guint8 *)VTD_STATE_MAGIC, 8);
    put_le32(b, VTD_STATE_VERSION);
    put_le32(b, 0);                     /* total length, patched below */
    put_le64(b, s->cap);
    put_le64(b, s->ecap);
    put_le32(b, VTD_MMIO_SIZE);
    put_le32(b, s->nfr);
    put_le32(b, 0);                     /* section count, patched below */
    put_le32(b, 0);                     /* reserved */
    g_assert(b->len == VTD_STATE_HEADER_LEN);

    for (unsigned i = 0; i < VTD_STATE_NSECTIONS; i++) {
        const VtdStateSection *sec = &vtd_state_sections[i];
        guint at;

        if (!sec->needed(s)) {
            continue;
        }
        put_le32(b, sec->tag);
        at = b->len;
        put_le32(b, 0);
        sec->save(s, b);
        set_le32(b->data + at, b->len - at - 4);
        nsections++;
    }
    set_le32(b->data + 12, b->len + VTD_STATE_TRAILER_LEN);
    set_le32(b->data + 40, nsections);
    vtd_state_checksum(b->data, b->len, digest);
    g_byte_array_append(b, digest, sizeof(digest));

    g_byte_array_append(out, b->data, b->len);
    g_byte_array_free(b, true);
    return true;
}

/* ---- Load --------------------------------------------------------------- */

static bool vtd_state_check_header(VtdState *s, const uint8_t *buf, size_t len,
                                   GError **errp)
{
    uint8_t digest[VTD_STATE_TRAILER_LEN];
    uint32_t version, total;
    uint64_t cap, ecap;

    if (len < 12 || memcmp(buf, VTD_STATE_MAGIC, 8) != 0) {
        return state_error(errp, "not a vtdnest VT-d state blob (bad magic)");
    }
    version = get_le32(buf + 8);
    if (version != VTD_STATE_VERSION) {
        return state_error(errp, "format version %u is not supported (this "
                           "build reads version %u)", version,
                           VTD_STATE_VERSION);
    }
    if (len < VTD_STATE_HEADER_LEN + VTD_STATE_TRAILER_LEN) {
        return state_error(errp, "truncated: %zu bytes, the header and "
                           "checksum alone take %u", len,
                           VTD_STATE_HEADER_LEN + VTD_STATE_TRAILER_LEN);
    }
    total = get_le32(buf + 12);
    if (total != len) {
        return state_error(errp, "length mismatch: header says %u bytes, got "
                           "%zu (truncated or padded)", total, len);
    }
    vtd_state_checksum(buf, len - VTD_STATE_TRAILER_LEN, digest);
    if (memcmp(digest, buf + len - VTD_STATE_TRAILER_LEN, sizeof(digest))) {
        return state_error(errp, "checksum mismatch (the blob is corrupted)");
    }
    cap = get_le64(buf + 16);
    ecap = get_le64(buf + 24);
    if (cap != s->cap || ecap != s->ecap) {
        return state_error(errp, "saved from a unit with CAP=0x%016"
                           G_GINT64_MODIFIER "x ECAP=0x%016" G_GINT64_MODIFIER
                           "x, this unit has CAP=0x%016" G_GINT64_MODIFIER
                           "x ECAP=0x%016" G_GINT64_MODIFIER "x: start it with "
                           "the same -device intel-iommu options",
                           cap, ecap, s->cap, s->ecap);
    }
    if (get_le32(buf + 32) != VTD_MMIO_SIZE || get_le32(buf + 36) != s->nfr ||
        get_le32(buf + 44) != 0) {
        return state_error(errp, "window size, fault record count or a "
                           "reserved header field does not match this unit");
    }
    return true;
}

/* Split the body into sections, one payload per known tag. */
static bool vtd_state_split(const uint8_t *buf, size_t len,
                            const uint8_t *payload[], uint32_t plen[],
                            GError **errp)
{
    size_t pos = VTD_STATE_HEADER_LEN, end = len - VTD_STATE_TRAILER_LEN;
    uint32_t count = get_le32(buf + 40);

    for (uint32_t n = 0; n < count; n++) {
        uint32_t tag, slen;
        unsigned i;

        if (end - pos < VTD_STATE_SECTION_HDR) {
            return state_error(errp, "section %u header runs past the end", n);
        }
        tag = get_le32(buf + pos);
        slen = get_le32(buf + pos + 4);
        pos += VTD_STATE_SECTION_HDR;
        if (slen > end - pos) {
            return state_error(errp, "section %u (%u bytes) runs past the end",
                               n, slen);
        }
        for (i = 0; i < VTD_STATE_NSECTIONS; i++) {
            if (vtd_state_sections[i].tag == tag) {
                break;
            }
        }
        if (i == VTD_STATE_NSECTIONS) {
            return state_error(errp, "unknown section tag 0x%08x", tag);
        }
        if (payload[i]) {
            return state_error(errp, "section %s appears twice",
                               vtd_state_sections[i].name);
        }
        payload[i] = buf + pos;
        plen[i] = slen;
        pos += slen;
    }
    if (pos != end) {
        return state_error(errp, "%zu stray bytes after the last section",
                           end - pos);
    }
    return true;
}

bool vtd_state_load(VtdState *s, const uint8_t *buf, size_t len, GError **errp)
{
    const uint8_t *payload[VTD_STATE_NSECTIONS] = { NULL };
    uint32_t plen[VTD_STATE_NSECTIONS] = { 0 };
    VtdStateStaging st = { NULL };

    if (!buf && len) {
        return state_error(errp, "no data");
    }
    if (!vtd_state_check_header(s, buf, len, errp) ||
        !vtd_state_split(buf, len, payload, plen, errp)) {
        return false;
    }
    for (unsigned i = 0; i < VTD_STATE_NSECTIONS; i++) {
        const VtdStateSection *sec = &vtd_state_sections[i];

        if (!payload[i]) {
            if (sec->needed(s)) {
                return state_error(errp, "section %s is missing", sec->name);
            }
            continue;
        }
        if (!sec->parse(s, payload[i], plen[i], &st, errp)) {
            return false;
        }
    }

    /* Commit: power-on state (empty caches, masks), then the saved state. */
    vtd_reset(s);
    for (unsigned i = 0; i < VTD_STATE_NSECTIONS; i++) {
        if (payload[i]) {
            vtd_state_sections[i].apply(s, &st);
        }
    }
    /* Passthrough devices: the host must now do what the restored tables
     * say (one re-read of everything, as SRTP + TE would do). */
    vtd_nesting_resync(s);
    return true;
}
