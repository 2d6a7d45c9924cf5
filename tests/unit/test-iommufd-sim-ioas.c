/*
 * Simulated IOAS map/unmap/ranges (fact sheet §3.7, modelled on the kernel's
 * iommufd selftests). Host pointers here are never dereferenced: no DMA.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "iommufd-sim-fixture.h"

#define PAGE 0x1000ull
#define FAKE_VA ((void *)(uintptr_t)0x7f0000000000ull)

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

static int get_ranges(SimFixture *f, struct iommu_iova_range *r, uint32_t *n)
{
    struct iommu_ioas_iova_ranges q = {
        .size = sizeof(q), .ioas_id = f->ioas, .num_iovas = *n,
        .allowed_iovas = (uintptr_t)r,
    };
    int rc = fx_ioctl(f, IOMMU_IOAS_IOVA_RANGES, &q);

    *n = q.num_iovas;
    return rc;
}

static void test_map_unmap_basic(void **state)
{
    SimFixture *f = *state;
    uint64_t len;

    assert_int_equal(fx_map(f, f->ioas, 0x100000, 2 * PAGE, FAKE_VA, 0), 0);
    assert_int_equal(fx_map(f, f->ioas, 0x101000, PAGE, FAKE_VA, 0), -EEXIST);
    /* Partial unmap of a 2-page area: areas are never split. */
    assert_int_equal(fx_unmap(f, f->ioas, 0x100000, PAGE, NULL), -ENOENT);
    assert_int_equal(fx_unmap(f, f->ioas, 0x101000, 2 * PAGE, NULL), -ENOENT);
    /* Nothing mapped there. */
    assert_int_equal(fx_unmap(f, f->ioas, 0x900000, PAGE, NULL), -ENOENT);
    assert_int_equal(fx_unmap(f, f->ioas, 0x100000, 2 * PAGE, &len), 0);
    assert_int_equal(len, 2 * PAGE);
    assert_int_equal(fx_unmap(f, f->ioas, 0x100000, 2 * PAGE, NULL), -ENOENT);
}

static void test_unmap_covering_several_areas(void **state)
{
    SimFixture *f = *state;
    uint64_t len;

    for (int i = 0; i < 4; i++) {
        assert_int_equal(fx_map(f, f->ioas, 0x200000 + i * 16 * PAGE, 8 * PAGE, FAKE_VA, 0), 0);
    }
    assert_int_equal(fx_unmap(f, f->ioas, 0x200000, 64 * PAGE, &len), 0);
    assert_int_equal(len, 32 * PAGE);
}

static void test_unmap_all_twice(void **state)
{
    SimFixture *f = *state;
    uint64_t len;

    assert_int_equal(fx_map(f, f->ioas, 0x100000, PAGE, FAKE_VA, 0), 0);
    assert_int_equal(fx_map(f, f->ioas, 0x300000, 3 * PAGE, FAKE_VA, 0), 0);
    assert_int_equal(fx_unmap(f, f->ioas, 0, UINT64_MAX, &len), 0);
    assert_int_equal(len, 4 * PAGE);
    assert_int_equal(fx_unmap(f, f->ioas, 0, UINT64_MAX, &len), 0);
    assert_int_equal(len, 0);
}

static void test_map_argument_errors(void **state)
{
    SimFixture *f = *state;
    struct iommu_ioas_map m = {
        .size = sizeof(m), .flags = IOMMU_IOAS_MAP_FIXED_IOVA, .ioas_id = f->ioas,
        .user_va = (uintptr_t)FAKE_VA, .length = PAGE, .iova = 0x100000,
    };
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = f->ioas };

    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), -EINVAL);   /* neither R nor W */
    m.flags |= IOMMU_IOAS_MAP_READABLE | (1u << 5);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), -EOPNOTSUPP);
    m.flags &= ~(1u << 5);
    m.length = 0;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), -EINVAL);
    m.length = UINT64_MAX;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), -EOVERFLOW);
    m.length = 2 * PAGE;
    m.iova = UINT64_MAX - PAGE + 1;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), -EOVERFLOW);
    u.iova = 0x1000;
    u.length = 0;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_UNMAP, &u), -EINVAL);
    u.length = UINT64_MAX;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_UNMAP, &u), -EOVERFLOW);
}

static void test_auto_iova_alignment(void **state)
{
    SimFixture *f = *state;
    struct iommu_ioas_map m = {
        .size = sizeof(m), .flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
        .ioas_id = f->ioas, .user_va = 0x7f0000000000ull, .length = 4 * PAGE,
    };
    uint32_t hwpt;

    /* With a domain the IOAS works in pages. */
    assert_int_equal(fx_attach(f, f->cdev_a, 0, f->ioas, &hwpt), 0);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), 0);
    assert_int_not_equal(m.iova, 0);
    assert_int_equal(m.iova % (4 * PAGE), 0);
    uint64_t first = m.iova;
    m.length = 16 * PAGE;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), 0);
    assert_int_equal(m.iova % (16 * PAGE), 0);
    assert_true(m.iova >= first + 4 * PAGE || m.iova + 16 * PAGE <= first);
    /* A user VA aligned to only one page limits the alignment to one page. */
    m.user_va = 0x7f0000001000ull;
    m.length = 8 * PAGE;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), 0);
    assert_int_equal(m.iova % PAGE, 0);
}

