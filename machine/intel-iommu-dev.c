/*
 * -device intel-iommu: plugs the machine-independent VT-d unit into the
 * reference machine. This file is glue only: it gives the unit RAM to read
 * its tables from, a path for its own interrupts, the register window at
 * 0xfed90000, the machine's DMA translation hook, the interrupt-remapping
 * hook and the reset chain. Property parsing and validation live with the
 * unit (hw/intel-iommu/vtd-config.c).
 */
#include <stdio.h>
#include <string.h>

#include "vtdnest/intel-iommu.h"
#include "vtdnest/iommu.h"
#include "vtdnest/machine.h"
#include "hw/intel-iommu/vtd-regs.h"
#include "machine/intel-iommu-ats.h"   /* ATS/PRI and device-TLB wiring */
#include "machine/intel-iommu-qmp.h"   /* saved-state QMP commands */
#include "machine/intel-iommu-nesting.h" /* passthrough devices */

typedef struct IntelIommuDev {
    Machine *m;
    VtdState *vtd;
    MmioRegion *mmio;
} IntelIommuDev;

/* ---- What the unit sees of the machine ---- */

/* Table fetches and status writes reach RAM only, never MMIO or holes. */
static bool iommu_mem_read(void *opaque, uint64_t gpa, void *buf, uint64_t len)
{
    IntelIommuDev *d = opaque;
    const uint8_t *p = machine_ram_ptr(d->m, gpa, len);

    if (!p) {
        return false;
    }
    memcpy(buf, p, len);
    return true;
}

static bool iommu_mem_write(void *opaque, uint64_t gpa, const void *buf,
                            uint64_t len)
{
    IntelIommuDev *d = opaque;

    /* ROM-like RAM rejects the unit's writes (A/D bits, wait status). */
    if (!machine_ram_range_writable(d->m, gpa, len)) {
        return false;
    }
    memcpy(machine_ram_ptr(d->m, gpa, len), buf, len);
    return true;
}

/* Fault, invalidation-completion and page-request events: never remapped. */
static void iommu_msi_deliver(void *opaque, uint64_t addr, uint32_t data)
{
    IntelIommuDev *d = opaque;
    MsiRecord rec = { .addr = addr, .data = data, .sid = 0xffff };

    machine_deliver_msi(d->m, &rec);
}

/* ---- What the machine sees of the unit ---- */

static uint64_t iommu_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    IntelIommuDev *d = opaque;

    return vtd_mmio_read(d->vtd, offset, size);
}

static void iommu_mmio_write(void *opaque, uint64_t offset, uint64_t value,
                             unsigned size)
{
    IntelIommuDev *d = opaque;

    vtd_mmio_write(d->vtd, offset, value, size);
}

/* VT-d registers are 32 or 64 bits wide; narrower accesses are rejected. */
static const MemoryRegionOps iommu_mmio_ops = {
    .read = iommu_mmio_read,
    .write = iommu_mmio_write,
    .min_access = 4,
    .max_access = 8,
};

static void iommu_translate(void *opaque, const IommuRequest *req,
                            IommuResult *res)
{
    IntelIommuDev *d = opaque;

    vtd_translate(d->vtd, req, res);
}

/* ---- Passthrough devices: nested translation (vtd-nesting.c) ---- */
static bool iommu_set_host_device(void *opaque, struct HostIommuDevice *hd,
                                  GError **errp)
{
    IntelIommuDev *d = opaque;

    return vtd_set_host_device(d->vtd, hd, errp);
}

static void iommu_unset_host_device(void *opaque, struct HostIommuDevice *hd)
{
    IntelIommuDev *d = opaque;

    vtd_unset_host_device(d->vtd, hd);
}
/* ---- end nesting ---- */

static const IommuOps iommu_ops = {
    .translate = iommu_translate,
    .set_host_device = iommu_set_host_device,       /* nesting */
    .unset_host_device = iommu_unset_host_device,   /* nesting */
};

