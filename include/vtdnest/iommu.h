/*
 * The contract between a DMA-capable bus (PCI) and an IOMMU: one translation
 * entry point per request, answered with a mapping valid for a naturally
 * aligned page, or a fault (which the IOMMU has already recorded as its
 * hardware would). The bus splits accesses that cross the returned page.
 */
#ifndef VTDNEST_IOMMU_H
#define VTDNEST_IOMMU_H

#include <stdbool.h>
#include <stdint.h>

typedef enum IommuAccess {
    IOMMU_ACCESS_READ = 1u << 0,
    IOMMU_ACCESS_WRITE = 1u << 1,
    IOMMU_ACCESS_EXEC = 1u << 2,
    /* AtomicOp: needs read and write permission. */
    IOMMU_ACCESS_ATOMIC = IOMMU_ACCESS_READ | IOMMU_ACCESS_WRITE,
} IommuAccess;

/* PCIe address type (AT field). */
typedef enum IommuAddrType {
    IOMMU_AT_UNTRANSLATED = 0,
    IOMMU_AT_TRANSLATION_REQ = 1, /* ATS translation request */
    IOMMU_AT_TRANSLATED = 2,
} IommuAddrType;

#define IOMMU_NO_PASID UINT32_MAX

typedef struct IommuRequest {
    uint16_t sid;        /* requester id: bus << 8 | devfn (after aliasing) */
    uint32_t pasid;      /* IOMMU_NO_PASID for requests without PASID */
    bool priv;           /* PR: privileged (supervisor) request */
    uint64_t addr;       /* input address */
    unsigned access;     /* IommuAccess bits */
    IommuAddrType at;
    bool no_write;       /* ATS NW flag on translation requests */
    bool zlr;            /* zero-length read */
} IommuRequest;

/* Outcome of one translation. */
typedef struct IommuResult {
    bool ok;
    uint64_t out_addr;   /* translated address of req.addr */
    uint64_t page_mask;  /* size - 1 of the page the mapping is valid for */
    unsigned perm;       /* IommuAccess bits granted for that page */
    uint8_t fault_reason; /* spec fault reason when !ok (0 if blocked silently) */
    bool is_interrupt;   /* request targets the interrupt window (no DMA) */
    bool user;           /* ATS: U bit for translation completions */
} IommuResult;

struct HostIommuDevice;
struct _GError;

typedef struct IommuOps {
    /* Translate one request. Never fails for internal reasons; guest mistakes
     * produce !ok with the fault already recorded/suppressed. */
    void (*translate)(void *opaque, const IommuRequest *req, IommuResult *res);
    /*
     * A passthrough device behind this IOMMU (optional). On success the
     * vIOMMU owns the device's host translation (stage 2, nested HWPTs) until
     * unset; false with errp set refuses the device (realize fails).
     */
    bool (*set_host_device)(void *opaque, struct HostIommuDevice *hd,
                            struct _GError **errp);
    void (*unset_host_device)(void *opaque, struct HostIommuDevice *hd);
} IommuOps;

#endif
