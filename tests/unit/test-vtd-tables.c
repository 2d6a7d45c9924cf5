/* Root/context/PASID structure decoders and readers (vtd-tables.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"
#include "hw/intel-iommu/vtd-tables.h"

#define ALL_SM_ECAP (VTD_ECAP_DT | VTD_ECAP_PASID | VTD_ECAP_PRS | VTD_ECAP_RPS | \
                     VTD_ECAP_RPRIVS | VTD_ECAP_FSTS | VTD_ECAP_SSTS |          \
                     VTD_ECAP_NEST | VTD_ECAP_PT | VTD_ECAP_SSADS |             \
                     VTD_ECAP_SMPWCS | VTD_ECAP_SC | VTD_ECAP_SRS |             \
                     VTD_ECAP_EAFS | VTD_ECAP_MTS)

static VtdTableCaps caps_basic(uint64_t ecap)
{
    VtdTableCaps c = {
        .cap = VTD_CAP_SAGAW_39 | VTD_CAP_SAGAW_48 | VTD_CAP_MGAW(48) |
               VTD_CAP_ND(6),
        .ecap = ecap,
        .haw = 48,
        .mgaw = 48,
    };
    return c;
}

static void test_legacy_root(void **state)
{
    VtdTableCaps c = caps_basic(0);
    VtdLegacyRoot r;
    uint64_t raw[2] = { 0x5000, 0 };

    assert_int_equal(vtd_decode_legacy_root(&c, raw, &r), VTD_FR_LRT_2);
    raw[0] = 0x5001;
    assert_int_equal(vtd_decode_legacy_root(&c, raw, &r), VTD_FR_NONE);
    assert_true(r.present);
    assert_int_equal(r.ctp, 0x5000);
    raw[0] = 0x5003;        /* bit 1 reserved */
    assert_int_equal(vtd_decode_legacy_root(&c, raw, &r), VTD_FR_LRT_3);
    raw[0] = 0x5001 | (1ULL << 48);     /* beyond HAW */
    assert_int_equal(vtd_decode_legacy_root(&c, raw, &r), VTD_FR_LRT_3);
    raw[0] = 0x5001;
    raw[1] = 1;             /* upper qword reserved */
    assert_int_equal(vtd_decode_legacy_root(&c, raw, &r), VTD_FR_LRT_3);
    /* Reserved bits are ignored when not present. */
    raw[0] = 0x5002;
    assert_int_equal(vtd_decode_legacy_root(&c, raw, &r), VTD_FR_LRT_2);
}

static void test_legacy_context(void **state)
{
    VtdTableCaps c = caps_basic(VTD_ECAP_PT);
    VtdLegacyContext ctx;
    uint64_t raw[2] = { 0x2 /* FPD, P=0 */, 0 };

    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_2);
    assert_true(ctx.fpd);

    raw[0] = 0x7000 | 1;
    raw[1] = 2 | (0x1234ULL << 8);
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_NONE);
    assert_int_equal(ctx.did, 0x1234);
    assert_int_equal(ctx.aw, 2);
    assert_int_equal(ctx.ssptptr, 0x7000);
    assert_int_equal(ctx.tt, VTD_TT_SS);
    assert_false(ctx.fpd);

    raw[0] = 0x7000 | 1 | 0x10;        /* bit 4 reserved */
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_3);
    raw[0] = 0x7000 | 1;
    raw[1] = 2 | 0x80;                  /* bit 71 reserved */
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_3);
    raw[1] = 2 | (1ULL << 30);          /* 127:88 reserved */
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_3);
    raw[1] = 3;                         /* 57-bit AGAW not in SAGAW */
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_4);
    raw[1] = 1;
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_NONE);
    raw[0] = 0x7000 | 1 | (3 << 2);     /* TT=11b */
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_4);
    raw[0] = 0x7000 | 1 | (1 << 2);     /* TT=01b needs DT */
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_4);
    c.ecap |= VTD_ECAP_DT;
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_NONE);
    raw[0] = 1 | (2 << 2);              /* TT=10b: PT, AW unused */
    raw[1] = 0;
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_NONE);
    c.ecap &= ~VTD_ECAP_PT;
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_4);

    /* DID bits beyond CAP.ND are reserved. */
    c = caps_basic(0);
    c.cap = (c.cap & ~7ULL) | VTD_CAP_ND(2);    /* 8-bit DIDs */
    raw[0] = 0x7000 | 1;
    raw[1] = 2 | (0x100ULL << 8);
    assert_int_equal(vtd_decode_legacy_context(&c, raw, &ctx), VTD_FR_LCT_3);
}

