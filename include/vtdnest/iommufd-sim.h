/*
 * In-process simulator of the host kernel's iommufd + VFIO-cdev + Intel VT-d
 * driver (docs/iommufd-uapi.md §1.2 dispatch rules, §3 semantics). It takes
 * the same request numbers and structs as the real kernel through
 * iommufd_sim_transport(), keeps an object table with the kernel's
 * refcount/EBUSY rules, and models host DMA through nested translation with a
 * host IOTLB that only IOMMU_HWPT_INVALIDATE (or a parent unmap) clears, so a
 * VMM that forgets to forward an invalidation sees stale DMA.
 *
 * Host hardware is declared with option strings:
 *   iommufd_sim_add_unit(sim, "id=u0,nesting=on,fs5lp=off,fs1gp=on,"
 *                             "pasid-bits=20,errata=on", &err);
 *   iommufd_sim_add_device(sim, "host=0000:03:00.0,unit=u0,group=5,"
 *                               "coherent=on,pasid=on,ats=on", &err);
 * Unit keys: id (required), aw=48|57 (host address width, default 48),
 *   nesting, fs5lp, fs1gp, srs, eafs, sc (snoop control), dirty (SLADS),
 *   pasid (PASID support, default on), pasid-bits (1..20, default 20),
 *   errata (report ERRATA_772415_SPR17 and refuse read-only maps on nest
 *   parents; default on, as every real kernel does), prs, mamv (0..63, def 9).
 * Device keys: host (BDF, required), unit (required), group (default: a new
 *   group per device), coherent (the unit can enforce cache coherency for it,
 *   default on), pasid, ats, pri (defaults on, on, off),
 *   rmrr=START-LAST (inclusive, hex ok; may be repeated).
 * Every device gets the x86 MSI window 0xfee00000-0xfeefffff reserved.
 */
#ifndef VTDNEST_IOMMUFD_SIM_H
#define VTDNEST_IOMMUFD_SIM_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtdnest/iommufd-transport.h"

typedef struct IommufdSim IommufdSim;

IommufdSim *iommufd_sim_new(void);
void iommufd_sim_free(IommufdSim *sim);

/* The transport that talks to this simulator (owned by the simulator). */
IommufdTransport *iommufd_sim_transport(IommufdSim *sim);

bool iommufd_sim_add_unit(IommufdSim *sim, const char *opts, GError **errp);
bool iommufd_sim_add_device(IommufdSim *sim, const char *opts, GError **errp);

/* "/dev/vfio/devices/vfioN" of a host device, or NULL if unknown. */
const char *iommufd_sim_cdev_path(IommufdSim *sim, const char *host_bdf);
/* The id of the unit ("u0") the host device sits behind, or NULL if unknown
 * (the simulator's counterpart of /sys/bus/pci/devices/BDF/iommu). */
const char *iommufd_sim_device_unit(IommufdSim *sim, const char *host_bdf);
/* Whether the host device has PRI (pri=on), i.e. can deliver I/O page faults
 * through a fault queue; false if unknown. */
bool iommufd_sim_device_pri(IommufdSim *sim, const char *host_bdf);

/*
 * The nth subsequent simulated call (open, ioctl, read or write; n >= 1)
 * fails with -err and has no side effect. n = 0 cancels.
 */
void iommufd_sim_fail_nth(IommufdSim *sim, unsigned n, int err);

/* ---- simulated device DMA ---- */

typedef enum IommufdSimFaultReason {
    IOMMUFD_SIM_FAULT_NONE = 0,
    IOMMUFD_SIM_FAULT_BLOCKED,         /* (device, pasid) not attached */
    IOMMUFD_SIM_FAULT_S2_UNMAPPED,     /* GPA/IOVA not mapped in the IOAS */
    IOMMUFD_SIM_FAULT_S2_PERM,         /* IOAS mapping lacks the access right */
    IOMMUFD_SIM_FAULT_S1_NON_CANONICAL,
    IOMMUFD_SIM_FAULT_S1_NOT_PRESENT,
    IOMMUFD_SIM_FAULT_S1_RESERVED,     /* reserved bit set in a first-stage entry */
    IOMMUFD_SIM_FAULT_S1_PERM,         /* U/S or R/W denies the request */
    IOMMUFD_SIM_FAULT_S1_TABLE,        /* a first-stage table GPA is not readable/writable via S2 */
} IommufdSimFaultReason;

typedef struct IommufdSimFault {
    IommufdSimFaultReason reason;
    uint64_t addr;       /* faulting input address */
    uint32_t pasid;
    bool is_write;
    uint32_t hwpt_id;    /* HWPT that translated, 0 if none */
    bool queued;         /* an iommu_hwpt_pgfault record was queued */
} IommufdSimFault;

/*
 * DMA by host device host_bdf with pasid (IOMMUFD_NO_PASID = 0 for requests
 * without PASID) of len bytes at iova, as untranslated user-level requests.
 * Returns true when every byte was transferred; otherwise fills *fault (may be
 * NULL) and stops at the first faulting page (earlier pages were transferred).
 * A first-stage fault on a HWPT with a fault queue also queues a record.
 */
bool iommufd_sim_dma(IommufdSim *sim, const char *host_bdf, uint32_t pasid,
                     uint64_t iova, void *buf, size_t len, bool is_write,
                     IommufdSimFault *fault);

/* ---- introspection for tests ---- */

typedef struct IommufdSimIotlbEntry {
    uint64_t iova;      /* page base */
    uint64_t size;      /* 4K, 2M or 1G */
    uint64_t gpa;       /* first-stage output (a parent IOVA) */
    bool writable;
    bool user;
} IommufdSimIotlbEntry;

/* The HWPT id attached to (device, pasid), 0 if none. */
uint32_t iommufd_sim_attached_hwpt(IommufdSim *sim, const char *host_bdf,
                                   uint32_t pasid);
/* Host IOTLB of nested HWPT hwpt_id in the context of iommufd fd; -1 if no such HWPT. */
int iommufd_sim_iotlb_count(IommufdSim *sim, int iommufd, uint32_t hwpt_id);
bool iommufd_sim_iotlb_lookup(IommufdSim *sim, int iommufd, uint32_t hwpt_id,
                              uint64_t iova, IommufdSimIotlbEntry *out);
/* Cached first-stage non-leaf entries (paging-structure cache); -1 if no such HWPT. */
int iommufd_sim_pwc_count(IommufdSim *sim, int iommufd, uint32_t hwpt_id);
/* Number of live objects in the context of iommufd fd (-1 if not an iommufd). */
int iommufd_sim_object_count(IommufdSim *sim, int iommufd);

#endif
