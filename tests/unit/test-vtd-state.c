/*
 * Saved state (vtd-state.c): round trip, continuing after a restore gives the
 * same results as the original unit, and every kind of bad blob (truncated,
 * corrupted, other version, other configuration, inconsistent fields with a
 * valid checksum) is rejected without touching the unit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-test-mem.h"
#include "hw/intel-iommu/vtd-ir.h"

#define ROOT    0x100000ULL
#define CTXT    0x101000ULL
#define ST(n)   (0x110000ULL + 0x1000ULL * (n))
#define IRT     0x130000ULL
#define IDX(a, l) (((a) >> (12 + 9 * ((l) - 1))) & 0x1ff)
#define SID     0x0318
#define IOVA    0x40201000ULL
#define TARGET  0x7000000ULL

/* Offsets documented in docs/saved-state.md. */
#define HDR_VERSION   8
#define HDR_TOTAL     12
#define HDR_COUNT     40
#define HDR_LEN       48
#define TRAILER       32

typedef struct Ctx {
    FakeMem *m;
    VtdState *a;        /* the unit that runs the workload */
    GByteArray *blob;   /* its state in the middle of it */
} Ctx;

/* ---- A small driver workload, through MMIO only ------------------------- */

static void gcmd(VtdState *s, uint32_t bit)
{
    uint32_t cmd = (uint32_t)vtd_mmio_read(s, DMAR_GSTS_REG, 4) & 0x96ffffffu;

    vtd_mmio_write(s, DMAR_GCMD_REG, cmd | bit, 4);
}

static void ss_map(FakeMem *m, uint64_t va, uint64_t pa)
{
    fm_w64(m, ST(4) + 8 * IDX(va, 4), ST(3) | 3);
    fm_w64(m, ST(3) + 8 * IDX(va, 3), ST(2) | 3);
    fm_w64(m, ST(2) + 8 * IDX(va, 2), ST(1) | 3);
    fm_w64(m, ST(1) + 8 * IDX(va, 1), pa | 3);
}

static void build_tables(FakeMem *m)
{
    fm_w64(m, ROOT + 16 * (SID >> 8), CTXT | 1);
    fm_w64(m, CTXT + 16 * (SID & 0xff), ST(4) | 1);
    fm_w64(m, CTXT + 16 * (SID & 0xff) + 8, 2 | (7 << 8));  /* AW 48, DID 7 */
    for (unsigned i = 0; i < 8; i++) {
        ss_map(m, IOVA + 0x1000ULL * i, TARGET + 0x3000ULL * i);
    }
    /* IRTE 5: vector 0x55 to APIC 2, only from SID. */
    fm_w64(m, IRT + 16 * 5, 1 | (0x55ULL << 16) | (0x2ULL << 40));
    fm_w64(m, IRT + 16 * 5 + 8, (1ULL << 18) | SID);
}

static void bring_up(VtdState *s)
{
    vtd_mmio_write(s, DMAR_RTADDR_REG, ROOT, 8);
    gcmd(s, VTD_GCMD_SRTP);
    gcmd(s, VTD_GCMD_TE);
    vtd_mmio_write(s, DMAR_IRTA_REG, IRT | 7, 8);
    gcmd(s, VTD_GCMD_SIRTP);
    gcmd(s, VTD_GCMD_IRE);
    vtd_mmio_write(s, DMAR_FEDATA_REG, 0x4021, 4);
    vtd_mmio_write(s, DMAR_FEADDR_REG, 0xfee01000, 4);
}

/* One step of the workload: a DMA, sometimes a fault, an interrupt. */
typedef struct Step {
    IommuResult res;
    bool irq_ok;
    uint64_t irq_addr;
    uint32_t irq_data;
} Step;

static void run_step(VtdState *s, unsigned i, Step *out)
{
    IommuRequest r = {
        .sid = (i % 5 == 4) ? SID + 1 : SID,     /* no context: fault */
        .pasid = IOMMU_NO_PASID,
        .addr = IOVA + 0x1000ULL * (i % 10) + 8 * i, /* 8, 9: unmapped */
        .access = (i & 1) ? IOMMU_ACCESS_WRITE : IOMMU_ACCESS_READ,
        .at = IOMMU_AT_UNTRANSLATED,
    };

    memset(out, 0, sizeof(*out));
    vtd_translate(s, &r, &out->res);
    out->irq_ok = vtd_interrupt(s, (i % 3 == 2) ? SID + 8 : SID,
                                0xfee00000 | (5 << 5) | 0x10, 0,
                                &out->irq_addr, &out->irq_data);
}

