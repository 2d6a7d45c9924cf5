/*
 * Conventional PCI: a root bus behind a host bridge (00:00.0) reachable through
 * configuration mechanism #1 (0xcf8/0xcfc) and ECAM, BARs the guest programs,
 * PCI-to-PCI bridges, and the DMA path that goes through the machine's IOMMU.
 */
#ifndef VTDNEST_PCI_H
#define VTDNEST_PCI_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vtdnest/iommu.h"
#include "vtdnest/machine.h"

#define PCI_CONFIG_SPACE_SIZE   256
#define PCIE_CONFIG_SPACE_SIZE  4096
#define PCI_NUM_BARS            6

/* Standard config header offsets and bits used across the project. */
#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define  PCI_COMMAND_IO         0x1
#define  PCI_COMMAND_MEMORY     0x2
#define  PCI_COMMAND_MASTER     0x4
#define  PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS              0x06
#define  PCI_STATUS_CAP_LIST    0x10
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CLASS_DEVICE        0x0a
#define PCI_HEADER_TYPE         0x0e
#define  PCI_HEADER_TYPE_NORMAL 0
#define  PCI_HEADER_TYPE_BRIDGE 1
#define PCI_BASE_ADDRESS_0      0x10
#define  PCI_BASE_ADDRESS_SPACE_IO     0x01
#define  PCI_BASE_ADDRESS_MEM_TYPE_64  0x04
#define  PCI_BASE_ADDRESS_MEM_PREFETCH 0x08
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_LINE      0x3c
#define PCI_INTERRUPT_PIN       0x3d
/* Type 1 (bridge) header */
#define PCI_PRIMARY_BUS         0x18
#define PCI_SECONDARY_BUS       0x19
#define PCI_SUBORDINATE_BUS     0x1a
#define PCI_BRIDGE_CONTROL      0x3e

#define PCI_CAP_ID_MSI          0x05
#define PCI_CAP_ID_EXP          0x10
#define PCI_EXT_CAP_ID_ATS      0x0f
#define PCI_EXT_CAP_ID_PASID    0x1b
#define PCI_EXT_CAP_ID_PRI      0x13

#define PCI_DEVFN(slot, fn)     ((((slot) & 0x1f) << 3) | ((fn) & 0x07))
#define PCI_SLOT(devfn)         (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn)         ((devfn) & 0x07)
#define PCI_BDF(bus, devfn)     ((uint16_t)(((bus) << 8) | (devfn)))

typedef struct PCIBus PCIBus;
typedef struct PCIDevice PCIDevice;

typedef enum PCIBarType {
    PCI_BAR_NONE = 0,
    PCI_BAR_MEM32,
    PCI_BAR_MEM64,
    PCI_BAR_IO,
} PCIBarType;

typedef struct PCIBar {
    PCIBarType type;
    uint64_t size;               /* power of two */
    const MemoryRegionOps *ops;  /* MMIO ops (memory BARs) */
    const PortIoOps *pio_ops;    /* port ops (I/O BARs) */
    void *opaque;
    /* Runtime: where the guest placed it, and whether it is decoded now. */
    uint64_t addr;
    MmioRegion *region;
    bool io_mapped;
} PCIBar;

/* Per-device hooks; all optional. */
typedef struct PCIDeviceClass {
    /* Called after the generic config write has been applied. */
    void (*config_write)(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);
    /* Override config reads (return true when handled). */
    bool (*config_read)(PCIDevice *d, uint32_t addr, unsigned len, uint32_t *val);
    void (*reset)(PCIDevice *d);
    void (*unrealize)(PCIDevice *d);
} PCIDeviceClass;

struct PCIDevice {
    char *id;                       /* -device id= (may be NULL) */
    const char *type_name;
    Machine *machine;
    PCIBus *bus;
    uint8_t devfn;
    uint8_t config[PCIE_CONFIG_SPACE_SIZE];
    uint8_t wmask[PCIE_CONFIG_SPACE_SIZE];   /* writable bits */
    uint8_t w1cmask[PCIE_CONFIG_SPACE_SIZE]; /* write-1-to-clear bits */
    PCIBar bars[PCI_NUM_BARS];
    const PCIDeviceClass *klass;
    void *opaque;                   /* the device model's own state */
    PCIBus *secondary;              /* bridges only */
    bool is_express;                /* config space beyond 256 reachable */

