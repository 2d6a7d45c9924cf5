/*
 * The caching-mode shadow path (vtd-nest-shadow.c), end to end on the
 * simulator: the guest builds second-stage tables in guest RAM, points a
 * legacy context entry or a PGTT=010b PASID entry at them and invalidates
 * the IOTLB; a passthrough device's DMA (iommufd_sim_dma) then goes through
 * the shadow IOAS over that very RAM. The host unit has ERRATA_772415 (the
 * simulator's default), which the shadow path does not care about.
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
#define BDF2       "0000:02:00.0"
#define SID2       0x0200
#define ROOT       0x10000
#define CTX        0x11000        /* legacy: bus 1; scalable: bus 1 */
#define CTX2       0x14000        /* bus 2 */
#define PDIR       0x12000
#define PTBL       0x13000
#define SS_PML4    0x20000
#define SS_PDPT    0x21000
#define SS_PD      0x22000
#define SS_PT      0x23000
#define FS_PML4    0x30000
#define FS_PDPT    0x31000
#define FS_PD      0x32000
#define FS_PT      0x33000
#define IOVA       0x40000000ULL  /* [0][1][0][0] in both table kinds */
#define DATA_A     0x200000
#define DATA_B     0x201000
#define DATA_C     0x202000
#define DATA_2M    0x400000       /* a 2 MiB page of guest RAM */
#define DID        5
#define DID_FS     6
#define SS_RW      0x3
#define SS_R       0x1
#define SS_PS      0x80
#define FS_TABLE   0x27
#define FS_LEAF    0x67

static const char *const units[] = { "id=u0", NULL };   /* errata=on */
static const char *const devices[] = {
    "host=" BDF ",unit=u0", "host=" BDF2 ",unit=u0", NULL,
};

typedef struct T {
    NestFixture *f;
    IommufdBackend *be;
    HostIommuDevice *hd, *hd2;
    int base_objects;
} T;

/* ---- Guest side ---------------------------------------------------------- */

static void w64(T *t, uint64_t gpa, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(t->f->ram + gpa, &v, 8);
}

static uint64_t ram64(T *t, uint64_t gpa)
{
    uint64_t v;

    memcpy(&v, t->f->ram + gpa, 8);
    return GUINT64_FROM_LE(v);
}

/* SS PTE for IOVA + 4K * i. */
static void ss_leaf(T *t, unsigned i, uint64_t v)
{
    w64(t, SS_PT + 8 * i, v);
}

static void ss_tables(T *t)
{
    w64(t, SS_PML4, SS_PDPT | SS_RW);
    w64(t, SS_PDPT + 8, SS_PD | SS_RW);
    w64(t, SS_PD, SS_PT | SS_RW);
}

static void fs_tables(T *t, uint64_t data)
{
    w64(t, FS_PML4, FS_PDPT | FS_TABLE);
    w64(t, FS_PDPT + 8, FS_PD | FS_TABLE);
    w64(t, FS_PD, FS_PT | FS_TABLE);
    w64(t, FS_PT, data | FS_LEAF);
}

static void legacy_context(T *t, uint64_t ctx, unsigned tt, uint16_t did)
{
    w64(t, ctx, SS_PML4 | (uint64_t)tt << 2 | 1);
    w64(t, ctx + 8, 2 | (uint64_t)did << 8);            /* AW 48-bit */
}

static void set_pasid_entry(T *t, uint32_t pasid, unsigned pgtt, uint16_t did)
{
    uint64_t e = PTBL + 64ULL * pasid;

    memset(t->f->ram + e, 0, 64);
    w64(t, e, 1 | 2 << 2 | (uint64_t)pgtt << 6 |
              (pgtt == VTD_PGTT_SS ? SS_PML4 : 0));     /* P, AW 48-bit */
    w64(t, e + 8, did);
    if (pgtt == VTD_PGTT_FS) {
        w64(t, e + 16, FS_PML4);
    }
}

static void enable(T *t, bool scalable)
{
    vtd_mmio_write(t->f->s, DMAR_RTADDR_REG, ROOT | (scalable ? 1u << 10 : 0), 8);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_SRTP, 4);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
}

