/*
 * The DMA engine behind iommu-testdev's BAR0 (QEMU's registers and result
 * codes plus the vtdnest PASID/flags extension, docs/devices.md), shared with
 * simulated passthrough devices (vfio-pci on an iommufd,sim=on). The engine
 * owns the registers and the write-pattern / read-compare logic; the model
 * supplies the DMA step: emulated devices go through the vIOMMU (pci_dma_rw),
 * vfio-pci through the host IOMMU simulator. Optional hooks let a model add
 * registers at offsets the engine does not decode and extra request checks.
 */
#ifndef VTDNEST_TESTDEV_ENGINE_H
#define VTDNEST_TESTDEV_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "vtdnest/pci.h"

#define TESTDEV_VENDOR_ID   0x1b36
#define TESTDEV_DEVICE_ID   0x0005
#define TESTDEV_CLASS       0x00ff
#define TESTDEV_BAR0_SIZE   0x1000

/* Registers (QEMU's, then the vtdnest extension). */
#define TESTDEV_REG_DMA_TRIGGERING  0x00
#define TESTDEV_REG_DMA_GVA_LO      0x04
#define TESTDEV_REG_DMA_GVA_HI      0x08
#define TESTDEV_REG_DMA_LEN         0x0c
#define TESTDEV_REG_DMA_RESULT      0x10
#define TESTDEV_REG_DMA_DBELL       0x14
#define TESTDEV_REG_DMA_ATTRS       0x18
#define TESTDEV_REG_DMA_GPA_LO      0x1c
#define TESTDEV_REG_DMA_GPA_HI      0x20
#define TESTDEV_REG_DMA_PASID       0x24
#define TESTDEV_REG_DMA_FLAGS       0x28

#define TESTDEV_PASID_VALID         0x80000000u
#define TESTDEV_PASID_MASK          0x000fffffu
#define TESTDEV_FLAG_PRIV           0x1u
#define TESTDEV_FLAG_READ           0x2u
#define TESTDEV_FLAG_MSI            0x4u

/* DMA_RESULT values. */
#define TESTDEV_RESULT_IDLE         0xffffffffu
#define TESTDEV_RESULT_BUSY         0xfffffffeu
#define TESTDEV_ERR_BAD_LEN         0xdead0001u
#define TESTDEV_ERR_TX_FAIL         0xdead0002u
#define TESTDEV_ERR_RD_FAIL         0xdead0003u
#define TESTDEV_ERR_MISMATCH        0xdead0004u
#define TESTDEV_ERR_NOT_ARMED       0xdead0005u
#define TESTDEV_ERR_BAD_ATTRS       0xdead0006u

/* Request attributes the guest programmed (already validated). */
typedef struct TestdevDmaReq {
    bool has_pasid;
    PCIDmaAttrs attrs;   /* attrs.pasid is vtdnest/iommu.h's IOMMU_NO_PASID
                          * when !has_pasid */
} TestdevDmaReq;

typedef struct TestdevEngineOps {
    /* One DMA step of at most 64 KiB: 0 or a DMA_RESULT error code. */
    uint32_t (*dma)(void *opaque, uint64_t addr, uint8_t *buf, uint32_t len,
                    bool is_write, const TestdevDmaReq *req);
    /* Optional: false makes the run end with BAD_ATTRS. */
    bool (*attrs_ok)(void *opaque);
    /* Optional: 32-bit registers at offsets the engine does not decode. */
    bool (*reg_read)(void *opaque, uint64_t addr, uint32_t *val);
    void (*reg_write)(void *opaque, uint64_t addr, uint32_t val);
} TestdevEngineOps;

typedef struct TestdevEngine {
    PCIDevice *pci;          /* RAM check and completion MSI */
    const TestdevEngineOps *ops;
    void *opaque;
    /* Registers. */
    uint64_t gva;
    uint64_t gpa;
    uint32_t len;
    uint32_t result;
    uint32_t attrs;
    uint32_t pasid_reg;
    uint32_t flags;
    bool armed;
} TestdevEngine;

void testdev_engine_init(TestdevEngine *e, PCIDevice *pci,
                         const TestdevEngineOps *ops, void *opaque);
void testdev_engine_reset(TestdevEngine *e);

/* BAR0 callbacks; the region's opaque is the TestdevEngine. */
extern const MemoryRegionOps testdev_engine_mmio_ops;

#endif
