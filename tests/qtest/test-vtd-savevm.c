/*
 * Saved state over QMP in the middle of a DMA workload: iommu-testdev runs
 * DMAs through a legacy second-stage table (some of them fault) and raises
 * remapped interrupts. Midway the unit's state is saved with
 * x-vtdnest-save-state and loaded into (a) a second vtdnest set up with the
 * same guest memory and (b) the same vtdnest after system_reset. Both then
 * continue exactly like the original: same DMA results, fault records,
 * interrupts and register window. A system_reset without a load returns the
 * unit to power-on state, and a guest can bring it up again.
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

#define ARGS         "-machine q35 -m 512M -device intel-iommu " \
                     "-device iommu-testdev"
#define ALLOC_BASE   0x10000000ULL
#define ALLOC_SIZE   0x04000000ULL
#define DATA_BASE    0x08000000ULL      /* DMA targets (GPA) */
#define IOVA_BASE    0x40000000ULL
#define NPAGES       8                  /* mapped; IOVA pages 8, 9 are not */
#define TESTDEV_BAR  0xe0000000ULL
#define IRQ_INDEX    12

typedef struct Vm {
    QTestState *qts;
    VtdBuilder b;
    VtbDev td;
    uint64_t root, ctxt, irt;
    uint8_t msi_cap;
} Vm;

/* What one step of the workload observed. */
typedef struct Obs {
    uint32_t result;
    uint32_t fsts;
    int nmsi;
    VtbMsi msi[4];
} Obs;

/* ---- Guest setup (deterministic: the same calls give the same layout) --- */

/* PCI side: BAR, bus master, MSI in remappable format (index IRQ_INDEX). */
static void setup_device(Vm *vm)
{
    VtbDev *d = &vm->td;
    uint8_t cap;
    uint16_t flags;

    assert_true(vtb_testdev_find(d, vm->qts, TESTDEV_BAR));
    cap = vm->msi_cap = vtb_dev_msi_cap(d);
    qtest_pci_cfg_write(vm->qts, d->bus, d->devfn, cap + 4,
                        0xfee00000u | (IRQ_INDEX << 5) | 0x10, 4);
    qtest_pci_cfg_write(vm->qts, d->bus, d->devfn, cap + 8, 0, 4);
    qtest_pci_cfg_write(vm->qts, d->bus, d->devfn, cap + 12, 0, 2);
    flags = qtest_pci_cfg_read(vm->qts, d->bus, d->devfn, cap + 2, 2);
    qtest_pci_cfg_write(vm->qts, d->bus, d->devfn, cap + 2, flags | 1, 2);
}

/* Tables in guest RAM: root -> context -> SS table, and the IRT. */
static void build_tables(Vm *vm)
{
    VtdBuilder *b = &vm->b;
    uint16_t sid = vtb_dev_sid(&vm->td);
    bool four = VTB_CAP_SAGAW(b->cap) & VTB_SAGAW_48;
    VtbPgtable pt;
    VtbLegacyRoot re = { .p = true };
    VtbLegacyCtx ce = { .p = true, .tt = VTB_TT_MULTI, .did = 3 };

    vm->root = vtb_alloc_page(b);
    vm->ctxt = vtb_alloc_page(b);
    vm->irt = vtb_alloc_page(b);
    vtb_pgt_init(&pt, b, false, four ? 4 : 3);
    for (unsigned i = 0; i < NPAGES; i++) {
        vtb_pgt_map(&pt, IOVA_BASE + i * VTB_PAGE_4K,
                    DATA_BASE + 2 * i * VTB_PAGE_4K, VTB_PAGE_4K, VTB_SS_RW);
    }
    re.ctp = vm->ctxt;
    vtb_write_legacy_root(b, vm->root, sid >> 8, &re);
    ce.ssptptr = vtb_pgt_root_ptr(&pt);
    ce.aw = four ? VTB_AW_48 : VTB_AW_39;
    vtb_write_legacy_ctx(b, vm->ctxt, sid & 0xff, &ce);
    /* IRTE: vector 0x66 to APIC 4, only from the test device. */
    vtb_mem_wq(b, vm->irt + 16 * IRQ_INDEX,
               1 | (0x66ULL << 16) | (4ULL << 40));
    vtb_mem_wq(b, vm->irt + 16 * IRQ_INDEX + 8, (1ULL << 18) | sid);
}

/* Driver side: what a guest kernel does to turn the unit on. */
static void bring_up_unit(Vm *vm)
{
    assert_true(vtb_set_root(&vm->b, vm->root, VTB_TTM_LEGACY, 0));
    assert_true(vtb_enable_te(&vm->b, true));
    vtb_wq(&vm->b, VTB_IRTA, vm->irt | 7);
    vtb_gcmd(&vm->b, VTB_GCMD_SIRTP, true);
    assert_true(vtb_gcmd(&vm->b, VTB_GCMD_IRE, true));
}

static void vm_start(Vm *vm)
{
    memset(vm, 0, sizeof(*vm));
    vm->qts = qtest_init(ARGS);
    vtb_init(&vm->b, vm->qts, ALLOC_BASE, ALLOC_SIZE);
    setup_device(vm);
    build_tables(vm);
}