static bool inval(T *t, VtdInvalKind kind, VtdInvalGran gran, uint16_t did,
                  uint32_t pasid, uint64_t addr, unsigned am, GError **errp)
{
    VtdInvalidation inv = {
        .kind = kind, .gran = gran, .did = did, .pasid = pasid,
        .addr = addr, .am = am, .sid = SID,
    };

    vtd_inval_dispatch(t->f->s, &inv);
    return vtd_inval_sync(t->f->s, errp);
}

static void iotlb_page(T *t, uint64_t addr, unsigned am)
{
    GError *err = NULL;

    assert_true(inval(t, VTD_INVAL_IOTLB, VTD_INVAL_GRAN_PAGE, DID, 0, addr,
                      am, &err));
    assert_null(err);
}

static void iotlb_domain(T *t, uint16_t did)
{
    GError *err = NULL;

    assert_true(inval(t, VTD_INVAL_IOTLB, VTD_INVAL_GRAN_DOMAIN, did, 0, 0, 0,
                      &err));
    assert_null(err);
}

static void pasid_cache(T *t, uint16_t did, uint32_t pasid)
{
    GError *err = NULL;

    assert_true(inval(t, VTD_INVAL_PASID_CACHE, VTD_INVAL_GRAN_PASID, did,
                      pasid, 0, 0, &err));
    assert_null(err);
}

/* ---- Device side ------------------------------------------------------- */

static bool dma(T *t, const char *bdf, uint32_t pasid, uint64_t iova,
                uint64_t *v, bool write, IommufdSimFaultReason *why)
{
    IommufdSimFault fault = { 0 };
    bool ok = iommufd_sim_dma(t->f->sim, bdf, pasid, iova, v, 8, write, &fault);

    if (why) {
        *why = ok ? IOMMUFD_SIM_FAULT_NONE : fault.reason;
    }
    return ok;
}

static bool dma_write(T *t, uint32_t pasid, uint64_t iova, uint64_t v)
{
    return dma(t, BDF, pasid, iova, &v, true, NULL);
}

static IommufdSimFaultReason dma_write_fault(T *t, uint32_t pasid, uint64_t iova)
{
    uint64_t v = 0x5a5a;
    IommufdSimFaultReason why;

    assert_false(dma(t, BDF, pasid, iova, &v, true, &why));
    return why;
}

static const char *rid_kind(T *t)
{
    static char buf[32];
    g_autoptr(GVariant) rep = g_variant_ref_sink(vtd_nesting_report(t->f->s));
    g_autoptr(GVariant) devs = g_variant_lookup_value(rep, "devices", NULL);
    g_autoptr(GVariant) dev = g_variant_get_child_value(devs, 0);
    g_autoptr(GVariant) att = g_variant_lookup_value(dev, "attachments", NULL);
    g_autoptr(GVariant) rid = g_variant_get_child_value(att, 0);
    const char *kind = "";

    g_variant_lookup(rid, "kind", "&s", &kind);
    g_strlcpy(buf, kind, sizeof(buf));
    return buf;
}

/* ---- Fixture ----------------------------------------------------------- */

/* A unit with caching mode and both table kinds (x-flts + x-ssts). */
static void replace_unit(NestFixture *f, bool caching_mode)
{
    VtdGuestMem mem = { .opaque = f, .read = nf_mem_read, .write = nf_mem_write };
    VtdRamSource ram = { .opaque = f, .foreach = nf_ram_foreach };
    VtdConfig cfg;

    vtd_free(f->s);
    vtd_config_defaults(&cfg);
    nf_cfg_flts(&cfg);
    cfg.x_ssts = true;
    cfg.caching_mode = caching_mode;
    cfg.pt = true;
    f->s = vtd_new(&cfg, &mem, NULL);
    assert_non_null(f->s);
    vtd_nesting_set_ram_source(f->s, &ram);
}

static T *t_new(bool caching_mode)
{
    T *t = g_new0(T, 1);

    t->f = nf_new(units, devices);
    replace_unit(t->f, caching_mode);
    t->be = nf_backend(t->f);
    t->hd = nf_hd(t->f, t->be, "fd0", BDF, "u0", SID);
    t->hd2 = nf_hd(t->f, t->be, "fd0", BDF2, "u0", SID2);
    t->base_objects = iommufd_sim_object_count(t->f->sim, t->be->fd);
    return t;
}

