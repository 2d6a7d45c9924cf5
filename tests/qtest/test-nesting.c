/*
 * Nested translation for passthrough devices, end to end (docs/nesting.md):
 * vtdnest with simulated hosts (-object iommufd,sim=on), -device vfio-pci
 * functions driven like iommu-testdev, a guest that builds its VT-d tables
 * with vtd-builder and invalidates through the real invalidation queue, and
 * the nesting report (x-vtdnest-nesting-state) as the observer of host
 * objects. Failure injection: x-vtdnest-iommufd-fail-nth.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "libqtest.h"
#include "vtd-builder.h"

#define IOMMU_FLTS   "-device intel-iommu,scalable-mode=on,flts=on," \
                     "caching-mode=on,pasid-bits=20 "
#define FD0          "-object iommufd,id=fd0,sim=on " \
                     "-object iommufd-sim-unit,iommufd=fd0,id=u0,errata=off "
#define HOST0        "-object iommufd-sim-device,iommufd=fd0,id=h0," \
                     "host=0000:03:00.0,unit=u0,pri=on "
#define P0           "-device vfio-pci,host=0000:03:00.0,iommufd=fd0,id=p0,addr=3 "
#define P0_SID       0x0018
#define ALLOC_BASE   0x10000000ULL
#define ALLOC_SIZE   0x04000000ULL
#define BAR0         0xe0000000ULL
#define IOVA         0x0000000040000000ULL
#define DID          5
#define PASID_X      7

/* ---- The nesting report ------------------------------------------------- */

typedef struct Report {
    JsonParser *p;
    JsonObject *root;
} Report;

static void report_get(QTestState *qts, Report *r)
{
    g_autofree char *reply = qtest_command(qts, "x-vtdnest-nesting-state");
    GError *err = NULL;

    assert_non_null(reply);
    assert_true(g_str_has_prefix(reply, "OK "));
    r->p = json_parser_new();
    if (!json_parser_load_from_data(r->p, reply + 3, -1, &err)) {
        fail_msg("nesting report is not JSON: %s", err->message);
    }
    r->root = json_node_get_object(json_parser_get_root(r->p));
}

static void report_free(Report *r)
{
    g_object_unref(r->p);
}

static unsigned n_containers(QTestState *qts)
{
    Report r;
    unsigned n;

    report_get(qts, &r);
    n = json_array_get_length(json_object_get_array_member(r.root, "containers"));
    report_free(&r);
    return n;
}

/* Stage-2 HWPTs over all containers (or of containers with ro-free == rf
 * when rf >= 0). */
static unsigned n_s2_hwpts(QTestState *qts, int rf)
{
    Report r;
    JsonArray *cs;
    unsigned n = 0;

    report_get(qts, &r);
    cs = json_object_get_array_member(r.root, "containers");
    for (guint i = 0; i < json_array_get_length(cs); i++) {
        JsonObject *c = json_array_get_object_element(cs, i);

        if (rf < 0 || json_object_get_boolean_member(c, "ro-free") == rf) {
            n += json_array_get_length(json_object_get_array_member(c, "hwpts"));
        }
    }
    report_free(&r);
    return n;
}

/* Users of the stage-2 HWPT the device `name` is on, as "a,b". */
static char *s2_users(QTestState *qts, const char *name)
{
    Report r;
    JsonArray *cs;
    char *out = NULL;

    report_get(qts, &r);
    cs = json_object_get_array_member(r.root, "containers");
    for (guint i = 0; i < json_array_get_length(cs) && !out; i++) {
        JsonArray *hw = json_object_get_array_member(
            json_array_get_object_element(cs, i), "hwpts");

        for (guint j = 0; j < json_array_get_length(hw) && !out; j++) {
            JsonArray *u = json_object_get_array_member(
                json_array_get_object_element(hw, j), "users");
            GString *s = g_string_new(NULL);
            bool mine = false;

            for (guint k = 0; k < json_array_get_length(u); k++) {
                const char *n = json_array_get_string_element(u, k);

                mine |= !strcmp(n, name);
                g_string_append_printf(s, "%s%s", k ? "," : "", n);
            }
            out = mine ? g_string_free(s, false) : (g_string_free(s, true), NULL);
        }
    }
    report_free(&r);
    return out ? out : g_strdup("");
}

/* Kind of the attachment ("nested", "stage2", "blocked"; "" if none) of
 * device `name`: the RID (pasid < 0) or a PASID. */
static char *attach_kind(QTestState *qts, const char *name, int pasid)
{
    Report r;
    JsonArray *ds;
    char *out = g_strdup("");

    report_get(qts, &r);
    ds = json_object_get_array_member(r.root, "devices");
    for (guint i = 0; i < json_array_get_length(ds); i++) {
        JsonObject *d = json_array_get_object_element(ds, i);
        JsonArray *att;

        if (strcmp(json_object_get_string_member(d, "name"), name)) {
            continue;
        }
        att = json_object_get_array_member(d, "attachments");
        for (guint j = 0; j < json_array_get_length(att); j++) {
            JsonObject *a = json_array_get_object_element(att, j);
            bool rid = json_object_get_boolean_member(a, "rid");

            if ((pasid < 0 && rid) ||
                (pasid >= 0 && !rid &&
                 json_object_get_int_member(a, "pasid") == pasid)) {
                g_free(out);
                out = g_strdup(json_object_get_string_member(a, "kind"));
            }
        }
    }
    report_free(&r);
    return out;
}