static void test_reserved_regions_from_attach(void **state)
{
    SimFixture *f = *state;
    struct iommu_iova_range r[8];
    uint32_t n = 8, hwpt;
    bool msi_hole = false;

    n = 8;
    assert_int_equal(get_ranges(f, r, &n), 0);
    assert_int_equal(n, 1);   /* no domain, no device: everything */
    assert_int_equal(r[0].start, 0);
    assert_int_equal(r[0].last, UINT64_MAX);

    assert_int_equal(fx_attach(f, f->cdev_a, 0, f->ioas, &hwpt), 0);
    n = 8;
    assert_int_equal(get_ranges(f, r, &n), 0);
    assert_int_equal(n, 2);
    for (uint32_t i = 0; i + 1 < n; i++) {
        if (r[i].last == 0xfedfffffull && r[i + 1].start == 0xfef00000ull) {
            msi_hole = true;
        }
    }
    assert_true(msi_hole);
    assert_int_equal(r[n - 1].last, (1ull << 48) - 1);   /* 48-bit aperture */

    /* Fixed map into the MSI window -> EINVAL; beyond the aperture too. */
    assert_int_equal(fx_map(f, f->ioas, 0xfee00000, PAGE, FAKE_VA, 0), -EINVAL);
    assert_int_equal(fx_map(f, f->ioas, 1ull << 48, PAGE, FAKE_VA, 0), -EINVAL);

    /* Too small an array: EMSGSIZE with the real count. */
    n = 1;
    assert_int_equal(get_ranges(f, r, &n), -EMSGSIZE);
    assert_int_equal(n, 2);

    /* Detaching the last device gives the window back. */
    assert_int_equal(fx_detach(f, f->cdev_a, 0), 0);
    n = 8;
    assert_int_equal(get_ranges(f, r, &n), 0);
    assert_int_equal(n, 1);
}

static void test_attach_over_mapped_reserved(void **state)
{
    SimFixture *f = *state;
    uint32_t hwpt;

    assert_int_equal(fx_map(f, f->ioas, 0xfee00000, PAGE, FAKE_VA, 0), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 0, f->ioas, &hwpt), -EADDRINUSE);
    assert_int_equal(iommufd_sim_attached_hwpt(f->sim, DEV_A, 0), 0);
    assert_int_equal(fx_unmap(f, f->ioas, 0xfee00000, PAGE, NULL), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 0, f->ioas, &hwpt), 0);
}

static void test_rmrr_reserved(void **state)
{
    IommufdSim *sim = iommufd_sim_new();
    GError *err = NULL;

    assert_true(iommufd_sim_add_unit(sim, "id=u0", &err));
    assert_true(iommufd_sim_add_device(sim, "host=0000:05:00.0,unit=u0,rmrr=0xa0000-0xbffff", &err));
    assert_false(iommufd_sim_add_device(sim, "host=0000:06:00.0,unit=u0,rmrr=5-1", &err));
    assert_non_null(strstr(err->message, "rmrr"));
    g_clear_error(&err);
    assert_false(iommufd_sim_add_device(sim, "host=0000:06:00.0,unit=nope", &err));
    g_clear_error(&err);
    assert_false(iommufd_sim_add_device(sim, "host=0000:06:00.0,unit=u0,colour=red", &err));
    assert_non_null(strstr(err->message, "colour"));
    g_clear_error(&err);

    SimFixture f = { .sim = sim, .t = iommufd_sim_transport(sim) };
    f.fd = f.t->open_iommufd(f.t, &err);
    int cdev = f.t->open_cdev(f.t, iommufd_sim_cdev_path(sim, "0000:05:00.0"), &err);
    uint32_t dev, hwpt;
    assert_int_equal(fx_bind(&f, cdev, &dev), 0);
    assert_int_equal(fx_alloc_ioas(&f, &f.ioas), 0);
    assert_int_equal(fx_attach(&f, cdev, 0, f.ioas, &hwpt), 0);
    assert_int_equal(fx_map(&f, f.ioas, 0xb0000, PAGE, FAKE_VA, 0), -EINVAL);
    assert_int_equal(fx_map(&f, f.ioas, 0xc0000, PAGE, FAKE_VA, 0), 0);
    iommufd_sim_free(sim);
}

