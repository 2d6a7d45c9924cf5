/*
 * A VT-d table builder and register toolkit for qtests.
 *
 * Everything here drives the machine the way a guest driver would: it writes
 * tables into guest RAM with qtest memory commands and programs the remapping
 * unit through its MMIO registers. Bit positions are written out here again
 * from the VT-d specification (../shared/docs/vtd-spec-facts.md) on purpose:
 * the tests must not share constants with the implementation they check.
 */
#ifndef VTD_BUILDER_H
#define VTD_BUILDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "libqtest.h"

#define VTB_BIT(n)            (1ULL << (n))

/* ---- Register map (spec §1) ------------------------------------------- */
#define VTB_REG_BASE          0xfed90000ULL
#define VTB_VER               0x000
#define VTB_CAP               0x008
#define VTB_ECAP              0x010
#define VTB_GCMD              0x018
#define VTB_GSTS              0x01c
#define VTB_RTADDR            0x020
#define VTB_CCMD              0x028
#define VTB_FSTS              0x034
#define VTB_FECTL             0x038
#define VTB_FEDATA            0x03c
#define VTB_FEADDR            0x040
#define VTB_FEUADDR           0x044
#define VTB_PMEN              0x064
#define VTB_IQH               0x080
#define VTB_IQT               0x088
#define VTB_IQA               0x090
#define VTB_ICS               0x09c
#define VTB_IECTL             0x0a0
#define VTB_IEDATA            0x0a4
#define VTB_IEADDR            0x0a8
#define VTB_IEUADDR           0x0ac
#define VTB_IQERCD            0x0b0
#define VTB_IRTA              0x0b8
#define VTB_REGS_END          0x220   /* fixed registers end; FRCDs follow */

/* CAP */
#define VTB_CAP_ND(c)         ((unsigned)((c) & 7))
#define VTB_CAP_CM            VTB_BIT(7)
#define VTB_CAP_SAGAW(c)      ((unsigned)(((c) >> 8) & 0x1f))
#define VTB_SAGAW_39          0x2
#define VTB_SAGAW_48          0x4
#define VTB_SAGAW_57          0x8
#define VTB_CAP_MGAW(c)       ((unsigned)(((c) >> 16) & 0x3f))   /* width-1 */
#define VTB_CAP_ZLR           VTB_BIT(22)
#define VTB_CAP_FRO(c)        ((unsigned)(((c) >> 24) & 0x3ff) * 16)
#define VTB_CAP_SSLPS(c)      ((unsigned)(((c) >> 34) & 0xf))
#define VTB_CAP_PSI           VTB_BIT(39)
#define VTB_CAP_NFR(c)        ((unsigned)(((c) >> 40) & 0xff) + 1)
#define VTB_CAP_MAMV(c)       ((unsigned)(((c) >> 48) & 0x3f))
#define VTB_CAP_FS1GP         VTB_BIT(56)
#define VTB_CAP_FS5LP         VTB_BIT(60)

/* ECAP */
#define VTB_ECAP_QI           VTB_BIT(1)
#define VTB_ECAP_DT           VTB_BIT(2)
#define VTB_ECAP_IR           VTB_BIT(3)
#define VTB_ECAP_PT           VTB_BIT(6)
#define VTB_ECAP_IRO(e)       ((unsigned)(((e) >> 8) & 0x3ff) * 16)
#define VTB_ECAP_MHMV(e)      ((unsigned)(((e) >> 20) & 0xf))
#define VTB_ECAP_NEST         VTB_BIT(26)
#define VTB_ECAP_SRS          VTB_BIT(31)
#define VTB_ECAP_PSS(e)       ((unsigned)(((e) >> 35) & 0x1f))   /* width-1 */
#define VTB_ECAP_PASID        VTB_BIT(40)
#define VTB_ECAP_SMTS         VTB_BIT(43)
#define VTB_ECAP_SSADS        VTB_BIT(45)
#define VTB_ECAP_SSTS         VTB_BIT(46)
#define VTB_ECAP_FSTS         VTB_BIT(47)
#define VTB_ECAP_SMPWCS       VTB_BIT(48)
#define VTB_ECAP_RPS          VTB_BIT(49)
#define VTB_ECAP_ADMS         VTB_BIT(52)