static unsigned n_devices(QTestState *qts)
{
    Report r;
    unsigned n;

    report_get(qts, &r);
    n = json_array_get_length(json_object_get_array_member(r.root, "devices"));
    report_free(&r);
    return n;
}

#define assert_kind(qts, name, pasid, want) do {                           \
        g_autofree char *k_ = attach_kind(qts, name, pasid);               \
        if (strcmp(k_, want)) {                                            \
            fail_msg("%s pasid %d: attachment '%s', expected '%s'", name,  \
                     pasid, k_, want);                                     \
        }                                                                  \
    } while (0)

/* ---- QMP hotplug --------------------------------------------------------- */

/* NULL on success, else the error text (caller frees). */
static char *dev_add(QTestState *qts, const char *id, const char *host,
                     const char *fd, const char *extra)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"device_add\", \"arguments\": {\"driver\": "
        "\"vfio-pci\", \"id\": \"%s\", \"host\": \"%s\", \"iommufd\": "
        "\"%s\"%s}}", id, host, fd, extra ? extra : "");
    char *err = NULL;
    g_autofree char *ret = qtest_qmp(qts, cmd, &err);

    return ret ? NULL : err;
}

static void dev_del(QTestState *qts, const char *id)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"%s\"}}", id);
    g_autofree char *ret = qtest_qmp(qts, cmd, NULL);
    g_autofree char *ev = qtest_qmp_eventwait(qts, "DEVICE_DELETED");

    assert_string_equal(ret, "{}");

    assert_non_null(strstr(ev, id));
}

static void fail_nth(QTestState *qts, const char *fd, unsigned n, const char *e)
{
    g_autofree char *r = qtest_command(qts, "x-vtdnest-iommufd-fail-nth %s %u %s",
                                       fd, n, e);

    assert_string_equal(r, "OK");
}

/* ---- 1. The design picture ----------------------------------------------- */

#define PICTURE \
    "-machine q35 -m 512M " IOMMU_FLTS FD0 \
    "-object iommufd-sim-unit,iommufd=fd0,id=u1,errata=on " \
    "-object iommufd-sim-device,iommufd=fd0,id=h0,host=0000:03:00.0,unit=u0 " \
    "-object iommufd-sim-device,iommufd=fd0,id=h1,host=0000:03:01.0,unit=u0 " \
    "-object iommufd-sim-device,iommufd=fd0,id=h2,host=0000:03:02.0,unit=u0," \
    "coherent=off " \
    "-object iommufd-sim-device,iommufd=fd0,id=h3,host=0000:04:00.0,unit=u1 " \
    "-object iommufd,id=fd1,sim=on " \
    "-object iommufd-sim-unit,iommufd=fd1,id=w0,errata=off " \
    "-object iommufd-sim-device,iommufd=fd1,id=h4,host=0000:05:00.0,unit=w0 " \
    "-device vfio-pci,host=0000:03:00.0,iommufd=fd0,id=p0 " \
    "-device vfio-pci,host=0000:03:01.0,iommufd=fd0,id=p1 " \
    "-device vfio-pci,host=0000:03:02.0,iommufd=fd0,id=p2 " \
    "-device vfio-pci,host=0000:04:00.0,iommufd=fd0,id=p3 " \
    "-device vfio-pci,host=0000:05:00.0,iommufd=fd1,id=p4 "

