/*
 * intel-iommu properties: parsing with QEMU's names and aliases, validation
 * messages, and CAP/ECAP composition checked against the values derived in
 * qemu-anchor.md §2.3 and the bits QEMU's stage-1 test asserts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>

#include "hw/intel-iommu/vtd-internal.h"

/* QEMU's legacy default (NFR=0, i.e. one record): qemu-anchor.md §2.3. */
#define QEMU_LEGACY_CAP   0x80D2008C222F0606ULL
#define QEMU_LEGACY_ECAP  0x0000000000F00F4AULL
#define QEMU_FLTS_CAP     0x81D2008C222F0606ULL
#define QEMU_FLTS_ECAP    0x0000880000F00F4AULL

/* Parse "intel-iommu,..." and validate; false with *err on failure. */
static bool parse(const char *str, VtdConfig *cfg, GError **err)
{
    DeviceOpts *opts = opts_parse(str, "driver", err);
    bool ok;

    assert_non_null(opts);
    vtd_config_defaults(cfg);
    ok = vtd_config_from_opts(cfg, opts, err) &&
         vtd_config_validate(cfg, err) &&
         opts_check_all_used(opts, "intel-iommu", err);
    opts_free(opts);
    return ok;
}

static VtdConfig parse_ok(const char *str)
{
    VtdConfig cfg;
    GError *err = NULL;

    if (!parse(str, &cfg, &err)) {
        fail_msg("'%s' rejected: %s", str, err->message);
    }
    return cfg;
}

