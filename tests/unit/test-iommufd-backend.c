/*
 * The iommufd backend API on the simulator, its error messages, the real
 * transport's open errors, and the encoding check: the same backend calls
 * produce byte-identical requests on the real ioctl(2) path (driven against
 * /dev/null, which answers ENOTTY) and on the simulator.
 */
#include <fcntl.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "iommufd-sim-fixture.h"

#define PAGE 0x1000ull

typedef struct Ids {
    uint32_t dev, ioas, parent, nested, hwpt_out, done, fault_id;
    int fault_fd;
    IommufdHwInfo info;
} Ids;

static uint8_t guest_ram[16 * 4096] __attribute__((aligned(4096)));
static const struct iommu_hwpt_vtd_s1 s1_data = { .pgtbl_addr = 0x1000, .addr_width = 48 };
static const struct iommu_hwpt_vtd_s1_invalidate inv_entries[2] = {
    { .addr = 0x40000000, .npages = 4 },
    { .addr = 0, .npages = UINT64_MAX, .flags = IOMMU_VTD_INV_FLAGS_LEAF },
};

/* The VMM-side sequence of §5; outputs land in ids only when a call succeeds. */
static void run_sequence(IommufdBackend *be, int cdev, Ids *ids)
{
    uint64_t unmapped;

    vfio_cdev_bind(be, cdev, &ids->dev, NULL);
    iommufd_backend_alloc_ioas(be, &ids->ioas, NULL);
    iommufd_backend_get_hw_info(be, ids->dev, &ids->info, NULL);
    iommufd_backend_map(be, ids->ioas, 0, sizeof(guest_ram), guest_ram, false, NULL);
    iommufd_backend_alloc_hwpt(be, ids->dev, ids->ioas,
                               IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID,
                               IOMMU_HWPT_DATA_NONE, NULL, 0, 0, &ids->parent, NULL);
    iommufd_backend_alloc_hwpt(be, ids->dev, ids->parent, IOMMU_HWPT_ALLOC_PASID,
                               IOMMU_HWPT_DATA_VTD_S1, &s1_data, sizeof(s1_data), 0,
                               &ids->nested, NULL);
    vfio_cdev_attach(be, cdev, IOMMUFD_NO_PASID, ids->parent, &ids->hwpt_out, NULL);
    vfio_cdev_attach(be, cdev, 9, ids->nested, &ids->hwpt_out, NULL);
    iommufd_backend_invalidate(be, ids->nested, inv_entries, 2, &ids->done, NULL);
    vfio_cdev_detach(be, cdev, 9, NULL);
    vfio_cdev_detach(be, cdev, IOMMUFD_NO_PASID, NULL);
    iommufd_backend_destroy(be, ids->nested, NULL);
    iommufd_backend_destroy(be, ids->parent, NULL);
    iommufd_backend_unmap(be, ids->ioas, 0, UINT64_MAX, &unmapped, NULL);
    iommufd_backend_destroy(be, ids->ioas, NULL);
}

