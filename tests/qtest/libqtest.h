/*
 * The project's own qtest client: starts build/vtdnest with a command line,
 * speaks the qtest text protocol on one unix socket and QMP on another,
 * exactly as a QEMU qtest would. Names follow QEMU's libqtest so that tests
 * written against QEMU read the same.
 */
#ifndef VTDNEST_LIBQTEST_H
#define VTDNEST_LIBQTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef struct QTestState QTestState;

/* Binary: $VTDNEST_BINARY, else $QTEST_QEMU_BINARY, else ./vtdnest next to
 * the test (meson passes the path through the environment). */
QTestState *qtest_init(const char *extra_args);
/* Like qtest_init, but returns NULL (and the stderr text) if start fails. */
QTestState *qtest_try_init(const char *extra_args, char **err_out);
void qtest_quit(QTestState *s);

/* Raw protocol: send a line, get the reply line (caller frees). */
char *qtest_command(QTestState *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

uint8_t qtest_readb(QTestState *s, uint64_t addr);
uint16_t qtest_readw(QTestState *s, uint64_t addr);
uint32_t qtest_readl(QTestState *s, uint64_t addr);
uint64_t qtest_readq(QTestState *s, uint64_t addr);
void qtest_writeb(QTestState *s, uint64_t addr, uint8_t v);
void qtest_writew(QTestState *s, uint64_t addr, uint16_t v);
void qtest_writel(QTestState *s, uint64_t addr, uint32_t v);
void qtest_writeq(QTestState *s, uint64_t addr, uint64_t v);
void qtest_memread(QTestState *s, uint64_t addr, void *buf, size_t len);
void qtest_memwrite(QTestState *s, uint64_t addr, const void *buf, size_t len);
void qtest_bufread(QTestState *s, uint64_t addr, void *buf, size_t len);  /* b64 */
void qtest_bufwrite(QTestState *s, uint64_t addr, const void *buf, size_t len);
void qtest_memset(QTestState *s, uint64_t addr, uint8_t pattern, size_t len);
uint8_t qtest_inb(QTestState *s, uint16_t port);
uint16_t qtest_inw(QTestState *s, uint16_t port);
uint32_t qtest_inl(QTestState *s, uint16_t port);
void qtest_outb(QTestState *s, uint16_t port, uint8_t v);
void qtest_outw(QTestState *s, uint16_t port, uint16_t v);
void qtest_outl(QTestState *s, uint16_t port, uint32_t v);
int64_t qtest_clock_step(QTestState *s, int64_t ns); /* ns < 0: to next deadline */
int64_t qtest_clock_set(QTestState *s, int64_t ns);

/* QMP: returns the "return" member serialized as JSON text (caller frees),
 * or NULL with *err set to the error description. Events are queued. */
char *qtest_qmp(QTestState *s, const char *json, char **err);
/* Wait for an event by name (consumes queued ones first); returns its JSON. */
char *qtest_qmp_eventwait(QTestState *s, const char *event);

/* PCI config helpers over 0xcf8/0xcfc. */
uint32_t qtest_pci_cfg_read(QTestState *s, uint8_t bus, uint8_t devfn,
                            uint8_t off, unsigned len);
void qtest_pci_cfg_write(QTestState *s, uint8_t bus, uint8_t devfn,
                         uint8_t off, uint32_t v, unsigned len);
/* Find a device by vendor/device on bus 0..255 (-1 if absent). */
int qtest_pci_find(QTestState *s, uint16_t vendor, uint16_t device,
                   uint8_t *bus, uint8_t *devfn);
/* Program BAR n at addr, enable memory + bus master. */
void qtest_pci_map_bar(QTestState *s, uint8_t bus, uint8_t devfn, int bar,
                       uint64_t addr);

/* ---- Added by the servers module ----------------------------------------
 * Failures: a protocol error (a FAIL reply to a typed accessor, a dead
 * connection, no reply within $VTDNEST_QTEST_TIMEOUT seconds, default 60)
 * fails the current cmocka test with vtdnest's stderr. qtest_qmp() with
 * err == NULL fails the test on an error reply. qtest_quit() fails the test
 * when vtdnest does not exit with status 0 (crash, sanitizer report).
 */
/* Like qtest_try_init; *exit_status gets vtdnest's exit code (128+N for a
 * signal, -1 if it did not exit) when the start fails. */
QTestState *qtest_try_init_with_status(const char *extra_args, char **err_out,
                                       int *exit_status);
/* Stop vtdnest (close its qtest stream, then SIGKILL after the timeout) and
 * return its exit status without failing the test. Frees s. */
int qtest_quit_status(QTestState *s);
/* What vtdnest wrote to stdout/stderr so far (caller frees). */
char *qtest_stderr(QTestState *s);
/* QMP: send text verbatim (a newline is added when missing) and return the
 * next non-event message as compact JSON text (caller frees). */
char *qtest_qmp_raw(QTestState *s, const char *text);
/* Raw qtest stream access, for partial lines and pipelining: send bytes
 * as they are; read the next reply line without its "\n" (caller frees). */
void qtest_send_raw(QTestState *s, const void *buf, size_t len);
char *qtest_recv_line(QTestState *s);
/* The greeting line vtdnest sent on the QMP connection. */
const char *qtest_qmp_greeting(QTestState *s);

#endif
