/*
 * Simulated HWPTs: allocation errors (§3.3), nested attach checks (§3.4),
 * DMA through a guest first-stage table read via the parent IOAS, the host
 * IOTLB that only IOMMU_HWPT_INVALIDATE clears (§3.5), and GET_HW_INFO (§3.8).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "iommufd-sim-fixture.h"

#define PAGE 0x1000ull
#define RAM_SIZE (8ull << 20)
#define PTE_P 1ull
#define PTE_RW 2ull
#define PTE_US 4ull
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_ALL (PTE_P | PTE_RW | PTE_US)

/* Guest tables: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000; data at 1 MiB. */
#define IOVA_BASE 0x40000000ull
#define DATA_GPA 0x100000ull

typedef struct NestFx {
    SimFixture *f;
    uint8_t *ram;      /* guest RAM, GPA 0 .. RAM_SIZE */
    uint32_t parent;
    uint32_t nested;
    struct iommu_hwpt_vtd_s1 s1;
} NestFx;

static void pte_set(NestFx *n, uint64_t gpa, uint64_t val)
{
    memcpy(n->ram + gpa, &val, 8);
}

static uint64_t pte_get(NestFx *n, uint64_t gpa)
{
    uint64_t v;

    memcpy(&v, n->ram + gpa, 8);
    return v;
}

/* Maps IOVA_BASE + i pages -> DATA_GPA + i pages for i < 16; data page i filled with i. */
static void build_tables(NestFx *n)
{
    pte_set(n, 0x1000, 0x2000 | PTE_ALL);
    pte_set(n, 0x2000 + 1 * 8, 0x3000 | PTE_ALL);     /* PDPT idx 1: 1 GiB */
    pte_set(n, 0x3000, 0x4000 | PTE_ALL);
    for (int i = 0; i < 16; i++) {
        pte_set(n, 0x4000 + i * 8, (DATA_GPA + i * PAGE) | PTE_ALL);
        memset(n->ram + DATA_GPA + i * PAGE, i + 1, PAGE);
    }
}

static NestFx *nest_new(const char *unit_opts, bool attach_nested)
{
    NestFx *n = g_new0(NestFx, 1);
    uint32_t out;

    n->f = fx_new(unit_opts);
    n->ram = g_aligned_alloc0(RAM_SIZE, 1, PAGE);
    assert_int_equal(fx_hwpt_alloc(n->f, n->f->dev_a, n->f->ioas,
                                   IOMMU_HWPT_ALLOC_NEST_PARENT, NULL, &n->parent), 0);
    assert_int_equal(fx_map(n->f, n->f->ioas, 0, RAM_SIZE, n->ram, 0), 0);
    build_tables(n);
    n->s1 = (struct iommu_hwpt_vtd_s1){ .pgtbl_addr = 0x1000, .addr_width = 48 };
    assert_int_equal(fx_hwpt_alloc(n->f, n->f->dev_a, n->parent, 0, &n->s1, &n->nested), 0);
    if (attach_nested) {
        assert_int_equal(fx_attach(n->f, n->f->cdev_a, 0, n->nested, &out), 0);
        assert_int_equal(out, n->nested);
    }
    return n;
}

static void nest_free(NestFx *n)
{
    fx_free(n->f);
    g_aligned_free(n->ram);
    g_free(n);
}

static int setup(void **state)
{
    *state = nest_new(NULL, true);
    return 0;
}

static int teardown(void **state)
{
    nest_free(*state);
    return 0;
}

static uint8_t dma_read_byte(NestFx *n, uint64_t iova, IommufdSimFault *fault)
{
    uint8_t b = 0xee;

    if (!iommufd_sim_dma(n->f->sim, DEV_A, 0, iova, &b, 1, false, fault)) {
        return 0xee;
    }
    return b;
}

