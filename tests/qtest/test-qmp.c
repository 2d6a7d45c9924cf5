/*
 * The QMP monitor as a client sees it: greeting, capabilities negotiation,
 * the built-in commands, events, QEMU's error classes and messages, and
 * malformed input that must be answered while the monitor keeps serving.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "libqtest.h"

/* ---- JSON helpers ------------------------------------------------------- */

static JsonNode *parse(const char *text)
{
    g_autoptr(JsonParser) p = json_parser_new();

    if (!json_parser_load_from_data(p, text, -1, NULL)) {
        print_error("not JSON: %s\n", text);
        fail();
    }
    return json_node_copy(json_parser_get_root(p));
}

/* The node at a dotted path of object members, or NULL. */
static JsonNode *member(JsonNode *node, const char *path)
{
    g_auto(GStrv) keys = g_strsplit(path, ".", -1);

    for (int i = 0; keys[i] && node; i++) {
        if (!JSON_NODE_HOLDS_OBJECT(node)) {
            return NULL;
        }
        node = json_object_get_member(json_node_get_object(node), keys[i]);
    }
    return node;
}

static const char *str_at(JsonNode *node, const char *path)
{
    JsonNode *n = member(node, path);

    assert_non_null(n);
    assert_int_equal(json_node_get_value_type(n), G_TYPE_STRING);
    return json_node_get_string(n);
}

static gint64 int_at(JsonNode *node, const char *path)
{
    JsonNode *n = member(node, path);

    assert_non_null(n);
    assert_int_equal(json_node_get_value_type(n), G_TYPE_INT64);
    return json_node_get_int(n);
}

static bool bool_at(JsonNode *node, const char *path)
{
    JsonNode *n = member(node, path);

    assert_non_null(n);
    assert_int_equal(json_node_get_value_type(n), G_TYPE_BOOLEAN);
    return json_node_get_boolean(n);
}

/* reply must be {"error": {"class": klass, "desc": desc...}}. */
static void check_error(const char *reply, const char *klass,
                        const char *desc_prefix)
{
    g_autoptr(JsonNode) r = parse(reply);

    assert_null(member(r, "return"));
    assert_string_equal(str_at(r, "error.class"), klass);
    if (!g_str_has_prefix(str_at(r, "error.desc"), desc_prefix)) {
        print_error("desc '%s' does not start with '%s'\n",
                    str_at(r, "error.desc"), desc_prefix);
        fail();
    }
}

/* ---- a raw client for an extra -qmp server socket ------------------------ */

typedef struct RawMon {
    int fd;
    GString *rx;
} RawMon;

