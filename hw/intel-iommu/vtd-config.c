/*
 * -device intel-iommu properties: names, aliases and defaults as QEMU has
 * them (qemu-anchor.md §1), the checks QEMU makes at realize (§1.3) with its
 * messages, our own checks for the opt-in capabilities, and CAP/ECAP composed
 * the way QEMU composes them (§2.3).
 */
#include <stdarg.h>
#include <stddef.h>

#include "hw/intel-iommu/vtd-internal.h"

#define VTD_DEFAULT_AW_BITS     48
#define VTD_DEFAULT_NFR         8
#define VTD_DEFAULT_IOTLB_SIZE  1024
#define VTD_MAX_IOTLB_SIZE      (1u << 20)
#define VTD_MAX_PASID_BITS      20
#define VTD_LEGACY_PASID_BITS   8     /* x-pasid-mode=on: QEMU's ECAP.PSS=7 */
#define VTD_ND_16BIT_DOMAINS    6
#define VTD_MAMV                18    /* 1 GiB pages need AM up to 18 */
#define VTD_MHMV                15

void vtd_config_defaults(VtdConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->aw_bits = VTD_DEFAULT_AW_BITS;
    cfg->dma_drain = true;
    cfg->dma_translation = true;
    cfg->intremap = -1;
    cfg->eim = -1;
    cfg->pt = true;
    cfg->fs1gp = true;
    cfg->nfr = VTD_DEFAULT_NFR;
    cfg->iotlb_size = VTD_DEFAULT_IOTLB_SIZE;
    cfg->flts_name = "flts";
}

/* ---- Parsing ------------------------------------------------------------ */

static bool get_bool(DeviceOpts *opts, const char *const *names, bool *field,
                     GError **errp)
{
    return opts_get_bool(opts, names, *field, field, errp);
}

static bool get_unsigned(DeviceOpts *opts, const char *const *names,
                         uint64_t max, unsigned *field, GError **errp)
{
    uint64_t v;

    if (!opts_get_uint(opts, names, *field, max, &v, errp)) {
        return false;
    }
    *field = (unsigned)v;
    return true;
}

/* The spelling of an aliased option the user typed (first alias if none). */
static const char *typed_name(DeviceOpts *opts, const char *const *names)
{
    for (unsigned i = 0; names[i]; i++) {
        if (opts_has(opts, names[i])) {
            return names[i];
        }
    }
    return names[0];
}

/* ---- Help ---------------------------------------------------------------- */

static const VtdPropertyHelp vtd_properties[] = {
    { "aw-bits", "uint8", "48", "guest address width (39, 48; 57 with x-aw57)" },
    { "caching-mode", "bool", "off", "CAP.CM" },
    { "scalable-mode", "bool", "off", "scalable mode (ECAP.SMTS)" },
    { "x-scalable-mode", "bool", "off", "old name of scalable-mode" },
    { "flts", "bool", "off", "first-stage translation (ECAP.FSTS)" },
    { "x-flts", "bool", "off", "old name of flts" },
    { "fsts", "bool", "off", "new name of flts" },
    { "pasid-bits", "uint8", "0", "PASID width, 0 = no PASID (max 20)" },
    { "x-pasid-mode", "bool", "off", "old form: 8-bit PASIDs" },
    { "dma-drain", "bool", "on", "CAP.DRD/DWD" },
    { "dma-translation", "bool", "on", "DMA remapping (off: IR-only unit)" },
    { "intremap", "OnOffAuto", "auto", "interrupt remapping (auto = on)" },
    { "eim", "OnOffAuto", "auto", "x2APIC destinations (auto = off)" },
    { "x-buggy-eim", "bool", "off", "let eim=auto turn on" },
    { "device-iotlb", "bool", "off", "device-TLB / ATS (ECAP.DT)" },
    { "pt", "bool", "on", "pass-through (ECAP.PT)" },
    { "snoop-control", "bool", "off", "snoop control (ECAP.SC)" },
    { "stale-tm", "bool", "off", "second-stage bit 62 not reserved with DT" },
    { "fs1gp", "bool", "on", "first-stage 1 GiB pages (CAP.FS1GP)" },
    { "version", "uint32", "0", "accepted and stored; VER stays 0x10" },
    { "x-nfr", "uint16", "8", "fault recording registers (1-256)" },
    { "x-iotlb-size", "uint32", "1024", "IOTLB entries" },
    { "x-ssts", "bool", "off", "opt-in: ECAP.SSTS alongside FSTS" },
    { "x-nest", "bool", "off", "opt-in: ECAP.NEST, nested PGTT" },
    { "x-fs5lp", "bool", "off", "opt-in: 5-level first stage" },
    { "x-aw57", "bool", "off", "opt-in: aw-bits=57, 5-level second stage" },
    { "x-srs", "bool", "off", "opt-in: supervisor requests" },
    { "x-smpwcs", "bool", "off", "opt-in: snooped walks, A/D updates" },
    { "x-eafs", "bool", "off", "opt-in: extended-accessed flag" },
    { "x-ssads", "bool", "off", "opt-in: second-stage A/D" },
    { "x-rps", "bool", "off", "opt-in: RID_PASID honoured" },
    { "x-adms", "bool", "off", "opt-in: abort-DMA mode" },
    { "x-prs", "bool", "off", "opt-in: page requests" },
    { "x-pds", "bool", "off", "opt-in: page-request drain" },
    { "x-dit", "bool", "off", "opt-in: device-TLB invalidation throttling" },
    { "x-nwfs", "bool", "off", "opt-in: ATS no-write flag" },
};

