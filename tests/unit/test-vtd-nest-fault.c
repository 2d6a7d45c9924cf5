/*
 * Host stage-1 faults of passthrough devices (vtd-nest-fault.c) on the
 * simulator: the fault queue is allocated for PRI devices only and shared
 * per iommufd, a host fault becomes a guest fault record with the reason the
 * guest's tables give, or a page request whose group response goes back to
 * the host. Page requests the guest can no longer answer (reset, TE off,
 * PRE cleared) are answered "Invalid" to the host.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "vtd-nest-fixture.h"

#define BDF        "0000:01:00.0"
#define BDF2       "0000:01:01.0"
#define BDF_NOPRI  "0000:02:00.0"
#define SID        0x0100
#define ROOT       0x10000
#define CTX        0x11000
#define PDIR       0x12000
#define PTBL       0x13000
#define PML4       0x20000
#define PDPT       0x21000
#define PD         0x22000
#define PT         0x23000
#define PRQ        0x30000
#define IOVA       0x40000000ULL  /* PML4[0] PDPT[1] PD[0] PT[0] */
#define DATA       0x200000
#define DID        7
#define FS_TABLE   0x27           /* P RW US A */
#define FS_LEAF    0x67           /* + D */
/* Scalable context entry bits (spec: P, DTE, PASIDE, PRE). */
#define CTX_P      0x1
#define CTX_DTE    0x4
#define CTX_PASIDE 0x8
#define CTX_PRE    0x10

static const char *const units[] = { "id=u0,errata=off", NULL };
static const char *const devices[] = {
    "host=" BDF ",unit=u0,pri=on", "host=" BDF2 ",unit=u0,pri=on",
    "host=" BDF_NOPRI ",unit=u0", NULL,
};

typedef struct T {
    NestFixture *f;
    IommufdBackend *be;
    HostIommuDevice *hd;
} T;

static void w64(T *t, uint64_t gpa, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(t->f->ram + gpa, &v, 8);
}

static uint64_t r64(T *t, uint64_t gpa)
{
    uint64_t v;

    memcpy(&v, t->f->ram + gpa, 8);
    return GUINT64_FROM_LE(v);
}

/* PASID entry: present, PGTT first-stage, DID, FSPTPTR. */
static void fs_entry(T *t, uint32_t pasid)
{
    uint64_t e = PTBL + 64ULL * pasid;

    w64(t, e, 1 | 1ULL << 6);
    w64(t, e + 8, DID);
    w64(t, e + 16, PML4);
}

static void build_tables(T *t, uint64_t ctx_bits)
{
    w64(t, ROOT + 16 * 1, CTX | 1);
    w64(t, CTX, PDIR | ctx_bits);
    w64(t, PDIR, PTBL | 1);
    w64(t, PML4, PDPT | FS_TABLE);
    w64(t, PDPT + 8, PD | FS_TABLE);
    w64(t, PD, PT | FS_TABLE);
    w64(t, PT, DATA | FS_LEAF);
    fs_entry(t, 0);
    fs_entry(t, 5);
}

/* A unit with PRS (x-prs needs device-iotlb) replacing the fixture's. */
static void use_prs_unit(T *t)
{
    VtdConfig cfg;
    VtdGuestMem mem = { .opaque = t->f, .read = nf_mem_read, .write = nf_mem_write };
    VtdRamSource ram = { .opaque = t->f, .foreach = nf_ram_foreach };
    GError *err = NULL;

    vtd_free(t->f->s);
    vtd_config_defaults(&cfg);
    nf_cfg_flts(&cfg);
    cfg.device_iotlb = true;
    cfg.x_prs = true;
    assert_true(vtd_config_validate(&cfg, &err));
    t->f->s = vtd_new(&cfg, &mem, NULL);
    vtd_nesting_set_ram_source(t->f->s, &ram);
}

static void start(T *t, bool prs, const char *bdf)
{
    GError *err = NULL;

    t->f = nf_new(units, devices);
    if (prs) {
        use_prs_unit(t);
    }
    t->be = nf_backend(t->f);
    t->hd = nf_hd(t->f, t->be, "fd0", bdf, "u0", SID);
    t->hd->iopf = iommufd_sim_device_pri(t->f->sim, bdf);
    build_tables(t, CTX_P | CTX_PASIDE | (prs ? CTX_DTE | CTX_PRE : 0));
    assert_true(vtd_set_host_device(t->f->s, t->hd, &err));
    assert_null(err);
    vtd_mmio_write(t->f->s, DMAR_RTADDR_REG, ROOT | (1u << 10), 8);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_SRTP, 4);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
}

