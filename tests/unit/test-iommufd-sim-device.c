/*
 * Simulated VFIO cdev: bind rules, attach/replace/detach with the PASID and
 * group rules (fact sheet §3.1, §3.2), cache-coherency enforcement, fault
 * queues and fail-nth injection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "iommufd-sim-fixture.h"

#define PAGE 0x1000ull

static int setup(void **state)
{
    *state = fx_new(NULL);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

static void test_bind_rules(void **state)
{
    IommufdSim *sim = iommufd_sim_new();
    GError *err = NULL;
    SimFixture f = { .sim = sim, .t = iommufd_sim_transport(sim) };
    struct vfio_device_bind_iommufd b = { .argsz = 15 };
    uint32_t dev;

    assert_true(iommufd_sim_add_unit(sim, "id=u0", &err));
    assert_true(iommufd_sim_add_device(sim, "host=0000:03:00.0,unit=u0,group=7", &err));
    assert_true(iommufd_sim_add_device(sim, "host=03:00.1,unit=u0,group=7", &err));
    assert_string_equal(iommufd_sim_cdev_path(sim, "0000:03:00.1"), "/dev/vfio/devices/vfio1");
    f.fd = f.t->open_iommufd(f.t, &err);
    int c0 = f.t->open_cdev(f.t, "/dev/vfio/devices/vfio0", &err);
    int c1 = f.t->open_cdev(f.t, "/dev/vfio/devices/vfio1", &err);
    assert_null(err);
    assert_int_equal(f.t->open_cdev(f.t, "/dev/vfio/devices/vfio0", &err), -1);
    assert_int_equal(err->code, EBUSY);
    g_clear_error(&err);
    assert_int_equal(f.t->open_cdev(f.t, "/dev/vfio/devices/vfio9", &err), -1);
    assert_int_equal(err->code, ENOENT);
    g_clear_error(&err);

    /* Nothing but BIND works before BIND. */
    assert_int_equal(fx_attach(&f, c0, 0, 1, NULL), -EINVAL);
    b.iommufd = f.fd;
    assert_int_equal(fx_cdev_ioctl(&f, c0, VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
    b.argsz = 16;
    b.flags = 2;
    assert_int_equal(fx_cdev_ioctl(&f, c0, VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
    b.flags = 0;
    b.iommufd = -1;
    assert_int_equal(fx_cdev_ioctl(&f, c0, VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
    b.iommufd = c1;   /* not an iommufd */
    assert_int_equal(fx_cdev_ioctl(&f, c0, VFIO_DEVICE_BIND_IOMMUFD, &b), -EBADF);
    assert_int_equal(fx_bind(&f, c0, &dev), 0);
    assert_int_not_equal(dev, 0);
    assert_int_equal(fx_bind(&f, c0, &dev), -EINVAL);   /* twice */

    /* The group is owned by the first context. */
    int fd2 = f.t->open_iommufd(f.t, &err);
    SimFixture f2 = { .sim = sim, .t = f.t, .fd = fd2 };
    assert_int_equal(fx_bind(&f2, c1, &dev), -EBUSY);
    assert_int_equal(fx_bind(&f, c1, &dev), 0);

    /* Closing the cdev unbinds: the device object goes away. */
    int before = iommufd_sim_object_count(sim, f.fd);
    assert_int_equal(f.t->close(f.t, c1), 0);
    assert_int_equal(iommufd_sim_object_count(sim, f.fd), before - 1);
    assert_int_equal(fx_ioctl(&f, IOMMU_DESTROY, &(struct iommu_destroy){ 8, dev }), -ENOENT);
    iommufd_sim_free(sim);
}

static void test_auto_domain_lifetime(void **state)
{
    SimFixture *f = *state;
    uint32_t a, b;
    int base = iommufd_sim_object_count(f->sim, f->fd);

    assert_int_equal(fx_attach(f, f->cdev_a, 0, f->ioas, &a), 0);
    assert_int_not_equal(a, f->ioas);
    assert_int_equal(iommufd_sim_object_count(f->sim, f->fd), base + 1);
    /* Device B reuses the compatible auto domain. */
    assert_int_equal(fx_attach(f, f->cdev_b, 0, f->ioas, &b), 0);
    assert_int_equal(a, b);
    assert_int_equal(fx_destroy(f, f->ioas), -EBUSY);
    assert_int_equal(fx_detach(f, f->cdev_a, 0), 0);
    assert_int_equal(fx_detach(f, f->cdev_a, 0), 0);   /* nothing attached: fine */
    assert_int_equal(fx_detach(f, f->cdev_b, 0), 0);
    assert_int_equal(iommufd_sim_object_count(f->sim, f->fd), base);
    assert_int_equal(fx_destroy(f, f->ioas), 0);
}

static void test_attach_argument_errors(void **state)
{
    SimFixture *f = *state;
    struct vfio_device_attach_iommufd_pt a = { .argsz = 11, .pt_id = f->ioas };
    struct vfio_device_detach_iommufd_pt d = { .argsz = 7 };

    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), -EINVAL);
    a.argsz = 12;
    a.flags = 2;
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), -EINVAL);
    a.flags = VFIO_DEVICE_ATTACH_PASID;   /* needs argsz 16 */
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), -EINVAL);
    a.flags = 0;
    a.pt_id = 99;
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), -ENOENT);
    a.pt_id = f->dev_b;
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), -EINVAL);
    a.pt_id = f->ioas;
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), 0);
    assert_int_not_equal(a.pt_id, f->ioas);   /* written back: the auto HWPT */
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), -EINVAL);
    d.argsz = 8;
    d.flags = VFIO_DEVICE_DETACH_PASID;      /* needs argsz 12 */
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), -EINVAL);
    d.flags = 4;
    d.argsz = 12;
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d), -EINVAL);
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, 0x3B79, &d), -ENOTTY);
}

