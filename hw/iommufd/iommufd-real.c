/*
 * The real kernel transport: /dev/iommu and VFIO device cdevs through
 * open(2)/ioctl(2)/read(2)/write(2). Open failures explain the likely cause,
 * since "No such file or directory" alone sends users hunting in the wrong place.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vtdnest/iommufd-transport.h"

typedef struct RealTransport {
    IommufdTransport base;   /* first: the vtable the callers see */
    char *iommu_path;
} RealTransport;

static const char *open_hint(int err, bool is_iommu)
{
    switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        return is_iommu
            ? "no such device: the kernel lacks CONFIG_IOMMUFD or the iommufd "
              "module is not loaded"
            : "no such device: the device is not bound to vfio-pci, or the kernel "
              "lacks CONFIG_VFIO_DEVICE_CDEV";
    case EACCES:
    case EPERM:
        return "permission denied: run as root or grant this user read/write "
               "access to the device node (e.g. a udev rule or chmod)";
    case EBUSY:
        return "device busy: another process (or a VFIO group user) owns it";
    default:
        return "open failed";
    }
}

static int open_node(const char *path, bool is_iommu, GError **errp)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        int err = errno;

        g_set_error(errp, IOMMUFD_ERROR, err,
                    "cannot open %s: %s (%s)", path, open_hint(err, is_iommu),
                    g_strerror(err));
    }
    return fd;
}

static int real_open_iommufd(IommufdTransport *t, GError **errp)
{
    return open_node(((RealTransport *)t)->iommu_path, true, errp);
}

static int real_open_cdev(IommufdTransport *t, const char *path, GError **errp)
{
    return open_node(path, false, errp);
}

static int real_ioctl(IommufdTransport *t, int fd, unsigned long request, void *arg)
{
    int rc;

    do {
        rc = ioctl(fd, request, arg);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

static ssize_t real_read(IommufdTransport *t, int fd, void *buf, size_t len)
{
    ssize_t n;

    do {
        n = read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static ssize_t real_write(IommufdTransport *t, int fd, const void *buf, size_t len)
{
    ssize_t n;

    do {
        n = write(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static int real_close(IommufdTransport *t, int fd)
{
    return close(fd) < 0 ? -errno : 0;
}

static void real_destroy(IommufdTransport *t)
{
    RealTransport *r = (RealTransport *)t;

    g_free(r->iommu_path);
    g_free(r);
}

IommufdTransport *iommufd_real_transport_new(const char *iommu_path)
{
    RealTransport *r = g_new0(RealTransport, 1);

    r->base = (IommufdTransport) {
        .name = "real",
        .open_iommufd = real_open_iommufd,
        .open_cdev = real_open_cdev,
        .ioctl = real_ioctl,
        .read = real_read,
        .write = real_write,
        .close = real_close,
        .destroy = real_destroy,
    };
    r->iommu_path = g_strdup(iommu_path ? iommu_path : "/dev/iommu");
    return &r->base;
}
