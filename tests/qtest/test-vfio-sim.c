/*
 * vfio-pci on a simulated host, driven like a guest would: the passthrough
 * device enumerates as an iommu-testdev-compatible function (1b36:0005), its
 * DMA (executed by the simulated host device through the host IOMMU) lands at
 * the GPA when there is no vIOMMU, and the command-line errors are clear.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <string.h>
#include <unistd.h>

#include "libqtest.h"
#include "vtd-builder.h"

#define BAR0          0xfe000000ull
#define RAM_A         0x01000000ull
#define RAM_B         0x01100000ull
#define BEYOND_RAM    0x800000000ull

#define SIM_HOST \
    "-object iommufd,id=fd0,sim=on " \
    "-object iommufd-sim-unit,iommufd=fd0,id=u0,nesting=on " \
    "-object iommufd-sim-device,iommufd=fd0,id=hd0,host=0000:03:00.0,unit=u0," \
    "group=5,coherent=on,pasid=on,ats=on "

static QTestState *qts;
static VtbDev dev;

static int start_machine(void **state)
{
    qts = qtest_init("-machine q35 -m 512M " SIM_HOST
                     "-device vfio-pci,host=0000:03:00.0,iommufd=fd0,id=v0");
    if (!qts) {
        return -1;
    }
    assert_true(vtb_testdev_find(&dev, qts, BAR0));
    assert_int_equal(dev.bus, 0);
    return 0;
}

static int stop_machine(void **state)
{
    qtest_quit(qts);
    qts = NULL;
    return 0;
}

/* One armed run; read = the device reads gva instead of writing it. */
static uint32_t itd_dma(uint64_t gva, uint64_t gpa, uint32_t len, bool read)
{
    vtb_testdev_set_request(&dev, VTB_NO_PASID, false, read);
    return vtb_testdev_dma_checked(&dev, gva, gpa, len, true);
}

static void test_enumerates_like_testdev(void **state)
{
    /* Class 00ff ("other"), header type 0, BAR0 a 4 KiB memory BAR. */
    assert_int_equal(qtest_pci_cfg_read(qts, 0, dev.devfn, 0x0a, 2), 0x00ff);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, dev.devfn, 0x0e, 1) & 0x7f, 0);
    assert_int_equal(qtest_pci_cfg_read(qts, 0, dev.devfn, 0x10, 4) & ~0xfu,
                     (uint32_t)BAR0);
}

static void test_dma_write_lands_at_gpa(void **state)
{
    uint8_t buf[4096 + 100];

    qtest_memset(qts, RAM_A, 0, sizeof(buf));
    assert_int_equal(itd_dma(RAM_A, RAM_A, sizeof(buf), false), 0);
    qtest_memread(qts, RAM_A, buf, sizeof(buf));
    for (unsigned i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], (0x12345678u >> (8 * (i % 4))) & 0xff);
    }
    /* IOVA = GPA: writing at one address and checking another mismatches. */
    qtest_memset(qts, RAM_B, 0xaa, 64);
    assert_int_equal(itd_dma(RAM_A, RAM_B, 64, false), VTB_TD_MISMATCH);
}

static void test_dma_read_direction(void **state)
{
    uint8_t pat[64];

    for (unsigned i = 0; i < sizeof(pat); i++) {
        pat[i] = i * 7;
    }
    qtest_memwrite(qts, RAM_B, pat, sizeof(pat));
    assert_int_equal(itd_dma(RAM_B, RAM_B, sizeof(pat), true), 0);
}

static void test_dma_outside_guest_ram_faults(void **state)
{
    assert_int_equal(itd_dma(BEYOND_RAM, RAM_A, 64, false), VTB_TD_TX_FAIL);
}

static void test_bus_master_off_blocks_dma(void **state)
{
    uint8_t b;

    qtest_memset(qts, RAM_A, 0, 16);
    vtb_dev_set_bus_master(&dev, false);
    assert_int_equal(itd_dma(RAM_A, RAM_A, 16, false), VTB_TD_TX_FAIL);
    qtest_memread(qts, RAM_A, &b, 1);
    assert_int_equal(b, 0);
    vtb_dev_set_bus_master(&dev, true);
    assert_int_equal(itd_dma(RAM_A, RAM_A, 16, false), 0);
}

