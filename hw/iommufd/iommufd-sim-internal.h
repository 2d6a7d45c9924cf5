/*
 * Shared state of the iommufd simulator modules:
 *   iommufd-sim.c         fds, dispatch (§1.2 size rules), object table,
 *                         DESTROY, OPTION, GET_HW_INFO, fail-nth, host config
 *   iommufd-sim-ioas.c    IOAS interval map, reserved/allowed lists
 *   iommufd-sim-hwpt.c    HWPT alloc, invalidation, first-stage walk + IOTLB
 *   iommufd-sim-device.c  VFIO cdev bind/attach/detach, DMA entry point
 *   iommufd-sim-fault.c   fault queues
 *
 * Lifetime rule (as the kernel's): an object's `users` counts the objects and
 * attachments that point at it; DESTROY of an object with users fails EBUSY.
 */
#ifndef IOMMUFD_SIM_INTERNAL_H
#define IOMMUFD_SIM_INTERNAL_H

#include <errno.h>
#include <string.h>

#include "vtdnest/iommufd-sim.h"
#include "vtdnest/iommufd-uapi.h"

#define SIM_PAGE_SIZE   4096ull
#define SIM_ULONG_MAX   UINT64_MAX
#define SIM_MSI_START   0xfee00000ull
#define SIM_MSI_LAST    0xfeefffffull

/* VT-d register bits the simulator composes and consults (fact sheet §3.8). */
#define SIM_BIT(n)          (1ull << (n))
#define SIM_CAP_SAGAW_48    SIM_BIT(10)
#define SIM_CAP_SAGAW_57    SIM_BIT(11)
#define SIM_CAP_MGAW(aw)    ((uint64_t)((aw) - 1) << 16)
#define SIM_CAP_SSLPS_2M    SIM_BIT(34)
#define SIM_CAP_SSLPS_1G    SIM_BIT(35)
#define SIM_CAP_PSI         SIM_BIT(39)
#define SIM_CAP_MAMV(v)     ((uint64_t)(v) << 48)
#define SIM_CAP_MAMV_GET(c) ((unsigned)(((c) >> 48) & 0x3f))
#define SIM_CAP_FS1GP       SIM_BIT(56)
#define SIM_CAP_FS5LP       SIM_BIT(60)
#define SIM_ECAP_QI         SIM_BIT(1)
#define SIM_ECAP_DT         SIM_BIT(2)
#define SIM_ECAP_IR         SIM_BIT(3)
#define SIM_ECAP_EIM        SIM_BIT(4)
#define SIM_ECAP_PT         SIM_BIT(6)
#define SIM_ECAP_SC         SIM_BIT(7)
#define SIM_ECAP_NEST       SIM_BIT(26)
#define SIM_ECAP_PRS        SIM_BIT(29)
#define SIM_ECAP_SRS        SIM_BIT(31)
#define SIM_ECAP_EAFS       SIM_BIT(34)
#define SIM_ECAP_PSS(bits)  ((uint64_t)((bits) - 1) << 35)
#define SIM_ECAP_PASID      SIM_BIT(40)
#define SIM_ECAP_SMTS       SIM_BIT(43)
#define SIM_ECAP_SLADS      SIM_BIT(45)
#define SIM_ECAP_SLTS       SIM_BIT(46)
#define SIM_ECAP_FLTS       SIM_BIT(47)
#define SIM_ECAP_SMPWC      SIM_BIT(48)

typedef enum SimObjType {
    SIM_OBJ_IOAS = 1,
    SIM_OBJ_HWPT_PAGING,
    SIM_OBJ_HWPT_NESTED,
    SIM_OBJ_DEVICE,
    SIM_OBJ_FAULT,
} SimObjType;

typedef struct SimCtx SimCtx;

typedef struct SimObj {
    uint32_t id;
    SimObjType type;
    int users;     /* references from other objects and attachments */
} SimObj;

typedef struct SimUnit {
    char *id;
    uint64_t cap;
    uint64_t ecap;
    unsigned aw;
    unsigned pasid_bits;
    bool errata;
} SimUnit;

