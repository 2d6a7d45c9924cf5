/*
 * PASID-entry shadowing and invalidation forwarding (vtd-nest-pasid.c,
 * vtd-nest-inval.c), end to end on the simulator: the guest writes its
 * tables into guest RAM, invalidates through the unit's dispatcher, and a
 * passthrough device's DMA (iommufd_sim_dma) goes through the host's nested
 * translation over that very RAM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "vtd-nest-fixture.h"

#define BDF        "0000:01:00.0"
#define SID        0x0100          /* bus 1, devfn 0 */
#define ROOT       0x10000
#define CTX        0x11000
#define PDIR       0x12000
#define PTBL       0x13000
#define PML4       0x20000
#define PDPT       0x21000
#define PD         0x22000
#define PT         0x23000
#define PML4_B     0x24000        /* a second root with the same contents */
#define IOVA       0x40000000ULL  /* PML4[0] PDPT[1] PD[0] PT[0] */
#define DATA_A     0x200000
#define DATA_B     0x201000
#define DID_RID    7
#define DID_P5     9
#define FS_TABLE   0x27           /* P RW US A */
#define FS_LEAF    0x67           /* + D */

static const char *const units[] = { "id=u0,errata=off", NULL };
static const char *const devices[] = { "host=" BDF ",unit=u0", NULL };

typedef struct S1 {
    NestFixture *f;
    IommufdBackend *be;
    HostIommuDevice *hd;
    int base_objects;
} S1;

static void w64(S1 *t, uint64_t gpa, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(t->f->ram + gpa, &v, 8);
}

static void set_pasid_entry(S1 *t, uint32_t pasid, unsigned pgtt, uint16_t did,
                            uint64_t fsptptr)
{
    uint64_t e = PTBL + 64ULL * pasid;

    memset(t->f->ram + e, 0, 64);
    if (!pgtt) {
        return;
    }
    w64(t, e, 1 | (uint64_t)pgtt << 6);
    w64(t, e + 8, did);
    w64(t, e + 16, fsptptr);
}

static void set_leaf(S1 *t, uint64_t gpa)
{
    w64(t, PT, gpa | FS_LEAF);
}

static void build_tables(S1 *t)
{
    w64(t, ROOT + 16 * 1, CTX | 1);                 /* bus 1: lower half */
    w64(t, CTX, PDIR | 1 | 8);                      /* P, PASIDE, PDTS 0 */
    w64(t, PDIR, PTBL | 1);
    w64(t, PML4, PDPT | FS_TABLE);
    w64(t, PDPT + 8, PD | FS_TABLE);
    w64(t, PD, PT | FS_TABLE);
    set_leaf(t, DATA_A);
    memcpy(t->f->ram + PML4_B, t->f->ram + PML4, 4096);
    set_pasid_entry(t, 0, VTD_PGTT_FS, DID_RID, PML4);
}

static void enable_translation(S1 *t)
{
    vtd_mmio_write(t->f->s, DMAR_RTADDR_REG, ROOT | (1u << 10), 8);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_SRTP, 4);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
}

static bool inval(S1 *t, VtdInvalKind kind, VtdInvalGran gran, uint16_t did,
                  uint32_t pasid, uint64_t addr, unsigned am, GError **errp)
{
    VtdInvalidation inv = {
        .kind = kind, .gran = gran, .did = did, .pasid = pasid,
        .addr = addr, .am = am,
    };

    vtd_inval_dispatch(t->f->s, &inv);
    return vtd_inval_sync(t->f->s, errp);
}

static bool pc_inval(S1 *t, uint16_t did, uint32_t pasid)
{
    GError *err = NULL;
    bool ok = inval(t, VTD_INVAL_PASID_CACHE, VTD_INVAL_GRAN_PASID, did, pasid,
                    0, 0, &err);

    g_clear_error(&err);
    return ok;
}

/* Device writes v at iova with pasid; where did it land? */
static bool dma_write(S1 *t, uint32_t pasid, uint64_t iova, uint64_t v)
{
    IommufdSimFault fault;

    return iommufd_sim_dma(t->f->sim, BDF, pasid, iova, &v, 8, true, &fault);
}

static uint64_t ram64(S1 *t, uint64_t gpa)
{
    uint64_t v;

    memcpy(&v, t->f->ram + gpa, 8);
    return v;
}

static int setup(void **state)
{
    S1 *t = g_new0(S1, 1);
    GError *err = NULL;

    t->f = nf_new(units, devices);
    t->be = nf_backend(t->f);
    t->hd = nf_hd(t->f, t->be, "fd0", BDF, "u0", SID);
    t->base_objects = iommufd_sim_object_count(t->f->sim, t->be->fd);
    build_tables(t);
    assert_true(vtd_set_host_device(t->f->s, t->hd, &err));
    enable_translation(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    S1 *t = *state;

    vtd_unset_host_device(t->f->s, t->hd);
    /* Unplug releases every host object the device used. */
    assert_int_equal(iommufd_sim_object_count(t->f->sim, t->be->fd),
                     t->base_objects);
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 0), 0);
    vtd_free(t->f->s);
    t->f->s = NULL;
    host_iommu_device_free(t->hd);
    iommufd_backend_close(t->be);
    nf_free(t->f);
    g_free(t);
    return 0;
}