static void test_design_picture(void **state)
{
    QTestState *qts = qtest_init(PICTURE);
    g_autofree char *u0 = NULL, *u2 = NULL, *u3 = NULL, *hostinfo = NULL;
    char *err;

    /* fd0 normal (p0+p1 shared, p2 non-coherent alone), fd0 RO-free (p3),
     * fd1 (p4). */
    assert_int_equal(n_devices(qts), 5);
    assert_int_equal(n_containers(qts), 3);
    assert_int_equal(n_s2_hwpts(qts, -1), 4);
    assert_int_equal(n_s2_hwpts(qts, 1), 1);
    u0 = s2_users(qts, "p0");
    assert_string_equal(u0, "p0,p1");
    u2 = s2_users(qts, "p2");
    assert_string_equal(u2, "p2");
    u3 = s2_users(qts, "p3");
    assert_string_equal(u3, "p3");
    /* Translation off: every RID on stage 2. */
    assert_kind(qts, "p0", -1, "stage2");

    /* The host unit is named (simulator: the unit id). */
    hostinfo = qtest_qmp(qts, "{\"execute\": \"x-vtdnest-query-host-iommu\"}", NULL);
    assert_non_null(strstr(hostinfo, "\"host-unit\":\"u1\""));
    assert_null(strstr(hostinfo, "unknown"));

    /* Unplug the non-coherent device: its HWPT goes, the container stays. */
    dev_del(qts, "p2");
    assert_int_equal(n_containers(qts), 3);
    assert_int_equal(n_s2_hwpts(qts, -1), 3);
    /* Unplug the errata device: its whole container goes. */
    dev_del(qts, "p3");
    assert_int_equal(n_containers(qts), 2);
    assert_int_equal(n_s2_hwpts(qts, 1), 0);
    /* Hotplug both back: the same picture. */
    err = dev_add(qts, "p3", "0000:04:00.0", "fd0", NULL);
    assert_null(err);
    err = dev_add(qts, "p2", "0000:03:02.0", "fd0", NULL);
    assert_null(err);
    assert_int_equal(n_containers(qts), 3);
    assert_int_equal(n_s2_hwpts(qts, -1), 4);
    assert_int_equal(n_s2_hwpts(qts, 1), 1);
    /* The last user of a shared HWPT keeps it. */
    dev_del(qts, "p0");
    assert_int_equal(n_s2_hwpts(qts, -1), 4);
    dev_del(qts, "p1");
    assert_int_equal(n_s2_hwpts(qts, -1), 3);
    dev_del(qts, "p4");
    assert_int_equal(n_containers(qts), 2);
    qtest_quit(qts);
}

static void test_realize_error_names_unit(void **state)
{
    g_autofree char *err = NULL;
    QTestState *qts = qtest_try_init(
        "-machine q35 -m 512M -device intel-iommu,scalable-mode=on,flts=on,"
        "caching-mode=on " FD0
        "-object iommufd-sim-unit,iommufd=fd0,id=nonest,nesting=off "
        "-object iommufd-sim-device,iommufd=fd0,id=h9,host=0000:09:00.0,"
        "unit=nonest "
        "-device vfio-pci,host=0000:09:00.0,iommufd=fd0,id=p9", &err);

    assert_null(qts);
    assert_non_null(err);
    assert_non_null(strstr(err, "host IOMMU unit nonest"));
}

/* ---- 2. A first-stage guest -------------------------------------------- */

typedef struct Guest {
    QTestState *qts;
    VtdBuilder b;
    VtbDev d;
    VtbQueue q;
    uint64_t root, ctx, pdir, ptbl;
    VtbPgtable fs;
    uint64_t leaf;          /* the IOVA's PTE */
    uint64_t page_a, page_b;
} Guest;

static void guest_pasid_entry(Guest *g, uint32_t pasid, unsigned pgtt,
                              uint64_t fsptptr)
{
    VtbPasidEntry pe = { .p = pgtt != 0, .pgtt = pgtt, .did = DID,
                         .fsptptr = fsptptr };

    vtb_write_pasid_entry(&g->b, g->ptbl, pasid, &pe);
}

/* PASID-cache invalidation (PASID-selective) + wait, as a guest driver. */
static void guest_pc_inval(Guest *g, uint32_t pasid)
{
    uint64_t d[4];

    vtb_desc_pc(d, 1, DID, pasid);
    vtb_qi_submit(&g->q, d);
    assert_true(vtb_qi_wait(&g->q));
}

static void guest_piotlb_page(Guest *g, uint32_t pasid, uint64_t iova)
{
    uint64_t d[4];

    vtb_desc_piotlb(d, 3, DID, pasid, iova, 0, false);
    vtb_qi_submit(&g->q, d);
    assert_true(vtb_qi_wait(&g->q));
}

/* Device at 00:03.0 (BAR at BAR0), or behind a bridge on bus 1. */
static void guest_find_dev(Guest *g, uint8_t bus, uint8_t devfn)
{
    memset(&g->d, 0, sizeof(g->d));
    g->d.qts = g->qts;
    g->d.bus = bus;
    g->d.devfn = devfn;
    g->d.bar = BAR0;
    g->d.can_clock_step = true;
    qtest_pci_map_bar(g->qts, bus, devfn, 0, BAR0);
}