static void expect_reply(const char *cmd, const char *prefix)
{
    g_autofree char *r = qtest_command(qts, "%s", cmd);

    if (!g_str_has_prefix(r, prefix)) {
        fail_msg("%s: got '%s', want '%s...'", cmd, r, prefix);
    }
}

static void test_fail_nth_command(void **state)
{
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 0 EIO", "OK");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 3 16", "OK");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 0 EBUSY", "OK");
    expect_reply("x-vtdnest-iommufd-fail-nth nope 1 EIO",
                 "FAIL No iommufd object with id 'nope'");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 x EIO", "FAIL N must be");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 1 ENOTANERRNO", "FAIL ERRNO must be");
    expect_reply("x-vtdnest-iommufd-fail-nth fd0 1", "FAIL usage");
}

/* The host capabilities the device read with IOMMU_GET_HW_INFO. */
static void test_query_host_iommu(void **state)
{
    g_autofree char *r = qtest_qmp(qts, "{\"execute\": "
                                   "\"x-vtdnest-query-host-iommu\"}", NULL);

    assert_non_null(r);
    if (!strstr(r, "\"host\":\"0000:03:00.0\"") ||
        !strstr(r, "\"errata-772415-spr17\":true") ||
        !strstr(r, "\"max-pasid-log2\":20") ||
        !strstr(r, "\"aw-bits\":48") ||
        !strstr(r, "\"translation\":\"flat-ioas\"")) {
        fail_msg("unexpected reply %s", r);
    }
}

/* ---- start-up errors ---- */

static void expect_start_error(const char *args, const char *msg)
{
    g_autofree char *err = NULL;
    QTestState *s = qtest_try_init(args, &err);

    if (s) {
        qtest_quit(s);
        fail_msg("'%s' started", args);
    }
    if (!err || !strstr(err, msg)) {
        fail_msg("'%s': got '%s', want '%s'", args, err ? err : "", msg);
    }
}

static void test_real_iommufd_fails_at_first_use(void **state)
{
    if (access("/dev/iommu", F_OK) == 0) {
        skip();   /* this host has iommufd: the open would succeed */
    }
    /* Declaring it is fine; the device that uses it reports the cause. */
    expect_start_error("-object iommufd,id=x "
                       "-device vfio-pci,host=0000:03:00.0,iommufd=x",
                       "iommufd 'x': cannot open /dev/iommu");
}

static void test_cmdline_errors(void **state)
{
    expect_start_error(SIM_HOST "-device vfio-pci,host=0000:04:00.0,iommufd=fd0",
                       "host device 0000:04:00.0 is not declared");
    expect_start_error(SIM_HOST "-device vfio-pci,host=0000:03:00.0",
                       "Parameter 'iommufd' is missing");
    expect_start_error("-object iommufd,id=fd0 "
                       "-object iommufd-sim-unit,iommufd=fd0,id=u0",
                       "needs -object iommufd,id=fd0,sim=on");
    expect_start_error("-object iommufd,id=fd0,sim=on "
                       "-object iommufd-sim-unit,iommufd=fd0,id=u0,wibble=on",
                       "Property 'iommufd-sim-unit.wibble' not found");
}

int main(void)
{
    const struct CMUnitTest running[] = {
        cmocka_unit_test(test_enumerates_like_testdev),
        cmocka_unit_test(test_dma_write_lands_at_gpa),
        cmocka_unit_test(test_dma_read_direction),
        cmocka_unit_test(test_dma_outside_guest_ram_faults),
        cmocka_unit_test(test_bus_master_off_blocks_dma),
        cmocka_unit_test(test_fail_nth_command),
        cmocka_unit_test(test_query_host_iommu),
    };
    const struct CMUnitTest startup[] = {
        cmocka_unit_test(test_real_iommufd_fails_at_first_use),
        cmocka_unit_test(test_cmdline_errors),
    };
    int failed;

    failed = cmocka_run_group_tests_name("vfio-sim", running, start_machine,
                                         stop_machine);
    failed += cmocka_run_group_tests_name("vfio-sim-startup", startup, NULL, NULL);
    return failed;
}
