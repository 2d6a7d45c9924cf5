/*
 * -device vfio-pci,host=BDF,iommufd=ID[,fd=N]: a host PCI device passed
 * through on an iommufd backend (docs/iommufd.md).
 *
 * Realize: open the device cdev, bind it to the iommufd, read the host IOMMU
 * capabilities into a HostIommuDevice, plug the guest-visible PCI function,
 * then either hand the host device to the vIOMMU (IommuOps.set_host_device)
 * or, without one, do what VFIO does: an IOAS holding all guest RAM at
 * IOVA = GPA with the device attached to it. Unplug undoes every step.
 *
 * On a simulated host (iommufd,sim=on) the guest function is an
 * iommu-testdev-compatible DMA engine (1b36:0005) whose transfers are executed
 * by the simulated host device through whatever HWPT it is attached to.
 */
#include "vtdnest/pci.h"
#include "testdev-engine.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vtdnest/host-iommu-device.h"
#include "vtdnest/iommufd-object.h"
#include "vtdnest/servers.h"
#include "vtdnest/vfio-pci.h"

#define VFIO_PCI_TYPE "vfio-pci"

typedef struct VfioPci {
    Machine *m;
    char *name;               /* id= or the host BDF, for messages */
    char *host_bdf;           /* canonical "dddd:bb:ss.f"; NULL with fd= only */
    IommufdObject *obj;       /* referenced */
    IommufdBackend *be;
    IommufdSim *sim;          /* NULL on a real host */
    int cdev_fd;              /* -1 when not open */
    uint32_t dev_id;
    HostIommuDevice *hd;
    bool viommu_owns;         /* set_host_device succeeded */
    uint32_t ioas_id;         /* no-vIOMMU fallback, 0 = none */
    bool ioas_attached;
    PCIDevice *pci;
    TestdevEngine engine;     /* simulated hosts only */
} VfioPci;

/* ---- host PCI address ---------------------------------------------------- */

/* "0000:03:00.0" or "03:00.0" -> canonical lower-case "0000:03:00.0". */
static char *canonical_bdf(const char *s, GError **errp)
{
    unsigned dom = 0, bus, slot, fn;
    char tail;

    if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &slot, &fn, &tail) != 4) {
        dom = 0;
        if (sscanf(s, "%x:%x.%x%c", &bus, &slot, &fn, &tail) != 3) {
            goto bad;
        }
    }
    if (dom > 0xffff || bus > 0xff || slot > 0x1f || fn > 7) {
        goto bad;
    }
    return g_strdup_printf("%04x:%02x:%02x.%x", dom, bus, slot, fn);
bad:
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "'host' must be a PCI address like 0000:03:00.0, "
                "not '%s'", s);
    return NULL;
}

/* ---- real host: sysfs --------------------------------------------------- */

/* Basename of a symlink's target, or NULL. */
static char *link_basename(const char *path)
{
    g_autofree char *target = g_file_read_link(path, NULL);

    return target ? g_path_get_basename(target) : NULL;
}