static void test_rid_pasid_nested(void **state)
{
    S1 *t = *state;
    VtdNestingCounts n;
    GError *err = NULL;

    vtd_nesting_counts(t->f->s, &n);
    assert_int_equal(n.nested_hwpts, 1);
    assert_true(dma_write(t, 0, IOVA + 0x10, 0xaaaa));
    assert_true(ram64(t, DATA_A + 0x10) == 0xaaaa);

    /* New PTE, no invalidation: the host IOTLB still serves the old one. */
    set_leaf(t, DATA_B);
    assert_true(dma_write(t, 0, IOVA + 0x18, 0xbbbb));
    assert_true(ram64(t, DATA_A + 0x18) == 0xbbbb);
    assert_true(ram64(t, DATA_B + 0x18) == 0);

    /* PASID-IOTLB page-selective + wait: the new mapping. */
    assert_true(inval(t, VTD_INVAL_PASID_IOTLB, VTD_INVAL_GRAN_PAGE, DID_RID, 0,
                      IOVA, 0, &err));
    assert_null(err);
    assert_true(dma_write(t, 0, IOVA + 0x20, 0xcccc));
    assert_true(ram64(t, DATA_B + 0x20) == 0xcccc);

    /* An invalidation for another DID does not reach this HWPT. */
    set_leaf(t, DATA_A);
    assert_true(inval(t, VTD_INVAL_PASID_IOTLB, VTD_INVAL_GRAN_PASID, DID_RID + 1,
                      0, 0, 0, &err));
    assert_true(dma_write(t, 0, IOVA + 0x28, 0xdddd));
    assert_true(ram64(t, DATA_B + 0x28) == 0xdddd);
    /* A type-2 domain invalidation of the right DID does. */
    assert_true(inval(t, VTD_INVAL_IOTLB, VTD_INVAL_GRAN_DOMAIN, DID_RID, 0, 0,
                      0, &err));
    assert_true(dma_write(t, 0, IOVA + 0x30, 0xeeee));
    assert_true(ram64(t, DATA_A + 0x30) == 0xeeee);
}

static void test_pasid_and_switches(void **state)
{
    S1 *t = *state;
    uint32_t s2, nested;
    VtdNestingCounts n;

    /* PASID 5 with its own DID. */
    set_pasid_entry(t, 5, VTD_PGTT_FS, DID_P5, PML4_B);
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 5), 0);
    assert_true(pc_inval(t, DID_P5, 5));
    vtd_nesting_counts(t->f->s, &n);
    assert_int_equal(n.nested_hwpts, 2);
    assert_int_not_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 5), 0);
    assert_true(dma_write(t, 5, IOVA + 0x40, 0x5555));
    assert_true(ram64(t, DATA_A + 0x40) == 0x5555);
    {
        g_autofree char *text = vtd_nesting_report_text(t->f->s);

        assert_non_null(strstr(text, "pasid 5: nested"));
    }

    /* FS -> PT -> FS on RID_PASID. */
    nested = iommufd_sim_attached_hwpt(t->f->sim, BDF, 0);
    set_pasid_entry(t, 0, VTD_PGTT_PT, DID_RID, 0);
    assert_true(pc_inval(t, DID_RID, 0));
    s2 = iommufd_sim_attached_hwpt(t->f->sim, BDF, 0);
    assert_int_not_equal(s2, nested);
    assert_true(dma_write(t, 0, 0x6000, 0x6666));
    assert_true(ram64(t, 0x6000) == 0x6666);
    set_pasid_entry(t, 0, VTD_PGTT_FS, DID_RID, PML4);
    assert_true(pc_inval(t, DID_RID, 0));
    assert_int_not_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 0), s2);
    assert_true(dma_write(t, 0, IOVA + 0x48, 0x4848));
    assert_true(ram64(t, DATA_A + 0x48) == 0x4848);

    /* Entry cleared: PASID 5 is blocked and its HWPT gone. */
    set_pasid_entry(t, 5, 0, 0, 0);
    assert_true(pc_inval(t, DID_P5, 5));
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 5), 0);
    assert_false(dma_write(t, 5, IOVA, 1));

    /* TE off: untranslated DMA, stage 2 on the RID, no PASID attachment. */
    set_pasid_entry(t, 5, VTD_PGTT_FS, DID_P5, PML4_B);
    assert_true(pc_inval(t, DID_P5, 5));
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, 0, 4);
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 0), s2);
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 5), 0);
    assert_true(dma_write(t, 0, 0x7000, 0x7777));
    assert_true(ram64(t, 0x7000) == 0x7777);
    /* TE on again: the tables are shadowed again, PASID 5 included. */
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
    assert_int_not_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 5), 0);
    vtd_nesting_counts(t->f->s, &n);
    assert_int_equal(n.nested_hwpts, 2);
}