const VtdPropertyHelp *vtd_config_properties(size_t *count)
{
    *count = G_N_ELEMENTS(vtd_properties);
    return vtd_properties;
}

/* Opt-in booleans beyond QEMU: option name -> VtdConfig field. */
typedef struct VtdOptInBool {
    const char *name;
    size_t offset;
} VtdOptInBool;

#define OPT_IN(name, field) { name, offsetof(VtdConfig, field) }
static const VtdOptInBool vtd_opt_in_bools[] = {
    OPT_IN("x-ssts", x_ssts),     OPT_IN("x-nest", x_nest),
    OPT_IN("x-fs5lp", x_fs5lp),   OPT_IN("x-srs", x_srs),
    OPT_IN("x-eafs", x_eafs),     OPT_IN("x-smpwcs", x_smpwcs),
    OPT_IN("x-ssads", x_ssads),   OPT_IN("x-rps", x_rps),
    OPT_IN("x-adms", x_adms),     OPT_IN("x-prs", x_prs),
    OPT_IN("x-pds", x_pds),       OPT_IN("x-dit", x_dit),
    OPT_IN("x-nwfs", x_nwfs),     OPT_IN("x-aw57", x_aw57),
};
#undef OPT_IN

static bool parse_pasid(VtdConfig *cfg, DeviceOpts *opts, GError **errp)
{
    bool legacy_mode = false;

    if (opts_has(opts, "pasid-bits") && opts_has(opts, "x-pasid-mode")) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "pasid-bits and x-pasid-mode cannot be used together; "
                    "use pasid-bits");
        return false;
    }
    if (!get_unsigned(opts, OPT_NAMES("pasid-bits"), VTD_MAX_PASID_BITS,
                      &cfg->pasid_bits, errp) ||
        !opts_get_bool(opts, OPT_NAMES("x-pasid-mode"), false, &legacy_mode,
                       errp)) {
        return false;
    }
    if (legacy_mode) {
        cfg->pasid_bits = VTD_LEGACY_PASID_BITS;
    }
    return true;
}

/* eim=auto: QEMU turns it on only with a KVM irqchip or x-buggy-eim. */
static bool parse_interrupt_options(VtdConfig *cfg, DeviceOpts *opts,
                                    GError **errp)
{
    bool buggy_eim = false;

    if (!opts_get_on_off_auto(opts, OPT_NAMES("intremap"), cfg->intremap,
                              &cfg->intremap, errp) ||
        !opts_get_on_off_auto(opts, OPT_NAMES("eim"), cfg->eim, &cfg->eim,
                              errp) ||
        !opts_get_bool(opts, OPT_NAMES("x-buggy-eim"), false, &buggy_eim,
                       errp)) {
        return false;
    }
    if (cfg->eim < 0 && buggy_eim) {
        cfg->eim = cfg->intremap != 0 ? 1 : 0;
    }
    return true;
}