typedef struct SimArea {
    uint64_t iova;
    uint64_t length;
    uint8_t *host;
    bool readable;
    bool writable;
} SimArea;

typedef struct SimResv {
    uint64_t start;
    uint64_t last;
    const void *owner;   /* device or HWPT that reserved it */
} SimResv;

typedef struct SimHwpt SimHwpt;

typedef struct SimIoas {
    SimObj obj;
    SimCtx *ctx;
    GArray *areas;     /* SimArea, sorted by iova, never overlapping */
    GArray *resv;      /* SimResv */
    GArray *allowed;   /* struct iommu_iova_range; empty = everything */
    GPtrArray *hwpts;  /* paging SimHwpt on this IOAS */
    bool huge_pages;
} SimIoas;

typedef struct SimFault {
    SimObj obj;
    SimCtx *ctx;
    int fd;
    GQueue *pending;      /* struct iommu_hwpt_pgfault *, not yet read */
    GHashTable *waiting;  /* cookie -> record read but not yet answered */
    uint32_t next_cookie;
    uint32_t next_grpid;
} SimFault;

typedef struct SimTlbEntry {
    uint64_t iova;
    uint64_t size;
    uint64_t gpa;
    bool writable;
    bool user;
} SimTlbEntry;

/* Paging-structure cache: "the table for va-range [va, va+span) is at gpa". */
typedef struct SimPwcEntry {
    int level;        /* level of the table pointed to (1 = PT) */
    uint64_t va;
    uint64_t span;
    uint64_t table_gpa;
    bool writable;    /* cumulative R/W of the entries above */
    bool user;        /* cumulative U/S */
} SimPwcEntry;

struct SimHwpt {
    SimObj obj;
    SimCtx *ctx;
    SimUnit *unit;          /* unit of the allocating device */
    uint32_t flags;         /* IOMMU_HWPT_ALLOC_* */
    bool auto_domain;       /* created implicitly by attaching to an IOAS */
    bool enforce_cc;        /* force-snoop: fixed at allocation */
    SimIoas *ioas;          /* paging: its IOAS; nested: the parent's */
    SimHwpt *parent;        /* nested only */
    GPtrArray *children;    /* paging only: nested HWPTs on it */
    SimFault *fault;
    struct iommu_hwpt_vtd_s1 s1;
    GArray *iotlb;          /* SimTlbEntry (nested only) */
    GArray *pwc;            /* SimPwcEntry (nested only) */
};

typedef struct SimDevice {
    SimObj obj;             /* the device object while bound */
    struct IommufdSim *sim;
    char *bdf;
    char *cdev_path;
    SimUnit *unit;
    int group;
    bool coherent;
    bool pasid;
    bool ats;
    bool pri;
    GArray *resv;           /* struct iommu_iova_range: MSI window, RMRRs */
    int cdev_fd;            /* -1 while closed */
    SimCtx *ctx;            /* bound context or NULL */
    GHashTable *attached;   /* pasid -> SimHwpt* (pasid 0 = RID) */
} SimDevice;

struct SimCtx {
    struct IommufdSim *sim;
    int fd;
    bool fd_open;
    unsigned bound_devices;   /* a context outlives its fd while devices are bound */
    GHashTable *objs;         /* id -> SimObj* */
    uint32_t next_id;
    bool rlimit_user;
};

typedef enum SimFdKind { SIM_FD_CTX = 1, SIM_FD_CDEV, SIM_FD_FAULT } SimFdKind;

typedef struct SimFd {
    SimFdKind kind;
    void *ptr;
} SimFd;

struct IommufdSim {
    IommufdTransport transport;   /* first: iommufd_sim_transport() */
    GPtrArray *units;             /* SimUnit* */
    GPtrArray *devices;           /* SimDevice* */
    GHashTable *fds;              /* fd -> SimFd* */
    int next_fd;
    int next_group;
    unsigned fail_countdown;
    int fail_errno;
};