char *vfio_pci_find_cdev(const char *sysfs_root, const char *dev_root,
                         const char *bdf, GError **errp)
{
    g_autofree char *canon = canonical_bdf(bdf, errp);
    g_autofree char *dir = NULL, *driver = NULL, *vfio_dir = NULL;
    g_autofree char *driver_link = NULL;
    g_autofree char *node_name = NULL;
    char *path;
    GDir *d;

    if (!canon) {
        return NULL;
    }
    sysfs_root = sysfs_root ? sysfs_root : "/sys";
    dev_root = dev_root ? dev_root : "/dev";
    dir = g_strdup_printf("%s/bus/pci/devices/%s", sysfs_root, canon);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(errp, IOMMUFD_ERROR, ENOENT,
                    "host device %s not found (no %s): check the address "
                    "with lspci -D", canon, dir);
        return NULL;
    }
    driver_link = g_build_filename(dir, "driver", NULL);
    driver = link_basename(driver_link);
    if (!driver || strcmp(driver, "vfio-pci") != 0) {
        g_set_error(errp, IOMMUFD_ERROR, ENODEV,
                    "device %s is not bound to vfio-pci (driver: %s); bind "
                    "it first, e.g. echo vfio-pci > %s/driver_override and "
                    "echo %s > %s/bus/pci/drivers_probe", canon,
                    driver ? driver : "none", dir, canon, sysfs_root);
        return NULL;
    }
    vfio_dir = g_build_filename(dir, "vfio-dev", NULL);
    d = g_dir_open(vfio_dir, 0, NULL);
    if (d) {
        const char *e;
        while ((e = g_dir_read_name(d))) {
            if (g_str_has_prefix(e, "vfio")) {
                node_name = g_strdup(e);
                break;
            }
        }
        g_dir_close(d);
    }
    if (!node_name) {
        g_set_error(errp, IOMMUFD_ERROR, ENODEV,
                    "device %s has no VFIO device cdev (no %s/vfioN): the "
                    "host kernel needs CONFIG_VFIO_DEVICE_CDEV=y (Linux 6.6+)",
                    canon, vfio_dir);
        return NULL;
    }
    path = g_strdup_printf("%s/vfio/devices/%s", dev_root, node_name);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_set_error(errp, IOMMUFD_ERROR, ENOENT,
                    "device %s: %s does not exist although sysfs lists %s "
                    "(is devtmpfs mounted on %s?)", canon, path, node_name,
                    dev_root);
        g_free(path);
        return NULL;
    }
    return path;
}

/* Reads a sysfs attribute such as "0x8086\n" as a number. */
static bool sysfs_read_hex(const char *dir, const char *attr, uint64_t *out)
{
    g_autofree char *path = g_build_filename(dir, attr, NULL);
    g_autofree char *text = NULL;
    char *end;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return false;
    }
    *out = g_ascii_strtoull(text, &end, 16);
    return end != text;
}

/* ---- the DMA step --------------------------------------------------------- */

static const char *sim_fault_name(IommufdSimFaultReason r)
{
    switch (r) {
    case IOMMUFD_SIM_FAULT_BLOCKED: return "blocked";
    case IOMMUFD_SIM_FAULT_S2_UNMAPPED: return "IOVA not mapped";
    case IOMMUFD_SIM_FAULT_S2_PERM: return "stage-2 permission";
    case IOMMUFD_SIM_FAULT_S1_NON_CANONICAL: return "non-canonical";
    case IOMMUFD_SIM_FAULT_S1_NOT_PRESENT: return "stage-1 not present";
    case IOMMUFD_SIM_FAULT_S1_RESERVED: return "stage-1 reserved bit";
    case IOMMUFD_SIM_FAULT_S1_PERM: return "stage-1 permission";
    case IOMMUFD_SIM_FAULT_S1_TABLE: return "stage-1 table access";
    default: return "none";
    }
}

/*
 * Passthrough DMA: the host device itself issues it, translated by the host
 * IOMMU (simulated); the vIOMMU is not on this path.
 */
static uint32_t passthrough_dma(void *opaque, uint64_t addr, uint8_t *buf,
                                uint32_t len, bool is_write,
                                const TestdevDmaReq *req)
{
    VfioPci *v = opaque;
    IommufdSimFault fault = { 0 };
    uint32_t pasid = req->has_pasid ? req->attrs.pasid : IOMMUFD_NO_PASID;

    if (!pci_bus_master_enabled(v->pci)) {
        return TESTDEV_ERR_TX_FAIL;
    }
    /* The simulator issues user-level requests only. */
    if (req->attrs.priv) {
        return TESTDEV_ERR_TX_FAIL;
    }
    if (!iommufd_sim_dma(v->sim, v->host_bdf, pasid, addr, buf, len, is_write,
                         &fault)) {
        g_debug("vfio-pci %s: DMA %s 0x%" G_GINT64_MODIFIER "x pasid %u "
                "faulted (%s)", v->name, is_write ? "write" : "read",
                fault.addr, pasid, sim_fault_name(fault.reason));
        /* The simulator queued the fault record (if any) synchronously:
         * hand it to the vIOMMU now, so the guest sees it deterministically
         * before the run's result. */
        if (fault.queued) {
            host_iommu_device_drain_faults(v->hd);
        }
        return TESTDEV_ERR_TX_FAIL;
    }
    return 0;
}

