/*
 * Compile-time pins of the iommufd / VFIO-cdev ABI (docs/iommufd-uapi.md §2).
 * A layout slip here would make the real kernel read garbage while the
 * simulator (which shares the header) happily agrees, so every size and every
 * field offset is checked against the fact sheet's numbers.
 */
#include <stddef.h>
#include "vtdnest/iommufd-uapi.h"

#define SIZE_IS(type, n) _Static_assert(sizeof(struct type) == (n), #type " size")
#define OFF_IS(type, field, n) \
    _Static_assert(offsetof(struct type, field) == (n), #type "." #field " offset")

_Static_assert(IOMMU_DESTROY == 0x3B80, "IOMMU_DESTROY");
_Static_assert(IOMMU_IOAS_MAP == 0x3B85, "IOMMU_IOAS_MAP");
_Static_assert(IOMMU_HWPT_ALLOC == 0x3B89, "IOMMU_HWPT_ALLOC");
_Static_assert(IOMMU_GET_HW_INFO == 0x3B8A, "IOMMU_GET_HW_INFO");
_Static_assert(IOMMU_HWPT_INVALIDATE == 0x3B8D, "IOMMU_HWPT_INVALIDATE");
_Static_assert(IOMMU_FAULT_QUEUE_ALLOC == 0x3B8E, "IOMMU_FAULT_QUEUE_ALLOC");
_Static_assert(IOMMU_HW_QUEUE_ALLOC == 0x3B94, "IOMMU_HW_QUEUE_ALLOC");
_Static_assert(VFIO_DEVICE_BIND_IOMMUFD == 0x3B76, "VFIO_DEVICE_BIND_IOMMUFD");
_Static_assert(VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3B77, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
_Static_assert(VFIO_DEVICE_DETACH_IOMMUFD_PT == 0x3B78, "VFIO_DEVICE_DETACH_IOMMUFD_PT");

SIZE_IS(iommu_destroy, 8);
OFF_IS(iommu_destroy, size, 0);
OFF_IS(iommu_destroy, id, 4);

SIZE_IS(iommu_ioas_alloc, 12);
OFF_IS(iommu_ioas_alloc, size, 0);
OFF_IS(iommu_ioas_alloc, flags, 4);
OFF_IS(iommu_ioas_alloc, out_ioas_id, 8);

SIZE_IS(iommu_iova_range, 16);
OFF_IS(iommu_iova_range, start, 0);
OFF_IS(iommu_iova_range, last, 8);

SIZE_IS(iommu_ioas_iova_ranges, 32);
OFF_IS(iommu_ioas_iova_ranges, size, 0);
OFF_IS(iommu_ioas_iova_ranges, ioas_id, 4);
OFF_IS(iommu_ioas_iova_ranges, num_iovas, 8);
OFF_IS(iommu_ioas_iova_ranges, __reserved, 12);
OFF_IS(iommu_ioas_iova_ranges, allowed_iovas, 16);
OFF_IS(iommu_ioas_iova_ranges, out_iova_alignment, 24);

SIZE_IS(iommu_ioas_allow_iovas, 24);
OFF_IS(iommu_ioas_allow_iovas, size, 0);
OFF_IS(iommu_ioas_allow_iovas, ioas_id, 4);
OFF_IS(iommu_ioas_allow_iovas, num_iovas, 8);
OFF_IS(iommu_ioas_allow_iovas, __reserved, 12);
OFF_IS(iommu_ioas_allow_iovas, allowed_iovas, 16);

SIZE_IS(iommu_ioas_map, 40);
OFF_IS(iommu_ioas_map, size, 0);
OFF_IS(iommu_ioas_map, flags, 4);
OFF_IS(iommu_ioas_map, ioas_id, 8);
OFF_IS(iommu_ioas_map, __reserved, 12);
OFF_IS(iommu_ioas_map, user_va, 16);
OFF_IS(iommu_ioas_map, length, 24);
OFF_IS(iommu_ioas_map, iova, 32);

SIZE_IS(iommu_ioas_map_file, 40);
OFF_IS(iommu_ioas_map_file, size, 0);
OFF_IS(iommu_ioas_map_file, flags, 4);
OFF_IS(iommu_ioas_map_file, ioas_id, 8);
OFF_IS(iommu_ioas_map_file, fd, 12);
OFF_IS(iommu_ioas_map_file, start, 16);
OFF_IS(iommu_ioas_map_file, length, 24);
OFF_IS(iommu_ioas_map_file, iova, 32);

SIZE_IS(iommu_ioas_copy, 40);
OFF_IS(iommu_ioas_copy, size, 0);
OFF_IS(iommu_ioas_copy, flags, 4);
OFF_IS(iommu_ioas_copy, dst_ioas_id, 8);
OFF_IS(iommu_ioas_copy, src_ioas_id, 12);
OFF_IS(iommu_ioas_copy, length, 16);
OFF_IS(iommu_ioas_copy, dst_iova, 24);
OFF_IS(iommu_ioas_copy, src_iova, 32);

SIZE_IS(iommu_ioas_unmap, 24);
OFF_IS(iommu_ioas_unmap, size, 0);
OFF_IS(iommu_ioas_unmap, ioas_id, 4);
OFF_IS(iommu_ioas_unmap, iova, 8);
OFF_IS(iommu_ioas_unmap, length, 16);

SIZE_IS(iommu_option, 24);
OFF_IS(iommu_option, size, 0);
OFF_IS(iommu_option, option_id, 4);
OFF_IS(iommu_option, op, 8);
OFF_IS(iommu_option, __reserved, 10);
OFF_IS(iommu_option, object_id, 12);
OFF_IS(iommu_option, val64, 16);

SIZE_IS(iommu_hwpt_vtd_s1, 24);
OFF_IS(iommu_hwpt_vtd_s1, flags, 0);
OFF_IS(iommu_hwpt_vtd_s1, pgtbl_addr, 8);
OFF_IS(iommu_hwpt_vtd_s1, addr_width, 16);
OFF_IS(iommu_hwpt_vtd_s1, __reserved, 20);

SIZE_IS(iommu_hwpt_alloc, 48);
OFF_IS(iommu_hwpt_alloc, size, 0);
OFF_IS(iommu_hwpt_alloc, flags, 4);
OFF_IS(iommu_hwpt_alloc, dev_id, 8);
OFF_IS(iommu_hwpt_alloc, pt_id, 12);
OFF_IS(iommu_hwpt_alloc, out_hwpt_id, 16);
OFF_IS(iommu_hwpt_alloc, __reserved, 20);
OFF_IS(iommu_hwpt_alloc, data_type, 24);
OFF_IS(iommu_hwpt_alloc, data_len, 28);
OFF_IS(iommu_hwpt_alloc, data_uptr, 32);
OFF_IS(iommu_hwpt_alloc, fault_id, 40);
OFF_IS(iommu_hwpt_alloc, __reserved2, 44);

SIZE_IS(iommu_hw_info_vtd, 24);
OFF_IS(iommu_hw_info_vtd, flags, 0);
OFF_IS(iommu_hw_info_vtd, __reserved, 4);
OFF_IS(iommu_hw_info_vtd, cap_reg, 8);
OFF_IS(iommu_hw_info_vtd, ecap_reg, 16);

SIZE_IS(iommu_hw_info, 40);
OFF_IS(iommu_hw_info, size, 0);
OFF_IS(iommu_hw_info, flags, 4);
OFF_IS(iommu_hw_info, dev_id, 8);
OFF_IS(iommu_hw_info, data_len, 12);
OFF_IS(iommu_hw_info, data_uptr, 16);
OFF_IS(iommu_hw_info, in_data_type, 24);
OFF_IS(iommu_hw_info, out_data_type, 24);
OFF_IS(iommu_hw_info, out_max_pasid_log2, 28);
OFF_IS(iommu_hw_info, __reserved, 29);
OFF_IS(iommu_hw_info, out_capabilities, 32);

SIZE_IS(iommu_hwpt_vtd_s1_invalidate, 24);
OFF_IS(iommu_hwpt_vtd_s1_invalidate, addr, 0);
OFF_IS(iommu_hwpt_vtd_s1_invalidate, npages, 8);
OFF_IS(iommu_hwpt_vtd_s1_invalidate, flags, 16);
OFF_IS(iommu_hwpt_vtd_s1_invalidate, __reserved, 20);

SIZE_IS(iommu_hwpt_invalidate, 32);
OFF_IS(iommu_hwpt_invalidate, size, 0);
OFF_IS(iommu_hwpt_invalidate, hwpt_id, 4);
OFF_IS(iommu_hwpt_invalidate, data_uptr, 8);
OFF_IS(iommu_hwpt_invalidate, data_type, 16);
OFF_IS(iommu_hwpt_invalidate, entry_len, 20);
OFF_IS(iommu_hwpt_invalidate, entry_num, 24);
OFF_IS(iommu_hwpt_invalidate, __reserved, 28);

SIZE_IS(iommu_fault_alloc, 16);
OFF_IS(iommu_fault_alloc, size, 0);
OFF_IS(iommu_fault_alloc, flags, 4);
OFF_IS(iommu_fault_alloc, out_fault_id, 8);
OFF_IS(iommu_fault_alloc, out_fault_fd, 12);

SIZE_IS(iommu_hwpt_pgfault, 40);
OFF_IS(iommu_hwpt_pgfault, flags, 0);
OFF_IS(iommu_hwpt_pgfault, dev_id, 4);
OFF_IS(iommu_hwpt_pgfault, pasid, 8);
OFF_IS(iommu_hwpt_pgfault, grpid, 12);
OFF_IS(iommu_hwpt_pgfault, perm, 16);
OFF_IS(iommu_hwpt_pgfault, __reserved, 20);
OFF_IS(iommu_hwpt_pgfault, addr, 24);
OFF_IS(iommu_hwpt_pgfault, length, 32);
OFF_IS(iommu_hwpt_pgfault, cookie, 36);

SIZE_IS(iommu_hwpt_page_response, 8);
OFF_IS(iommu_hwpt_page_response, cookie, 0);
OFF_IS(iommu_hwpt_page_response, code, 4);

SIZE_IS(vfio_device_bind_iommufd, 24);
OFF_IS(vfio_device_bind_iommufd, argsz, 0);
OFF_IS(vfio_device_bind_iommufd, flags, 4);
OFF_IS(vfio_device_bind_iommufd, iommufd, 8);
OFF_IS(vfio_device_bind_iommufd, out_devid, 12);
OFF_IS(vfio_device_bind_iommufd, token_uuid_ptr, 16);

SIZE_IS(vfio_device_attach_iommufd_pt, 16);
OFF_IS(vfio_device_attach_iommufd_pt, argsz, 0);
OFF_IS(vfio_device_attach_iommufd_pt, flags, 4);
OFF_IS(vfio_device_attach_iommufd_pt, pt_id, 8);
OFF_IS(vfio_device_attach_iommufd_pt, pasid, 12);

SIZE_IS(vfio_device_detach_iommufd_pt, 12);
OFF_IS(vfio_device_detach_iommufd_pt, argsz, 0);
OFF_IS(vfio_device_detach_iommufd_pt, flags, 4);
OFF_IS(vfio_device_detach_iommufd_pt, pasid, 8);

/* Keeps the translation unit non-empty for pedantic compilers. */
int iommufd_uapi_checked(void);
int iommufd_uapi_checked(void)
{
    return 1;
}