static int invalidate(NestFx *n, uint32_t hwpt, const struct iommu_hwpt_vtd_s1_invalidate *e,
                      uint32_t num, uint32_t *done)
{
    struct iommu_hwpt_invalidate inv = {
        .size = sizeof(inv), .hwpt_id = hwpt, .data_uptr = (uintptr_t)e,
        .data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, .entry_len = sizeof(*e),
        .entry_num = num,
    };
    int rc = fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv);

    *done = inv.entry_num;
    return rc;
}

static void test_alloc_errors(void **state)
{
    NestFx *n = *state;
    SimFixture *f = n->f;
    struct iommu_hwpt_alloc a = {
        .size = sizeof(a), .dev_id = f->dev_a, .pt_id = n->parent,
        .data_type = IOMMU_HWPT_DATA_NONE, .data_len = 24, .data_uptr = (uintptr_t)&n->s1,
    };
    uint32_t plain, id;

    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EINVAL);        /* NONE + len */
    a.data_type = IOMMU_HWPT_DATA_VTD_S1;
    a.data_len = 0;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EINVAL);        /* type, no len */
    a.data_type = 7;
    a.data_len = 24;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EOPNOTSUPP);    /* foreign type */
    a.data_type = IOMMU_HWPT_DATA_VTD_S1;
    a.data_len = 16;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EINVAL);        /* short data */
    a.data_len = 32;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EINVAL);        /* long data */
    a.data_len = 24;
    a.data_uptr = 0;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EFAULT);
    a.data_uptr = (uintptr_t)&n->s1;
    a.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EOPNOTSUPP);    /* parent flag on nested */
    a.flags = 0;
    a.pt_id = n->nested;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EINVAL);        /* nested on nested */

    /* A plain paging HWPT cannot be a parent; nor can an auto domain. */
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, 0, NULL, &plain), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, plain, 0, &n->s1, &id), -EINVAL);
    uint32_t ioas2, auto_id;
    assert_int_equal(fx_alloc_ioas(f, &ioas2), 0);
    assert_int_equal(fx_attach(f, f->cdev_b, 0, ioas2, &auto_id), 0);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, auto_id, 0, &n->s1, &id), -EINVAL);
    /* Paging with driver data; nest parent with a fault queue. */
    a = (struct iommu_hwpt_alloc){ .size = sizeof(a), .dev_id = f->dev_a, .pt_id = f->ioas,
                                   .data_type = IOMMU_HWPT_DATA_VTD_S1, .data_len = 24,
                                   .data_uptr = (uintptr_t)&n->s1 };
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EOPNOTSUPP);
    struct iommu_fault_alloc fa = { .size = sizeof(fa) };
    assert_int_equal(fx_ioctl(f, IOMMU_FAULT_QUEUE_ALLOC, &fa), 0);
    a = (struct iommu_hwpt_alloc){ .size = sizeof(a), .dev_id = f->dev_a, .pt_id = f->ioas,
                                   .flags = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_FAULT_ID_VALID,
                                   .fault_id = fa.out_fault_id };
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -EOPNOTSUPP);
    a.flags = IOMMU_HWPT_FAULT_ID_VALID;
    a.fault_id = 99;
    assert_int_equal(fx_ioctl(f, IOMMU_HWPT_ALLOC, &a), -ENOENT);

    /* The parent is held by its nested child. */
    assert_int_equal(fx_destroy(f, n->parent), -EBUSY);
    assert_int_equal(fx_destroy(f, n->nested), -EBUSY);   /* attached */
}

static void test_unit_without_nesting_or_dirty(void **state)
{
    SimFixture *f = fx_new("nesting=off,dirty=off");
    uint32_t id;

    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
                                   NULL, &id), -EOPNOTSUPP);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
                                   NULL, &id), -EOPNOTSUPP);
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, f->ioas, 0, NULL, &id), 0);
    fx_free(f);
}