static const TestdevEngineOps passthrough_engine_ops = {
    .dma = passthrough_dma,
};

/* ---- no vIOMMU: an IOAS with all guest RAM ------------------------------- */

typedef struct RamMapCtx {
    VfioPci *v;
    GError **errp;
    bool failed;
} RamMapCtx;

static void map_ram_block(void *opaque, uint64_t gpa, uint64_t size,
                          uint8_t *host, bool readonly)
{
    RamMapCtx *c = opaque;

    if (c->failed) {
        return;
    }
    if (!iommufd_backend_map(c->v->be, c->v->ioas_id, gpa, size, host, readonly,
                             c->errp)) {
        c->failed = true;
    }
}

static bool attach_flat_ioas(VfioPci *v, GError **errp)
{
    RamMapCtx c = { .v = v, .errp = errp };

    if (!iommufd_backend_alloc_ioas(v->be, &v->ioas_id, errp)) {
        return false;
    }
    machine_foreach_ram(v->m, map_ram_block, &c);
    if (c.failed) {
        g_prefix_error(errp, "mapping guest RAM: ");
        return false;
    }
    if (!host_iommu_device_attach(v->hd, IOMMU_NO_PASID, v->ioas_id, errp)) {
        return false;
    }
    v->ioas_attached = true;
    return true;
}

/* ---- release (unplug and failed realize) --------------------------------- */

static void vfio_pci_release(VfioPci *v)
{
    g_autoptr(GError) err = NULL;

    if (v->viommu_owns) {
        void *opaque;
        const IommuOps *ops = machine_iommu(v->m, &opaque);

        if (ops && ops->unset_host_device) {
            ops->unset_host_device(opaque, v->hd);
        }
        v->viommu_owns = false;
    }
    if (v->ioas_attached && !host_iommu_device_detach(v->hd, IOMMU_NO_PASID, &err)) {
        g_warning("vfio-pci %s: %s", v->name, err->message);
        g_clear_error(&err);
    }
    v->ioas_attached = false;
    if (v->ioas_id && !iommufd_backend_destroy(v->be, v->ioas_id, &err)) {
        g_warning("vfio-pci %s: %s", v->name, err->message);
        g_clear_error(&err);
    }
    v->ioas_id = 0;
    host_iommu_device_free(v->hd);
    v->hd = NULL;
    /* Closing the cdev unbinds it from the iommufd. */
    if (v->cdev_fd >= 0) {
        vfio_cdev_close(v->be, v->cdev_fd);
        v->cdev_fd = -1;
    }
    iommufd_object_unref(v->obj);
    g_free(v->name);
    g_free(v->host_bdf);
    g_free(v);
}

static void vfio_pci_unrealize(PCIDevice *d)
{
    VfioPci *v = d->opaque;

    d->opaque = NULL;
    if (v) {
        vfio_pci_release(v);
    }
}

static void vfio_pci_reset(PCIDevice *d)
{
    VfioPci *v = d->opaque;

    if (v && v->sim) {
        testdev_engine_reset(&v->engine);
    }
}

static const PCIDeviceClass vfio_pci_class = {
    .reset = vfio_pci_reset,
    .unrealize = vfio_pci_unrealize,
};

/* ---- realize ------------------------------------------------------------ */

/* PCIe extended capability walk of a real host device's config space (root
 * can read past 64 bytes): does it have the PRI capability (ID 0x13)? */
