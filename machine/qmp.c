/*
 * QMP: the JSON control monitor, with QEMU's greeting, capabilities
 * negotiation, error classes and messages, so that QMP clients written for
 * QEMU (qmp-shell, python qemu.qmp, libqtest) work unchanged.
 *
 * Input is a stream of JSON values; a value may span lines and a line may
 * hold several values. Replies go out one per line, compact, with QEMU's
 * spacing ({"return": {}}). Events raised while a command runs are sent
 * after that command's reply (QEMU's ordering for system_reset and quit).
 * Also here: servers_run(), the main loop shared with the qtest server.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <json-glib/json-glib.h>

#include "machine/chardev.h"
#include "vtdnest/qmp-hotplug.h"
#include "vtdnest/servers.h"

#ifndef VTDNEST_VERSION_MAJOR
#define VTDNEST_VERSION_MAJOR 0
#define VTDNEST_VERSION_MINOR 1
#define VTDNEST_VERSION_MICRO 0
#endif

#define QMP_MAX_MESSAGE   (4u << 20)  /* bytes in one JSON value */
#define QMP_MAX_NESTING   1024        /* QEMU's parser limit too */

typedef struct QmpMonitor {
    Machine *m;
    Chardev *chr;
    bool negotiated;
    /* Splitter state for the JSON value being collected. */
    GString *value;
    int depth;
    bool in_string, escape, in_scalar, skip_line;
} QmpMonitor;

typedef struct QmpCommand {
    QmpCommandFn fn;
    void *opaque;
} QmpCommand;

static GPtrArray *monitors;        /* QmpMonitor* */
static GHashTable *qmp_commands;   /* name -> QmpCommand */
static int dispatch_depth;         /* > 0 while a command runs */
static GPtrArray *deferred_events; /* serialized events waiting for a reply */

G_DEFINE_QUARK(vtdnest-qmp-error-quark, qmp_error)

static const char *const qmp_error_class_names[] = {
    [QMP_ERROR_GENERIC] = "GenericError",
    [QMP_ERROR_COMMAND_NOT_FOUND] = "CommandNotFound",
    [QMP_ERROR_DEVICE_NOT_FOUND] = "DeviceNotFound",
    [QMP_ERROR_DEVICE_NOT_ACTIVE] = "DeviceNotActive",
};

/* ---- JSON output with QEMU's spacing ----------------------------------- */

static void json_append_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':  g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\b': g_string_append(out, "\\b"); break;
        case '\f': g_string_append(out, "\\f"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                g_string_append_printf(out, "\\u%04x", *p);
            } else {
                g_string_append_c(out, (char)*p);
            }
        }
    }
    g_string_append_c(out, '"');
}

static void json_append(GString *out, JsonNode *node)
{
    switch (node ? json_node_get_node_type(node) : JSON_NODE_NULL) {
    case JSON_NODE_OBJECT: {
        JsonObject *obj = json_node_get_object(node);
        g_autoptr(GList) members = json_object_get_members(obj);
        bool first = true;

        g_string_append_c(out, '{');
        for (GList *l = members; l; l = l->next) {
            if (!first) {
                g_string_append(out, ", ");
            }
            first = false;
            json_append_string(out, l->data);
            g_string_append(out, ": ");
            json_append(out, json_object_get_member(obj, l->data));
        }
        g_string_append_c(out, '}');
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);
        guint n = json_array_get_length(arr);

        g_string_append_c(out, '[');
        for (guint i = 0; i < n; i++) {
            if (i) {
                g_string_append(out, ", ");
            }
            json_append(out, json_array_get_element(arr, i));
        }
        g_string_append_c(out, ']');
        break;
    }
    case JSON_NODE_VALUE: {
        GType t = json_node_get_value_type(node);

        if (t == G_TYPE_BOOLEAN) {
            g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
        } else if (t == G_TYPE_DOUBLE) {
            char buf[G_ASCII_DTOSTR_BUF_SIZE];
            double d = json_node_get_double(node);

            /* JSON has no inf/nan (an echoed "id": 1e999 parses to inf). */
            if (!isfinite(d)) {
                g_string_append(out, "null");
                break;
            }
            g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.17g", d));
        } else if (t == G_TYPE_STRING) {
            json_append_string(out, json_node_get_string(node));
        } else {
            g_string_append_printf(out, "%" G_GINT64_FORMAT,
                                   json_node_get_int(node));
        }
        break;
    }
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    }
}