static void assert_same_step(const Step *x, const Step *y)
{
    assert_int_equal(x->res.ok, y->res.ok);
    assert_int_equal(x->res.out_addr, y->res.out_addr);
    assert_int_equal(x->res.page_mask, y->res.page_mask);
    assert_int_equal(x->res.perm, y->res.perm);
    assert_int_equal(x->res.fault_reason, y->res.fault_reason);
    assert_int_equal(x->irq_ok, y->irq_ok);
    assert_int_equal(x->irq_addr, y->irq_addr);
    assert_int_equal(x->irq_data, y->irq_data);
}

static VtdState *unit_new(FakeMem *m, void (*tweak)(VtdConfig *))
{
    VtdState *s = tvtd_new(m, tweak);

    assert_non_null(s);
    return s;
}

static GByteArray *save(VtdState *s)
{
    GByteArray *b = g_byte_array_new();

    assert_true(vtd_state_save(s, b));
    return b;
}

static void assert_same_state(VtdState *x, VtdState *y)
{
    GByteArray *bx = save(x), *by = save(y);

    assert_int_equal(bx->len, by->len);
    assert_memory_equal(bx->data, by->data, bx->len);
    g_byte_array_free(bx, true);
    g_byte_array_free(by, true);
}

static int setup(void **state)
{
    Ctx *c = g_new0(Ctx, 1);
    Step st;

    c->m = fm_new();
    build_tables(c->m);
    c->a = unit_new(c->m, NULL);
    bring_up(c->a);
    /* First half of the workload: fills caches and records faults. */
    for (unsigned i = 0; i < 12; i++) {
        run_step(c->a, i, &st);
    }
    c->blob = save(c->a);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    Ctx *c = *state;

    g_byte_array_free(c->blob, true);
    vtd_free(c->a);
    fm_free(c->m);
    g_free(c);
    return 0;
}

/* ---- Blob surgery -------------------------------------------------------- */

static GByteArray *copy_blob(const GByteArray *b)
{
    GByteArray *c = g_byte_array_sized_new(b->len);

    g_byte_array_append(c, b->data, b->len);
    return c;
}

static uint32_t rd32le(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return GUINT32_FROM_LE(v);
}

static void wr32le(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, 4);
}

/* Recompute the trailer so that only the field checks can catch an edit. */
static void reseal(GByteArray *b)
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    gsize n = TRAILER;

    wr32le(b->data + HDR_TOTAL, b->len);
    g_checksum_update(c, b->data, b->len - TRAILER);
    g_checksum_get_digest(c, b->data + b->len - TRAILER, &n);
    g_checksum_free(c);
}

/* Offset of the payload of section tag (e.g. "CORE"), by walking the blob. */
static size_t section(const GByteArray *b, const char *tag)
{
    size_t pos = HDR_LEN;
    uint32_t count = rd32le(b->data + HDR_COUNT);

    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = rd32le(b->data + pos + 4);

        if (memcmp(b->data + pos, tag, 4) == 0) {
            return pos + 8;
        }
        pos += 8 + len;
    }
    fail_msg("section %s not found", tag);
    return 0;
}

/* Load must fail with a message containing want, leaving the unit alone. */
static void assert_rejected(Ctx *c, const GByteArray *b, const char *want)
{
    VtdState *s = unit_new(c->m, NULL);
    GByteArray *before = save(s), *after;
    GError *err = NULL;

    assert_false(vtd_state_load(s, b->data, b->len, &err));
    assert_non_null(err);
    if (want && !strstr(err->message, want)) {
        fail_msg("error \"%s\" does not mention \"%s\"", err->message, want);
    }
    g_error_free(err);
    after = save(s);
    assert_int_equal(before->len, after->len);
    assert_memory_equal(before->data, after->data, before->len);
    g_byte_array_free(before, true);
    g_byte_array_free(after, true);
    vtd_free(s);
}