static void test_sm_root(void **state)
{
    VtdTableCaps c = caps_basic(ALL_SM_ECAP);
    VtdSmRoot r;
    uint64_t raw[2] = { 0x3000 | 1, 0 };

    assert_int_equal(vtd_decode_sm_root(&c, raw, false, &r), VTD_FR_NONE);
    assert_int_equal(r.ctp, 0x3000);
    assert_int_equal(vtd_decode_sm_root(&c, raw, true, &r), VTD_FR_SRT_2);
    raw[1] = 0x4000 | 1 | 0x10;        /* upper half reserved bit */
    assert_int_equal(vtd_decode_sm_root(&c, raw, true, &r), VTD_FR_SRT_3);
    /* Reserved bits only matter in the half used. */
    assert_int_equal(vtd_decode_sm_root(&c, raw, false, &r), VTD_FR_NONE);
    raw[1] = 0x4000 | 1;
    assert_int_equal(vtd_decode_sm_root(&c, raw, true, &r), VTD_FR_NONE);
    assert_int_equal(r.ctp, 0x4000);
}

static void test_sm_context(void **state)
{
    VtdTableCaps c = caps_basic(ALL_SM_ECAP);
    VtdSmContext ctx;
    uint64_t raw[4] = { 0x2, 0, 0, 0 };

    assert_int_equal(vtd_decode_sm_context(&c, raw, &ctx), VTD_FR_SCT_2);
    assert_true(ctx.fpd);

    raw[0] = 0x9000 | 1 | VTD_BIT(2) | VTD_BIT(3) | VTD_BIT(4) | (2 << 9);
    raw[1] = 5 | VTD_BIT(20);
    assert_int_equal(vtd_decode_sm_context(&c, raw, &ctx), VTD_FR_NONE);
    assert_true(ctx.dte && ctx.paside && ctx.pre && ctx.rid_priv);
    assert_int_equal(ctx.pdts, 2);
    assert_int_equal(vtd_sm_ctx_pasid_limit(&ctx), 1 << 15);
    assert_int_equal(ctx.rid_pasid, 5);
    assert_int_equal(ctx.pasid_dir, 0x9000);

    /* Each optional field is reserved without its capability. */
    static const struct { uint64_t ecap; unsigned qw; uint64_t bit; } opt[] = {
        { VTD_ECAP_DT, 0, VTD_BIT(2) },
        { VTD_ECAP_PASID, 0, VTD_BIT(3) },
        { VTD_ECAP_PRS, 0, VTD_BIT(4) },
        { VTD_ECAP_RPS, 1, 5 },
        { VTD_ECAP_RPRIVS, 1, VTD_BIT(20) },
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(opt); i++) {
        uint64_t r2[4] = { 0x9000 | 1 | VTD_BIT(2), 0, 0, 0 };
        c = caps_basic(ALL_SM_ECAP & ~opt[i].ecap);
        r2[opt[i].qw] |= opt[i].bit;
        assert_int_equal(vtd_decode_sm_context(&c, r2, &ctx), VTD_FR_SCT_3);
        c = caps_basic(ALL_SM_ECAP);
        assert_int_equal(vtd_decode_sm_context(&c, r2, &ctx), VTD_FR_NONE);
    }
    c = caps_basic(ALL_SM_ECAP);
    uint64_t r3[4] = { 0x9000 | 1 | VTD_BIT(5), 0, 0, 0 };  /* HPTE */
    assert_int_equal(vtd_decode_sm_context(&c, r3, &ctx), VTD_FR_SCT_3);
    r3[0] = 0x9000 | 1;
    r3[2] = 1;
    assert_int_equal(vtd_decode_sm_context(&c, r3, &ctx), VTD_FR_SCT_3);
    r3[2] = 0;
    r3[3] = 1ULL << 63;
    assert_int_equal(vtd_decode_sm_context(&c, r3, &ctx), VTD_FR_SCT_3);
    r3[3] = 0;
    r3[0] = 0x9000 | 1 | (1ULL << 50);  /* beyond HAW */
    assert_int_equal(vtd_decode_sm_context(&c, r3, &ctx), VTD_FR_SCT_3);

    /* SCT.4: DTE=0 with PRE=1; RID_PASID beyond the directory. */
    r3[0] = 0x9000 | 1 | VTD_BIT(4);
    assert_int_equal(vtd_decode_sm_context(&c, r3, &ctx), VTD_FR_SCT_4);
    r3[0] = 0x9000 | 1;                 /* PDTS=0: 8192 PASIDs */
    r3[1] = 8192;
    assert_int_equal(vtd_decode_sm_context(&c, r3, &ctx), VTD_FR_SCT_4);
    r3[1] = 8191;
    assert_int_equal(vtd_decode_sm_context(&c, r3, &ctx), VTD_FR_NONE);
}