static void stop(T *t)
{
    int before = iommufd_sim_object_count(t->f->sim, t->be->fd);

    vtd_unset_host_device(t->f->s, t->hd);
    /* Everything the unit created is gone, the fault queue included. */
    assert_true(iommufd_sim_object_count(t->f->sim, t->be->fd) < before);
    assert_int_equal(nf_count_requests(t->f, IOMMU_FAULT_QUEUE_ALLOC) > 0,
                     t->hd->iopf);
    vtd_free(t->f->s);
    t->f->s = NULL;
    host_iommu_device_free(t->hd);
    iommufd_backend_close(t->be);
    nf_free(t->f);
}

/* The device model's part: DMA, and on a host fault drain the queue. */
static bool dma(T *t, uint32_t pasid, uint64_t iova, bool write)
{
    uint64_t v = 0x1234;
    IommufdSimFault fault;

    if (iommufd_sim_dma(t->f->sim, t->hd->host_bdf, pasid, iova, &v, 8, write,
                        &fault)) {
        return true;
    }
    if (fault.queued) {
        host_iommu_device_drain_faults(t->hd);
    }
    return false;
}

/* What a guest does after changing a PTE: PASID-IOTLB (DID) + wait. */
static void guest_invalidate(T *t, uint32_t pasid)
{
    VtdInvalidation inv = {
        .kind = VTD_INVAL_PASID_IOTLB, .gran = VTD_INVAL_GRAN_PASID,
        .did = DID, .pasid = pasid,
    };
    GError *err = NULL;

    vtd_inval_dispatch(t->f->s, &inv);
    assert_true(vtd_inval_sync(t->f->s, &err));
}

typedef struct Rec {
    bool f;
    uint8_t reason;
    uint16_t sid;
    uint64_t addr;
    bool t1, t2, pp;
    uint32_t pasid;
} Rec;

/* FRCD[i] decoded from the spec's bit positions. */
static Rec frcd(T *t, unsigned i)
{
    uint64_t lo = vtd_mmio_read(t->f->s, vtd_frcd_offset(t->f->s, i), 8);
    uint64_t hi = vtd_mmio_read(t->f->s, vtd_frcd_offset(t->f->s, i) + 8, 8);

    return (Rec) {
        .f = hi >> 63 & 1, .reason = hi >> 32 & 0xff, .sid = hi & 0xffff,
        .addr = lo & ~0xfffULL, .t1 = hi >> 62 & 1, .t2 = hi >> 28 & 1,
        .pp = hi >> 31 & 1, .pasid = hi >> 40 & 0xfffff,
    };
}

static void clear_frcd(T *t, unsigned i)
{
    vtd_mmio_write(t->f->s, vtd_frcd_offset(t->f->s, i) + 12, 1u << 31, 4);
}

static void test_queue_only_for_pri(void **state)
{
    T t = { 0 };

    start(&t, false, BDF_NOPRI);
    assert_int_equal(nf_count_requests(t.f, IOMMU_FAULT_QUEUE_ALLOC), 0);
    /* A host fault stays on the host: no record, no crash. */
    w64(&t, PT, 0);
    assert_false(dma(&t, 0, IOVA, true));
    assert_false(frcd(&t, 0).f);
    stop(&t);

    start(&t, false, BDF);
    assert_int_equal(nf_count_requests(t.f, IOMMU_FAULT_QUEUE_ALLOC), 1);
    stop(&t);
}

static void test_shared_per_iommufd(void **state)
{
    T t = { 0 };
    HostIommuDevice *hd2;
    GError *err = NULL;

    start(&t, false, BDF);
    hd2 = nf_hd(t.f, t.be, "fd0", BDF2, "u0", SID + 8);
    hd2->iopf = true;
    assert_true(vtd_set_host_device(t.f->s, hd2, &err));
    assert_int_equal(nf_count_requests(t.f, IOMMU_FAULT_QUEUE_ALLOC), 1);
    vtd_unset_host_device(t.f->s, hd2);
    host_iommu_device_free(hd2);
    /* The first device still reports through the queue. */
    w64(&t, PT, 0);
    assert_false(dma(&t, 0, IOVA + 0x10, true));
    assert_int_equal(frcd(&t, 0).reason, 0x71);
    stop(&t);
}

