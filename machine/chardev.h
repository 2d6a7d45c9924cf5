/*
 * Character backends for the control servers (private to machine/).
 *
 * A Chardev is one byte stream: stdio, a unix socket we connected to, or a
 * unix socket server that serves one client at a time (further clients wait
 * in the listen backlog, as with QEMU). The backend splits input into lines
 * and hands each one to a single frontend (qtest or a QMP monitor).
 */
#ifndef VTDNEST_MACHINE_CHARDEV_H
#define VTDNEST_MACHINE_CHARDEV_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct Chardev Chardev;

/* Error domain for the chardev, qtest and -mon option errors (code 0). */
#define SERVERS_ERROR (servers_error_quark())
GQuark servers_error_quark(void);

typedef struct ChardevFrontend {
    /* A client is there (at attach time if it already was). */
    void (*opened)(void *opaque);
    /* One input line without its "\n" (and without a trailing "\r").
     * line[len] is NUL, but the line itself may contain NUL bytes. */
    void (*line)(void *opaque, const char *line, size_t len);
    /* A line longer than the frontend's limit was dropped whole. */
    void (*overlong)(void *opaque, size_t limit);
    /* The client went away (EOF, error, or hang-up). */
    void (*closed)(void *opaque);
} ChardevFrontend;

/* The chardev registered by -chardev ...,id=ID, or NULL. */
Chardev *chardev_find(const char *id);

/*
 * Open an anonymous backend from a -qtest / -qmp argument:
 * "stdio", "unix:PATH[,server[=on|off]][,wait[=on|off]][,nowait]" or
 * "chardev:ID" (an existing -chardev). unix: without server is a client
 * that connects to PATH now; server mode with wait=on blocks until a client
 * connects (QEMU's default for server=on).
 */
Chardev *chardev_open_spec(const char *spec, const char *label, GError **errp);

/* Bind the frontend. One frontend per chardev. Lines longer than max_line
 * bytes are dropped and reported through overlong(). */
bool chardev_attach(Chardev *c, const ChardevFrontend *fe, void *opaque,
                    size_t max_line, GError **errp);

/* Queue bytes for the connected client; dropped when nobody is connected. */
void chardev_write(Chardev *c, const char *buf, size_t len);
bool chardev_connected(const Chardev *c);
/* True when a closed client can be followed by a new one (socket server). */
bool chardev_accepts_reconnect(const Chardev *c);
/* True for the stdio backend (whose EOF means the user is gone). */
bool chardev_is_stdio(const Chardev *c);

/* Push out whatever is still queued, waiting at most timeout_ms overall. */
void chardev_flush_all(int timeout_ms);

#endif