static void test_allow_iovas(void **state)
{
    SimFixture *f = *state;
    struct iommu_iova_range allow[2] = { { 0x10000000, 0x1fffffff }, { 0x40000000, 0x4fffffff } };
    struct iommu_ioas_allow_iovas a = {
        .size = sizeof(a), .ioas_id = f->ioas, .num_iovas = 2, .allowed_iovas = (uintptr_t)allow,
    };
    struct iommu_ioas_map m = {
        .size = sizeof(m), .flags = IOMMU_IOAS_MAP_READABLE, .ioas_id = f->ioas,
        .user_va = 0x7f0000000000ull, .length = 0x20000000,
    };
    struct iommu_iova_range r[4];
    uint32_t n = 4, hwpt;

    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOW_IOVAS, &a), 0);
    n = 4;
    assert_int_equal(get_ranges(f, r, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(r[1].start, 0x40000000);
    /* Too big for the first range: the allocator must pick the second... */
    m.length = 0x10000000;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), 0);
    assert_true(m.iova >= 0x10000000 && m.iova + m.length - 1 <= 0x1fffffff);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), 0);
    assert_int_equal(m.iova, 0x40000000);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), -ENOSPC);

    /* Overlapping input ranges, empty range. */
    allow[1].start = 0x1ffff000;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOW_IOVAS, &a), -EINVAL);
    allow[1] = (struct iommu_iova_range){ 0x5000, 0x5000 };
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOW_IOVAS, &a), -EINVAL);

    /* Reserved (MSI window after attach) inside an allowed range -> EADDRINUSE. */
    assert_int_equal(fx_unmap(f, f->ioas, 0, UINT64_MAX, NULL), 0);
    a.num_iovas = 0;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOW_IOVAS, &a), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 0, f->ioas, &hwpt), 0);
    allow[0] = (struct iommu_iova_range){ 0xf0000000, 0xffffffff };
    a.num_iovas = 1;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOW_IOVAS, &a), -EADDRINUSE);

    /* And an allowed range blocks a later attach that would reserve in it. */
    assert_int_equal(fx_detach(f, f->cdev_a, 0), 0);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOW_IOVAS, &a), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 0, f->ioas, &hwpt), -EADDRINUSE);
}

static void test_errata_readonly(void **state)
{
    SimFixture *f = *state;
    uint32_t parent, ioas2, p2;

    /* A read-only map before the nest parent exists blocks its creation. */
    assert_int_equal(fx_map(f, f->ioas, 0x100000, PAGE, FAKE_VA, 0), 0);
    struct iommu_ioas_map ro = {
        .size = sizeof(ro), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
        .ioas_id = f->ioas, .user_va = (uintptr_t)FAKE_VA, .length = PAGE, .iova = 0x200000,
    };
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &ro), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
                                   NULL, &parent), -EINVAL);
    assert_int_equal(fx_unmap(f, f->ioas, 0x200000, PAGE, NULL), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
                                   NULL, &parent), 0);
    /* With the nest parent in place, read-only maps are refused. */
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &ro), -EINVAL);
    ro.flags |= IOMMU_IOAS_MAP_WRITEABLE;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &ro), 0);
    /* A plain paging HWPT on another IOAS has no such rule. */
    assert_int_equal(fx_alloc_ioas(f, &ioas2), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, ioas2, 0, NULL, &p2), 0);
    ro.ioas_id = ioas2;
    ro.flags &= ~IOMMU_IOAS_MAP_WRITEABLE;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &ro), 0);
}

static void test_errata_off_unit(void **state)
{
    SimFixture *f = fx_new("errata=off");
    uint32_t parent;
    struct iommu_ioas_map ro = {
        .size = sizeof(ro), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
        .ioas_id = f->ioas, .user_va = (uintptr_t)FAKE_VA, .length = PAGE, .iova = 0x200000,
    };

    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
                                   NULL, &parent), 0);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &ro), 0);
    fx_free(f);
}

static void test_option_huge_pages(void **state)
{
    SimFixture *f = *state;
    struct iommu_option o = { .size = sizeof(o), .option_id = IOMMU_OPTION_HUGE_PAGES,
                              .op = IOMMU_OPTION_OP_GET, .object_id = f->ioas };
    struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = f->ioas };

    assert_int_equal(fx_ioctl(f, IOMMU_OPTION, &o), 0);
    assert_int_equal(o.val64, 1);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_IOVA_RANGES, &q), -EMSGSIZE);
    assert_int_equal(q.out_iova_alignment, 1);   /* no domain yet */
    o.op = IOMMU_OPTION_OP_SET;
    o.val64 = 2;
    assert_int_equal(fx_ioctl(f, IOMMU_OPTION, &o), -EINVAL);
    o.val64 = 0;
    assert_int_equal(fx_ioctl(f, IOMMU_OPTION, &o), 0);
    q.num_iovas = 0;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_IOVA_RANGES, &q), -EMSGSIZE);
    assert_int_equal(q.out_iova_alignment, PAGE);
    assert_int_equal(fx_map(f, f->ioas, 0x100000, 0x800, FAKE_VA, 0), -EINVAL);
    o.object_id = 77;
    assert_int_equal(fx_ioctl(f, IOMMU_OPTION, &o), -ENOENT);
    o.option_id = 9;
    assert_int_equal(fx_ioctl(f, IOMMU_OPTION, &o), -EOPNOTSUPP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_unmap_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmap_covering_several_areas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmap_all_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_argument_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_iova_alignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_regions_from_attach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_over_mapped_reserved, setup, teardown),
        cmocka_unit_test(test_rmrr_reserved),
        cmocka_unit_test_setup_teardown(test_allow_iovas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errata_readonly, setup, teardown),
        cmocka_unit_test(test_errata_off_unit),
        cmocka_unit_test_setup_teardown(test_option_huge_pages, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