static void test_fault_reasons(void **state)
{
    static const struct {
        uint64_t leaf;
        bool write;
        uint8_t reason;
    } cases[] = {
        { 0, true, 0x71 },                        /* SFS.2 not present */
        { DATA | (FS_LEAF & ~2ULL), true, 0x85 },  /* SGN.6 read-only */
        { DATA | (FS_LEAF & ~4ULL), false, 0x81 }, /* SGN.2 supervisor page */
        { DATA | FS_LEAF | 1ULL << 51, false, 0x72 }, /* SFS.3 reserved bit */
    };
    T t = { 0 };

    start(&t, false, BDF);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        Rec r;

        w64(&t, PT, cases[i].leaf);
        guest_invalidate(&t, 0);
        assert_false(dma(&t, 0, IOVA + 0x8, cases[i].write));
        r = frcd(&t, i);
        assert_true(r.f);
        assert_int_equal(r.reason, cases[i].reason);
        assert_int_equal(r.sid, SID);
        assert_true(r.addr == IOVA);
        assert_false(r.pp);
        /* (T1,T2): 00 write, 10 read. */
        assert_int_equal(r.t1, !cases[i].write);
        assert_false(r.t2);
        clear_frcd(&t, i);
    }
    stop(&t);
}

static void test_fault_with_pasid(void **state)
{
    T t = { 0 };
    Rec r;

    start(&t, false, BDF);
    assert_true(dma(&t, 5, IOVA, true));
    assert_true(r64(&t, DATA) == 0x1234);
    assert_false(dma(&t, 5, IOVA + 0x1000, false));  /* PT[1] never mapped */
    r = frcd(&t, 0);
    assert_int_equal(r.reason, 0x71);
    assert_true(r.pp);
    assert_int_equal(r.pasid, 5);
    assert_true(r.addr == IOVA + 0x1000);
    stop(&t);
}

static void test_page_request_and_response(void **state)
{
    T t = { 0 };
    VtdInvalidation resp = {
        .kind = VTD_INVAL_PAGE_RESPONSE, .gran = VTD_INVAL_GRAN_DEVICE,
        .sid = SID, .pasid = 5, .pp = true, .rc = VTD_PRG_RC_SUCCESS,
        .lpig = true,
    };
    GError *err = NULL;
    uint64_t qw0, qw1;

    start(&t, true, BDF);
    vtd_mmio_write(t.f->s, DMAR_PQA_REG, PRQ, 8);       /* 128 entries */
    assert_false(dma(&t, 5, IOVA + 0x1000, true));
    /* No fault record: a page request at PQT 0 instead. */
    assert_false(frcd(&t, 0).f);
    assert_int_equal(vtd_mmio_read(t.f->s, DMAR_PQT_REG, 8), 32);
    assert_true(vtd_mmio_read(t.f->s, DMAR_PRS_REG, 4) & 1);
    qw0 = r64(&t, PRQ);
    qw1 = r64(&t, PRQ + 8);
    assert_int_equal(qw0 & 0xff, 1);                 /* page request */
    assert_int_equal(qw0 >> 16 & 0xffff, SID);
    assert_true(qw0 >> 8 & 1);                       /* PASID present */
    assert_int_equal(qw0 >> 32 & 0xfffff, 5);
    assert_true((qw1 & ~0xfffULL) == IOVA + 0x1000);
    assert_true(qw1 & 2);                            /* write */
    assert_true(qw1 & 4);                            /* last in group */
    resp.prgi = qw1 >> 3 & 0x1ff;

    /* The guest answers; the host write fails once: the wait reports it. */
    iommufd_sim_fail_nth(t.f->sim, 1, EIO);
    vtd_inval_dispatch(t.f->s, &resp);
    iommufd_sim_fail_nth(t.f->sim, 0, 0);
    assert_false(vtd_inval_sync(t.f->s, &err));
    assert_non_null(err);
    assert_non_null(strstr(err->message, "cookie"));
    g_clear_error(&err);

    /* A second fault, answered normally; a repeated answer changes nothing. */
    assert_false(dma(&t, 5, IOVA + 0x2000, false));
    resp.prgi = r64(&t, PRQ + 32 + 8) >> 3 & 0x1ff;
    vtd_inval_dispatch(t.f->s, &resp);
    assert_true(vtd_inval_sync(t.f->s, &err));
    iommufd_sim_fail_nth(t.f->sim, 1, EIO);          /* would fail a write */
    vtd_inval_dispatch(t.f->s, &resp);
    assert_true(vtd_inval_sync(t.f->s, &err));
    iommufd_sim_fail_nth(t.f->sim, 0, 0);
    stop(&t);
}