/* GCMD / GSTS */
#define VTB_GCMD_TE           VTB_BIT(31)
#define VTB_GCMD_SRTP         VTB_BIT(30)
#define VTB_GCMD_QIE          VTB_BIT(26)
#define VTB_GCMD_IRE          VTB_BIT(25)
#define VTB_GCMD_SIRTP        VTB_BIT(24)
#define VTB_GCMD_CFI          VTB_BIT(23)
#define VTB_GSTS_ONESHOT_MASK 0x96ffffffu  /* clears SRTP, SFL, WBF, SIRTP */

/* RTADDR.TTM */
#define VTB_TTM_LEGACY        0
#define VTB_TTM_SCALABLE      1
#define VTB_TTM_RESERVED      2
#define VTB_TTM_ABORT         3

/* FSTS / FECTL */
#define VTB_FSTS_PFO          VTB_BIT(0)
#define VTB_FSTS_PPF          VTB_BIT(1)
#define VTB_FSTS_IQE          VTB_BIT(4)
#define VTB_FSTS_FRI(v)       ((unsigned)(((v) >> 8) & 0xff))
#define VTB_FECTL_IM          VTB_BIT(31)
#define VTB_FECTL_IP          VTB_BIT(30)

/* CCMD / IOTLB registers */
#define VTB_CCMD_ICC          VTB_BIT(63)
#define VTB_CCMD_CIRG(g)      ((uint64_t)(g) << 61)
#define VTB_CCMD_CAIG(v)      ((unsigned)(((v) >> 59) & 3))
#define VTB_IOTLB_IVT         VTB_BIT(63)
#define VTB_IOTLB_IIRG(g)     ((uint64_t)(g) << 60)
#define VTB_IOTLB_IAIG(v)     ((unsigned)(((v) >> 57) & 3))
#define VTB_IOTLB_DID(d)      ((uint64_t)(d) << 32)
#define VTB_GRAN_GLOBAL       1
#define VTB_GRAN_DOMAIN       2
#define VTB_GRAN_PAGE         3   /* IOTLB page / CCMD device */

/* AW encodings (context / PASID entry) */
#define VTB_AW_39             1
#define VTB_AW_48             2
#define VTB_AW_57             3

/* Legacy context TT */
#define VTB_TT_MULTI          0
#define VTB_TT_DEVTLB         1
#define VTB_TT_PT             2

/* PASID-entry PGTT */
#define VTB_PGTT_FS           1
#define VTB_PGTT_SS           2
#define VTB_PGTT_NESTED       3
#define VTB_PGTT_PT           4

/* Second-stage entry bits */
#define VTB_SS_R              VTB_BIT(0)
#define VTB_SS_W              VTB_BIT(1)
#define VTB_SS_RW             (VTB_SS_R | VTB_SS_W)
#define VTB_SS_PS             VTB_BIT(7)
#define VTB_SS_A              VTB_BIT(8)
#define VTB_SS_D              VTB_BIT(9)
#define VTB_SS_SNP            VTB_BIT(11)

/* First-stage entry bits */
#define VTB_FS_P              VTB_BIT(0)
#define VTB_FS_RW             VTB_BIT(1)
#define VTB_FS_US             VTB_BIT(2)
#define VTB_FS_A              VTB_BIT(5)
#define VTB_FS_D              VTB_BIT(6)
#define VTB_FS_PS             VTB_BIT(7)
#define VTB_FS_EA             VTB_BIT(10)
/* What a guest usually writes: everything present, writable, user, A/D preset
 * (so no walk needs an A/D update, which needs SMPWCS). */
#define VTB_FS_NONLEAF_DEFAULT (VTB_FS_P | VTB_FS_RW | VTB_FS_US | VTB_FS_A)
#define VTB_FS_LEAF_DEFAULT   (VTB_FS_NONLEAF_DEFAULT | VTB_FS_D)

#define VTB_ADDR_MASK         0x000ffffffffff000ULL  /* bits 51:12 */
#define VTB_PAGE_4K           0x1000ULL
#define VTB_PAGE_2M           0x200000ULL
#define VTB_PAGE_1G           0x40000000ULL