    /* --- PCI core bookkeeping (hw/pci); device models leave these alone --- */
    uint8_t cap_used[PCI_CONFIG_SPACE_SIZE]; /* bytes owned by capabilities */
    uint16_t last_ext_cap;          /* offset of the last extended cap, 0 = none */
    uint16_t next_ext_cap_free;     /* first free byte for the next extended cap */
    uint8_t msi_cap;                /* offset of the MSI capability, 0 = none */
    bool multifunction;             /* header type bit 7 on function 0 */
    bool intx_level;                /* INTx asserted (reflected in STATUS bit 3) */
    char *bar_names[PCI_NUM_BARS];  /* names of the mapped BAR regions */

    /* ---- ats-prq engineer: ATS/PRI callbacks of the device model (NULL for
     * devices without an address translation cache); see PCIAtsOps. ---- */
    const struct PCIAtsOps *ats_ops;
};

/* Bus topology. */
PCIBus *pci_root_bus_new(Machine *m);
void pci_root_bus_free(PCIBus *bus);
PCIBus *pci_find_bus_by_id(Machine *m, const char *bus_id); /* "pcie.0", "<bridge id>" */
uint8_t pci_bus_num(const PCIBus *bus);
PCIDevice *pci_bus_find_device(PCIBus *bus, uint8_t devfn);
/* Find by (bus number, devfn) as currently programmed by the guest. */
PCIDevice *pci_find_device(Machine *m, uint8_t bus, uint8_t devfn);
PCIDevice *pci_find_device_by_id(Machine *m, const char *id);

/*
 * Create and plug a device. addr < 0 picks the first free slot. Fills
 * vendor/device/class; the caller adds BARs and capabilities before the
 * guest can see it.
 */
PCIDevice *pci_device_new(Machine *m, PCIBus *bus, int addr, const char *type_name,
                          const char *id, uint16_t vendor, uint16_t device,
                          uint16_t class_code, GError **errp);
/* Resolves the common -device properties: bus=, addr= ("slot[.fn]"), id=. */
PCIDevice *pci_device_new_from_opts(Machine *m, DeviceOpts *opts, const char *type_name,
                                    uint16_t vendor, uint16_t device,
                                    uint16_t class_code, GError **errp);
void pci_device_unplug(PCIDevice *d);
void pci_register_bar(PCIDevice *d, int bar, PCIBarType type, uint64_t size,
                      const MemoryRegionOps *ops, const PortIoOps *pio_ops,
                      void *opaque);
/* Capabilities: returns the offset of the new capability. */
uint8_t pci_add_capability(PCIDevice *d, uint8_t cap_id, uint8_t size);
uint16_t pci_add_ext_capability(PCIDevice *d, uint16_t cap_id, uint8_t version,
                                uint16_t size);

/* Config space access (mechanism #1, ECAM, and device-internal). */
uint32_t pci_config_read(PCIDevice *d, uint32_t addr, unsigned len);
void pci_config_write(PCIDevice *d, uint32_t addr, uint32_t val, unsigned len);
void pci_set_word(uint8_t *p, uint16_t v);
uint16_t pci_get_word(const uint8_t *p);
void pci_set_long(uint8_t *p, uint32_t v);
uint32_t pci_get_long(const uint8_t *p);

/* Source-id the IOMMU sees for this device (bridge aliasing applied). */
uint16_t pci_requester_id(PCIDevice *d);
bool pci_bus_master_enabled(PCIDevice *d);

/*
 * DMA from a device. Goes through the machine's IOMMU when there is one,
 * page by page, and into RAM; a DWORD write without PASID to the MSI window
 * becomes an interrupt message. Returns MEMTX_OK only when every byte moved.
 * Bus mastering disabled: MEMTX_ERROR without touching memory.
 */
typedef struct PCIDmaAttrs {
    uint32_t pasid;        /* IOMMU_NO_PASID for none */
    bool priv;
    IommuAddrType at;
} PCIDmaAttrs;
#define PCI_DMA_ATTRS_DEFAULT ((PCIDmaAttrs){ .pasid = IOMMU_NO_PASID })

MemTxResult pci_dma_rw(PCIDevice *d, uint64_t addr, void *buf, uint64_t len,
                       bool is_write, PCIDmaAttrs attrs);
static inline MemTxResult pci_dma_read(PCIDevice *d, uint64_t addr, void *buf,
                                       uint64_t len)
{
    return pci_dma_rw(d, addr, buf, len, false, PCI_DMA_ATTRS_DEFAULT);
}
static inline MemTxResult pci_dma_write(PCIDevice *d, uint64_t addr,
                                        const void *buf, uint64_t len)
{
    return pci_dma_rw(d, addr, (void *)buf, len, true, PCI_DMA_ATTRS_DEFAULT);
}
/* Raise the device's MSI (if its MSI capability is enabled). */
void pci_msi_notify(PCIDevice *d, unsigned vector);
bool pci_msi_enabled(PCIDevice *d);