static void plug(T *t, HostIommuDevice *hd)
{
    GError *err = NULL;

    assert_true(vtd_set_host_device(t->f->s, hd, &err));
    assert_null(err);
}

static int setup_legacy(void **state)
{
    T *t = t_new(true);

    w64(t, ROOT + 16 * 1, CTX | 1);
    legacy_context(t, CTX, 0, DID);
    plug(t, t->hd);
    *state = t;
    return 0;
}

static int setup_scalable(void **state)
{
    T *t = t_new(true);

    w64(t, ROOT + 16 * 1, CTX | 1);                 /* bus 1: lower half */
    w64(t, CTX, PDIR | 1 | 8);                      /* P, PASIDE, PDTS 0 */
    w64(t, PDIR, PTBL | 1);
    plug(t, t->hd);
    *state = t;
    return 0;
}

static int setup_no_cm(void **state)
{
    T *t = t_new(false);

    w64(t, ROOT + 16 * 1, CTX | 1);
    w64(t, CTX, PDIR | 1 | 8);
    w64(t, PDIR, PTBL | 1);
    plug(t, t->hd);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    T *t = *state;

    vtd_unset_host_device(t->f->s, t->hd);
    vtd_unset_host_device(t->f->s, t->hd2);
    /* Unplug releases every host object, shadow domains included. */
    assert_int_equal(iommufd_sim_object_count(t->f->sim, t->be->fd),
                     t->base_objects);
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 0), 0);
    vtd_free(t->f->s);
    t->f->s = NULL;
    host_iommu_device_free(t->hd);
    host_iommu_device_free(t->hd2);
    iommufd_backend_close(t->be);
    nf_free(t->f);
    g_free(t);
    return 0;
}

/* ---- Tests -------------------------------------------------------------- */

static void test_legacy_map_change_unmap(void **state)
{
    T *t = *state;
    uint64_t v = 0;
    unsigned maps;

    /* TE on with empty tables: the shadow exists, DMA has nothing to hit. */
    enable(t, false);
    assert_string_equal(rid_kind(t), "shadow");
    assert_int_equal(dma_write_fault(t, 0, IOVA), IOMMUFD_SIM_FAULT_S2_UNMAPPED);

    /* New mapping + page-selective IOTLB invalidation. */
    ss_tables(t);
    ss_leaf(t, 0, DATA_A | SS_RW);
    iotlb_page(t, IOVA, 0);
    assert_true(dma_write(t, 0, IOVA + 0x10, 0xaaaa));
    assert_true(ram64(t, DATA_A + 0x10) == 0xaaaa);

    /* An identical re-walk changes nothing on the host. */
    iommufd_recorder_clear(t->f->rec);
    iotlb_page(t, IOVA, 0);
    iotlb_domain(t, DID);
    assert_int_equal(nf_count_requests(t->f, IOMMU_IOAS_MAP), 0);
    assert_int_equal(nf_count_requests(t->f, IOMMU_IOAS_UNMAP), 0);

    /* Changed PTE: nothing happens until the guest invalidates it. */
    ss_leaf(t, 0, DATA_B | SS_RW);
    assert_true(dma_write(t, 0, IOVA + 0x18, 0xbbbb));
    assert_true(ram64(t, DATA_A + 0x18) == 0xbbbb);
    iotlb_page(t, IOVA, 0);
    assert_true(dma_write(t, 0, IOVA + 0x20, 0xcccc));
    assert_true(ram64(t, DATA_B + 0x20) == 0xcccc);
    assert_true(ram64(t, DATA_A + 0x20) == 0);

    /* Read-only leaf on an errata host: reads work, writes fault. */
    ss_leaf(t, 1, DATA_C | SS_R);
    w64(t, DATA_C, 0x1234);
    iotlb_page(t, IOVA + 0x1000, 0);
    assert_true(dma(t, BDF, 0, IOVA + 0x1000, &v, false, NULL));
    assert_true(v == 0x1234);
    assert_int_equal(dma_write_fault(t, 0, IOVA + 0x1000),
                     IOMMUFD_SIM_FAULT_S2_PERM);

    /* Unmap: DMA faults. */
    ss_leaf(t, 0, 0);
    iotlb_page(t, IOVA, 0);
    assert_int_equal(dma_write_fault(t, 0, IOVA), IOMMUFD_SIM_FAULT_S2_UNMAPPED);

    /* Several new pages, one domain-selective invalidation. */
    iommufd_recorder_clear(t->f->rec);
    for (unsigned i = 2; i < 6; i++) {
        ss_leaf(t, i, (DATA_A + 0x1000 * i) | SS_RW);
    }
    iotlb_domain(t, DID);
    maps = nf_count_requests(t->f, IOMMU_IOAS_MAP);
    assert_int_equal(maps, 4);
    for (unsigned i = 2; i < 6; i++) {
        assert_true(dma_write(t, 0, IOVA + 0x1000 * i + 8, i));
        assert_true(ram64(t, DATA_A + 0x1000 * i + 8) == i);
    }
    /* Another DID's invalidation does not touch this domain. */
    ss_leaf(t, 2, 0);
    iotlb_domain(t, DID + 1);
    assert_true(dma_write(t, 0, IOVA + 0x2000, 0x22));
}