static char *json_to_line(JsonNode *node)
{
    GString *s = g_string_new(NULL);

    json_append(s, node);
    g_string_append_c(s, '\n');
    return g_string_free(s, FALSE);
}

static JsonNode *node_from_object(JsonObject *obj)
{
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(n, obj);
    return n;
}

/* ---- sending ----------------------------------------------------------- */

static void monitor_send_line(QmpMonitor *mon, const char *line)
{
    chardev_write(mon->chr, line, strlen(line));
}

static void monitor_send(QmpMonitor *mon, JsonNode *msg)
{
    g_autofree char *line = json_to_line(msg);

    monitor_send_line(mon, line);
}

/* Events only go to clients past capabilities negotiation, as in QEMU. */
static void broadcast_event_line(const char *line)
{
    for (guint i = 0; monitors && i < monitors->len; i++) {
        QmpMonitor *mon = g_ptr_array_index(monitors, i);

        if (mon->negotiated && chardev_connected(mon->chr)) {
            monitor_send_line(mon, line);
        }
    }
}

void qmp_emit_event(const char *name, JsonNode *data)
{
    JsonObject *ev = json_object_new();
    JsonObject *ts = json_object_new();
    g_autoptr(JsonNode) node = NULL;
    gint64 now = g_get_real_time();
    char *line;

    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    json_object_set_object_member(ev, "timestamp", ts);
    json_object_set_string_member(ev, "event", name);
    if (data) {
        json_object_set_member(ev, "data", data);  /* takes our reference */
    }
    node = node_from_object(ev);
    line = json_to_line(node);
    if (dispatch_depth > 0) {
        if (!deferred_events) {
            deferred_events = g_ptr_array_new_with_free_func(g_free);
        }
        g_ptr_array_add(deferred_events, line);
        return;
    }
    broadcast_event_line(line);
    g_free(line);
}

static void flush_deferred_events(void)
{
    if (!deferred_events) {
        return;
    }
    for (guint i = 0; i < deferred_events->len; i++) {
        broadcast_event_line(g_ptr_array_index(deferred_events, i));
    }
    g_ptr_array_set_size(deferred_events, 0);
}

static void send_error(QmpMonitor *mon, const char *klass, const char *desc,
                       JsonNode *id)
{
    JsonObject *err = json_object_new();
    JsonObject *rsp = json_object_new();
    g_autoptr(JsonNode) node = NULL;

    json_object_set_string_member(err, "class", klass);
    json_object_set_string_member(err, "desc", desc);
    json_object_set_object_member(rsp, "error", err);
    if (id) {
        json_object_set_member(rsp, "id", json_node_copy(id));
    }
    node = node_from_object(rsp);
    monitor_send(mon, node);
}

static void send_gerror(QmpMonitor *mon, const GError *error, JsonNode *id)
{
    const char *klass = "GenericError";

    if (error->domain == QMP_ERROR && error->code >= 0 &&
        error->code < (int)G_N_ELEMENTS(qmp_error_class_names)) {
        klass = qmp_error_class_names[error->code];
    }
    send_error(mon, klass, error->message, id);
}

static void send_return(QmpMonitor *mon, JsonNode *ret, JsonNode *id)
{
    JsonObject *rsp = json_object_new();
    g_autoptr(JsonNode) node = NULL;

    json_object_set_member(rsp, "return",
                           ret ? ret : node_from_object(json_object_new()));
    if (id) {
        json_object_set_member(rsp, "id", json_node_copy(id));
    }
    node = node_from_object(rsp);
    monitor_send(mon, node);
}

/* ---- built-in commands ------------------------------------------------- */

