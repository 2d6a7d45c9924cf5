/*
 * Stage-2 containers and HWPT sharing (vtd-nest-s2.c): which devices share
 * an IOAS and a nest-parent HWPT, and that everything goes with its last
 * user. Also the realize-time capability checks, and a guest without
 * first-stage tables (flts=off) on hosts without nesting or with the errata.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vtd-nest-fixture.h"

static const char *const units[] = {
    "id=u0,errata=off,sc=on",
    "id=u1,errata=on",
    "id=u2,nesting=off,errata=off",
    "id=u3,errata=off,fs1gp=off",
    NULL,
};
static const char *const devices[] = {
    "host=0000:01:00.0,unit=u0",
    "host=0000:02:00.0,unit=u0",
    "host=0000:03:00.0,unit=u0,coherent=off",
    "host=0000:04:00.0,unit=u1",
    "host=0000:05:00.0,unit=u0",
    "host=0000:06:00.0,unit=u2",
    "host=0000:07:00.0,unit=u3",
    "host=0000:08:00.0,unit=u0,rmrr=0x100000-0x1fffff",
    NULL,
};

static int object_delta(NestFixture *f, IommufdBackend *be, int base)
{
    return iommufd_sim_object_count(f->sim, be->fd) - base;
}

/* The design picture: two iommufd objects, a non-coherent device, an
 * errata unit, the rest sharing. */
static void test_sharing(void **state)
{
    NestFixture *f = nf_new(units, devices);
    IommufdBackend *be1 = nf_backend(f), *be2 = nf_backend(f);
    HostIommuDevice *a = nf_hd(f, be1, "fd1", "0000:01:00.0", "u0", 0x0100);
    HostIommuDevice *b = nf_hd(f, be1, "fd1", "0000:02:00.0", "u0", 0x0200);
    HostIommuDevice *c = nf_hd(f, be1, "fd1", "0000:03:00.0", "u0", 0x0300);
    HostIommuDevice *d = nf_hd(f, be1, "fd1", "0000:04:00.0", "u1", 0x0400);
    HostIommuDevice *e = nf_hd(f, be2, "fd2", "0000:05:00.0", "u0", 0x0500);
    int base1 = iommufd_sim_object_count(f->sim, be1->fd);
    int base2 = iommufd_sim_object_count(f->sim, be2->fd);
    HostIommuDevice *all[] = { a, b, c, d, e };
    VtdNestingCounts n;
    GError *err = NULL;

    /* A read-only RAM block: mapped read-only, but not for the errata unit. */
    f->ro_gpa = 0x1000000;
    f->ro_size = 0x10000;
    f->ro = g_malloc0(f->ro_size);
    for (unsigned i = 0; i < G_N_ELEMENTS(all); i++) {
        assert_true(vtd_set_host_device(f->s, all[i], &err));
        assert_null(err);
    }
    vtd_nesting_counts(f->s, &n);
    /* fd1: {A, B} + {C} in one container, {D} in the RO-free one; fd2: {E}. */
    assert_int_equal(n.containers, 3);
    assert_int_equal(n.s2_hwpts, 4);
    assert_int_equal(n.devices, 5);
    assert_int_equal(object_delta(f, be1, base1), 2 + 3);   /* IOAS + HWPT */
    assert_int_equal(object_delta(f, be2, base2), 1 + 1);
    /* A and B on the same HWPT, C and D on others; translation off: stage 2. */
    assert_int_equal(iommufd_sim_attached_hwpt(f->sim, "0000:01:00.0", 0),
                     iommufd_sim_attached_hwpt(f->sim, "0000:02:00.0", 0));
    assert_int_not_equal(iommufd_sim_attached_hwpt(f->sim, "0000:01:00.0", 0),
                         iommufd_sim_attached_hwpt(f->sim, "0000:03:00.0", 0));
    assert_int_not_equal(iommufd_sim_attached_hwpt(f->sim, "0000:04:00.0", 0), 0);

    /* Untranslated DMA reaches guest RAM at the GPA; RO RAM only for reads. */
    {
        uint64_t v = 0x1122334455667788ULL, r = 0;
        IommufdSimFault fault;

        assert_true(iommufd_sim_dma(f->sim, "0000:01:00.0", 0, 0x3000, &v, 8,
                                    true, &fault));
        memcpy(&r, f->ram + 0x3000, 8);
        assert_true(r == v);
        assert_true(iommufd_sim_dma(f->sim, "0000:03:00.0", 0, f->ro_gpa, &r, 8,
                                    false, &fault));
        assert_false(iommufd_sim_dma(f->sim, "0000:03:00.0", 0, f->ro_gpa, &v, 8,
                                     true, &fault));
        assert_false(iommufd_sim_dma(f->sim, "0000:04:00.0", 0, f->ro_gpa, &r, 8,
                                     false, &fault));
        assert_true(iommufd_sim_dma(f->sim, "0000:04:00.0", 0, 0x3000, &r, 8,
                                    false, &fault));
    }

    /* The report names them all. */
    {
        g_autofree char *text = vtd_nesting_report_text(f->s);
        GVariant *rep = g_variant_ref_sink(vtd_nesting_report(f->s));
        g_autoptr(GVariant) cs = g_variant_lookup_value(rep, "containers", NULL);

        assert_non_null(strstr(text, "ro-free"));
        assert_non_null(strstr(text, "0000:03:00.0"));
        assert_int_equal(g_variant_n_children(cs), 3);
        g_variant_unref(rep);
    }

    /* Unplug: C's HWPT, then D's container, then everything. */
    vtd_unset_host_device(f->s, c);
    vtd_nesting_counts(f->s, &n);
    assert_int_equal(n.containers, 3);
    assert_int_equal(n.s2_hwpts, 3);
    assert_int_equal(object_delta(f, be1, base1), 2 + 2);
    assert_int_equal(iommufd_sim_attached_hwpt(f->sim, "0000:03:00.0", 0), 0);
    vtd_unset_host_device(f->s, d);
    vtd_nesting_counts(f->s, &n);
    assert_int_equal(n.containers, 2);
    assert_int_equal(n.s2_hwpts, 2);
    assert_int_equal(object_delta(f, be1, base1), 1 + 1);
    vtd_unset_host_device(f->s, a);
    assert_int_equal(object_delta(f, be1, base1), 1 + 1);   /* B still there */
    vtd_unset_host_device(f->s, b);
    vtd_unset_host_device(f->s, e);
    vtd_nesting_counts(f->s, &n);
    assert_int_equal(n.containers, 0);
    assert_int_equal(n.s2_hwpts, 0);
    assert_int_equal(object_delta(f, be1, base1), 0);
    assert_int_equal(object_delta(f, be2, base2), 0);

    for (unsigned i = 0; i < G_N_ELEMENTS(all); i++) {
        host_iommu_device_free(all[i]);
    }
    vtd_free(f->s);
    f->s = NULL;
    iommufd_backend_close(be1);
    iommufd_backend_close(be2);
    nf_free(f);
}