static void test_no_pre_gives_fault_record(void **state)
{
    T t = { 0 };

    start(&t, true, BDF);
    w64(&t, CTX, PDIR | CTX_P | CTX_PASIDE | CTX_DTE);   /* PRE=0 */
    assert_false(dma(&t, 5, IOVA + 0x1000, true));
    assert_int_equal(frcd(&t, 0).reason, 0x71);
    assert_int_equal(vtd_mmio_read(t.f->s, DMAR_PQT_REG, 8), 0);
    stop(&t);
}

/* ---- Pending page requests the guest can no longer answer -------------- */

/* A transport in front of the fixture's recorder that notes every page
 * response written to a fault fd (the recorder logs ioctls only). */
typedef struct Spy {
    IommufdTransport t;
    IommufdTransport *inner;
    GArray *resps;          /* struct iommu_hwpt_page_response, accepted */
} Spy;

static int spy_open_iommufd(IommufdTransport *t, GError **errp)
{
    Spy *s = (Spy *)t;

    return s->inner->open_iommufd(s->inner, errp);
}

static int spy_open_cdev(IommufdTransport *t, const char *path, GError **errp)
{
    Spy *s = (Spy *)t;

    return s->inner->open_cdev(s->inner, path, errp);
}

static int spy_ioctl(IommufdTransport *t, int fd, unsigned long req, void *arg)
{
    Spy *s = (Spy *)t;

    return s->inner->ioctl(s->inner, fd, req, arg);
}

static ssize_t spy_read(IommufdTransport *t, int fd, void *buf, size_t len)
{
    Spy *s = (Spy *)t;

    return s->inner->read(s->inner, fd, buf, len);
}

static ssize_t spy_write(IommufdTransport *t, int fd, const void *buf, size_t len)
{
    Spy *s = (Spy *)t;
    ssize_t got = s->inner->write(s->inner, fd, buf, len);
    const size_t rec = sizeof(struct iommu_hwpt_page_response);

    for (ssize_t done = 0; got > 0 && done + (ssize_t)rec <= got; done += rec) {
        g_array_append_vals(s->resps, (const uint8_t *)buf + done, 1);
    }
    return got;
}

static int spy_close(IommufdTransport *t, int fd)
{
    Spy *s = (Spy *)t;

    return s->inner->close(s->inner, fd);
}

static void spy_destroy(IommufdTransport *t)
{
}

/* Like start(t, true, BDF) but through a spy; PRQ set up. */
static void start_spied(T *t, Spy *spy)
{
    GError *err = NULL;

    t->f = nf_new(units, devices);
    use_prs_unit(t);
    *spy = (Spy) {
        .t = { .name = "spy", .open_iommufd = spy_open_iommufd,
               .open_cdev = spy_open_cdev, .ioctl = spy_ioctl,
               .read = spy_read, .write = spy_write, .close = spy_close,
               .destroy = spy_destroy },
        .inner = t->f->rec,
        .resps = g_array_new(false, true,
                             sizeof(struct iommu_hwpt_page_response)),
    };
    t->be = iommufd_backend_open(&spy->t, &err);
    assert_non_null(t->be);
    t->hd = nf_hd(t->f, t->be, "fd0", BDF, "u0", SID);
    t->hd->iopf = true;
    build_tables(t, CTX_P | CTX_PASIDE | CTX_DTE | CTX_PRE);
    assert_true(vtd_set_host_device(t->f->s, t->hd, &err));
    assert_null(err);
    vtd_mmio_write(t->f->s, DMAR_RTADDR_REG, ROOT | (1u << 10), 8);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_SRTP, 4);
    vtd_mmio_write(t->f->s, DMAR_GCMD_REG, VTD_GCMD_TE, 4);
    vtd_mmio_write(t->f->s, DMAR_PQA_REG, PRQ, 8);
}

static void stop_spied(T *t, Spy *spy)
{
    stop(t);
    g_array_unref(spy->resps);
}

/* A host fault forwarded as a page request; returns its PRGI. */
static uint16_t fault_to_page_request(T *t, unsigned nth, uint64_t iova)
{
    assert_false(dma(t, 5, iova, true));
    assert_false(frcd(t, 0).f);
    assert_int_equal(vtd_mmio_read(t->f->s, DMAR_PQT_REG, 8), 32 * (nth + 1));
    return r64(t, PRQ + 32 * nth + 8) >> 3 & 0x1ff;
}