/* Commands without parameters reject any, with QEMU's message. */
static bool no_arguments(JsonNode *args, GError **errp)
{
    JsonObject *obj = json_node_get_object(args);
    g_autoptr(GList) members = json_object_get_members(obj);

    if (members) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter '%s' is unexpected", (const char *)members->data);
        return false;
    }
    return true;
}

/* Whether "stop" paused the machine; otherwise not running means -S. */
static bool stopped_by_qmp;

static JsonNode *cmd_query_status(Machine *m, JsonNode *args, void *opaque,
                                  GError **errp)
{
    JsonObject *o;
    bool running = machine_is_running(m);

    if (!no_arguments(args, errp)) {
        return NULL;
    }
    o = json_object_new();
    json_object_set_boolean_member(o, "running", running);
    /* QEMU's names: -S starts in "prelaunch", "stop" gives "paused". */
    json_object_set_string_member(o, "status", running ? "running" :
                                  stopped_by_qmp ? "paused" : "prelaunch");
    return node_from_object(o);
}

static JsonNode *cmd_stop(Machine *m, JsonNode *args, void *opaque,
                          GError **errp)
{
    if (!no_arguments(args, errp)) {
        return NULL;
    }
    if (machine_is_running(m)) {
        machine_set_running(m, false);
        stopped_by_qmp = true;
        qmp_emit_event("STOP", NULL);
    }
    return NULL;
}

static JsonNode *cmd_cont(Machine *m, JsonNode *args, void *opaque,
                          GError **errp)
{
    if (!no_arguments(args, errp)) {
        return NULL;
    }
    if (!machine_is_running(m)) {
        machine_set_running(m, true);
        stopped_by_qmp = false;
        qmp_emit_event("RESUME", NULL);
    }
    return NULL;
}

static JsonNode *cmd_system_reset(Machine *m, JsonNode *args, void *opaque,
                                  GError **errp)
{
    JsonObject *data;

    if (!no_arguments(args, errp)) {
        return NULL;
    }
    machine_system_reset(m);
    data = json_object_new();
    json_object_set_boolean_member(data, "guest", false);
    json_object_set_string_member(data, "reason", "host-qmp-system-reset");
    qmp_emit_event("RESET", node_from_object(data));
    return NULL;
}

static JsonNode *cmd_quit(Machine *m, JsonNode *args, void *opaque,
                          GError **errp)
{
    JsonObject *data;

    if (!no_arguments(args, errp)) {
        return NULL;
    }
    data = json_object_new();
    json_object_set_boolean_member(data, "guest", false);
    json_object_set_string_member(data, "reason", "host-qmp-quit");
    qmp_emit_event("SHUTDOWN", node_from_object(data));
    machine_request_quit(m);
    return NULL;
}

static JsonNode *version_node(void)
{
    JsonObject *v = json_object_new();
    JsonObject *qemu = json_object_new();

    /* QEMU's layout; the numbers are vtdnest's own version. */
    json_object_set_int_member(qemu, "micro", VTDNEST_VERSION_MICRO);
    json_object_set_int_member(qemu, "minor", VTDNEST_VERSION_MINOR);
    json_object_set_int_member(qemu, "major", VTDNEST_VERSION_MAJOR);
    json_object_set_object_member(v, "qemu", qemu);
    json_object_set_string_member(v, "package", "vtdnest");
    return node_from_object(v);
}

static JsonNode *cmd_query_version(Machine *m, JsonNode *args, void *opaque,
                                   GError **errp)
{
    return no_arguments(args, errp) ? version_node() : NULL;
}

static JsonNode *cmd_query_commands(Machine *m, JsonNode *args, void *opaque,
                                    GError **errp)
{
    JsonArray *arr;
    JsonNode *node;
    g_autofree gpointer *names = NULL;
    guint n = 0;

    if (!no_arguments(args, errp)) {
        return NULL;
    }
    arr = json_array_new();
    names = g_hash_table_get_keys_as_array(qmp_commands, &n);
    for (guint i = 0; i < n; i++) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "name", names[i]);
        json_array_add_object_element(arr, o);
    }
    node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(node, arr);
    return node;
}

