/*
 * VT-d CAP/ECAP/VER decoding for the host probe. See vtd-cap-decode.h.
 */
#include "vtd-cap-decode.h"

#include <ctype.h>
#include <string.h>

G_DEFINE_QUARK(vtd-decode-error-quark, vtd_decode_error)

#define FLAG(n, bit, m)            { n, bit, bit, VTD_FIELD_FLAG, NULL, m }
#define FIELD(n, hi, lo, k, u, m)  { n, hi, lo, k, u, m }

/* vtd-spec-facts.md §2.1 */
const VtdRegField vtd_cap_fields[] = {
    FIELD("ND", 2, 0, VTD_FIELD_ND, NULL, "domain-id width"),
    FLAG("AFL", 3, "advanced fault logging (deprecated)"),
    FLAG("RWBF", 4, "required write-buffer flushing"),
    FLAG("PLMR", 5, "protected low-memory region"),
    FLAG("PHMR", 6, "protected high-memory region"),
    FLAG("CM", 7, "caching mode (not-present entries may be cached)"),
    FIELD("SAGAW", 12, 8, VTD_FIELD_SAGAW, NULL, "second-stage address widths"),
    FIELD("MGAW", 21, 16, VTD_FIELD_MINUS1, "bits", "max guest address width"),
    FLAG("ZLR", 22, "zero-length reads"),
    FIELD("FRO", 33, 24, VTD_FIELD_OFFSET16, NULL, "fault-recording register offset"),
    FIELD("SSLPS", 37, 34, VTD_FIELD_SSLPS, NULL, "second-stage large pages"),
    FLAG("PSI", 39, "page-selective IOTLB invalidation"),
    FIELD("NFR", 47, 40, VTD_FIELD_MINUS1, "records", "fault-recording registers"),
    FIELD("MAMV", 53, 48, VTD_FIELD_NUMBER, NULL, "max address-mask value"),
    FLAG("DWD", 54, "write draining"),
    FLAG("DRD", 55, "read draining"),
    FLAG("FS1GP", 56, "first-stage 1 GiB pages"),
    FLAG("PI", 59, "posted interrupts"),
    FLAG("FS5LP", 60, "first-stage 5-level paging"),
    FLAG("ECMDS", 61, "enhanced command interface"),
    FLAG("ESIRTPS", 62, "SIRTP invalidates interrupt caches"),
    FLAG("ESRTPS", 63, "SRTP invalidates remapping caches"),
};
const size_t vtd_cap_field_count = G_N_ELEMENTS(vtd_cap_fields);

/* vtd-spec-facts.md §2.2 */
const VtdRegField vtd_ecap_fields[] = {
    FLAG("C", 0, "page-walk coherency"),
    FLAG("QI", 1, "queued invalidation"),
    FLAG("DT", 2, "device-TLB (ATS)"),
    FLAG("IR", 3, "interrupt remapping"),
    FLAG("EIM", 4, "x2APIC interrupt mode"),
    FLAG("PT", 6, "pass-through"),
    FLAG("SC", 7, "snoop control"),
    FIELD("IRO", 17, 8, VTD_FIELD_OFFSET16, NULL, "IOTLB register offset"),
    FIELD("MHMV", 23, 20, VTD_FIELD_NUMBER, NULL, "max handle-mask value"),
    FLAG("MTS", 25, "memory-type support"),
    FLAG("NEST", 26, "nested translation"),
    FLAG("PRS", 29, "page requests"),
    FLAG("ERS", 30, "execute requests (deprecated)"),
    FLAG("SRS", 31, "supervisor requests"),
    FLAG("NWFS", 33, "no-write flag in translation requests"),
    FLAG("EAFS", 34, "extended-accessed flag"),
    FIELD("PSS", 39, 35, VTD_FIELD_MINUS1, "PASID bits", "PASID width"),
    FLAG("PASID", 40, "requests with PASID"),
    FLAG("DIT", 41, "device-TLB invalidation throttling"),
    FLAG("PDS", 42, "page-request drain"),
    FLAG("SMTS", 43, "scalable mode"),
    FLAG("VCS", 44, "virtual command interface"),
    FLAG("SSADS", 45, "second-stage accessed/dirty"),
    FLAG("SSTS", 46, "second-stage translation"),
    FLAG("FSTS", 47, "first-stage translation"),
    FLAG("SMPWCS", 48, "scalable-mode page-walk coherency"),
    FLAG("RPS", 49, "RID_PASID field"),
    FLAG("TDXCS", 50, "TDX Connect"),
    FLAG("PMS", 51, "performance monitoring"),
    FLAG("ADMS", 52, "abort-DMA mode"),
    FLAG("RPRIVS", 53, "RID_PRIV field"),
    FLAG("HPTS", 55, "host permission tables"),
    FLAG("PTRS", 56, "PASID in translated requests"),
    FLAG("SSIRWS", 57, "second-stage I/O read/write bits"),
    FLAG("SMS", 58, "stop markers"),
    FLAG("HPT1GPS", 59, "host permission tables 1 GiB pages"),
    FLAG("RDTS", 60, "RDT"),
    FLAG("EIMER", 61, "x2APIC mode required"),
    FLAG("IRREQ", 62, "interrupt remapping required"),
};
const size_t vtd_ecap_field_count = G_N_ELEMENTS(vtd_ecap_fields);