/* Enumerate devices (all buses, depth first). */
void pci_foreach_device(Machine *m, void (*fn)(PCIDevice *d, void *opaque),
                        void *opaque);

/* ---- Additions by the PCI engineer (hw/pci) ------------------------------ */

#define  PCI_COMMAND_PARITY     0x40
#define  PCI_COMMAND_SERR       0x100
#define  PCI_STATUS_INTERRUPT   0x08
#define PCI_CACHE_LINE_SIZE     0x0c
#define PCI_HEADER_TYPE_MULTI_FUNCTION 0x80
#define PCI_ROM_ADDRESS         0x30
#define PCI_CAP_LIST_ID         0
#define PCI_CAP_LIST_NEXT       1
#define PCI_CAP_ID_SLOTID       0x04
#define PCI_STD_HEADER_SIZE     0x40
/* Type 1 (bridge) header, windows. */
#define PCI_SEC_LATENCY_TIMER   0x1b
#define PCI_IO_BASE             0x1c
#define PCI_IO_LIMIT            0x1d
#define PCI_SEC_STATUS          0x1e
#define PCI_MEMORY_BASE         0x20
#define PCI_MEMORY_LIMIT        0x22
#define PCI_PREF_MEMORY_BASE    0x24
#define PCI_PREF_MEMORY_LIMIT   0x26
#define PCI_PREF_BASE_UPPER32   0x28
#define PCI_PREF_LIMIT_UPPER32  0x2c
#define PCI_IO_BASE_UPPER16     0x30
#define PCI_IO_LIMIT_UPPER16    0x32
#define PCI_ROM_ADDRESS1        0x38
/* MSI capability layout (64-bit address form). */
#define PCI_MSI_FLAGS           2
#define  PCI_MSI_FLAGS_ENABLE   0x0001
#define  PCI_MSI_FLAGS_QMASK    0x000e  /* multiple message capable */
#define  PCI_MSI_FLAGS_QSIZE    0x0070  /* multiple message enable */
#define  PCI_MSI_FLAGS_64BIT    0x0080
#define PCI_MSI_ADDRESS_LO      4
#define PCI_MSI_ADDRESS_HI      8
#define PCI_MSI_DATA_64         12
#define PCI_MSI_CAP_SIZE_64     14

#define PCI_ROOT_BUS_NAME       "pcie.0"

/* "SLOT[.FN]" in hex as QEMU's addr= property ("3", "0x3", "1f.2"). */
bool pci_parse_devfn(const char *str, uint8_t *devfn, GError **errp);
/* Put the device back into its power-on state (config and model). */
void pci_device_reset(PCIDevice *d);
/* Level of the device's INTx line: there is no interrupt controller for it,
 * so only STATUS.INTERRUPT shows it (what a polling guest would look at). */
void pci_set_irq(PCIDevice *d, bool level);
/* Add a 64-bit-address MSI capability with nr_vectors (1, 2, 4, .. 32)
 * vectors and no per-vector masking. Returns its offset (0: no room). */
uint8_t pci_msi_init(PCIDevice *d, unsigned nr_vectors);
/* Current base address of a BAR as the guest programmed it (no decode check). */
uint64_t pci_bar_address(PCIDevice *d, int bar);
/* Bus numbering as seen on the wire: the bus a device sits on. */
uint8_t pci_dev_bus_num(PCIDevice *d);
/* Route a configuration cycle (bus number as programmed) to a device, from
 * the root bus through bridges; NULL when nothing answers. */
PCIDevice *pci_route_config(PCIBus *root, uint8_t bus, uint8_t devfn);


/* ---- ATS, PRI and PASID (ats-prq engineer; hw/pci/pci-dma.c) -------------
 * Devices with an address translation cache ask the IOMMU for translations
 * (ATS translation requests), then DMA with the translated address; the
 * IOMMU reaches them back by requester id for invalidations and page group
 * responses. docs/devices.md describes the iommu-testdev side.
 */
