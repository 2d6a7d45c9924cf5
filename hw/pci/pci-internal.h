/*
 * Shared between the hw/pci modules only: the bus structure and the hooks
 * the core (pci.c) offers the host bridge and bridge modules.
 */
#ifndef HW_PCI_INTERNAL_H
#define HW_PCI_INTERNAL_H

#include "vtdnest/pci.h"

#define PCI_DEVFN_MAX 256

struct PCIBus {
    Machine *machine;
    char *name;                         /* "pcie.0", or the bridge's id */
    PCIDevice *parent;                  /* bridge owning this bus; NULL on root */
    PCIDevice *devices[PCI_DEVFN_MAX];
    void *host;                         /* root bus: the host bridge state */
};

PCIBus *pci_bus_new(Machine *m, PCIDevice *parent, const char *name);
/* Unplugs every device on the bus (and below), then frees it. */
void pci_bus_free(PCIBus *bus);

/* Host bridge (pci-host.c): 00:00.0 plus mechanism #1 and ECAM decoding. */
bool pci_host_init(Machine *m, PCIBus *root, GError **errp);
void pci_host_fini(PCIBus *root);

/* Bridges (pci-bridge.c): make d a type 1 function with a secondary bus. */
void pci_bridge_setup(PCIDevice *d, const char *bus_name);

#endif