static void test_pasid_dir(void **state)
{
    VtdTableCaps c = caps_basic(ALL_SM_ECAP);
    VtdPasidDirEntry d;

    assert_int_equal(vtd_decode_pasid_dir_entry(&c, 0x2, &d), VTD_FR_SPD_2);
    assert_true(d.fpd);
    assert_int_equal(vtd_decode_pasid_dir_entry(&c, 0xa001, &d), VTD_FR_NONE);
    assert_int_equal(d.table, 0xa000);
    assert_false(d.fpd);
    assert_int_equal(vtd_decode_pasid_dir_entry(&c, 0xa001 | 0x800, &d),
                     VTD_FR_SPD_3);
    assert_int_equal(vtd_decode_pasid_dir_entry(&c, 0xa001 | (1ULL << 60), &d),
                     VTD_FR_SPD_3);
}

static void pe_init(uint64_t raw[8], unsigned pgtt)
{
    memset(raw, 0, 8 * sizeof(uint64_t));
    raw[0] = 1 | (pgtt << 6) | (2 << 2) | 0xb000;
    raw[1] = 7;
    raw[2] = 0xc000;
}

static void test_pasid_entry_decode(void **state)
{
    VtdTableCaps c = caps_basic(ALL_SM_ECAP);
    VtdPasidEntry pe;
    uint64_t raw[8];

    pe_init(raw, VTD_PGTT_NESTED);
    raw[0] |= VTD_BIT(9) | VTD_BIT(1);
    raw[1] |= VTD_BIT(23) | VTD_BIT(24);
    raw[2] |= VTD_BIT(0) | VTD_BIT(4) | VTD_BIT(7) | (0 << 2);
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_NONE);
    assert_true(pe.present && pe.fpd && pe.ssade && pe.pwsnp && pe.pgsnp);
    assert_true(pe.sre && pe.wpe && pe.eafe);
    assert_int_equal(pe.did, 7);
    assert_int_equal(pe.pgtt, VTD_PGTT_NESTED);
    assert_int_equal(pe.aw, 2);
    assert_int_equal(pe.ssptptr, 0xb000);
    assert_int_equal(pe.fsptptr, 0xc000);
    assert_int_equal(pe.fspm, VTD_FSPM_4LEVEL);

    raw[0] = 2;     /* FPD, not present */
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_2);
    assert_true(pe.fpd);
}

