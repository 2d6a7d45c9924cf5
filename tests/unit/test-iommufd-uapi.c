/*
 * The iommufd ABI as declared (sizes, offsets, request numbers) and the
 * simulator's generic dispatch rules (fact sheet §1.2): short struct ->
 * EINVAL, non-zero trailing bytes -> E2BIG, unknown request -> ENOTTY,
 * unknown flags / reserved fields -> EOPNOTSUPP, unknown ids -> ENOENT,
 * busy objects -> EBUSY.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "iommufd-sim-fixture.h"

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

static void test_request_numbers(void **state)
{
    assert_int_equal(IOMMU_DESTROY, 0x3B80);
    assert_int_equal(IOMMU_IOAS_ALLOC, 0x3B81);
    assert_int_equal(IOMMU_IOAS_IOVA_RANGES, 0x3B84);
    assert_int_equal(IOMMU_IOAS_UNMAP, 0x3B86);
    assert_int_equal(IOMMU_HWPT_ALLOC, 0x3B89);
    assert_int_equal(IOMMU_GET_HW_INFO, 0x3B8A);
    assert_int_equal(IOMMU_HWPT_INVALIDATE, 0x3B8D);
    assert_int_equal(IOMMU_FAULT_QUEUE_ALLOC, 0x3B8E);
    assert_int_equal(VFIO_DEVICE_BIND_IOMMUFD, 0x3B76);
    assert_int_equal(VFIO_DEVICE_DETACH_IOMMUFD_PT, 0x3B78);
    /* Invalidation and allocation data types differ on purpose. */
    assert_int_equal(IOMMU_HWPT_DATA_VTD_S1, 1);
    assert_int_equal(IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, 0);
    assert_string_equal(iommufd_request_name(IOMMU_IOAS_MAP), "IOMMU_IOAS_MAP");
    assert_string_equal(iommufd_request_name(0x1234), "unknown");
}

static void test_struct_sizes(void **state)
{
    assert_int_equal(sizeof(struct iommu_hwpt_alloc), 48);
    assert_int_equal(offsetof(struct iommu_hwpt_alloc, fault_id), 40);
    assert_int_equal(sizeof(struct iommu_hw_info), 40);
    assert_int_equal(offsetof(struct iommu_hw_info, out_max_pasid_log2), 28);
    assert_int_equal(sizeof(struct iommu_hwpt_vtd_s1), 24);
    assert_int_equal(sizeof(struct iommu_hwpt_vtd_s1_invalidate), 24);
    assert_int_equal(sizeof(struct iommu_hwpt_pgfault), 40);
    assert_int_equal(offsetof(struct iommu_hwpt_pgfault, addr), 24);
    assert_int_equal(sizeof(struct vfio_device_attach_iommufd_pt), 16);
    assert_int_equal(offsetof(struct iommu_option, object_id), 12);
}

/* Every command's minimum size, one byte short of it -> EINVAL. */
static void test_min_sizes(void **state)
{
    SimFixture *f = *state;
    static const struct { unsigned long req; uint32_t min; } cmds[] = {
        { IOMMU_DESTROY, 8 }, { IOMMU_IOAS_ALLOC, 12 }, { IOMMU_IOAS_ALLOW_IOVAS, 24 },
        { IOMMU_IOAS_IOVA_RANGES, 32 }, { IOMMU_IOAS_MAP, 40 }, { IOMMU_IOAS_UNMAP, 24 },
        { IOMMU_OPTION, 24 }, { IOMMU_HWPT_ALLOC, 24 }, { IOMMU_GET_HW_INFO, 32 },
        { IOMMU_HWPT_INVALIDATE, 32 }, { IOMMU_FAULT_QUEUE_ALLOC, 16 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        uint8_t buf[64] = { 0 };
        uint32_t size = cmds[i].min - 1;

        memcpy(buf, &size, 4);
        assert_int_equal(fx_ioctl(f, cmds[i].req, buf), -EINVAL);
        size = 0;
        memcpy(buf, &size, 4);
        assert_int_equal(fx_ioctl(f, cmds[i].req, buf), -EINVAL);
    }
}

/* The 24-byte (6.6) HWPT_ALLOC form is still accepted: the tail reads as zero. */
static void test_short_but_valid_struct(void **state)
{
    SimFixture *f = *state;
    struct iommu_hwpt_alloc a = { .size = 24, .dev_id = f->dev_a, .pt_id = f->ioas };

    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), 0);
    assert_int_not_equal(a.out_hwpt_id, 0);
    assert_int_equal(fx_destroy(f, a.out_hwpt_id), 0);
}

static void test_trailing_bytes(void **state)
{
    SimFixture *f = *state;
    struct { struct iommu_ioas_alloc a; uint8_t tail[8]; } big;

    memset(&big, 0, sizeof(big));
    big.a.size = sizeof(big);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOC, &big), 0);   /* zero tail is fine */
    assert_int_not_equal(big.a.out_ioas_id, 0);
    big.tail[7] = 1;
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOC, &big), -E2BIG);
}