#define PCI_EXP_FLAGS_VER2          0x0002
#define PCI_EXP_TYPE_RC_END         0x9     /* root complex integrated endpoint */
#define PCI_EXP_CAP_SIZE_V2         0x3c
/* ATS extended capability (+4 capability, +6 control). */
#define PCI_ATS_CAP                 4
#define PCI_ATS_CTRL                6
#define  PCI_ATS_CTRL_ENABLE        0x8000
#define  PCI_ATS_CTRL_STU_MASK      0x001f
#define PCI_ATS_CAP_SIZE            8
/* PRI extended capability. */
#define PCI_PRI_CTRL                4
#define  PCI_PRI_CTRL_ENABLE        0x0001
#define  PCI_PRI_CTRL_RESET         0x0002
#define PCI_PRI_STATUS              6
#define  PCI_PRI_STATUS_RF          0x0001  /* response failure, RW1C */
#define  PCI_PRI_STATUS_UPRGI       0x0002  /* unexpected PRG index, RW1C */
#define  PCI_PRI_STATUS_STOPPED     0x0100
#define PCI_PRI_MAX_REQ             8       /* outstanding capacity, RO */
#define PCI_PRI_ALLOC_REQ           12      /* outstanding allocation, RW */
#define PCI_PRI_CAP_SIZE            16
/* PASID extended capability. */
#define PCI_PASID_CAP               4
#define  PCI_PASID_CAP_EXEC         0x0002
#define  PCI_PASID_CAP_PRIV         0x0004
#define  PCI_PASID_CAP_WIDTH_SHIFT  8
#define PCI_PASID_CTRL              6
#define  PCI_PASID_CTRL_ENABLE      0x0001
#define  PCI_PASID_CTRL_EXEC        0x0002
#define  PCI_PASID_CTRL_PRIV        0x0004
#define PCI_PASID_CAP_SIZE          8

typedef struct PCIAtsOps {
    /* ATS invalidation of [addr, addr + size) (size UINT64_MAX: all) for
     * pasid (IOMMU_NO_PASID: entries without PASID) or, global, every
     * PASID. False: the device did not complete it in time. */
    bool (*invalidate)(PCIDevice *d, uint32_t pasid, bool global,
                       uint64_t addr, uint64_t size);
    /* PRI page group response (rc: 0 success, 1 invalid request, 0xf
     * response failure). */
    void (*page_response)(PCIDevice *d, uint32_t pasid, bool pasid_present,
                          uint16_t prgi, uint8_t rc);
} PCIAtsOps;

/* Config-space helper: a PCIe capability (v2, RC integrated endpoint) that
 * also makes extended config space reachable. Returns its offset or 0. */
uint8_t pci_express_init(PCIDevice *d);

/*
 * ATS translation request (AT=01b) for the page containing addr. pasid is
 * IOMMU_NO_PASID for none. False when it cannot be sent (bus mastering off,
 * no IOMMU) or the IOMMU answered Unsupported Request (res->ok false). A
 * completion without the wanted rights is ok with res->perm lacking them.
 */
bool pci_ats_translate(PCIDevice *d, uint64_t addr, uint32_t pasid, bool priv,
                       bool no_write, IommuResult *res);

/* pci_dma_rw that also tells which page the IOMMU refused, and why. */
typedef struct PCIDmaFault {
    bool iommu;             /* the IOMMU refused a page (fields below valid) */
    uint8_t reason;         /* its fault reason (0: blocked, or no rights) */
    uint64_t addr;          /* the refused input address */
} PCIDmaFault;
MemTxResult pci_dma_rw_fault(PCIDevice *d, uint64_t addr, void *buf,
                             uint64_t len, bool is_write, PCIDmaAttrs attrs,
                             PCIDmaFault *fault);

/* Where page requests go: installed by the IOMMU glue of the machine. */
typedef struct PCIPriHook {
    void *opaque;
    /* True when the request was queued for software to answer. */
    bool (*page_request)(void *opaque, uint16_t sid, uint32_t pasid,
                         bool pasid_present, uint64_t addr, bool read,
                         bool write, bool exec, bool priv, bool lpig,
                         uint16_t prgi);
} PCIPriHook;
void pci_set_pri_hook(Machine *m, const PCIPriHook *hook);

typedef enum PCIPriResult {
    PCI_PRI_NO_IOMMU,       /* nothing takes page requests */
    PCI_PRI_QUEUED,         /* a page group response will follow */
    PCI_PRI_NOT_QUEUED,     /* refused; an automatic response (if the group
                               ended) has already been delivered */
} PCIPriResult;
/* A page request message from d (its requester id). */
PCIPriResult pci_page_request(PCIDevice *d, uint32_t pasid, uint64_t addr,
                              bool read, bool write, bool exec, bool priv,
                              bool lpig, uint16_t prgi);

/* ---- Shared device-type helpers (added by cleanup) ---------------------- */
/*
 * A DeviceType.destroy for PCI devices that need nothing beyond
 * pci_device_unplug(): finds the device by its -device id and unplugs it.
 */
bool pci_device_destroy_by_id(Machine *m, const char *id, GError **errp);

#endif
