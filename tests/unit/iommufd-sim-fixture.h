/*
 * Shared set-up for the iommufd simulator tests: one VT-d unit, a few host
 * devices, an open iommufd and bound device cdevs, plus tiny ioctl helpers
 * that return -errno like the transport.
 */
#ifndef IOMMUFD_SIM_FIXTURE_H
#define IOMMUFD_SIM_FIXTURE_H

#include <errno.h>
#include <string.h>

#include "vtdnest/iommufd-backend.h"
#include "vtdnest/iommufd-sim.h"
#include "vtdnest/iommufd-uapi.h"

#define DEV_A "0000:03:00.0"
#define DEV_B "0000:04:00.0"

typedef struct SimFixture {
    IommufdSim *sim;
    IommufdTransport *t;
    int fd;            /* iommufd */
    int cdev_a, cdev_b;
    uint32_t dev_a, dev_b;
    uint32_t ioas;
} SimFixture;

static inline int fx_ioctl(SimFixture *f, unsigned long req, void *arg)
{
    return f->t->ioctl(f->t, f->fd, req, arg);
}

static inline int fx_cdev_ioctl(SimFixture *f, int cdev, unsigned long req, void *arg)
{
    return f->t->ioctl(f->t, cdev, req, arg);
}

static inline int fx_bind(SimFixture *f, int cdev, uint32_t *dev_id)
{
    struct vfio_device_bind_iommufd b = { .argsz = 16, .iommufd = f->fd };
    int rc = fx_cdev_ioctl(f, cdev, VFIO_DEVICE_BIND_IOMMUFD, &b);

    *dev_id = b.out_devid;
    return rc;
}

static inline int fx_attach(SimFixture *f, int cdev, uint32_t pasid, uint32_t pt_id,
                            uint32_t *out)
{
    struct vfio_device_attach_iommufd_pt a = {
        .argsz = sizeof(a), .flags = pasid ? VFIO_DEVICE_ATTACH_PASID : 0,
        .pt_id = pt_id, .pasid = pasid,
    };
    int rc = fx_cdev_ioctl(f, cdev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

    if (out) {
        *out = a.pt_id;
    }
    return rc;
}

static inline int fx_detach(SimFixture *f, int cdev, uint32_t pasid)
{
    struct vfio_device_detach_iommufd_pt d = {
        .argsz = sizeof(d), .flags = pasid ? VFIO_DEVICE_DETACH_PASID : 0, .pasid = pasid,
    };

    return fx_cdev_ioctl(f, cdev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static inline int fx_alloc_ioas(SimFixture *f, uint32_t *id)
{
    struct iommu_ioas_alloc a = { .size = sizeof(a) };
    int rc = fx_ioctl(f, IOMMU_IOAS_ALLOC, &a);

    *id = a.out_ioas_id;
    return rc;
}

static inline int fx_destroy(SimFixture *f, uint32_t id)
{
    struct iommu_destroy d = { .size = sizeof(d), .id = id };

    return fx_ioctl(f, IOMMU_DESTROY, &d);
}

static inline int fx_map(SimFixture *f, uint32_t ioas, uint64_t iova, uint64_t len,
                         void *host, uint32_t extra_flags)
{
    struct iommu_ioas_map m = {
        .size = sizeof(m),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                 IOMMU_IOAS_MAP_WRITEABLE | extra_flags,
        .ioas_id = ioas, .user_va = (uintptr_t)host, .length = len, .iova = iova,
    };

    return fx_ioctl(f, IOMMU_IOAS_MAP, &m);
}

static inline int fx_unmap(SimFixture *f, uint32_t ioas, uint64_t iova, uint64_t len,
                           uint64_t *out_len)
{
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = iova,
                                  .length = len };
    int rc = fx_ioctl(f, IOMMU_IOAS_UNMAP, &u);

    if (out_len) {
        *out_len = u.length;
    }
    return rc;
}

static inline int fx_hwpt_alloc(SimFixture *f, uint32_t dev, uint32_t pt, uint32_t flags,
                                const struct iommu_hwpt_vtd_s1 *s1, uint32_t *out)
{
    struct iommu_hwpt_alloc a = {
        .size = sizeof(a), .flags = flags, .dev_id = dev, .pt_id = pt,
        .data_type = s1 ? IOMMU_HWPT_DATA_VTD_S1 : IOMMU_HWPT_DATA_NONE,
        .data_len = s1 ? sizeof(*s1) : 0, .data_uptr = (uintptr_t)s1,
    };
    int rc = fx_ioctl(f, IOMMU_HWPT_ALLOC, &a);

    *out = a.out_hwpt_id;
    return rc;
}

/*
 * units: option string of unit u0 (NULL: defaults). Devices: A on u0 group 5
 * (PRI capable), B on u0 group 6. Both opened and bound; one IOAS allocated.
 */
static inline SimFixture *fx_new(const char *unit_opts)
{
    SimFixture *f = g_new0(SimFixture, 1);
    GError *err = NULL;
    g_autofree char *u = g_strdup_printf("id=u0%s%s", unit_opts ? "," : "",
                                         unit_opts ? unit_opts : "");

    f->sim = iommufd_sim_new();
    f->t = iommufd_sim_transport(f->sim);
    g_assert_true(iommufd_sim_add_unit(f->sim, u, &err));
    g_assert_true(iommufd_sim_add_device(f->sim, "host=" DEV_A ",unit=u0,group=5,pri=on", &err));
    g_assert_true(iommufd_sim_add_device(f->sim, "host=" DEV_B ",unit=u0,group=6", &err));
    f->fd = f->t->open_iommufd(f->t, &err);
    g_assert_cmpint(f->fd, >=, 0);
    f->cdev_a = f->t->open_cdev(f->t, iommufd_sim_cdev_path(f->sim, DEV_A), &err);
    f->cdev_b = f->t->open_cdev(f->t, iommufd_sim_cdev_path(f->sim, DEV_B), &err);
    g_assert_no_error(err);
    g_assert_cmpint(fx_bind(f, f->cdev_a, &f->dev_a), ==, 0);
    g_assert_cmpint(fx_bind(f, f->cdev_b, &f->dev_b), ==, 0);
    g_assert_cmpint(fx_alloc_ioas(f, &f->ioas), ==, 0);
    return f;
}

static inline void fx_free(SimFixture *f)
{
    iommufd_sim_free(f->sim);
    g_free(f);
}

#endif