static uint64_t bits(uint64_t reg, unsigned hi, unsigned lo)
{
    unsigned width = hi - lo + 1;
    uint64_t mask = width >= 64 ? UINT64_MAX : ((UINT64_C(1) << width) - 1);

    return (reg >> lo) & mask;
}

static bool bit(uint64_t reg, unsigned n)
{
    return (reg >> n) & 1;
}

uint64_t vtd_field_get(uint64_t reg, const VtdRegField *f)
{
    return bits(reg, f->hi, f->lo);
}

const VtdRegField *vtd_field_find(const VtdRegField *table, size_t count,
                                  const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (g_ascii_strcasecmp(table[i].name, name) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

char *vtd_sagaw_describe(unsigned sagaw)
{
    /* SAGAW bit 1 = 39-bit, bit 2 = 48-bit, bit 3 = 57-bit; 0 and 4 reserved. */
    static const unsigned widths[] = { 0, 39, 48, 57, 0 };
    GString *s = g_string_new(NULL);

    for (unsigned i = 0; i < G_N_ELEMENTS(widths); i++) {
        if (!(sagaw & (1u << i))) {
            continue;
        }
        if (s->len) {
            g_string_append_c(s, ',');
        }
        if (widths[i]) {
            g_string_append_printf(s, "%u", widths[i]);
        } else {
            g_string_append_printf(s, "rsvd%u", i);
        }
    }
    if (!s->len) {
        g_string_append(s, "none");
    } else {
        g_string_append(s, "-bit");
    }
    return g_string_free(s, false);
}

static char *sslps_describe(unsigned sslps)
{
    GString *s = g_string_new(NULL);

    if (sslps & 1) {
        g_string_append(s, "2M");
    }
    if (sslps & 2) {
        g_string_append(s, s->len ? ",1G" : "1G");
    }
    if (sslps & ~3u) {
        g_string_append(s, s->len ? ",rsvd" : "rsvd");
    }
    if (!s->len) {
        g_string_append(s, "none");
    }
    return g_string_free(s, false);
}

char *vtd_field_format(uint64_t reg, const VtdRegField *f)
{
    uint64_t v = vtd_field_get(reg, f);
    g_autofree char *extra = NULL;

    switch (f->kind) {
    case VTD_FIELD_FLAG:
    case VTD_FIELD_NUMBER:
        return g_strdup_printf("%s=%" G_GUINT64_FORMAT, f->name, v);
    case VTD_FIELD_MINUS1:
        return g_strdup_printf("%s=%" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " %s)",
                               f->name, v, v + 1, f->unit ? f->unit : "");
    case VTD_FIELD_OFFSET16:
        return g_strdup_printf("%s=0x%" G_GINT64_MODIFIER "x (at 0x%"
                               G_GINT64_MODIFIER "x)", f->name, v, v * 16);
    case VTD_FIELD_ND:
        if (v == 7) {
            return g_strdup_printf("%s=7 (reserved)", f->name);
        }
        return g_strdup_printf("%s=%" G_GUINT64_FORMAT " (%u-bit DID, %u domains)",
                               f->name, v, (unsigned)(4 + 2 * v),
                               1u << (4 + 2 * v));
    case VTD_FIELD_SAGAW:
        extra = vtd_sagaw_describe((unsigned)v);
        return g_strdup_printf("%s=0x%" G_GINT64_MODIFIER "x (%s)", f->name, v,
                               extra);
    case VTD_FIELD_SSLPS:
        extra = sslps_describe((unsigned)v);
        return g_strdup_printf("%s=0x%" G_GINT64_MODIFIER "x (%s)", f->name, v,
                               extra);
    }
    return g_strdup_printf("%s=%" G_GUINT64_FORMAT, f->name, v);
}

void vtd_cap_decode(uint64_t cap, VtdCapInfo *out)
{
    memset(out, 0, sizeof(*out));
    out->nd = (unsigned)bits(cap, 2, 0);
    if (out->nd != 7) {
        out->domain_id_bits = 4 + 2 * out->nd;
        out->num_domains = UINT32_C(1) << out->domain_id_bits;
    }
    out->afl = bit(cap, 3);
    out->rwbf = bit(cap, 4);
    out->plmr = bit(cap, 5);
    out->phmr = bit(cap, 6);
    out->cm = bit(cap, 7);
    out->sagaw = (unsigned)bits(cap, 12, 8);
    out->sagaw_39 = out->sagaw & 2;
    out->sagaw_48 = out->sagaw & 4;
    out->sagaw_57 = out->sagaw & 8;
    out->mgaw_bits = (unsigned)bits(cap, 21, 16) + 1;
    out->zlr = bit(cap, 22);
    out->fro_offset = (unsigned)bits(cap, 33, 24) * 16;
    out->sslps_2m = bit(cap, 34);
    out->sslps_1g = bit(cap, 35);
    out->psi = bit(cap, 39);
    out->nfr = (unsigned)bits(cap, 47, 40) + 1;
    out->mamv = (unsigned)bits(cap, 53, 48);
    out->dwd = bit(cap, 54);
    out->drd = bit(cap, 55);
    out->fs1gp = bit(cap, 56);
    out->pi = bit(cap, 59);
    out->fs5lp = bit(cap, 60);
    out->ecmds = bit(cap, 61);
    out->esirtps = bit(cap, 62);
    out->esrtps = bit(cap, 63);
}

void vtd_ecap_decode(uint64_t ecap, VtdEcapInfo *out)
{
    memset(out, 0, sizeof(*out));
    out->c = bit(ecap, 0);
    out->qi = bit(ecap, 1);
    out->dt = bit(ecap, 2);
    out->ir = bit(ecap, 3);
    out->eim = bit(ecap, 4);
    out->pt = bit(ecap, 6);
    out->sc = bit(ecap, 7);
    out->iro_offset = (unsigned)bits(ecap, 17, 8) * 16;
    out->mhmv = (unsigned)bits(ecap, 23, 20);
    out->mts = bit(ecap, 25);
    out->nest = bit(ecap, 26);
    out->prs = bit(ecap, 29);
    out->ers = bit(ecap, 30);
    out->srs = bit(ecap, 31);
    out->nwfs = bit(ecap, 33);
    out->eafs = bit(ecap, 34);
    out->pasid = bit(ecap, 40);
    /* PSS is only meaningful when PASIDs are supported. */
    out->pasid_bits = out->pasid ? (unsigned)bits(ecap, 39, 35) + 1 : 0;
    out->dit = bit(ecap, 41);
    out->pds = bit(ecap, 42);
    out->smts = bit(ecap, 43);
    out->vcs = bit(ecap, 44);
    out->ssads = bit(ecap, 45);
    out->ssts = bit(ecap, 46);
    out->fsts = bit(ecap, 47);
    out->smpwcs = bit(ecap, 48);
    out->rps = bit(ecap, 49);
    out->tdxcs = bit(ecap, 50);
    out->pms = bit(ecap, 51);
    out->adms = bit(ecap, 52);
    out->rprivs = bit(ecap, 53);
    out->hpts = bit(ecap, 55);
    out->ptrs = bit(ecap, 56);
    out->ssirws = bit(ecap, 57);
    out->sms = bit(ecap, 58);
    out->hpt1gps = bit(ecap, 59);
    out->rdts = bit(ecap, 60);
    out->eimer = bit(ecap, 61);
    out->irreq = bit(ecap, 62);
}

unsigned vtd_nesting_missing(uint64_t ecap,
                             const char *missing[VTD_NESTING_PREREQS])
{
    static const char *const names[VTD_NESTING_PREREQS] = {
        "SMTS", "NEST", "FSTS", "SSTS",
    };
    VtdEcapInfo e;
    unsigned n = 0;

    vtd_ecap_decode(ecap, &e);
    const bool have[VTD_NESTING_PREREQS] = { e.smts, e.nest, e.fsts, e.ssts };
    for (unsigned i = 0; i < VTD_NESTING_PREREQS; i++) {
        if (!have[i]) {
            if (missing) {
                missing[n] = names[i];
            }
            n++;
        }
    }
    return n;
}

/* Copy of text without surrounding whitespace. */
static char *trimmed(const char *text)
{
    return g_strstrip(g_strdup(text ? text : ""));
}

bool vtd_parse_reg_hex(const char *text, uint64_t *out, GError **errp)
{
    g_autofree char *t = trimmed(text);
    const char *p = t;
    uint64_t v = 0;
    size_t digits = 0;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
    }
    for (; *p; p++, digits++) {
        if (!g_ascii_isxdigit(*p) || digits == 16) {
            g_set_error(errp, VTD_DECODE_ERROR, VTD_DECODE_ERROR_MALFORMED,
                        "'%s' is not a 64-bit hexadecimal register value", t);
            return false;
        }
        v = (v << 4) | (uint64_t)g_ascii_xdigit_value(*p);
    }
    if (!digits) {
        g_set_error(errp, VTD_DECODE_ERROR, VTD_DECODE_ERROR_MALFORMED,
                    "empty register value (expected hexadecimal digits)");
        return false;
    }
    *out = v;
    return true;
}

/* Small decimal number made only of digits; false otherwise. */
static bool parse_small_decimal(const char *s, size_t len, unsigned *out)
{
    unsigned v = 0;

    if (!len || len > 4) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isdigit(s[i])) {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool vtd_parse_version(const char *text, unsigned *major, unsigned *minor,
                       GError **errp)
{
    g_autofree char *t = trimmed(text);
    const char *sep = strpbrk(t, ":.");
    uint64_t ver;

    if (sep) {
        /* Linux sysfs: "%d:%d". */
        if (parse_small_decimal(t, (size_t)(sep - t), major) &&
            parse_small_decimal(sep + 1, strlen(sep + 1), minor)) {
            return true;
        }
    } else if (vtd_parse_reg_hex(t, &ver, NULL) && ver <= 0xffffffffu) {
        /* Raw VER_REG: 7:4 major, 3:0 minor. */
        *major = (unsigned)bits(ver, 7, 4);
        *minor = (unsigned)bits(ver, 3, 0);
        return true;
    }
    g_set_error(errp, VTD_DECODE_ERROR, VTD_DECODE_ERROR_MALFORMED,
                "'%s' is not a VT-d version (expected \"major:minor\" or a "
                "hexadecimal VER_REG)", t);
    return false;
}
