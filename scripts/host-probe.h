/*
 * vtdnest-host-probe: can this host back a guest's VT-d first stage with
 * nested translation through iommufd? The probe reads sysfs (and /dev, and
 * the kernel command line) under configurable roots so that tests can point
 * it at a fake tree; nothing here touches hardware or opens /dev/iommu.
 *
 *   scan (host-probe-scan.c)  -> ProbeHost     what the host exposes
 *   verdict (host-probe-verdict.c) -> ProbeVerdict  what it means for nesting
 *   output (host-probe-output.c)   -> text or JSON
 *
 * Device enumeration through libpci lives in host-probe-libpci.c, linked
 * only into the tool.
 */
#ifndef VTDNEST_HOST_PROBE_H
#define VTDNEST_HOST_PROBE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define PROBE_ERROR (probe_error_quark())
GQuark probe_error_quark(void);
enum { PROBE_ERROR_USAGE, PROBE_ERROR_LIBPCI };

/* Exit codes of the tool: a verdict (even "not available") is success. */
#define PROBE_EXIT_OK 0
#define PROBE_EXIT_USAGE 2

/* One entry of SYSFS/class/iommu. */
typedef struct ProbeUnit {
    char *name;           /* "dmar0" */
    bool is_vtd;          /* has an intel-iommu/ directory */
    bool regs_ok;         /* cap and ecap were read and parsed */
    char *regs_error;     /* why not, when is_vtd && !regs_ok */
    uint64_t cap, ecap;
    bool version_ok;
    unsigned ver_major, ver_minor;
    bool address_ok;
    uint64_t address;     /* register base, if sysfs shows it */
} ProbeUnit;

/* One PCI function. Strings are NULL when the host does not say. */
typedef struct ProbeDevice {
    char *bdf;            /* "0000:03:00.0" */
    bool ids_ok;
    uint16_t vendor, device;
    uint32_t class_code;  /* base class << 16 | subclass << 8 | prog-if */
    char *vendor_name, *device_name, *class_name;  /* libpci only */
    char *iommu_group;    /* group number */
    char *driver;         /* bound driver */
    char *iommu_unit;     /* "dmar0" */
    char *vfio_cdev;      /* "/dev/vfio/devices/vfio0" (under dev root) */
    bool vfio_cdev_present;
} ProbeDevice;

typedef struct ProbeHost {
    char *sysfs_root;     /* "/sys" */
    char *dev_root;       /* "/dev" */
    char *proc_root;      /* "/proc" */
    char *dev_iommu;      /* DEV/iommu */
    bool dev_iommu_present;
    bool dev_iommu_usable;  /* readable and writable by us */
    bool iommufd_module;    /* SYSFS/module/iommufd exists */
    char *cmdline;          /* PROC/cmdline, NULL if unreadable */
    bool class_iommu_present;  /* SYSFS/class/iommu exists */
    GPtrArray *units;     /* ProbeUnit*, sorted by name */
    GPtrArray *devices;   /* ProbeDevice*, sorted by BDF */
    const char *enumerator;  /* "libpci" or "sysfs" */
    GPtrArray *scan_notes;   /* char*: problems met while scanning */
} ProbeHost;

ProbeHost *probe_host_new(const char *sysfs_root, const char *dev_root,
                          const char *proc_root);
void probe_host_free(ProbeHost *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ProbeHost, probe_host_free)

/* Units, /dev/iommu, modules and command line. Never fails: what cannot be
 * read is recorded (units[i]->regs_error, scan_notes). */
void probe_scan_host(ProbeHost *h);
/* Every SYSFS/bus/pci/devices entry, identified from its sysfs files. */
void probe_scan_devices_sysfs(ProbeHost *h);
/*
 * Every PCI device libpci finds (IDs and names), then the sysfs links as
 * probe_add_device() reads them. Lives in host-probe-libpci.c, which only
 * the tool links. False (PROBE_ERROR_LIBPCI) when libpci gives up; devices
 * added so far stay.
 */
bool probe_scan_devices_libpci(ProbeHost *h, GError **errp);
/*
 * Add a device found by some enumerator (or return the existing one) and
 * fill its IOMMU group, driver, unit and VFIO cdev from sysfs. Returns NULL
 * when bdf is not a well-formed "DDDD:BB:DD.F".
 */
ProbeDevice *probe_add_device(ProbeHost *h, const char *bdf);
/* Sort units and devices; call once enumeration is complete. */
void probe_host_sort(ProbeHost *h);
const ProbeUnit *probe_find_unit(const ProbeHost *h, const char *name);

/* True if the device is handed to VFIO: a vfio-pci (or variant) driver or a
 * vfio-dev cdev entry. */
bool probe_device_is_vfio(const ProbeDevice *d);

typedef struct ProbeVerdict {
    bool available;
    GPtrArray *reasons;   /* char*: one blocking problem per line */
    GPtrArray *warnings;  /* char*: problems that leave nesting usable */
    GPtrArray *notes;     /* char*: advice (guest options, errata) */
    GPtrArray *usable;    /* char*: BDFs that can use nesting */
    char *guest_options;  /* recommended "-device intel-iommu,..." */
} ProbeVerdict;

ProbeVerdict *probe_verdict(const ProbeHost *h);
void probe_verdict_free(ProbeVerdict *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ProbeVerdict, probe_verdict_free)

/* Human-readable report; the verdict lines start "nested translation:". */
char *probe_format_text(const ProbeHost *h, const ProbeVerdict *v);
/* The same as a JSON document (docs/host-probe.md). */
char *probe_format_json(const ProbeHost *h, const ProbeVerdict *v);

/* Command line. */
typedef struct ProbeOptions {
    char *sysfs_root;
    char *dev_root;
    char *proc_root;
    gboolean json;
    gboolean no_libpci;
} ProbeOptions;

/* Parses and validates argv (GOptionContext); false + PROBE_ERROR_USAGE
 * on any usage error. --help prints and exits 0 inside GLib. */
bool probe_options_parse(ProbeOptions *o, int *argc, char ***argv,
                         GError **errp);
void probe_options_clear(ProbeOptions *o);

#endif
