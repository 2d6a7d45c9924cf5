/*
 * Character backends and the two control servers of the reference machine:
 * the qtest text protocol (QEMU-compatible) and the QMP monitor (JSON).
 * Both run on a GLib main loop owned by main.c.
 */
#ifndef VTDNEST_SERVERS_H
#define VTDNEST_SERVERS_H

#include <glib.h>
#include <stdbool.h>

#include "vtdnest/machine.h"

/*
 * -chardev socket,id=ID,path=PATH,server=on,wait=off   (unix socket server)
 * -chardev stdio,id=ID
 * Registers the backend under ID for -mon chardev=ID / -qtest chardev:ID.
 */
bool chardev_create(const char *opts, GError **errp);

/*
 * -qtest SPEC where SPEC is "stdio", "unix:PATH[,server=on][,wait=off]" or
 * "chardev:ID". log_path (may be NULL) receives a copy of the traffic.
 */
bool qtest_server_init(Machine *m, const char *spec, const char *log_path,
                       GError **errp);

/* -qmp unix:PATH,server=on,wait=off | stdio ;  -mon chardev=ID[,mode=control] */
bool qmp_server_init(Machine *m, const char *spec, GError **errp);
bool qmp_monitor_init(Machine *m, const char *mon_opts, GError **errp);

/*
 * Extra qtest commands beyond QEMU's are registered here; every name must
 * start with "x-vtdnest-" so it cannot clash with a QEMU command.
 * The handler gets the split words (words[0] is the command) and returns
 * the full response line without the trailing newline ("OK ...", "FAIL ...").
 */
typedef char *(*QtestCommandFn)(Machine *m, char **words, void *opaque);
void qtest_register_command(const char *name, QtestCommandFn fn, void *opaque);

/* QMP commands beyond the built-in ones; names start with "x-vtdnest-". */
struct _JsonNode;
typedef struct _JsonNode *(*QmpCommandFn)(Machine *m, struct _JsonNode *args,
                                          void *opaque, GError **errp);
void qmp_register_command(const char *name, QmpCommandFn fn, void *opaque);
/* Emit an event to every QMP client ({"event": NAME, "data": ...}). */
void qmp_emit_event(const char *name, struct _JsonNode *data);

/* Run until quit is requested (QMP quit, qtest stream closed). */
void servers_run(Machine *m);

/* ---- Added by the servers module ----------------------------------------
 * Ownership: qmp_emit_event() takes the reference to data (which may be
 * NULL: no "data" member). A QmpCommandFn gets args as a borrowed JSON object
 * (empty when the request had none) and returns a new node, or NULL for {}.
 * Errors: any GError becomes class GenericError with its message as desc;
 * use QMP_ERROR with a QmpErrorClass code for QEMU's other classes.
 */
typedef enum QmpErrorClass {
    QMP_ERROR_GENERIC,
    QMP_ERROR_COMMAND_NOT_FOUND,
    QMP_ERROR_DEVICE_NOT_FOUND,
    QMP_ERROR_DEVICE_NOT_ACTIVE,
} QmpErrorClass;
#define QMP_ERROR (qmp_error_quark())
GQuark qmp_error_quark(void);

#endif