static void test_attach_validates_s1(void **state)
{
    NestFx *n = nest_new(NULL, false);
    SimFixture *f = n->f;
    struct iommu_hwpt_vtd_s1 bad[] = {
        { .pgtbl_addr = 0x1000, .addr_width = 39 },
        { .pgtbl_addr = 0x1000, .addr_width = 57 },     /* unit lacks FS5LP */
        { .pgtbl_addr = 0x1000, .addr_width = 48, .flags = IOMMU_VTD_S1_SRE },  /* no SRS */
        { .pgtbl_addr = 0x1000, .addr_width = 48, .flags = IOMMU_VTD_S1_EAFE }, /* no EAFS */
    };

    assert_int_equal(fx_attach(f, f->cdev_a, 0, n->parent, NULL), 0);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint32_t id;

        /* Accepted at allocation, refused when programmed, old attachment kept. */
        assert_int_equal(fx_hwpt_alloc(f, f->dev_a, n->parent, 0, &bad[i], &id), 0);
        assert_int_equal(fx_attach(f, f->cdev_a, 0, id, NULL), -EINVAL);
        assert_int_equal(iommufd_sim_attached_hwpt(f->sim, DEV_A, 0), n->parent);
        assert_int_equal(fx_destroy(f, id), 0);
    }
    nest_free(n);

    n = nest_new("fs5lp=on,srs=on,eafs=on", false);
    for (size_t i = 1; i < G_N_ELEMENTS(bad); i++) {
        uint32_t id;

        assert_int_equal(fx_hwpt_alloc(n->f, n->f->dev_a, n->parent, 0, &bad[i], &id), 0);
        assert_int_equal(fx_attach(n->f, n->f->cdev_a, 0, id, NULL), 0);
    }
    nest_free(n);
}

static void test_dma_walk_and_ad_bits(void **state)
{
    NestFx *n = *state;
    uint8_t buf[2 * PAGE];
    IommufdSimFault fault;

    assert_int_equal(dma_read_byte(n, IOVA_BASE + 3 * PAGE + 5, &fault), 4);
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 1);
    /* Cross-page read spanning two guest pages. */
    assert_true(iommufd_sim_dma(n->f->sim, DEV_A, 0, IOVA_BASE + PAGE, buf, sizeof(buf),
                                false, &fault));
    assert_int_equal(buf[0], 2);
    assert_int_equal(buf[PAGE], 3);
    /* Hardware set A on every level and D on a written leaf. */
    assert_true(pte_get(n, 0x1000) & PTE_A);
    assert_false(pte_get(n, 0x4000 + 7 * 8) & PTE_D);
    buf[0] = 0x5a;
    assert_true(iommufd_sim_dma(n->f->sim, DEV_A, 0, IOVA_BASE + 7 * PAGE, buf, 1, true, &fault));
    assert_true(pte_get(n, 0x4000 + 7 * 8) & PTE_D);
    assert_int_equal(n->ram[DATA_GPA + 7 * PAGE], 0x5a);
}

