/*
 * Simulated VFIO device cdevs: BIND_IOMMUFD, ATTACH/DETACH_IOMMUFD_PT with
 * the iommufd core's attach/replace rules (fact sheet §3.1, §3.2), and the
 * device-side DMA entry point that exercises the attached translation.
 */
#include "iommufd-sim-internal.h"

static bool copy_in(void *dst, const void *arg, uint32_t minsz, uint32_t full)
{
    uint32_t argsz;

    memcpy(&argsz, arg, sizeof(argsz));
    if (argsz < minsz) {
        return false;
    }
    memset(dst, 0, full);
    memcpy(dst, arg, MIN(argsz, full));
    return true;
}

static int cdev_bind(SimDevice *dev, void *arg)
{
    struct vfio_device_bind_iommufd b;
    IommufdSim *sim = dev->sim;
    SimCtx *ctx;

    if (!copy_in(&b, arg, VFIO_DEVICE_BIND_IOMMUFD_MINSZ, sizeof(b))) {
        return -EINVAL;
    }
    if (b.flags & ~VFIO_DEVICE_BIND_FLAG_TOKEN) {
        return -EINVAL;
    }
    if ((b.flags & VFIO_DEVICE_BIND_FLAG_TOKEN) && b.argsz < sizeof(b)) {
        return -EINVAL;
    }
    if (b.iommufd < 0 || dev->ctx) {
        return -EINVAL;
    }
    ctx = sim_ctx_from_fd(sim, b.iommufd);
    if (!ctx) {
        return -EBADF;
    }
    /* DMA ownership is per IOMMU group: one context owns the whole group. */
    for (unsigned i = 0; i < sim->devices->len; i++) {
        SimDevice *other = g_ptr_array_index(sim->devices, i);

        if (other != dev && other->group == dev->group && other->ctx && other->ctx != ctx) {
            return -EBUSY;
        }
    }
    dev->ctx = ctx;
    ctx->bound_devices++;
    sim_obj_add(ctx, &dev->obj, SIM_OBJ_DEVICE);
    b.out_devid = dev->obj.id;
    memcpy(arg, &b, VFIO_DEVICE_BIND_IOMMUFD_MINSZ);
    return 0;
}

static void hwpt_put_attachment(SimDevice *dev, SimHwpt *h)
{
    h->obj.users--;
    sim_hwpt_flush(h);   /* the PASID entry teardown flushes its IOTLB */
    if (h->auto_domain && h->obj.users == 0) {
        sim_obj_remove(dev->ctx, &h->obj);
        sim_hwpt_free(h);
    }
}

static bool any_pasid_attached(SimDevice *dev)
{
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init(&it, dev->attached);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (GPOINTER_TO_UINT(key) != IOMMUFD_NO_PASID) {
            return true;
        }
    }
    return false;
}

/* Core + driver rules for putting h on (dev, pasid); 0 or -errno, no side effects. */
static int attach_checks(SimDevice *dev, uint32_t pasid, SimHwpt *h)
{
    SimHwpt *rid = g_hash_table_lookup(dev->attached, GUINT_TO_POINTER(IOMMUFD_NO_PASID));

    if (pasid != IOMMUFD_NO_PASID) {
        if (!(h->flags & IOMMU_HWPT_ALLOC_PASID)) {
            return -EINVAL;
        }
        if (rid && !(rid->flags & IOMMU_HWPT_ALLOC_PASID)) {
            return -EINVAL;
        }
    } else {
        if (any_pasid_attached(dev) && !(h->flags & IOMMU_HWPT_ALLOC_PASID)) {
            return -EINVAL;
        }
        /* A group shares one translation. */
        for (unsigned i = 0; i < dev->sim->devices->len; i++) {
            SimDevice *o = g_ptr_array_index(dev->sim->devices, i);
            SimHwpt *oh;

            if (o == dev || o->group != dev->group || o->ctx != dev->ctx) {
                continue;
            }
            oh = g_hash_table_lookup(o->attached, GUINT_TO_POINTER(IOMMUFD_NO_PASID));
            if (oh && oh != h) {
                return -EINVAL;
            }
        }
    }
    if (h->fault && !dev->pri) {
        return -ENODEV;   /* IOPF delivery needs PRI on the device */
    }
    return sim_hwpt_check_attach(h, dev, pasid);
}