/* Root/context/PASID tables for `sid` with RID_PASID 0 -> first stage. */
static void guest_setup(Guest *g, const char *args, uint16_t sid, uint8_t dev_bus,
                        uint8_t dev_devfn)
{
    VtbSmRoot root;
    VtbSmCtx ctx;
    VtbPasidDirEntry pde;

    memset(g, 0, sizeof(*g));
    g->qts = qtest_init(args);
    vtb_init(&g->b, g->qts, ALLOC_BASE, ALLOC_SIZE);
    guest_find_dev(g, dev_bus, dev_devfn);
    g->root = vtb_alloc_page(&g->b);
    g->ctx = vtb_alloc(&g->b, 2 * VTB_PAGE_4K);
    g->pdir = vtb_alloc_page(&g->b);
    g->ptbl = vtb_alloc_page(&g->b);
    g->page_a = vtb_alloc_page(&g->b);
    g->page_b = vtb_alloc_page(&g->b);
    root = (VtbSmRoot){ .lp = true, .lctp = g->ctx, .up = true,
                        .uctp = g->ctx + VTB_PAGE_4K };
    vtb_write_sm_root(&g->b, g->root, sid >> 8, &root);
    ctx = (VtbSmCtx){ .p = true, .paside = true, .pasid_dir = g->pdir,
                      .pdts = 0 };
    vtb_write_sm_ctx(&g->b, sid & 0x80 ? g->ctx + VTB_PAGE_4K : g->ctx,
                     sid & 0xff, &ctx);
    pde = (VtbPasidDirEntry){ .p = true, .table = g->ptbl };
    vtb_write_pasid_dir(&g->b, g->pdir, 0, &pde);
    vtb_pgt_init(&g->fs, &g->b, true, 4);
    g->leaf = vtb_pgt_map(&g->fs, IOVA, g->page_a, VTB_PAGE_4K,
                          VTB_FS_LEAF_DEFAULT);
    guest_pasid_entry(g, 0, VTB_PGTT_FS, vtb_pgt_root_ptr(&g->fs));
    assert_true(vtb_qi_enable(&g->q, &g->b, 0, true));
    assert_true(vtb_set_root(&g->b, g->root, VTB_TTM_SCALABLE, 0));
    assert_true(vtb_enable_te(&g->b, true));
}

/* DMA of the testdev pattern to iova; true when it landed at gpa. The page
 * is cleared first so an earlier run cannot make a stale result pass. */
static uint32_t dma(Guest *g, uint32_t pasid, uint64_t iova, uint64_t gpa)
{
    qtest_memset(g->qts, gpa & ~0xfffULL, 0, VTB_PAGE_4K);
    vtb_testdev_set_request(&g->d, pasid, false, false);
    return vtb_testdev_dma(&g->d, iova, gpa, 4);
}

#define GUEST_ARGS "-machine q35 -m 512M " IOMMU_FLTS FD0 HOST0 P0

static void test_first_stage_guest(void **state)
{
    Guest g;
    VtbFault f;

    guest_setup(&g, GUEST_ARGS, P0_SID, 0, P0_SID);
    assert_kind(g.qts, "p0", -1, "nested");
    assert_int_equal(dma(&g, VTB_NO_PASID, IOVA + 0x40, g.page_a + 0x40), VTB_TD_OK);

    /* New PTE without invalidation: the host IOTLB still has the old one. */
    qtest_writeq(g.qts, g.leaf, g.page_b | VTB_FS_LEAF_DEFAULT);
    assert_int_equal(dma(&g, VTB_NO_PASID, IOVA + 0x80, g.page_a + 0x80), VTB_TD_OK);
    /* PASID-IOTLB page invalidation + wait: the new mapping. */
    guest_piotlb_page(&g, 0, IOVA);
    assert_int_equal(dma(&g, VTB_NO_PASID, IOVA + 0x80, g.page_b + 0x80), VTB_TD_OK);
    assert_int_equal(vtb_fsts(&g.b) & 0x70, 0);

    /* FS -> PT -> FS on RID_PASID through the PASID cache. */
    guest_pasid_entry(&g, 0, VTB_PGTT_PT, 0);
    guest_pc_inval(&g, 0);
    assert_kind(g.qts, "p0", -1, "stage2");
    assert_int_equal(dma(&g, VTB_NO_PASID, g.page_a + 0x10, g.page_a + 0x10), VTB_TD_OK);
    guest_pasid_entry(&g, 0, VTB_PGTT_FS, vtb_pgt_root_ptr(&g.fs));
    guest_pc_inval(&g, 0);
    assert_kind(g.qts, "p0", -1, "nested");
    assert_int_equal(dma(&g, VTB_NO_PASID, IOVA + 0x20, g.page_b + 0x20), VTB_TD_OK);

    /* PASID 7 through the testdev PASID register. */
    guest_pasid_entry(&g, PASID_X, VTB_PGTT_FS, vtb_pgt_root_ptr(&g.fs));
    guest_pc_inval(&g, PASID_X);
    assert_kind(g.qts, "p0", PASID_X, "nested");
    assert_int_equal(dma(&g, PASID_X, IOVA + 0x30, g.page_b + 0x30), VTB_TD_OK);

    /* Host stage-1 faults -> guest fault records: without and with PASID. */
    vtb_faults_clear_all(&g.b);
    assert_int_equal(dma(&g, VTB_NO_PASID, IOVA + 0x5000, g.page_a), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&g.b, &f));
    assert_int_equal(f.reason, VTB_FR_SFS_2);
    assert_int_equal(f.sid, P0_SID);
    assert_true(f.addr == IOVA + 0x5000);
    assert_false(f.pp);
    assert_false(f.t1);             /* write */
    vtb_faults_clear_all(&g.b);
    assert_int_equal(dma(&g, PASID_X, IOVA + 0x7000, g.page_a), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&g.b, &f));
    assert_int_equal(f.reason, VTB_FR_SFS_2);
    assert_true(f.pp);
    assert_int_equal(f.pasid, PASID_X);
    assert_true(f.addr == IOVA + 0x7000);
    vtb_faults_clear_all(&g.b);
    /* A write to a read-only page: SGN.6. */
    qtest_writeq(g.qts, g.leaf, g.page_b | (VTB_FS_LEAF_DEFAULT & ~VTB_FS_RW));
    guest_piotlb_page(&g, PASID_X, IOVA);
    assert_int_equal(dma(&g, PASID_X, IOVA, g.page_b), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&g.b, &f));
    assert_int_equal(f.reason, VTB_FR_SGN_6);

    /* Unplug with nested HWPTs attached. */
    dev_del(g.qts, "p0");
    assert_int_equal(n_containers(g.qts), 0);
    qtest_quit(g.qts);
}

