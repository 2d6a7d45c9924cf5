/*
 * Device DMA: bus-master gate, the interrupt window, IOMMU translation page
 * by page, then guest RAM. A transfer stops at the first page that fails;
 * what moved before it stays moved (as on real hardware), and a failed read
 * leaves zeros in the rest of the device's buffer (what QEMU devices see
 * from an unassigned or faulting address).
 */
#include "pci-internal.h"

#include <string.h>

#define DMA_RAM_PIECE 4096ULL

static bool in_msi_window(uint64_t addr)
{
    return addr >= MSI_WINDOW_BASE && addr - MSI_WINDOW_BASE < MSI_WINDOW_SIZE;
}

/* Copy between buf and RAM at gpa, 4 KiB at a time so that a transfer that
 * runs off the end of RAM moves everything up to the hole. */
static MemTxResult dma_ram_rw(Machine *m, uint64_t gpa, uint8_t *buf, uint64_t len,
                              bool is_write, uint64_t *moved)
{
    *moved = 0;
    while (*moved < len) {
        uint64_t cur = gpa + *moved;
        uint64_t piece = MIN(len - *moved, DMA_RAM_PIECE - (cur & (DMA_RAM_PIECE - 1)));
        uint8_t *host;

        if (cur < gpa) {
            return MEMTX_DECODE_ERROR; /* wrapped past the top */
        }
        host = machine_ram_ptr(m, cur, piece);
        if (!host) {
            return MEMTX_DECODE_ERROR; /* MMIO or nothing: no peer-to-peer */
        }
        if (is_write) {
            if (machine_ram_is_readonly(m, cur) ||
                machine_ram_is_readonly(m, cur + piece - 1)) {
                return MEMTX_ERROR;
            }
            memcpy(host, buf + *moved, piece);
        } else {
            memcpy(buf + *moved, host, piece);
        }
        *moved += piece;
    }
    return MEMTX_OK;
}

static IommuRequest dma_request(PCIDevice *d, uint64_t addr, bool is_write,
                                PCIDmaAttrs attrs)
{
    return (IommuRequest){
        .sid = pci_requester_id(d),
        .pasid = attrs.pasid,
        .priv = attrs.priv,
        .addr = addr,
        .access = is_write ? IOMMU_ACCESS_WRITE : IOMMU_ACCESS_READ,
        .at = attrs.at,
    };
}

/*
 * An untranslated request without PASID to FEEx_xxxx never reaches memory:
 * a DWORD write is an interrupt message, anything else is blocked. The IOMMU
 * still sees the blocked ones so that it can report them (fault 29h).
 */
static MemTxResult dma_interrupt_window(PCIDevice *d, uint64_t addr,
                                        const uint8_t *buf, uint64_t len,
                                        bool is_write, PCIDmaAttrs attrs)
{
    Machine *m = d->machine;
    void *iommu_opaque = NULL;
    const IommuOps *ops = machine_iommu(m, &iommu_opaque);

    if (is_write && len == 4 && !(addr & 3)) {
        machine_send_msi(m, pci_requester_id(d), addr, pci_get_long(buf));
        return MEMTX_OK;
    }
    if (ops && ops->translate) {
        IommuRequest req = dma_request(d, addr, is_write, attrs);
        IommuResult res = { 0 };
        ops->translate(iommu_opaque, &req, &res);
    }
    return MEMTX_ERROR;
}

/* Bytes from addr to the end of the page described by page_mask, capped. */
static uint64_t bytes_to_page_end(uint64_t addr, uint64_t page_mask, uint64_t cap)
{
    uint64_t left = page_mask - (addr & page_mask); /* minus one */

    return left >= cap - 1 ? cap : left + 1;
}

/* pci_dma_rw; fault (may be NULL) reports the page the IOMMU refused, so
 * that PRI-capable devices can turn a not-present fault into a page request. */
MemTxResult pci_dma_rw_fault(PCIDevice *d, uint64_t addr, void *buf,
                             uint64_t len, bool is_write, PCIDmaAttrs attrs,
                             PCIDmaFault *fault)
{
    Machine *m = d->machine;
    uint8_t *p = buf;
    void *iommu_opaque = NULL;
    const IommuOps *ops = machine_iommu(m, &iommu_opaque);
    MemTxResult ret = MEMTX_OK;
    uint64_t done = 0;

    if (fault) {
        *fault = (PCIDmaFault){ 0 };
    }
    if (!pci_bus_master_enabled(d)) {
        ret = MEMTX_ERROR;
        goto out;
    }
    while (done < len) {
        uint64_t cur = addr + done, out_addr = cur, chunk = len - done, moved;

        if (cur < addr) {
            ret = MEMTX_DECODE_ERROR; /* wrapped past the top */
            break;
        }
        if (attrs.pasid == IOMMU_NO_PASID && attrs.at == IOMMU_AT_UNTRANSLATED &&
            in_msi_window(cur)) {
            ret = dma_interrupt_window(d, cur, p + done, chunk, is_write, attrs);
            if (ret == MEMTX_OK) {
                done = len;
            }
            break;
        }
        if (ops && ops->translate) {
            IommuRequest req = dma_request(d, cur, is_write, attrs);
            IommuResult res = { 0 };

            ops->translate(iommu_opaque, &req, &res);
            if (!res.ok || res.is_interrupt || (res.perm & req.access) != req.access) {
                ret = MEMTX_ERROR; /* the IOMMU has recorded the fault */
                if (fault) {
                    *fault = (PCIDmaFault){ .iommu = true, .addr = cur,
                                            .reason = res.ok ? 0 : res.fault_reason };
                }
                break;
            }
            out_addr = res.out_addr;
            chunk = bytes_to_page_end(cur, res.page_mask, chunk);
        }
        ret = dma_ram_rw(m, out_addr, p + done, chunk, is_write, &moved);
        done += moved;
        if (ret != MEMTX_OK) {
            break;
        }
    }
out:
    if (ret != MEMTX_OK && !is_write && done < len) {
        memset(p + done, 0, len - done);
    }
    return ret;
}

MemTxResult pci_dma_rw(PCIDevice *d, uint64_t addr, void *buf, uint64_t len,
                       bool is_write, PCIDmaAttrs attrs)
{
    return pci_dma_rw_fault(d, addr, buf, len, is_write, attrs, NULL);
}