static void test_batching(void **state)
{
    S1 *t = *state;
    VtdInvalidation inv = {
        .kind = VTD_INVAL_PASID_IOTLB, .gran = VTD_INVAL_GRAN_PAGE,
        .did = DID_RID, .pasid = 0,
    };
    unsigned before;
    GError *err = NULL;

    assert_true(dma_write(t, 0, IOVA, 1));      /* fill the host IOTLB */
    iommufd_recorder_clear(t->f->rec);
    before = nf_count_requests(t->f, IOMMU_HWPT_INVALIDATE);
    for (unsigned i = 0; i < 64; i++) {
        inv.addr = IOVA + 4096ULL * i;
        vtd_inval_dispatch(t->f->s, &inv);
    }
    /* Nothing goes to the host before the wait descriptor. */
    assert_int_equal(nf_count_requests(t->f, IOMMU_HWPT_INVALIDATE), before);
    assert_true(vtd_inval_sync(t->f->s, &err));
    assert_int_equal(nf_count_requests(t->f, IOMMU_HWPT_INVALIDATE) - before, 1);
    assert_int_equal(iommufd_sim_iotlb_count(t->f->sim, t->be->fd,
                     iommufd_sim_attached_hwpt(t->f->sim, BDF, 0)), 0);
    printf("# host IOMMU_HWPT_INVALIDATE calls for 64 page-selective "
           "descriptors + wait: %u (QEMU: 64)\n",
           nf_count_requests(t->f, IOMMU_HWPT_INVALIDATE) - before);
}

/* The report's view of the RID agrees with what the host has attached. */
static void assert_consistent(S1 *t)
{
    g_autoptr(GVariant) rep = g_variant_ref_sink(vtd_nesting_report(t->f->s));
    g_autoptr(GVariant) devs = g_variant_lookup_value(rep, "devices", NULL);
    g_autoptr(GVariant) dev = g_variant_get_child_value(devs, 0);
    g_autoptr(GVariant) att = g_variant_lookup_value(dev, "attachments", NULL);
    g_autoptr(GVariant) rid = g_variant_get_child_value(att, 0);
    uint32_t host = iommufd_sim_attached_hwpt(t->f->sim, BDF, 0);
    uint32_t s2 = 0, hwpt = 0;
    const char *kind = NULL;

    g_variant_lookup(dev, "s2-hwpt", "u", &s2);
    g_variant_lookup(rid, "kind", "&s", &kind);
    if (!strcmp(kind, "nested")) {
        g_variant_lookup(rid, "hwpt", "u", &hwpt);
        assert_int_equal(host, hwpt);
    } else if (!strcmp(kind, "stage2")) {
        assert_int_equal(host, s2);
    } else {
        assert_int_equal(host, 0);
    }
}

static void test_fail_nth(void **state)
{
    S1 *t = *state;
    GError *err = NULL;

    /* Each host call of a FS table switch (alloc, attach/replace, destroy). */
    for (unsigned nth = 1; nth <= 4; nth++) {
        uint64_t root = nth & 1 ? PML4_B : PML4;
        bool ok;

        set_pasid_entry(t, 0, VTD_PGTT_FS, DID_RID, root);
        iommufd_sim_fail_nth(t->f->sim, nth, EIO);
        ok = inval(t, VTD_INVAL_PASID_CACHE, VTD_INVAL_GRAN_PASID, DID_RID, 0,
                   0, 0, &err);
        iommufd_sim_fail_nth(t->f->sim, 0, 0);
        if (!ok) {
            assert_non_null(err);
            assert_non_null(strstr(err->message, BDF));
            g_clear_error(&err);
        }
        assert_consistent(t);
        /* The guest retries: everything works again. */
        set_pasid_entry(t, 0, VTD_PGTT_PT, DID_RID, 0);
        assert_true(pc_inval(t, DID_RID, 0));
        set_pasid_entry(t, 0, VTD_PGTT_FS, DID_RID, root);
        assert_true(pc_inval(t, DID_RID, 0));
        assert_consistent(t);
        assert_true(dma_write(t, 0, IOVA + 0x50, nth));
        assert_true(ram64(t, DATA_A + 0x50) == nth);
    }

    /* The host refuses an invalidation: the wait reports it. */
    assert_true(dma_write(t, 0, IOVA, 1));
    inval(t, VTD_INVAL_PASID_IOTLB, VTD_INVAL_GRAN_PAGE, DID_RID, 0, IOVA, 0,
          NULL);        /* queued and sent: fine */
    {
        VtdInvalidation inv = {
            .kind = VTD_INVAL_PASID_IOTLB, .gran = VTD_INVAL_GRAN_PASID,
            .did = DID_RID, .pasid = 0,
        };

        vtd_inval_dispatch(t->f->s, &inv);
        iommufd_sim_fail_nth(t->f->sim, 1, EIO);
        assert_false(vtd_inval_sync(t->f->s, &err));
        iommufd_sim_fail_nth(t->f->sim, 0, 0);
        assert_non_null(err);
        assert_non_null(strstr(err->message, "invalidation failed"));
        g_clear_error(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rid_pasid_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pasid_and_switches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_nth, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