/* Each refusal is one line naming the device, the unit and what is missing,
 * and leaves no host object behind. */
static void test_checks(void **state)
{
    NestFixture *f = nf_new(units, devices);
    IommufdBackend *be = nf_backend(f);
    HostIommuDevice *nonest = nf_hd(f, be, "fd1", "0000:06:00.0", "u2", 0x0600);
    HostIommuDevice *no1g = nf_hd(f, be, "fd1", "0000:07:00.0", "u3", 0x0700);
    HostIommuDevice *rmrr = nf_hd(f, be, "fd1", "0000:08:00.0", "u0", 0x0800);
    int base = iommufd_sim_object_count(f->sim, be->fd);
    VtdNestingCounts n;
    GError *err = NULL;

    assert_false(vtd_set_host_device(f->s, nonest, &err));
    assert_non_null(strstr(err->message, "0000:06:00.0"));
    assert_non_null(strstr(err->message, "u2"));
    assert_non_null(strstr(err->message, "ECAP.NEST"));
    g_clear_error(&err);

    assert_false(vtd_set_host_device(f->s, no1g, &err));
    assert_non_null(strstr(err->message, "CAP.FS1GP"));
    assert_non_null(strstr(err->message, "fs1gp=off"));
    g_clear_error(&err);

    /* Guest RAM 0-8 MiB covers the RMRR at 1 MiB: a clear error, no hole. */
    assert_false(vtd_set_host_device(f->s, rmrr, &err));
    assert_non_null(err);
    assert_non_null(strstr(err->message, "0000:08:00.0"));
    g_clear_error(&err);

    vtd_nesting_counts(f->s, &n);
    assert_int_equal(n.containers, 0);
    assert_int_equal(n.devices, 0);
    assert_int_equal(iommufd_sim_object_count(f->sim, be->fd), base);

    host_iommu_device_free(nonest);
    host_iommu_device_free(no1g);
    host_iommu_device_free(rmrr);
    vtd_free(f->s);
    f->s = NULL;
    iommufd_backend_close(be);
    nf_free(f);
}