/* The error message of a rejected configuration (caller frees). */
static char *parse_error(const char *str)
{
    VtdConfig cfg;
    GError *err = NULL;
    char *msg;

    if (parse(str, &cfg, &err)) {
        fail_msg("'%s' was accepted", str);
    }
    assert_non_null(err);
    msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

static void expect_error(const char *str, const char *needle)
{
    char *msg = parse_error(str);

    if (!strstr(msg, needle)) {
        fail_msg("'%s': message '%s' lacks '%s'", str, msg, needle);
    }
    g_free(msg);
}

static uint64_t cap_of(const char *str)
{
    VtdConfig cfg = parse_ok(str);

    return vtd_config_cap(&cfg);
}

static uint64_t ecap_of(const char *str)
{
    VtdConfig cfg = parse_ok(str);

    return vtd_config_ecap(&cfg);
}

/* ---- defaults and parsing ----------------------------------------------- */

static void test_defaults(void **state)
{
    VtdConfig cfg;

    vtd_config_defaults(&cfg);
    assert_int_equal(cfg.aw_bits, 48);
    assert_false(cfg.caching_mode);
    assert_false(cfg.scalable_mode);
    assert_false(cfg.flts);
    assert_int_equal(cfg.pasid_bits, 0);
    assert_true(cfg.dma_drain);
    assert_true(cfg.dma_translation);
    assert_int_equal(cfg.intremap, -1);
    assert_int_equal(cfg.eim, -1);
    assert_false(cfg.device_iotlb);
    assert_true(cfg.pt);
    assert_false(cfg.snoop_control);
    assert_false(cfg.stale_tm);
    assert_true(cfg.fs1gp);
    assert_int_equal(cfg.nfr, 8);
    assert_int_equal(cfg.iotlb_size, 1024);
    assert_false(cfg.x_ssts || cfg.x_nest || cfg.x_prs || cfg.x_aw57);
}

static void test_auto_values_resolve(void **state)
{
    VtdConfig cfg = parse_ok("intel-iommu");

    assert_int_equal(cfg.intremap, 1);  /* no KVM irqchip: auto -> on */
    assert_int_equal(cfg.eim, 0);       /* auto -> off without KVM */
    cfg = parse_ok("intel-iommu,x-buggy-eim=on");
    assert_int_equal(cfg.eim, 1);
    cfg = parse_ok("intel-iommu,intremap=off,x-buggy-eim=on");
    assert_int_equal(cfg.eim, 0);
    cfg = parse_ok("intel-iommu,eim=on");
    assert_int_equal(cfg.eim, 1);
    cfg = parse_ok("intel-iommu,intremap=off");
    assert_int_equal(cfg.intremap, 0);
}

static void test_aliases(void **state)
{
    static const char *const spellings[] = {
        "intel-iommu,scalable-mode=on,flts=on",
        "intel-iommu,x-scalable-mode=on,x-flts=on",
        "intel-iommu,scalable-mode=on,fsts=on",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(spellings); i++) {
        VtdConfig cfg = parse_ok(spellings[i]);

        assert_true(cfg.scalable_mode);
        assert_true(cfg.flts);
    }
    expect_error("intel-iommu,scalable-mode=on,flts=on,x-flts=on", "flts");
    expect_error("intel-iommu,scalable-mode=on,x-scalable-mode=on",
                 "scalable-mode");
}

static void test_every_property_is_consumed(void **state)
{
    VtdConfig cfg = parse_ok(
        "intel-iommu,aw-bits=39,caching-mode=on,scalable-mode=on,"
        "dma-drain=on,dma-translation=on,intremap=on,eim=off,"
        "device-iotlb=on,pt=off,snoop-control=on,stale-tm=on,fs1gp=off,"
        "version=3,x-nfr=17,x-iotlb-size=64,x-srs=on,x-smpwcs=on,"
        "x-ssads=on,x-rps=on,x-adms=on,x-prs=on,x-pds=on,x-dit=on,"
        "x-nwfs=on,x-buggy-eim=off");

    assert_int_equal(cfg.aw_bits, 39);
    assert_true(cfg.caching_mode);
    assert_true(cfg.device_iotlb);
    assert_false(cfg.pt);
    assert_true(cfg.snoop_control);
    assert_true(cfg.stale_tm);
    assert_false(cfg.fs1gp);
    assert_int_equal(cfg.version, 3);
    assert_int_equal(cfg.nfr, 17);
    assert_int_equal(cfg.iotlb_size, 64);
    assert_true(cfg.x_srs && cfg.x_smpwcs && cfg.x_ssads && cfg.x_rps);
    assert_true(cfg.x_adms && cfg.x_prs && cfg.x_pds && cfg.x_dit);
    assert_true(cfg.x_nwfs);

    cfg = parse_ok("intel-iommu,scalable-mode=on,flts=on,x-ssts=on,"
                   "x-nest=on,x-fs5lp=on,x-smpwcs=on,x-eafs=on,"
                   "x-aw57=on,aw-bits=57");
    assert_true(cfg.x_ssts && cfg.x_nest && cfg.x_fs5lp && cfg.x_eafs);
    assert_true(cfg.x_aw57);
    assert_int_equal(cfg.aw_bits, 57);
}

static void test_unknown_property_rejected(void **state)
{
    expect_error("intel-iommu,no-such-thing=on", "no-such-thing");
}

static void test_pasid_options(void **state)
{
    VtdConfig cfg = parse_ok("intel-iommu,scalable-mode=on,x-pasid-mode=on");

    assert_int_equal(cfg.pasid_bits, 8);    /* QEMU's PSS = 7 */
    cfg = parse_ok("intel-iommu,scalable-mode=on,pasid-bits=20");
    assert_int_equal(cfg.pasid_bits, 20);
    cfg = parse_ok("intel-iommu,scalable-mode=on,x-pasid-mode=off");
    assert_int_equal(cfg.pasid_bits, 0);
    expect_error("intel-iommu,scalable-mode=on,pasid-bits=21", "pasid-bits");
    expect_error("intel-iommu,scalable-mode=on,pasid-bits=8,x-pasid-mode=on",
                 "pasid-bits and x-pasid-mode");
}

static void test_malformed_values(void **state)
{
    expect_error("intel-iommu,caching-mode=maybe", "caching-mode");
    expect_error("intel-iommu,aw-bits=forty", "aw-bits");
    expect_error("intel-iommu,x-nfr=257", "x-nfr");
    expect_error("intel-iommu,intremap=sometimes", "intremap");
}

/* ---- validation --------------------------------------------------------- */

static void test_qemu_messages(void **state)
{
    expect_error("intel-iommu,intremap=off,eim=on",
                 "eim=on cannot be selected without intremap=on");
    expect_error("intel-iommu,x-flts=on",
                 "x-flts is only available in scalable mode");
    expect_error("intel-iommu,flts=on", "flts is only available in scalable mode");
    expect_error("intel-iommu,fsts=on", "fsts is only available in scalable mode");
    expect_error("intel-iommu,aw-bits=40",
                 "Legacy mode: supported values for aw-bits are: 39, 48");
    expect_error("intel-iommu,scalable-mode=on,aw-bits=64",
                 "Scalable mode(flts=off): supported values for aw-bits are: 39, 48");
    expect_error("intel-iommu,x-scalable-mode=on,x-flts=on,aw-bits=39",
                 "Scalable mode(x-flts=on): supported value for aw-bits is: 48");
    expect_error("intel-iommu,scalable-mode=on,dma-drain=off",
                 "Need to set dma_drain for scalable mode");
    expect_error("intel-iommu,pasid-bits=8", "Need to set scalable mode for PASID");
    expect_error("intel-iommu,x-pasid-mode=on", "Need to set scalable mode for PASID");
    expect_error("intel-iommu,scalable-mode=on,x-pasid-mode=on,device-iotlb=on",
                 "PASID based device IOTLB is not supported");
    /* vtdnest goes beyond QEMU here only when page requests are opted in. */
    assert_int_equal(parse_ok("intel-iommu,scalable-mode=on,pasid-bits=20,"
                              "device-iotlb=on,x-prs=on").pasid_bits, 20);
}

static void test_aw_bits(void **state)
{
    assert_int_equal(parse_ok("intel-iommu,aw-bits=39").aw_bits, 39);
    assert_int_equal(parse_ok("intel-iommu,scalable-mode=on,aw-bits=39").aw_bits,
                     39);
    expect_error("intel-iommu,aw-bits=57", "aw-bits=57 needs x-aw57=on");
    assert_int_equal(parse_ok("intel-iommu,aw-bits=57,x-aw57=on").aw_bits, 57);
    expect_error("intel-iommu,aw-bits=52,x-aw57=on",
                 "supported values for aw-bits are: 39, 48, 57");
}

static void test_opt_in_dependencies(void **state)
{
    expect_error("intel-iommu,scalable-mode=on,flts=on,x-nest=on",
                 "x-nest=on needs flts=on and x-ssts=on");
    expect_error("intel-iommu,scalable-mode=on,x-ssts=on,x-nest=on",
                 "x-nest=on needs");
    expect_error("intel-iommu,x-ssts=on", "x-ssts=on needs scalable-mode=on");
    expect_error("intel-iommu,x-srs=on", "x-srs=on needs scalable-mode=on");
    expect_error("intel-iommu,x-smpwcs=on", "x-smpwcs=on needs scalable-mode=on");
    expect_error("intel-iommu,x-rps=on", "x-rps=on needs scalable-mode=on");
    expect_error("intel-iommu,scalable-mode=on,x-fs5lp=on", "x-fs5lp=on needs flts=on");
    expect_error("intel-iommu,scalable-mode=on,flts=on,x-eafs=on",
                 "x-eafs=on needs flts=on and x-smpwcs=on");
    expect_error("intel-iommu,scalable-mode=on,x-ssads=on", "x-ssads=on needs");
    expect_error("intel-iommu,scalable-mode=on,flts=on,x-smpwcs=on,x-ssads=on",
                 "second-stage");
    expect_error("intel-iommu,scalable-mode=on,x-prs=on",
                 "x-prs=on needs device-iotlb=on and scalable-mode=on");
    expect_error("intel-iommu,device-iotlb=on,x-prs=on",
                 "x-prs=on needs device-iotlb=on and scalable-mode=on");
    expect_error("intel-iommu,x-pds=on", "x-pds=on needs device-iotlb=on");
    expect_error("intel-iommu,x-dit=on", "x-dit=on needs device-iotlb=on");
    expect_error("intel-iommu,x-nwfs=on", "x-nwfs=on needs device-iotlb=on");
    expect_error("intel-iommu,x-nfr=0", "x-nfr must be between 1 and 256");
    expect_error("intel-iommu,x-iotlb-size=0", "x-iotlb-size must be between");
}

static void test_programmatic_config_names_flts(void **state)
{
    VtdConfig cfg;
    GError *err = NULL;

    vtd_config_defaults(&cfg);
    cfg.flts = true;
    assert_false(vtd_config_validate(&cfg, &err));
    assert_string_equal(err->message, "flts is only available in scalable mode");
    g_error_free(err);
}

/* ---- CAP / ECAP --------------------------------------------------------- */

static void test_legacy_default_matches_qemu(void **state)
{
    /* With one fault record our registers equal QEMU's exactly. */
    assert_int_equal(cap_of("intel-iommu,x-nfr=1"), QEMU_LEGACY_CAP);
    assert_int_equal(ecap_of("intel-iommu,x-nfr=1"), QEMU_LEGACY_ECAP);
    /* Default: 8 records, NFR field 7; nothing else differs. */
    assert_int_equal(cap_of("intel-iommu"),
                     (QEMU_LEGACY_CAP & ~VTD_MASK(47, 40)) | (7ULL << 40));
    assert_int_equal(VTD_CAP_NFR_GET(cap_of("intel-iommu,x-nfr=256")), 256);
    assert_int_equal(ecap_of("intel-iommu"), QEMU_LEGACY_ECAP);
}

static void test_flts_matches_qemu(void **state)
{
    uint64_t cap = cap_of("intel-iommu,scalable-mode=on,flts=on,x-nfr=1");
    uint64_t ecap = ecap_of("intel-iommu,scalable-mode=on,flts=on,x-nfr=1");

    assert_int_equal(cap, QEMU_FLTS_CAP);
    assert_int_equal(ecap, QEMU_FLTS_ECAP);
}

/* The assertions of QEMU's /q35/intel-iommu/stage-1 test. */
static void test_qemu_stage1_assertions(void **state)
{
    const char *cmdline = "intel-iommu,x-scalable-mode=on,x-flts=on";
    uint64_t cap = cap_of(cmdline), ecap = ecap_of(cmdline);
    uint64_t cap_must = VTD_CAP_FRO(0x220) | VTD_CAP_ND(6) | VTD_CAP_MAMV(18) |
                        VTD_CAP_PSI | VTD_CAP_SSLPS_2M | VTD_CAP_SSLPS_1G;
    uint64_t ecap_must = VTD_ECAP_QI | VTD_ECAP_IR | VTD_ECAP_IRO(0xf0) |
                         VTD_ECAP_MHMV(15) | VTD_ECAP_SMTS | VTD_ECAP_FSTS;

    assert_int_equal(cap & cap_must, cap_must);
    assert_int_equal(VTD_CAP_FRO_GET(cap), 0x220);
    assert_int_equal(cap & VTD_CAP_SAGAW_MASK,
                     VTD_CAP_SAGAW_39 | VTD_CAP_SAGAW_48);
    assert_int_equal((cap >> 16) & 0x3f, 47);
    assert_int_equal(ecap & ecap_must, ecap_must);
    assert_int_equal(VTD_ECAP_IRO_GET(ecap), 0xf0);
    /* First stage replaces second stage and SRS in QEMU. */
    assert_false(ecap & (VTD_ECAP_SSTS | VTD_ECAP_SRS));
    assert_true(cap & VTD_CAP_FS1GP);
    assert_false(cap_of("intel-iommu,scalable-mode=on,flts=on,fs1gp=off") &
                 VTD_CAP_FS1GP);
}

static void test_scalable_without_flts(void **state)
{
    uint64_t cap = cap_of("intel-iommu,scalable-mode=on");
    uint64_t ecap = ecap_of("intel-iommu,scalable-mode=on");
    uint64_t want = VTD_ECAP_SMTS | VTD_ECAP_SRS | VTD_ECAP_SSTS;

    assert_int_equal(ecap & want, want);
    assert_false(ecap & (VTD_ECAP_FSTS | VTD_ECAP_PASID | VTD_ECAP_NEST));
    assert_false(cap & VTD_CAP_FS1GP);  /* fs1gp only with first stage */
    assert_false(ecap_of("intel-iommu") & (want | VTD_ECAP_FSTS));
}

static void test_conditional_bits(void **state)
{
    uint64_t ecap;

    assert_int_equal(cap_of("intel-iommu,dma-translation=off") &
                     VTD_CAP_SAGAW_MASK, 0);
    assert_int_equal(cap_of("intel-iommu,aw-bits=39") & VTD_CAP_SAGAW_MASK,
                     VTD_CAP_SAGAW_39);
    assert_int_equal(VTD_CAP_MGAW_GET(cap_of("intel-iommu,aw-bits=39")), 39);
    assert_int_equal(cap_of("intel-iommu,aw-bits=57,x-aw57=on") &
                     VTD_CAP_SAGAW_MASK,
                     VTD_CAP_SAGAW_39 | VTD_CAP_SAGAW_48 | VTD_CAP_SAGAW_57);
    assert_true(cap_of("intel-iommu,caching-mode=on") & VTD_CAP_CM);
    assert_false(cap_of("intel-iommu") & VTD_CAP_CM);
    assert_false(cap_of("intel-iommu,dma-drain=off") &
                 (VTD_CAP_DRD | VTD_CAP_DWD));
    assert_false(cap_of("intel-iommu") & VTD_CAP_RWBF);

    ecap = ecap_of("intel-iommu,intremap=off");
    assert_false(ecap & (VTD_ECAP_IR | VTD_ECAP_MHMV(0xf) | VTD_ECAP_EIM));
    assert_true(ecap_of("intel-iommu,eim=on") & VTD_ECAP_EIM);
    assert_true(ecap_of("intel-iommu,device-iotlb=on") & VTD_ECAP_DT);
    assert_false(ecap_of("intel-iommu,pt=off") & VTD_ECAP_PT);
    assert_true(ecap_of("intel-iommu,snoop-control=on") & VTD_ECAP_SC);

    ecap = ecap_of("intel-iommu,scalable-mode=on,x-pasid-mode=on");
    assert_true(ecap & VTD_ECAP_PASID);
    assert_int_equal(VTD_FIELD(ecap, 39, 35), 7);
    ecap = ecap_of("intel-iommu,scalable-mode=on,pasid-bits=20");
    assert_int_equal(VTD_ECAP_PSS_GET(ecap), 20);
}

static void test_opt_in_bits(void **state)
{
    uint64_t ecap = ecap_of("intel-iommu,scalable-mode=on,flts=on,x-ssts=on,"
                            "x-nest=on,x-srs=on,x-smpwcs=on,x-eafs=on,"
                            "x-ssads=on,x-rps=on,x-adms=on,device-iotlb=on,"
                            "x-prs=on,x-pds=on,x-dit=on,x-nwfs=on");
    uint64_t want = VTD_ECAP_FSTS | VTD_ECAP_SSTS | VTD_ECAP_NEST |
                    VTD_ECAP_SRS | VTD_ECAP_SMPWCS | VTD_ECAP_EAFS |
                    VTD_ECAP_SSADS | VTD_ECAP_RPS | VTD_ECAP_ADMS |
                    VTD_ECAP_DT | VTD_ECAP_PRS | VTD_ECAP_PDS | VTD_ECAP_DIT |
                    VTD_ECAP_NWFS;

    assert_int_equal(ecap & want, want);
    assert_true(cap_of("intel-iommu,scalable-mode=on,flts=on,x-fs5lp=on") &
                VTD_CAP_FS5LP);
    assert_false(cap_of("intel-iommu,scalable-mode=on,flts=on") & VTD_CAP_FS5LP);
}

/* "-device intel-iommu,help" lists every property with its default: each
 * listed name must be accepted, and setting it to the listed default must
 * give exactly the default unit. */
static void test_help_table_matches_parser(void **state)
{
    size_t n;
    const VtdPropertyHelp *p = vtd_config_properties(&n);
    VtdConfig def = parse_ok("intel-iommu");

    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        g_autofree char *str = g_strdup_printf("intel-iommu,%s=%s", p[i].name,
                                               p[i].def);
        VtdConfig cfg = parse_ok(str);

        if (vtd_config_cap(&cfg) != vtd_config_cap(&def) ||
            vtd_config_ecap(&cfg) != vtd_config_ecap(&def) ||
            cfg.nfr != def.nfr || cfg.iotlb_size != def.iotlb_size ||
            cfg.version != def.version) {
            fail_msg("'%s' is not the default unit", str);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_auto_values_resolve),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_every_property_is_consumed),
        cmocka_unit_test(test_unknown_property_rejected),
        cmocka_unit_test(test_pasid_options),
        cmocka_unit_test(test_malformed_values),
        cmocka_unit_test(test_qemu_messages),
        cmocka_unit_test(test_aw_bits),
        cmocka_unit_test(test_help_table_matches_parser),
        cmocka_unit_test(test_opt_in_dependencies),
        cmocka_unit_test(test_programmatic_config_names_flts),
        cmocka_unit_test(test_legacy_default_matches_qemu),
        cmocka_unit_test(test_flts_matches_qemu),
        cmocka_unit_test(test_qemu_stage1_assertions),
        cmocka_unit_test(test_scalable_without_flts),
        cmocka_unit_test(test_conditional_bits),
        cmocka_unit_test(test_opt_in_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