/* ---- The workload ------------------------------------------------------- */

/* Step i: a DMA of 64 bytes to one of 10 IOVA pages (8, 9 fault), then the
 * device's MSI. Faults stay pending so the fault log fills up. */
static void step(Vm *vm, unsigned i, Obs *o)
{
    uint64_t iova = IOVA_BASE + (i % 10) * VTB_PAGE_4K + 64 * (i % 7);
    uint64_t gpa = DATA_BASE + 2 * (i % 10) * VTB_PAGE_4K + 64 * (i % 7);

    memset(o, 0, sizeof(*o));
    vtb_msi_clear(vm->qts);
    vtb_testdev_set_request(&vm->td, VTB_NO_PASID, false, false);
    vm->td.flags |= VTB_TD_FLAG_MSI;
    o->result = vtb_testdev_dma(&vm->td, iova, gpa, 64);
    o->fsts = vtb_fsts(&vm->b);
    o->nmsi = vtb_msi_log(vm->qts, o->msi, 4);
}

static void assert_same_obs(const Obs *x, const Obs *y, unsigned i)
{
    if (x->result != y->result || x->fsts != y->fsts || x->nmsi != y->nmsi) {
        fail_msg("step %u: result %08x/%08x fsts %08x/%08x msis %d/%d", i,
                 x->result, y->result, x->fsts, y->fsts, x->nmsi, y->nmsi);
    }
    for (int k = 0; k < x->nmsi && k < 4; k++) {
        assert_int_equal(x->msi[k].addr, y->msi[k].addr);
        assert_int_equal(x->msi[k].data, y->msi[k].data);
        assert_int_equal(x->msi[k].sid, y->msi[k].sid);
    }
}

/* Every register the guest can read, including the fault records. */
static void assert_same_window(Vm *x, Vm *y)
{
    unsigned end = VTB_REGS_END + 16 * vtb_nfr(&x->b);

    for (unsigned off = 0; off < end; off += 4) {
        uint32_t a = vtb_rl(&x->b, off), b = vtb_rl(&y->b, off);

        if (a != b) {
            fail_msg("register 0x%03x: 0x%08x vs 0x%08x", off, a, b);
        }
    }
}

/* ---- QMP ------------------------------------------------------------------ */

static char *save_state(Vm *vm)
{
    char *err = NULL;
    g_autofree char *ret = qtest_qmp(vm->qts,
                                     "{\"execute\": \"x-vtdnest-save-state\"}",
                                     &err);
    g_autoptr(JsonParser) p = json_parser_new();
    JsonObject *o;

    if (!ret) {
        fail_msg("x-vtdnest-save-state: %s", err);
    }
    assert_true(json_parser_load_from_data(p, ret, -1, NULL));
    o = json_node_get_object(json_parser_get_root(p));
    assert_true(json_object_has_member(o, "data"));
    return g_strdup(json_object_get_string_member(o, "data"));
}

/* NULL on success, else the error description (caller frees). */
static char *load_state(Vm *vm, const char *b64)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"x-vtdnest-load-state\", "
        "\"arguments\": {\"data\": \"%s\"}}", b64);
    char *err = NULL;
    g_autofree char *ret = qtest_qmp(vm->qts, cmd, &err);

    return ret ? NULL : err;
}

static void system_reset(Vm *vm)
{
    char *err = NULL;
    g_autofree char *ret = qtest_qmp(vm->qts,
                                     "{\"execute\": \"system_reset\"}", &err);

    if (!ret) {
        fail_msg("system_reset: %s", err);
    }
}

/* ---- Tests ---------------------------------------------------------------- */

#define FIRST_HALF   9      /* leaves faults pending in the records */
#define TOTAL        30

static void run_first_half(Vm *vm, unsigned *faults, unsigned *msis)
{
    Obs o;

    bring_up_unit(vm);
    for (unsigned i = 0; i < FIRST_HALF; i++) {
        step(vm, i, &o);
        *faults += o.result != VTB_TD_OK;
        *msis += o.nmsi;
    }
}

static void test_second_instance(void **state)
{
    Vm a, b;
    g_autofree char *blob = NULL;
    char *err;
    unsigned faults = 0, msis = 0;
    Obs x, y;

    vm_start(&a);
    run_first_half(&a, &faults, &msis);
    assert_true(faults > 0 && msis > 0);
    assert_true(vtb_fault_count(&a.b) > 0);
    blob = save_state(&a);

    /* A second vtdnest: same guest memory and PCI setup, unit never
     * programmed; the load carries everything the driver did. */
    vm_start(&b);
    err = load_state(&b, blob);
    if (err) {
        fail_msg("x-vtdnest-load-state: %s", err);
    }
    assert_same_window(&a, &b);
    for (unsigned i = FIRST_HALF; i < TOTAL; i++) {
        step(&a, i, &x);
        step(&b, i, &y);
        assert_same_obs(&x, &y, i);
    }
    assert_same_window(&a, &b);
    qtest_quit(a.qts);
    qtest_quit(b.qts);
}