/* Failing each host call of a join in turn: an error, and nothing left. */
static void test_join_fail_nth(void **state)
{
    for (unsigned nth = 1; nth <= 12; nth++) {
        NestFixture *f = nf_new(units, devices);
        IommufdBackend *be = nf_backend(f);
        HostIommuDevice *a = nf_hd(f, be, "fd1", "0000:01:00.0", "u0", 0x0100);
        HostIommuDevice *c = nf_hd(f, be, "fd1", "0000:03:00.0", "u0", 0x0300);
        int base = iommufd_sim_object_count(f->sim, be->fd);
        VtdNestingCounts n;
        GError *err = NULL;
        bool ok_a, ok_c;

        iommufd_sim_fail_nth(f->sim, nth, EIO);
        ok_a = vtd_set_host_device(f->s, a, &err);
        assert_true(ok_a == (err == NULL));
        g_clear_error(&err);
        ok_c = vtd_set_host_device(f->s, c, &err);
        assert_true(ok_c == (err == NULL));
        g_clear_error(&err);
        iommufd_sim_fail_nth(f->sim, 0, 0);
        vtd_nesting_counts(f->s, &n);
        assert_int_equal(n.devices, ok_a + ok_c);
        assert_int_equal(object_delta(f, be, base),
                         (int)(n.containers + n.s2_hwpts));
        if (ok_a) {
            vtd_unset_host_device(f->s, a);
        }
        if (ok_c) {
            vtd_unset_host_device(f->s, c);
        }
        assert_int_equal(object_delta(f, be, base), 0);
        host_iommu_device_free(a);
        host_iommu_device_free(c);
        vtd_free(f->s);
        f->s = NULL;
        iommufd_backend_close(be);
        nf_free(f);
    }
}

/* ---- A guest without first-stage tables (flts=off) ---------------------- */

#define NF_ROOT     0x10000
#define NF_CTX      0x11000
#define NF_PDIR     0x12000
#define NF_PTBL     0x13000
#define NF_SS_PML4  0x20000
#define NF_SS_PDPT  0x21000
#define NF_SS_PD    0x22000
#define NF_SS_PT    0x23000
#define NF_IOVA     0x40000000ULL   /* [0][1][0][0] */
#define NF_DATA     0x200000
#define NF_DID      5

static void put64(NestFixture *f, uint64_t gpa, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(f->ram + gpa, &v, 8);
}

static uint64_t get64(NestFixture *f, uint64_t gpa)
{
    uint64_t v;

    memcpy(&v, f->ram + gpa, 8);
    return GUINT64_FROM_LE(v);
}

/* A caching-mode unit that offers second-stage tables only. */
static void use_no_flts_unit(NestFixture *f, bool scalable)
{
    VtdGuestMem mem = { .opaque = f, .read = nf_mem_read, .write = nf_mem_write };
    VtdRamSource ram = { .opaque = f, .foreach = nf_ram_foreach };
    VtdConfig cfg;

    vtd_free(f->s);
    vtd_config_defaults(&cfg);
    cfg.caching_mode = true;
    cfg.scalable_mode = scalable;
    cfg.flts = false;
    cfg.aw_bits = 48;
    f->s = vtd_new(&cfg, &mem, NULL);
    assert_non_null(f->s);
    vtd_nesting_set_ram_source(f->s, &ram);
}

/* Second-stage tables mapping NF_IOVA -> NF_DATA read/write. */
static void ss_tables(NestFixture *f)
{
    put64(f, NF_SS_PML4, NF_SS_PDPT | 3);
    put64(f, NF_SS_PDPT + 8, NF_SS_PD | 3);
    put64(f, NF_SS_PD, NF_SS_PT | 3);
    put64(f, NF_SS_PT, NF_DATA | 3);
}

