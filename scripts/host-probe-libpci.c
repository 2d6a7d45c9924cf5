/*
 * PCI enumeration through libpci (pciutils): the same device list lspci
 * shows, plus vendor/device/class names from the pci.ids database. libpci
 * reports fatal problems through an error hook that must not return; we
 * turn that into a longjmp back here so the probe can fall back to sysfs
 * instead of exiting.
 */
#include "host-probe.h"

#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

static jmp_buf libpci_failed;
static char libpci_message[256];

static void G_GNUC_NORETURN on_libpci_error(char *msg, ...)
{
    va_list ap;

    va_start(ap, msg);
    g_vsnprintf(libpci_message, sizeof(libpci_message), msg, ap);
    va_end(ap);
    longjmp(libpci_failed, 1);
}

/* libpci warns about every unreadable optional file; the probe reports
 * what matters itself. */
static void on_libpci_warning(char *msg, ...)
{
}

/* Name from pci.ids, or NULL when the database does not know it. libpci
 * reads as many id arguments as the lookup type needs; b may be unused.
 * udev's hwdb is skipped: libpci leaks a udev handle per lookup when the
 * hwdb is absent (containers), and pci.ids ships with pciutils anyway. */
static char *lookup_name(struct pci_access *pacc, int flags, int a, int b)
{
    char buf[256];
    char *name = pci_lookup_name(pacc, buf, sizeof(buf),
                                 flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB,
                                 a, b);

    return name ? g_strdup(name) : NULL;
}

static void add_libpci_device(ProbeHost *h, struct pci_access *pacc, struct pci_dev *d)
{
    g_autofree char *bdf = NULL;
    unsigned known = (unsigned)pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS |
                                                PCI_FILL_CLASS_EXT);
    ProbeDevice *pd;

    bdf = g_strdup_printf("%04x:%02x:%02x.%x", (unsigned)d->domain, d->bus, d->dev,
                          d->func);
    pd = probe_add_device(h, bdf);
    if (!pd || !(known & PCI_FILL_IDENT) || !(known & PCI_FILL_CLASS)) {
        return;
    }
    pd->ids_ok = true;
    pd->vendor = d->vendor_id;
    pd->device = d->device_id;
    pd->class_code = (uint32_t)d->device_class << 8 |
                     ((known & PCI_FILL_CLASS_EXT) ? d->prog_if : 0);
    pd->vendor_name = lookup_name(pacc, PCI_LOOKUP_VENDOR, d->vendor_id, 0);
    pd->device_name = lookup_name(pacc, PCI_LOOKUP_DEVICE, d->vendor_id, d->device_id);
    pd->class_name = lookup_name(pacc, PCI_LOOKUP_CLASS, d->device_class, 0);
}

bool probe_scan_devices_libpci(ProbeHost *h, GError **errp)
{
    struct pci_access *volatile pacc = NULL;
    char *volatile sysfs_path = NULL;

    if (setjmp(libpci_failed)) {
        /* Clear pacc first: should cleanup fail too, we land here again
         * with nothing left to clean. */
        struct pci_access *failed = pacc;
        pacc = NULL;
        if (failed) {
            pci_cleanup(failed);
        }
        g_free(sysfs_path);
        sysfs_path = NULL;
        g_set_error(errp, PROBE_ERROR, PROBE_ERROR_LIBPCI, "libpci: %s",
                    libpci_message);
        return false;
    }

    pacc = pci_alloc();
    pacc->error = on_libpci_error;
    pacc->warning = on_libpci_warning;
    if (strcmp(h->sysfs_root, "/sys") != 0) {
        /* A fake tree: read it, not the real /sys or /proc/bus/pci. */
        sysfs_path = g_build_filename(h->sysfs_root, "bus", "pci", NULL);
        pacc->method = PCI_ACCESS_SYS_BUS_PCI;
        pci_set_param(pacc, "sysfs.path", sysfs_path);
    }
    pci_init(pacc);
    pci_scan_bus(pacc);
    for (struct pci_dev *d = pacc->devices; d; d = d->next) {
        add_libpci_device(h, pacc, d);
    }
    pci_cleanup(pacc);
    g_free(sysfs_path);
    h->enumerator = "libpci";
    return true;
}