/* Negotiation is handled by the dispatcher; this entry only lists it. */
static JsonNode *cmd_qmp_capabilities(Machine *m, JsonNode *args, void *opaque,
                                      GError **errp)
{
    return NULL;
}

static void add_command(const char *name, QmpCommandFn fn, void *opaque)
{
    QmpCommand *c = g_new(QmpCommand, 1);

    c->fn = fn;
    c->opaque = opaque;
    g_hash_table_insert(qmp_commands, g_strdup(name), c);
}

static void qmp_commands_init(void)
{
    if (qmp_commands) {
        return;
    }
    qmp_commands = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    add_command("qmp_capabilities", cmd_qmp_capabilities, NULL);
    add_command("query-status", cmd_query_status, NULL);
    add_command("query-version", cmd_query_version, NULL);
    add_command("query-commands", cmd_query_commands, NULL);
    add_command("stop", cmd_stop, NULL);
    add_command("cont", cmd_cont, NULL);
    add_command("system_reset", cmd_system_reset, NULL);
    add_command("quit", cmd_quit, NULL);
    /* QEMU-named hotplug commands (machine/qmp-hotplug.c). */
    add_command("device_add", qmp_cmd_device_add, NULL);
    add_command("device_del", qmp_cmd_device_del, NULL);
}

void qmp_register_command(const char *name, QmpCommandFn fn, void *opaque)
{
    qmp_commands_init();
    /* Programming errors in the caller, not reachable from input. */
    g_assert(g_str_has_prefix(name, "x-vtdnest-"));
    g_assert(!g_hash_table_contains(qmp_commands, name));
    add_command(name, fn, opaque);
}

/* ---- dispatch ---------------------------------------------------------- */

/* qmp_capabilities {"enable": [...]}: we offer no capabilities. */
static void negotiate(QmpMonitor *mon, JsonObject *args, JsonNode *id)
{
    JsonNode *enable = args ? json_object_get_member(args, "enable") : NULL;
    g_autoptr(GList) members = args ? json_object_get_members(args) : NULL;

    for (GList *l = members; l; l = l->next) {
        if (strcmp(l->data, "enable") != 0) {
            g_autofree char *msg = g_strdup_printf("Parameter '%s' is unexpected",
                                                   (const char *)l->data);
            send_error(mon, "GenericError", msg, id);
            return;
        }
    }
    if (enable && !JSON_NODE_HOLDS_ARRAY(enable)) {
        send_error(mon, "GenericError",
                   "Invalid parameter type for 'enable', expected: array", id);
        return;
    }
    if (enable && json_array_get_length(json_node_get_array(enable)) > 0) {
        JsonNode *cap = json_array_get_element(json_node_get_array(enable), 0);
        const char *name = JSON_NODE_HOLDS_VALUE(cap) &&
                           json_node_get_value_type(cap) == G_TYPE_STRING ?
                           json_node_get_string(cap) : "?";
        g_autofree char *msg = g_strdup_printf("Capability %s not available",
                                               name);
        send_error(mon, "GenericError", msg, id);
        return;
    }
    mon->negotiated = true;
    send_return(mon, NULL, id);
}

/* QEMU's request checks: an object with a string 'execute', an optional
 * object 'arguments' and an optional 'id', nothing else. */
static const char *check_request(JsonObject *req, const char **bad)
{
    g_autoptr(GList) members = json_object_get_members(req);
    JsonNode *exec, *args;

    for (GList *l = members; l; l = l->next) {
        const char *k = l->data;

        if (strcmp(k, "execute") && strcmp(k, "arguments") && strcmp(k, "id")) {
            *bad = k;
            return "QMP input member '%s' is unexpected";
        }
    }
    exec = json_object_get_member(req, "execute");
    if (!exec) {
        return "QMP input lacks member 'execute'";
    }
    if (!JSON_NODE_HOLDS_VALUE(exec) ||
        json_node_get_value_type(exec) != G_TYPE_STRING) {
        *bad = "execute";
        return "QMP input member '%s' must be a string";
    }
    args = json_object_get_member(req, "arguments");
    if (args && !JSON_NODE_HOLDS_OBJECT(args)) {
        return "QMP input member 'arguments' must be an object";
    }
    return NULL;
}

