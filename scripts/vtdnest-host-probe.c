/*
 * vtdnest-host-probe: tells a VMM engineer whether this host can run VT-d
 * nested translation through iommufd, and with which guest intel-iommu
 * options. Reads sysfs only; never opens /dev/iommu or a device. See
 * docs/host-probe.md.
 */
#include "host-probe.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    ProbeOptions opts = { 0 };
    g_autoptr(GError) err = NULL;
    g_autoptr(ProbeHost) host = NULL;
    g_autoptr(ProbeVerdict) verdict = NULL;
    g_autofree char *report = NULL;

    if (!probe_options_parse(&opts, &argc, &argv, &err)) {
        fprintf(stderr, "vtdnest-host-probe: %s\n", err->message);
        probe_options_clear(&opts);
        return PROBE_EXIT_USAGE;
    }

    host = probe_host_new(opts.sysfs_root, opts.dev_root, opts.proc_root);
    probe_scan_host(host);
    if (opts.no_libpci) {
        probe_scan_devices_sysfs(host);
    } else if (!probe_scan_devices_libpci(host, &err)) {
        g_ptr_array_add(host->scan_notes,
                        g_strdup_printf("%s; PCI devices listed from sysfs instead",
                                        err->message));
        g_clear_error(&err);
        probe_scan_devices_sysfs(host);
    }
    probe_host_sort(host);

    verdict = probe_verdict(host);
    report = opts.json ? probe_format_json(host, verdict)
                       : probe_format_text(host, verdict);
    fputs(report, stdout);
    if (opts.json) {
        fputc('\n', stdout);
    }
    probe_options_clear(&opts);
    return PROBE_EXIT_OK;
}