static void test_pasid_rules(void **state)
{
    SimFixture *f = *state;
    uint32_t plain, pasid_hwpt, pasid_hwpt2, out;

    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, 0, NULL, &plain), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_PASID, NULL,
                                   &pasid_hwpt), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_PASID, NULL,
                                   &pasid_hwpt2), 0);
    /* Only PASID-capable HWPTs go on a PASID; pasid 0 and too-wide are refused. */
    assert_int_equal(fx_attach(f, f->cdev_a, 5, plain, &out), -EINVAL);
    assert_int_equal(fx_attach(f, f->cdev_a, 1u << 20, pasid_hwpt, &out), -EINVAL);
    struct vfio_device_attach_iommufd_pt a0 = {
        .argsz = 16, .flags = VFIO_DEVICE_ATTACH_PASID, .pt_id = pasid_hwpt, .pasid = 0,
    };
    assert_int_equal(fx_cdev_ioctl(f, f->cdev_a, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a0), -EINVAL);
    assert_int_equal(fx_attach(f, f->cdev_a, 5, pasid_hwpt, &out), 0);
    assert_int_equal(iommufd_sim_attached_hwpt(f->sim, DEV_A, 5), pasid_hwpt);
    /* With a PASID attached, the RID needs a PASID-capable HWPT too. */
    assert_int_equal(fx_attach(f, f->cdev_a, 0, plain, &out), -EINVAL);
    assert_int_equal(fx_attach(f, f->cdev_a, 0, pasid_hwpt2, &out), 0);
    /* Re-attaching the same PASID replaces; failures keep the old one. */
    assert_int_equal(fx_attach(f, f->cdev_a, 5, pasid_hwpt2, &out), 0);
    assert_int_equal(iommufd_sim_attached_hwpt(f->sim, DEV_A, 5), pasid_hwpt2);
    assert_int_equal(fx_attach(f, f->cdev_a, 5, plain, &out), -EINVAL);
    assert_int_equal(iommufd_sim_attached_hwpt(f->sim, DEV_A, 5), pasid_hwpt2);
    assert_int_equal(fx_destroy(f, pasid_hwpt), 0);
    assert_int_equal(fx_detach(f, f->cdev_a, 5), 0);
    assert_int_equal(iommufd_sim_attached_hwpt(f->sim, DEV_A, 5), 0);
    /* RID plain is fine again once no PASID is attached. */
    assert_int_equal(fx_attach(f, f->cdev_a, 0, plain, &out), 0);
    /* PASID attach while the RID HWPT lacks the flag. */
    assert_int_equal(fx_attach(f, f->cdev_a, 6, pasid_hwpt2, &out), -EINVAL);
}

static void test_pasid_on_incapable_device(void **state)
{
    SimFixture *f = fx_new("pasid=off");
    uint32_t h;

    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_PASID, NULL, &h), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 1, h, NULL), -EINVAL);
    fx_free(f);
}

static void test_nested_pasid_and_dirty_parent(void **state)
{
    SimFixture *f = *state;
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x1000, .addr_width = 48 };
    uint32_t parent, dparent, nested, dnested;

    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT |
                                   IOMMU_HWPT_ALLOC_PASID, NULL, &parent), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT |
                                   IOMMU_HWPT_ALLOC_DIRTY_TRACKING, NULL, &dparent), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, parent, IOMMU_HWPT_ALLOC_PASID, &s1, &nested), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, dparent, IOMMU_HWPT_ALLOC_PASID, &s1,
                                   &dnested), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 3, nested, NULL), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 4, dnested, NULL), -EINVAL);   /* dirty parent */
    assert_int_equal(fx_attach(f, f->cdev_a, 0, dnested, NULL), 0);         /* RID is fine */
}

