/*
 * The Intel VT-d remapping unit, as a machine-independent component.
 * A VMM gives it guest-physical memory accessors and an MSI sink, forwards
 * MMIO accesses of its register window, and sends every DMA through
 * vtd_translate(). Nothing here knows about PCI or the reference machine.
 */
#ifndef VTDNEST_INTEL_IOMMU_H
#define VTDNEST_INTEL_IOMMU_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vtdnest/iommu.h"
#include "vtdnest/opts.h"

typedef struct VtdState VtdState;

/*
 * Guest-physical memory as the remapping hardware sees it: RAM only (table
 * fetches from MMIO or holes fail). Both return false when any byte of the
 * range is not backed.
 */
typedef struct VtdGuestMem {
    void *opaque;
    bool (*read)(void *opaque, uint64_t gpa, void *buf, uint64_t len);
    bool (*write)(void *opaque, uint64_t gpa, const void *buf, uint64_t len);
} VtdGuestMem;

/* Where the unit's own event interrupts (fault, completion, page request) go. */
typedef struct VtdMsiSink {
    void *opaque;
    void (*deliver)(void *opaque, uint64_t addr, uint32_t data);
} VtdMsiSink;

/*
 * Every -device intel-iommu property, resolved. Defaults and CAP/ECAP
 * composition follow QEMU (../shared/docs/qemu-anchor.md §1-2); fields marked
 * "opt-in" go beyond QEMU and default off.
 */
typedef struct VtdConfig {
    unsigned aw_bits;        /* aw-bits: 39 or 48 (57 opt-in via x-aw57) */
    bool caching_mode;       /* caching-mode */
    bool scalable_mode;      /* scalable-mode / x-scalable-mode */
    bool flts;               /* flts / x-flts / fsts: first-stage */
    unsigned pasid_bits;     /* pasid-bits (0 = off) / x-pasid-mode (=> 8) */
    bool dma_drain;          /* dma-drain */
    bool dma_translation;    /* dma-translation */
    int intremap;            /* intremap: -1 auto, 0 off, 1 on */
    int eim;                 /* eim: -1 auto, 0 off, 1 on */
    bool device_iotlb;       /* device-iotlb: ECAP.DT */
    bool pt;                 /* pt: ECAP.PT */
    bool snoop_control;      /* snoop-control: ECAP.SC */
    bool stale_tm;           /* stale-tm */
    bool fs1gp;              /* fs1gp: CAP.FS1GP when flts */
    unsigned nfr;            /* x-nfr: fault recording registers (default 8) */
    /* Opt-in capabilities beyond QEMU. */
    bool x_ssts;             /* x-ssts: SSTS alongside FSTS */
    bool x_nest;             /* x-nest: ECAP.NEST (needs flts and x-ssts) */
    bool x_fs5lp;            /* x-fs5lp: CAP.FS5LP, 5-level first stage */
    bool x_srs;              /* x-srs: ECAP.SRS with flts */
    bool x_eafs;             /* x-eafs: ECAP.EAFS */
    bool x_smpwcs;           /* x-smpwcs: ECAP.SMPWCS (A/D writes with PWSNP) */
    bool x_ssads;            /* x-ssads: ECAP.SSADS */
    bool x_rps;              /* x-rps: ECAP.RPS (RID_PASID honoured) */
    bool x_adms;             /* x-adms: ECAP.ADMS (abort-DMA mode) */
    bool x_prs;              /* x-prs: ECAP.PRS (page requests) */
    bool x_pds;              /* x-pds: ECAP.PDS */
    bool x_dit;              /* x-dit: ECAP.DIT */
    bool x_nwfs;             /* x-nwfs: ECAP.NWFS */
    unsigned iotlb_size;     /* x-iotlb-size: IOTLB entries (default 1024) */
    /* Options parsed by vtd-config.c. */
    bool x_aw57;             /* x-aw57: allow aw-bits=57 (SAGAW 5-level) */
    unsigned version;        /* version: accepted and stored; VER stays 0x10 */
    const char *flts_name;   /* first-stage option as typed, for messages */
} VtdConfig;

/* One row of "-device intel-iommu,help": QEMU's form "name=<type> - desc
 * (default: value)". */
typedef struct VtdPropertyHelp {
    const char *name;
    const char *type;       /* "bool", "uint8", "OnOffAuto", ... */
    const char *def;        /* default, as a user would type it */
    const char *desc;
} VtdPropertyHelp;

