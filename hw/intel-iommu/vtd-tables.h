/*
 * Readers and decoders for the VT-d translation structures above the page
 * tables (vtd-spec-facts.md §4.1-4.6): legacy root/context entries, the
 * scalable root entry (one half), the 256-bit scalable context entry, the
 * PASID-directory entry and the 512-bit PASID-table entry.
 *
 * Each structure has a pure decoder (raw words in, decoded struct or exact
 * fault reason out) and a reader that fetches it from guest memory through
 * vtd_dma_read first. Decoders take a VtdTableCaps so code that shadows guest
 * structures (nesting) can reuse them without a full VtdState.
 *
 * Every reader/decoder returns VTD_FR_NONE on success, otherwise the fault
 * reason to report. The FPD bit is decoded even for entries that end in a
 * fault (the spec evaluates FPD when P=0), so callers can accumulate it.
 */
#ifndef VTD_TABLES_H
#define VTD_TABLES_H

#include "hw/intel-iommu/vtd-internal.h"

/* What the reserved-bit checks depend on. */
typedef struct VtdTableCaps {
    uint64_t cap, ecap;
    unsigned haw;          /* host address width in bits */
    unsigned mgaw;         /* CAP.MGAW + 1 */
} VtdTableCaps;

void vtd_table_caps_from_state(const VtdState *s, VtdTableCaps *caps);

/* Mask of address bits at or above the host address width. */
static inline uint64_t vtd_above_haw(unsigned haw)
{
    return haw >= 64 ? 0 : ~0ULL << haw;
}

/* Second-stage AW encodings: 1 = 39-bit/3-level, 2 = 48/4, 3 = 57/5. */
static inline unsigned vtd_aw_levels(unsigned aw) { return aw + 2; }
static inline unsigned vtd_aw_bits(unsigned aw) { return 30 + 9 * aw; }
/* Is AW encoding aw in CAP.SAGAW? */
bool vtd_aw_supported(uint64_t cap, unsigned aw);

/* ---- Legacy mode ------------------------------------------------------- */

typedef struct VtdLegacyRoot {
    bool present;
    uint64_t ctp;          /* context-table pointer */
} VtdLegacyRoot;

/* TT encodings of the legacy context entry. */
#define VTD_TT_SS           0   /* untranslated only, via SS */
#define VTD_TT_SS_ATS       1   /* + translation/translated requests */
#define VTD_TT_PT           2   /* pass-through */

typedef struct VtdLegacyContext {
    bool present;
    bool fpd;
    unsigned tt;
    uint64_t ssptptr;
    unsigned aw;
    uint16_t did;
} VtdLegacyContext;

VtdFaultReason vtd_decode_legacy_root(const VtdTableCaps *caps,
                                      const uint64_t raw[2], VtdLegacyRoot *out);
VtdFaultReason vtd_decode_legacy_context(const VtdTableCaps *caps,
                                         const uint64_t raw[2],
                                         VtdLegacyContext *out);
/* Root entry for bus (LRT.1/2/3). */
VtdFaultReason vtd_read_legacy_root(VtdState *s, uint8_t bus, VtdLegacyRoot *out);
/* Context entry devfn of table ctp (LCT.1/2/3/4); out->fpd valid on LCT.2-4. */
VtdFaultReason vtd_read_legacy_context(VtdState *s, uint64_t ctp, uint8_t devfn,
                                       VtdLegacyContext *out);

/* ---- Scalable mode ----------------------------------------------------- */

typedef struct VtdSmRoot {
    bool present;          /* LP or UP, for the half selected by devfn */
    uint64_t ctp;
} VtdSmRoot;

typedef struct VtdSmContext {
    bool present;
    bool fpd;
    bool dte;
    bool paside;
    bool pre;
    unsigned pdts;
    uint64_t pasid_dir;
    uint32_t rid_pasid;    /* 0 when !ECAP.RPS (else reserved: SCT.3) */
    bool rid_priv;         /* false when !ECAP.RPRIVS (likewise) */
} VtdSmContext;

/* Number of PASIDs the directory covers: 2^(PDTS+13). */
static inline uint64_t vtd_sm_ctx_pasid_limit(const VtdSmContext *c)
{
    return 1ULL << (c->pdts + 13);
}

typedef struct VtdPasidDirEntry {
    bool present;
    bool fpd;
    uint64_t table;        /* SMPTBLPTR */
} VtdPasidDirEntry;

/* PGTT encodings. */
#define VTD_PGTT_FS         1
#define VTD_PGTT_SS         2
#define VTD_PGTT_NESTED     3
#define VTD_PGTT_PT         4

/* FSPM encodings. */
#define VTD_FSPM_4LEVEL     0
#define VTD_FSPM_5LEVEL     1

/* The fields of a PASID-table entry that translation (and nesting) uses. */
typedef struct VtdPasidEntry {
    bool present;
    bool fpd;
    uint16_t did;
    unsigned pgtt;
    unsigned aw;           /* SS AGAW encoding (SS and nested only) */
    uint64_t ssptptr;
    uint64_t fsptptr;
    unsigned fspm;
    bool sre, wpe, eafe;
    bool ssade, pwsnp, pgsnp;
} VtdPasidEntry;

/* Number of FS levels for an FSPM value (4 or 5). */
static inline unsigned vtd_fspm_levels(unsigned fspm)
{
    return fspm == VTD_FSPM_5LEVEL ? 5 : 4;
}

VtdFaultReason vtd_decode_sm_root(const VtdTableCaps *caps, const uint64_t raw[2],
                                  bool upper, VtdSmRoot *out);
VtdFaultReason vtd_decode_sm_context(const VtdTableCaps *caps,
                                     const uint64_t raw[4], VtdSmContext *out);
VtdFaultReason vtd_decode_pasid_dir_entry(const VtdTableCaps *caps, uint64_t raw,
                                          VtdPasidDirEntry *out);
VtdFaultReason vtd_decode_pasid_entry(const VtdTableCaps *caps,
                                      const uint64_t raw[8], VtdPasidEntry *out);

/* Readers (SRT.x, SCT.x, SPD.x, SPT.x). */
VtdFaultReason vtd_read_sm_root(VtdState *s, uint8_t bus, uint8_t devfn,
                                VtdSmRoot *out);
VtdFaultReason vtd_read_sm_context(VtdState *s, uint64_t ctp, uint8_t devfn,
                                   VtdSmContext *out);
/* Root, then context entry of sid: the first fault met. out->fpd is valid
 * (false) even when the root entry faulted. */
VtdFaultReason vtd_read_sm_device_context(VtdState *s, uint16_t sid,
                                          VtdSmContext *out);
/* A request with PASID against a valid context entry: SCT.6, SGN.10, SCT.7
 * and SCT.9 (the PASID kept for requests without PASID), in that order. */
VtdFaultReason vtd_sm_ctx_check_pasid(uint64_t ecap, const VtdSmContext *ctx,
                                      uint32_t pasid);
/* Entry PASID[19:6] of the directory. */
VtdFaultReason vtd_read_pasid_dir_entry(VtdState *s, uint64_t dir, uint32_t pasid,
                                        VtdPasidDirEntry *out);
/* Entry PASID[5:0] of the table. */
VtdFaultReason vtd_read_pasid_entry(VtdState *s, uint64_t table, uint32_t pasid,
                                    VtdPasidEntry *out);

#endif