static void dispatch_request(QmpMonitor *mon, JsonNode *root)
{
    JsonObject *req;
    JsonNode *id, *args;
    const char *name, *bad = NULL, *problem;
    QmpCommand *cmd;
    JsonNode *ret;
    GError *err = NULL;

    if (!JSON_NODE_HOLDS_OBJECT(root)) {
        send_error(mon, "GenericError", "QMP input must be a JSON object", NULL);
        return;
    }
    req = json_node_get_object(root);
    id = json_object_get_member(req, "id");
    problem = check_request(req, &bad);
    if (problem) {
        g_autofree char *msg = g_strdup_printf(problem, bad);

        send_error(mon, "GenericError", msg, id);
        return;
    }
    name = json_object_get_string_member(req, "execute");
    args = json_object_get_member(req, "arguments");

    if (!strcmp(name, "qmp_capabilities")) {
        if (mon->negotiated) {
            send_error(mon, "CommandNotFound", "Capabilities negotiation is "
                       "already complete, command ignored", id);
        } else {
            negotiate(mon, args ? json_node_get_object(args) : NULL, id);
        }
        return;
    }
    if (!mon->negotiated) {
        send_error(mon, "CommandNotFound",
                   "Expecting capabilities negotiation with 'qmp_capabilities'",
                   id);
        return;
    }
    cmd = g_hash_table_lookup(qmp_commands, name);
    if (!cmd) {
        g_autofree char *msg = g_strdup_printf("The command %s has not been "
                                               "found", name);

        send_error(mon, "CommandNotFound", msg, id);
        return;
    }

    dispatch_depth++;
    if (args) {
        ret = cmd->fn(mon->m, args, cmd->opaque, &err);
    } else {
        g_autoptr(JsonNode) empty = node_from_object(json_object_new());

        ret = cmd->fn(mon->m, empty, cmd->opaque, &err);
    }
    dispatch_depth--;
    if (err) {
        send_gerror(mon, err, id);
        g_error_free(err);
        if (ret) {
            json_node_unref(ret);
        }
    } else {
        send_return(mon, ret, id);
    }
    if (dispatch_depth == 0) {
        flush_deferred_events();
    }
}

/*
 * True when a string in the raw JSON text holds the escape \u0000. The
 * parser decodes it to a NUL that silently ends the C string, so
 * "quit\u0000x" would run quit; it is refused like a raw NUL byte.
 */
static bool has_nul_escape(const char *text, size_t len)
{
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            in_string = text[i] == '"';
        } else if (text[i] == '"') {
            in_string = false;
        } else if (text[i] == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && i + 5 < len &&
                memcmp(text + i + 2, "0000", 4) == 0) {
                return true;
            }
            i++; /* skip the escaped character */
        }
    }
    return false;
}

static void handle_value(QmpMonitor *mon, const char *text, size_t len)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    GError *err = NULL;

    if (has_nul_escape(text, len)) {
        send_error(mon, "GenericError",
                   "JSON parse error, \\u0000 is not supported", NULL);
        return;
    }
    if (!json_parser_load_from_data(parser, text, (gssize)len, &err)) {
        g_autofree char *msg = g_strdup_printf("JSON parse error, %s",
                                               err->message);

        send_error(mon, "GenericError", msg, NULL);
        g_error_free(err);
        return;
    }
    dispatch_request(mon, json_parser_get_root(parser));
}

/* ---- input splitting: one JSON value at a time ------------------------- */

static void splitter_reset(QmpMonitor *mon)
{
    g_string_truncate(mon->value, 0);
    mon->depth = 0;
    mon->in_string = mon->escape = mon->in_scalar = false;
}

/* A broken value: report it and ignore the rest of its line. */
static void splitter_error(QmpMonitor *mon, const char *desc, bool at_newline)
{
    g_autofree char *msg = g_strdup_printf("JSON parse error, %s", desc);

    splitter_reset(mon);
    mon->skip_line = !at_newline;
    send_error(mon, "GenericError", msg, NULL);
}

