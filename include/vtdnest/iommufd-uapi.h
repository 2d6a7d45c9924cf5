/*
 * The iommufd and VFIO-cdev user ABI as vtdnest uses it, declared by the
 * project itself: the build machine's kernel headers have no
 * <linux/iommufd.h> and an old <linux/vfio.h>. Numbers and layouts follow
 * docs/iommufd-uapi.md (x86-64). Names match the kernel's so VMM people can
 * grep for them; do not include <linux/iommufd.h> alongside this header.
 *
 * Every struct's size and field offsets are pinned by _Static_assert in
 * hw/iommufd/iommufd-uapi-check.c.
 */
#ifndef VTDNEST_IOMMUFD_UAPI_H
#define VTDNEST_IOMMUFD_UAPI_H

#ifdef _UAPI_IOMMUFD_H
#error "include either <linux/iommufd.h> or vtdnest/iommufd-uapi.h, not both"
#endif

#include <stdint.h>

/* 8-byte alignment of 64-bit fields on every ABI, as the kernel's __aligned_u64. */
typedef uint64_t iommufd_aligned_u64 __attribute__((aligned(8)));

/*
 * Both iommufd and VFIO use plain _IO(';', nr): no size or direction bits;
 * the kernel learns the size from the leading u32 (size / argsz).
 */
#define IOMMUFD_TYPE            0x3B   /* ';' */
#define IOMMUFD_CMD_BASE        0x80
#define IOMMUFD_IO(nr)          ((unsigned long)((IOMMUFD_TYPE << 8) | (nr)))
#define IOMMUFD_IOC_NR(req)     ((unsigned)((req) & 0xff))

enum {
    IOMMUFD_CMD_DESTROY = IOMMUFD_CMD_BASE,   /* 0x80 */
    IOMMUFD_CMD_IOAS_ALLOC = 0x81,
    IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82,
    IOMMUFD_CMD_IOAS_COPY = 0x83,
    IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84,
    IOMMUFD_CMD_IOAS_MAP = 0x85,
    IOMMUFD_CMD_IOAS_UNMAP = 0x86,
    IOMMUFD_CMD_OPTION = 0x87,
    IOMMUFD_CMD_VFIO_IOAS = 0x88,
    IOMMUFD_CMD_HWPT_ALLOC = 0x89,
    IOMMUFD_CMD_GET_HW_INFO = 0x8A,
    IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8B,
    IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8C,
    IOMMUFD_CMD_HWPT_INVALIDATE = 0x8D,
    IOMMUFD_CMD_FAULT_QUEUE_ALLOC = 0x8E,
    IOMMUFD_CMD_IOAS_MAP_FILE = 0x8F,
    IOMMUFD_CMD_VIOMMU_ALLOC = 0x90,
    IOMMUFD_CMD_VDEVICE_ALLOC = 0x91,
    IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92,
    IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93,
    IOMMUFD_CMD_HW_QUEUE_ALLOC = 0x94,
};

