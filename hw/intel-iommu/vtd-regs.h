/*
 * VT-d register offsets and bit fields (VT-d spec chapter 11; see
 * ../shared/docs/vtd-spec-facts.md §1-3). Pure definitions, no state.
 */
#ifndef VTD_REGS_H
#define VTD_REGS_H

#include <stdint.h>

#define VTD_BIT(n)            (1ULL << (n))
#define VTD_MASK(hi, lo)      ((~0ULL >> (63 - (hi))) & ~((1ULL << (lo)) - 1))
#define VTD_FIELD(v, hi, lo)  (((uint64_t)(v) & VTD_MASK(hi, lo)) >> (lo))

/* MMIO window: registers up to 0x220, then NFR 16-byte fault records. */
#define VTD_MMIO_SIZE         0x2000
#define VTD_FRCD_OFFSET       0x220   /* CAP.FRO = 0x22, as QEMU */
#define VTD_IVA_OFFSET        0x0f0   /* ECAP.IRO = 0x0f, as QEMU */
#define VTD_IOTLB_OFFSET      0x0f8
#define VTD_NFR_MAX           256

/* Register offsets. */
#define DMAR_VER_REG          0x000
#define DMAR_CAP_REG          0x008
#define DMAR_ECAP_REG         0x010
#define DMAR_GCMD_REG         0x018
#define DMAR_GSTS_REG         0x01c
#define DMAR_RTADDR_REG       0x020
#define DMAR_CCMD_REG         0x028
#define DMAR_FSTS_REG         0x034
#define DMAR_FECTL_REG        0x038
#define DMAR_FEDATA_REG       0x03c
#define DMAR_FEADDR_REG       0x040
#define DMAR_FEUADDR_REG      0x044
#define DMAR_PMEN_REG         0x064
#define DMAR_PLMBASE_REG      0x068
#define DMAR_PLMLIMIT_REG     0x06c
#define DMAR_PHMBASE_REG      0x070
#define DMAR_PHMLIMIT_REG     0x078
#define DMAR_IQH_REG          0x080
#define DMAR_IQT_REG          0x088
#define DMAR_IQA_REG          0x090
#define DMAR_ICS_REG          0x09c
#define DMAR_IECTL_REG        0x0a0
#define DMAR_IEDATA_REG       0x0a4
#define DMAR_IEADDR_REG       0x0a8
#define DMAR_IEUADDR_REG      0x0ac
#define DMAR_IQERCD_REG       0x0b0
#define DMAR_IRTA_REG         0x0b8
#define DMAR_PQH_REG          0x0c0
#define DMAR_PQT_REG          0x0c8
#define DMAR_PQA_REG          0x0d0
#define DMAR_PRS_REG          0x0dc
#define DMAR_PECTL_REG        0x0e0
#define DMAR_PEDATA_REG       0x0e4
#define DMAR_PEADDR_REG       0x0e8
#define DMAR_PEUADDR_REG      0x0ec

#define VTD_VERSION           0x10    /* 1.0, as QEMU reports */

/* CAP_REG */
#define VTD_CAP_ND(x)         ((uint64_t)(x) & 7)
#define VTD_CAP_RWBF          VTD_BIT(4)
#define VTD_CAP_PLMR          VTD_BIT(5)
#define VTD_CAP_PHMR          VTD_BIT(6)
#define VTD_CAP_CM            VTD_BIT(7)
#define VTD_CAP_SAGAW_SHIFT   8
#define VTD_CAP_SAGAW_MASK    VTD_MASK(12, 8)
#define VTD_CAP_SAGAW_39      VTD_BIT(9)
#define VTD_CAP_SAGAW_48      VTD_BIT(10)
#define VTD_CAP_SAGAW_57      VTD_BIT(11)
#define VTD_CAP_MGAW(aw)      (((uint64_t)((aw) - 1) & 0x3f) << 16)
#define VTD_CAP_MGAW_GET(cap) ((unsigned)VTD_FIELD(cap, 21, 16) + 1)
#define VTD_CAP_ZLR           VTD_BIT(22)
#define VTD_CAP_FRO(off)      ((((uint64_t)(off) >> 4) & 0x3ff) << 24)
#define VTD_CAP_FRO_GET(cap)  ((unsigned)VTD_FIELD(cap, 33, 24) << 4)
#define VTD_CAP_SSLPS_2M      VTD_BIT(34)
#define VTD_CAP_SSLPS_1G      VTD_BIT(35)
#define VTD_CAP_PSI           VTD_BIT(39)
#define VTD_CAP_NFR(n)        ((((uint64_t)(n) - 1) & 0xff) << 40)
#define VTD_CAP_NFR_GET(cap)  ((unsigned)VTD_FIELD(cap, 47, 40) + 1)
#define VTD_CAP_MAMV(v)       (((uint64_t)(v) & 0x3f) << 48)
#define VTD_CAP_MAMV_GET(cap) ((unsigned)VTD_FIELD(cap, 53, 48))
#define VTD_CAP_DWD           VTD_BIT(54)
#define VTD_CAP_DRD           VTD_BIT(55)
#define VTD_CAP_FS1GP         VTD_BIT(56)
#define VTD_CAP_PI            VTD_BIT(59)
#define VTD_CAP_FS5LP         VTD_BIT(60)
#define VTD_CAP_ECMDS         VTD_BIT(61)
#define VTD_CAP_ESIRTPS       VTD_BIT(62)
#define VTD_CAP_ESRTPS        VTD_BIT(63)

