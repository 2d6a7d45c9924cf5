/*
 * libqtest additions owned by the test-scenario engineer: start an arbitrary
 * QEMU-compatible binary (e.g. Debian's qemu-system-x86_64) with the same
 * socket-based qtest/QMP wiring libqtest uses for vtdnest.
 */
#ifndef LIBQTEST_EXTRA_H
#define LIBQTEST_EXTRA_H

#include "libqtest.h"

/* Start `binary` with libqtest's -qtest/-mon arguments plus `args`.
 * Returns NULL (and the error text in *err_out, may be NULL) on failure. */
QTestState *qtest_init_with_binary(const char *binary, const char *args,
                                   char **err_out);
/* QEMU keeps running when the qtest socket closes: ask it to quit over QMP
 * first, then reap it. */
void qtest_quit_with_qmp(QTestState *s);

#endif