/* Remappable-format interrupt requests have address bit 4 set. */
#define MSI_ADDR_REMAPPABLE (1ULL << 4)

static bool iommu_msi_remap(void *opaque, uint16_t sid, uint64_t addr,
                            uint32_t data, MsiRecord *out)
{
    IntelIommuDev *d = opaque;
    uint64_t out_addr;
    uint32_t out_data;
    bool ir_enabled;

    /* Read before the request: GSTS has no read side effects. */
    ir_enabled = vtd_mmio_read(d->vtd, DMAR_GSTS_REG, 4) & VTD_GSTS_IRES;
    if (!vtd_interrupt(d->vtd, sid, addr, data, &out_addr, &out_data)) {
        return false;
    }
    out->addr = out_addr;
    out->data = out_data;
    out->sid = sid;
    out->remapped = ir_enabled && (addr & MSI_ADDR_REMAPPABLE);
    return true;
}

static void iommu_reset(void *opaque)
{
    IntelIommuDev *d = opaque;

    vtd_reset(d->vtd);
}

/* Machine teardown: undo every hook before the unit goes away. */
static void iommu_cleanup(void *opaque)
{
    IntelIommuDev *d = opaque;

    machine_unregister_reset(d->m, iommu_reset, d);
    machine_set_msi_remap(d->m, NULL, NULL);
    machine_set_iommu(d->m, NULL, NULL);
    machine_unmap_mmio(d->m, d->mmio);
    vtd_free(d->vtd);
    g_free(d);
}

static bool intel_iommu_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    VtdConfig cfg;
    IntelIommuDev *d;
    VtdGuestMem mem;
    VtdMsiSink msi;

    if (machine_iommu(m, NULL)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "only one intel-iommu is supported per machine");
        return false;
    }
    vtd_config_defaults(&cfg);
    if (!vtd_config_from_opts(&cfg, opts, errp) ||
        !vtd_config_validate(&cfg, errp)) {
        return false;
    }

    d = g_new0(IntelIommuDev, 1);
    d->m = m;
    mem = (VtdGuestMem){ .opaque = d, .read = iommu_mem_read,
                         .write = iommu_mem_write };
    msi = (VtdMsiSink){ .opaque = d, .deliver = iommu_msi_deliver };
    d->vtd = vtd_new(&cfg, &mem, &msi);
    d->mmio = machine_map_mmio(m, "intel-iommu", Q35_IOMMU_BASE,
                               vtd_mmio_size(d->vtd), &iommu_mmio_ops, d);
    machine_set_iommu(m, &iommu_ops, d);
    machine_set_msi_remap(m, iommu_msi_remap, d);
    machine_register_reset(m, iommu_reset, d);
    machine_register_cleanup(m, iommu_cleanup, d);
    intel_iommu_ats_connect(m, d->vtd);     /* ats-prq: device-TLB, PRI */
    intel_iommu_qmp_connect(m, d->vtd);     /* ir: x-vtdnest-save/load-state */
    intel_iommu_nesting_connect(m, d->vtd); /* nesting: RAM view, state report */
    return true;
}

/* QEMU's layout: "intel-iommu options:" then "  name=<type> - ... (default: x)". */
static void intel_iommu_print_help(void)
{
    size_t n;
    const VtdPropertyHelp *p = vtd_config_properties(&n);

    printf("intel-iommu options:\n");
    for (size_t i = 0; i < n; i++) {
        g_autofree char *lhs = g_strdup_printf("%s=<%s>", p[i].name, p[i].type);

        printf("  %-24s - %s (default: %s)\n", lhs, p[i].desc, p[i].def);
    }
}

static const DeviceType intel_iommu_type = {
    .name = "intel-iommu",
    .desc = "Intel IOMMU (VT-d) DMA and interrupt remapping unit",
    .create = intel_iommu_create,
    .hotpluggable = false,
    .print_help = intel_iommu_print_help,
};
DEVICE_TYPE_REGISTER(intel_iommu_type)
