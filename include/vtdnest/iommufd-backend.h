/*
 * iommufd backend: one open iommufd (over any IommufdTransport) and typed,
 * bool + GError wrappers for every operation the VMM side needs. Errors are
 * in the IOMMUFD_ERROR domain with the errno as code, and the message names
 * the operation, its key arguments and the errno, e.g.
 *   "IOMMU_IOAS_MAP ioas 2 iova 0x100000 len 0x1000: File exists (EEXIST)".
 */
#ifndef VTDNEST_IOMMUFD_BACKEND_H
#define VTDNEST_IOMMUFD_BACKEND_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vtdnest/iommufd-transport.h"
#include "vtdnest/iommufd-uapi.h"

typedef struct IommufdBackend {
    IommufdTransport *t;   /* not owned */
    int fd;                /* the iommufd */
} IommufdBackend;

/* Opens /dev/iommu through t. */
IommufdBackend *iommufd_backend_open(IommufdTransport *t, GError **errp);
/* Wraps an iommufd opened elsewhere (e.g. passed in as fd=N); takes ownership. */
IommufdBackend *iommufd_backend_new_from_fd(IommufdTransport *t, int fd);
void iommufd_backend_close(IommufdBackend *be);

bool iommufd_backend_alloc_ioas(IommufdBackend *be, uint32_t *ioas_id, GError **errp);
bool iommufd_backend_destroy(IommufdBackend *be, uint32_t id, GError **errp);
/* Fixed-IOVA map; readonly maps READABLE only, else READABLE|WRITEABLE. */
bool iommufd_backend_map(IommufdBackend *be, uint32_t ioas_id, uint64_t iova,
                         uint64_t len, void *host_ptr, bool readonly, GError **errp);
/* unmapped may be NULL. iova 0 + len UINT64_MAX unmaps everything. */
bool iommufd_backend_unmap(IommufdBackend *be, uint32_t ioas_id, uint64_t iova,
                           uint64_t len, uint64_t *unmapped, GError **errp);
/* Returns a GArray of struct iommu_iova_range (caller frees), or NULL. */
GArray *iommufd_backend_get_iova_ranges(IommufdBackend *be, uint32_t ioas_id,
                                        uint64_t *alignment, GError **errp);
bool iommufd_backend_allow_iovas(IommufdBackend *be, uint32_t ioas_id,
                                 const struct iommu_iova_range *ranges, uint32_t n,
                                 GError **errp);
/* IOMMU_OPTION: set or read a context-wide (object_id 0) or per-IOAS option
 * (IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_HUGE_PAGES). */
bool iommufd_backend_set_option(IommufdBackend *be, uint32_t option_id,
                                uint32_t object_id, uint64_t val, GError **errp);
bool iommufd_backend_get_option(IommufdBackend *be, uint32_t option_id,
                                uint32_t object_id, uint64_t *val, GError **errp);

/* fault_id is used only with IOMMU_HWPT_FAULT_ID_VALID in flags. */
bool iommufd_backend_alloc_hwpt(IommufdBackend *be, uint32_t dev_id, uint32_t pt_id,
                                uint32_t flags, uint32_t data_type, const void *data,
                                uint32_t data_len, uint32_t fault_id,
                                uint32_t *out_hwpt_id, GError **errp);
/*
 * VT-d stage-1 invalidation of n entries; *done (may be NULL) receives the
 * number the kernel handled, also on failure.
 */
bool iommufd_backend_invalidate(IommufdBackend *be, uint32_t hwpt_id,
                                const struct iommu_hwpt_vtd_s1_invalidate *entries,
                                uint32_t n, uint32_t *done, GError **errp);

typedef struct IommufdHwInfo {
    uint32_t type;               /* IOMMU_HW_INFO_TYPE_* */
    uint32_t data_len;           /* kernel's full payload length */
    struct iommu_hw_info_vtd vtd;   /* valid when type == INTEL_VTD */
    uint64_t capabilities;       /* IOMMU_HW_CAP_* */
    uint8_t max_pasid_log2;
} IommufdHwInfo;

/* On failure *info is left as it was. */
bool iommufd_backend_get_hw_info(IommufdBackend *be, uint32_t dev_id,
                                 IommufdHwInfo *info, GError **errp);

bool iommufd_backend_alloc_fault_queue(IommufdBackend *be, uint32_t *fault_id,
                                       int *fault_fd, GError **errp);
/* Reads up to max records; *n receives how many were read (0: none pending). */
bool iommufd_backend_read_faults(IommufdBackend *be, int fault_fd,
                                 struct iommu_hwpt_pgfault *recs, unsigned max,
                                 unsigned *n, GError **errp);
bool iommufd_backend_page_response(IommufdBackend *be, int fault_fd, uint32_t cookie,
                                   uint32_t code, GError **errp);

/* ---- VFIO device cdev (same transport as the backend) ---- */

int vfio_cdev_open(IommufdBackend *be, const char *path, GError **errp);
void vfio_cdev_close(IommufdBackend *be, int cdev_fd);
bool vfio_cdev_bind(IommufdBackend *be, int cdev_fd, uint32_t *dev_id, GError **errp);
/*
 * Attach (or replace, if already attached) to an IOAS or HWPT; out_hwpt_id
 * (may be NULL) receives the HWPT really used. pasid IOMMUFD_NO_PASID (0)
 * means requests without PASID.
 */
bool vfio_cdev_attach(IommufdBackend *be, int cdev_fd, uint32_t pasid, uint32_t pt_id,
                      uint32_t *out_hwpt_id, GError **errp);
bool vfio_cdev_detach(IommufdBackend *be, int cdev_fd, uint32_t pasid, GError **errp);

/* Symbolic errno name ("EBUSY") for messages; "errno N" when unknown. */
const char *iommufd_errno_name(int err);

#endif