static void test_reset_then_load(void **state)
{
    Vm a, ref;
    g_autofree char *blob = NULL;
    char *err;
    unsigned faults = 0, msis = 0;
    Obs x, y;

    vm_start(&a);
    vm_start(&ref);
    run_first_half(&a, &faults, &msis);
    run_first_half(&ref, &faults, &msis);
    blob = save_state(&a);

    /* Reset wipes the unit (and the device's PCI state); RAM survives. */
    system_reset(&a);
    assert_int_equal(vtb_rl(&a.b, VTB_GSTS), 0);
    assert_int_equal(vtb_fault_count(&a.b), 0);
    setup_device(&a);
    err = load_state(&a, blob);
    if (err) {
        fail_msg("x-vtdnest-load-state: %s", err);
    }
    assert_same_window(&a, &ref);
    for (unsigned i = FIRST_HALF; i < TOTAL; i++) {
        step(&a, i, &x);
        step(&ref, i, &y);
        assert_same_obs(&x, &y, i);
    }
    assert_same_window(&a, &ref);
    qtest_quit(a.qts);
    qtest_quit(ref.qts);
}

static void test_reset_mid_workload(void **state)
{
    Vm a;
    unsigned faults = 0, msis = 0;
    Obs o;

    vm_start(&a);
    run_first_half(&a, &faults, &msis);
    system_reset(&a);
    /* Power-on: nothing enabled, no fault pending, IRTA/RTADDR cleared. */
    assert_int_equal(vtb_rl(&a.b, VTB_GSTS), 0);
    assert_int_equal(vtb_fsts(&a.b), 0);
    assert_int_equal(vtb_rq(&a.b, VTB_RTADDR), 0);
    assert_int_equal(vtb_rq(&a.b, VTB_IRTA), 0);
    assert_int_equal(vtb_fault_count(&a.b), 0);
    setup_device(&a);

    /* IOMMU off: an IOVA is just a physical address (no RAM at 1 GiB of a
     * 512M machine), and the MSI passes through in remappable format. */
    step(&a, 0, &o);
    assert_int_not_equal(o.result, VTB_TD_OK);
    assert_int_equal(vtb_fsts(&a.b), 0);
    assert_int_equal(o.nmsi, 1);
    assert_int_equal(o.msi[0].addr, 0xfee00000u | (IRQ_INDEX << 5) | 0x10);

    /* The guest brings the unit up again: the workload works as before. */
    bring_up_unit(&a);
    step(&a, 1, &o);
    assert_int_equal(o.result, VTB_TD_OK);
    assert_int_equal(o.nmsi, 1);
    assert_int_equal(o.msi[0].addr, 0xfee04000ULL);
    assert_int_equal(o.msi[0].data, 0x66);
    step(&a, 8, &o);
    assert_int_equal(o.result, VTB_TD_TX_FAIL);
    assert_int_equal(vtb_fault_count(&a.b), 1);
    qtest_quit(a.qts);
}

static void test_bad_blobs_over_qmp(void **state)
{
    Vm a, other;
    g_autofree char *blob = NULL;
    char *err;
    unsigned faults = 0, msis = 0;

    vm_start(&a);
    run_first_half(&a, &faults, &msis);
    blob = save_state(&a);

    /* Truncated, corrupted, not base64: refused, the unit untouched. */
    {
        g_autofree char *cut = g_strndup(blob, strlen(blob) / 2 & ~3u);
        uint32_t gsts = vtb_rl(&a.b, VTB_GSTS);

        err = load_state(&a, cut);
        assert_non_null(err);
        assert_non_null(strstr(err, "saved VT-d state"));
        g_free(err);
        blob[100] = blob[100] == 'A' ? 'B' : 'A';
        err = load_state(&a, blob);
        assert_non_null(strstr(err, "checksum"));
        g_free(err);
        blob[100] = blob[100] == 'A' ? 'B' : 'A';
        err = load_state(&a, "not base64!");
        assert_non_null(strstr(err, "base64"));
        g_free(err);
        assert_int_equal(vtb_rl(&a.b, VTB_GSTS), gsts);
    }

    /* Another configuration refuses it and says why. */
    other.qts = qtest_init("-machine q35 -m 512M "
                           "-device intel-iommu,scalable-mode=on");
    err = load_state(&other, blob);
    assert_non_null(err);
    assert_non_null(strstr(err, "CAP="));
    g_free(err);
    qtest_quit(other.qts);

    /* Unknown arguments and a missing blob. */
    err = NULL;
    g_free(qtest_qmp(a.qts, "{\"execute\": \"x-vtdnest-load-state\"}", &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "'data'"));
    g_free(err);
    err = NULL;
    g_free(qtest_qmp(a.qts, "{\"execute\": \"x-vtdnest-save-state\", "
                     "\"arguments\": {\"x\": 1}}", &err));
    assert_non_null(err);
    g_free(err);
    qtest_quit(a.qts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_instance),
        cmocka_unit_test(test_reset_then_load),
        cmocka_unit_test(test_reset_mid_workload),
        cmocka_unit_test(test_bad_blobs_over_qmp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