/* Fault reasons used by the tests (spec §6.1). */
enum {
    VTB_FR_LRT_2 = 0x01, VTB_FR_LCT_2 = 0x02, VTB_FR_LCT_4 = 0x03,
    VTB_FR_LGN_1 = 0x04, VTB_FR_LGN_2 = 0x05, VTB_FR_LGN_3 = 0x06,
    VTB_FR_LSS_1 = 0x07, VTB_FR_LRT_1 = 0x08, VTB_FR_LCT_1 = 0x09,
    VTB_FR_LRT_3 = 0x0a, VTB_FR_LCT_3 = 0x0b, VTB_FR_LSS_2 = 0x0c,
    VTB_FR_LCT_5 = 0x0d, VTB_FR_LGN_4 = 0x0e,
    VTB_FR_IR_NOT_INTR = 0x29,
    VTB_FR_RTA_1 = 0x30, VTB_FR_RTA_2 = 0x31, VTB_FR_RTA_4 = 0x33,
    VTB_FR_SRT_1 = 0x38, VTB_FR_SRT_2 = 0x39, VTB_FR_SRT_3 = 0x3a,
    VTB_FR_SCT_1 = 0x40, VTB_FR_SCT_2 = 0x41, VTB_FR_SCT_3 = 0x42,
    VTB_FR_SCT_4 = 0x43, VTB_FR_SCT_5 = 0x44, VTB_FR_SCT_6 = 0x45,
    VTB_FR_SCT_7 = 0x46, VTB_FR_SCT_9 = 0x48,
    VTB_FR_SPD_1 = 0x50, VTB_FR_SPD_2 = 0x51, VTB_FR_SPD_3 = 0x52,
    VTB_FR_SPT_1 = 0x58, VTB_FR_SPT_2 = 0x59, VTB_FR_SPT_3 = 0x5a,
    VTB_FR_SPT_4 = 0x5b, VTB_FR_SPT_6 = 0x5d,
    VTB_FR_SFS_1 = 0x70, VTB_FR_SFS_2 = 0x71, VTB_FR_SFS_3 = 0x72,
    VTB_FR_SFS_4 = 0x73, VTB_FR_SFS_5 = 0x74, VTB_FR_SFS_6 = 0x75,
    VTB_FR_SFS_7 = 0x76, VTB_FR_SFS_8 = 0x77,
    VTB_FR_SSS_1 = 0x78, VTB_FR_SSS_2 = 0x79, VTB_FR_SSS_3 = 0x7a,
    VTB_FR_SSS_4 = 0x7b, VTB_FR_SSS_5 = 0x7c,
    VTB_FR_SGN_1 = 0x80, VTB_FR_SGN_2 = 0x81, VTB_FR_SGN_4 = 0x83,
    VTB_FR_SGN_5 = 0x84, VTB_FR_SGN_6 = 0x85, VTB_FR_SGN_7 = 0x86,
    VTB_FR_SGN_8 = 0x87, VTB_FR_SGN_10 = 0x89,
    VTB_FR_SFS_9 = 0x90,
};

/* ---- The builder ------------------------------------------------------ */

typedef struct VtdBuilder {
    QTestState *qts;
    uint64_t base;         /* register window */
    uint64_t cap, ecap;    /* read once at init */
    uint64_t mem_next;     /* bump allocator cursor (guest RAM) */
    uint64_t mem_end;
} VtdBuilder;

/* Reads CAP/ECAP; tables are allocated from [alloc_base, alloc_base+size). */
void vtb_init(VtdBuilder *b, QTestState *qts, uint64_t alloc_base,
              uint64_t alloc_size);
/* A zeroed, size-aligned block of guest RAM (size >= 4 KiB: page aligned). */
uint64_t vtb_alloc(VtdBuilder *b, uint64_t size);
uint64_t vtb_alloc_page(VtdBuilder *b);

uint32_t vtb_rl(VtdBuilder *b, uint32_t off);
uint64_t vtb_rq(VtdBuilder *b, uint32_t off);
void vtb_wl(VtdBuilder *b, uint32_t off, uint32_t v);
void vtb_wq(VtdBuilder *b, uint32_t off, uint64_t v);
uint64_t vtb_mem_rq(VtdBuilder *b, uint64_t gpa);
void vtb_mem_wq(VtdBuilder *b, uint64_t gpa, uint64_t v);

/* ---- Structures (spec §4); `rsvd` words are ORed in raw for tests ---- */

typedef struct VtbLegacyRoot {
    bool p;
    uint64_t ctp;
    uint64_t rsvd[2];
} VtbLegacyRoot;

typedef struct VtbSmRoot {
    bool lp, up;
    uint64_t lctp, uctp;
    uint64_t rsvd[2];
} VtbSmRoot;