static void test_dma_faults(void **state)
{
    NestFx *n = *state;
    IommufdSimFault fault;
    uint8_t b = 0;

    assert_false(iommufd_sim_dma(n->f->sim, DEV_A, 0, IOVA_BASE + 100 * PAGE, &b, 1, false, &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_NOT_PRESENT);
    assert_int_equal(fault.hwpt_id, n->nested);
    assert_false(iommufd_sim_dma(n->f->sim, DEV_A, 0, 1ull << 47, &b, 1, false, &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_NON_CANONICAL);
    pte_set(n, 0x4000 + 9 * 8, (DATA_GPA + 9 * PAGE) | PTE_P | PTE_US);   /* read-only */
    assert_false(iommufd_sim_dma(n->f->sim, DEV_A, 0, IOVA_BASE + 9 * PAGE, &b, 1, true, &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_PERM);
    pte_set(n, 0x4000 + 10 * 8, (DATA_GPA + 10 * PAGE) | PTE_P | PTE_RW); /* supervisor */
    assert_false(iommufd_sim_dma(n->f->sim, DEV_A, 0, IOVA_BASE + 10 * PAGE, &b, 1, false, &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_PERM);
    pte_set(n, 0x4000 + 11 * 8, (1ull << 50) | PTE_ALL);                  /* beyond 48-bit HAW */
    assert_false(iommufd_sim_dma(n->f->sim, DEV_A, 0, IOVA_BASE + 11 * PAGE, &b, 1, false, &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_RESERVED);
    pte_set(n, 0x4000 + 12 * 8, (RAM_SIZE + PAGE) | PTE_ALL);             /* GPA not in IOAS */
    assert_false(iommufd_sim_dma(n->f->sim, DEV_A, 0, IOVA_BASE + 12 * PAGE, &b, 1, false, &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S2_UNMAPPED);
    /* A device that is not attached is blocked. */
    assert_false(iommufd_sim_dma(n->f->sim, DEV_B, 0, IOVA_BASE, &b, 1, false, &fault));
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_BLOCKED);
}

static void test_large_pages(void **state)
{
    NestFx *n = *state;
    IommufdSimFault fault;
    IommufdSimIotlbEntry e;

    /* PD idx 1 -> 2 MiB page at GPA 2 MiB. */
    pte_set(n, 0x3000 + 8, (2ull << 20) | PTE_ALL | PTE_PS);
    n->ram[(2ull << 20) + 0x1234] = 0x77;
    assert_int_equal(dma_read_byte(n, IOVA_BASE + (2ull << 20) + 0x1234, &fault), 0x77);
    assert_true(iommufd_sim_iotlb_lookup(n->f->sim, n->f->fd, n->nested,
                                         IOVA_BASE + (2ull << 20), &e));
    assert_int_equal(e.size, 2ull << 20);
    assert_int_equal(e.gpa, 2ull << 20);
    /* 2 MiB leaf with bits 20:13 set is reserved. */
    pte_set(n, 0x3000 + 16, (4ull << 20) | (1ull << 13) | PTE_ALL | PTE_PS);
    assert_int_equal(dma_read_byte(n, IOVA_BASE + (4ull << 20), &fault), 0xee);
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_RESERVED);
}

static void test_stale_until_invalidated(void **state)
{
    NestFx *n = *state;
    IommufdSimFault fault;
    struct iommu_hwpt_vtd_s1_invalidate e = { .addr = IOVA_BASE + 2 * PAGE, .npages = 1 };
    uint32_t done;

    assert_int_equal(dma_read_byte(n, IOVA_BASE + 2 * PAGE, &fault), 3);
    /* The guest remaps page 2 to data page 5 but does not (yet) invalidate. */
    pte_set(n, 0x4000 + 2 * 8, (DATA_GPA + 5 * PAGE) | PTE_ALL);
    assert_int_equal(dma_read_byte(n, IOVA_BASE + 2 * PAGE, &fault), 3);   /* stale */
    assert_int_equal(invalidate(n, n->nested, &e, 1, &done), 0);
    assert_int_equal(done, 1);
    assert_int_equal(dma_read_byte(n, IOVA_BASE + 2 * PAGE, &fault), 6);
}

static void test_invalidate_range_drops_and_keeps(void **state)
{
    NestFx *n = *state;
    IommufdSimFault fault;
    IommufdSimIotlbEntry e;
    struct iommu_hwpt_vtd_s1_invalidate inv = { .addr = IOVA_BASE + 4 * PAGE, .npages = 4 };
    uint32_t done;

    for (int i = 0; i < 16; i++) {
        assert_int_equal(dma_read_byte(n, IOVA_BASE + i * PAGE, &fault), i + 1);
    }
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 16);
    assert_int_equal(invalidate(n, n->nested, &inv, 1, &done), 0);
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 12);
    for (int i = 0; i < 16; i++) {
        bool dropped = i >= 4 && i < 8;

        assert_int_equal(iommufd_sim_iotlb_lookup(n->f->sim, n->f->fd, n->nested,
                                                  IOVA_BASE + i * PAGE, &e), !dropped);
    }
    /* 3 pages at page 9 round up to the aligned 4-page block 8..11. */
    inv = (struct iommu_hwpt_vtd_s1_invalidate){ .addr = IOVA_BASE + 9 * PAGE, .npages = 3 };
    assert_int_equal(invalidate(n, n->nested, &inv, 1, &done), 0);
    for (int i = 8; i < 12; i++) {
        assert_false(iommufd_sim_iotlb_lookup(n->f->sim, n->f->fd, n->nested,
                                              IOVA_BASE + i * PAGE, &e));
    }
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 8);
    /* npages 0 is a no-op; everything = addr 0, npages U64_MAX. */
    inv = (struct iommu_hwpt_vtd_s1_invalidate){ .addr = IOVA_BASE, .npages = 0 };
    assert_int_equal(invalidate(n, n->nested, &inv, 1, &done), 0);
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 8);
    inv = (struct iommu_hwpt_vtd_s1_invalidate){ .addr = 0, .npages = UINT64_MAX };
    assert_int_equal(invalidate(n, n->nested, &inv, 1, &done), 0);
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 0);
    assert_int_equal(iommufd_sim_pwc_count(n->f->sim, n->f->fd, n->nested), 0);
}