#define IOMMU_DESTROY                 IOMMUFD_IO(IOMMUFD_CMD_DESTROY)
#define IOMMU_IOAS_ALLOC              IOMMUFD_IO(IOMMUFD_CMD_IOAS_ALLOC)
#define IOMMU_IOAS_ALLOW_IOVAS        IOMMUFD_IO(IOMMUFD_CMD_IOAS_ALLOW_IOVAS)
#define IOMMU_IOAS_COPY               IOMMUFD_IO(IOMMUFD_CMD_IOAS_COPY)
#define IOMMU_IOAS_IOVA_RANGES        IOMMUFD_IO(IOMMUFD_CMD_IOAS_IOVA_RANGES)
#define IOMMU_IOAS_MAP                IOMMUFD_IO(IOMMUFD_CMD_IOAS_MAP)
#define IOMMU_IOAS_UNMAP              IOMMUFD_IO(IOMMUFD_CMD_IOAS_UNMAP)
#define IOMMU_OPTION                  IOMMUFD_IO(IOMMUFD_CMD_OPTION)
#define IOMMU_VFIO_IOAS               IOMMUFD_IO(IOMMUFD_CMD_VFIO_IOAS)
#define IOMMU_HWPT_ALLOC              IOMMUFD_IO(IOMMUFD_CMD_HWPT_ALLOC)
#define IOMMU_GET_HW_INFO             IOMMUFD_IO(IOMMUFD_CMD_GET_HW_INFO)
#define IOMMU_HWPT_SET_DIRTY_TRACKING IOMMUFD_IO(IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING)
#define IOMMU_HWPT_GET_DIRTY_BITMAP   IOMMUFD_IO(IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP)
#define IOMMU_HWPT_INVALIDATE         IOMMUFD_IO(IOMMUFD_CMD_HWPT_INVALIDATE)
#define IOMMU_FAULT_QUEUE_ALLOC       IOMMUFD_IO(IOMMUFD_CMD_FAULT_QUEUE_ALLOC)
#define IOMMU_IOAS_MAP_FILE           IOMMUFD_IO(IOMMUFD_CMD_IOAS_MAP_FILE)
#define IOMMU_VIOMMU_ALLOC            IOMMUFD_IO(IOMMUFD_CMD_VIOMMU_ALLOC)
#define IOMMU_VDEVICE_ALLOC           IOMMUFD_IO(IOMMUFD_CMD_VDEVICE_ALLOC)
#define IOMMU_IOAS_CHANGE_PROCESS     IOMMUFD_IO(IOMMUFD_CMD_IOAS_CHANGE_PROCESS)
#define IOMMU_VEVENTQ_ALLOC           IOMMUFD_IO(IOMMUFD_CMD_VEVENTQ_ALLOC)
#define IOMMU_HW_QUEUE_ALLOC          IOMMUFD_IO(IOMMUFD_CMD_HW_QUEUE_ALLOC)

/* VFIO device cdev (/dev/vfio/devices/vfioN) commands: VFIO_BASE = 100. */
#define VFIO_CDEV_BASE                100
#define VFIO_DEVICE_BIND_IOMMUFD      IOMMUFD_IO(VFIO_CDEV_BASE + 18)   /* 0x3B76 */
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT IOMMUFD_IO(VFIO_CDEV_BASE + 19)   /* 0x3B77 */
#define VFIO_DEVICE_DETACH_IOMMUFD_PT IOMMUFD_IO(VFIO_CDEV_BASE + 20)   /* 0x3B78 */

/* PASID 0 is "no PASID" (requests without PASID, VT-d RID_PASID). */
#define IOMMUFD_NO_PASID 0u

/* ---- objects and IOAS ---- */

struct iommu_destroy {
    uint32_t size;
    uint32_t id;
};

struct iommu_ioas_alloc {
    uint32_t size;
    uint32_t flags;
    uint32_t out_ioas_id;
};

struct iommu_iova_range {
    iommufd_aligned_u64 start;
    iommufd_aligned_u64 last;   /* inclusive */
};

struct iommu_ioas_iova_ranges {
    uint32_t size;
    uint32_t ioas_id;
    uint32_t num_iovas;
    uint32_t __reserved;
    iommufd_aligned_u64 allowed_iovas;     /* user pointer to iommu_iova_range[] */
    iommufd_aligned_u64 out_iova_alignment;
};

struct iommu_ioas_allow_iovas {
    uint32_t size;
    uint32_t ioas_id;
    uint32_t num_iovas;
    uint32_t __reserved;
    iommufd_aligned_u64 allowed_iovas;
};

enum iommufd_ioas_map_flags {
    IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
    IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
    IOMMU_IOAS_MAP_READABLE = 1 << 2,
};