typedef struct VtbLegacyCtx {
    bool p, fpd;
    unsigned tt;           /* VTB_TT_* */
    uint64_t ssptptr;
    unsigned aw;           /* VTB_AW_* */
    uint16_t did;
    uint64_t rsvd[2];
} VtbLegacyCtx;

typedef struct VtbSmCtx {
    bool p, fpd, dte, paside, pre, rid_priv;
    unsigned pdts;         /* directory has 2^(pdts+7) entries */
    uint64_t pasid_dir;
    uint32_t rid_pasid;
    uint64_t rsvd[4];
} VtbSmCtx;

typedef struct VtbPasidDirEntry {
    bool p, fpd;
    uint64_t table;
    uint64_t rsvd;
} VtbPasidDirEntry;

typedef struct VtbPasidEntry {
    bool p, fpd;
    unsigned aw;           /* VTB_AW_* (SS / nested) */
    unsigned pgtt;         /* VTB_PGTT_* */
    bool ssade;
    uint64_t ssptptr;
    uint16_t did;
    bool pwsnp, pgsnp;
    bool sre, wpe, eafe;
    unsigned fspm;         /* 0: 4-level, 1: 5-level */
    uint64_t fsptptr;
    uint64_t rsvd[8];
} VtbPasidEntry;

void vtb_encode_legacy_root(const VtbLegacyRoot *e, uint64_t out[2]);
void vtb_encode_sm_root(const VtbSmRoot *e, uint64_t out[2]);
void vtb_encode_legacy_ctx(const VtbLegacyCtx *e, uint64_t out[2]);
void vtb_encode_sm_ctx(const VtbSmCtx *e, uint64_t out[4]);
uint64_t vtb_encode_pasid_dir(const VtbPasidDirEntry *e);
void vtb_encode_pasid_entry(const VtbPasidEntry *e, uint64_t out[8]);

/* Write one entry into the table at `table` (index as the hardware uses it:
 * bus, devfn, devfn & 0x7f, PASID[19:6], PASID[5:0]). */
void vtb_write_legacy_root(VtdBuilder *b, uint64_t table, uint8_t bus,
                           const VtbLegacyRoot *e);
void vtb_write_sm_root(VtdBuilder *b, uint64_t table, uint8_t bus,
                       const VtbSmRoot *e);
void vtb_write_legacy_ctx(VtdBuilder *b, uint64_t table, uint8_t devfn,
                          const VtbLegacyCtx *e);
void vtb_write_sm_ctx(VtdBuilder *b, uint64_t table, uint8_t devfn,
                      const VtbSmCtx *e);
void vtb_write_pasid_dir(VtdBuilder *b, uint64_t dir, uint32_t pasid,
                         const VtbPasidDirEntry *e);
void vtb_write_pasid_entry(VtdBuilder *b, uint64_t table, uint32_t pasid,
                           const VtbPasidEntry *e);
/* Guest addresses of those entries. */
uint64_t vtb_sm_ctx_addr(uint64_t table, uint8_t devfn);
uint64_t vtb_pasid_entry_addr(uint64_t table, uint32_t pasid);

/* ---- Page tables (first stage: IA-32e; second stage: EPT-like) ------- */

#define VTB_PGT_MAX_PAGES 128

typedef struct VtbPgtable {
    VtdBuilder *b;
    bool first_stage;
    unsigned levels;       /* 3, 4 or 5 */
    uint64_t root;         /* host address of the root table */
    uint64_t nonleaf;      /* bits of the entries the builder creates */
    /* Nested: table pointers in entries are written as host + gpa_offset,
     * and the second stage must map them back (vtb_pgt_map_tables). */
    uint64_t gpa_offset;
    uint64_t pages[VTB_PGT_MAX_PAGES];
    unsigned npages;
} VtbPgtable;

void vtb_pgt_init(VtbPgtable *pt, VtdBuilder *b, bool first_stage,
                  unsigned levels);
/* The root as the PASID/context entry must point at it (guest address for
 * a nested first stage). */
uint64_t vtb_pgt_root_ptr(const VtbPgtable *pt);
/* Map [iova, iova+size) to pa with one leaf (size 4K, 2M or 1G). Creates
 * missing tables with pt->nonleaf. Returns the leaf entry's host address. */
uint64_t vtb_pgt_map(VtbPgtable *pt, uint64_t iova, uint64_t pa,
                     uint64_t size, uint64_t leaf_bits);