static void test_leaf_keeps_paging_structure_cache(void **state)
{
    NestFx *n = *state;
    IommufdSimFault fault;
    struct iommu_hwpt_vtd_s1_invalidate inv = {
        .addr = IOVA_BASE, .npages = 1, .flags = IOMMU_VTD_INV_FLAGS_LEAF,
    };
    uint32_t done;

    assert_int_equal(dma_read_byte(n, IOVA_BASE, &fault), 1);
    assert_int_equal(iommufd_sim_pwc_count(n->f->sim, n->f->fd, n->nested), 3);
    /* The guest moves the whole page table (a non-leaf change) to 0x5000. */
    memcpy(n->ram + 0x5000, n->ram + 0x4000, PAGE);
    pte_set(n, 0x5000, (DATA_GPA + 8 * PAGE) | PTE_ALL);
    pte_set(n, 0x3000, 0x5000 | PTE_ALL);
    /* LEAF only: the cached PDE still points at the old table. */
    assert_int_equal(invalidate(n, n->nested, &inv, 1, &done), 0);
    assert_int_equal(iommufd_sim_pwc_count(n->f->sim, n->f->fd, n->nested), 3);
    assert_int_equal(dma_read_byte(n, IOVA_BASE, &fault), 1);
    /* Without LEAF the paging-structure entries go too. */
    inv.flags = 0;
    assert_int_equal(invalidate(n, n->nested, &inv, 1, &done), 0);
    assert_int_equal(dma_read_byte(n, IOVA_BASE, &fault), 9);
}

static void test_invalidate_errors(void **state)
{
    NestFx *n = *state;
    IommufdSimFault fault;
    struct iommu_hwpt_vtd_s1_invalidate e[2] = {
        { .addr = IOVA_BASE, .npages = 1 },
        { .addr = IOVA_BASE + PAGE, .npages = 1, .flags = 1u << 3 },   /* bad flag */
    };
    struct iommu_hwpt_invalidate inv = {
        .size = sizeof(inv), .hwpt_id = n->nested, .data_uptr = (uintptr_t)e,
        .data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, .entry_len = sizeof(e[0]),
        .entry_num = 2,
    };
    uint32_t done;

    assert_int_equal(dma_read_byte(n, IOVA_BASE, &fault), 1);
    assert_int_equal(dma_read_byte(n, IOVA_BASE + PAGE, &fault), 2);
    /* [good, bad]: the good one took effect, entry_num says 1. */
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), -EOPNOTSUPP);
    assert_int_equal(inv.entry_num, 1);
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 1);

    /* entry_num 0 probes the type only. */
    inv.entry_num = 0;
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), 0);
    assert_int_equal(inv.entry_num, 0);
    inv.data_type = 1;
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), -EINVAL);
    inv.data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
    inv.entry_num = 1;
    inv.entry_len = sizeof(e[0]) + 1;
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), -EINVAL);
    /* entry_num is written back (0 here), so set it again each time. */
    assert_int_equal(inv.entry_num, 0);
    inv.entry_num = 1;
    inv.entry_len = 1;
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), -EINVAL);
    inv.entry_num = 1;
    inv.entry_len = 0;
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), -EINVAL);
    inv.entry_num = 1;
    inv.entry_len = sizeof(e[0]);
    inv.data_uptr = 0;
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), -EINVAL);
    inv.data_uptr = (uintptr_t)&e[1];
    inv.entry_num = 1;
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), -EOPNOTSUPP);
    assert_int_equal(inv.entry_num, 0);
    e[1] = (struct iommu_hwpt_vtd_s1_invalidate){ .addr = IOVA_BASE + 0x800, .npages = 1 };
    assert_int_equal(invalidate(n, n->nested, &e[1], 1, &done), -EINVAL);
    e[1] = (struct iommu_hwpt_vtd_s1_invalidate){ .addr = PAGE, .npages = UINT64_MAX };
    assert_int_equal(invalidate(n, n->nested, &e[1], 1, &done), -EINVAL);
    e[1] = (struct iommu_hwpt_vtd_s1_invalidate){ .addr = 0, .npages = 1, .__reserved = 1 };
    assert_int_equal(invalidate(n, n->nested, &e[1], 1, &done), -EOPNOTSUPP);
    /* On the parent (paging) -> EINVAL; unknown id -> ENOENT. */
    assert_int_equal(invalidate(n, n->parent, e, 1, &done), -EINVAL);
    assert_int_equal(invalidate(n, 99, e, 1, &done), -ENOENT);
    inv.__reserved = 1;
    inv.data_uptr = (uintptr_t)e;
    assert_int_equal(fx_ioctl(n->f, IOMMU_HWPT_INVALIDATE, &inv), -EOPNOTSUPP);
}