/* ECAP_REG */
#define VTD_ECAP_C            VTD_BIT(0)
#define VTD_ECAP_QI           VTD_BIT(1)
#define VTD_ECAP_DT           VTD_BIT(2)
#define VTD_ECAP_IR           VTD_BIT(3)
#define VTD_ECAP_EIM          VTD_BIT(4)
#define VTD_ECAP_PT           VTD_BIT(6)
#define VTD_ECAP_SC           VTD_BIT(7)
#define VTD_ECAP_IRO(off)     ((((uint64_t)(off) >> 4) & 0x3ff) << 8)
#define VTD_ECAP_IRO_GET(e)   ((unsigned)VTD_FIELD(e, 17, 8) << 4)
#define VTD_ECAP_MHMV(v)      (((uint64_t)(v) & 0xf) << 20)
#define VTD_ECAP_MTS          VTD_BIT(25)
#define VTD_ECAP_NEST         VTD_BIT(26)
#define VTD_ECAP_PRS          VTD_BIT(29)
#define VTD_ECAP_ERS          VTD_BIT(30)
#define VTD_ECAP_SRS          VTD_BIT(31)
#define VTD_ECAP_NWFS         VTD_BIT(33)
#define VTD_ECAP_EAFS         VTD_BIT(34)
#define VTD_ECAP_PSS(bits)    ((((uint64_t)(bits) - 1) & 0x1f) << 35)
#define VTD_ECAP_PSS_GET(e)   ((unsigned)VTD_FIELD(e, 39, 35) + 1) /* PASID width */
#define VTD_ECAP_PASID        VTD_BIT(40)
#define VTD_ECAP_DIT          VTD_BIT(41)
#define VTD_ECAP_PDS          VTD_BIT(42)
#define VTD_ECAP_SMTS         VTD_BIT(43)
#define VTD_ECAP_VCS          VTD_BIT(44)
#define VTD_ECAP_SSADS        VTD_BIT(45)
#define VTD_ECAP_SSTS         VTD_BIT(46)
#define VTD_ECAP_FSTS         VTD_BIT(47)
#define VTD_ECAP_SMPWCS       VTD_BIT(48)
#define VTD_ECAP_RPS          VTD_BIT(49)
#define VTD_ECAP_ADMS         VTD_BIT(52)
#define VTD_ECAP_RPRIVS       VTD_BIT(53)

/* GCMD_REG / GSTS_REG */
#define VTD_GCMD_TE           VTD_BIT(31)
#define VTD_GCMD_SRTP         VTD_BIT(30)
#define VTD_GCMD_SFL          VTD_BIT(29)
#define VTD_GCMD_EAFL         VTD_BIT(28)
#define VTD_GCMD_WBF          VTD_BIT(27)
#define VTD_GCMD_QIE          VTD_BIT(26)
#define VTD_GCMD_IRE          VTD_BIT(25)
#define VTD_GCMD_SIRTP        VTD_BIT(24)
#define VTD_GCMD_CFI          VTD_BIT(23)
#define VTD_GSTS_TES          VTD_GCMD_TE
#define VTD_GSTS_RTPS         VTD_GCMD_SRTP
#define VTD_GSTS_WBFS         VTD_GCMD_WBF
#define VTD_GSTS_QIES         VTD_GCMD_QIE
#define VTD_GSTS_IRES         VTD_GCMD_IRE
#define VTD_GSTS_IRTPS        VTD_GCMD_SIRTP
#define VTD_GSTS_CFIS         VTD_GCMD_CFI
#define VTD_GCMD_ONE_SHOT     (VTD_GCMD_SRTP | VTD_GCMD_SFL | VTD_GCMD_WBF | VTD_GCMD_SIRTP)

/* RTADDR_REG */
#define VTD_RTADDR_RTA_MASK   VTD_MASK(63, 12)
#define VTD_RTADDR_TTM(v)     ((unsigned)VTD_FIELD(v, 11, 10))
#define VTD_RTADDR_SSIRWE     VTD_BIT(7)
#define VTD_TTM_LEGACY        0
#define VTD_TTM_SCALABLE      1
#define VTD_TTM_RESERVED      2
#define VTD_TTM_ABORT_DMA     3

/* CCMD_REG */
#define VTD_CCMD_ICC          VTD_BIT(63)
#define VTD_CCMD_CIRG(v)      ((unsigned)VTD_FIELD(v, 62, 61))
#define VTD_CCMD_CAIG_SHIFT   59
#define VTD_CCMD_CAIG_MASK    VTD_MASK(60, 59)
#define VTD_CCMD_FM(v)        ((unsigned)VTD_FIELD(v, 33, 32))
/* SID bits a device-selective context invalidation compares (CCMD and
 * descriptor FM alike): FM 1/2/3 ignore SID bit 2, bits 2:1, bits 2:0. */
