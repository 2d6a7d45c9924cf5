/*
 * Command line of vtdnest-host-probe. Kept in the library so the unit test
 * can check that bad usage is reported as such (exit 2) without spawning
 * the tool.
 */
#include "host-probe.h"

static bool check_dir(const char *option, const char *path, GError **errp)
{
    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_set_error(errp, PROBE_ERROR, PROBE_ERROR_USAGE,
                    "%s: '%s' is not a directory", option, path);
        return false;
    }
    return true;
}

bool probe_options_parse(ProbeOptions *o, int *argc, char ***argv,
                         GError **errp)
{
    const GOptionEntry entries[] = {
        { "sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &o->sysfs_root,
          "Read sysfs from DIR instead of /sys (for a fake tree)", "DIR" },
        { "dev-root", 0, 0, G_OPTION_ARG_FILENAME, &o->dev_root,
          "Look for iommu and vfio/devices/ under DIR instead of /dev", "DIR" },
        { "proc-root", 0, 0, G_OPTION_ARG_FILENAME, &o->proc_root,
          "Read the kernel command line from DIR/cmdline instead of /proc", "DIR" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &o->json,
          "Machine-readable output (JSON)", NULL },
        { "no-libpci", 0, 0, G_OPTION_ARG_NONE, &o->no_libpci,
          "Enumerate PCI devices from sysfs only (no names)", NULL },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- can this host run VT-d nested translation?");
    GError *local = NULL;

    g_option_context_set_summary(ctx,
        "Lists PCI devices with their IOMMU group, driver, VT-d unit and VFIO cdev,\n"
        "decodes each VT-d unit's CAP/ECAP, and says whether iommufd nested\n"
        "translation can work here, with the guest intel-iommu options to use.\n"
        "Exit status: 0 when the host was probed (whatever the verdict), 2 on\n"
        "usage errors.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, &local)) {
        g_set_error(errp, PROBE_ERROR, PROBE_ERROR_USAGE, "%s", local->message);
        g_error_free(local);
        return false;
    }
    if (*argc > 1) {
        g_set_error(errp, PROBE_ERROR, PROBE_ERROR_USAGE,
                    "unexpected argument '%s' (see --help)", (*argv)[1]);
        return false;
    }
    /* Only explicit roots are checked: a host without /dev is still probed. */
    if ((o->sysfs_root && !check_dir("--sysfs-root", o->sysfs_root, errp)) ||
        (o->dev_root && !check_dir("--dev-root", o->dev_root, errp)) ||
        (o->proc_root && !check_dir("--proc-root", o->proc_root, errp))) {
        return false;
    }
    if (!o->sysfs_root) {
        o->sysfs_root = g_strdup("/sys");
    }
    if (!o->dev_root) {
        o->dev_root = g_strdup("/dev");
    }
    if (!o->proc_root) {
        o->proc_root = g_strdup("/proc");
    }
    return true;
}

void probe_options_clear(ProbeOptions *o)
{
    g_clear_pointer(&o->sysfs_root, g_free);
    g_clear_pointer(&o->dev_root, g_free);
    g_clear_pointer(&o->proc_root, g_free);
}