static bool sysfs_has_pri(const char *bdf)
{
    g_autofree char *path = g_strdup_printf("/sys/bus/pci/devices/%s/config", bdf);
    g_autofree char *cfg = NULL;
    gsize len = 0;
    unsigned off = 0x100, hops = 0;

    if (!g_file_get_contents(path, &cfg, &len, NULL)) {
        return false;
    }
    while (off >= 0x100 && off + 4 <= len && hops++ < 64) {
        uint32_t hdr = (uint8_t)cfg[off] | (uint8_t)cfg[off + 1] << 8 |
                       (uint32_t)(uint8_t)cfg[off + 2] << 16 |
                       (uint32_t)(uint8_t)cfg[off + 3] << 24;

        if ((hdr & 0xffff) == 0x13) {
            return true;
        }
        off = (hdr >> 20) & 0xffc;
    }
    return false;
}

/* Host side: cdev, bind, capabilities. */
static bool connect_host(VfioPci *v, const char *host, bool has_fd, int fd,
                         GError **errp)
{
    g_autofree char *path = NULL;
    g_autofree char *unit = NULL;

    if (has_fd) {
        if (v->sim) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "fd= cannot be used with a simulated iommufd (the "
                        "simulator opens its own device cdevs)");
            return false;
        }
        if (fcntl(fd, F_GETFD) < 0) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "fd=%d is not an open file descriptor (pass an open "
                        "/dev/vfio/devices/vfioN)", fd);
            return false;
        }
        v->cdev_fd = fd;   /* ours from now on, closed at unplug (as QEMU) */
    } else if (v->sim) {
        const char *p = iommufd_sim_cdev_path(v->sim, v->host_bdf);

        if (!p) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "host device %s is not declared on simulated iommufd "
                        "'%s': add -object iommufd-sim-device,id=ID,iommufd=%s,"
                        "host=%s,unit=UNIT before this -device", v->host_bdf,
                        iommufd_object_id(v->obj), iommufd_object_id(v->obj),
                        v->host_bdf);
            return false;
        }
        path = g_strdup(p);
    } else {
        path = vfio_pci_find_cdev(NULL, NULL, host, errp);
        if (!path) {
            return false;
        }
    }
    if (!v->sim && v->host_bdf) {
        /* The host unit, e.g. "dmar0", names where stage 2 can be shared. */
        g_autofree char *l = g_strdup_printf("/sys/bus/pci/devices/%s/iommu",
                                             v->host_bdf);
        unit = link_basename(l);
    } else if (v->sim) {
        /* The simulator's answer to the same question: the unit's id. */
        unit = g_strdup(iommufd_sim_device_unit(v->sim, v->host_bdf));
    }
    if (path) {
        v->cdev_fd = vfio_cdev_open(v->be, path, errp);
        if (v->cdev_fd < 0) {
            return false;
        }
    }
    if (!vfio_cdev_bind(v->be, v->cdev_fd, &v->dev_id, errp)) {
        return false;
    }
    v->hd = host_iommu_device_new(v->be, iommufd_object_id(v->obj), v->cdev_fd,
                                  v->dev_id, v->name, v->host_bdf, unit, errp);
    if (!v->hd) {
        return false;
    }
    /* Fault queues need PRI on the device (the kernel enables IOPF with it). */
    v->hd->iopf = v->sim ? iommufd_sim_device_pri(v->sim, v->host_bdf)
                         : v->host_bdf && sysfs_has_pri(v->host_bdf);
    return true;
}

/* Guest side: a PCI function whose identity mirrors the host device. */
static bool plug_guest_function(VfioPci *v, DeviceOpts *opts, GError **errp)
{
    uint64_t vendor = 0xffff, device = 0xffff, class_code = 0xff0000;

    if (v->sim) {
        vendor = TESTDEV_VENDOR_ID;
        device = TESTDEV_DEVICE_ID;
        class_code = (uint64_t)TESTDEV_CLASS << 8;
    } else if (v->host_bdf) {
        g_autofree char *dir = g_strdup_printf("/sys/bus/pci/devices/%s",
                                               v->host_bdf);
        sysfs_read_hex(dir, "vendor", &vendor);
        sysfs_read_hex(dir, "device", &device);
        sysfs_read_hex(dir, "class", &class_code);
    }
    v->pci = pci_device_new_from_opts(v->m, opts, VFIO_PCI_TYPE, vendor, device,
                                      (class_code >> 8) & 0xffff, errp);
    if (!v->pci) {
        return false;
    }
    v->pci->opaque = v;
    v->pci->klass = &vfio_pci_class;
    if (v->sim) {
        testdev_engine_init(&v->engine, v->pci, &passthrough_engine_ops, v);
        pci_register_bar(v->pci, 0, PCI_BAR_MEM32, TESTDEV_BAR0_SIZE,
                         &testdev_engine_mmio_ops, NULL, &v->engine);
        pci_msi_init(v->pci, 1);
    }
    v->hd->guest_sid = pci_requester_id(v->pci);
    v->hd->behind_bridge = v->pci->bus != machine_pci_root(v->m);
    v->hd->opaque = v;
    return true;
}

