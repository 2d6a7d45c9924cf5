/*
 * libqtest additions (see libqtest-extra.h). libqtest picks its binary from
 * $VTDNEST_BINARY; starting another binary is that lookup with a different
 * value for the duration of the start, nothing more.
 */
#include "libqtest-extra.h"

#include <glib.h>
#include <stdlib.h>

QTestState *qtest_init_with_binary(const char *binary, const char *args,
                                   char **err_out)
{
    g_autofree char *saved = g_strdup(getenv("VTDNEST_BINARY"));
    QTestState *s;

    setenv("VTDNEST_BINARY", binary, 1);
    s = qtest_try_init(args, err_out);
    if (saved) {
        setenv("VTDNEST_BINARY", saved, 1);
    } else {
        unsetenv("VTDNEST_BINARY");
    }
    return s;
}

void qtest_quit_with_qmp(QTestState *s)
{
    g_autofree char *err = NULL;
    g_autofree char *ret = NULL;

    if (!s) {
        return;
    }
    ret = qtest_qmp(s, "{\"execute\": \"quit\"}", &err);
    qtest_quit(s);
}