static void enable_te(NestFixture *f, bool scalable)
{
    vtd_mmio_write(f->s, DMAR_RTADDR_REG, NF_ROOT | (scalable ? 1u << 10 : 0), 8);
    vtd_mmio_write(f->s, DMAR_GCMD_REG, VTD_GCMD_SRTP, 4);
    vtd_mmio_write(f->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
}

/* Caching mode: the guest announces its new entries (global IOTLB). */
static void iotlb_global(NestFixture *f)
{
    VtdInvalidation inv = { .kind = VTD_INVAL_IOTLB,
                            .gran = VTD_INVAL_GRAN_GLOBAL };
    GError *err = NULL;

    vtd_inval_dispatch(f->s, &inv);
    assert_true(vtd_inval_sync(f->s, &err));
    assert_null(err);
}

static bool dma8(NestFixture *f, const char *bdf, uint64_t iova, uint64_t *v,
                 bool write)
{
    IommufdSimFault fault;

    return iommufd_sim_dma(f->sim, bdf, 0, iova, v, 8, write, &fault);
}

/* The one container of the report: nest-parent and ro-free flags. */
static void container_flags(NestFixture *f, bool *nest_parent, bool *ro_free)
{
    g_autoptr(GVariant) rep = g_variant_ref_sink(vtd_nesting_report(f->s));
    g_autoptr(GVariant) cs = g_variant_lookup_value(rep, "containers", NULL);
    g_autoptr(GVariant) c = NULL;

    assert_int_equal(g_variant_n_children(cs), 1);
    c = g_variant_get_child_value(cs, 0);
    assert_true(g_variant_lookup(c, "nest-parent", "b", nest_parent));
    assert_true(g_variant_lookup(c, "ro-free", "b", ro_free));
}

/* Legacy guest with caching mode: a host unit without nesting (u2) and an
 * errata unit (u1) both work. Their stage-2 HWPTs are plain paging domains,
 * so the errata does not apply and read-only RAM is mapped read-only (no
 * RO-free variant); translated domains go through the shadow path. */
static void test_no_flts_legacy(void **state)
{
    NestFixture *f = nf_new(units, devices);
    IommufdBackend *be = nf_backend(f);
    HostIommuDevice *nonest, *errata;
    int base = iommufd_sim_object_count(f->sim, be->fd);
    VtdNestingCounts n;
    GError *err = NULL;
    bool np = true, rf = true;
    uint64_t v, r;

    f->ro_gpa = 0x1000000;
    f->ro_size = 0x10000;
    f->ro = g_malloc0(f->ro_size);
    memset(f->ro, 0xab, 8);
    use_no_flts_unit(f, false);
    nonest = nf_hd(f, be, "fd1", "0000:06:00.0", "u2", 0x0600);
    errata = nf_hd(f, be, "fd1", "0000:04:00.0", "u1", 0x0400);
    base = iommufd_sim_object_count(f->sim, be->fd);
    assert_true(vtd_set_host_device(f->s, nonest, &err));
    assert_null(err);
    assert_true(vtd_set_host_device(f->s, errata, &err));
    assert_null(err);
    vtd_nesting_counts(f->s, &n);
    assert_int_equal(n.devices, 2);
    assert_int_equal(n.containers, 1);      /* no RO-free variant */
    container_flags(f, &np, &rf);
    assert_false(np);
    assert_false(rf);

    /* TE=0: untranslated DMA reaches RAM at the GPA on both; read-only RAM
     * is readable (even behind the errata unit), not writable. */
    v = 0x0102030405060708ULL;
    assert_true(dma8(f, "0000:06:00.0", 0x3000, &v, true));
    assert_true(get64(f, 0x3000) == v);
    v = 0x1112131415161718ULL;
    assert_true(dma8(f, "0000:04:00.0", 0x3008, &v, true));
    assert_true(get64(f, 0x3008) == v);
    r = 0;
    assert_true(dma8(f, "0000:04:00.0", f->ro_gpa, &r, false));
    assert_true(r == 0xababababababababULL);
    assert_false(dma8(f, "0000:04:00.0", f->ro_gpa, &v, true));
    assert_false(dma8(f, "0000:06:00.0", f->ro_gpa, &v, true));

    /* TE=1: bus 6 through a second-stage table (shadow); bus 4 has no
     * context entry (blocked). */
    ss_tables(f);
    put64(f, NF_ROOT + 16 * 6, NF_CTX | 1);
    put64(f, NF_CTX, NF_SS_PML4 | 1);               /* TT=00b */
    put64(f, NF_CTX + 8, 2 | (uint64_t)NF_DID << 8); /* AW 48-bit */
    enable_te(f, false);
    iotlb_global(f);
    v = 0x2122232425262728ULL;
    assert_true(dma8(f, "0000:06:00.0", NF_IOVA + 16, &v, true));
    assert_true(get64(f, NF_DATA + 16) == v);
    assert_false(dma8(f, "0000:04:00.0", 0x3000, &v, true));
    {
        g_autofree char *text = vtd_nesting_report_text(f->s);

        assert_non_null(strstr(text, "shadow"));
        assert_null(strstr(text, "nest-parent"));
    }

    vtd_unset_host_device(f->s, nonest);
    vtd_unset_host_device(f->s, errata);
    assert_int_equal(iommufd_sim_object_count(f->sim, be->fd), base);
    host_iommu_device_free(nonest);
    host_iommu_device_free(errata);
    vtd_free(f->s);
    f->s = NULL;
    iommufd_backend_close(be);
    nf_free(f);
}

/* Scalable mode without first stage: PGTT=010b through the shadow path and
 * PGTT=100b on the stage-2 HWPT, on the host unit without nesting. */
static void test_no_flts_scalable(void **state)
{
    NestFixture *f = nf_new(units, devices);
    IommufdBackend *be = nf_backend(f);
    HostIommuDevice *nonest;
    int base;
    GError *err = NULL;
    VtdInvalidation pc = { .kind = VTD_INVAL_PASID_CACHE,
                           .gran = VTD_INVAL_GRAN_PASID, .did = NF_DID };
    uint64_t v;

    use_no_flts_unit(f, true);
    nonest = nf_hd(f, be, "fd1", "0000:06:00.0", "u2", 0x0600);
    base = iommufd_sim_object_count(f->sim, be->fd);
    assert_true(vtd_set_host_device(f->s, nonest, &err));
    assert_null(err);

    ss_tables(f);
    put64(f, NF_ROOT + 16 * 6, NF_CTX | 1);
    put64(f, NF_CTX, NF_PDIR | 1);                  /* P, PDTS 0 (no PASIDs) */
    put64(f, NF_PDIR, NF_PTBL | 1);
    put64(f, NF_PTBL, 1 | 2 << 2 | (uint64_t)VTD_PGTT_SS << 6 | NF_SS_PML4);
    put64(f, NF_PTBL + 8, NF_DID);
    enable_te(f, true);
    iotlb_global(f);
    v = 0x3132333435363738ULL;
    assert_true(dma8(f, "0000:06:00.0", NF_IOVA + 24, &v, true));
    assert_true(get64(f, NF_DATA + 24) == v);

    /* Pass-through entry: the plain stage-2 HWPT, output = GPA. */
    put64(f, NF_PTBL, 1 | 2 << 2 | (uint64_t)VTD_PGTT_PT << 6);
    vtd_inval_dispatch(f->s, &pc);
    assert_true(vtd_inval_sync(f->s, &err));
    assert_null(err);
    v = 0x4142434445464748ULL;
    assert_true(dma8(f, "0000:06:00.0", 0x5000, &v, true));
    assert_true(get64(f, 0x5000) == v);

    /* A first-stage PGTT is reserved without flts: blocked, no host error. */
    put64(f, NF_PTBL, 1 | 2 << 2 | (uint64_t)VTD_PGTT_FS << 6);
    put64(f, NF_PTBL + 16, NF_SS_PML4);
    vtd_inval_dispatch(f->s, &pc);
    assert_true(vtd_inval_sync(f->s, &err));
    assert_null(err);
    assert_false(dma8(f, "0000:06:00.0", 0x5000, &v, true));

    vtd_unset_host_device(f->s, nonest);
    assert_int_equal(iommufd_sim_object_count(f->sim, be->fd), base);
    host_iommu_device_free(nonest);
    vtd_free(f->s);
    f->s = NULL;
    iommufd_backend_close(be);
    nf_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_join_fail_nth),
        cmocka_unit_test(test_no_flts_legacy),
        cmocka_unit_test(test_no_flts_scalable),
    };

    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