/* Host address of the entry at `level` (1 = PT ... 5 = PML5) that translates
 * iova; the tables above it must exist. */
uint64_t vtb_pgt_entry(VtbPgtable *pt, uint64_t iova, unsigned level);
/* Read-modify-write that entry. */
void vtb_pgt_modify(VtbPgtable *pt, uint64_t iova, unsigned level,
                    uint64_t set, uint64_t clear);
/* Second stage `ss` maps every table page of `fs` (at its guest address) to
 * where it lives, with 4K leaves carrying `perm`. */
void vtb_pgt_map_tables(VtbPgtable *ss, const VtbPgtable *fs, uint64_t perm);

/* ---- Register programming --------------------------------------------- */

/* One GCMD command (spec §3.1 protocol): read GSTS, mask the one-shot bits,
 * set or clear `bit`, write GCMD, then report whether GSTS shows the result. */
bool vtb_gcmd(VtdBuilder *b, uint32_t bit, bool on);
/* RTADDR = rta | ttm << 10 (plus raw `extra` bits), then SRTP. */
bool vtb_set_root(VtdBuilder *b, uint64_t rta, unsigned ttm, uint64_t extra);
bool vtb_enable_te(VtdBuilder *b, bool on);
/* FECTL/FEDATA/FEADDR: event MSI target, masked or not. */
void vtb_fault_event_setup(VtdBuilder *b, uint32_t addr, uint32_t data,
                           bool masked);

/* Register-based invalidation; return the actual granularity (CAIG/IAIG). */
unsigned vtb_ccmd(VtdBuilder *b, unsigned gran, uint16_t did, uint16_t sid,
                  unsigned fm);
unsigned vtb_iotlb_inv(VtdBuilder *b, unsigned gran, uint16_t did,
                       uint64_t addr, unsigned am, bool ih);

/* ---- Queued invalidation ------------------------------------------------ */

typedef struct VtbQueue {
    VtdBuilder *b;
    uint64_t base;
    unsigned qs;           /* 2^qs pages */
    bool dw;               /* 256-bit descriptors */
    unsigned tail;         /* byte offset */
    uint64_t status_addr;  /* wait-descriptor status word */
    uint32_t seq;
} VtbQueue;

/* Set IQT=0, program IQA, enable QIE. False if QIES does not latch. */
bool vtb_qi_enable(VtbQueue *q, VtdBuilder *b, unsigned qs, bool dw);
/* Write one descriptor (2 or 4 qwords) at the tail and bump IQT. */
void vtb_qi_submit(VtbQueue *q, const uint64_t *desc);
/* Queue a wait descriptor with a status write; true once it completed. */
bool vtb_qi_wait(VtbQueue *q);

/* Descriptor encoders (spec §5.1); out has 4 qwords (2 used for 128-bit). */
void vtb_desc_cc(uint64_t out[4], unsigned g, uint16_t did, uint16_t sid,
                 unsigned fm);
void vtb_desc_iotlb(uint64_t out[4], unsigned g, uint16_t did, uint64_t addr,
                    unsigned am, bool ih);
void vtb_desc_piotlb(uint64_t out[4], unsigned g, uint16_t did,
                     uint32_t pasid, uint64_t addr, unsigned am, bool ih);
void vtb_desc_pc(uint64_t out[4], unsigned g, uint16_t did, uint32_t pasid);
void vtb_desc_wait(uint64_t out[4], bool sw, bool iflag, bool fn,
                   uint32_t data, uint64_t addr);

/* ---- Fault records ------------------------------------------------------- */

typedef struct VtbFault {
    bool f;
    uint8_t reason;
    uint16_t sid;
    uint64_t addr;         /* FI: page address */
    bool t1, t2;           /* (T1,T2): 00 write, 10 read, 11 atomic */
    bool pp, priv, exe;
    uint32_t pasid;
    unsigned at;
    uint64_t raw_lo, raw_hi;
} VtbFault;

unsigned vtb_nfr(VtdBuilder *b);
uint32_t vtb_fsts(VtdBuilder *b);
void vtb_fault_read(VtdBuilder *b, unsigned idx, VtbFault *out);
/* RW1C the F bit of record idx. */
void vtb_fault_clear(VtdBuilder *b, unsigned idx);
/* Clear every F bit and then PFO. */
void vtb_faults_clear_all(VtdBuilder *b);
/* Number of records with F=1. */
unsigned vtb_fault_count(VtdBuilder *b);
/* The record at FSTS.FRI if PPF, else false. */
bool vtb_first_fault(VtdBuilder *b, VtbFault *out);
const char *vtb_fault_describe(const VtbFault *f); /* static buffer */