bool vtd_config_from_opts(VtdConfig *cfg, DeviceOpts *opts, GError **errp)
{
    static const char *const scalable_names[] = {
        "scalable-mode", "x-scalable-mode", NULL };
    static const char *const flts_names[] = { "flts", "x-flts", "fsts", NULL };

    cfg->flts_name = typed_name(opts, flts_names);
    if (!get_unsigned(opts, OPT_NAMES("aw-bits"), UINT8_MAX, &cfg->aw_bits,
                      errp) ||
        !get_bool(opts, OPT_NAMES("caching-mode"), &cfg->caching_mode, errp) ||
        !get_bool(opts, scalable_names, &cfg->scalable_mode, errp) ||
        !get_bool(opts, flts_names, &cfg->flts, errp) ||
        !parse_pasid(cfg, opts, errp) ||
        !get_bool(opts, OPT_NAMES("dma-drain"), &cfg->dma_drain, errp) ||
        !get_bool(opts, OPT_NAMES("dma-translation"), &cfg->dma_translation,
                  errp) ||
        !parse_interrupt_options(cfg, opts, errp) ||
        !get_bool(opts, OPT_NAMES("device-iotlb"), &cfg->device_iotlb, errp) ||
        !get_bool(opts, OPT_NAMES("pt"), &cfg->pt, errp) ||
        !get_bool(opts, OPT_NAMES("snoop-control"), &cfg->snoop_control,
                  errp) ||
        !get_bool(opts, OPT_NAMES("stale-tm"), &cfg->stale_tm, errp) ||
        !get_bool(opts, OPT_NAMES("fs1gp"), &cfg->fs1gp, errp) ||
        !get_unsigned(opts, OPT_NAMES("version"), UINT32_MAX, &cfg->version,
                      errp) ||
        !get_unsigned(opts, OPT_NAMES("x-nfr"), VTD_NFR_MAX, &cfg->nfr,
                      errp) ||
        !get_unsigned(opts, OPT_NAMES("x-iotlb-size"), VTD_MAX_IOTLB_SIZE,
                      &cfg->iotlb_size, errp)) {
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(vtd_opt_in_bools); i++) {
        bool *field = (bool *)((char *)cfg + vtd_opt_in_bools[i].offset);

        if (!get_bool(opts, OPT_NAMES(vtd_opt_in_bools[i].name), field,
                      errp)) {
            return false;
        }
    }
    return true;
}

/* ---- Validation --------------------------------------------------------- */

static bool fail(GError **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool fail(GError **errp, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, msg);
    g_free(msg);
    return false;
}

static const char *flts_name(const VtdConfig *cfg)
{
    return cfg->flts_name ? cfg->flts_name : "flts";
}

/* A second-stage table format is advertised (PGTT=010b or legacy). */
static bool has_second_stage(const VtdConfig *cfg)
{
    return !cfg->flts || cfg->x_ssts;
}

static bool validate_aw_bits(const VtdConfig *cfg, GError **errp)
{
    unsigned aw = cfg->aw_bits;
    const char *also57 = cfg->x_aw57 ? ", 57" : "";

    if (aw == 57 && !cfg->x_aw57) {
        return fail(errp, "aw-bits=57 needs x-aw57=on");
    }
    if (cfg->flts) {
        if (aw != 48 && aw != 57) {
            return fail(errp, "Scalable mode(%s=on): supported value for "
                        "aw-bits is: 48%s", flts_name(cfg), also57);
        }
        return true;
    }
    if (aw != 39 && aw != 48 && aw != 57) {
        if (cfg->scalable_mode) {
            return fail(errp, "Scalable mode(%s=off): supported values for "
                        "aw-bits are: 39, 48%s", flts_name(cfg), also57);
        }
        return fail(errp, "Legacy mode: supported values for aw-bits are: "
                    "39, 48%s", also57);
    }
    return true;
}