/* Saved state: after system_reset + load, the shadows follow the tables. */
static void test_state_load_resyncs(void **state)
{
    Guest g;
    char *err = NULL;
    g_autofree char *saved = NULL, *cmd = NULL, *ret = NULL;
    JsonParser *p = json_parser_new();

    guest_setup(&g, GUEST_ARGS, P0_SID, 0, P0_SID);
    ret = qtest_qmp(g.qts, "{\"execute\": \"x-vtdnest-save-state\"}", &err);
    assert_non_null(ret);
    assert_true(json_parser_load_from_data(p, ret, -1, NULL));
    saved = g_strdup(json_object_get_string_member(
        json_node_get_object(json_parser_get_root(p)), "data"));
    g_object_unref(p);
    g_free(qtest_qmp(g.qts, "{\"execute\": \"system_reset\"}", NULL));
    assert_kind(g.qts, "p0", -1, "stage2");
    /* The reset turned bus mastering off too. */
    guest_find_dev(&g, 0, P0_SID);
    cmd = g_strdup_printf("{\"execute\": \"x-vtdnest-load-state\", "
                          "\"arguments\": {\"data\": \"%s\"}}", saved);
    g_free(qtest_qmp(g.qts, cmd, NULL));
    assert_kind(g.qts, "p0", -1, "nested");
    assert_int_equal(dma(&g, VTB_NO_PASID, IOVA + 0x40, g.page_a + 0x40), VTB_TD_OK);
    qtest_quit(g.qts);
}

/* ---- 3. Behind a pci-bridge ----------------------------------------------- */

static void test_behind_bridge(void **state)
{
    Guest g;
    VtbFault f;
    /* Bridge at 00:05.0: the device is seen with the bridge's BDF. */
    const uint16_t alias = 0x0028;

    guest_setup(&g, "-machine q35 -m 512M " IOMMU_FLTS FD0 HOST0
                "-device pci-bridge,id=br0,chassis_nr=1,addr=5 "
                "-device vfio-pci,host=0000:03:00.0,iommufd=fd0,id=p0,"
                "bus=br0,addr=0", alias, 1, 0);
    /* guest_setup mapped the BAR before the bridge had bus numbers. */
    qtest_pci_cfg_write(g.qts, 0, 0x28, 0x18, 0x00010100, 4);
    guest_find_dev(&g, 1, 0);
    assert_kind(g.qts, "p0", -1, "nested");
    assert_int_equal(dma(&g, VTB_NO_PASID, IOVA + 0x40, g.page_a + 0x40), VTB_TD_OK);
    vtb_faults_clear_all(&g.b);
    assert_int_equal(dma(&g, VTB_NO_PASID, IOVA + 0x3000, g.page_a), VTB_TD_TX_FAIL);
    assert_true(vtb_first_fault(&g.b, &f));
    assert_int_equal(f.sid, alias);
    qtest_quit(g.qts);
}

/* ---- 4. fail-nth over the lifecycle -------------------------------------- */

/* DMA behaviour matches what the report says the RID is attached to. */
static void assert_consistent(Guest *g, uint64_t page)
{
    g_autofree char *k = attach_kind(g->qts, "p0", -1);

    if (!strcmp(k, "nested")) {
        assert_int_equal(dma(g, VTB_NO_PASID, IOVA + 0x100, page + 0x100), VTB_TD_OK);
    } else if (!strcmp(k, "stage2")) {
        assert_int_equal(dma(g, VTB_NO_PASID, page + 0x100, page + 0x100), VTB_TD_OK);
    } else {
        assert_string_equal(k, "blocked");
        assert_int_equal(dma(g, VTB_NO_PASID, IOVA + 0x100, page + 0x100),
                         VTB_TD_TX_FAIL);
    }
    vtb_faults_clear_all(&g->b);
}

/* ICE raised (ICESID 0), then cleared by the guest. Returns whether set. */
static bool take_ice(Guest *g)
{
    bool ice = vtb_fsts(&g->b) & VTB_BIT(5);

    if (ice) {
        assert_int_equal(vtb_rq(&g->b, VTB_IQERCD) >> 48, 0);
        vtb_wl(&g->b, VTB_FSTS, VTB_BIT(5));
        assert_false(vtb_fsts(&g->b) & VTB_BIT(5));
    }
    return ice;
}