static void test_legacy_register_and_large(void **state)
{
    T *t = *state;
    unsigned maps;

    ss_tables(t);
    enable(t, false);
    /* A 2 MiB leaf at IOVA + 2M (PD[1]), written after the shadow was
     * built and found by a register-based page invalidation (AM=9). */
    w64(t, SS_PD + 8, DATA_2M | SS_RW | SS_PS);
    vtd_mmio_write(t->f->s, VTD_IVA_OFFSET, (IOVA + 0x200000) | 9, 8);
    vtd_mmio_write(t->f->s, VTD_IOTLB_OFFSET, VTD_IOTLB_IVT | 3ULL << 60 |
                   (uint64_t)DID << 32, 8);
    assert_true(dma_write(t, 0, IOVA + 0x200000 + 0x1ff000, 0x2f));
    assert_true(ram64(t, DATA_2M + 0x1ff000) == 0x2f);

    /* A 4 KiB invalidation inside it re-walks the whole record: no change. */
    iommufd_recorder_clear(t->f->rec);
    iotlb_page(t, IOVA + 0x300000, 0);
    assert_int_equal(nf_count_requests(t->f, IOMMU_IOAS_MAP), 0);
    assert_int_equal(nf_count_requests(t->f, IOMMU_IOAS_UNMAP), 0);

    /* The guest splits it into 4 KiB pages (only the first is mapped) and
     * invalidates a part: the whole old record goes, the new page comes. */
    w64(t, SS_PD + 8, SS_PT | SS_RW);
    memset(t->f->ram + SS_PT, 0, 4096);
    ss_leaf(t, 0, DATA_C | SS_RW);
    iotlb_page(t, IOVA + 0x200000, 0);
    maps = nf_count_requests(t->f, IOMMU_IOAS_MAP);
    assert_int_equal(maps, 1);
    assert_int_equal(nf_count_requests(t->f, IOMMU_IOAS_UNMAP), 1);
    assert_true(dma_write(t, 0, IOVA + 0x200000 + 8, 0x3c));
    assert_true(ram64(t, DATA_C + 8) == 0x3c);
    assert_int_equal(dma_write_fault(t, 0, IOVA + 0x201000),
                     IOMMUFD_SIM_FAULT_S2_UNMAPPED);
}