static inline uint16_t vtd_fm_sid_mask(unsigned fm)
{
    static const uint16_t mask[4] = { 0xffff, 0xfffb, 0xfff9, 0xfff8 };
    return mask[fm & 3];
}
#define VTD_CCMD_SID(v)       ((uint16_t)VTD_FIELD(v, 31, 16))
#define VTD_CCMD_DID(v)       ((uint16_t)VTD_FIELD(v, 15, 0))

/* IVA / IOTLB_REG */
#define VTD_IVA_ADDR(v)       ((v) & VTD_MASK(63, 12))
#define VTD_IVA_IH            VTD_BIT(6)
#define VTD_IVA_AM(v)         ((unsigned)VTD_FIELD(v, 5, 0))
#define VTD_IOTLB_IVT         VTD_BIT(63)
#define VTD_IOTLB_IIRG(v)     ((unsigned)VTD_FIELD(v, 61, 60))
#define VTD_IOTLB_IAIG_SHIFT  57
#define VTD_IOTLB_IAIG_MASK   VTD_MASK(58, 57)
#define VTD_IOTLB_DR          VTD_BIT(49)
#define VTD_IOTLB_DW          VTD_BIT(48)
#define VTD_IOTLB_DID(v)      ((uint16_t)VTD_FIELD(v, 47, 32))

/* FSTS_REG */
#define VTD_FSTS_PFO          VTD_BIT(0)
#define VTD_FSTS_PPF          VTD_BIT(1)
#define VTD_FSTS_IQE          VTD_BIT(4)
#define VTD_FSTS_ICE          VTD_BIT(5)
#define VTD_FSTS_ITE          VTD_BIT(6)
#define VTD_FSTS_FRI_SHIFT    8
#define VTD_FSTS_FRI_MASK     VTD_MASK(15, 8)

/* FECTL / IECTL / PECTL */
#define VTD_XECTL_IM          VTD_BIT(31)
#define VTD_XECTL_IP          VTD_BIT(30)

/* IQA / IQH / IQT / ICS / IQERCD */
#define VTD_IQA_BASE_MASK     VTD_MASK(63, 12)
#define VTD_IQA_DW            VTD_BIT(11)
#define VTD_IQA_QS(v)         ((unsigned)VTD_FIELD(v, 2, 0))
#define VTD_IQ_PTR_MASK       VTD_MASK(18, 4)
#define VTD_ICS_IWC           VTD_BIT(0)
#define VTD_IQEI_NONE         0
#define VTD_IQEI_TAIL         1
#define VTD_IQEI_FETCH        2
#define VTD_IQEI_TYPE         3
#define VTD_IQEI_RSVD         4
#define VTD_IQEI_WIDTH        5
#define VTD_IQEI_ALIGN        6
#define VTD_IQEI_TTM          7
#define VTD_IQERCD_ITESID_SHIFT 32
#define VTD_IQERCD_ICESID_SHIFT 48

/* IRTA */
#define VTD_IRTA_BASE_MASK    VTD_MASK(63, 12)
#define VTD_IRTA_EIME         VTD_BIT(11)
#define VTD_IRTA_S(v)         ((unsigned)VTD_FIELD(v, 3, 0))

/* PRQ */
#define VTD_PQ_PTR_MASK       VTD_MASK(18, 5)
#define VTD_PQA_BASE_MASK     VTD_MASK(63, 12)
#define VTD_PQA_PQS(v)        ((unsigned)VTD_FIELD(v, 2, 0))
#define VTD_PRS_PPR           VTD_BIT(0)
#define VTD_PRS_PRO           VTD_BIT(1)

/* FRCD (128-bit: lo qword at +0, hi qword at +8) */
#define VTD_FRCD_FI_MASK      VTD_MASK(63, 12)
#define VTD_FRCD_HI_SID(s)    ((uint64_t)(s) & 0xffff)
#define VTD_FRCD_HI_T2        VTD_BIT(92 - 64)
#define VTD_FRCD_HI_PRIV      VTD_BIT(93 - 64)
#define VTD_FRCD_HI_EXE       VTD_BIT(94 - 64)
#define VTD_FRCD_HI_PP        VTD_BIT(95 - 64)
#define VTD_FRCD_HI_FR(r)     (((uint64_t)(r) & 0xff) << (96 - 64))
#define VTD_FRCD_HI_PV(p)     (((uint64_t)(p) & 0xfffff) << (104 - 64))
#define VTD_FRCD_HI_AT(a)     (((uint64_t)(a) & 3) << (124 - 64))
#define VTD_FRCD_HI_T1        VTD_BIT(126 - 64)
#define VTD_FRCD_HI_F         VTD_BIT(127 - 64)

#endif