static void test_pasid_entry_reserved(void **state)
{
    VtdTableCaps c = caps_basic(ALL_SM_ECAP);
    VtdPasidEntry pe;
    uint64_t raw[8];

    /* Qwords 3-7 are reserved (Rev 5.10), every one of them. */
    for (unsigned q = 3; q < 8; q++) {
        pe_init(raw, VTD_PGTT_SS);
        raw[q] = 1ULL << (q * 7);
        assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_3);
    }
    /* Always-reserved bits. */
    static const struct { unsigned qw; uint64_t bit; } fixed[] = {
        { 0, VTD_BIT(5) }, { 0, VTD_BIT(10) }, { 1, VTD_BIT(16) },
        { 1, VTD_BIT(27) }, { 2, VTD_BIT(1) }, { 2, VTD_BIT(8) },
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(fixed); i++) {
        pe_init(raw, VTD_PGTT_SS);
        raw[fixed[i].qw] |= fixed[i].bit;
        assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_3);
    }
    /* Capability-dependent fields. */
    static const struct { uint64_t ecap; unsigned qw; uint64_t bit; } opt[] = {
        { VTD_ECAP_SSADS, 0, VTD_BIT(9) },
        { VTD_ECAP_SMPWCS, 1, VTD_BIT(23) },
        { VTD_ECAP_SC, 1, VTD_BIT(24) },
        { VTD_ECAP_MTS, 1, VTD_BIT(25) },
        { VTD_ECAP_MTS, 1, VTD_BIT(26) },
        { VTD_ECAP_MTS, 1, VTD_BIT(40) },
        { VTD_ECAP_SRS, 2, VTD_BIT(0) },
        { VTD_ECAP_EAFS, 2, VTD_BIT(7) },
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(opt); i++) {
        pe_init(raw, VTD_PGTT_SS);
        raw[opt[i].qw] |= opt[i].bit;
        c = caps_basic(ALL_SM_ECAP);
        assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_NONE);
        c = caps_basic(ALL_SM_ECAP & ~opt[i].ecap);
        assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_3);
    }
    /* Pointers beyond HAW: reserved only where the PGTT uses them. */
    c = caps_basic(ALL_SM_ECAP);
    pe_init(raw, VTD_PGTT_FS);
    raw[0] |= 1ULL << 50;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_NONE);
    raw[2] |= 1ULL << 50;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_3);
    pe_init(raw, VTD_PGTT_SS);
    raw[2] |= 1ULL << 50;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_NONE);
    raw[0] |= 1ULL << 50;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_3);
}

static void test_pasid_entry_invalid(void **state)
{
    VtdTableCaps c = caps_basic(ALL_SM_ECAP);
    VtdPasidEntry pe;
    uint64_t raw[8];
    static const unsigned bad_pgtt[] = { 0, 5, 6, 7 };
    static const struct { unsigned pgtt; uint64_t ecap; } need[] = {
        { VTD_PGTT_FS, VTD_ECAP_FSTS }, { VTD_PGTT_SS, VTD_ECAP_SSTS },
        { VTD_PGTT_NESTED, VTD_ECAP_NEST }, { VTD_PGTT_PT, VTD_ECAP_PT },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad_pgtt); i++) {
        pe_init(raw, bad_pgtt[i]);
        assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_4);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(need); i++) {
        pe_init(raw, need[i].pgtt);
        c = caps_basic(ALL_SM_ECAP);
        assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_NONE);
        c = caps_basic(ALL_SM_ECAP & ~need[i].ecap);
        assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_4);
    }
    c = caps_basic(ALL_SM_ECAP);
    /* AW 57-bit not in SAGAW: SS and nested only. */
    pe_init(raw, VTD_PGTT_SS);
    raw[0] = (raw[0] & ~0x1cULL) | (3 << 2);
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_4);
    pe_init(raw, VTD_PGTT_FS);
    raw[0] = (raw[0] & ~0x1cULL);       /* AW ignored for FS */
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_NONE);
    /* FSPM: 5-level needs FS5LP, 10b/11b reserved. */
    raw[2] |= 1 << 2;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_4);
    c.cap |= VTD_CAP_FS5LP;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_NONE);
    assert_int_equal(vtd_fspm_levels(pe.fspm), 5);
    raw[2] |= 2 << 2;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_4);
    /* Nested: FSPTPTR must fit min(MGAW, AGAW). */
    c = caps_basic(ALL_SM_ECAP);
    pe_init(raw, VTD_PGTT_NESTED);
    raw[0] = (raw[0] & ~0x1cULL) | (1 << 2);   /* 39-bit SS */
    raw[2] = 1ULL << 40;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_SPT_4);
    raw[2] = 1ULL << 38;
    assert_int_equal(vtd_decode_pasid_entry(&c, raw, &pe), VTD_FR_NONE);
}