/* Finds a reusable auto domain of the IOAS or makes one. */
static int auto_domain(SimDevice *dev, uint32_t pasid, SimIoas *ioas, SimHwpt **out,
                       bool *created)
{
    uint32_t flags = pasid != IOMMUFD_NO_PASID ? IOMMU_HWPT_ALLOC_PASID : 0;
    SimHwpt *h;
    int rc;

    *created = false;
    for (unsigned i = 0; i < ioas->hwpts->len; i++) {
        h = g_ptr_array_index(ioas->hwpts, i);
        /* An EINVAL from a candidate only means "incompatible, try the next". */
        if (h->auto_domain && attach_checks(dev, pasid, h) == 0) {
            *out = h;
            return 0;
        }
    }
    h = sim_hwpt_new_paging(dev->ctx, dev, ioas, flags, true, NULL, &rc);
    if (!h) {
        return rc;
    }
    *created = true;
    *out = h;
    return 0;
}

static int add_dev_resv(SimDevice *dev, SimIoas *ioas)
{
    for (unsigned i = 0; i < dev->resv->len; i++) {
        const struct iommu_iova_range *r = &g_array_index(dev->resv, struct iommu_iova_range, i);
        int rc = sim_ioas_add_resv(ioas, r->start, r->last, dev);

        if (rc) {
            sim_ioas_remove_resv(ioas, dev);
            return rc;
        }
    }
    return 0;
}

/* Attach, or replace when (dev, pasid) is attached already (as VFIO does). */
static int do_attach(SimDevice *dev, uint32_t pasid, uint32_t pt_id, uint32_t *out_id)
{
    SimCtx *ctx = dev->ctx;
    SimObj *obj = sim_obj_get(ctx, pt_id);
    SimHwpt *old = g_hash_table_lookup(dev->attached, GUINT_TO_POINTER(pasid));
    SimHwpt *h = NULL;
    bool created = false;
    int rc;

    if (!obj) {
        return -ENOENT;
    }
    switch (obj->type) {
    case SIM_OBJ_IOAS:
        if (old && old->auto_domain && old->ioas == (SimIoas *)obj) {
            *out_id = old->obj.id;   /* replace onto the same auto domain */
            return 0;
        }
        rc = auto_domain(dev, pasid, (SimIoas *)obj, &h, &created);
        if (rc) {
            return rc;
        }
        break;
    case SIM_OBJ_HWPT_PAGING:
    case SIM_OBJ_HWPT_NESTED:
        h = (SimHwpt *)obj;
        break;
    default:
        return -EINVAL;
    }
    if (h == old) {
        *out_id = h->obj.id;
        return 0;
    }
    rc = attach_checks(dev, pasid, h);
    if (rc) {
        goto out_free_auto;
    }
    /* Only requests without PASID carry the device's reserved regions. */
    if (pasid == IOMMUFD_NO_PASID && (!old || old->ioas != h->ioas)) {
        rc = add_dev_resv(dev, h->ioas);
        if (rc) {
            goto out_free_auto;
        }
    }
    /* Make before break: the new translation is in place before the old goes. */
    g_hash_table_insert(dev->attached, GUINT_TO_POINTER(pasid), h);
    h->obj.users++;
    if (old) {
        if (pasid == IOMMUFD_NO_PASID && old->ioas != h->ioas) {
            sim_ioas_remove_resv(old->ioas, dev);
        }
        hwpt_put_attachment(dev, old);
    }
    *out_id = h->obj.id;
    return 0;

out_free_auto:
    if (created) {
        sim_obj_remove(ctx, &h->obj);
        sim_hwpt_free(h);
    }
    return rc;
}

static int cdev_attach(SimDevice *dev, void *arg)
{
    struct vfio_device_attach_iommufd_pt a;
    uint32_t pasid = IOMMUFD_NO_PASID;
    uint32_t out_id = 0;
    int rc;

    if (!copy_in(&a, arg, VFIO_DEVICE_ATTACH_IOMMUFD_PT_MINSZ, sizeof(a))) {
        return -EINVAL;
    }
    if (a.flags & ~VFIO_DEVICE_ATTACH_PASID) {
        return -EINVAL;
    }
    if (a.flags & VFIO_DEVICE_ATTACH_PASID) {
        if (a.argsz < offsetof(struct vfio_device_attach_iommufd_pt, pasid) + 4) {
            return -EINVAL;
        }
        pasid = a.pasid;
        if (pasid == IOMMUFD_NO_PASID || pasid >= (1ull << sim_device_max_pasid_log2(dev))) {
            return -EINVAL;
        }
    }
    rc = do_attach(dev, pasid, a.pt_id, &out_id);
    if (rc) {
        return rc;
    }
    a.pt_id = out_id;
    memcpy((uint8_t *)arg + offsetof(struct vfio_device_attach_iommufd_pt, pt_id),
           &a.pt_id, sizeof(a.pt_id));
    return 0;
}

