/*
 * QMP device_add / device_del (see vtdnest/qmp-hotplug.h): the same device
 * registry as -device, so a hot-added device takes exactly the command-line
 * properties and a hot-removed one runs its DeviceType.destroy.
 */
#include "vtdnest/qmp-hotplug.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* A JSON scalar as the option-string text -device would have had. */
static char *scalar_text(JsonNode *n, const char *key, GError **errp)
{
    if (JSON_NODE_HOLDS_VALUE(n)) {
        GType t = json_node_get_value_type(n);

        if (t == G_TYPE_STRING) {
            return g_strdup(json_node_get_string(n));
        }
        if (t == G_TYPE_BOOLEAN) {
            return g_strdup(json_node_get_boolean(n) ? "on" : "off");
        }
        if (t == G_TYPE_INT64) {
            return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
        }
    }
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "Parameter '%s' expects a string, an integer or a boolean", key);
    return NULL;
}

/* A string member, or NULL when absent or not a string. */
static const char *string_member(JsonObject *obj, const char *key)
{
    JsonNode *n = obj ? json_object_get_member(obj, key) : NULL;

    if (!n || !JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_STRING) {
        return NULL;
    }
    return json_node_get_string(n);
}

JsonNode *qmp_cmd_device_add(Machine *m, JsonNode *args, void *opaque,
                             GError **errp)
{
    JsonObject *obj = args ? json_node_get_object(args) : NULL;
    const char *driver = string_member(obj, "driver");
    const DeviceType *type = driver ? device_type_find(driver) : NULL;
    g_autoptr(GList) members = NULL;
    DeviceOpts *opts;

    if (!driver) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter 'driver' is missing (a device model name)");
        return NULL;
    }
    /* Unknown names get machine_create_device's message below. The machine
     * is already built: an IOMMU or bridge added now would not be wired to
     * the devices that exist, so (as QEMU) only hotpluggable types come in. */
    if (type && !type->hotpluggable) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Device '%s' can not be hotplugged on this machine "
                    "(give it with -device at start-up)", driver);
        return NULL;
    }
    opts = opts_new(driver);
    members = json_object_get_members(obj);
    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        g_autofree char *text = NULL;

        if (!strcmp(key, "driver")) {
            continue;
        }
        text = scalar_text(json_object_get_member(obj, key), key, errp);
        if (!text) {
            opts_free(opts);
            return NULL;
        }
        opts_set(opts, key, text);
    }
    machine_create_device(m, opts, errp);
    opts_free(opts);
    return NULL;
}

JsonNode *qmp_cmd_device_del(Machine *m, JsonNode *args, void *opaque,
                             GError **errp)
{
    JsonObject *obj = args ? json_node_get_object(args) : NULL;
    const char *id = string_member(obj, "id");
    JsonObject *data;
    JsonNode *node;
    g_autofree char *path = NULL;

    if (!id) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter 'id' is missing (a string)");
        return NULL;
    }
    if (!machine_device_driver(m, id)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id);
        return NULL;
    }
    if (!machine_destroy_device(m, id, errp)) {
        return NULL;
    }
    /* No guest to eject it: the unplug completes now. */
    path = g_strdup_printf("/machine/peripheral/%s", id);
    data = json_object_new();
    json_object_set_string_member(data, "device", id);
    json_object_set_string_member(data, "path", path);
    node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, data);
    qmp_emit_event("DEVICE_DELETED", node);
    return NULL;
}
