/*
 * Typed iommufd / VFIO-cdev operations over a transport. Each function builds
 * the full current struct, issues one request and turns -errno into a GError
 * whose message names the request, the key arguments and the errno.
 */
#include <errno.h>
#include <string.h>

#include "vtdnest/iommufd-backend.h"

const char *iommufd_errno_name(int err)
{
    static const struct {
        int err;
        const char *name;
    } names[] = {
        { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EIO, "EIO" }, { E2BIG, "E2BIG" },
        { EBADF, "EBADF" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" },
        { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" },
        { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" }, { ENOSPC, "ENOSPC" },
        { ENOTTY, "ENOTTY" }, { EOVERFLOW, "EOVERFLOW" }, { EMSGSIZE, "EMSGSIZE" },
        { EOPNOTSUPP, "EOPNOTSUPP" }, { EADDRINUSE, "EADDRINUSE" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].err == err) {
            return names[i].name;
        }
    }
    return "errno ?";
}

/* Issues the request; on failure sets "<REQUEST> <what>: <strerror> (<ENAME>)". */
static int issue(IommufdTransport *t, int fd, unsigned long request, void *arg,
                 GError **errp, const char *fmt, ...) G_GNUC_PRINTF(6, 7);

static int issue(IommufdTransport *t, int fd, unsigned long request, void *arg,
                 GError **errp, const char *fmt, ...)
{
    int rc = iommufd_transport_ioctl(t, fd, request, arg);

    if (rc < 0) {
        va_list ap;
        g_autofree char *what = NULL;

        va_start(ap, fmt);
        what = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_set_error(errp, IOMMUFD_ERROR, -rc, "%s %s: %s (%s)",
                    iommufd_request_name(request), what, g_strerror(-rc),
                    iommufd_errno_name(-rc));
    }
    return rc;
}

IommufdBackend *iommufd_backend_open(IommufdTransport *t, GError **errp)
{
    int fd = t->open_iommufd(t, errp);

    return fd < 0 ? NULL : iommufd_backend_new_from_fd(t, fd);
}

IommufdBackend *iommufd_backend_new_from_fd(IommufdTransport *t, int fd)
{
    IommufdBackend *be = g_new0(IommufdBackend, 1);

    be->t = t;
    be->fd = fd;
    return be;
}

void iommufd_backend_close(IommufdBackend *be)
{
    if (be) {
        iommufd_transport_close(be->t, be->fd);
        g_free(be);
    }
}

bool iommufd_backend_alloc_ioas(IommufdBackend *be, uint32_t *ioas_id, GError **errp)
{
    struct iommu_ioas_alloc a = { .size = sizeof(a) };

    if (issue(be->t, be->fd, IOMMU_IOAS_ALLOC, &a, errp, "(new IOAS)") < 0) {
        return false;
    }
    *ioas_id = a.out_ioas_id;
    return true;
}

bool iommufd_backend_destroy(IommufdBackend *be, uint32_t id, GError **errp)
{
    struct iommu_destroy d = { .size = sizeof(d), .id = id };

    return issue(be->t, be->fd, IOMMU_DESTROY, &d, errp, "object %u", id) == 0;
}

bool iommufd_backend_map(IommufdBackend *be, uint32_t ioas_id, uint64_t iova,
                         uint64_t len, void *host_ptr, bool readonly, GError **errp)
{
    struct iommu_ioas_map m = {
        .size = sizeof(m),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                 (readonly ? 0 : IOMMU_IOAS_MAP_WRITEABLE),
        .ioas_id = ioas_id,
        .user_va = (uintptr_t)host_ptr,
        .length = len,
        .iova = iova,
    };

    return issue(be->t, be->fd, IOMMU_IOAS_MAP, &m, errp,
                 "ioas %u iova 0x%" G_GINT64_MODIFIER "x len 0x%" G_GINT64_MODIFIER "x%s",
                 ioas_id, iova, len, readonly ? " read-only" : "") == 0;
}

bool iommufd_backend_unmap(IommufdBackend *be, uint32_t ioas_id, uint64_t iova,
                           uint64_t len, uint64_t *unmapped, GError **errp)
{
    struct iommu_ioas_unmap u = {
        .size = sizeof(u), .ioas_id = ioas_id, .iova = iova, .length = len,
    };

    if (issue(be->t, be->fd, IOMMU_IOAS_UNMAP, &u, errp,
              "ioas %u iova 0x%" G_GINT64_MODIFIER "x len 0x%" G_GINT64_MODIFIER "x",
              ioas_id, iova, len) < 0) {
        return false;
    }
    if (unmapped) {
        *unmapped = u.length;
    }
    return true;
}

GArray *iommufd_backend_get_iova_ranges(IommufdBackend *be, uint32_t ioas_id,
                                        uint64_t *alignment, GError **errp)
{
    GArray *out = g_array_new(false, true, sizeof(struct iommu_iova_range));
    struct iommu_ioas_iova_ranges r = { .size = sizeof(r), .ioas_id = ioas_id };
    int rc;

    /* Ask for the count first; a too-small array answers EMSGSIZE + count. */
    for (int attempt = 0; attempt < 4; attempt++) {
        g_array_set_size(out, r.num_iovas);
        r.allowed_iovas = (uintptr_t)out->data;
        rc = iommufd_transport_ioctl(be->t, be->fd, IOMMU_IOAS_IOVA_RANGES, &r);
        if (rc != -EMSGSIZE) {
            break;
        }
    }
    if (rc < 0) {
        g_set_error(errp, IOMMUFD_ERROR, -rc, "IOMMU_IOAS_IOVA_RANGES ioas %u: %s (%s)",
                    ioas_id, g_strerror(-rc), iommufd_errno_name(-rc));
        g_array_free(out, true);
        return NULL;
    }
    g_array_set_size(out, r.num_iovas);
    if (alignment) {
        *alignment = r.out_iova_alignment;
    }
    return out;
}

bool iommufd_backend_allow_iovas(IommufdBackend *be, uint32_t ioas_id,
                                 const struct iommu_iova_range *ranges, uint32_t n,
                                 GError **errp)
{
    struct iommu_ioas_allow_iovas a = {
        .size = sizeof(a), .ioas_id = ioas_id, .num_iovas = n,
        .allowed_iovas = (uintptr_t)ranges,
    };

    return issue(be->t, be->fd, IOMMU_IOAS_ALLOW_IOVAS, &a, errp,
                 "ioas %u (%u ranges)", ioas_id, n) == 0;
}

bool iommufd_backend_alloc_hwpt(IommufdBackend *be, uint32_t dev_id, uint32_t pt_id,
                                uint32_t flags, uint32_t data_type, const void *data,
                                uint32_t data_len, uint32_t fault_id,
                                uint32_t *out_hwpt_id, GError **errp)
{
    struct iommu_hwpt_alloc a = {
        .size = sizeof(a),
        .flags = flags,
        .dev_id = dev_id,
        .pt_id = pt_id,
        .data_type = data_type,
        .data_len = data_len,
        .data_uptr = (uintptr_t)data,
        .fault_id = (flags & IOMMU_HWPT_FAULT_ID_VALID) ? fault_id : 0,
    };

    if (issue(be->t, be->fd, IOMMU_HWPT_ALLOC, &a, errp,
              "dev %u pt %u flags 0x%x data type %u len %u", dev_id, pt_id, flags,
              data_type, data_len) < 0) {
        return false;
    }
    *out_hwpt_id = a.out_hwpt_id;
    return true;
}

bool iommufd_backend_invalidate(IommufdBackend *be, uint32_t hwpt_id,
                                const struct iommu_hwpt_vtd_s1_invalidate *entries,
                                uint32_t n, uint32_t *done, GError **errp)
{
    struct iommu_hwpt_invalidate inv = {
        .size = sizeof(inv),
        .hwpt_id = hwpt_id,
        .data_uptr = (uintptr_t)entries,
        .data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
        .entry_len = sizeof(*entries),
        .entry_num = n,
    };
    int rc = issue(be->t, be->fd, IOMMU_HWPT_INVALIDATE, &inv, errp,
                   "hwpt %u (%u entries)", hwpt_id, n);

    if (done) {
        *done = inv.entry_num;
    }
    if (rc < 0 && errp && *errp) {
        g_prefix_error(errp, "after %u of %u entries: ", inv.entry_num, n);
    }
    return rc == 0;
}

bool iommufd_backend_get_hw_info(IommufdBackend *be, uint32_t dev_id,
                                 IommufdHwInfo *info, GError **errp)
{
    struct iommu_hw_info h = {
        .size = sizeof(h),
        .dev_id = dev_id,
        .data_len = sizeof(info->vtd),
        .data_uptr = (uintptr_t)&info->vtd,
    };

    /* The kernel fills info->vtd directly; nothing else is touched on failure. */
    if (issue(be->t, be->fd, IOMMU_GET_HW_INFO, &h, errp, "dev %u", dev_id) < 0) {
        return false;
    }
    info->type = h.out_data_type;
    info->data_len = h.data_len;
    info->capabilities = h.out_capabilities;
    info->max_pasid_log2 = h.out_max_pasid_log2;
    return true;
}

bool iommufd_backend_alloc_fault_queue(IommufdBackend *be, uint32_t *fault_id,
                                       int *fault_fd, GError **errp)
{
    struct iommu_fault_alloc a = { .size = sizeof(a) };

    if (issue(be->t, be->fd, IOMMU_FAULT_QUEUE_ALLOC, &a, errp, "(new queue)") < 0) {
        return false;
    }
    *fault_id = a.out_fault_id;
    *fault_fd = (int)a.out_fault_fd;
    return true;
}

bool iommufd_backend_read_faults(IommufdBackend *be, int fault_fd,
                                 struct iommu_hwpt_pgfault *recs, unsigned max,
                                 unsigned *n, GError **errp)
{
    ssize_t got = be->t->read(be->t, fault_fd, recs, (size_t)max * sizeof(*recs));

    if (got < 0) {
        g_set_error(errp, IOMMUFD_ERROR, (int)-got, "read of fault queue fd %d: %s (%s)",
                    fault_fd, g_strerror((int)-got), iommufd_errno_name((int)-got));
        return false;
    }
    *n = got / sizeof(*recs);
    return true;
}

bool iommufd_backend_page_response(IommufdBackend *be, int fault_fd, uint32_t cookie,
                                   uint32_t code, GError **errp)
{
    struct iommu_hwpt_page_response r = { .cookie = cookie, .code = code };
    ssize_t rc = be->t->write(be->t, fault_fd, &r, sizeof(r));

    if (rc != (ssize_t)sizeof(r)) {
        int err = rc < 0 ? (int)-rc : EIO;

        g_set_error(errp, IOMMUFD_ERROR, err,
                    "page response cookie %u on fault fd %d: %s (%s)", cookie, fault_fd,
                    g_strerror(err), iommufd_errno_name(err));
        return false;
    }
    return true;
}

int vfio_cdev_open(IommufdBackend *be, const char *path, GError **errp)
{
    return be->t->open_cdev(be->t, path, errp);
}

void vfio_cdev_close(IommufdBackend *be, int cdev_fd)
{
    iommufd_transport_close(be->t, cdev_fd);
}

bool vfio_cdev_bind(IommufdBackend *be, int cdev_fd, uint32_t *dev_id, GError **errp)
{
    /* 16 bytes: the form every kernel with device cdevs accepts. */
    struct vfio_device_bind_iommufd b = {
        .argsz = VFIO_DEVICE_BIND_IOMMUFD_MINSZ, .iommufd = be->fd,
    };

    if (issue(be->t, cdev_fd, VFIO_DEVICE_BIND_IOMMUFD, &b, errp,
              "cdev fd %d to iommufd %d", cdev_fd, be->fd) < 0) {
        return false;
    }
    *dev_id = b.out_devid;
    return true;
}

bool vfio_cdev_attach(IommufdBackend *be, int cdev_fd, uint32_t pasid, uint32_t pt_id,
                      uint32_t *out_hwpt_id, GError **errp)
{
    /* Without PASID use the 12-byte form so kernels before 6.15 accept it. */
    struct vfio_device_attach_iommufd_pt a = {
        .argsz = pasid != IOMMUFD_NO_PASID ? sizeof(a) : VFIO_DEVICE_ATTACH_IOMMUFD_PT_MINSZ,
        .flags = pasid != IOMMUFD_NO_PASID ? VFIO_DEVICE_ATTACH_PASID : 0,
        .pt_id = pt_id,
        .pasid = pasid,
    };

    if (issue(be->t, cdev_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a, errp,
              "cdev fd %d pasid %u to pt %u", cdev_fd, pasid, pt_id) < 0) {
        return false;
    }
    if (out_hwpt_id) {
        *out_hwpt_id = a.pt_id;
    }
    return true;
}

bool vfio_cdev_detach(IommufdBackend *be, int cdev_fd, uint32_t pasid, GError **errp)
{
    struct vfio_device_detach_iommufd_pt d = {
        .argsz = pasid != IOMMUFD_NO_PASID ? sizeof(d) : VFIO_DEVICE_DETACH_IOMMUFD_PT_MINSZ,
        .flags = pasid != IOMMUFD_NO_PASID ? VFIO_DEVICE_DETACH_PASID : 0,
        .pasid = pasid,
    };

    return issue(be->t, cdev_fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d, errp,
                 "cdev fd %d pasid %u", cdev_fd, pasid) == 0;
}

/* ---- IOMMU_OPTION ------------------------------------------------------- */

static bool backend_option(IommufdBackend *be, uint16_t op, uint32_t option_id,
                           uint32_t object_id, uint64_t *val, GError **errp)
{
    struct iommu_option o = {
        .size = sizeof(o),
        .option_id = option_id,
        .op = op,
        .object_id = object_id,
        .val64 = *val,
    };

    if (issue(be->t, be->fd, IOMMU_OPTION, &o, errp, "%s option %u object %u",
              op == IOMMU_OPTION_OP_SET ? "set" : "get", option_id,
              object_id) < 0) {
        return false;
    }
    *val = o.val64;
    return true;
}

bool iommufd_backend_set_option(IommufdBackend *be, uint32_t option_id,
                                uint32_t object_id, uint64_t val, GError **errp)
{
    return backend_option(be, IOMMU_OPTION_OP_SET, option_id, object_id, &val,
                          errp);
}

bool iommufd_backend_get_option(IommufdBackend *be, uint32_t option_id,
                                uint32_t object_id, uint64_t *val, GError **errp)
{
    *val = 0;
    return backend_option(be, IOMMU_OPTION_OP_GET, option_id, object_id, val,
                          errp);
}