struct iommu_ioas_map {
    uint32_t size;
    uint32_t flags;
    uint32_t ioas_id;
    uint32_t __reserved;
    iommufd_aligned_u64 user_va;
    iommufd_aligned_u64 length;
    iommufd_aligned_u64 iova;
};

struct iommu_ioas_map_file {
    uint32_t size;
    uint32_t flags;
    uint32_t ioas_id;
    int32_t fd;
    iommufd_aligned_u64 start;
    iommufd_aligned_u64 length;
    iommufd_aligned_u64 iova;
};

struct iommu_ioas_copy {
    uint32_t size;
    uint32_t flags;
    uint32_t dst_ioas_id;
    uint32_t src_ioas_id;
    iommufd_aligned_u64 length;
    iommufd_aligned_u64 dst_iova;
    iommufd_aligned_u64 src_iova;
};

struct iommu_ioas_unmap {
    uint32_t size;
    uint32_t ioas_id;
    iommufd_aligned_u64 iova;
    iommufd_aligned_u64 length;   /* in: length; out: bytes unmapped */
};

enum iommufd_option {
    IOMMU_OPTION_RLIMIT_MODE = 0,
    IOMMU_OPTION_HUGE_PAGES = 1,
};

enum iommufd_option_ops {
    IOMMU_OPTION_OP_SET = 0,
    IOMMU_OPTION_OP_GET = 1,
};

struct iommu_option {
    uint32_t size;
    uint32_t option_id;
    uint16_t op;
    uint16_t __reserved;
    uint32_t object_id;
    iommufd_aligned_u64 val64;
};

/* ---- HWPT allocation ---- */

enum iommufd_hwpt_alloc_flags {
    IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0,
    IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
    IOMMU_HWPT_FAULT_ID_VALID = 1 << 2,
    IOMMU_HWPT_ALLOC_PASID = 1 << 3,
};

enum iommu_hwpt_data_type {
    IOMMU_HWPT_DATA_NONE = 0,
    IOMMU_HWPT_DATA_VTD_S1 = 1,
    IOMMU_HWPT_DATA_ARM_SMMUV3 = 2,
};

enum iommu_hwpt_vtd_s1_flags {
    IOMMU_VTD_S1_SRE = 1 << 0,
    IOMMU_VTD_S1_EAFE = 1 << 1,
    IOMMU_VTD_S1_WPE = 1 << 2,
};

struct iommu_hwpt_vtd_s1 {
    iommufd_aligned_u64 flags;
    iommufd_aligned_u64 pgtbl_addr;   /* guest first-stage root (a GPA) */
    uint32_t addr_width;              /* 48 or 57 */
    uint32_t __reserved;
};

struct iommu_hwpt_alloc {
    uint32_t size;
    uint32_t flags;
    uint32_t dev_id;
    uint32_t pt_id;
    uint32_t out_hwpt_id;
    uint32_t __reserved;
    uint32_t data_type;
    uint32_t data_len;
    iommufd_aligned_u64 data_uptr;
    uint32_t fault_id;
    uint32_t __reserved2;
};

/* ---- hardware info ---- */

enum iommu_hw_info_type {
    IOMMU_HW_INFO_TYPE_NONE = 0,
    IOMMU_HW_INFO_TYPE_DEFAULT = 0,
    IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
    IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2,
    IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV = 3,
};

enum iommufd_hw_info_flags {
    IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0,
};

enum iommufd_hw_capabilities {
    IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0,
    IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1,
    IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2,
    /* Newest kernels only; value from third-party bindings (fact sheet). */
    IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED = 1 << 3,
};

enum iommu_hw_info_vtd_flags {
    IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0,
};

struct iommu_hw_info_vtd {
    uint32_t flags;
    uint32_t __reserved;
    iommufd_aligned_u64 cap_reg;
    iommufd_aligned_u64 ecap_reg;
};