static void test_legacy_switches(void **state)
{
    T *t = *state;
    uint32_t shadow_hwpt, s2;

    ss_tables(t);
    ss_leaf(t, 0, DATA_A | SS_RW);
    enable(t, false);
    /* Built at TE time from what the tables already held. */
    assert_true(dma_write(t, 0, IOVA, 1));
    assert_true(ram64(t, DATA_A) == 1);
    shadow_hwpt = iommufd_sim_attached_hwpt(t->f->sim, BDF, 0);

    /* TE off: stage 2, untranslated (identity) DMA. */
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, 0, 4);
    assert_string_equal(rid_kind(t), "stage2");
    s2 = iommufd_sim_attached_hwpt(t->f->sim, BDF, 0);
    assert_int_not_equal(s2, shadow_hwpt);
    assert_true(dma_write(t, 0, 0x7000, 0x77));
    assert_true(ram64(t, 0x7000) == 0x77);

    /* TE on: the shadow again. */
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
    assert_string_equal(rid_kind(t), "shadow");
    assert_true(dma_write(t, 0, IOVA + 8, 2));
    assert_true(ram64(t, DATA_A + 8) == 2);

    /* Context entry becomes pass-through: stage 2. */
    legacy_context(t, CTX, 2, DID);
    assert_true(inval(t, VTD_INVAL_CONTEXT, VTD_INVAL_GRAN_DEVICE, DID, 0, 0, 0,
                      NULL));
    assert_string_equal(rid_kind(t), "stage2");
    assert_true(dma_write(t, 0, 0x7008, 0x78));
    assert_true(ram64(t, 0x7008) == 0x78);

    /* Not present: blocked. */
    w64(t, CTX, 0);
    assert_true(inval(t, VTD_INVAL_CONTEXT, VTD_INVAL_GRAN_GLOBAL, 0, 0, 0, 0,
                      NULL));
    assert_string_equal(rid_kind(t), "blocked");
    assert_int_equal(dma_write_fault(t, 0, IOVA), IOMMUFD_SIM_FAULT_BLOCKED);

    /* Back to SS: the shadow is filled again from the tables. */
    legacy_context(t, CTX, 0, DID);
    assert_true(inval(t, VTD_INVAL_CONTEXT, VTD_INVAL_GRAN_GLOBAL, 0, 0, 0, 0,
                      NULL));
    assert_string_equal(rid_kind(t), "shadow");
    assert_true(dma_write(t, 0, IOVA + 16, 3));
    assert_true(ram64(t, DATA_A + 16) == 3);

    /* Reset: TE off, stage 2. */
    vtd_reset(t->f->s);
    assert_string_equal(rid_kind(t), "stage2");
}

static void test_legacy_shared_domain(void **state)
{
    T *t = *state;
    uint64_t v = 0x99;
    g_autofree char *text = NULL;

    w64(t, ROOT + 16 * 2, CTX2 | 1);
    legacy_context(t, CTX2, 0, DID);
    ss_tables(t);
    ss_leaf(t, 0, DATA_A | SS_RW);
    enable(t, false);
    plug(t, t->hd2);
    /* One domain, one IOAS, one HWPT for both devices. */
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 0),
                     iommufd_sim_attached_hwpt(t->f->sim, BDF2, 0));
    assert_true(dma(t, BDF2, 0, IOVA + 0x30, &v, true, NULL));
    assert_true(ram64(t, DATA_A + 0x30) == 0x99);
    text = vtd_nesting_report_text(t->f->s);
    assert_non_null(strstr(text, "rid-pasid 0: shadow"));
    assert_non_null(strstr(text, "legacy mappings=1"));

    /* The first device leaves; the second keeps the domain. */
    vtd_unset_host_device(t->f->s, t->hd);
    ss_leaf(t, 0, DATA_B | SS_RW);
    iotlb_page(t, IOVA, 0);
    assert_true(dma(t, BDF2, 0, IOVA + 0x38, &v, true, NULL));
    assert_true(ram64(t, DATA_B + 0x38) == 0x99);
}

static void test_legacy_host_failure(void **state)
{
    T *t = *state;
    GError *err = NULL;

    ss_tables(t);
    enable(t, false);
    ss_leaf(t, 0, DATA_A | SS_RW);
    /* The host refuses the map: the wait reports it, DMA faults. */
    iommufd_sim_fail_nth(t->f->sim, 1, ENOMEM);
    assert_false(inval(t, VTD_INVAL_IOTLB, VTD_INVAL_GRAN_PAGE, DID, 0, IOVA, 0,
                       &err));
    iommufd_sim_fail_nth(t->f->sim, 0, 0);
    assert_non_null(err);
    assert_non_null(strstr(err->message, "cannot map"));
    g_clear_error(&err);
    assert_int_equal(dma_write_fault(t, 0, IOVA), IOMMUFD_SIM_FAULT_S2_UNMAPPED);
    /* The guest retries: it works. */
    iotlb_page(t, IOVA, 0);
    assert_true(dma_write(t, 0, IOVA, 0x44));
    assert_true(ram64(t, DATA_A) == 0x44);
}