/* DMA translation: the vIOMMU's business if it takes host devices. */
static bool connect_translation(VfioPci *v, GError **errp)
{
    void *opaque;
    const IommuOps *ops = machine_iommu(v->m, &opaque);

    if (ops && ops->set_host_device) {
        if (!ops->set_host_device(opaque, v->hd, errp)) {
            return false;
        }
        v->viommu_owns = true;
        return true;
    }
    return attach_flat_ioas(v, errp);
}

/* Reject unknown properties before any host object exists. */
static bool check_properties(DeviceOpts *opts, GError **errp)
{
    static const char *const known[] = {
        "host", "iommufd", "fd", "id", "bus", "addr", "multifunction", NULL,
    };

    for (const char *const *k = known; *k; k++) {
        if (opts_has(opts, *k)) {
            opts_get(opts, *k);
        }
    }
    return opts_check_all_used(opts, VFIO_PCI_TYPE, errp);
}

static bool vfio_pci_create(Machine *m, DeviceOpts *opts, GError **errp)
{
    const char *host = opts_get(opts, "host");
    const char *fd_id = opts_get(opts, "iommufd");
    const char *id = opts_get(opts, "id");
    bool has_fd = opts_has(opts, "fd");
    uint64_t fd = 0;
    IommufdObject *obj;
    VfioPci *v;

    if (!opts_get_uint(opts, OPT_NAMES("fd"), 0, INT32_MAX, &fd, errp) ||
        !check_properties(opts, errp)) {
        return false;
    }
    if (!host && !has_fd) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "vfio-pci: Parameter 'host' is missing (the host PCI "
                    "address, e.g. host=0000:03:00.0)");
        return false;
    }
    if (!fd_id) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "vfio-pci: Parameter 'iommufd' is missing: vtdnest "
                    "supports only the iommufd backend (-object "
                    "iommufd,id=ID, then iommufd=ID)");
        return false;
    }
    obj = iommufd_object_find(m, fd_id, errp);
    if (!obj) {
        return false;
    }

    v = g_new0(VfioPci, 1);
    v->m = m;
    v->cdev_fd = -1;
    v->obj = iommufd_object_ref(obj);
    v->sim = iommufd_object_sim(obj);
    if (host && !(v->host_bdf = canonical_bdf(host, errp))) {
        goto fail;
    }
    v->name = g_strdup(id ? id : v->host_bdf ? v->host_bdf : "vfio-pci");
    v->be = iommufd_object_backend(obj, errp);
    if (!v->be || !connect_host(v, host, has_fd, (int)fd, errp)) {
        goto fail;
    }
    if (!plug_guest_function(v, opts, errp)) {
        goto fail;
    }
    if (!connect_translation(v, errp)) {
        /* Unplugging the function releases the host side too. */
        g_prefix_error(errp, "vfio-pci %s: ", v->name);
        pci_device_unplug(v->pci);
        return false;
    }
    return true;

fail:
    g_prefix_error(errp, "vfio-pci %s: ", v->name ? v->name : host ? host : "");
    vfio_pci_release(v);
    return false;
}

