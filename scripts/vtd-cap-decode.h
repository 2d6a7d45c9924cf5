/*
 * Decoding of the VT-d capability registers as a host exposes them in sysfs
 * (/sys/class/iommu/dmarN/intel-iommu/{cap,ecap,version}). Pure functions:
 * no I/O, so the host probe and its unit tests share one source of truth.
 * Bit positions: ../shared/docs/vtd-spec-facts.md §1 (VER) and §2 (CAP/ECAP).
 */
#ifndef VTDNEST_VTD_CAP_DECODE_H
#define VTDNEST_VTD_CAP_DECODE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors of the parsers below (malformed sysfs text). */
#define VTD_DECODE_ERROR (vtd_decode_error_quark())
GQuark vtd_decode_error_quark(void);
enum { VTD_DECODE_ERROR_MALFORMED };

/* How a field's raw value reads to a human. */
typedef enum VtdFieldKind {
    VTD_FIELD_FLAG,      /* one bit: supported or not */
    VTD_FIELD_NUMBER,    /* plain number (MAMV, MHMV) */
    VTD_FIELD_MINUS1,    /* encodes N-1 (MGAW, NFR, PSS) */
    VTD_FIELD_OFFSET16,  /* register offset / 16 (FRO, IRO) */
    VTD_FIELD_ND,        /* domain-id width code */
    VTD_FIELD_SAGAW,     /* second-stage AGAW bitmap */
    VTD_FIELD_SSLPS,     /* second-stage large-page bitmap */
} VtdFieldKind;

typedef struct VtdRegField {
    const char *name;    /* spec mnemonic, e.g. "SAGAW" */
    uint8_t hi, lo;      /* bit range, inclusive */
    VtdFieldKind kind;
    const char *unit;    /* VTD_FIELD_MINUS1: what N counts ("bits") */
    const char *meaning; /* one short phrase */
} VtdRegField;

/* Every named CAP_REG / ECAP_REG field, in bit order (reserved and
 * deprecated-must-be-zero bits left out). */
extern const VtdRegField vtd_cap_fields[];
extern const size_t vtd_cap_field_count;
extern const VtdRegField vtd_ecap_fields[];
extern const size_t vtd_ecap_field_count;

/* Raw value of one field of a register. */
uint64_t vtd_field_get(uint64_t reg, const VtdRegField *f);
/* Look a field up by mnemonic (case-insensitive); NULL if unknown. */
const VtdRegField *vtd_field_find(const VtdRegField *table, size_t count,
                                  const char *name);
/* "MGAW=47 (48-bit)", "FRO=0x22 (at 0x220)", "PSI=1". Caller frees. */
char *vtd_field_format(uint64_t reg, const VtdRegField *f);

/* CAP_REG, decoded into the units software actually reasons in. */
typedef struct VtdCapInfo {
    unsigned nd;              /* raw ND code */
    unsigned domain_id_bits;  /* 4 + 2*ND (0 if ND is the reserved 7) */
    uint32_t num_domains;     /* 2^domain_id_bits (0 if reserved) */
    unsigned sagaw;           /* raw 5-bit SAGAW bitmap */
    bool sagaw_39, sagaw_48, sagaw_57;
    unsigned mgaw_bits;       /* MGAW + 1 */
    unsigned fro_offset;      /* byte offset of the fault-recording registers */
    unsigned nfr;             /* number of fault-recording registers */
    unsigned mamv;
    bool sslps_2m, sslps_1g;
    bool afl, rwbf, plmr, phmr, cm, zlr, psi, dwd, drd;
    bool fs1gp, pi, fs5lp, ecmds, esirtps, esrtps;
} VtdCapInfo;

/* ECAP_REG, decoded. */
typedef struct VtdEcapInfo {
    bool c, qi, dt, ir, eim, pt, sc;
    unsigned iro_offset;      /* byte offset of the IOTLB registers */
    unsigned mhmv;
    bool mts, nest, prs, ers, srs, nwfs, eafs;
    unsigned pasid_bits;      /* PSS + 1 when PASID is supported, else 0 */
    bool pasid, dit, pds, smts, vcs, ssads, ssts, fsts, smpwcs, rps;
    bool tdxcs, pms, adms, rprivs, hpts, ptrs, ssirws, sms, hpt1gps, rdts;
    bool eimer, irreq;
} VtdEcapInfo;

void vtd_cap_decode(uint64_t cap, VtdCapInfo *out);
void vtd_ecap_decode(uint64_t ecap, VtdEcapInfo *out);

/* "39,48-bit" style list of the SAGAW widths; "none" when empty. Caller frees. */
char *vtd_sagaw_describe(unsigned sagaw);

/*
 * ECAP bits that VT-d nested translation needs (SMTS, NEST, FSTS, SSTS; the
 * kernel's nested_supported() and the PGTT=011b prerequisites). Fills
 * missing[] with the mnemonics of the absent ones, in that order, and
 * returns how many are absent (0 = nesting-capable). missing may be NULL.
 */
#define VTD_NESTING_PREREQS 4
unsigned vtd_nesting_missing(uint64_t ecap,
                             const char *missing[VTD_NESTING_PREREQS]);

/*
 * Parse a register as sysfs prints it: hexadecimal, optional "0x", optional
 * surrounding whitespace/newline, 1..16 digits, nothing else.
 */
bool vtd_parse_reg_hex(const char *text, uint64_t *out, GError **errp);

/*
 * Parse the unit's version. Linux prints "major:minor" ("1:0"); a raw
 * VER_REG in hex ("0x10" or "10": major 7:4, minor 3:0) and "major.minor"
 * are accepted too.
 */
bool vtd_parse_version(const char *text, unsigned *major, unsigned *minor,
                       GError **errp);

#endif