static void test_fail_nth_realize_unplug(void **state)
{
    QTestState *qts = qtest_init("-machine q35 -m 512M " IOMMU_FLTS FD0 HOST0);
    unsigned failures = 0, n;

    for (n = 1; n < 64; n++) {
        char *err;

        fail_nth(qts, "fd0", n, "EBUSY");
        err = dev_add(qts, "p0", "0000:03:00.0", "fd0", NULL);
        fail_nth(qts, "fd0", 0, "EIO");
        if (err) {
            failures++;
            if (!strstr(err, "vfio-pci p0: ") || !strstr(err, "(EBUSY)")) {
                fail_msg("call %u: unclear error: %s", n, err);
            }
            g_free(err);
            /* Nothing left behind; the next try works. */
            assert_int_equal(n_devices(qts), 0);
            assert_int_equal(n_containers(qts), 0);
            continue;
        }
        assert_int_equal(n_devices(qts), 1);
        assert_int_equal(n_containers(qts), 1);
        /* Unplug under injection: always completes, releases everything. */
        fail_nth(qts, "fd0", n, "EIO");
        dev_del(qts, "p0");
        fail_nth(qts, "fd0", 0, "EIO");
        assert_int_equal(n_devices(qts), 0);
        assert_int_equal(n_containers(qts), 0);
        err = dev_add(qts, "p0", "0000:03:00.0", "fd0", NULL);
        assert_null(err);
        dev_del(qts, "p0");
        if (n > failures + 8) {
            break;      /* well past the last host call of a realize */
        }
    }
    print_message("realize: %u of %u injected failures refused the device\n",
                  failures, n);
    assert_true(failures >= 5);
    qtest_quit(qts);
}

/* One guest operation under each possible injected failure. */
typedef void (*GuestOp)(Guest *g, unsigned round);

static void op_attach(Guest *g, unsigned round)      /* PT -> FS */
{
    guest_pasid_entry(g, 0, VTB_PGTT_PT, 0);
    guest_pc_inval(g, 0);
    guest_pasid_entry(g, 0, VTB_PGTT_FS, vtb_pgt_root_ptr(&g->fs));
}

static void op_detach(Guest *g, unsigned round)      /* FS -> not present */
{
    guest_pasid_entry(g, 0, VTB_PGTT_FS, vtb_pgt_root_ptr(&g->fs));
    guest_pc_inval(g, 0);
    guest_pasid_entry(g, 0, 0, 0);
}

static void op_replace(Guest *g, unsigned round)     /* FS -> FS elsewhere */
{
    VtbPgtable other;

    guest_pasid_entry(g, 0, VTB_PGTT_FS, vtb_pgt_root_ptr(&g->fs));
    guest_pc_inval(g, 0);
    vtb_pgt_init(&other, &g->b, true, 4);
    vtb_pgt_map(&other, IOVA, g->page_a, VTB_PAGE_4K, VTB_FS_LEAF_DEFAULT);
    guest_pasid_entry(g, 0, VTB_PGTT_FS, vtb_pgt_root_ptr(&other));
}

static void run_guest_op(const char *name, GuestOp prepare, bool pc)
{
    Guest g;
    unsigned failures = 0;

    guest_setup(&g, GUEST_ARGS, P0_SID, 0, P0_SID);
    for (unsigned n = 1; n <= 6; n++) {
        bool ice;

        prepare(&g, n);
        fail_nth(g.qts, "fd0", n, "EIO");
        if (pc) {
            guest_pc_inval(&g, 0);
        } else {
            qtest_writeq(g.qts, g.leaf, g.page_a | VTB_FS_LEAF_DEFAULT);
            guest_piotlb_page(&g, 0, IOVA);
        }
        fail_nth(g.qts, "fd0", 0, "EIO");
        ice = take_ice(&g);
        failures += ice;
        if (pc || !ice) {
            assert_consistent(&g, g.page_a);
        } else {
            /* The guest was told the invalidation failed: still stale. */
            assert_int_equal(dma(&g, VTB_NO_PASID, IOVA, g.page_b), VTB_TD_OK);
        }
        /* The guest repeats the invalidation: all good again. */
        if (pc) {
            guest_pc_inval(&g, 0);
        } else {
            guest_piotlb_page(&g, 0, IOVA);
        }
        assert_false(take_ice(&g));
        assert_consistent(&g, g.page_a);
    }
    print_message("%s: %u of 6 injected failures reported as ICE\n", name,
                  failures);
    if (!failures) {
        fail_msg("%s: no injected failure reached the guest", name);
    }
    qtest_quit(g.qts);
}

static void test_fail_nth_attach(void **state)
{
    run_guest_op("attach", op_attach, true);
}

static void test_fail_nth_replace(void **state)
{
    run_guest_op("replace", op_replace, true);
}

static void test_fail_nth_detach(void **state)
{
    run_guest_op("detach", op_detach, true);
}