static void test_parent_unmap_flushes_nested(void **state)
{
    NestFx *n = *state;
    IommufdSimFault fault;
    uint8_t *extra = g_aligned_alloc0(1, PAGE, PAGE);

    assert_int_equal(fx_map(n->f, n->f->ioas, RAM_SIZE, PAGE, extra, 0), 0);
    assert_int_equal(dma_read_byte(n, IOVA_BASE, &fault), 1);
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 1);
    assert_int_equal(fx_unmap(n->f, n->f->ioas, RAM_SIZE, PAGE, NULL), 0);
    assert_int_equal(iommufd_sim_iotlb_count(n->f->sim, n->f->fd, n->nested), 0);
    g_aligned_free(extra);
}

static void test_replace_and_teardown(void **state)
{
    NestFx *n = nest_new(NULL, false);
    SimFixture *f = n->f;
    IommufdSimFault fault;
    uint32_t nested2, out;
    struct iommu_hwpt_vtd_s1 s1b = { .pgtbl_addr = 0x6000, .addr_width = 48 };

    /* Guest in pass-through: device on the parent, IOVA = GPA. */
    assert_int_equal(fx_attach(f, f->cdev_a, 0, n->parent, &out), 0);
    assert_int_equal(dma_read_byte(n, DATA_GPA, &fault), 1);
    /* Guest enables first stage: replace parent -> nested. */
    assert_int_equal(fx_attach(f, f->cdev_a, 0, n->nested, &out), 0);
    assert_int_equal(dma_read_byte(n, IOVA_BASE, &fault), 1);
    /* Replace with the same HWPT is a no-op. */
    assert_int_equal(fx_attach(f, f->cdev_a, 0, n->nested, &out), 0);
    /* A second nested HWPT with another root (empty table -> not present). */
    assert_int_equal(fx_hwpt_alloc(f, f->dev_a, n->parent, 0, &s1b, &nested2), 0);
    assert_int_equal(fx_attach(f, f->cdev_a, 0, nested2, &out), 0);
    assert_int_equal(dma_read_byte(n, IOVA_BASE, &fault), 0xee);
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_NOT_PRESENT);
    /* The first one is free now; out-of-order destroys are EBUSY. */
    assert_int_equal(fx_destroy(f, n->nested), 0);
    assert_int_equal(fx_destroy(f, n->parent), -EBUSY);
    assert_int_equal(fx_attach(f, f->cdev_a, 0, n->parent, &out), 0);
    assert_int_equal(fx_destroy(f, nested2), 0);
    assert_int_equal(fx_detach(f, f->cdev_a, 0), 0);
    assert_int_equal(fx_destroy(f, n->parent), 0);
    assert_int_equal(fx_unmap(f, f->ioas, 0, UINT64_MAX, NULL), 0);
    assert_int_equal(fx_destroy(f, f->ioas), 0);
    nest_free(n);
}