static void splitter_complete(QmpMonitor *mon)
{
    g_autofree char *text = g_strndup(mon->value->str, mon->value->len);
    size_t len = mon->value->len;

    splitter_reset(mon);
    handle_value(mon, text, len);
}

static void splitter_feed(QmpMonitor *mon, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];

        if (mon->skip_line) {
            mon->skip_line = ch != '\n';
            continue;
        }
        if (mon->value->len >= QMP_MAX_MESSAGE) {
            splitter_error(mon, "message too large", ch == '\n');
            continue;
        }
        if (mon->in_string) {
            g_string_append_c(mon->value, ch);
            if (mon->escape) {
                mon->escape = false;
            } else if (ch == '\\') {
                mon->escape = true;
            } else if (ch == '"') {
                mon->in_string = false;
            }
            continue;
        }
        if (mon->depth == 0) {
            bool blank = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
            bool structural = ch == '{' || ch == '[' || ch == '}' || ch == ']';

            if (mon->in_scalar && (blank || structural)) {
                /* A bare top-level token such as 42 or "x" or junk. */
                splitter_complete(mon);
            }
            if (blank) {
                continue;
            }
            if (ch == '}' || ch == ']') {
                g_autofree char *desc = g_strdup_printf("stray '%c'", ch);

                splitter_error(mon, desc, false);
                continue;
            }
            if (ch == '{' || ch == '[') {
                mon->depth = 1;
            } else {
                mon->in_scalar = true;
                mon->in_string = ch == '"';
            }
            g_string_append_c(mon->value, ch);
            continue;
        }
        g_string_append_c(mon->value, ch);
        if (ch == '"') {
            mon->in_string = true;
        } else if (ch == '{' || ch == '[') {
            if (++mon->depth > QMP_MAX_NESTING) {
                splitter_error(mon, "nesting too deep", false);
            }
        } else if (ch == '}' || ch == ']') {
            if (--mon->depth == 0) {
                splitter_complete(mon);
            }
        }
    }
}

/* ---- chardev frontend -------------------------------------------------- */

static void monitor_opened(void *opaque)
{
    QmpMonitor *mon = opaque;
    JsonObject *qmp = json_object_new();
    JsonObject *greeting = json_object_new();
    g_autoptr(JsonNode) node = NULL;

    mon->negotiated = false;
    mon->skip_line = false;
    splitter_reset(mon);
    json_object_set_member(qmp, "version", version_node());
    json_object_set_array_member(qmp, "capabilities", json_array_new());
    json_object_set_object_member(greeting, "QMP", qmp);
    node = node_from_object(greeting);
    monitor_send(mon, node);
}

static void monitor_line(void *opaque, const char *line, size_t len)
{
    QmpMonitor *mon = opaque;

    if (memchr(line, '\0', len)) {
        splitter_reset(mon);
        mon->skip_line = false;
        send_error(mon, "GenericError", "JSON parse error, NUL byte in input",
                   NULL);
        return;
    }
    splitter_feed(mon, line, len);
    splitter_feed(mon, "\n", 1);
}

static void monitor_overlong(void *opaque, size_t limit)
{
    QmpMonitor *mon = opaque;

    splitter_reset(mon);
    mon->skip_line = false;
    send_error(mon, "GenericError", "JSON parse error, message too large", NULL);
}

static void monitor_closed(void *opaque)
{
    QmpMonitor *mon = opaque;

    mon->negotiated = false;
    mon->skip_line = false;
    splitter_reset(mon);
    /* As with qtest stdio: no guest runs, so once stdin is gone the user
     * is too (printf ... | vtdnest -qmp stdio must terminate). */
    if (chardev_is_stdio(mon->chr)) {
        machine_request_quit(mon->m);
    }
}

static const ChardevFrontend monitor_frontend = {
    .opened = monitor_opened,
    .line = monitor_line,
    .overlong = monitor_overlong,
    .closed = monitor_closed,
};

static void monitor_free(gpointer p)
{
    QmpMonitor *mon = p;

    g_string_free(mon->value, TRUE);
    g_free(mon);
}

