/*
 * VT-d fault reasons (spec Table 30 and the interrupt-remapping table),
 * named after the spec's fault-condition identifiers. One X-macro list feeds
 * the enum, the name table and the "qualified" table, so they cannot drift.
 */
#ifndef VTD_FAULT_REASONS_H
#define VTD_FAULT_REASONS_H

#include <stdbool.h>
#include <stdint.h>

/* X(enum suffix, code, spec condition, qualified?) */
#define VTD_FAULT_REASON_LIST(X)                                              \
    X(LRT_2,   0x01, "LRT.2 legacy root entry not present", false)            \
    X(LCT_2,   0x02, "LCT.2 legacy context entry not present", true)          \
    X(LCT_4,   0x03, "LCT.4 invalid legacy context entry programming", true)  \
    X(LGN_1,   0x04, "LGN.1 address beyond the address width", true)          \
    X(LGN_2,   0x05, "LGN.2 write without write permission", true)            \
    X(LGN_3,   0x06, "LGN.3 read without read permission", true)              \
    X(LSS_1,   0x07, "LSS.1 error accessing a second-stage entry", true)      \
    X(LRT_1,   0x08, "LRT.1 error accessing the root entry", false)           \
    X(LCT_1,   0x09, "LCT.1 error accessing the context entry", false)        \
    X(LRT_3,   0x0a, "LRT.3 reserved bit in a present root entry", false)     \
    X(LCT_3,   0x0b, "LCT.3 reserved bit in a present context entry", true)   \
    X(LSS_2,   0x0c, "LSS.2 reserved bit in a second-stage entry", true)      \
    X(LCT_5,   0x0d, "LCT.5 translation type blocks the request", true)       \
    X(LGN_4,   0x0e, "LGN.4 output address in the interrupt range", true)     \
    X(IR_REQ_RSVD,    0x20, "IR: reserved field in the interrupt request", false) \
    X(IR_INDEX,       0x21, "IR: interrupt index beyond the table", false)     \
    X(IR_IRTE_P,      0x22, "IR: IRTE not present", true)                     \
    X(IR_IRT_FETCH,   0x23, "IR: error accessing the interrupt table", false)  \
    X(IR_IRTE_RSVD,   0x24, "IR: reserved field in a present IRTE", true)      \
    X(IR_COMPAT,      0x25, "IR: compatibility-format interrupt blocked", false) \
    X(IR_SID,         0x26, "IR: source-id verification failed", true)        \
    X(IR_PID_FETCH,   0x27, "IR: error accessing the posted descriptor", true) \
    X(IR_PID_RSVD,    0x28, "IR: reserved field in the posted descriptor", true) \
    X(IR_NOT_INTR,    0x29, "IR: request to the interrupt range is not an interrupt", false) \
    X(IR_EIME,        0x2a, "IR: EIME=0 while x2APIC mode is required", false) \
    X(IR_DISABLED,    0x2b, "IR: interrupt with remapping disabled and required", false) \
    X(RTA_1,   0x30, "RTA.1 invalid RTADDR programming (TTM)", false)         \
    X(RTA_2,   0x31, "RTA.2 legacy mode and request with PASID", false)       \
    X(RTA_3,   0x32, "RTA.3 legacy mode and page request", false)             \
    X(RTA_4,   0x33, "RTA.4 abort-DMA mode", false)                           \
    X(RTA_5,   0x34, "RTA.5 execute request", false)                          \
    X(SRT_1,   0x38, "SRT.1 error accessing the scalable root entry", false)  \
    X(SRT_2,   0x39, "SRT.2 scalable root entry half not present", false)     \
    X(SRT_3,   0x3a, "SRT.3 reserved bit in the scalable root entry", false)  \
    X(SCT_1,   0x40, "SCT.1 error accessing the scalable context entry", false) \
    X(SCT_2,   0x41, "SCT.2 scalable context entry not present", true)        \
    X(SCT_3,   0x42, "SCT.3 reserved bit in a scalable context entry", true)  \
    X(SCT_4,   0x43, "SCT.4 invalid scalable context programming", true)      \
    X(SCT_5,   0x44, "SCT.5 DTE=0 and translation or translated request", true) \
    X(SCT_6,   0x45, "SCT.6 PASIDE=0 and request with PASID", true)           \
    X(SCT_7,   0x46, "SCT.7 PASID beyond the directory size", true)           \
    X(SCT_8,   0x47, "SCT.8 PRE=0 and page request", true)                    \
    X(SCT_9,   0x48, "SCT.9 request PASID equals RID_PASID", true)            \
    X(SCT_10,  0x49, "SCT.10 EPTR=0 and translated request with PASID", true) \
    X(SPD_1,   0x50, "SPD.1 error accessing the PASID-directory entry", false) \
    X(SPD_2,   0x51, "SPD.2 PASID-directory entry not present", true)         \
    X(SPD_3,   0x52, "SPD.3 reserved bit in a PASID-directory entry", true)   \
    X(SPT_1,   0x58, "SPT.1 error accessing the PASID-table entry", false)    \
    X(SPT_2,   0x59, "SPT.2 PASID-table entry not present", true)             \
    X(SPT_3,   0x5a, "SPT.3 reserved bit in a PASID-table entry", true)       \
    X(SPT_4,   0x5b, "SPT.4 invalid PASID-table entry programming", true)     \
    X(SPT_5,   0x5c, "SPT.5 execute request while ERS=0", true)               \
    X(SPT_6,   0x5d, "SPT.6 supervisor request with SRE=0", true)             \
    X(SFS_1,   0x70, "SFS.1 error accessing a first-stage entry", true)       \
    X(SFS_2,   0x71, "SFS.2 first-stage entry not present", true)             \
    X(SFS_3,   0x72, "SFS.3 reserved bit in a first-stage entry", true)       \
    X(SFS_4,   0x73, "SFS.4 error accessing the first-stage root table", true) \
    X(SFS_5,   0x74, "SFS.5 nested first-stage address beyond the width", true) \
    X(SFS_6,   0x75, "SFS.6 nested FS root read blocked by second stage", true) \
    X(SFS_7,   0x76, "SFS.7 nested FS entry read blocked by second stage", true) \
    X(SFS_8,   0x77, "SFS.8 nested FS A/D update blocked by second stage", true) \
    X(SSS_1,   0x78, "SSS.1 error accessing a second-stage entry", true)      \
    X(SSS_2,   0x79, "SSS.2 second-stage entry not present", true)            \
    X(SSS_3,   0x7a, "SSS.3 reserved bit in a second-stage entry", true)      \
    X(SSS_4,   0x7b, "SSS.4 error accessing the second-stage root table", true) \
    X(SSS_5,   0x7c, "SSS.5 SS A/D update needs a snooped walk", true)        \
    X(SSS_6,   0x7d, "SSS.6 SS A/D update failed", true)                      \
    X(SGN_1,   0x80, "SGN.1 non-canonical first-stage input address", true)   \
    X(SGN_2,   0x81, "SGN.2 user request to a supervisor page", true)         \
    X(SGN_4,   0x83, "SGN.4 address beyond the host address width", true)     \
    X(SGN_5,   0x84, "SGN.5 second-stage input beyond the address width", true) \
    X(SGN_6,   0x85, "SGN.6 write without write permission", true)            \
    X(SGN_7,   0x86, "SGN.7 read without read permission", true)              \
    X(SGN_8,   0x87, "SGN.8 output address in the interrupt range", true)     \
    X(SGN_10,  0x89, "SGN.10 PASID beyond the supported width", true)         \
    X(SFS_9,   0x90, "SFS.9 FS A/D update needs a snooped walk", true)        \
    X(SFS_10,  0x91, "SFS.10 FS A/D update failed", true)

typedef enum VtdFaultReason {
    VTD_FR_NONE = 0,
#define VTD_FR_ENUM(name, code, desc, qual) VTD_FR_##name = (code),
    VTD_FAULT_REASON_LIST(VTD_FR_ENUM)
#undef VTD_FR_ENUM
} VtdFaultReason;

/* Name ("SCT.4 ...") of a reason, or NULL for an unknown code. */
const char *vtd_fault_reason_name(unsigned code);
/* Qualified faults are the ones an FPD bit can suppress. */
bool vtd_fault_reason_qualified(unsigned code);
/* Number of defined reasons (for tests). */
unsigned vtd_fault_reason_count(void);

#endif
