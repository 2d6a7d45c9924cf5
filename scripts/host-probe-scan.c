/*
 * What the host exposes, read from sysfs, /dev and /proc under configurable
 * roots. Missing or malformed files are facts about the host, not errors:
 * they are recorded and the verdict explains them.
 */
#define _GNU_SOURCE  /* strverscmp */
#include "host-probe.h"
#include "vtd-cap-decode.h"

#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK(probe-error-quark, probe_error)

static void unit_free(gpointer p)
{
    ProbeUnit *u = p;

    g_free(u->name);
    g_free(u->regs_error);
    g_free(u);
}

static void device_free(gpointer p)
{
    ProbeDevice *d = p;

    g_free(d->bdf);
    g_free(d->vendor_name);
    g_free(d->device_name);
    g_free(d->class_name);
    g_free(d->iommu_group);
    g_free(d->driver);
    g_free(d->iommu_unit);
    g_free(d->vfio_cdev);
    g_free(d);
}

ProbeHost *probe_host_new(const char *sysfs_root, const char *dev_root,
                          const char *proc_root)
{
    ProbeHost *h = g_new0(ProbeHost, 1);

    h->sysfs_root = g_strdup(sysfs_root ? sysfs_root : "/sys");
    h->dev_root = g_strdup(dev_root ? dev_root : "/dev");
    h->proc_root = g_strdup(proc_root ? proc_root : "/proc");
    h->dev_iommu = g_build_filename(h->dev_root, "iommu", NULL);
    h->units = g_ptr_array_new_with_free_func(unit_free);
    h->devices = g_ptr_array_new_with_free_func(device_free);
    h->scan_notes = g_ptr_array_new_with_free_func(g_free);
    h->enumerator = "sysfs";
    return h;
}

void probe_host_free(ProbeHost *h)
{
    if (!h) {
        return;
    }
    g_free(h->sysfs_root);
    g_free(h->dev_root);
    g_free(h->proc_root);
    g_free(h->dev_iommu);
    g_free(h->cmdline);
    g_ptr_array_unref(h->units);
    g_ptr_array_unref(h->devices);
    g_ptr_array_unref(h->scan_notes);
    g_free(h);
}

/* Contents of dir/name without surrounding whitespace, or NULL. Sysfs
 * attributes are tiny; anything bigger than a page is not one. */
static char *read_attr(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR) ||
        !g_file_get_contents(path, &text, &len, NULL) || len > 4096 ||
        memchr(text, '\0', len)) {
        return NULL;
    }
    return g_strdup(g_strstrip(text));
}

/* Last path component of the symlink dir/name ("iommu_group" -> "12"). */
static char *link_basename(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *target = g_file_read_link(path, NULL);

    if (!target || !*target) {
        return NULL;
    }
    return g_path_get_basename(target);
}

static void scan_unit(ProbeHost *h, const char *class_dir, const char *name)
{
    ProbeUnit *u = g_new0(ProbeUnit, 1);
    g_autofree char *vtd_dir = g_build_filename(class_dir, name, "intel-iommu", NULL);
    g_autofree char *cap = NULL, *ecap = NULL, *version = NULL, *address = NULL;
    g_autoptr(GError) err = NULL;

    u->name = g_strdup(name);
    g_ptr_array_add(h->units, u);
    u->is_vtd = g_file_test(vtd_dir, G_FILE_TEST_IS_DIR);
    if (!u->is_vtd) {
        return;
    }

    cap = read_attr(vtd_dir, "cap");
    ecap = read_attr(vtd_dir, "ecap");
    if (!cap || !ecap) {
        u->regs_error = g_strdup_printf("%s/%s not readable", vtd_dir,
                                        !cap ? "cap" : "ecap");
    } else if (!vtd_parse_reg_hex(cap, &u->cap, &err)) {
        u->regs_error = g_strdup_printf("%s/cap: %s", vtd_dir, err->message);
    } else if (!vtd_parse_reg_hex(ecap, &u->ecap, &err)) {
        u->regs_error = g_strdup_printf("%s/ecap: %s", vtd_dir, err->message);
    } else {
        u->regs_ok = true;
    }

    version = read_attr(vtd_dir, "version");
    u->version_ok = version &&
        vtd_parse_version(version, &u->ver_major, &u->ver_minor, NULL);
    address = read_attr(vtd_dir, "address");
    u->address_ok = address && vtd_parse_reg_hex(address, &u->address, NULL);
}