static void tweak_sm(VtdConfig *cfg)
{
    cfg->scalable_mode = true;
    cfg->pasid_bits = 20;
}

static void test_readers_fetch(void **state)
{
    FakeMem *m = fm_new();
    VtdState *s = tvtd_new(m, tweak_sm);
    VtdLegacyRoot lr;
    VtdLegacyContext lc;
    VtdSmRoot sr;
    VtdSmContext sc;
    VtdPasidDirEntry d;
    VtdPasidEntry pe;

    s->root_addr = 0x100000;
    assert_int_equal(vtd_read_legacy_root(s, 3, &lr), VTD_FR_LRT_1);
    assert_int_equal(vtd_read_sm_root(s, 3, 0x85, &sr), VTD_FR_SRT_1);
    assert_int_equal(vtd_read_legacy_context(s, 0x200000, 1, &lc), VTD_FR_LCT_1);
    assert_int_equal(vtd_read_sm_context(s, 0x200000, 1, &sc), VTD_FR_SCT_1);
    assert_int_equal(vtd_read_pasid_dir_entry(s, 0x300000, 1, &d), VTD_FR_SPD_1);
    assert_int_equal(vtd_read_pasid_entry(s, 0x400000, 1, &pe), VTD_FR_SPT_1);

    /* Index arithmetic: bus, devfn (upper half), PASID[19:6], PASID[5:0]. */
    fm_w64(m, 0x100000 + 3 * 16 + 8, 0x500000 | 1);
    assert_int_equal(vtd_read_sm_root(s, 3, 0x85, &sr), VTD_FR_NONE);
    assert_int_equal(sr.ctp, 0x500000);
    fm_w64(m, 0x500000 + 5 * 32, 0x600000 | 1 | VTD_BIT(3));
    assert_int_equal(vtd_read_sm_context(s, 0x500000, 0x85, &sc), VTD_FR_NONE);
    assert_true(sc.paside);
    fm_w64(m, 0x600000 + 8 * 2, 0x700000 | 1);
    assert_int_equal(vtd_read_pasid_dir_entry(s, 0x600000, (2 << 6) | 9, &d),
                     VTD_FR_NONE);
    assert_int_equal(d.table, 0x700000);
    fm_w64(m, 0x700000 + 64 * 9, 1 | (VTD_PGTT_PT << 6));
    fm_w64(m, 0x700000 + 64 * 9 + 8, 42);
    assert_int_equal(vtd_read_pasid_entry(s, 0x700000, (2 << 6) | 9, &pe),
                     VTD_FR_NONE);
    assert_int_equal(pe.did, 42);
    /* Zeroed RAM is a not-present entry, not a fetch error. */
    fm_map(m, 0x800000);
    assert_int_equal(vtd_read_pasid_entry(s, 0x800000, 63, &pe), VTD_FR_SPT_2);
    vtd_free(s);
    fm_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_root),
        cmocka_unit_test(test_legacy_context),
        cmocka_unit_test(test_sm_root),
        cmocka_unit_test(test_sm_context),
        cmocka_unit_test(test_pasid_dir),
        cmocka_unit_test(test_pasid_entry_decode),
        cmocka_unit_test(test_pasid_entry_reserved),
        cmocka_unit_test(test_pasid_entry_invalid),
        cmocka_unit_test(test_readers_fetch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