static void test_encoding_identical(void **state)
{
    IommufdSim *sim = iommufd_sim_new();
    IommufdTransport *real = iommufd_real_transport_new("/dev/null");
    IommufdTransport *rec_sim = iommufd_recorder_new(iommufd_sim_transport(sim));
    IommufdTransport *rec_real = iommufd_recorder_new(real);
    GError *err = NULL;
    Ids ids = { 0 };
    IommufdBackend *be_sim, *be_real;
    int sim_cdev, null_fd, real_cdev;

    assert_true(iommufd_sim_add_unit(sim, "id=u0", &err));
    assert_true(iommufd_sim_add_device(sim, "host=0000:03:00.0,unit=u0", &err));
    be_sim = iommufd_backend_open(rec_sim, &err);
    assert_non_null(be_sim);
    sim_cdev = vfio_cdev_open(be_sim, iommufd_sim_cdev_path(sim, "0000:03:00.0"), &err);
    assert_true(sim_cdev >= 0);

    /* Same fd number on the real path, so BIND's iommufd field matches too. */
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(null_fd >= 0);
    if (fcntl(be_sim->fd, F_GETFD) < 0) {
        assert_int_equal(dup2(null_fd, be_sim->fd), be_sim->fd);
        close(null_fd);
        null_fd = be_sim->fd;
    }
    be_real = iommufd_backend_new_from_fd(rec_real, null_fd);
    real_cdev = real->open_cdev(real, "/dev/null", &err);
    assert_true(real_cdev >= 0);

    run_sequence(be_sim, sim_cdev, &ids);
    assert_int_equal(ids.done, 2);                 /* the sim path really worked */
    assert_int_equal(ids.info.type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
    Ids before = ids;
    run_sequence(be_real, real_cdev, &ids);
    assert_memory_equal(&before, &ids, sizeof(ids));   /* every real call failed */

    const GArray *ls = iommufd_recorder_log(rec_sim);
    const GArray *lr = iommufd_recorder_log(rec_real);
    assert_int_equal(ls->len, 15);
    assert_int_equal(lr->len, ls->len);
    for (unsigned i = 0; i < ls->len; i++) {
        const IommufdRecord *a = &g_array_index(ls, IommufdRecord, i);
        const IommufdRecord *b = &g_array_index(lr, IommufdRecord, i);

        assert_int_equal(a->request, b->request);
        assert_true(g_bytes_equal(a->arg, b->arg));
        assert_int_equal(a->result, 0);
        assert_int_equal(b->result, -ENOTTY);      /* /dev/null: real ioctl(2) ran */
    }
    /* Spot-check the encoding itself. */
    const IommufdRecord *bind = &g_array_index(ls, IommufdRecord, 0);
    assert_int_equal(bind->request, 0x3B76);
    assert_int_equal(g_bytes_get_size(bind->arg), 16);
    const IommufdRecord *nested = &g_array_index(ls, IommufdRecord, 5);
    assert_int_equal(nested->request, 0x3B89);
    assert_int_equal(g_bytes_get_size(nested->arg), 48);
    const IommufdRecord *pasid_attach = &g_array_index(ls, IommufdRecord, 7);
    assert_int_equal(g_bytes_get_size(pasid_attach->arg), 16);
    const IommufdRecord *rid_attach = &g_array_index(ls, IommufdRecord, 6);
    assert_int_equal(g_bytes_get_size(rid_attach->arg), 12);

    iommufd_backend_close(be_real);
    real->close(real, real_cdev);
    vfio_cdev_close(be_sim, sim_cdev);
    iommufd_backend_close(be_sim);
    iommufd_transport_free(rec_sim);
    iommufd_transport_free(rec_real);
    iommufd_transport_free(real);
    iommufd_sim_free(sim);
}

static void test_dev_iommu_missing(void **state)
{
    IommufdTransport *real = iommufd_real_transport_new(NULL);
    GError *err = NULL;

    if (g_file_test("/dev/iommu", G_FILE_TEST_EXISTS)) {
        iommufd_transport_free(real);
        skip();
    }
    assert_null(iommufd_backend_open(real, &err));
    assert_non_null(err);
    assert_int_equal(err->code, ENOENT);
    assert_non_null(strstr(err->message, "/dev/iommu"));
    assert_non_null(strstr(err->message, "CONFIG_IOMMUFD"));
    assert_non_null(strstr(err->message, "not loaded"));
    g_clear_error(&err);
    assert_int_equal(real->open_cdev(real, "/dev/vfio/devices/vfio0", &err), -1);
    assert_non_null(strstr(err->message, "vfio-pci"));
    g_clear_error(&err);
    iommufd_transport_free(real);
}

static void test_real_errors_name_the_operation(void **state)
{
    IommufdTransport *real = iommufd_real_transport_new("/dev/null");
    GError *err = NULL;
    IommufdBackend *be = iommufd_backend_open(real, &err);
    uint32_t id;

    assert_non_null(be);
    assert_false(iommufd_backend_alloc_ioas(be, &id, &err));
    assert_true(g_error_matches(err, IOMMUFD_ERROR, ENOTTY));
    assert_non_null(strstr(err->message, "IOMMU_IOAS_ALLOC"));
    assert_non_null(strstr(err->message, "ENOTTY"));
    g_clear_error(&err);
    iommufd_backend_close(be);
    iommufd_transport_free(real);
}

static void test_backend_on_sim(void **state)
{
    IommufdSim *sim = iommufd_sim_new();
    IommufdTransport *t = iommufd_sim_transport(sim);
    GError *err = NULL;
    IommufdBackend *be;
    IommufdHwInfo info;
    uint32_t dev, ioas, parent, nested, out, done, fault_id;
    int cdev, fault_fd;
    uint64_t align, unmapped;
    GArray *ranges;
    static uint8_t ram[1 << 20] __attribute__((aligned(4096)));

    assert_true(iommufd_sim_add_unit(sim, "id=u0,pasid-bits=20", &err));
    assert_true(iommufd_sim_add_device(sim, "host=0000:03:00.0,unit=u0,pri=on", &err));
    be = iommufd_backend_open(t, &err);
    cdev = vfio_cdev_open(be, iommufd_sim_cdev_path(sim, "0000:03:00.0"), &err);
    assert_true(vfio_cdev_bind(be, cdev, &dev, &err));
    assert_true(iommufd_backend_get_hw_info(be, dev, &info, &err));
    assert_int_equal(info.type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
    assert_int_equal(info.data_len, 24);
    assert_int_equal(info.max_pasid_log2, 20);
    assert_true(info.vtd.flags & IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17);

    assert_true(iommufd_backend_alloc_ioas(be, &ioas, &err));
    {
        uint64_t v = 7;

        /* Huge pages are a per-IOAS option, on by default; set and read back. */
        assert_true(iommufd_backend_get_option(be, IOMMU_OPTION_HUGE_PAGES,
                                               ioas, &v, &err));
        assert_int_equal(v, 1);
        assert_true(iommufd_backend_set_option(be, IOMMU_OPTION_HUGE_PAGES,
                                               ioas, 0, &err));
        assert_true(iommufd_backend_get_option(be, IOMMU_OPTION_HUGE_PAGES,
                                               ioas, &v, &err));
        assert_int_equal(v, 0);
        assert_true(iommufd_backend_set_option(be, IOMMU_OPTION_HUGE_PAGES,
                                               ioas, 1, &err));
        /* An unknown option is EOPNOTSUPP, named in the message. */
        assert_false(iommufd_backend_set_option(be, 99, 0, 1, &err));
        assert_true(g_error_matches(err, IOMMUFD_ERROR, EOPNOTSUPP));
        assert_non_null(strstr(err->message, "IOMMU_OPTION"));
        g_clear_error(&err);
    }
    assert_true(iommufd_backend_map(be, ioas, 0, sizeof(ram), ram, false, &err));
    assert_false(iommufd_backend_map(be, ioas, 0, PAGE, ram, false, &err));
    assert_true(g_error_matches(err, IOMMUFD_ERROR, EEXIST));
    assert_non_null(strstr(err->message, "IOMMU_IOAS_MAP ioas"));
    assert_non_null(strstr(err->message, "EEXIST"));
    g_clear_error(&err);

    assert_true(iommufd_backend_alloc_hwpt(be, dev, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
                                           IOMMU_HWPT_DATA_NONE, NULL, 0, 0, &parent, &err));
    /* The errata rule, as a VMM would hit it. */
    assert_false(iommufd_backend_map(be, ioas, 0x200000, PAGE, ram, true, &err));
    assert_true(g_error_matches(err, IOMMUFD_ERROR, EINVAL));
    assert_non_null(strstr(err->message, "read-only"));
    g_clear_error(&err);

    assert_true(iommufd_backend_alloc_fault_queue(be, &fault_id, &fault_fd, &err));
    assert_true(iommufd_backend_alloc_hwpt(be, dev, parent, IOMMU_HWPT_FAULT_ID_VALID,
                                           IOMMU_HWPT_DATA_VTD_S1, &s1_data, sizeof(s1_data),
                                           fault_id, &nested, &err));
    assert_true(vfio_cdev_attach(be, cdev, IOMMUFD_NO_PASID, nested, &out, &err));
    assert_int_equal(out, nested);

    /* A faulting DMA reaches the VMM through the backend. */
    uint8_t b;
    assert_false(iommufd_sim_dma(sim, "0000:03:00.0", 0, 0x5000, &b, 1, false, NULL));
    struct iommu_hwpt_pgfault recs[4];
    unsigned n;
    assert_true(iommufd_backend_read_faults(be, fault_fd, recs, 4, &n, &err));
    assert_int_equal(n, 1);
    assert_int_equal(recs[0].addr, 0x5000);
    assert_true(iommufd_backend_page_response(be, fault_fd, recs[0].cookie,
                                              IOMMUFD_PAGE_RESP_INVALID, &err));
    assert_false(iommufd_backend_page_response(be, fault_fd, recs[0].cookie, 0, &err));
    g_clear_error(&err);

    struct iommu_hwpt_vtd_s1_invalidate bad[2] = { inv_entries[0], { .addr = 0x123 } };
    assert_false(iommufd_backend_invalidate(be, nested, bad, 2, &done, &err));
    assert_int_equal(done, 1);
    assert_non_null(strstr(err->message, "after 1 of 2"));
    assert_non_null(strstr(err->message, "IOMMU_HWPT_INVALIDATE"));
    g_clear_error(&err);

    /* Ranges: the backend sizes its array with the EMSGSIZE protocol. */
    ranges = iommufd_backend_get_iova_ranges(be, ioas, &align, &err);
    assert_non_null(ranges);
    assert_int_equal(ranges->len, 2);   /* below and above the MSI window */
    assert_int_equal(align, PAGE);
    g_array_free(ranges, true);
    struct iommu_iova_range allow = { 0xfed00000, 0xfeffffff };
    assert_false(iommufd_backend_allow_iovas(be, ioas, &allow, 1, &err));
    assert_true(g_error_matches(err, IOMMUFD_ERROR, EADDRINUSE));
    g_clear_error(&err);

    assert_false(iommufd_backend_destroy(be, parent, &err));
    assert_true(g_error_matches(err, IOMMUFD_ERROR, EBUSY));
    assert_non_null(strstr(err->message, "IOMMU_DESTROY object"));
    g_clear_error(&err);
    assert_true(vfio_cdev_detach(be, cdev, IOMMUFD_NO_PASID, &err));
    assert_true(iommufd_backend_destroy(be, nested, &err));
    assert_true(iommufd_backend_destroy(be, parent, &err));
    assert_true(iommufd_backend_unmap(be, ioas, 0, UINT64_MAX, &unmapped, &err));
    assert_int_equal(unmapped, sizeof(ram));
    assert_true(iommufd_backend_destroy(be, ioas, &err));
    assert_null(err);
    vfio_cdev_close(be, cdev);
    iommufd_backend_close(be);
    iommufd_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_identical),
        cmocka_unit_test(test_dev_iommu_missing),
        cmocka_unit_test(test_real_errors_name_the_operation),
        cmocka_unit_test(test_backend_on_sim),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