/* ---- Tests -------------------------------------------------------------- */

static void test_round_trip_is_exact(void **state)
{
    Ctx *c = *state;
    VtdState *b = unit_new(c->m, NULL);
    GError *err = NULL;

    assert_true(vtd_state_load(b, c->blob->data, c->blob->len, &err));
    assert_null(err);
    assert_same_state(c->a, b);
    /* Registers the guest sees are the same. */
    for (unsigned off = 0; off < vtd_mmio_size(b); off += 4) {
        assert_int_equal(vtd_mmio_read(c->a, off, 4), vtd_mmio_read(b, off, 4));
    }
    /* Caches are not carried over. */
    assert_int_equal(vtd_iotlb_count(b), 0);
    assert_int_equal(vtd_iec_count(b), 0);
    assert_true(vtd_iotlb_count(c->a) > 0);
    vtd_free(b);
}

static void test_continue_after_restore(void **state)
{
    Ctx *c = *state;
    VtdState *b = unit_new(c->m, NULL);
    Step x, y;
    unsigned dma_ok = 0, dma_fault = 0, irq_ok = 0, irq_blocked = 0;

    /* Dirty the fresh unit first: load must replace everything. */
    bring_up(b);
    run_step(b, 4, &y);
    assert_true(vtd_state_load(b, c->blob->data, c->blob->len, NULL));
    for (unsigned i = 12; i < 40; i++) {
        run_step(c->a, i, &x);
        run_step(b, i, &y);
        assert_same_step(&x, &y);
        dma_ok += x.res.ok;
        dma_fault += !x.res.ok;
        irq_ok += x.irq_ok;
        irq_blocked += !x.irq_ok;
    }
    /* The workload exercised both outcomes of both paths. */
    assert_true(dma_ok && dma_fault && irq_ok && irq_blocked);
    assert_int_equal(x.irq_addr, 0xfee02000);
    /* Fault records, FSTS, the fault index: all the same. */
    assert_same_state(c->a, b);
    vtd_free(b);
}

static void test_restore_into_reset_unit(void **state)
{
    Ctx *c = *state;
    Step x, y;

    /* The original unit itself, after a reset, continues identically. */
    VtdState *b = unit_new(c->m, NULL);

    assert_true(vtd_state_load(b, c->blob->data, c->blob->len, NULL));
    vtd_reset(c->a);
    assert_true(vtd_state_load(c->a, c->blob->data, c->blob->len, NULL));
    for (unsigned i = 12; i < 20; i++) {
        run_step(c->a, i, &x);
        run_step(b, i, &y);
        assert_same_step(&x, &y);
    }
    assert_same_state(c->a, b);
    vtd_free(b);
}

static void test_truncated(void **state)
{
    Ctx *c = *state;
    VtdState *s = unit_new(c->m, NULL);

    for (size_t len = 0; len < c->blob->len; len++) {
        GError *err = NULL;

        if (vtd_state_load(s, c->blob->data, len, &err)) {
            fail_msg("a %zu-byte prefix was accepted", len);
        }
        g_error_free(err);
    }
    assert_false(vtd_state_load(s, NULL, 0, NULL));
    vtd_free(s);
    {
        GByteArray *b = copy_blob(c->blob);

        g_byte_array_set_size(b, 100);
        assert_rejected(c, b, "truncated");
        g_byte_array_free(b, true);
    }
}

static void test_every_flipped_byte(void **state)
{
    Ctx *c = *state;
    VtdState *s = unit_new(c->m, NULL);
    GByteArray *b = copy_blob(c->blob);

    for (size_t i = 0; i < b->len; i++) {
        b->data[i] ^= 0x20;
        if (vtd_state_load(s, b->data, b->len, NULL)) {
            fail_msg("a blob with byte %zu changed was accepted", i);
        }
        b->data[i] ^= 0x20;
    }
    b->data[HDR_LEN + 100] ^= 1;
    assert_rejected(c, b, "checksum");
    g_byte_array_free(b, true);
    vtd_free(s);
}