static void test_group_shares_translation(void **state)
{
    IommufdSim *sim = iommufd_sim_new();
    GError *err = NULL;
    SimFixture f = { .sim = sim, .t = iommufd_sim_transport(sim) };
    uint32_t d0, d1, h1, h2;

    assert_true(iommufd_sim_add_unit(sim, "id=u0", &err));
    assert_true(iommufd_sim_add_device(sim, "host=0000:03:00.0,unit=u0,group=7", &err));
    assert_true(iommufd_sim_add_device(sim, "host=0000:03:00.1,unit=u0,group=7", &err));
    f.fd = f.t->open_iommufd(f.t, &err);
    int c0 = f.t->open_cdev(f.t, "/dev/vfio/devices/vfio0", &err);
    int c1 = f.t->open_cdev(f.t, "/dev/vfio/devices/vfio1", &err);
    assert_int_equal(fx_bind(&f, c0, &d0), 0);
    assert_int_equal(fx_bind(&f, c1, &d1), 0);
    assert_int_equal(fx_alloc_ioas(&f, &f.ioas), 0);
    assert_int_equal(fx_hwpt_alloc(&f, d0, f.ioas, 0, NULL, &h1), 0);
    assert_int_equal(fx_hwpt_alloc(&f, d0, f.ioas, 0, NULL, &h2), 0);
    assert_int_equal(fx_attach(&f, c0, 0, h1, NULL), 0);
    assert_int_equal(fx_attach(&f, c1, 0, h2, NULL), -EINVAL);
    assert_int_equal(fx_attach(&f, c1, 0, h1, NULL), 0);
    iommufd_sim_free(sim);
}

static void test_cache_coherency(void **state)
{
    IommufdSim *sim = iommufd_sim_new();
    GError *err = NULL;
    SimFixture f = { .sim = sim, .t = iommufd_sim_transport(sim) };
    uint32_t dc, dn, forced, unforced;
    static uint8_t page[4096] __attribute__((aligned(4096)));

    assert_true(iommufd_sim_add_unit(sim, "id=u0", &err));
    assert_true(iommufd_sim_add_device(sim, "host=0000:03:00.0,unit=u0", &err));
    assert_true(iommufd_sim_add_device(sim, "host=0000:04:00.0,unit=u0,coherent=off", &err));
    f.fd = f.t->open_iommufd(f.t, &err);
    int cc = f.t->open_cdev(f.t, "/dev/vfio/devices/vfio0", &err);
    int cn = f.t->open_cdev(f.t, "/dev/vfio/devices/vfio1", &err);
    assert_int_equal(fx_bind(&f, cc, &dc), 0);
    assert_int_equal(fx_bind(&f, cn, &dn), 0);
    assert_int_equal(fx_alloc_ioas(&f, &f.ioas), 0);
    /* A force-snoop HWPT (allocated for the coherent device) refuses the other. */
    assert_int_equal(fx_hwpt_alloc(&f, dc, f.ioas, 0, NULL, &forced), 0);
    assert_int_equal(fx_attach(&f, cn, 0, forced, NULL), -EINVAL);
    /* A non-forced HWPT can be switched for a coherent device only while empty. */
    assert_int_equal(fx_hwpt_alloc(&f, dn, f.ioas, 0, NULL, &unforced), 0);
    assert_int_equal(fx_map(&f, f.ioas, 0x100000, PAGE, page, 0), 0);
    assert_int_equal(fx_attach(&f, cc, 0, unforced, NULL), -EINVAL);
    assert_int_equal(fx_unmap(&f, f.ioas, 0, UINT64_MAX, NULL), 0);
    assert_int_equal(fx_attach(&f, cc, 0, unforced, NULL), 0);
    iommufd_sim_free(sim);
}