void probe_scan_host(ProbeHost *h)
{
    g_autofree char *class_dir = g_build_filename(h->sysfs_root, "class", "iommu", NULL);
    g_autofree char *module_dir = g_build_filename(h->sysfs_root, "module", "iommufd", NULL);
    g_autofree char *cmdline_path = g_build_filename(h->proc_root, "cmdline", NULL);
    g_autofree char *cmdline = NULL;
    GDir *dir;
    const char *name;

    h->dev_iommu_present = g_file_test(h->dev_iommu, G_FILE_TEST_EXISTS);
    h->dev_iommu_usable = h->dev_iommu_present &&
                          access(h->dev_iommu, R_OK | W_OK) == 0;
    h->iommufd_module = g_file_test(module_dir, G_FILE_TEST_IS_DIR);
    if (g_file_get_contents(cmdline_path, &cmdline, NULL, NULL)) {
        h->cmdline = g_strstrip(g_strdup(cmdline));
    }

    h->class_iommu_present = g_file_test(class_dir, G_FILE_TEST_IS_DIR);
    dir = h->class_iommu_present ? g_dir_open(class_dir, 0, NULL) : NULL;
    if (!dir) {
        return;
    }
    while ((name = g_dir_read_name(dir))) {
        scan_unit(h, class_dir, name);
    }
    g_dir_close(dir);
}

/* Parse "DDDD:BB:DD.F" (domain 4-8 hex digits) into its canonical spelling. */
static char *canonical_bdf(const char *s)
{
    unsigned dom = 0, bus = 0, dev = 0, fn = 0;
    size_t i = 0, n;

    for (n = 0; g_ascii_isxdigit(s[i]); i++, n++) {
        dom = dom * 16 + (unsigned)g_ascii_xdigit_value(s[i]);
    }
    if (n < 4 || n > 8 || s[i++] != ':') {
        return NULL;
    }
    for (n = 0; n < 2; n++, i++) {
        if (!g_ascii_isxdigit(s[i])) {
            return NULL;
        }
        bus = bus * 16 + (unsigned)g_ascii_xdigit_value(s[i]);
    }
    if (s[i++] != ':') {
        return NULL;
    }
    for (n = 0; n < 2; n++, i++) {
        if (!g_ascii_isxdigit(s[i])) {
            return NULL;
        }
        dev = dev * 16 + (unsigned)g_ascii_xdigit_value(s[i]);
    }
    if (s[i++] != '.' || !g_ascii_isxdigit(s[i])) {
        return NULL;
    }
    fn = (unsigned)g_ascii_xdigit_value(s[i++]);
    if (s[i] != '\0' || dev > 0x1f || fn > 7) {
        return NULL;
    }
    return g_strdup_printf("%04x:%02x:%02x.%x", dom, bus, dev, fn);
}

/* The cdev name under DEVDIR/vfio-dev ("vfio3"), if any. */
static char *vfio_cdev_name(const char *devdir)
{
    g_autofree char *vfio_dir = g_build_filename(devdir, "vfio-dev", NULL);
    GDir *dir = g_dir_open(vfio_dir, 0, NULL);
    const char *name;
    char *found = NULL;

    if (!dir) {
        return NULL;
    }
    while (!found && (name = g_dir_read_name(dir))) {
        if (g_str_has_prefix(name, "vfio")) {
            found = g_strdup(name);
        }
    }
    g_dir_close(dir);
    return found;
}