static bool vfio_pci_destroy(Machine *m, const char *id, GError **errp)
{
    PCIDevice *d = pci_find_device_by_id(m, id);

    if (!d || strcmp(d->type_name, VFIO_PCI_TYPE) != 0) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Device '%s' not found", id);
        return false;
    }
    pci_device_unplug(d);
    return true;
}

HostIommuDevice *vfio_pci_host_iommu_device(Machine *m, const char *id)
{
    PCIDevice *d = pci_find_device_by_id(m, id);
    VfioPci *v;

    if (!d || strcmp(d->type_name, VFIO_PCI_TYPE) != 0) {
        return NULL;
    }
    v = d->opaque;
    return v ? v->hd : NULL;
}

static const DeviceType vfio_pci_type = {
    .name = VFIO_PCI_TYPE,
    .desc = "A host PCI device passed through on an iommufd backend",
    .create = vfio_pci_create,
    .hotpluggable = true,
    .destroy = vfio_pci_destroy,
};
DEVICE_TYPE_REGISTER(vfio_pci_type)

/* ---- QMP x-vtdnest-query-host-iommu -------------------------------------- */

static void describe_device(PCIDevice *d, void *opaque)
{
    JsonBuilder *b = opaque;
    VfioPci *v = d->opaque;
    const HostIommuDevice *hd;
    g_autofree char *cap = NULL, *ecap = NULL;

    if (strcmp(d->type_name, VFIO_PCI_TYPE) != 0 || !v || !v->hd) {
        return;
    }
    hd = v->hd;
    cap = g_strdup_printf("0x%016" G_GINT64_MODIFIER "x", hd->vtd_cap);
    ecap = g_strdup_printf("0x%016" G_GINT64_MODIFIER "x", hd->vtd_ecap);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, v->name);
    json_builder_set_member_name(b, "host");
    json_builder_add_string_value(b, hd->host_bdf ? hd->host_bdf : "");
    json_builder_set_member_name(b, "host-unit");
    json_builder_add_string_value(b, hd->host_unit);
    json_builder_set_member_name(b, "iommufd");
    json_builder_add_string_value(b, hd->iommufd_id);
    json_builder_set_member_name(b, "dev-id");
    json_builder_add_int_value(b, hd->dev_id);
    json_builder_set_member_name(b, "hw-info-type");
    json_builder_add_int_value(b, hd->hw_info.type);
    json_builder_set_member_name(b, "cap");
    json_builder_add_string_value(b, cap);
    json_builder_set_member_name(b, "ecap");
    json_builder_add_string_value(b, ecap);
    json_builder_set_member_name(b, "errata-772415-spr17");
    json_builder_add_boolean_value(b, hd->errata_772415);
    json_builder_set_member_name(b, "max-pasid-log2");
    json_builder_add_int_value(b, hd->max_pasid_log2);
    json_builder_set_member_name(b, "coherent");
    json_builder_add_boolean_value(b, hd->coherent);
    json_builder_set_member_name(b, "aw-bits");
    json_builder_add_int_value(b, hd->aw_bits);
    json_builder_set_member_name(b, "guest-sid");
    json_builder_add_int_value(b, hd->guest_sid);
    json_builder_set_member_name(b, "translation");
    json_builder_add_string_value(b, v->viommu_owns ? "viommu" : "flat-ioas");
    json_builder_end_object(b);
}

/* Every passthrough device and what IOMMU_GET_HW_INFO said about its host. */
static JsonNode *qmp_query_host_iommu(Machine *m, JsonNode *args, void *opaque,
                                      GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(json_node_get_object(args));
    g_autoptr(JsonBuilder) b = NULL;

    /* No parameters: a misspelt one is an error, as for QEMU's commands. */
    if (members) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter '%s' is unexpected", (const char *)members->data);
        return NULL;
    }
    b = json_builder_new();
    json_builder_begin_array(b);
    pci_foreach_device(m, describe_device, b);
    json_builder_end_array(b);
    return json_builder_get_root(b);
}

static void __attribute__((constructor)) vfio_pci_register_qmp(void)
{
    qmp_register_command("x-vtdnest-query-host-iommu", qmp_query_host_iommu,
                         NULL);
}