static void test_fault_queue(void **state)
{
    SimFixture *f = *state;
    uint8_t *ram = g_aligned_alloc0(1, 1 << 20, PAGE);
    struct iommu_fault_alloc fa = { .size = sizeof(fa) };
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x1000, .addr_width = 48 };
    struct iommu_hwpt_pgfault rec[2];
    uint32_t parent, nested;
    IommufdSimFault fault;
    uint8_t b;

    assert_int_equal(fx_ioctl(f, IOMMU_FAULT_QUEUE_ALLOC, &fa), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT |
                                   IOMMU_HWPT_ALLOC_PASID, NULL, &parent), 0);
    assert_int_equal(fx_map(f, f->ioas, 0, 1 << 20, ram, 0), 0);
    struct iommu_hwpt_alloc a = {
        .size = sizeof(a), .flags = IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID,
        .dev_id = f->dev_a, .pt_id = parent, .data_type = IOMMU_HWPT_DATA_VTD_S1,
        .data_len = sizeof(s1), .data_uptr = (uintptr_t)&s1, .fault_id = fa.out_fault_id,
    };
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), 0);
    nested = a.out_hwpt_id;
    assert_int_equal(fx_destroy(f, fa.out_fault_id), -EBUSY);
    /* Device B has no PRI: IOPF delivery cannot be enabled. */
    assert_int_equal(fx_attach(f, f->cdev_b, 0, nested, NULL), -ENODEV);
    assert_int_equal(fx_attach(f, f->cdev_a, 0, parent, NULL), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 7, nested, NULL), 0);

    /* Empty first-stage table: the DMA faults and a record is queued. */
    assert_false(iommufd_sim_dma(f->sim, DEV_A, 7, 0x12345678, &b, 1, true, &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_NOT_PRESENT);
    assert_true(fault.queued);
    int ffd = (int)fa.out_fault_fd;
    assert_int_equal(f->t->read(f->t, ffd, rec, 39), -EINVAL);
    assert_int_equal(f->t->read(f->t, ffd, rec, sizeof(rec)), sizeof(rec[0]));
    assert_int_equal(rec[0].dev_id, f->dev_a);
    assert_int_equal(rec[0].pasid, 7);
    assert_int_equal(rec[0].addr, 0x12345000);
    assert_int_equal(rec[0].flags, IOMMU_PGFAULT_FLAGS_PASID_VALID | IOMMU_PGFAULT_FLAGS_LAST_PAGE);
    assert_int_equal(rec[0].perm, IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE);
    assert_int_equal(f->t->read(f->t, ffd, rec, sizeof(rec)), 0);   /* drained */

    struct iommu_hwpt_page_response resp = { .cookie = rec[0].cookie,
                                             .code = IOMMUFD_PAGE_RESP_SUCCESS };
    assert_int_equal(f->t->write(f->t, ffd, &resp, 7), -EINVAL);
    assert_int_equal(f->t->write(f->t, ffd, &resp, sizeof(resp)), sizeof(resp));
    assert_int_equal(f->t->write(f->t, ffd, &resp, sizeof(resp)), -EINVAL);   /* answered */

    /* Once no HWPT references it, the queue can be destroyed. */
    assert_int_equal(fx_detach(f, f->cdev_a, 7), 0);
    assert_int_equal(fx_destroy(f, nested), 0);
    assert_int_equal(fx_destroy(f, fa.out_fault_id), 0);
    g_aligned_free(ram);   /* the simulator never touches host memory unprompted */
}

static void test_fail_nth(void **state)
{
    SimFixture *f = *state;
    GError *err = NULL;
    uint32_t id;
    int objs = iommufd_sim_object_count(f->sim, f->fd);

    iommufd_sim_fail_nth(f->sim, 2, ENOMEM);
    assert_int_equal(fx_alloc_ioas(f, &id), 0);
    objs++;
    assert_int_equal(fx_alloc_ioas(f, &id), -ENOMEM);
    assert_int_equal(iommufd_sim_object_count(f->sim, f->fd), objs);   /* no side effect */
    assert_int_equal(fx_alloc_ioas(f, &id), 0);

    iommufd_sim_fail_nth(f->sim, 1, EMFILE);
    assert_int_equal(f->t->open_iommufd(f->t, &err), -1);
    assert_int_equal(err->code, EMFILE);
    assert_non_null(strstr(err->message, "/dev/iommu"));
    g_clear_error(&err);

    /* Fail every step of a sequence in turn; each run must still leave a clean state. */
    for (unsigned n = 1; n <= 3; n++) {
        uint32_t ioas, hwpt = 0;
        int rc;

        iommufd_sim_fail_nth(f->sim, n, EIO);
        rc = fx_alloc_ioas(f, &ioas);
        if (rc == 0) {
            rc = fx_hwpt_alloc(f, f->dev_a, ioas, 0, NULL, &hwpt);
            if (rc == 0) {
                rc = fx_destroy(f, hwpt);
            }
        }
        assert_int_equal(rc, -EIO);
        iommufd_sim_fail_nth(f->sim, 0, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_rules),
        cmocka_unit_test_setup_teardown(test_auto_domain_lifetime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_argument_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pasid_rules, setup, teardown),
        cmocka_unit_test(test_pasid_on_incapable_device),
        cmocka_unit_test_setup_teardown(test_nested_pasid_and_dirty_parent, setup, teardown),
        cmocka_unit_test(test_group_shares_translation),
        cmocka_unit_test(test_cache_coherency),
        cmocka_unit_test_setup_teardown(test_fault_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_nth, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
