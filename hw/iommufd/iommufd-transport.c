/*
 * Transport helpers shared by the real and simulated paths: request names for
 * messages, and the recording wrapper used by the encoding tests.
 */
#include <errno.h>
#include <string.h>

#include "vtdnest/iommufd-transport.h"
#include "vtdnest/iommufd-uapi.h"

/* Largest argument the recorder copies; every struct we use is far smaller. */
#define RECORD_MAX_ARG 4096

G_DEFINE_QUARK(vtdnest-iommufd-error-quark, iommufd_error)

void iommufd_transport_free(IommufdTransport *t)
{
    if (t) {
        t->destroy(t);
    }
}

const char *iommufd_request_name(unsigned long request)
{
    static const struct {
        unsigned long request;
        const char *name;
    } names[] = {
        { IOMMU_DESTROY, "IOMMU_DESTROY" },
        { IOMMU_IOAS_ALLOC, "IOMMU_IOAS_ALLOC" },
        { IOMMU_IOAS_ALLOW_IOVAS, "IOMMU_IOAS_ALLOW_IOVAS" },
        { IOMMU_IOAS_COPY, "IOMMU_IOAS_COPY" },
        { IOMMU_IOAS_IOVA_RANGES, "IOMMU_IOAS_IOVA_RANGES" },
        { IOMMU_IOAS_MAP, "IOMMU_IOAS_MAP" },
        { IOMMU_IOAS_UNMAP, "IOMMU_IOAS_UNMAP" },
        { IOMMU_OPTION, "IOMMU_OPTION" },
        { IOMMU_VFIO_IOAS, "IOMMU_VFIO_IOAS" },
        { IOMMU_HWPT_ALLOC, "IOMMU_HWPT_ALLOC" },
        { IOMMU_GET_HW_INFO, "IOMMU_GET_HW_INFO" },
        { IOMMU_HWPT_SET_DIRTY_TRACKING, "IOMMU_HWPT_SET_DIRTY_TRACKING" },
        { IOMMU_HWPT_GET_DIRTY_BITMAP, "IOMMU_HWPT_GET_DIRTY_BITMAP" },
        { IOMMU_HWPT_INVALIDATE, "IOMMU_HWPT_INVALIDATE" },
        { IOMMU_FAULT_QUEUE_ALLOC, "IOMMU_FAULT_QUEUE_ALLOC" },
        { IOMMU_IOAS_MAP_FILE, "IOMMU_IOAS_MAP_FILE" },
        { IOMMU_VIOMMU_ALLOC, "IOMMU_VIOMMU_ALLOC" },
        { IOMMU_VDEVICE_ALLOC, "IOMMU_VDEVICE_ALLOC" },
        { IOMMU_IOAS_CHANGE_PROCESS, "IOMMU_IOAS_CHANGE_PROCESS" },
        { IOMMU_VEVENTQ_ALLOC, "IOMMU_VEVENTQ_ALLOC" },
        { IOMMU_HW_QUEUE_ALLOC, "IOMMU_HW_QUEUE_ALLOC" },
        { VFIO_DEVICE_BIND_IOMMUFD, "VFIO_DEVICE_BIND_IOMMUFD" },
        { VFIO_DEVICE_ATTACH_IOMMUFD_PT, "VFIO_DEVICE_ATTACH_IOMMUFD_PT" },
        { VFIO_DEVICE_DETACH_IOMMUFD_PT, "VFIO_DEVICE_DETACH_IOMMUFD_PT" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].request == request) {
            return names[i].name;
        }
    }
    return "unknown";
}

size_t iommufd_request_arg_size(const void *arg)
{
    uint32_t size;

    if (!arg) {
        return 0;
    }
    memcpy(&size, arg, sizeof(size));
    return MIN(size, RECORD_MAX_ARG);
}

/* ---- recorder ---- */

typedef struct Recorder {
    IommufdTransport base;   /* first: the vtable the callers see */
    IommufdTransport *inner;
    GArray *log;             /* IommufdRecord */
} Recorder;

static Recorder *to_recorder(IommufdTransport *t)
{
    return (Recorder *)t;
}

static void record_clear_one(gpointer p)
{
    IommufdRecord *r = p;

    g_bytes_unref(r->arg);
}

static int rec_open_iommufd(IommufdTransport *t, GError **errp)
{
    IommufdTransport *in = to_recorder(t)->inner;

    return in->open_iommufd(in, errp);
}

static int rec_open_cdev(IommufdTransport *t, const char *path, GError **errp)
{
    IommufdTransport *in = to_recorder(t)->inner;

    return in->open_cdev(in, path, errp);
}

static int rec_ioctl(IommufdTransport *t, int fd, unsigned long request, void *arg)
{
    Recorder *r = to_recorder(t);
    IommufdRecord rec = {
        .fd = fd,
        .request = request,
        /* Copied before forwarding: the request exactly as sent. */
        .arg = g_bytes_new(arg, iommufd_request_arg_size(arg)),
    };

    rec.result = r->inner->ioctl(r->inner, fd, request, arg);
    g_array_append_val(r->log, rec);
    return rec.result;
}

static ssize_t rec_read(IommufdTransport *t, int fd, void *buf, size_t len)
{
    IommufdTransport *in = to_recorder(t)->inner;

    return in->read(in, fd, buf, len);
}

static ssize_t rec_write(IommufdTransport *t, int fd, const void *buf, size_t len)
{
    IommufdTransport *in = to_recorder(t)->inner;

    return in->write(in, fd, buf, len);
}

static int rec_close(IommufdTransport *t, int fd)
{
    IommufdTransport *in = to_recorder(t)->inner;

    return in->close(in, fd);
}

static void rec_destroy(IommufdTransport *t)
{
    Recorder *r = to_recorder(t);

    g_array_free(r->log, true);
    g_free(r);
}

IommufdTransport *iommufd_recorder_new(IommufdTransport *inner)
{
    Recorder *r = g_new0(Recorder, 1);

    r->base = (IommufdTransport) {
        .name = "recorder",
        .open_iommufd = rec_open_iommufd,
        .open_cdev = rec_open_cdev,
        .ioctl = rec_ioctl,
        .read = rec_read,
        .write = rec_write,
        .close = rec_close,
        .destroy = rec_destroy,
    };
    r->inner = inner;
    r->log = g_array_new(false, true, sizeof(IommufdRecord));
    g_array_set_clear_func(r->log, record_clear_one);
    return &r->base;
}

const GArray *iommufd_recorder_log(IommufdTransport *recorder)
{
    g_assert(recorder->ioctl == rec_ioctl);
    return to_recorder(recorder)->log;
}

void iommufd_recorder_clear(IommufdTransport *recorder)
{
    g_assert(recorder->ioctl == rec_ioctl);
    g_array_set_size(to_recorder(recorder)->log, 0);
}