/*
 * The host refuses to destroy a shadow domain's HWPT (and so its IOAS stays
 * busy): both are retried at the next sync, not leaked until the iommufd
 * closes (fuzz/corpus/nesting/crash-shadow-destroy-leak).
 */
static void test_legacy_destroy_failure_retried(void **state)
{
    T *t = *state;
    int with_s2;

    ss_tables(t);
    ss_leaf(t, 0, DATA_A | SS_RW);
    enable(t, false);
    assert_string_equal(rid_kind(t), "shadow");
    /* What stage 2 alone holds: TE off without failures. */
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, 0, 4);
    with_s2 = iommufd_sim_object_count(t->f->sim, t->be->fd);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
    assert_string_equal(rid_kind(t), "shadow");

    /* TE off: the stage-2 attach (1st call) works, the shadow HWPT's
     * destroy (2nd) fails, so its IOAS is still busy too. */
    iommufd_sim_fail_nth(t->f->sim, 2, EIO);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, 0, 4);
    iommufd_sim_fail_nth(t->f->sim, 0, 0);
    assert_string_equal(rid_kind(t), "stage2");
    assert_true(iommufd_sim_object_count(t->f->sim, t->be->fd) > with_s2);
    /* The next sync destroys both. */
    iotlb_domain(t, DID);
    assert_int_equal(iommufd_sim_object_count(t->f->sim, t->be->fd), with_s2);
}

/* Tables that alias themselves: an error at the wait, never a hang. */
static void test_legacy_aliased_tables(void **state)
{
    T *t = *state;
    GError *err = NULL;

    /* Every PML4 slot points back at the PML4: 2^36 present leaves. */
    for (unsigned i = 0; i < 512; i++) {
        w64(t, SS_PML4 + 8 * i, SS_PML4 | SS_RW);
    }
    enable(t, false);
    assert_false(inval(t, VTD_INVAL_IOTLB, VTD_INVAL_GRAN_DOMAIN, DID, 0, 0, 0,
                       &err));
    assert_non_null(err);
    assert_non_null(strstr(err->message, "aliased tables"));
    g_clear_error(&err);

    /* Every slot of every level present down to one empty table. */
    for (unsigned i = 0; i < 512; i++) {
        w64(t, SS_PML4 + 8 * i, SS_PDPT | SS_RW);
        w64(t, SS_PDPT + 8 * i, SS_PD | SS_RW);
        w64(t, SS_PD + 8 * i, SS_PT | SS_RW);
    }
    assert_false(inval(t, VTD_INVAL_IOTLB, VTD_INVAL_GRAN_GLOBAL, 0, 0, 0, 0,
                       &err));
    assert_non_null(err);
    g_clear_error(&err);

    /* A page-selective invalidation stays small and works. */
    ss_leaf(t, 0, DATA_A | SS_RW);
    iotlb_page(t, IOVA, 0);
    assert_true(dma_write(t, 0, IOVA, 0x55));
    assert_true(ram64(t, DATA_A) == 0x55);
}