/* The checks QEMU makes, in QEMU's order and with its messages. */
static bool validate_qemu_rules(VtdConfig *cfg, GError **errp)
{
    if (cfg->intremap < 0) {
        cfg->intremap = 1;  /* no in-kernel irqchip here */
    }
    if (cfg->eim > 0 && !cfg->intremap) {
        return fail(errp, "eim=on cannot be selected without intremap=on");
    }
    if (cfg->eim < 0) {
        cfg->eim = 0;
    }
    if (cfg->flts && !cfg->scalable_mode) {
        return fail(errp, "%s is only available in scalable mode",
                    flts_name(cfg));
    }
    if (!validate_aw_bits(cfg, errp)) {
        return false;
    }
    if (cfg->scalable_mode && !cfg->dma_drain) {
        return fail(errp, "Need to set dma_drain for scalable mode");
    }
    if (cfg->pasid_bits && !cfg->scalable_mode) {
        return fail(errp, "Need to set scalable mode for PASID");
    }
    /* QEMU refuses PASID with a device-TLB; vtdnest implements PASID-based
     * device-TLB invalidation, and page requests need both, so the opt-in
     * x-prs lifts the refusal while default behaviour stays QEMU's. */
    if (cfg->pasid_bits && cfg->device_iotlb && !cfg->x_prs) {
        return fail(errp, "PASID based device IOTLB is not supported "
                    "(vtdnest supports it with x-prs=on)");
    }
    return true;
}

/* Our own limits and the spec's dependencies between opt-in capabilities. */
static bool validate_opt_ins(const VtdConfig *cfg, GError **errp)
{
    const char *fl = flts_name(cfg);

    if (cfg->nfr < 1 || cfg->nfr > VTD_NFR_MAX) {
        return fail(errp, "x-nfr must be between 1 and %u", VTD_NFR_MAX);
    }
    if (cfg->iotlb_size < 1 || cfg->iotlb_size > VTD_MAX_IOTLB_SIZE) {
        return fail(errp, "x-iotlb-size must be between 1 and %u",
                    VTD_MAX_IOTLB_SIZE);
    }
    if (cfg->pasid_bits > VTD_MAX_PASID_BITS) {
        return fail(errp, "pasid-bits must be at most %u (0 disables PASID)",
                    VTD_MAX_PASID_BITS);
    }
    if (cfg->x_ssts && !cfg->scalable_mode) {
        return fail(errp, "x-ssts=on needs scalable-mode=on");
    }
    if (cfg->x_srs && !cfg->scalable_mode) {
        return fail(errp, "x-srs=on needs scalable-mode=on");
    }
    if (cfg->x_smpwcs && !cfg->scalable_mode) {
        return fail(errp, "x-smpwcs=on needs scalable-mode=on");
    }
    if (cfg->x_rps && !cfg->scalable_mode) {
        return fail(errp, "x-rps=on needs scalable-mode=on");
    }
    if (cfg->x_nest && !(cfg->flts && cfg->x_ssts)) {
        return fail(errp, "x-nest=on needs %s=on and x-ssts=on", fl);
    }
    if (cfg->x_fs5lp && !cfg->flts) {
        return fail(errp, "x-fs5lp=on needs %s=on", fl);
    }
    if (cfg->x_eafs && !(cfg->flts && cfg->x_smpwcs)) {
        return fail(errp, "x-eafs=on needs %s=on and x-smpwcs=on", fl);
    }
    if (cfg->x_ssads && !(cfg->x_smpwcs && has_second_stage(cfg))) {
        return fail(errp, "x-ssads=on needs x-smpwcs=on and second-stage "
                    "translation (%s=off, or x-ssts=on)", fl);
    }
    if (cfg->x_prs && !(cfg->device_iotlb && cfg->scalable_mode)) {
        return fail(errp, "x-prs=on needs device-iotlb=on and scalable-mode=on");
    }
    if (cfg->x_pds && !cfg->device_iotlb) {
        return fail(errp, "x-pds=on needs device-iotlb=on");
    }
    if (cfg->x_dit && !cfg->device_iotlb) {
        return fail(errp, "x-dit=on needs device-iotlb=on");
    }
    if (cfg->x_nwfs && !cfg->device_iotlb) {
        return fail(errp, "x-nwfs=on needs device-iotlb=on");
    }
    return true;
}

bool vtd_config_validate(VtdConfig *cfg, GError **errp)
{
    return validate_qemu_rules(cfg, errp) && validate_opt_ins(cfg, errp);
}

