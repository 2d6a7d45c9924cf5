/*
 * vfio-pci on a simulated host, in process: realize binds and attaches the
 * device, passthrough DMA lands at the GPA when there is no vIOMMU, unplug
 * releases every host object, and a failure injected at each realize step
 * gives a clear error and leaves nothing behind. Also the real-host cdev
 * lookup against a fake sysfs tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "vtdnest/machine.h"
#include "vtdnest/pci.h"
#include "vtdnest/host-iommu-device.h"
#include "vtdnest/iommufd-object.h"
#include "vtdnest/qmp-hotplug.h"
#include "vtdnest/vfio-pci.h"

#include <json-glib/json-glib.h>

#define MiB (1024 * 1024ULL)
#define HOST "0000:03:00.0"
#define BAR0 0xfe000000ULL

typedef struct Fixture {
    Machine *m;
    IommufdObject *obj;
    IommufdSim *sim;
    IommufdBackend *be;
    int base_objects;   /* simulator objects before any device */
} Fixture;

static bool create(Machine *m, bool object, const char *text, GError **errp)
{
    DeviceOpts *o = opts_parse(text, object ? "qom-type" : "driver", errp);
    bool ok;

    if (!o) {
        return false;
    }
    ok = object ? machine_create_object(m, o, errp)
                : machine_create_device(m, o, errp);
    opts_free(o);
    return ok;
}

static void must_create(Machine *m, bool object, const char *text)
{
    g_autoptr(GError) err = NULL;

    if (!create(m, object, text, &err)) {
        fail_msg("%s: %s", text, err->message);
    }
}

static int setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    g_autoptr(GError) err = NULL;

    f->m = machine_new(64 * MiB, &err);
    assert_non_null(f->m);
    machine_set_pci_root(f->m, pci_root_bus_new(f->m));
    must_create(f->m, true, "iommufd,id=fd0,sim=on");
    must_create(f->m, true, "iommufd-sim-unit,id=u0,iommufd=fd0,nesting=on");
    must_create(f->m, true, "iommufd-sim-device,id=hd0,iommufd=fd0,host=" HOST
                ",unit=u0,group=5");
    f->obj = iommufd_object_find(f->m, "fd0", &err);
    assert_non_null(f->obj);
    f->sim = iommufd_object_sim(f->obj);
    assert_non_null(f->sim);
    f->be = iommufd_object_backend(f->obj, &err);
    assert_non_null(f->be);
    f->base_objects = iommufd_sim_object_count(f->sim, f->be->fd);
    assert_true(f->base_objects >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;

    machine_free(f->m);   /* devices still plugged are released here */
    g_free(f);
    return 0;
}

static void plug(Fixture *f)
{
    must_create(f->m, false, "vfio-pci,host=" HOST ",iommufd=fd0,id=v0,addr=4");
}

static void test_realize_binds_and_attaches(void **state)
{
    Fixture *f = *state;
    HostIommuDevice *hd;
    PCIDevice *d;

    plug(f);
    d = pci_find_device_by_id(f->m, "v0");
    assert_non_null(d);
    assert_int_equal(pci_get_word(d->config + PCI_VENDOR_ID), 0x1b36);
    assert_int_equal(pci_get_word(d->config + PCI_DEVICE_ID), 0x0005);
    assert_int_equal(d->devfn, PCI_DEVFN(4, 0));

    hd = vfio_pci_host_iommu_device(f->m, "v0");
    assert_non_null(hd);
    assert_true(host_iommu_device_is_vtd(hd));
    assert_true(hd->dev_id != 0);
    assert_string_equal(hd->host_bdf, HOST);
    assert_string_equal(hd->iommufd_id, "fd0");
    assert_int_equal(hd->aw_bits, 48);          /* unit default aw=48 */
    assert_true(hd->errata_772415);             /* unit default errata=on */
    assert_int_equal(hd->max_pasid_log2, 20);
    assert_true(hd->coherent);
    assert_int_equal(hd->guest_sid, PCI_BDF(0, PCI_DEVFN(4, 0)));
    /* No vIOMMU: the RID is attached to an auto domain of the flat IOAS. */
    assert_true(iommufd_sim_attached_hwpt(f->sim, HOST, 0) != 0);
    assert_true(iommufd_sim_object_count(f->sim, f->be->fd) > f->base_objects);
}