static void op_invalidate(Guest *g, unsigned round)
{
    /* Fill the host IOTLB with page_b, then the guest moves it to page_a. */
    qtest_writeq(g->qts, g->leaf, g->page_b | VTB_FS_LEAF_DEFAULT);
    guest_piotlb_page(g, 0, IOVA);
    assert_int_equal(dma(g, VTB_NO_PASID, IOVA, g->page_b), VTB_TD_OK);
}

static void test_fail_nth_invalidate(void **state)
{
    run_guest_op("invalidate", op_invalidate, false);
}

/* The table builder and p0's DMA engine (BAR0 mapped, bus master on). */
static void legacy_guest_start(QTestState *qts, VtdBuilder *b, VtbDev *d)
{
    vtb_init(b, qts, ALLOC_BASE, ALLOC_SIZE);
    memset(d, 0, sizeof(*d));
    d->qts = qts;
    d->devfn = P0_SID;
    d->bar = BAR0;
    d->can_clock_step = true;
    qtest_pci_map_bar(qts, 0, P0_SID, 0, BAR0);
}

/*
 * A legacy-mode guest for p0: 4-level second-stage tables mapping IOVA to
 * page, root and context entries (TT=00b, DID), root latched, TE on.
 * Returns the leaf PTE's address.
 */
static uint64_t legacy_guest_on(VtdBuilder *b, VtbPgtable *ss, uint64_t rt,
                                uint64_t ct, uint64_t page)
{
    VtbLegacyRoot root = { .p = true, .ctp = ct };
    VtbLegacyCtx ctx;
    uint64_t leaf;

    vtb_pgt_init(ss, b, false, 4);
    leaf = vtb_pgt_map(ss, IOVA, page, VTB_PAGE_4K, VTB_SS_RW);
    vtb_write_legacy_root(b, rt, 0, &root);
    ctx = (VtbLegacyCtx){ .p = true, .tt = VTB_TT_MULTI, .ssptptr = ss->root,
                          .aw = VTB_AW_48, .did = DID };
    vtb_write_legacy_ctx(b, ct, P0_SID, &ctx);
    assert_true(vtb_set_root(b, rt, VTB_TTM_LEGACY, 0));
    assert_true(vtb_enable_te(b, true));
    return leaf;
}

/* ---- 5. Legacy-mode guest through the shadow path on an errata host ------ */

static void test_legacy_shadow_errata(void **state)
{
    QTestState *qts = qtest_init(
        "-machine q35 -m 512M -device intel-iommu,caching-mode=on "
        "-object iommufd,id=fd0,sim=on "
        "-object iommufd-sim-unit,iommufd=fd0,id=u0,errata=on "
        "-object iommufd-sim-device,iommufd=fd0,id=h0,host=0000:03:00.0,unit=u0 "
        P0);
    VtdBuilder b;
    VtbDev d;
    VtbPgtable ss;
    uint64_t rt, ct, page, page2, leaf;

    legacy_guest_start(qts, &b, &d);
    rt = vtb_alloc_page(&b);
    ct = vtb_alloc_page(&b);
    page = vtb_alloc_page(&b);
    page2 = vtb_alloc_page(&b);
    leaf = legacy_guest_on(&b, &ss, rt, ct, page);
    /* Caching mode: the guest announces the new context entry. */
    vtb_ccmd(&b, VTB_GRAN_GLOBAL, 0, 0, 0);
    vtb_iotlb_inv(&b, VTB_GRAN_GLOBAL, 0, 0, 0, false);
    assert_kind(qts, "p0", -1, "shadow");
    qtest_memset(qts, page, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, IOVA + 0x40, page + 0x40, 4), VTB_TD_OK);

    /* Caching mode: a changed PTE counts once the guest invalidates it. */
    qtest_writeq(qts, leaf, page2 | VTB_SS_RW);
    qtest_memset(qts, page, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, IOVA + 0x80, page + 0x80, 4), VTB_TD_OK);
    vtb_iotlb_inv(&b, VTB_GRAN_PAGE, DID, IOVA, 0, false);
    qtest_memset(qts, page2, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, IOVA + 0x80, page2 + 0x80, 4), VTB_TD_OK);

    /* A read-only guest mapping works on this errata host (the shadow IOAS
     * is no nest parent): writes fault, nothing lands. */
    qtest_writeq(qts, leaf, page2 | VTB_SS_R);
    vtb_iotlb_inv(&b, VTB_GRAN_PAGE, DID, IOVA, 0, false);
    qtest_memset(qts, page2, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, IOVA + 0xc0, page2 + 0xc0, 4),
                     VTB_TD_TX_FAIL);
    assert_int_equal(qtest_readl(qts, page2 + 0xc0), 0);
    qtest_quit(qts);
}

/* ---- 6. A guest without first-stage tables on a host without nesting ----- */

#define NONEST_HOST "-object iommufd,id=fd0,sim=on " \
    "-object iommufd-sim-unit,iommufd=fd0,id=nonest,nesting=off " \
    "-object iommufd-sim-device,iommufd=fd0,id=h0,host=0000:03:00.0," \
    "unit=nonest " P0