struct iommu_hw_info {
    uint32_t size;
    uint32_t flags;
    uint32_t dev_id;
    uint32_t data_len;
    iommufd_aligned_u64 data_uptr;
    union {
        uint32_t in_data_type;
        uint32_t out_data_type;
    };
    uint8_t out_max_pasid_log2;
    uint8_t __reserved[3];
    iommufd_aligned_u64 out_capabilities;
};

/* ---- invalidation ---- */

enum iommu_hwpt_invalidate_data_type {
    IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0,   /* note: allocation type VTD_S1 is 1 */
    IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 = 1,
};

enum iommu_hwpt_vtd_s1_invalidate_flags {
    IOMMU_VTD_INV_FLAGS_LEAF = 1 << 0,
};

struct iommu_hwpt_vtd_s1_invalidate {
    iommufd_aligned_u64 addr;     /* 4 KiB aligned */
    iommufd_aligned_u64 npages;   /* U64_MAX with addr 0: everything */
    uint32_t flags;
    uint32_t __reserved;
};

struct iommu_hwpt_invalidate {
    uint32_t size;
    uint32_t hwpt_id;
    iommufd_aligned_u64 data_uptr;
    uint32_t data_type;
    uint32_t entry_len;
    uint32_t entry_num;   /* in: entries; out: entries handled */
    uint32_t __reserved;
};

/* ---- I/O page fault delivery ---- */

struct iommu_fault_alloc {
    uint32_t size;
    uint32_t flags;
    uint32_t out_fault_id;
    uint32_t out_fault_fd;
};

enum iommu_hwpt_pgfault_flags {
    IOMMU_PGFAULT_FLAGS_PASID_VALID = 1 << 0,
    IOMMU_PGFAULT_FLAGS_LAST_PAGE = 1 << 1,
};

enum iommu_hwpt_pgfault_perm {
    IOMMU_PGFAULT_PERM_READ = 1 << 0,
    IOMMU_PGFAULT_PERM_WRITE = 1 << 1,
    IOMMU_PGFAULT_PERM_EXEC = 1 << 2,
    IOMMU_PGFAULT_PERM_PRIV = 1 << 3,
};

struct iommu_hwpt_pgfault {
    uint32_t flags;
    uint32_t dev_id;
    uint32_t pasid;
    uint32_t grpid;
    uint32_t perm;
    uint32_t __reserved;
    iommufd_aligned_u64 addr;
    uint32_t length;
    uint32_t cookie;
};

enum iommufd_page_response_code {
    IOMMUFD_PAGE_RESP_SUCCESS = 0,
    IOMMUFD_PAGE_RESP_INVALID = 1,
};

struct iommu_hwpt_page_response {
    uint32_t cookie;
    uint32_t code;
};

/* ---- VFIO device cdev ---- */

#define VFIO_DEVICE_BIND_FLAG_TOKEN (1u << 0)

struct vfio_device_bind_iommufd {
    uint32_t argsz;
    uint32_t flags;
    int32_t iommufd;
    uint32_t out_devid;
    iommufd_aligned_u64 token_uuid_ptr;   /* only with VFIO_DEVICE_BIND_FLAG_TOKEN */
};
#define VFIO_DEVICE_BIND_IOMMUFD_MINSZ 16u

#define VFIO_DEVICE_ATTACH_PASID (1u << 0)

struct vfio_device_attach_iommufd_pt {
    uint32_t argsz;
    uint32_t flags;
    uint32_t pt_id;   /* in: IOAS/HWPT id; out: HWPT actually attached */
    uint32_t pasid;   /* only with VFIO_DEVICE_ATTACH_PASID */
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT_MINSZ 12u

#define VFIO_DEVICE_DETACH_PASID (1u << 0)

struct vfio_device_detach_iommufd_pt {
    uint32_t argsz;
    uint32_t flags;
    uint32_t pasid;   /* only with VFIO_DEVICE_DETACH_PASID */
};
#define VFIO_DEVICE_DETACH_IOMMUFD_PT_MINSZ 8u

#endif
