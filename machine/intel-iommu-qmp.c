/*
 * QMP commands for the VT-d unit's saved state. The blob format belongs to
 * hw/intel-iommu/vtd-state.c; here it only travels as base64 in JSON.
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "machine/intel-iommu-qmp.h"
#include "vtdnest/servers.h"

/* Registry key of the unit (a type of its own: no clash with user ids). */
#define VTD_QMP_ID      "intel-iommu"
#define VTD_QMP_TYPE    "x-vtdnest-vtd-state"

static VtdState *vtd_qmp_unit(Machine *m, GError **errp)
{
    VtdState *s = machine_find_object(m, VTD_QMP_ID, VTD_QMP_TYPE);

    if (!s) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_DEVICE_NOT_FOUND,
                    "No intel-iommu device is present");
    }
    return s;
}

/* Only the listed member is accepted, as QEMU's QAPI checks. */
static bool vtd_qmp_check_args(JsonNode *args, const char *allowed,
                               GError **errp)
{
    JsonObject *o = args && JSON_NODE_HOLDS_OBJECT(args) ?
                    json_node_get_object(args) : NULL;
    g_autoptr(GList) members = o ? json_object_get_members(o) : NULL;

    for (GList *l = members; l; l = l->next) {
        if (!allowed || strcmp(l->data, allowed) != 0) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Parameter '%s' is unexpected", (const char *)l->data);
            return false;
        }
    }
    return true;
}

/* Strict base64: g_base64_decode() would skip stray characters silently. */
static bool vtd_qmp_is_base64(const char *s)
{
    size_t len = strlen(s), pad = 0;

    if (len % 4) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == '=') {
            if (i < len - 2) {
                return false;
            }
            pad++;
        } else if (pad || !(g_ascii_isalnum(c) || c == '+' || c == '/')) {
            return false;
        }
    }
    return true;
}

static JsonNode *cmd_save_state(Machine *m, JsonNode *args, void *opaque,
                                GError **errp)
{
    VtdState *s = vtd_qmp_unit(m, errp);
    g_autoptr(GByteArray) blob = NULL;
    g_autofree char *b64 = NULL;
    JsonObject *o;
    JsonNode *n;

    (void)opaque;
    if (!s || !vtd_qmp_check_args(args, NULL, errp)) {
        return NULL;
    }
    blob = g_byte_array_new();
    if (!vtd_state_save(s, blob)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "intel-iommu: saving the state failed");
        return NULL;
    }
    b64 = g_base64_encode(blob->data, blob->len);
    o = json_object_new();
    json_object_set_string_member(o, "data", b64);
    n = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(n, o);
    return n;
}

static JsonNode *cmd_load_state(Machine *m, JsonNode *args, void *opaque,
                                GError **errp)
{
    VtdState *s = vtd_qmp_unit(m, errp);
    JsonObject *o;
    JsonNode *data;
    const char *b64;
    g_autofree guchar *blob = NULL;
    gsize len = 0;

    (void)opaque;
    if (!s || !vtd_qmp_check_args(args, "data", errp)) {
        return NULL;
    }
    o = args && JSON_NODE_HOLDS_OBJECT(args) ? json_node_get_object(args) : NULL;
    data = o ? json_object_get_member(o, "data") : NULL;
    if (!data) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'data' is missing");
        return NULL;
    }
    if (!JSON_NODE_HOLDS_VALUE(data) ||
        json_node_get_value_type(data) != G_TYPE_STRING) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Invalid parameter type for 'data', expected: string");
        return NULL;
    }
    b64 = json_node_get_string(data);
    if (!vtd_qmp_is_base64(b64)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'data' is not valid base64");
        return NULL;
    }
    blob = g_base64_decode(b64, &len);
    if (!vtd_state_load(s, blob, len, errp)) {
        return NULL;
    }
    return NULL;    /* {} */
}

static void vtd_qmp_disconnect(void *opaque)
{
    Machine *m = opaque;

    /* Removes only this registry type's entry: user ids live elsewhere. */
    if (machine_find_object(m, VTD_QMP_ID, VTD_QMP_TYPE)) {
        machine_add_object(m, VTD_QMP_ID, VTD_QMP_TYPE, NULL);
    }
}

void intel_iommu_qmp_connect(Machine *m, VtdState *vtd)
{
    static bool registered;

    if (!registered) {
        qmp_register_command("x-vtdnest-save-state", cmd_save_state, NULL);
        qmp_register_command("x-vtdnest-load-state", cmd_load_state, NULL);
        registered = true;
    }
    machine_add_object(m, VTD_QMP_ID, VTD_QMP_TYPE, vtd);
    machine_register_cleanup(m, vtd_qmp_disconnect, m);
}