static void test_wrong_version_and_magic(void **state)
{
    Ctx *c = *state;
    GByteArray *b = copy_blob(c->blob);

    wr32le(b->data + HDR_VERSION, 2);
    reseal(b);
    assert_rejected(c, b, "version 2");
    wr32le(b->data + HDR_VERSION, 1);
    b->data[0] = 'X';
    reseal(b);
    assert_rejected(c, b, "magic");
    g_byte_array_free(b, true);
}

static void tweak_scalable(VtdConfig *cfg)
{
    cfg->scalable_mode = true;
}

static void tweak_nfr(VtdConfig *cfg)
{
    cfg->nfr = 4;
}

static void test_wrong_config(void **state)
{
    Ctx *c = *state;
    void (*tweaks[])(VtdConfig *) = { tweak_scalable, tweak_nfr };

    for (unsigned i = 0; i < G_N_ELEMENTS(tweaks); i++) {
        VtdState *s = unit_new(c->m, tweaks[i]);
        GError *err = NULL;

        assert_false(vtd_state_load(s, c->blob->data, c->blob->len, &err));
        assert_non_null(strstr(err->message, "CAP="));
        assert_non_null(strstr(err->message, "-device intel-iommu"));
        g_error_free(err);
        vtd_free(s);
    }
}

/* Field-level damage with a valid checksum: caught by range checks. */
static void test_inconsistent_fields(void **state)
{
    Ctx *c = *state;
    size_t core = section(c->blob, "CORE"), regs = section(c->blob, "REGS");
    static const struct {
        const char *sec;
        size_t off;
        uint32_t val;
        const char *want;
    } edits[] = {
        { "CORE", 32, 8, "fault index" },           /* NFR is 8 */
        { "CORE", 36, 4, "TTM" },
        { "CORE", 37, 0x1a, "GSTS" },               /* CFI on, GSTS says off */
        { "CORE", 38, 2, "reserved" },
        { "CORE", 39, 1, "reserved" },
        { "CORE", 0, 0x100001, "unaligned" },       /* root address */
        { "CORE", 28, 3, "interrupt table size" },
        { "CORE", 24, 100, "queue size" },
        { "REGS", DMAR_IQH_REG, 0x10, "IQH" },      /* no queue latched */
        { "REGS", DMAR_CAP_REG, 0, "CAP" },
        { "REGS", DMAR_GSTS_REG, 0, "GSTS" },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(edits); i++) {
        GByteArray *b = copy_blob(c->blob);
        size_t at = (strcmp(edits[i].sec, "CORE") ? regs : core) + edits[i].off;

        if (!strcmp(edits[i].sec, "CORE") && edits[i].off >= 36) {
            b->data[at] = (uint8_t)edits[i].val;
        } else {
            wr32le(b->data + at, edits[i].val);
        }
        reseal(b);
        assert_rejected(c, b, edits[i].want);
        g_byte_array_free(b, true);
    }
}

static void test_bad_sections(void **state)
{
    Ctx *c = *state;
    GByteArray *b = copy_blob(c->blob);
    size_t core = section(c->blob, "CORE");

    /* One more section than present: runs into the trailer. */
    wr32le(b->data + HDR_COUNT, 3);
    reseal(b);
    assert_rejected(c, b, "past the end");
    /* One fewer: CORE left over as stray bytes. */
    wr32le(b->data + HDR_COUNT, 1);
    reseal(b);
    assert_rejected(c, b, "stray");
    /* Unknown tag. */
    wr32le(b->data + HDR_COUNT, 2);
    memcpy(b->data + core - 8, "ZZZZ", 4);
    reseal(b);
    assert_rejected(c, b, "unknown section");
    /* REGS twice (CORE relabelled): duplicate. */
    memcpy(b->data + core - 8, "REGS", 4);
    reseal(b);
    assert_rejected(c, b, "twice");
    /* A section length beyond the blob. */
    memcpy(b->data + core - 8, "CORE", 4);
    wr32le(b->data + core - 4, 0xfffffff0u);
    reseal(b);
    assert_rejected(c, b, "past the end");
    /* Wrong CORE size. */
    g_byte_array_free(b, true);
    b = copy_blob(c->blob);
    wr32le(b->data + core - 4, 36);
    g_byte_array_remove_range(b, core + 36, 4);
    reseal(b);
    assert_rejected(c, b, "CORE section is 36 bytes");
    /* Header length field disagrees with the buffer. */
    g_byte_array_free(b, true);
    b = copy_blob(c->blob);
    g_byte_array_append(b, (const guint8 *)"", 1);
    assert_rejected(c, b, "length mismatch");
    g_byte_array_free(b, true);
}

