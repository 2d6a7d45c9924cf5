/*
 * -device vfio-pci,host=BDF,iommufd=ID[,fd=N]: a passthrough PCI device on an
 * iommufd backend (hw/misc/vfio-pci.c, docs/iommufd.md). Device models and
 * the machine need nothing from here; these are for tests and tools.
 */
#ifndef VTDNEST_VFIO_PCI_H
#define VTDNEST_VFIO_PCI_H

#include <glib.h>

#include "vtdnest/machine.h"

struct HostIommuDevice;

/*
 * The VFIO device cdev of host PCI device bdf ("0000:03:00.0" or "03:00.0")
 * on a real host: sysfs_root/bus/pci/devices/BDF/vfio-dev/vfioN gives
 * dev_root/vfio/devices/vfioN. sysfs_root/dev_root are normally "/sys" and
 * "/dev" (NULL means those). Errors say what is missing, e.g.
 * "device 0000:03:00.0 is not bound to vfio-pci (driver: nvme); ...".
 */
char *vfio_pci_find_cdev(const char *sysfs_root, const char *dev_root,
                         const char *bdf, GError **errp);

/* The HostIommuDevice of a realized vfio-pci device id, or NULL. */
struct HostIommuDevice *vfio_pci_host_iommu_device(Machine *m, const char *id);

#endif