/* Whether every container in the report has nest-parent == want. */
static bool containers_nest_parent(QTestState *qts, bool want)
{
    Report r;
    JsonArray *cs;
    bool all;

    report_get(qts, &r);
    cs = json_object_get_array_member(r.root, "containers");
    all = json_array_get_length(cs) > 0;
    for (guint i = 0; i < json_array_get_length(cs); i++) {
        JsonObject *c = json_array_get_object_element(cs, i);

        all &= json_object_get_boolean_member(c, "nest-parent") == want;
    }
    report_free(&r);
    return all;
}

static void test_legacy_guest_no_host_nesting(void **state)
{
    QTestState *qts = qtest_init(
        "-machine q35 -m 512M -device intel-iommu,caching-mode=on "
        NONEST_HOST);
    VtdBuilder b;
    VtbDev d;
    VtbPgtable ss;
    uint64_t rt, ct, page, page2, leaf;

    /* Realized: one container whose stage-2 HWPT is a plain paging one. */
    assert_int_equal(n_devices(qts), 1);
    assert_int_equal(n_s2_hwpts(qts, -1), 1);
    assert_true(containers_nest_parent(qts, false));
    assert_kind(qts, "p0", -1, "stage2");

    legacy_guest_start(qts, &b, &d);
    rt = vtb_alloc_page(&b);
    ct = vtb_alloc_page(&b);
    page = vtb_alloc_page(&b);
    page2 = vtb_alloc_page(&b);

    /* TE=0: DMA is untranslated, output = GPA, through the host. */
    qtest_memset(qts, page, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, page + 0x20, page + 0x20, 4), VTB_TD_OK);

    /* TE=1, legacy context TT=00b: through the caching-mode shadow. */
    leaf = legacy_guest_on(&b, &ss, rt, ct, page);
    vtb_ccmd(&b, VTB_GRAN_GLOBAL, 0, 0, 0);
    vtb_iotlb_inv(&b, VTB_GRAN_GLOBAL, 0, 0, 0, false);
    assert_kind(qts, "p0", -1, "shadow");
    qtest_memset(qts, page, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, IOVA + 0x40, page + 0x40, 4), VTB_TD_OK);

    /* A remap the guest announces (caching mode) is followed. */
    qtest_writeq(qts, leaf, page2 | VTB_SS_RW);
    vtb_iotlb_inv(&b, VTB_GRAN_PAGE, DID, IOVA, 0, false);
    qtest_memset(qts, page2, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, IOVA + 0x80, page2 + 0x80, 4), VTB_TD_OK);

    /* An unmapped IOVA faults on the host; nothing lands. */
    qtest_writeq(qts, leaf, 0);
    vtb_iotlb_inv(&b, VTB_GRAN_PAGE, DID, IOVA, 0, false);
    qtest_memset(qts, page2, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, IOVA + 0xc0, page2 + 0xc0, 4),
                     VTB_TD_TX_FAIL);
    assert_int_equal(qtest_readl(qts, page2 + 0xc0), 0);

    /* TE off again: back on the plain stage-2 HWPT. */
    assert_true(vtb_enable_te(&b, false));
    assert_kind(qts, "p0", -1, "stage2");
    qtest_memset(qts, page2, 0, VTB_PAGE_4K);
    assert_int_equal(vtb_testdev_dma(&d, page2 + 0x10, page2 + 0x10, 4), VTB_TD_OK);
    qtest_quit(qts);
}

/* flts=on on the same host: refused in one line naming device, unit and the
 * missing capability, with the fix. */
static void test_flts_guest_no_host_nesting(void **state)
{
    g_autofree char *err = NULL;
    QTestState *qts = qtest_try_init(
        "-machine q35 -m 512M -device intel-iommu,scalable-mode=on,flts=on,"
        "caching-mode=on " NONEST_HOST, &err);

    assert_null(qts);
    assert_non_null(err);
    g_strstrip(err);
    if (strchr(err, '\n')) {
        fail_msg("realize error is more than one line: %s", err);
    }
    assert_non_null(strstr(err, "passthrough device p0"));
    assert_non_null(strstr(err, "host IOMMU unit nonest"));
    assert_non_null(strstr(err, "ECAP.NEST"));
    assert_non_null(strstr(err, "set flts=off"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_picture),
        cmocka_unit_test(test_realize_error_names_unit),
        cmocka_unit_test(test_first_stage_guest),
        cmocka_unit_test(test_state_load_resyncs),
        cmocka_unit_test(test_behind_bridge),
        cmocka_unit_test(test_fail_nth_realize_unplug),
        cmocka_unit_test(test_fail_nth_attach),
        cmocka_unit_test(test_fail_nth_replace),
        cmocka_unit_test(test_fail_nth_detach),
        cmocka_unit_test(test_fail_nth_invalidate),
        /* Last: needs the shadow path (nest-shadow). */
        cmocka_unit_test(test_legacy_shadow_errata),
        cmocka_unit_test(test_legacy_guest_no_host_nesting),
        cmocka_unit_test(test_flts_guest_no_host_nesting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
