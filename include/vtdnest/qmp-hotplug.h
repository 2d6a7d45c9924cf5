/*
 * QMP device_add / device_del (machine/qmp-hotplug.c), QEMU's names and
 * arguments:
 *   {"execute": "device_add", "arguments": {"driver": "vfio-pci", "id": "v0",
 *                                           "host": "0000:03:00.0", ...}}
 *   {"execute": "device_del", "arguments": {"id": "v0"}}
 * device_del unplugs at once (there is no guest to acknowledge) and emits
 * DEVICE_DELETED {"device": ID, "path": "/machine/peripheral/ID"}.
 *
 * qmp_register_command() only takes "x-vtdnest-" names, so the QMP server
 * registers these itself (machine/qmp.c: add_command in qmp_commands_init).
 */
#ifndef VTDNEST_QMP_HOTPLUG_H
#define VTDNEST_QMP_HOTPLUG_H

#include "vtdnest/servers.h"

struct _JsonNode *qmp_cmd_device_add(Machine *m, struct _JsonNode *args,
                                     void *opaque, GError **errp);
struct _JsonNode *qmp_cmd_device_del(Machine *m, struct _JsonNode *args,
                                     void *opaque, GError **errp);

#endif