/* Every property vtd_config_from_opts accepts, aliases included. */
const VtdPropertyHelp *vtd_config_properties(size_t *count);

/* Defaults as QEMU's. */
void vtd_config_defaults(VtdConfig *cfg);
/* Read every intel-iommu property from opts (marks them used). */
bool vtd_config_from_opts(VtdConfig *cfg, DeviceOpts *opts, GError **errp);
/* Reject invalid combinations with one line naming the option. */
bool vtd_config_validate(VtdConfig *cfg, GError **errp);
/* CAP and ECAP as composed from a validated config. */
uint64_t vtd_config_cap(const VtdConfig *cfg);
uint64_t vtd_config_ecap(const VtdConfig *cfg);

VtdState *vtd_new(const VtdConfig *cfg, const VtdGuestMem *mem,
                  const VtdMsiSink *msi);
void vtd_free(VtdState *s);
/* Power-on state: registers, latched state and caches. */
void vtd_reset(VtdState *s);

/* Register window (offsets relative to the unit's base). */
uint64_t vtd_mmio_read(VtdState *s, uint64_t offset, unsigned size);
void vtd_mmio_write(VtdState *s, uint64_t offset, uint64_t value, unsigned size);
uint64_t vtd_mmio_size(const VtdState *s);

/* DMA remapping entry point (see vtdnest/iommu.h). */
void vtd_translate(VtdState *s, const IommuRequest *req, IommuResult *res);

/*
 * Interrupt request from a device (DWORD write to 0xFEEx_xxxx without PASID):
 * remapped when IR is enabled. Returns false when blocked (fault recorded).
 */
bool vtd_interrupt(VtdState *s, uint16_t sid, uint64_t addr, uint32_t data,
                   uint64_t *out_addr, uint32_t *out_data);

/* Counters for tests and benches. */
typedef struct VtdStats {
    uint64_t iotlb_hits, iotlb_misses, iotlb_evictions;
    uint64_t ctx_hits, ctx_misses;
    uint64_t pasid_hits, pasid_misses;
    uint64_t faults_recorded, faults_suppressed;
    uint64_t translations;
    uint64_t descriptors;
    /* Nested walks: SS translations of FS table pages found in / missing
     * from the unit's cache of them (vtd-nest-cache.c). */
    uint64_t nest_ps_hits, nest_ps_misses;
} VtdStats;
void vtd_get_stats(const VtdState *s, VtdStats *out);


/* ---- Device-TLB (ATS) and page requests ---------------------------------
 * The unit does not know devices: the VMM registers sinks that reach them.
 * vtd-devtlb.c / vtd-prq.c. Without a sink, device-TLB invalidations
 * complete at once and page responses go nowhere.
 */

/* Page group response codes (page group response descriptor RC field). */
#define VTD_PRG_RC_SUCCESS          0x0
#define VTD_PRG_RC_INVALID_REQUEST  0x1
#define VTD_PRG_RC_FAILURE          0xf

typedef struct VtdDevTlbSink {
    void *opaque;
    /*
     * Forward an ATS invalidation to the device(s) answering to sid. pasid
     * is IOMMU_NO_PASID for a request without PASID (type 3 descriptor);
     * global: every PASID of the function. [addr, addr + size) is the range;
     * size UINT64_MAX with addr 0 means the whole address space. Returns
     * false when a device did not complete in time (-> FSTS.ITE).
     */
    bool (*invalidate)(void *opaque, uint16_t sid, uint32_t pasid, bool global,
                       uint64_t addr, uint64_t size);
} VtdDevTlbSink;

typedef struct VtdPrqSink {
    void *opaque;
    /* A page group response (software's type 9 descriptor, or one the unit
     * generated itself) for the device answering to sid. */
    void (*page_response)(void *opaque, uint16_t sid, uint32_t pasid,
                          bool pasid_present, uint16_t prgi, uint8_t rc);
} VtdPrqSink;

void vtd_set_devtlb_sink(VtdState *s, const VtdDevTlbSink *sink);
void vtd_set_prq_sink(VtdState *s, const VtdPrqSink *sink);

/*
 * ATS invalidation range of a device-TLB descriptor: ADDR[63:12] and the S
 * bit. S=0: the 4 KiB page. S=1: the lowest clear bit of ADDR[63:12] gives
 * the size (bit 12 clear: 8 KiB, bit 13: 16 KiB, ...); ADDR[63:12] all ones
 * (or a size of 2^64) is the whole space: *base 0, *size UINT64_MAX.
 */
