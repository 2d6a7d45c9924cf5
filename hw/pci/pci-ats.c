/*
 * PCIe address translation services on the bus side: the PCIe capability
 * that opens extended config space, ATS translation requests to the
 * machine's IOMMU, and the page request (PRI) path to whatever IOMMU glue
 * installed a hook. Device models keep their own translation cache.
 */
#include "pci-internal.h"

/* Machine-registry key of the page request hook: not a valid user id. */
#define PRI_HOOK_ID     "/pci/pri-hook"
#define PRI_HOOK_TYPE   "pci-pri-hook"

/* PCIe capability register offsets used here. */
#define PCI_EXP_FLAGS           2
#define PCI_EXP_FLAGS_TYPE_SHIFT 4

uint8_t pci_express_init(PCIDevice *d)
{
    uint8_t off = pci_add_capability(d, PCI_CAP_ID_EXP, PCI_EXP_CAP_SIZE_V2);

    if (!off) {
        return 0;
    }
    pci_set_word(d->config + off + PCI_EXP_FLAGS,
                 PCI_EXP_FLAGS_VER2 |
                 (PCI_EXP_TYPE_RC_END << PCI_EXP_FLAGS_TYPE_SHIFT));
    d->is_express = true;
    return off;
}

bool pci_ats_translate(PCIDevice *d, uint64_t addr, uint32_t pasid, bool priv,
                       bool no_write, IommuResult *res)
{
    void *opaque = NULL;
    const IommuOps *ops = machine_iommu(d->machine, &opaque);
    IommuRequest req = {
        .sid = pci_requester_id(d),
        .pasid = pasid,
        .priv = pasid != IOMMU_NO_PASID && priv,
        .addr = addr & ~0xfffULL,
        .access = IOMMU_ACCESS_READ | (no_write ? 0 : IOMMU_ACCESS_WRITE),
        .at = IOMMU_AT_TRANSLATION_REQ,
        .no_write = no_write,
    };

    *res = (IommuResult){ 0 };
    if (!pci_bus_master_enabled(d) || !ops || !ops->translate) {
        return false;
    }
    ops->translate(opaque, &req, res);
    return res->ok;
}

typedef struct PriHookSlot {
    Machine *m;
    PCIPriHook hook;
} PriHookSlot;

/* Machine teardown: forget the hook before what it points to goes away. */
static void pri_hook_free(void *opaque)
{
    PriHookSlot *slot = opaque;

    machine_remove_object(slot->m, PRI_HOOK_ID);
    g_free(slot);
}

void pci_set_pri_hook(Machine *m, const PCIPriHook *hook)
{
    PriHookSlot *slot = machine_find_object(m, PRI_HOOK_ID, PRI_HOOK_TYPE);

    if (!slot) {
        slot = g_new0(PriHookSlot, 1);
        slot->m = m;
        machine_add_object(m, PRI_HOOK_ID, PRI_HOOK_TYPE, slot);
        machine_register_cleanup(m, pri_hook_free, slot);
    }
    slot->hook = hook ? *hook : (PCIPriHook){ 0 };
}

PCIPriResult pci_page_request(PCIDevice *d, uint32_t pasid, uint64_t addr,
                              bool read, bool write, bool exec, bool priv,
                              bool lpig, uint16_t prgi)
{
    PriHookSlot *slot = machine_find_object(d->machine, PRI_HOOK_ID,
                                            PRI_HOOK_TYPE);
    const PCIPriHook *hook = slot ? &slot->hook : NULL;
    bool has_pasid = pasid != IOMMU_NO_PASID;

    if (!hook || !hook->page_request) {
        return PCI_PRI_NO_IOMMU;
    }
    return hook->page_request(hook->opaque, pci_requester_id(d),
                              has_pasid ? pasid : 0, has_pasid, addr, read,
                              write, exec, priv, lpig, prgi)
           ? PCI_PRI_QUEUED : PCI_PRI_NOT_QUEUED;
}