static void test_dma_lands_at_gpa(void **state)
{
    Fixture *f = *state;
    uint8_t out[256], *ram;
    IommufdSimFault fault;

    plug(f);
    for (unsigned i = 0; i < sizeof(out); i++) {
        out[i] = i ^ 0x5a;
    }
    assert_true(iommufd_sim_dma(f->sim, HOST, 0, 0x200000, out, sizeof(out),
                                true, &fault));
    ram = machine_ram_ptr(f->m, 0x200000, sizeof(out));
    assert_non_null(ram);
    assert_memory_equal(ram, out, sizeof(out));
    /* Beyond guest RAM nothing is mapped. */
    assert_false(iommufd_sim_dma(f->sim, HOST, 0, 0x40000000, out, 16, true,
                                 &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S2_UNMAPPED);
}

/* The guest's view: program the testdev registers through BAR0. */
static uint32_t engine_run(Machine *m, uint64_t gva, uint64_t gpa, uint32_t len)
{
    uint32_t v;

    v = (uint32_t)gva;
    machine_mem_rw(m, BAR0 + 0x04, &v, 4, true);
    v = gva >> 32;
    machine_mem_rw(m, BAR0 + 0x08, &v, 4, true);
    v = (uint32_t)gpa;
    machine_mem_rw(m, BAR0 + 0x1c, &v, 4, true);
    v = gpa >> 32;
    machine_mem_rw(m, BAR0 + 0x20, &v, 4, true);
    machine_mem_rw(m, BAR0 + 0x0c, &len, 4, true);
    v = 1;
    machine_mem_rw(m, BAR0 + 0x14, &v, 4, true);
    machine_mem_rw(m, BAR0 + 0x00, &v, 4, false);   /* trigger */
    machine_mem_rw(m, BAR0 + 0x10, &v, 4, false);
    return v;
}

static void test_engine_dma_and_bus_master(void **state)
{
    Fixture *f = *state;
    PCIDevice *d;
    uint8_t *ram;

    plug(f);
    d = pci_find_device_by_id(f->m, "v0");
    pci_config_write(d, PCI_BASE_ADDRESS_0, (uint32_t)BAR0, 4);
    pci_config_write(d, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    ram = machine_ram_ptr(f->m, 0x300000, 64);
    memset(ram, 0, 64);
    /* Bus mastering off: the device may not DMA. */
    assert_int_equal(engine_run(f->m, 0x300000, 0x300000, 64), 0xdead0002);
    assert_int_equal(ram[0], 0);

    pci_config_write(d, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    assert_int_equal(engine_run(f->m, 0x300000, 0x300000, 64), 0);
    assert_int_equal(ram[0], 0x78);
    assert_int_equal(ram[63], 0x12);
    assert_int_equal(engine_run(f->m, 0x40000000, 0x300000, 64), 0xdead0002);
}

static void test_unplug_releases_everything(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) err = NULL;

    plug(f);
    assert_true(machine_destroy_device(f->m, "v0", &err));
    assert_null(pci_find_device_by_id(f->m, "v0"));
    assert_int_equal(iommufd_sim_attached_hwpt(f->sim, HOST, 0), 0);
    assert_int_equal(iommufd_sim_object_count(f->sim, f->be->fd), f->base_objects);
    /* The host device can be passed through again. */
    plug(f);
    assert_true(iommufd_sim_attached_hwpt(f->sim, HOST, 0) != 0);
}

/* Inject a failure into the nth host call of realize, for every n. */
static void test_fail_nth_each_step(void **state)
{
    Fixture *f = *state;
    unsigned failed_steps = 0;

    for (unsigned n = 1; n < 64; n++) {
        g_autoptr(GError) err = NULL;
        bool ok;

        iommufd_sim_fail_nth(f->sim, n, EIO);
        ok = create(f->m, false, "vfio-pci,host=" HOST ",iommufd=fd0,id=v0", &err);
        iommufd_sim_fail_nth(f->sim, 0, 0);
        if (ok) {
            /* n is past the last call realize makes. */
            assert_true(machine_destroy_device(f->m, "v0", NULL));
            break;
        }
        failed_steps++;
        assert_non_null(err);
        assert_non_null(strstr(err->message, "vfio-pci v0: "));
        if (!strstr(err->message, "Input/output error")) {
            fail_msg("step %u: %s", n, err->message);
        }
        assert_null(pci_find_device_by_id(f->m, "v0"));
        assert_int_equal(iommufd_sim_attached_hwpt(f->sim, HOST, 0), 0);
        assert_int_equal(iommufd_sim_object_count(f->sim, f->be->fd),
                         f->base_objects);
    }
    /* open cdev, bind, hw info, IOAS alloc, RAM map, attach at least. */
    assert_true(failed_steps >= 6);
    assert_int_equal(iommufd_sim_object_count(f->sim, f->be->fd), f->base_objects);
}

static void test_option_errors(void **state)
{
    Fixture *f = *state;
    struct { const char *opts, *msg; } cases[] = {
        { "vfio-pci,host=" HOST, "Parameter 'iommufd' is missing" },
        { "vfio-pci,iommufd=fd0", "Parameter 'host' is missing" },
        { "vfio-pci,host=" HOST ",iommufd=nope", "No iommufd object with id 'nope'" },
        { "vfio-pci,host=zz,iommufd=fd0", "'host' must be a PCI address" },
        { "vfio-pci,host=0000:09:00.0,iommufd=fd0", "is not declared on simulated" },
        { "vfio-pci,host=" HOST ",iommufd=fd0,fd=0", "fd= cannot be used" },
        { "vfio-pci,host=" HOST ",iommufd=fd0,bogus=1", "Property 'vfio-pci.bogus' not found" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;

        assert_false(create(f->m, false, cases[i].opts, &err));
        assert_non_null(err);
        if (!strstr(err->message, cases[i].msg)) {
            fail_msg("%s: got '%s', want '%s'", cases[i].opts, err->message,
                     cases[i].msg);
        }
        assert_int_equal(iommufd_sim_object_count(f->sim, f->be->fd),
                         f->base_objects);
    }
}

static void test_sim_object_errors(void **state)
{
    Fixture *f = *state;
    struct { const char *opts, *msg; } cases[] = {
        { "iommufd-sim-unit,id=u1", "Parameter 'iommufd' is missing" },
        { "iommufd-sim-unit,id=u1,iommufd=fd0,colour=red",
          "Property 'iommufd-sim-unit.colour' not found" },
        { "iommufd-sim-device,id=x1,iommufd=fd0,host=0000:05:00.0,unit=u9",
          "'unit' must name a unit" },
        { "iommufd,id=fd1,sim=on,fd=0", "cannot be combined" },
        { "iommufd,id=fd2,fd=999", "not an open file descriptor" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;

        assert_false(create(f->m, true, cases[i].opts, &err));
        if (!strstr(err->message, cases[i].msg)) {
            fail_msg("%s: got '%s', want '%s'", cases[i].opts, err->message,
                     cases[i].msg);
        }
    }
    /* Several RMRRs in one option, joined with ':'. */
    must_create(f->m, true, "iommufd-sim-device,id=x2,iommufd=fd0,"
                "host=0000:05:00.0,unit=u0,rmrr=0xe0000-0xfffff:0x100000-0x1fffff");
    assert_non_null(iommufd_sim_cdev_path(f->sim, "0000:05:00.0"));
}

/* ---- QMP device_add / device_del ---- */

static bool qmp_call(JsonNode *(*fn)(Machine *, JsonNode *, void *, GError **),
                     Machine *m, const char *json, GError **errp)
{
    JsonNode *args = json_from_string(json, NULL);
    JsonNode *ret;

    assert_non_null(args);
    ret = fn(m, args, NULL, errp);
    json_node_unref(args);
    if (ret) {
        json_node_unref(ret);
    }
    return errp == NULL || *errp == NULL;
}

static void test_qmp_hotplug(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) err = NULL;

    assert_true(qmp_call(qmp_cmd_device_add, f->m,
                         "{\"driver\": \"vfio-pci\", \"id\": \"hp\", "
                         "\"host\": \"" HOST "\", \"iommufd\": \"fd0\", "
                         "\"addr\": \"6\"}", &err));
    assert_non_null(pci_find_device_by_id(f->m, "hp"));
    assert_true(iommufd_sim_attached_hwpt(f->sim, HOST, 0) != 0);
    /* The host device is taken: a second bind of the same cdev fails. */
    assert_false(qmp_call(qmp_cmd_device_add, f->m,
                          "{\"driver\": \"vfio-pci\", \"id\": \"hp2\", "
                          "\"host\": \"" HOST "\", \"iommufd\": \"fd0\"}",
                          &err));
    g_clear_error(&err);

    assert_true(qmp_call(qmp_cmd_device_del, f->m, "{\"id\": \"hp\"}", &err));
    assert_null(pci_find_device_by_id(f->m, "hp"));
    assert_int_equal(iommufd_sim_object_count(f->sim, f->be->fd), f->base_objects);

    assert_false(qmp_call(qmp_cmd_device_del, f->m, "{\"id\": \"hp\"}", &err));
    assert_string_equal(err->message, "Device 'hp' not found");
    g_clear_error(&err);
    assert_false(qmp_call(qmp_cmd_device_add, f->m, "{\"id\": \"x\"}", &err));
    assert_non_null(strstr(err->message, "Parameter 'driver' is missing"));
    g_clear_error(&err);
    assert_false(qmp_call(qmp_cmd_device_add, f->m,
                          "{\"driver\": \"vfio-pci\", \"host\": [1]}", &err));
    assert_non_null(strstr(err->message, "Parameter 'host' expects"));
}

/* ---- real host: cdev lookup in a fake sysfs ---- */

static char *fake_tree(void)
{
    char *root = g_dir_make_tmp("vfio-pci-XXXXXX", NULL);

    assert_non_null(root);
    return root;
}

static void mk(const char *root, const char *rel)
{
    g_autofree char *p = g_build_filename(root, rel, NULL);

    assert_int_equal(g_mkdir_with_parents(p, 0755), 0);
}

static void ln(const char *root, const char *target, const char *rel)
{
    g_autofree char *p = g_build_filename(root, rel, NULL);

    assert_int_equal(symlink(target, p), 0);
}

static void expect_cdev_error(const char *root, const char *bdf, const char *msg)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dev = g_build_filename(root, "dev", NULL);
    g_autofree char *path = vfio_pci_find_cdev(root, dev, bdf, &err);

    assert_null(path);
    if (!strstr(err->message, msg)) {
        fail_msg("got '%s', want '%s'", err->message, msg);
    }
}

static void test_find_cdev_sysfs(void **state)
{
    g_autofree char *root = fake_tree();
    g_autofree char *dev = g_build_filename(root, "dev", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree char *cmd = NULL;

    expect_cdev_error(root, "0000:03:00.0", "host device 0000:03:00.0 not found");
    mk(root, "bus/pci/devices/0000:03:00.0");
    expect_cdev_error(root, "03:00.0", "is not bound to vfio-pci (driver: none)");
    mk(root, "bus/pci/drivers/nvme");
    ln(root, "../../drivers/nvme", "bus/pci/devices/0000:03:00.0/driver");
    expect_cdev_error(root, "03:00.0", "is not bound to vfio-pci (driver: nvme)");
    g_autofree char *drv = g_build_filename(root, "bus/pci/devices/0000:03:00.0/driver", NULL);
    assert_int_equal(unlink(drv), 0);
    mk(root, "bus/pci/drivers/vfio-pci");
    ln(root, "../../drivers/vfio-pci", "bus/pci/devices/0000:03:00.0/driver");
    expect_cdev_error(root, "03:00.0", "CONFIG_VFIO_DEVICE_CDEV");
    mk(root, "bus/pci/devices/0000:03:00.0/vfio-dev/vfio7");
    expect_cdev_error(root, "03:00.0", "does not exist");
    mk(root, "dev/vfio/devices/vfio7");
    path = vfio_pci_find_cdev(root, dev, "03:00.0", &err);
    assert_non_null(path);
    assert_true(g_str_has_suffix(path, "/dev/vfio/devices/vfio7"));

    cmd = g_strdup_printf("rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_realize_binds_and_attaches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_lands_at_gpa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_dma_and_bus_master, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unplug_releases_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_nth_each_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_object_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qmp_hotplug, setup, teardown),
        cmocka_unit_test(test_find_cdev_sysfs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