static int cdev_detach(SimDevice *dev, void *arg)
{
    struct vfio_device_detach_iommufd_pt d;
    uint32_t pasid = IOMMUFD_NO_PASID;
    SimHwpt *old;

    if (!copy_in(&d, arg, VFIO_DEVICE_DETACH_IOMMUFD_PT_MINSZ, sizeof(d))) {
        return -EINVAL;
    }
    if (d.flags & ~VFIO_DEVICE_DETACH_PASID) {
        return -EINVAL;
    }
    if (d.flags & VFIO_DEVICE_DETACH_PASID) {
        if (d.argsz < sizeof(d)) {
            return -EINVAL;
        }
        pasid = d.pasid;
    }
    old = g_hash_table_lookup(dev->attached, GUINT_TO_POINTER(pasid));
    if (!old) {
        return 0;   /* detaching nothing is a silent success */
    }
    g_hash_table_remove(dev->attached, GUINT_TO_POINTER(pasid));
    if (pasid == IOMMUFD_NO_PASID) {
        sim_ioas_remove_resv(old->ioas, dev);
    }
    hwpt_put_attachment(dev, old);
    return 0;
}

int sim_cdev_ioctl(IommufdSim *sim, SimDevice *dev, unsigned long request, void *arg)
{
    if (request != VFIO_DEVICE_BIND_IOMMUFD && request != VFIO_DEVICE_ATTACH_IOMMUFD_PT &&
        request != VFIO_DEVICE_DETACH_IOMMUFD_PT) {
        /* Other VFIO device ioctls are not modelled; before bind all fail EINVAL. */
        return dev->ctx ? -ENOTTY : -EINVAL;
    }
    if (!arg) {
        return -EFAULT;
    }
    if (request == VFIO_DEVICE_BIND_IOMMUFD) {
        return cdev_bind(dev, arg);
    }
    if (!dev->ctx) {
        return -EINVAL;   /* nothing works on a cdev before BIND */
    }
    return request == VFIO_DEVICE_ATTACH_IOMMUFD_PT ? cdev_attach(dev, arg)
                                                    : cdev_detach(dev, arg);
}

/* ---- DMA ---- */

static bool dma_fail(IommufdSimFault *fault, IommufdSimFaultReason why, uint64_t addr,
                     uint32_t pasid, bool is_write, SimHwpt *h)
{
    if (fault) {
        *fault = (IommufdSimFault) {
            .reason = why, .addr = addr, .pasid = pasid, .is_write = is_write,
            .hwpt_id = h ? h->obj.id : 0,
        };
    }
    return false;
}

bool iommufd_sim_dma(IommufdSim *sim, const char *host_bdf, uint32_t pasid,
                     uint64_t iova, void *buf, size_t len, bool is_write,
                     IommufdSimFault *fault)
{
    g_autofree char *bdf = NULL;
    SimDevice *dev = sim_parse_bdf(host_bdf, &bdf) ? sim_find_device(sim, bdf) : NULL;
    SimHwpt *h;
    uint8_t *p = buf;

    h = dev && dev->ctx ? g_hash_table_lookup(dev->attached, GUINT_TO_POINTER(pasid)) : NULL;
    if (!h) {
        return dma_fail(fault, IOMMUFD_SIM_FAULT_BLOCKED, iova, pasid, is_write, NULL);
    }
    if (fault) {
        memset(fault, 0, sizeof(*fault));
    }
    while (len) {
        IommufdSimFaultReason why;
        uint64_t gpa, left;
        uint8_t *host;
        size_t chunk;

        if (h->parent) {
            if (!sim_hwpt_translate(h, iova, is_write, &gpa, &left, &why)) {
                dma_fail(fault, why, iova, pasid, is_write, h);
                if (h->fault && fault) {
                    fault->queued = sim_fault_report(h->fault, dev->obj.id, pasid, iova,
                                                     is_write);
                } else if (h->fault) {
                    sim_fault_report(h->fault, dev->obj.id, pasid, iova, is_write);
                }
                return false;
            }
        } else {
            gpa = iova;
            left = SIM_PAGE_SIZE - (iova & (SIM_PAGE_SIZE - 1));
        }
        chunk = MIN((uint64_t)len, MIN(left, SIM_PAGE_SIZE - (gpa & (SIM_PAGE_SIZE - 1))));
        host = sim_ioas_host_ptr(h->ioas, gpa, chunk, is_write, &why);
        if (!host) {
            return dma_fail(fault, why, iova, pasid, is_write, h);
        }
        if (is_write) {
            memcpy(host, p, chunk);
        } else {
            memcpy(p, host, chunk);
        }
        p += chunk;
        iova += chunk;
        len -= chunk;
    }
    return true;
}