static void test_scalable_ss_and_switches(void **state)
{
    T *t = *state;
    uint32_t hwpt_ss, hwpt_fs;

    ss_tables(t);
    ss_leaf(t, 0, DATA_A | SS_RW);
    fs_tables(t, DATA_B);
    set_pasid_entry(t, 0, VTD_PGTT_SS, DID);
    enable(t, true);
    assert_string_equal(rid_kind(t), "shadow");
    assert_true(dma_write(t, 0, IOVA + 8, 0x11));
    assert_true(ram64(t, DATA_A + 8) == 0x11);

    /* Change + page-selective type-2 invalidation. */
    ss_leaf(t, 0, DATA_C | SS_RW);
    iotlb_page(t, IOVA, 0);
    assert_true(dma_write(t, 0, IOVA + 16, 0x12));
    assert_true(ram64(t, DATA_C + 16) == 0x12);
    /* A PASID-based IOTLB invalidation leaves PGTT=010b mappings alone. */
    ss_leaf(t, 0, DATA_A | SS_RW);
    assert_true(inval(t, VTD_INVAL_PASID_IOTLB, VTD_INVAL_GRAN_PAGE, DID, 0,
                      IOVA, 0, NULL));
    assert_true(dma_write(t, 0, IOVA + 24, 0x13));
    assert_true(ram64(t, DATA_C + 24) == 0x13);
    iotlb_page(t, IOVA, 0);
    assert_true(dma_write(t, 0, IOVA + 24, 0x14));
    assert_true(ram64(t, DATA_A + 24) == 0x14);
    hwpt_ss = iommufd_sim_attached_hwpt(t->f->sim, BDF, 0);
    /* Unmap + page-selective invalidation: DMA faults; then back. */
    ss_leaf(t, 0, 0);
    iotlb_page(t, IOVA, 0);
    assert_int_equal(dma_write_fault(t, 0, IOVA), IOMMUFD_SIM_FAULT_S2_UNMAPPED);
    ss_leaf(t, 0, DATA_A | SS_RW);
    iotlb_page(t, IOVA, 0);

    /* PASID 7 in the same domain: attached on the PASID to the same HWPT. */
    set_pasid_entry(t, 7, VTD_PGTT_SS, DID);
    pasid_cache(t, DID, 7);
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 7), hwpt_ss);
    assert_true(dma_write(t, 7, IOVA + 32, 0x77));
    assert_true(ram64(t, DATA_A + 32) == 0x77);

    /* SS -> FS: nested HWPT, the guest's first stage. */
    set_pasid_entry(t, 0, VTD_PGTT_FS, DID_FS);
    pasid_cache(t, DID, 0);
    assert_string_equal(rid_kind(t), "nested");
    hwpt_fs = iommufd_sim_attached_hwpt(t->f->sim, BDF, 0);
    assert_int_not_equal(hwpt_fs, hwpt_ss);
    assert_true(dma_write(t, 0, IOVA + 40, 0x15));
    assert_true(ram64(t, DATA_B + 40) == 0x15);

    /* FS -> SS -> FS. */
    set_pasid_entry(t, 0, VTD_PGTT_SS, DID);
    pasid_cache(t, DID_FS, 0);
    assert_string_equal(rid_kind(t), "shadow");
    assert_true(dma_write(t, 0, IOVA + 48, 0x16));
    assert_true(ram64(t, DATA_A + 48) == 0x16);
    set_pasid_entry(t, 0, VTD_PGTT_FS, DID_FS);
    pasid_cache(t, DID, 0);
    assert_string_equal(rid_kind(t), "nested");
    assert_true(dma_write(t, 0, IOVA + 56, 0x17));
    assert_true(ram64(t, DATA_B + 56) == 0x17);

    /* PASID 7 cleared: detached; the shadow domain goes with its last user. */
    memset(t->f->ram + PTBL + 64 * 7, 0, 64);
    pasid_cache(t, DID, 7);
    assert_int_equal(iommufd_sim_attached_hwpt(t->f->sim, BDF, 7), 0);
}

static void test_no_caching_mode(void **state)
{
    T *t = *state;
    g_autofree char *text = NULL;

    ss_tables(t);
    ss_leaf(t, 0, DATA_A | SS_RW);
    set_pasid_entry(t, 0, VTD_PGTT_SS, DID);
    enable(t, true);
    assert_string_equal(rid_kind(t), "blocked");
    text = vtd_nesting_report_text(t->f->s);
    assert_non_null(strstr(text, "caching-mode=on"));
    assert_int_equal(dma_write_fault(t, 0, IOVA), IOMMUFD_SIM_FAULT_BLOCKED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_legacy_map_change_unmap,
                                        setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_register_and_large,
                                        setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_switches, setup_legacy,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_legacy_shared_domain, setup_legacy,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_legacy_host_failure, setup_legacy,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_legacy_destroy_failure_retried,
                                        setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_aliased_tables,
                                        setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_scalable_ss_and_switches,
                                        setup_scalable, teardown),
        cmocka_unit_test_setup_teardown(test_no_caching_mode, setup_no_cm,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