static void test_five_level_walk(void **state)
{
    NestFx *n = nest_new("fs5lp=on", false);
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x7000, .addr_width = 57 };
    uint64_t iova = (1ull << 48) | IOVA_BASE;   /* PML5 index 1 */
    IommufdSimFault fault;
    uint32_t id;

    pte_set(n, 0x7000 + 8, 0x1000 | PTE_ALL);
    assert_int_equal(fx_hwpt_alloc(n->f, n->f->dev_a, n->parent, 0, &s1, &id), 0);
    assert_int_equal(fx_attach(n->f, n->f->cdev_a, 0, id, NULL), 0);
    assert_int_equal(dma_read_byte(n, iova + 3 * PAGE, &fault), 4);
    assert_int_equal(dma_read_byte(n, IOVA_BASE, &fault), 0xee);   /* PML5 index 0 empty */
    assert_int_equal(fault.reason, IOMMUFD_SIM_FAULT_S1_NOT_PRESENT);
    nest_free(n);
}

static void test_hw_info_buffers(void **state)
{
    SimFixture *f = fx_new("fs5lp=on,pasid-bits=16");
    struct iommu_hw_info_vtd vtd;
    uint8_t big[40];
    struct iommu_hw_info h = { .size = sizeof(h), .dev_id = f->dev_a };

    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &h), 0);   /* data_len 0: query */
    assert_int_equal(h.data_len, 24);
    assert_int_equal(h.out_data_type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
    assert_int_equal(h.out_max_pasid_log2, 16);
    assert_true(h.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);

    h.data_len = sizeof(vtd);
    h.data_uptr = (uintptr_t)&vtd;
    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &h), 0);
    assert_int_equal(vtd.flags, IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17);
    assert_true(vtd.cap_reg & (1ull << 60));          /* FS5LP */
    assert_true(vtd.ecap_reg & (1ull << 26));         /* NEST */
    assert_int_equal((vtd.ecap_reg >> 35) & 0x1f, 15); /* PSS = bits - 1 */

    memset(big, 0xcc, sizeof(big));
    h.data_len = sizeof(big);
    h.data_uptr = (uintptr_t)big;
    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &h), 0);
    assert_int_equal(h.data_len, 24);
    assert_memory_equal(big, &vtd, 24);
    for (size_t i = 24; i < sizeof(big); i++) {
        assert_int_equal(big[i], 0);                  /* tail zeroed */
    }
    memset(big, 0xcc, sizeof(big));
    h.data_len = 12;
    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &h), 0);
    assert_memory_equal(big, &vtd, 12);
    assert_int_equal(big[12], 0xcc);                  /* truncated copy */
    assert_int_equal(h.data_len, 24);

    h.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
    h.in_data_type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &h), -EOPNOTSUPP);
    h.in_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &h), 0);
    h.flags = 2;
    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &h), -EOPNOTSUPP);
    h.flags = 0;
    h.__reserved[1] = 1;
    assert_int_equal(fx_ioctl(f, IOMMU_GET_HW_INFO, &h), -EOPNOTSUPP);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alloc_errors, setup, teardown),
        cmocka_unit_test(test_unit_without_nesting_or_dirty),
        cmocka_unit_test(test_attach_validates_s1),
        cmocka_unit_test_setup_teardown(test_dma_walk_and_ad_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_until_invalidated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidate_range_drops_and_keeps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leaf_keeps_paging_structure_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidate_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parent_unmap_flushes_nested, setup, teardown),
        cmocka_unit_test(test_replace_and_teardown),
        cmocka_unit_test(test_five_level_walk),
        cmocka_unit_test(test_hw_info_buffers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