void vtd_ats_decode_range(uint64_t addr, bool size_bit, uint64_t *base,
                          uint64_t *size);

/*
 * A PCIe page request (PRI) from the device sid. pasid is ignored unless
 * pasid_present. Returns true when it was written into the page request
 * queue (software answers with a page group response); false when it was
 * not (fault, overflow, PRS unsupported): if it was the last of its group
 * (lpig) the unit has already sent the automatic response through the prq
 * sink.
 */
bool vtd_page_request(VtdState *s, uint16_t sid, uint32_t pasid,
                      bool pasid_present, uint64_t addr, bool read, bool write,
                      bool exec, bool priv, bool lpig, uint16_t prgi);


/* ---- Interrupt remapping and saved state ---------------------------------
 * vtd-ir.c, vtd-state.c; the saved-state format is docs/saved-state.md.
 */

/* vtd_interrupt(), also telling whether the message was remapped (false:
 * passed through in compatibility format). */
bool vtd_interrupt_ex(VtdState *s, uint16_t sid, uint64_t addr, uint32_t data,
                      uint64_t *out_addr, uint32_t *out_data, bool *remapped);

/*
 * Append the unit's architectural state (registers, latched pointers,
 * enables, queue and fault positions; never the caches) to out. Returns
 * false only for internal errors.
 */
bool vtd_state_save(VtdState *s, GByteArray *out);
/*
 * Replace the unit's state with a blob from vtd_state_save() of a unit with
 * the same CAP/ECAP. The blob is fully validated first: on error (corrupt,
 * truncated, other version or configuration) the unit is left untouched.
 * Caches start empty.
 */
bool vtd_state_load(VtdState *s, const uint8_t *buf, size_t len, GError **errp);

/* ---- Nested translation for passthrough devices --------------------------
 * hw/intel-iommu/vtd-nesting.c and friends; docs/nesting.md.
 */

/* One guest RAM block: GPA range, the host memory behind it, read-only. */
typedef bool (*VtdRamBlockFn)(void *ctx, uint64_t gpa, uint64_t size,
                              void *host, bool readonly, GError **errp);
/* How the unit enumerates guest RAM (the machine: machine_foreach_ram).
 * foreach calls fn for every block in address order and stops at the first
 * false, returning it. */
typedef struct VtdRamSource {
    void *opaque;
    bool (*foreach)(void *opaque, VtdRamBlockFn fn, void *ctx, GError **errp);
} VtdRamSource;

/* Must be set before the first vtd_set_host_device(). */
void vtd_nesting_set_ram_source(VtdState *s, const VtdRamSource *ram);
/*
 * Take over a passthrough device's host translation (IommuOps hook): checks
 * the host unit against the guest configuration, joins a stage-2 container
 * and shadows the guest's current tables. False with one actionable line.
 */
bool vtd_set_host_device(VtdState *s, struct HostIommuDevice *hd, GError **errp);
/* Hot unplug / teardown: every host object the device used is released. */
void vtd_unset_host_device(VtdState *s, struct HostIommuDevice *hd);
/* Re-read every guest structure (after restoring saved state). */
void vtd_nesting_resync(VtdState *s);

typedef struct VtdNestingCounts {
    unsigned containers;      /* IOAS containers */
    unsigned s2_hwpts;        /* nest-parent stage-2 HWPTs */
    unsigned devices;         /* host devices owned */
    unsigned nested_hwpts;    /* first-stage HWPTs (RID + PASIDs) */
    uint64_t host_inval_calls;    /* IOMMU_HWPT_INVALIDATE calls so far */
    uint64_t host_inval_entries;  /* entries sent in them */
} VtdNestingCounts;
void vtd_nesting_counts(VtdState *s, VtdNestingCounts *out);
/*
 * The nesting state as a GVariant dictionary (JSON-able with
 * json_gvariant_serialize): {"containers": [{"iommufd", "ioas", "ro-free",
 * "hwpts": [{"id", "coherent", "users": [dev names]}]}], "devices": [{"name",
 * "host", "sid", "s2-hwpt", "attachments": [{"pasid", "rid", "kind",
 * "did", "hwpt", "why"}]}], "host-invalidate-calls", ...}. Floating ref.
 */
GVariant *vtd_nesting_report(VtdState *s);
/* The same, as readable lines (caller frees). */
char *vtd_nesting_report_text(VtdState *s);

#endif