static void qmp_cleanup(void)
{
    g_clear_pointer(&monitors, g_ptr_array_unref);
    g_clear_pointer(&deferred_events, g_ptr_array_unref);
    g_clear_pointer(&qmp_commands, g_hash_table_destroy);
}

static bool monitor_start(Machine *m, Chardev *chr, GError **errp)
{
    QmpMonitor *mon = g_new0(QmpMonitor, 1);

    qmp_commands_init();
    if (!monitors) {
        monitors = g_ptr_array_new_with_free_func(monitor_free);
        /* Runs before the chardev cleanup registered earlier (LIFO). */
        atexit(qmp_cleanup);
    }
    mon->m = m;
    mon->chr = chr;
    mon->value = g_string_new(NULL);
    g_ptr_array_add(monitors, mon);
    if (!chardev_attach(chr, &monitor_frontend, mon, QMP_MAX_MESSAGE, errp)) {
        g_ptr_array_remove(monitors, mon);
        return false;
    }
    return true;
}

bool qmp_server_init(Machine *m, const char *spec, GError **errp)
{
    Chardev *chr = chardev_open_spec(spec, "qmp", errp);

    /* main.c names the option in front of any message. */
    return chr && monitor_start(m, chr, errp);
}

/* -mon [chardev=]ID[,mode=control][,pretty=off] */
bool qmp_monitor_init(Machine *m, const char *mon_opts, GError **errp)
{
    g_auto(GStrv) items = g_strsplit(mon_opts ? mon_opts : "", ",", -1);
    const char *id = NULL, *mode = NULL;
    Chardev *chr;

    for (int i = 0; items[i]; i++) {
        char *item = items[i];
        char *eq = strchr(item, '=');

        if (!*item) {
            continue;
        }
        if (!eq && i == 0) {
            id = item;
            continue;
        }
        if (!eq) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Invalid parameter '%s'", item);
            return false;
        }
        *eq = '\0';
        if (!strcmp(item, "chardev")) {
            id = eq + 1;
        } else if (!strcmp(item, "mode")) {
            mode = eq + 1;
        } else if (!strcmp(item, "pretty") &&
                   (!strcmp(eq + 1, "off") || !strcmp(eq + 1, "no"))) {
            /* compact output is what we produce anyway */
        } else {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Invalid parameter '%s=%s'", item,
                        eq + 1);
            return false;
        }
    }
    if (!id || !*id) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'chardev' is missing");
        return false;
    }
    if (!mode || strcmp(mode, "control") != 0) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "only mode=control (QMP) is supported; the human monitor "
                    "(mode=readline, QEMU's default) is not");
        return false;
    }
    chr = chardev_find(id);
    if (!chr) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Cannot find character device '%s'", id);
        return false;
    }
    return monitor_start(m, chr, errp);
}

/* ---- main loop --------------------------------------------------------- */

typedef struct SignalQuit {
    Machine *m;
    int signo;
} SignalQuit;

static gboolean on_quit_signal(gpointer opaque)
{
    SignalQuit *sq = opaque;
    JsonObject *data = json_object_new();

    fprintf(stderr, "vtdnest: terminating on signal %d\n", sq->signo);
    json_object_set_boolean_member(data, "guest", false);
    json_object_set_string_member(data, "reason", "host-signal");
    qmp_emit_event("SHUTDOWN", node_from_object(data));
    machine_request_quit(sq->m);
    return G_SOURCE_CONTINUE;
}

void servers_run(Machine *m)
{
    SignalQuit on_term = { m, SIGTERM }, on_int = { m, SIGINT },
               on_hup = { m, SIGHUP };
    guint watches[] = {
        g_unix_signal_add(SIGTERM, on_quit_signal, &on_term),
        g_unix_signal_add(SIGINT, on_quit_signal, &on_int),
        g_unix_signal_add(SIGHUP, on_quit_signal, &on_hup),
    };

    while (!machine_quit_requested(m)) {
        g_main_context_iteration(NULL, TRUE);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(watches); i++) {
        g_source_remove(watches[i]);
    }
    /* Replies such as quit's {"return": {}} must reach the client. */
    chardev_flush_all(1000);
}