/* iommufd-sim.c */
void sim_obj_add(SimCtx *ctx, SimObj *obj, SimObjType type);
void sim_obj_remove(SimCtx *ctx, SimObj *obj);
SimObj *sim_obj_get(SimCtx *ctx, uint32_t id);
int sim_fd_new(IommufdSim *sim, SimFdKind kind, void *ptr);
void sim_fd_remove(IommufdSim *sim, int fd);
SimCtx *sim_ctx_from_fd(IommufdSim *sim, int fd);
bool sim_unit_nesting(const SimUnit *u);
bool sim_unit_dirty(const SimUnit *u);
bool sim_unit_pasid(const SimUnit *u);
bool sim_device_enforce_cc(const SimDevice *d);
unsigned sim_device_max_pasid_log2(const SimDevice *d);
SimDevice *sim_find_device(IommufdSim *sim, const char *bdf);
/* Canonical "dddd:bb:dd.f" form of a PCI address (caller frees). */
bool sim_parse_bdf(const char *s, char **canon);

/* iommufd-sim-ioas.c */
int sim_ioas_alloc(SimCtx *ctx, void *cmd);
int sim_ioas_map(SimCtx *ctx, void *cmd);
int sim_ioas_unmap(SimCtx *ctx, void *cmd);
int sim_ioas_iova_ranges(SimCtx *ctx, void *cmd, bool *copy_out);
int sim_ioas_allow_iovas(SimCtx *ctx, void *cmd);
void sim_ioas_free(SimIoas *ioas);
int sim_ioas_add_resv(SimIoas *ioas, uint64_t start, uint64_t last, const void *owner);
void sim_ioas_remove_resv(SimIoas *ioas, const void *owner);
bool sim_ioas_has_readonly_area(const SimIoas *ioas);
uint64_t sim_ioas_alignment(const SimIoas *ioas);
/* Host pointer for [iova, iova+len) if one area maps it with the rights. */
uint8_t *sim_ioas_host_ptr(SimIoas *ioas, uint64_t iova, uint64_t len,
                           bool need_write, IommufdSimFaultReason *why);

/* iommufd-sim-hwpt.c */
int sim_hwpt_alloc_cmd(SimCtx *ctx, void *cmd);
int sim_hwpt_invalidate_cmd(SimCtx *ctx, void *cmd, bool *copy_out);
SimHwpt *sim_hwpt_new_paging(SimCtx *ctx, SimDevice *dev, SimIoas *ioas,
                             uint32_t flags, bool auto_domain, SimFault *fault,
                             int *err);
void sim_hwpt_free(SimHwpt *hwpt);
/* Drops the cached translations of every nested HWPT above this IOAS. */
void sim_ioas_flush_nested(SimIoas *ioas);
/* Drops everything cached for a nested HWPT (PASID entry torn down). */
void sim_hwpt_flush(SimHwpt *hwpt);
/* Driver checks of programming hwpt for dev (§3.4); 0 or -errno. */
int sim_hwpt_check_attach(SimHwpt *hwpt, SimDevice *dev, uint32_t pasid);
/* First-stage translation of one address of a nested HWPT. */
bool sim_hwpt_translate(SimHwpt *hwpt, uint64_t iova, bool is_write,
                        uint64_t *gpa, uint64_t *page_size,
                        IommufdSimFaultReason *why);

/* iommufd-sim-device.c */
int sim_cdev_ioctl(IommufdSim *sim, SimDevice *dev, unsigned long request, void *arg);
void sim_device_unbind(SimDevice *dev);

/* iommufd-sim-fault.c */
int sim_fault_alloc(SimCtx *ctx, void *cmd);
void sim_fault_free(SimFault *fault);
ssize_t sim_fault_read(SimFault *fault, void *buf, size_t len);
ssize_t sim_fault_write(SimFault *fault, const void *buf, size_t len);
bool sim_fault_report(SimFault *fault, uint32_t dev_id, uint32_t pasid,
                      uint64_t addr, bool is_write);

#endif
