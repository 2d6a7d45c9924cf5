/*
 * MSI capability (64-bit address, no per-vector masking). A message is a
 * DWORD memory write by the device, so it goes out through pci_dma_rw: it
 * needs bus mastering, carries the device's requester id, and lands in the
 * interrupt window (-> machine_send_msi) only if the guest programmed an
 * address there, exactly like the device's other writes.
 */
#include "pci-internal.h"

uint8_t pci_msi_init(PCIDevice *d, unsigned nr_vectors)
{
    unsigned log2_vectors = 0;
    uint8_t cap;

    /* Device models are fixed code: a bad vector count is a bug. */
    g_assert(nr_vectors >= 1 && nr_vectors <= 32 &&
             !(nr_vectors & (nr_vectors - 1)));
    while ((1u << log2_vectors) < nr_vectors) {
        log2_vectors++;
    }
    cap = pci_add_capability(d, PCI_CAP_ID_MSI, PCI_MSI_CAP_SIZE_64);
    if (!cap) {
        return 0;
    }
    pci_set_word(d->config + cap + PCI_MSI_FLAGS,
                 PCI_MSI_FLAGS_64BIT | (log2_vectors << 1));
    pci_set_word(d->wmask + cap + PCI_MSI_FLAGS,
                 PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    pci_set_long(d->wmask + cap + PCI_MSI_ADDRESS_LO, 0xfffffffc);
    pci_set_long(d->wmask + cap + PCI_MSI_ADDRESS_HI, UINT32_MAX);
    pci_set_word(d->wmask + cap + PCI_MSI_DATA_64, 0xffff);
    d->msi_cap = cap;
    return cap;
}

bool pci_msi_enabled(PCIDevice *d)
{
    return d->msi_cap &&
           (pci_get_word(d->config + d->msi_cap + PCI_MSI_FLAGS) &
            PCI_MSI_FLAGS_ENABLE);
}

void pci_msi_notify(PCIDevice *d, unsigned vector)
{
    uint8_t *cap;
    uint16_t flags;
    unsigned capable, enabled;
    uint64_t addr;
    uint32_t data;
    uint8_t msg[4];

    if (!pci_msi_enabled(d)) {
        return;
    }
    cap = d->config + d->msi_cap;
    flags = pci_get_word(cap + PCI_MSI_FLAGS);
    capable = 1u << ((flags & PCI_MSI_FLAGS_QMASK) >> 1);
    enabled = MIN(1u << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4), capable);
    if (vector >= enabled) {
        return;
    }
    addr = pci_get_long(cap + PCI_MSI_ADDRESS_LO) |
           ((uint64_t)pci_get_long(cap + PCI_MSI_ADDRESS_HI) << 32);
    /* Multiple-message MSI: the vector number replaces the low data bits. */
    data = (pci_get_word(cap + PCI_MSI_DATA_64) & ~(enabled - 1)) | vector;
    pci_set_long(msg, data);
    pci_dma_rw(d, addr, msg, sizeof(msg), true, PCI_DMA_ATTRS_DEFAULT);
}