static void test_unknown_requests(void **state)
{
    SimFixture *f = *state;
    struct iommu_destroy d = { .size = sizeof(d), .id = f->ioas };

    assert_int_equal(fx_ioctl(f, IOMMUFD_IO(0x7f), &d), -ENOTTY);   /* VFIO compat */
    assert_int_equal(fx_ioctl(f, IOMMUFD_IO(0xa0), &d), -ENOTTY);   /* selftest cmd */
    /* A size-encoded (_IOW-style) number is a different request. */
    assert_int_equal(fx_ioctl(f, IOMMU_DESTROY | (8ul << 16) | (1ul << 30), &d), -ENOTTY);
    assert_int_equal(fx_ioctl(f, IOMMU_DESTROY, NULL), -EFAULT);
    /* The IOAS is still there: nothing happened. */
    assert_int_equal(fx_destroy(f, f->ioas), 0);
}

static void test_unknown_flags_and_reserved(void **state)
{
    SimFixture *f = *state;
    struct iommu_ioas_alloc a = { .size = sizeof(a), .flags = 1 };
    struct iommu_ioas_iova_ranges r = { .size = sizeof(r), .ioas_id = f->ioas,
                                        .__reserved = 1 };
    struct iommu_hwpt_alloc h = { .size = sizeof(h), .dev_id = f->dev_a, .pt_id = f->ioas,
                                  .flags = 1u << 9 };
    struct iommu_option o = { .size = sizeof(o), .option_id = IOMMU_OPTION_HUGE_PAGES,
                              .op = IOMMU_OPTION_OP_GET, .object_id = f->ioas,
                              .__reserved = 1 };
    struct iommu_fault_alloc fa = { .size = sizeof(fa), .flags = 2 };
    int objs = iommufd_sim_object_count(f->sim, f->fd);

    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_ALLOC, &a), -EOPNOTSUPP);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_IOVA_RANGES, &r), -EOPNOTSUPP);
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &h), -EOPNOTSUPP);
    h.flags = 0;
    h.__reserved = 1;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &h), -EOPNOTSUPP);
    assert_int_equal(fx_ioctl(f, IOMMU_OPTION, &o), -EOPNOTSUPP);
    assert_int_equal(fx_ioctl(f, IOMMU_FAULT_QUEUE_ALLOC, &fa), -EOPNOTSUPP);
    assert_int_equal(iommufd_sim_object_count(f->sim, f->fd), objs);
}

static void test_unknown_ids(void **state)
{
    SimFixture *f = *state;
    struct iommu_ioas_map m = { .size = sizeof(m), .ioas_id = 99,
                                .flags = IOMMU_IOAS_MAP_READABLE, .user_va = 0x1000,
                                .length = 0x1000 };
    struct iommu_hwpt_alloc h = { .size = sizeof(h), .dev_id = 99, .pt_id = f->ioas };
    struct iommu_hw_info hi = { .size = sizeof(hi), .dev_id = f->ioas };

    assert_int_equal(fx_destroy(f, 99), -ENOENT);
    assert_int_equal(fx_ioctl(f, IOMMU_IOAS_MAP, &m), -ENOENT);
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &h), -ENOENT);
    h.dev_id = f->ioas;   /* an IOAS id where a device is expected */
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &h), -ENOENT);
    h.dev_id = f->dev_a;
    h.pt_id = 99;         /* missing pt_id is EINVAL, not ENOENT */
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &h), -EINVAL);
    h.pt_id = f->dev_b;   /* a device as pt_id */
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &h), -EINVAL);
    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &hi), -ENOENT);
}

static void test_destroy_busy(void **state)
{
    SimFixture *f = *state;
    uint32_t hwpt, out;

    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, 0, NULL, &hwpt), 0);
    assert_int_equal(fx_destroy(f, f->ioas), -EBUSY);       /* HWPT holds the IOAS */
    assert_int_equal(fx_attach(f, f->cdev_a, 0, hwpt, &out), 0);
    assert_int_equal(out, hwpt);
    assert_int_equal(fx_destroy(f, hwpt), -EBUSY);          /* attached */
    assert_int_equal(fx_destroy(f, f->dev_a), -EBUSY);      /* devices belong to VFIO */
    assert_int_equal(fx_detach(f, f->cdev_a, 0), 0);
    assert_int_equal(fx_destroy(f, hwpt), 0);
    assert_int_equal(fx_destroy(f, hwpt), -ENOENT);
    assert_int_equal(fx_destroy(f, f->ioas), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_numbers),
        cmocka_unit_test(test_struct_sizes),
        cmocka_unit_test_setup_teardown(test_min_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_but_valid_struct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_flags_and_reserved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_busy, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