ProbeDevice *probe_add_device(ProbeHost *h, const char *bdf)
{
    g_autofree char *canon = canonical_bdf(bdf);
    g_autofree char *devdir = NULL;
    g_autofree char *cdev = NULL;
    ProbeDevice *d;

    if (!canon) {
        return NULL;
    }
    for (guint i = 0; i < h->devices->len; i++) {
        d = g_ptr_array_index(h->devices, i);
        if (strcmp(d->bdf, canon) == 0) {
            return d;
        }
    }

    d = g_new0(ProbeDevice, 1);
    d->bdf = g_steal_pointer(&canon);
    g_ptr_array_add(h->devices, d);

    devdir = g_build_filename(h->sysfs_root, "bus", "pci", "devices", d->bdf, NULL);
    d->iommu_group = link_basename(devdir, "iommu_group");
    d->driver = link_basename(devdir, "driver");
    d->iommu_unit = link_basename(devdir, "iommu");
    cdev = vfio_cdev_name(devdir);
    if (cdev) {
        d->vfio_cdev = g_build_filename(h->dev_root, "vfio", "devices", cdev, NULL);
        d->vfio_cdev_present = g_file_test(d->vfio_cdev, G_FILE_TEST_EXISTS);
    }
    return d;
}

/* Numeric sysfs attribute ("0x8086") no larger than max. */
static bool read_hex_attr(const char *dir, const char *name, uint64_t max,
                          uint64_t *out)
{
    g_autofree char *text = read_attr(dir, name);

    return text && vtd_parse_reg_hex(text, out, NULL) && *out <= max;
}

void probe_scan_devices_sysfs(ProbeHost *h)
{
    g_autofree char *bus_dir = g_build_filename(h->sysfs_root, "bus", "pci", "devices", NULL);
    GDir *dir = g_dir_open(bus_dir, 0, NULL);
    const char *name;

    h->enumerator = "sysfs";
    if (!dir) {
        g_ptr_array_add(h->scan_notes,
                        g_strdup_printf("%s not readable: no PCI devices listed", bus_dir));
        return;
    }
    while ((name = g_dir_read_name(dir))) {
        ProbeDevice *d = probe_add_device(h, name);
        g_autofree char *devdir = NULL;
        uint64_t vendor, device, class_code;

        if (!d) {
            continue;  /* not a PCI address */
        }
        devdir = g_build_filename(bus_dir, name, NULL);
        if (read_hex_attr(devdir, "vendor", 0xffff, &vendor) &&
            read_hex_attr(devdir, "device", 0xffff, &device) &&
            read_hex_attr(devdir, "class", 0xffffff, &class_code)) {
            d->ids_ok = true;
            d->vendor = (uint16_t)vendor;
            d->device = (uint16_t)device;
            d->class_code = (uint32_t)class_code;
        }
    }
    g_dir_close(dir);
}

static int compare_units(gconstpointer a, gconstpointer b)
{
    const ProbeUnit *ua = *(ProbeUnit *const *)a, *ub = *(ProbeUnit *const *)b;

    return strverscmp(ua->name, ub->name);  /* dmar2 before dmar10 */
}

static int compare_devices(gconstpointer a, gconstpointer b)
{
    const ProbeDevice *da = *(ProbeDevice *const *)a, *db = *(ProbeDevice *const *)b;

    /* Canonical BDFs: equal-length domains compare numerically as text. */
    if (strlen(da->bdf) != strlen(db->bdf)) {
        return strlen(da->bdf) < strlen(db->bdf) ? -1 : 1;
    }
    return strcmp(da->bdf, db->bdf);
}

void probe_host_sort(ProbeHost *h)
{
    g_ptr_array_sort(h->units, compare_units);
    g_ptr_array_sort(h->devices, compare_devices);
}

const ProbeUnit *probe_find_unit(const ProbeHost *h, const char *name)
{
    if (!name) {
        return NULL;
    }
    for (guint i = 0; i < h->units->len; i++) {
        const ProbeUnit *u = g_ptr_array_index(h->units, i);
        if (strcmp(u->name, name) == 0) {
            return u;
        }
    }
    return NULL;
}

bool probe_device_is_vfio(const ProbeDevice *d)
{
    /* Variant drivers (mlx5_vfio_pci, ...) also hand the device to VFIO. */
    return d->vfio_cdev ||
           (d->driver && (strcmp(d->driver, "vfio-pci") == 0 ||
                          g_str_has_suffix(d->driver, "vfio_pci") ||
                          g_str_has_suffix(d->driver, "vfio-pci")));
}