/*
 * Random damage to the header, CORE and the queue/IRT registers with a valid
 * checksum: every blob is either refused or yields a unit that keeps working
 * (DMA, interrupts, queue kicks) without misbehaving. Fixed seed.
 */
static void test_resealed_random_damage(void **state)
{
    Ctx *c = *state;
    GRand *rnd = g_rand_new_with_seed(0x5eed);
    size_t core = section(c->blob, "CORE"), regs = section(c->blob, "REGS");
    static const unsigned reg_offs[] = {
        DMAR_GSTS_REG, DMAR_IQH_REG, DMAR_IQT_REG, DMAR_IQA_REG,
        DMAR_IRTA_REG, DMAR_FSTS_REG, DMAR_FECTL_REG, DMAR_RTADDR_REG,
    };
    unsigned accepted = 0;

    for (unsigned iter = 0; iter < 3000; iter++) {
        GByteArray *b = copy_blob(c->blob);
        VtdState *s = unit_new(c->m, NULL);
        unsigned n = 1 + g_rand_int_range(rnd, 0, 3);

        for (unsigned k = 0; k < n; k++) {
            size_t at;

            switch (g_rand_int_range(rnd, 0, 3)) {
            case 0:
                at = g_rand_int_range(rnd, 16, HDR_LEN);
                break;
            case 1:
                at = core + g_rand_int_range(rnd, 0, 40);
                break;
            default:
                at = regs + reg_offs[g_rand_int_range(rnd, 0,
                                     G_N_ELEMENTS(reg_offs))] +
                     g_rand_int_range(rnd, 0, 8);
                break;
            }
            b->data[at] ^= 1u << g_rand_int_range(rnd, 0, 8);
        }
        reseal(b);
        if (vtd_state_load(s, b->data, b->len, NULL)) {
            Step st;

            accepted++;
            for (unsigned i = 0; i < 4; i++) {
                run_step(s, i, &st);
            }
            vtd_mmio_write(s, DMAR_IQT_REG, vtd_mmio_read(s, DMAR_IQT_REG, 8), 8);
        }
        vtd_free(s);
        g_byte_array_free(b, true);
    }
    /* Some damage is harmless (e.g. a pending-fault bit): both outcomes. */
    print_message("accepted %u of 3000\n", accepted);
    assert_true(accepted > 0 && accepted < 3000);
    g_rand_free(rnd);
}

/* Internal state with no register of its own travels too. */
static void test_latched_only_state(void **state)
{
    Ctx *c = *state;
    VtdState *b = unit_new(c->m, NULL);
    GByteArray *blob;

    c->a->iq_abort_next_wait = true;
    blob = save(c->a);
    assert_true(vtd_state_load(b, blob->data, blob->len, NULL));
    assert_true(b->iq_abort_next_wait);
    assert_int_equal(b->irt_base, IRT);
    assert_int_equal(b->irt_entries, 256);
    assert_int_equal(b->root_addr, ROOT);
    assert_int_equal(b->fault_index, c->a->fault_index);
    assert_true(b->ir_enabled && b->dmar_enabled);
    g_byte_array_free(blob, true);
    vtd_free(b);
}

static void test_save_appends(void **state)
{
    Ctx *c = *state;
    GByteArray *b = g_byte_array_new();

    g_byte_array_append(b, (const guint8 *)"abc", 3);
    assert_true(vtd_state_save(c->a, b));
    assert_int_equal(b->len, 3 + c->blob->len);
    assert_memory_equal(b->data + 3, c->blob->data, c->blob->len);
    assert_memory_equal(b->data + 3, "VTDSTATE", 8);
    g_byte_array_free(b, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continue_after_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_into_reset_unit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_version_and_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inconsistent_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latched_only_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resealed_random_damage, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