/* The guest's page group response for prgi, then a wait. */
static void guest_respond(T *t, uint16_t prgi, uint8_t rc)
{
    VtdInvalidation resp = {
        .kind = VTD_INVAL_PAGE_RESPONSE, .gran = VTD_INVAL_GRAN_DEVICE,
        .sid = SID, .pasid = 5, .pp = true, .rc = rc, .lpig = true,
        .prgi = prgi,
    };
    GError *err = NULL;

    vtd_inval_dispatch(t->f->s, &resp);
    assert_true(vtd_inval_sync(t->f->s, &err));
    assert_null(err);
}

static void context_cache_global(T *t)
{
    VtdInvalidation cc = { .kind = VTD_INVAL_CONTEXT,
                           .gran = VTD_INVAL_GRAN_GLOBAL };
    GError *err = NULL;

    vtd_inval_dispatch(t->f->s, &cc);
    assert_true(vtd_inval_sync(t->f->s, &err));
    assert_null(err);
}

static uint32_t resp_code(Spy *spy, unsigned i)
{
    assert_true(i < spy->resps->len);
    return g_array_index(spy->resps, struct iommu_hwpt_page_response, i).code;
}

static void test_pending_dropped_on_reset(void **state)
{
    T t = { 0 };
    Spy spy;
    uint16_t prgi;

    start_spied(&t, &spy);
    prgi = fault_to_page_request(&t, 0, IOVA + 0x1000);
    assert_int_equal(spy.resps->len, 0);            /* waiting for the guest */
    vtd_reset(t.f->s);
    assert_int_equal(spy.resps->len, 1);
    assert_int_equal(resp_code(&spy, 0), IOMMUFD_PAGE_RESP_INVALID);
    /* A late answer from the guest reaches nobody. */
    guest_respond(&t, prgi, VTD_PRG_RC_SUCCESS);
    assert_int_equal(spy.resps->len, 1);
    stop_spied(&t, &spy);
}

static void test_pending_dropped_when_pre_cleared(void **state)
{
    T t = { 0 };
    Spy spy;
    uint16_t prgi;

    start_spied(&t, &spy);
    fault_to_page_request(&t, 0, IOVA + 0x1000);
    /* PRE still set: a context-cache invalidation keeps the group. */
    context_cache_global(&t);
    assert_int_equal(spy.resps->len, 0);
    /* PRE cleared, but not invalidated yet: still kept. */
    w64(&t, CTX, PDIR | CTX_P | CTX_PASIDE | CTX_DTE);
    assert_int_equal(spy.resps->len, 0);
    context_cache_global(&t);
    assert_int_equal(spy.resps->len, 1);
    assert_int_equal(resp_code(&spy, 0), IOMMUFD_PAGE_RESP_INVALID);

    /* PRE back on: a new group is relayed as the guest answers it. */
    w64(&t, CTX, PDIR | CTX_P | CTX_PASIDE | CTX_DTE | CTX_PRE);
    context_cache_global(&t);
    prgi = fault_to_page_request(&t, 1, IOVA + 0x2000);
    guest_respond(&t, prgi, VTD_PRG_RC_SUCCESS);
    assert_int_equal(spy.resps->len, 2);
    assert_int_equal(resp_code(&spy, 1), IOMMUFD_PAGE_RESP_SUCCESS);
    stop_spied(&t, &spy);
}

static void test_pending_dropped_when_te_off(void **state)
{
    T t = { 0 };
    Spy spy;

    start_spied(&t, &spy);
    fault_to_page_request(&t, 0, IOVA + 0x1000);
    fault_to_page_request(&t, 1, IOVA + 0x2000);
    assert_int_equal(spy.resps->len, 0);
    vtd_mmio_write(t.f->s, DMAR_GCMD_REG, 0, 4);     /* TE off */
    assert_false(vtd_mmio_read(t.f->s, DMAR_GSTS_REG, 4) & VTD_GSTS_TES);
    assert_int_equal(spy.resps->len, 2);
    assert_int_equal(resp_code(&spy, 0), IOMMUFD_PAGE_RESP_INVALID);
    assert_int_equal(resp_code(&spy, 1), IOMMUFD_PAGE_RESP_INVALID);
    stop_spied(&t, &spy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_only_for_pri),
        cmocka_unit_test(test_shared_per_iommufd),
        cmocka_unit_test(test_fault_reasons),
        cmocka_unit_test(test_fault_with_pasid),
        cmocka_unit_test(test_page_request_and_response),
        cmocka_unit_test(test_no_pre_gives_fault_record),
        cmocka_unit_test(test_pending_dropped_on_reset),
        cmocka_unit_test(test_pending_dropped_when_pre_cleared),
        cmocka_unit_test(test_pending_dropped_when_te_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
