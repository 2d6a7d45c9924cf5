/*
 * How vtdnest talks to "the kernel's" iommufd: a small vtable with one real
 * implementation (open(2)/ioctl(2)/read(2)/write(2)) and one in-process
 * simulator (vtdnest/iommufd-sim.h). Both take the very same request numbers
 * and struct pointers, so everything above this layer is shared.
 *
 * Conventions: ioctl/read/write return 0 (or a byte count) on success and
 * -errno on failure; open functions return an fd >= 0 or -1 with errp set.
 */
#ifndef VTDNEST_IOMMUFD_TRANSPORT_H
#define VTDNEST_IOMMUFD_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct IommufdTransport IommufdTransport;

/*
 * Error domain of every iommufd/VFIO failure in vtdnest: the GError code is
 * the positive errno the kernel (or simulator) returned, so callers can test
 * g_error_matches(err, IOMMUFD_ERROR, EBUSY).
 */
#define IOMMUFD_ERROR (iommufd_error_quark())
GQuark iommufd_error_quark(void);

struct IommufdTransport {
    const char *name;   /* "real", "sim", "recorder" (for messages) */
    /* Opens the iommufd character device (/dev/iommu). */
    int (*open_iommufd)(IommufdTransport *t, GError **errp);
    /* Opens a VFIO device cdev such as /dev/vfio/devices/vfio3. */
    int (*open_cdev)(IommufdTransport *t, const char *path, GError **errp);
    int (*ioctl)(IommufdTransport *t, int fd, unsigned long request, void *arg);
    /* Fault-queue fds: read records / write page responses. */
    ssize_t (*read)(IommufdTransport *t, int fd, void *buf, size_t len);
    ssize_t (*write)(IommufdTransport *t, int fd, const void *buf, size_t len);
    int (*close)(IommufdTransport *t, int fd);
    void (*destroy)(IommufdTransport *t);
};

static inline int iommufd_transport_ioctl(IommufdTransport *t, int fd,
                                          unsigned long request, void *arg)
{
    return t->ioctl(t, fd, request, arg);
}

static inline int iommufd_transport_close(IommufdTransport *t, int fd)
{
    return t->close(t, fd);
}

/* Frees a transport made by one of the constructors below (NULL is fine). */
void iommufd_transport_free(IommufdTransport *t);

/* Name of an iommufd/VFIO request ("IOMMU_IOAS_MAP"), or "unknown". */
const char *iommufd_request_name(unsigned long request);

/*
 * The real kernel. iommu_path is normally "/dev/iommu" (NULL means that);
 * tests pass another node to exercise the syscall path without a kernel.
 */
IommufdTransport *iommufd_real_transport_new(const char *iommu_path);

/* ---- recording wrapper ---- */

typedef struct IommufdRecord {
    int fd;
    unsigned long request;
    GBytes *arg;   /* the argument as sent: the first size/argsz bytes */
    int result;    /* what the inner transport returned */
} IommufdRecord;

/*
 * Wraps inner (not owned) and logs every ioctl before forwarding it, so tests
 * can prove two transports received byte-identical requests.
 */
IommufdTransport *iommufd_recorder_new(IommufdTransport *inner);
/* The records so far (array of IommufdRecord, owned by the recorder). */
const GArray *iommufd_recorder_log(IommufdTransport *recorder);
void iommufd_recorder_clear(IommufdTransport *recorder);

/* Argument size the kernel would read for this request: the leading u32. */
size_t iommufd_request_arg_size(const void *arg);

#endif