/* ---- CAP / ECAP --------------------------------------------------------- */

uint64_t vtd_config_cap(const VtdConfig *cfg)
{
    uint64_t cap = VTD_CAP_FRO(VTD_FRCD_OFFSET) | VTD_CAP_NFR(cfg->nfr) |
                   VTD_CAP_ND(VTD_ND_16BIT_DOMAINS) | VTD_CAP_MAMV(VTD_MAMV) |
                   VTD_CAP_PSI | VTD_CAP_SSLPS_2M | VTD_CAP_SSLPS_1G |
                   VTD_CAP_ESRTPS | VTD_CAP_MGAW(cfg->aw_bits);

    if (cfg->dma_drain) {
        cap |= VTD_CAP_DRD | VTD_CAP_DWD;
    }
    /* No SAGAW at all makes an interrupt-remapping-only unit. */
    if (cfg->dma_translation) {
        if (cfg->aw_bits >= 39) {
            cap |= VTD_CAP_SAGAW_39;
        }
        if (cfg->aw_bits >= 48) {
            cap |= VTD_CAP_SAGAW_48;
        }
        if (cfg->aw_bits >= 57 && cfg->x_aw57) {
            cap |= VTD_CAP_SAGAW_57;
        }
    }
    if (cfg->caching_mode) {
        cap |= VTD_CAP_CM;
    }
    if (cfg->flts && cfg->fs1gp) {
        cap |= VTD_CAP_FS1GP;
    }
    if (cfg->flts && cfg->x_fs5lp) {
        cap |= VTD_CAP_FS5LP;
    }
    return cap;
}

uint64_t vtd_config_ecap(const VtdConfig *cfg)
{
    uint64_t ecap = VTD_ECAP_QI | VTD_ECAP_IRO(VTD_IVA_OFFSET);
    /* Unresolved auto values count as they resolve: intremap on, eim off. */
    bool intremap = cfg->intremap != 0;
    bool eim = cfg->eim > 0 && intremap;

    if (intremap) {
        ecap |= VTD_ECAP_IR | VTD_ECAP_MHMV(VTD_MHMV);
    }
    if (eim) {
        ecap |= VTD_ECAP_EIM;
    }
    if (cfg->device_iotlb) {
        ecap |= VTD_ECAP_DT;
    }
    if (cfg->pt) {
        ecap |= VTD_ECAP_PT;
    }
    if (cfg->scalable_mode && cfg->flts) {
        /* QEMU: first stage replaces second stage and supervisor requests. */
        ecap |= VTD_ECAP_SMTS | VTD_ECAP_FSTS;
        if (cfg->x_ssts) {
            ecap |= VTD_ECAP_SSTS;
        }
        if (cfg->x_srs) {
            ecap |= VTD_ECAP_SRS;
        }
    } else if (cfg->scalable_mode) {
        ecap |= VTD_ECAP_SMTS | VTD_ECAP_SRS | VTD_ECAP_SSTS;
    }
    if (cfg->snoop_control) {
        ecap |= VTD_ECAP_SC;
    }
    if (cfg->pasid_bits) {
        ecap |= VTD_ECAP_PASID | VTD_ECAP_PSS(cfg->pasid_bits);
    }
    if (cfg->x_nest) {
        ecap |= VTD_ECAP_NEST;
    }
    if (cfg->x_eafs) {
        ecap |= VTD_ECAP_EAFS;
    }
    if (cfg->x_smpwcs) {
        ecap |= VTD_ECAP_SMPWCS;
    }
    if (cfg->x_ssads) {
        ecap |= VTD_ECAP_SSADS;
    }
    if (cfg->x_rps) {
        ecap |= VTD_ECAP_RPS;
    }
    if (cfg->x_adms) {
        ecap |= VTD_ECAP_ADMS;
    }
    if (cfg->x_prs) {
        ecap |= VTD_ECAP_PRS;
    }
    if (cfg->x_pds) {
        ecap |= VTD_ECAP_PDS;
    }
    if (cfg->x_dit) {
        ecap |= VTD_ECAP_DIT;
    }
    if (cfg->x_nwfs) {
        ecap |= VTD_ECAP_NWFS;
    }
    return ecap;
}