/* ---- Test devices -------------------------------------------------------- */

#define VTB_TESTDEV_VENDOR    0x1b36
#define VTB_TESTDEV_DEVICE    0x0005
#define VTB_EDU_VENDOR        0x1234
#define VTB_EDU_DEVICE        0x11e8

/* iommu-testdev result codes */
#define VTB_TD_OK             0x00000000u
#define VTB_TD_IDLE           0xffffffffu
#define VTB_TD_BUSY           0xfffffffeu
#define VTB_TD_BAD_LEN        0xdead0001u
#define VTB_TD_TX_FAIL        0xdead0002u
#define VTB_TD_RD_FAIL        0xdead0003u
#define VTB_TD_MISMATCH       0xdead0004u
#define VTB_TD_NOT_ARMED      0xdead0005u
#define VTB_TD_BAD_ATTRS      0xdead0006u
#define VTB_TD_PATTERN        0x12345678u

typedef struct VtbDev {
    QTestState *qts;
    uint8_t bus, devfn;
    uint64_t bar;
    bool can_clock_step;   /* false for QEMU without the qtest accelerator */
    /* iommu-testdev vtdnest extension (docs/devices.md); written before each
     * DMA once vtb_testdev_set_request was called. */
    bool ext;
    uint32_t pasid_reg;    /* bit 31 valid, 19:0 PASID */
    uint32_t flags;        /* VTB_TD_FLAG_* */
} VtbDev;

#define VTB_TD_PASID_VALID    0x80000000u
#define VTB_TD_FLAG_PRIV      0x1u
#define VTB_TD_FLAG_READ      0x2u   /* DMA-read the IOVA, compare with GPA */
#define VTB_TD_FLAG_MSI       0x4u
#define VTB_NO_PASID          UINT32_MAX

/* Request attributes for following DMAs: pasid (VTB_NO_PASID for none),
 * privileged, read instead of write. */
void vtb_testdev_set_request(VtbDev *d, uint32_t pasid, bool priv, bool read);

uint16_t vtb_dev_sid(const VtbDev *d);
/* Find the device by enumeration and map BAR0 at bar_addr. */
bool vtb_testdev_find(VtbDev *d, QTestState *qts, uint64_t bar_addr);
/* Write the pattern to gva through the IOMMU; the device compares the bytes
 * at gpa (read directly). Returns DMA_RESULT. */
uint32_t vtb_testdev_dma(VtbDev *d, uint64_t gva, uint64_t gpa, uint32_t len);
/* One run the way QEMU's qos helper drives it, for a device that completes
 * synchronously (no vIOMMU, or a simulated host): program, arm the doorbell
 * (asserting BUSY; skipped when !arm, for the NOT_ARMED path), trigger
 * (asserting the read returns 0). Returns DMA_RESULT. */
uint32_t vtb_testdev_dma_checked(VtbDev *d, uint64_t gva, uint64_t gpa,
                                 uint32_t len, bool arm);
/* Config offset of the MSI capability; fails the test when there is none. */
uint8_t vtb_dev_msi_cap(VtbDev *d);
/* PCI COMMAND.BME on or off. */
void vtb_dev_set_bus_master(VtbDev *d, bool on);

bool vtb_edu_find(VtbDev *d, QTestState *qts, uint64_t bar_addr);
/* edu DMA between its 4 KiB buffer (device offset 0x40000) and RAM address
 * `iova`: to_ram = device writes RAM; otherwise device reads RAM. True when
 * the command completed (not whether the IOMMU allowed it). */
bool vtb_edu_dma(VtbDev *d, uint64_t iova, bool to_ram, uint32_t len);

/* ---- MSI log (qtest extension x-vtdnest-msi-log) ------------------------- */

typedef struct VtbMsi {
    uint64_t addr;
    uint32_t data;
    uint16_t sid;
    bool remapped;      /* translated through an IRTE */
} VtbMsi;

/* Fills up to max records; returns the count (or -1 if unsupported). */
int vtb_msi_log(QTestState *qts, VtbMsi *out, int max);
void vtb_msi_clear(QTestState *qts);

#endif
