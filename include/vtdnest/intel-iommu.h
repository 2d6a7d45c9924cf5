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
    /* Added by vtd-config.c (vtd-core engineer). */
    bool x_aw57;             /* x-aw57: allow aw-bits=57 (SAGAW 5-level) */
    unsigned version;        /* version: accepted and stored; VER stays 0x10 */
    const char *flts_name;   /* first-stage option as typed, for messages */
} VtdConfig;

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
} VtdStats;
void vtd_get_stats(const VtdState *s, VtdStats *out);

#endif