static RawMon *raw_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    RawMon *r = g_new0(RawMon, 1);

    r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(r->fd >= 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    /* The server socket exists before vtdnest connects to libqtest. */
    assert_int_equal(connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    r->rx = g_string_new(NULL);
    return r;
}

static void raw_close(RawMon *r)
{
    close(r->fd);
    g_string_free(r->rx, TRUE);
    g_free(r);
}

static void raw_send(RawMon *r, const char *text)
{
    size_t len = strlen(text);

    assert_int_equal(send(r->fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
    assert_int_equal(send(r->fd, "\n", 1, MSG_NOSIGNAL), 1);
}

static char *raw_recv(RawMon *r)
{
    for (;;) {
        char *nl = memchr(r->rx->str, '\n', r->rx->len);
        char buf[4096];
        struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
        ssize_t n;

        if (nl) {
            char *line = g_strndup(r->rx->str, (gsize)(nl - r->rx->str));

            g_string_erase(r->rx, 0, nl - r->rx->str + 1);
            return line;
        }
        /* A hang guard only: 60 s without a reply is a failure. */
        assert_int_equal(poll(&pfd, 1, 60000), 1);
        n = recv(r->fd, buf, sizeof(buf), 0);
        assert_true(n > 0);
        g_string_append_len(r->rx, buf, n);
    }
}

/* ---- shared machine ------------------------------------------------------ */

static QTestState *qts;
static char *tmpdir, *server_path, *legacy_path;

static int start_machine(void **state)
{
    g_autofree char *args = NULL;

    tmpdir = g_dir_make_tmp("vtdnest-qmp-XXXXXX", NULL);
    server_path = g_build_filename(tmpdir, "qmp.sock", NULL);
    legacy_path = g_build_filename(tmpdir, "legacy.sock", NULL);
    args = g_strdup_printf("-m 64M -qmp unix:%s,server=on,wait=off "
                           "-qmp unix:%s,server,nowait", server_path,
                           legacy_path);
    qts = qtest_init(args);
    return 0;
}

static int stop_machine(void **state)
{
    qtest_quit(qts);
    /* vtdnest removes its server sockets when it exits, as QEMU does. */
    assert_false(g_file_test(server_path, G_FILE_TEST_EXISTS));
    g_rmdir(tmpdir);
    g_free(tmpdir);
    g_free(server_path);
    g_free(legacy_path);
    return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void check_greeting(const char *text)
{
    g_autoptr(JsonNode) g = parse(text);
    JsonNode *caps = member(g, "QMP.capabilities");

    int_at(g, "QMP.version.qemu.major");
    int_at(g, "QMP.version.qemu.minor");
    int_at(g, "QMP.version.qemu.micro");
    str_at(g, "QMP.version.package");
    assert_non_null(caps);
    assert_true(JSON_NODE_HOLDS_ARRAY(caps));
    assert_int_equal(json_array_get_length(json_node_get_array(caps)), 0);
}

static void test_greeting(void **state)
{
    check_greeting(qtest_qmp_greeting(qts));
}

static void test_negotiation(void **state)
{
    RawMon *r = raw_connect(server_path);
    g_autofree char *greeting = raw_recv(r);
    char *reply;

    check_greeting(greeting);
    /* Nothing but qmp_capabilities before negotiation; ids are echoed. */
    raw_send(r, "{\"execute\": \"query-status\", \"id\": 7}");
    reply = raw_recv(r);
    check_error(reply, "CommandNotFound",
                "Expecting capabilities negotiation with 'qmp_capabilities'");
    {
        g_autoptr(JsonNode) n = parse(reply);
        assert_int_equal(int_at(n, "id"), 7);
    }
    g_free(reply);

    /* No capability is offered, so none can be enabled. */
    raw_send(r, "{\"execute\": \"qmp_capabilities\", "
                "\"arguments\": {\"enable\": [\"oob\"]}}");
    reply = raw_recv(r);
    check_error(reply, "GenericError", "Capability oob not available");
    g_free(reply);

    raw_send(r, "{\"execute\": \"qmp_capabilities\", \"id\": \"neg\"}");
    reply = raw_recv(r);
    {
        g_autoptr(JsonNode) n = parse(reply);

        assert_true(JSON_NODE_HOLDS_OBJECT(member(n, "return")));
        assert_int_equal(json_object_get_size(
                             json_node_get_object(member(n, "return"))), 0);
        assert_string_equal(str_at(n, "id"), "neg");
    }
    g_free(reply);

    raw_send(r, "{\"execute\": \"qmp_capabilities\"}");
    reply = raw_recv(r);
    check_error(reply, "CommandNotFound",
                "Capabilities negotiation is already complete, command ignored");
    g_free(reply);

    raw_send(r, "{\"execute\": \"query-status\"}");
    reply = raw_recv(r);
    {
        g_autoptr(JsonNode) n = parse(reply);
        assert_true(bool_at(n, "return.running"));
    }
    g_free(reply);
    raw_close(r);

    /* The server takes the next client, which starts negotiation afresh. */
    r = raw_connect(server_path);
    g_free(raw_recv(r));
    raw_send(r, "{\"execute\": \"query-status\"}");
    reply = raw_recv(r);
    check_error(reply, "CommandNotFound", "Expecting capabilities negotiation");
    g_free(reply);
    raw_close(r);
}

static void test_legacy_server_syntax(void **state)
{
    /* "-qmp unix:PATH,server,nowait" is QEMU's older spelling. */
    RawMon *r = raw_connect(legacy_path);
    g_autofree char *greeting = raw_recv(r);

    check_greeting(greeting);
    raw_close(r);
}

static void test_query_status(void **state)
{
    g_autofree char *ret = qtest_qmp(qts, "{\"execute\": \"query-status\"}", NULL);
    g_autoptr(JsonNode) n = parse(ret);

    assert_true(bool_at(n, "running"));
    assert_string_equal(str_at(n, "status"), "running");
}

static void test_stop_cont(void **state)
{
    g_autofree char *stopped = NULL;
    g_autofree char *ev = NULL;
    g_autoptr(JsonNode) n = NULL;

    g_free(qtest_qmp(qts, "{\"execute\": \"stop\"}", NULL));
    ev = qtest_qmp_eventwait(qts, "STOP");
    stopped = qtest_qmp(qts, "{\"execute\": \"query-status\"}", NULL);
    n = parse(stopped);
    assert_false(bool_at(n, "running"));
    assert_string_equal(str_at(n, "status"), "paused");
    g_free(ev);
    g_free(qtest_qmp(qts, "{\"execute\": \"cont\"}", NULL));
    ev = qtest_qmp_eventwait(qts, "RESUME");
    g_free(stopped);
    stopped = qtest_qmp(qts, "{\"execute\": \"query-status\"}", NULL);
    json_node_unref(n);
    n = parse(stopped);
    assert_true(bool_at(n, "running"));
}

static void test_system_reset_event(void **state)
{
    RawMon *idle = raw_connect(server_path);   /* connected, not negotiated */
    g_autofree char *greeting = raw_recv(idle);
    g_autofree char *reply = NULL;
    g_autofree char *ev = NULL;
    g_autofree char *first = NULL;
    g_autoptr(JsonNode) r = NULL;
    g_autoptr(JsonNode) e = NULL;
    gint64 us;

    assert_non_null(strstr(greeting, "\"QMP\""));
    /* The reply comes first, then the event (QEMU's order). */
    reply = qtest_qmp_raw(qts, "{\"execute\": \"system_reset\", \"id\": 1}");
    r = parse(reply);
    assert_non_null(member(r, "return"));
    assert_int_equal(int_at(r, "id"), 1);

    ev = qtest_qmp_eventwait(qts, "RESET");
    e = parse(ev);
    assert_string_equal(str_at(e, "event"), "RESET");
    assert_false(bool_at(e, "data.guest"));
    assert_string_equal(str_at(e, "data.reason"), "host-qmp-system-reset");
    assert_true(int_at(e, "timestamp.seconds") > 0);
    us = int_at(e, "timestamp.microseconds");
    assert_true(us >= 0 && us < 1000000);

    /* A client still negotiating gets no events: its next message is the
     * reply to its own command. */
    raw_send(idle, "{\"execute\": \"query-status\"}");
    first = raw_recv(idle);
    check_error(first, "CommandNotFound", "Expecting capabilities negotiation");
    raw_close(idle);

    /* The machine still works after the reset. */
    qtest_writel(qts, 0x1000, 0x5a5a);
    assert_int_equal(qtest_readl(qts, 0x1000), 0x5a5a);
}

static void test_unknown_command(void **state)
{
    g_autofree char *reply = qtest_qmp_raw(qts,
        "{\"execute\": \"x-no-such-command\", \"id\": {\"a\": [1, 2]}}");
    g_autoptr(JsonNode) r = parse(reply);
    g_autofree char *err = NULL;

    check_error(reply, "CommandNotFound",
                "The command x-no-such-command has not been found");
    /* Any JSON value works as an id and comes back unchanged. */
    assert_true(JSON_NODE_HOLDS_ARRAY(member(r, "id.a")));
    assert_null(qtest_qmp(qts, "{\"execute\": \"nope\"}", &err));
    assert_string_equal(err, "The command nope has not been found");
}

static void test_device_add_only_hotpluggable(void **state)
{
    static const char *const fixed[] = { "intel-iommu", "pci-bridge" };

    for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++) {
        g_autofree char *cmd = g_strdup_printf(
            "{\"execute\": \"device_add\", \"arguments\": "
            "{\"driver\": \"%s\", \"id\": \"hp%zu\"}}", fixed[i], i);
        g_autofree char *err = NULL;

        assert_null(qtest_qmp(qts, cmd, &err));
        assert_non_null(strstr(err, "can not be hotplugged"));
    }
    /* A hotpluggable model still comes and goes. */
    g_free(qtest_qmp(qts, "{\"execute\": \"device_add\", \"arguments\": "
                     "{\"driver\": \"edu\", \"id\": \"hpe\"}}", NULL));
    g_free(qtest_qmp(qts, "{\"execute\": \"device_del\", \"arguments\": "
                     "{\"id\": \"hpe\"}}", NULL));
    g_free(qtest_qmp_eventwait(qts, "DEVICE_DELETED"));
}

static void test_bad_requests(void **state)
{
    static const struct { const char *in, *klass, *desc; } cases[] = {
        { "{\"execute\": }", "GenericError", "JSON parse error" },
        { "hello", "GenericError", "JSON parse error" },
        { "}", "GenericError", "JSON parse error" },
        { "[1, 2]", "GenericError", "QMP input must be a JSON object" },
        { "42", "GenericError", "QMP input must be a JSON object" },
        { "\"text\"", "GenericError", "QMP input must be a JSON object" },
        { "{\"execute\": 1}", "GenericError",
          "QMP input member 'execute' must be a string" },
        { "{\"arguments\": {}}", "GenericError",
          "QMP input lacks member 'execute'" },
        { "{\"execute\": \"query-status\", \"foo\": 1}", "GenericError",
          "QMP input member 'foo' is unexpected" },
        { "{\"execute\": \"query-status\", \"arguments\": []}", "GenericError",
          "QMP input member 'arguments' must be an object" },
        { "{\"execute\": \"query-status\", \"arguments\": {\"x\": 1}}",
          "GenericError", "Parameter 'x' is unexpected" },
        /* \u0000 would cut the C string short: "query-status\0x" must not
         * run query-status (a raw NUL byte is refused the same way). */
        { "{\"execute\": \"query-status\\u0000x\"}", "GenericError",
          "JSON parse error" },
        { "{\"execute\": \"query-status\", \"id\": \"a\\u0000b\"}",
          "GenericError", "JSON parse error" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *reply = qtest_qmp_raw(qts, cases[i].in);

        check_error(reply, cases[i].klass, cases[i].desc);
        /* ... and the monitor still serves. */
        g_free(qtest_qmp(qts, "{\"execute\": \"query-status\"}", NULL));
    }
}

static void test_hostile_input(void **state)
{
    GString *deep = g_string_new(NULL);
    GString *big = g_string_new("{\"execute\": \"query-status\", "
                                "\"arguments\": {\"pad\": \"");
    g_autofree char *r1 = NULL;
    g_autofree char *r2 = NULL;
    g_autofree char *r3 = NULL;

    /* Nesting far beyond any real request. */
    for (int i = 0; i < 5000; i++) {
        g_string_append_c(deep, '[');
    }
    r1 = qtest_qmp_raw(qts, deep->str);
    check_error(r1, "GenericError", "JSON parse error");
    g_string_free(deep, TRUE);

    /* A single message larger than the monitor accepts. */
    while (big->len < (6u << 20)) {
        g_string_append(big, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    }
    g_string_append(big, "\"}}");
    r2 = qtest_qmp_raw(qts, big->str);
    check_error(r2, "GenericError", "JSON parse error");
    g_string_free(big, TRUE);

    /* An id that overflows a double must still come back as valid JSON. */
    {
        g_autofree char *r = qtest_qmp_raw(qts, "{\"execute\": \"query-status\", "
                                                "\"id\": 1e999}");
        g_autoptr(JsonNode) n = parse(r);

        assert_non_null(member(n, "return"));
    }

    /* A NUL byte inside a message, on a client of its own. */
    {
        static const char with_nul[] = "{\"execute\"\0: \"query-status\"}\n";
        RawMon *r = raw_connect(server_path);

        g_free(raw_recv(r));
        raw_send(r, "{\"execute\": \"qmp_capabilities\"}");
        g_free(raw_recv(r));
        assert_int_equal(send(r->fd, with_nul, sizeof(with_nul) - 1,
                              MSG_NOSIGNAL), (ssize_t)sizeof(with_nul) - 1);
        r3 = raw_recv(r);
        check_error(r3, "GenericError", "JSON parse error");
        raw_send(r, "{\"execute\": \"query-status\"}");
        g_free(r3);
        r3 = raw_recv(r);
        assert_non_null(strstr(r3, "\"return\""));
        raw_close(r);
    }
    g_free(qtest_qmp(qts, "{\"execute\": \"query-status\"}", NULL));
}

static void test_stream_framing(void **state)
{
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;
    g_autofree char *c = NULL;
    g_autoptr(JsonNode) na = NULL;
    g_autoptr(JsonNode) nb = NULL;
    g_autoptr(JsonNode) nc = NULL;

    /* Two requests on one line: two replies, in order. */
    a = qtest_qmp_raw(qts, "{\"execute\": \"query-status\", \"id\": 1}"
                           "{\"execute\": \"query-status\", \"id\": 2}");
    b = qtest_qmp_raw(qts, "");   /* a blank line only collects reply 2 */
    na = parse(a);
    nb = parse(b);
    assert_int_equal(int_at(na, "id"), 1);
    assert_int_equal(int_at(nb, "id"), 2);

    /* One request over several lines. */
    c = qtest_qmp_raw(qts, "{\"execute\":\n  \"query-status\",\n \"id\": 3}");
    nc = parse(c);
    assert_int_equal(int_at(nc, "id"), 3);
    assert_true(bool_at(nc, "return.running"));
}

static void test_query_commands_and_version(void **state)
{
    g_autofree char *cmds = qtest_qmp(qts, "{\"execute\": \"query-commands\"}",
                                      NULL);
    g_autofree char *ver = qtest_qmp(qts, "{\"execute\": \"query-version\"}",
                                     NULL);
    g_autoptr(JsonNode) v = parse(ver);

    assert_non_null(strstr(cmds, "\"query-status\""));
    assert_non_null(strstr(cmds, "\"system_reset\""));
    assert_non_null(strstr(cmds, "\"quit\""));
    int_at(v, "qemu.major");
    str_at(v, "package");
}

static void test_quit(void **state)
{
    QTestState *s = qtest_init("-m 64M");
    g_autofree char *ret = qtest_qmp(s, "{\"execute\": \"quit\"}", NULL);
    g_autofree char *ev = qtest_qmp_eventwait(s, "SHUTDOWN");
    g_autoptr(JsonNode) e = parse(ev);

    assert_string_equal(ret, "{}");
    assert_false(bool_at(e, "data.guest"));
    assert_string_equal(str_at(e, "data.reason"), "host-qmp-quit");
    /* vtdnest exits by itself, cleanly. */
    assert_int_equal(qtest_quit_status(s), 0);
}

static void test_stdio_monitor(void **state)
{
    const char *bin = g_getenv("VTDNEST_BINARY");
    const char *argv[] = { bin, "-m", "64M", "-qmp", "stdio", NULL };
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = NULL;
    GError *gerr = NULL;
    GSubprocess *p;
    int status;

    if (!bin) {
        skip();
    }
    p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
                          G_SUBPROCESS_FLAGS_STDOUT_PIPE, &gerr);
    assert_non_null(p);
    /* Requests piped in; at EOF vtdnest answers what it got and exits. */
    assert_true(g_subprocess_communicate_utf8(
        p, "{\"execute\": \"qmp_capabilities\"}\n"
           "{\"execute\": \"query-status\", \"id\": 5}\n",
        NULL, &out, NULL, &gerr));
    assert_true(g_subprocess_get_if_exited(p));
    status = g_subprocess_get_exit_status(p);
    g_object_unref(p);
    assert_int_equal(status, 0);
    lines = g_strsplit(out, "\n", -1);
    assert_int_equal(g_strv_length(lines), 4);
    check_greeting(lines[0]);
    assert_string_equal(lines[1], "{\"return\": {}}");
    {
        g_autoptr(JsonNode) n = parse(lines[2]);

        assert_int_equal(int_at(n, "id"), 5);
        assert_string_equal(str_at(n, "return.status"), "running");
    }
}

/*
 * The x-vtdnest- extension commands take no arguments and, like the
 * built-in ones, must say so instead of ignoring a misspelt argument.
 */
static void test_extensions_reject_arguments(void **state)
{
    static const char *const cmds[] = {
        "x-vtdnest-query-nesting", "x-vtdnest-query-host-iommu",
    };
    QTestState *s = qtest_init("-device intel-iommu,scalable-mode=on,flts=on");

    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        g_autofree char *req = g_strdup_printf(
            "{\"execute\": \"%s\", \"arguments\": {\"verbose\": true}}",
            cmds[i]);
        g_autofree char *bare = g_strdup_printf("{\"execute\": \"%s\"}",
                                                cmds[i]);
        g_autofree char *reply = qtest_qmp_raw(s, req);

        check_error(reply, "GenericError", "Parameter 'verbose' is unexpected");
        g_free(qtest_qmp(s, bare, NULL));
    }
    {
        g_autofree char *reply = qtest_command(s, "x-vtdnest-nesting-state x");

        assert_true(g_str_has_prefix(reply, "FAIL"));
    }
    qtest_quit(s);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_greeting),
        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_legacy_server_syntax),
        cmocka_unit_test(test_query_status),
        cmocka_unit_test(test_stop_cont),
        cmocka_unit_test(test_system_reset_event),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_device_add_only_hotpluggable),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_stream_framing),
        cmocka_unit_test(test_query_commands_and_version),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_quit),
        cmocka_unit_test(test_stdio_monitor),
        cmocka_unit_test(test_extensions_reject_arguments),
    };
    int failed = cmocka_run_group_tests_name("qmp", shared, start_machine,
                                             stop_machine);

    failed += cmocka_run_group_tests_name("qmp own process", own, NULL, NULL);
    return failed;
}
