/*
 * libqtest: start vtdnest and drive it over the qtest text protocol and QMP,
 * the way QEMU's libqtest drives QEMU.
 *
 * The test owns two listening unix sockets in a private temp directory and
 * starts vtdnest with "-qtest unix:PATH" and "-chardev socket,path=PATH2
 * -mon chardev=...,mode=control": vtdnest connects to us, so there is no
 * connect-retry loop and no race with socket creation. While waiting for
 * those connections we also watch the child, so a vtdnest that exits early
 * (a bad option) is reported at once with its stderr.
 *
 * vtdnest quits when its qtest connection closes, so a test process that
 * dies never leaves a machine behind. Protocol errors fail the current
 * cmocka test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "libqtest.h"

#define DEFAULT_TIMEOUT_S  60   /* a hang guard, never a timing assertion */
#define MEM_CHUNK          (1u << 20)

struct QTestState {
    pid_t pid;
    bool reaped;
    int status;             /* waitpid status once reaped */
    int qtest_fd, qmp_fd;
    GString *qtest_rx, *qmp_rx;
    GQueue *events;         /* JSON text of events not yet consumed */
    char *greeting;
    char *dir;              /* private temp dir with the sockets */
    char *qtest_path, *qmp_path, *stderr_path;
};

/* ---- failure reporting -------------------------------------------------- */

static void G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN qtest_fail(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    print_error("libqtest: %s\n", msg);
    _fail(__FILE__, __LINE__);
    abort(); /* _fail does not return inside a test; outside one, stop here */
}

static int timeout_ms(void)
{
    const char *env = getenv("VTDNEST_QTEST_TIMEOUT");
    int s = env ? atoi(env) : 0;

    return (s > 0 ? s : DEFAULT_TIMEOUT_S) * 1000;
}

/* ---- process handling --------------------------------------------------- */

static char *find_binary(void)
{
    const char *env = getenv("VTDNEST_BINARY");
    g_autofree char *self = NULL;
    g_autofree char *dir = NULL;
    static const char *const rel[] = { "vtdnest", "../vtdnest", "../../vtdnest" };

    if (!env || !*env) {
        env = getenv("QTEST_QEMU_BINARY");
    }
    if (env && *env) {
        return g_strdup(env);
    }
    self = g_file_read_link("/proc/self/exe", NULL);
    dir = self ? g_path_get_dirname(self) : g_strdup(".");
    for (size_t i = 0; i < G_N_ELEMENTS(rel); i++) {
        char *p = g_build_filename(dir, rel[i], NULL);

        if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE)) {
            return p;
        }
        g_free(p);
    }
    return g_strdup("vtdnest");
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
        qtest_fail("cannot create socket %s", path);
    }
    strcpy(sa.sun_path, path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
        qtest_fail("cannot listen on %s: %s", path, g_strerror(errno));
    }
    return fd;
}

static bool child_reap(QTestState *s, bool block)
{
    pid_t r;

    if (s->reaped) {
        return true;
    }
    do {
        r = waitpid(s->pid, &s->status, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == s->pid || (r < 0 && errno == ECHILD)) {
        s->reaped = true;
    }
    return s->reaped;
}

/* Exit code, or 128 + signal number as a shell reports it. */
static int decode_status(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

static char *read_stderr(QTestState *s)
{
    char *text = NULL;

    if (!g_file_get_contents(s->stderr_path, &text, NULL, NULL)) {
        return g_strdup("");
    }
    return g_strchomp(text);
}

/* Wait for the child to exit by itself for up to ms, then kill it. */
static void child_stop(QTestState *s, int ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;

    while (!child_reap(s, false)) {
        if (g_get_monotonic_time() >= deadline) {
            kill(s->pid, SIGKILL);
            child_reap(s, true);
            break;
        }
        g_usleep(2000);
    }
}

static void state_free(QTestState *s)
{
    if (s->qtest_fd >= 0) {
        close(s->qtest_fd);
    }
    if (s->qmp_fd >= 0) {
        close(s->qmp_fd);
    }
    unlink(s->qtest_path);
    unlink(s->qmp_path);
    unlink(s->stderr_path);
    rmdir(s->dir);
    g_string_free(s->qtest_rx, TRUE);
    g_string_free(s->qmp_rx, TRUE);
    g_queue_free_full(s->events, g_free);
    g_free(s->greeting);
    g_free(s->dir);
    g_free(s->qtest_path);
    g_free(s->qmp_path);
    g_free(s->stderr_path);
    g_free(s);
}

static pid_t spawn(char **argv, const char *stderr_path)
{
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int err_fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t pid;

    if (null_fd < 0 || err_fd < 0) {
        qtest_fail("cannot open %s: %s", stderr_path, g_strerror(errno));
    }
    pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(null_fd, STDIN_FILENO);
        dup2(err_fd, STDOUT_FILENO);
        dup2(err_fd, STDERR_FILENO);
        execv(argv[0], argv);
        {
            static const char msg[] = "libqtest: cannot execute vtdnest\n";
            ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
            (void)ignored;
        }
        _exit(127);
    }
    close(null_fd);
    close(err_fd);
    if (pid < 0) {
        qtest_fail("fork: %s", g_strerror(errno));
    }
    return pid;
}

/* Accept vtdnest's two connections, whichever comes first. False if the
 * child exits or the wait times out. */
static bool accept_both(QTestState *s, int qtest_listen, int qmp_listen,
                        char **why)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms() * 1000;

    while (s->qtest_fd < 0 || s->qmp_fd < 0) {
        struct pollfd pfd[2] = {
            { .fd = s->qtest_fd < 0 ? qtest_listen : -1, .events = POLLIN },
            { .fd = s->qmp_fd < 0 ? qmp_listen : -1, .events = POLLIN },
        };

        if (child_reap(s, false)) {
            *why = g_strdup("vtdnest exited before connecting");
            return false;
        }
        if (g_get_monotonic_time() >= deadline) {
            *why = g_strdup("vtdnest did not connect in time");
            return false;
        }
        /* Short slices only so that an early exit is noticed promptly. */
        if (poll(pfd, 2, 50) < 0 && errno != EINTR) {
            *why = g_strdup_printf("poll: %s", g_strerror(errno));
            return false;
        }
        if (pfd[0].revents & POLLIN) {
            s->qtest_fd = accept4(qtest_listen, NULL, NULL, SOCK_CLOEXEC);
        }
        if (pfd[1].revents & POLLIN) {
            s->qmp_fd = accept4(qmp_listen, NULL, NULL, SOCK_CLOEXEC);
        }
    }
    return true;
}

/* ---- line I/O ----------------------------------------------------------- */

static bool send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Next line from fd (without "\n"), or NULL on EOF, error or timeout. */
static char *recv_line(int fd, GString *rx, char **why)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms() * 1000;

    for (;;) {
        char *nl = memchr(rx->str, '\n', rx->len);
        char buf[65536];
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left;
        ssize_t n;

        if (nl) {
            char *line = g_strndup(rx->str, (gsize)(nl - rx->str));

            g_string_erase(rx, 0, nl - rx->str + 1);
            return line;
        }
        left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0) {
            *why = g_strdup("no reply from vtdnest in time");
            return NULL;
        }
        if (poll(&pfd, 1, (int)MIN(left, (gint64)INT_MAX)) <= 0) {
            continue;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            *why = g_strdup(n == 0 ? "vtdnest closed the connection"
                                   : g_strerror(errno));
            return NULL;
        }
        g_string_append_len(rx, buf, n);
    }
}

/* Describe why the connection died, including vtdnest's stderr. */
static void G_GNUC_NORETURN fail_dead(QTestState *s, const char *what,
                                     const char *why)
{
    g_autofree char *err = NULL;

    child_stop(s, 2000);
    err = read_stderr(s);
    qtest_fail("%s: %s (vtdnest status %d)%s%s", what, why,
               decode_status(s->status), *err ? "; stderr:\n" : "", err);
}

/* ---- qtest protocol ----------------------------------------------------- */

static char *qtest_vcommand(QTestState *s, const char *fmt, va_list ap)
{
    g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
    g_autofree char *why = NULL;
    size_t len = strlen(cmd);
    char *line;

    if (!send_all(s->qtest_fd, cmd, len) ||
        ((len == 0 || cmd[len - 1] != '\n') && !send_all(s->qtest_fd, "\n", 1))) {
        fail_dead(s, "qtest send", g_strerror(errno));
    }
    /* Skip QEMU's asynchronous "IRQ raise/lower N" notifications. */
    while ((line = recv_line(s->qtest_fd, s->qtest_rx, &why)) &&
           g_str_has_prefix(line, "IRQ ")) {
        g_free(line);
    }
    if (!line) {
        fail_dead(s, cmd, why);
    }
    return line;
}

char *qtest_command(QTestState *s, const char *fmt, ...)
{
    va_list ap;
    char *r;

    va_start(ap, fmt);
    r = qtest_vcommand(s, fmt, ap);
    va_end(ap);
    return r;
}

void qtest_send_raw(QTestState *s, const void *buf, size_t len)
{
    if (!send_all(s->qtest_fd, buf, len)) {
        fail_dead(s, "qtest send", g_strerror(errno));
    }
}

char *qtest_recv_line(QTestState *s)
{
    g_autofree char *why = NULL;
    char *line = recv_line(s->qtest_fd, s->qtest_rx, &why);

    if (!line) {
        fail_dead(s, "qtest receive", why);
    }
    return line;
}

/* Send a command that must succeed; returns the text after "OK" (maybe ""). */
static char * G_GNUC_PRINTF(2, 3) qtest_ok(QTestState *s, const char *fmt, ...)
{
    va_list ap;
    char *r;
    char *rest;

    va_start(ap, fmt);
    r = qtest_vcommand(s, fmt, ap);
    va_end(ap);
    if (strcmp(r, "OK") != 0 && !g_str_has_prefix(r, "OK ")) {
        g_autofree char *reply = r;

        qtest_fail("unexpected qtest reply '%s'", reply);
    }
    rest = g_strdup(r[2] ? r + 3 : "");
    g_free(r);
    return rest;
}

static uint64_t qtest_ok_u64(QTestState *s, const char *cmd, uint64_t addr)
{
    g_autofree char *v = qtest_ok(s, "%s 0x%" PRIx64, cmd, addr);
    char *end;
    uint64_t r;

    errno = 0;
    r = strtoull(v, &end, 0);
    if (errno || end == v || *end) {
        qtest_fail("%s 0x%" PRIx64 ": bad value '%s'", cmd, addr, v);
    }
    return r;
}

uint8_t qtest_readb(QTestState *s, uint64_t addr)
{
    return (uint8_t)qtest_ok_u64(s, "readb", addr);
}

uint16_t qtest_readw(QTestState *s, uint64_t addr)
{
    return (uint16_t)qtest_ok_u64(s, "readw", addr);
}

uint32_t qtest_readl(QTestState *s, uint64_t addr)
{
    return (uint32_t)qtest_ok_u64(s, "readl", addr);
}

uint64_t qtest_readq(QTestState *s, uint64_t addr)
{
    return qtest_ok_u64(s, "readq", addr);
}

static void qtest_write_sized(QTestState *s, const char *cmd, uint64_t addr,
                              uint64_t v)
{
    g_free(qtest_ok(s, "%s 0x%" PRIx64 " 0x%" PRIx64, cmd, addr, v));
}

void qtest_writeb(QTestState *s, uint64_t addr, uint8_t v)
{
    qtest_write_sized(s, "writeb", addr, v);
}

void qtest_writew(QTestState *s, uint64_t addr, uint16_t v)
{
    qtest_write_sized(s, "writew", addr, v);
}

void qtest_writel(QTestState *s, uint64_t addr, uint32_t v)
{
    qtest_write_sized(s, "writel", addr, v);
}

void qtest_writeq(QTestState *s, uint64_t addr, uint64_t v)
{
    qtest_write_sized(s, "writeq", addr, v);
}

static int hexval(char c)
{
    return g_ascii_xdigit_value(c);
}

void qtest_memread(QTestState *s, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;

    for (size_t done = 0; done < len; ) {
        size_t n = MIN(len - done, (size_t)MEM_CHUNK);
        g_autofree char *hex = qtest_ok(s, "read 0x%" PRIx64 " 0x%zx",
                                        addr + done, n);

        if (strncmp(hex, "0x", 2) != 0 || strlen(hex) != 2 + 2 * n) {
            qtest_fail("read: malformed reply '%.40s'", hex);
        }
        for (size_t i = 0; i < n; i++) {
            int hi = hexval(hex[2 + 2 * i]), lo = hexval(hex[3 + 2 * i]);

            if (hi < 0 || lo < 0) {
                qtest_fail("read: bad hex in reply");
            }
            out[done + i] = (uint8_t)(hi << 4 | lo);
        }
        done += n;
    }
}

void qtest_memwrite(QTestState *s, uint64_t addr, const void *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *in = buf;

    for (size_t done = 0; done < len; ) {
        size_t n = MIN(len - done, (size_t)MEM_CHUNK);
        g_autofree char *hex = g_malloc(2 * n + 1);

        for (size_t i = 0; i < n; i++) {
            hex[2 * i] = digits[in[done + i] >> 4];
            hex[2 * i + 1] = digits[in[done + i] & 0xf];
        }
        hex[2 * n] = '\0';
        g_free(qtest_ok(s, "write 0x%" PRIx64 " 0x%zx 0x%s", addr + done, n, hex));
        done += n;
    }
}

void qtest_bufread(QTestState *s, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;

    for (size_t done = 0; done < len; ) {
        size_t n = MIN(len - done, (size_t)MEM_CHUNK);
        g_autofree char *b64 = qtest_ok(s, "b64read 0x%" PRIx64 " 0x%zx",
                                        addr + done, n);
        gsize got = 0;
        g_autofree guchar *data = g_base64_decode(b64, &got);

        if (got != n) {
            qtest_fail("b64read: %zu bytes asked, %zu returned", n, (size_t)got);
        }
        memcpy(out + done, data, n);
        done += n;
    }
}

void qtest_bufwrite(QTestState *s, uint64_t addr, const void *buf, size_t len)
{
    const uint8_t *in = buf;

    for (size_t done = 0; done < len; ) {
        size_t n = MIN(len - done, (size_t)MEM_CHUNK);
        g_autofree char *b64 = g_base64_encode(in + done, n);

        g_free(qtest_ok(s, "b64write 0x%" PRIx64 " 0x%zx %s", addr + done, n, b64));
        done += n;
    }
}

void qtest_memset(QTestState *s, uint64_t addr, uint8_t pattern, size_t len)
{
    g_free(qtest_ok(s, "memset 0x%" PRIx64 " 0x%zx 0x%02x", addr, len, pattern));
}

static uint32_t qtest_in(QTestState *s, const char *cmd, uint16_t port)
{
    return (uint32_t)qtest_ok_u64(s, cmd, port);
}

uint8_t qtest_inb(QTestState *s, uint16_t port)
{
    return (uint8_t)qtest_in(s, "inb", port);
}

uint16_t qtest_inw(QTestState *s, uint16_t port)
{
    return (uint16_t)qtest_in(s, "inw", port);
}

uint32_t qtest_inl(QTestState *s, uint16_t port)
{
    return qtest_in(s, "inl", port);
}

void qtest_outb(QTestState *s, uint16_t port, uint8_t v)
{
    qtest_write_sized(s, "outb", port, v);
}

void qtest_outw(QTestState *s, uint16_t port, uint16_t v)
{
    qtest_write_sized(s, "outw", port, v);
}

void qtest_outl(QTestState *s, uint16_t port, uint32_t v)
{
    qtest_write_sized(s, "outl", port, v);
}

static int64_t parse_clock(const char *cmd, const char *v)
{
    char *end;
    long long r;

    errno = 0;
    r = strtoll(v, &end, 10);
    if (errno || end == v || *end) {
        qtest_fail("%s: bad clock value '%s'", cmd, v);
    }
    return r;
}

int64_t qtest_clock_step(QTestState *s, int64_t ns)
{
    g_autofree char *v = ns < 0 ? qtest_ok(s, "clock_step")
                                : qtest_ok(s, "clock_step %" PRIi64, ns);

    return parse_clock("clock_step", v);
}

int64_t qtest_clock_set(QTestState *s, int64_t ns)
{
    g_autofree char *v = qtest_ok(s, "clock_set %" PRIi64, ns);

    return parse_clock("clock_set", v);
}

/* ---- QMP ---------------------------------------------------------------- */

static char *node_to_text(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_generator_set_root(gen, node);
    return json_generator_to_data(gen, NULL);
}

/* Next QMP message as a parsed object (caller unrefs), or NULL with *why
 * set on a dead connection or a message that is not a JSON object. */
static JsonNode *qmp_try_recv(QTestState *s, char **why)
{
    g_autofree char *line = recv_line(s->qmp_fd, s->qmp_rx, why);
    g_autoptr(JsonParser) parser = json_parser_new();

    if (!line) {
        return NULL;
    }
    if (!json_parser_load_from_data(parser, line, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        *why = g_strdup_printf("malformed QMP message '%s'", line);
        return NULL;
    }
    return json_node_copy(json_parser_get_root(parser));
}

static bool is_event(JsonNode *msg)
{
    return json_object_has_member(json_node_get_object(msg), "event");
}

/* Next message that is not an event; events go to the queue. */
static JsonNode *qmp_try_recv_reply(QTestState *s, char **why)
{
    for (;;) {
        JsonNode *msg = qmp_try_recv(s, why);

        if (!msg || !is_event(msg)) {
            return msg;
        }
        g_queue_push_tail(s->events, node_to_text(msg));
        json_node_unref(msg);
    }
}

static JsonNode *qmp_recv(QTestState *s)
{
    g_autofree char *why = NULL;
    JsonNode *msg = qmp_try_recv(s, &why);

    if (!msg) {
        fail_dead(s, "QMP receive", why);
    }
    return msg;
}

static JsonNode *qmp_recv_reply(QTestState *s)
{
    g_autofree char *why = NULL;
    JsonNode *msg = qmp_try_recv_reply(s, &why);

    if (!msg) {
        fail_dead(s, "QMP receive", why);
    }
    return msg;
}

static void qmp_send_text(QTestState *s, const char *text)
{
    size_t len = strlen(text);

    if (!send_all(s->qmp_fd, text, len) ||
        ((len == 0 || text[len - 1] != '\n') && !send_all(s->qmp_fd, "\n", 1))) {
        fail_dead(s, "QMP send", g_strerror(errno));
    }
}

char *qtest_qmp_raw(QTestState *s, const char *text)
{
    g_autoptr(JsonNode) reply = NULL;

    qmp_send_text(s, text);
    reply = qmp_recv_reply(s);
    return node_to_text(reply);
}

char *qtest_qmp(QTestState *s, const char *json, char **err)
{
    g_autoptr(JsonNode) reply = NULL;
    JsonObject *obj;

    if (err) {
        *err = NULL;
    }
    qmp_send_text(s, json);
    reply = qmp_recv_reply(s);
    obj = json_node_get_object(reply);
    if (json_object_has_member(obj, "return")) {
        return node_to_text(json_object_get_member(obj, "return"));
    }
    if (json_object_has_member(obj, "error")) {
        JsonNode *e = json_object_get_member(obj, "error");
        const char *desc = JSON_NODE_HOLDS_OBJECT(e) ?
            json_object_get_string_member_with_default(json_node_get_object(e),
                                                       "desc", "?") : "?";

        if (!err) {
            qtest_fail("QMP %s: error '%s'", json, desc);
        }
        *err = g_strdup(desc);
        return NULL;
    }
    {
        g_autofree char *text = node_to_text(reply);

        qtest_fail("QMP %s: unexpected reply %s", json, text);
    }
}

char *qtest_qmp_eventwait(QTestState *s, const char *event)
{
    /* Consume the first queued event of that name, then read on. */
    for (GList *l = s->events->head; l; l = l->next) {
        g_autoptr(JsonParser) p = json_parser_new();

        if (json_parser_load_from_data(p, l->data, -1, NULL) &&
            !g_strcmp0(json_object_get_string_member_with_default(
                           json_node_get_object(json_parser_get_root(p)),
                           "event", ""), event)) {
            char *text = l->data;

            g_queue_delete_link(s->events, l);
            return text;
        }
    }
    for (;;) {
        g_autoptr(JsonNode) msg = qmp_recv(s);
        char *text = node_to_text(msg);

        if (is_event(msg) &&
            !g_strcmp0(json_object_get_string_member(json_node_get_object(msg),
                                                     "event"), event)) {
            return text;
        }
        if (is_event(msg)) {
            g_queue_push_tail(s->events, text);
        } else {
            qtest_fail("QMP: reply %s while waiting for event %s", text, event);
        }
    }
}

const char *qtest_qmp_greeting(QTestState *s)
{
    return s->greeting;
}

/* ---- start and stop ----------------------------------------------------- */

static QTestState *qtest_start(const char *extra_args, char **err_out,
                               int *exit_status)
{
    QTestState *s = g_new0(QTestState, 1);
    g_autofree char *binary = find_binary();
    g_autofree char *why = NULL;
    g_autoptr(GError) gerr = NULL;
    g_auto(GStrv) extra = NULL;
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    int qtest_listen, qmp_listen, argc = 0;
    g_autoptr(JsonNode) caps = NULL;
    static const char negotiate[] = "{\"execute\": \"qmp_capabilities\"}\n";

    s->qtest_fd = s->qmp_fd = -1;
    s->qtest_rx = g_string_new(NULL);
    s->qmp_rx = g_string_new(NULL);
    s->events = g_queue_new();
    s->dir = g_dir_make_tmp("vtdnest-qtest-XXXXXX", &gerr);
    if (!s->dir) {
        qtest_fail("temp dir: %s", gerr->message);
    }
    s->qtest_path = g_build_filename(s->dir, "qtest.sock", NULL);
    s->qmp_path = g_build_filename(s->dir, "qmp.sock", NULL);
    s->stderr_path = g_build_filename(s->dir, "stderr", NULL);
    if (extra_args && *extra_args &&
        !g_shell_parse_argv(extra_args, &argc, &extra, &gerr)) {
        qtest_fail("bad arguments '%s': %s", extra_args, gerr->message);
    }

    qtest_listen = listen_unix(s->qtest_path);
    qmp_listen = listen_unix(s->qmp_path);
    g_ptr_array_add(argv, g_strdup(binary));
    g_ptr_array_add(argv, g_strdup("-qtest"));
    g_ptr_array_add(argv, g_strdup_printf("unix:%s", s->qtest_path));
    g_ptr_array_add(argv, g_strdup("-qtest-log"));
    g_ptr_array_add(argv, g_strdup(getenv("QTEST_LOG") ? "/dev/fd/2" : "/dev/null"));
    g_ptr_array_add(argv, g_strdup("-chardev"));
    g_ptr_array_add(argv, g_strdup_printf("socket,path=%s,id=qtest-qmp", s->qmp_path));
    g_ptr_array_add(argv, g_strdup("-mon"));
    g_ptr_array_add(argv, g_strdup("chardev=qtest-qmp,mode=control"));
    for (int i = 0; i < argc; i++) {
        g_ptr_array_add(argv, g_strdup(extra[i]));
    }
    g_ptr_array_add(argv, NULL);

    s->pid = spawn((char **)argv->pdata, s->stderr_path);
    if (!accept_both(s, qtest_listen, qmp_listen, &why)) {
        goto failed;
    }
    close(qtest_listen);
    close(qmp_listen);
    qtest_listen = qmp_listen = -1;

    /* Greeting, then capabilities negotiation, as every QMP client does. */
    {
        g_autofree char *line = recv_line(s->qmp_fd, s->qmp_rx, &why);

        if (!line) {
            goto failed;
        }
        s->greeting = line;
        line = NULL;
    }
    if (!send_all(s->qmp_fd, negotiate, strlen(negotiate))) {
        why = g_strdup("vtdnest closed the QMP connection");
        goto failed;
    }
    caps = qmp_try_recv_reply(s, &why);
    if (!caps) {
        goto failed;
    }
    if (!json_object_has_member(json_node_get_object(caps), "return")) {
        g_autofree char *text = node_to_text(caps);

        why = g_strdup_printf("qmp_capabilities failed: %s", text);
        goto failed;
    }
    return s;

failed:
    if (qtest_listen >= 0) {
        close(qtest_listen);
        close(qmp_listen);
    }
    child_stop(s, 2000);
    {
        g_autofree char *stderr_text = read_stderr(s);

        if (exit_status) {
            *exit_status = decode_status(s->status);
        }
        if (err_out) {
            *err_out = *stderr_text ? g_steal_pointer(&stderr_text)
                                    : g_strdup(why);
        } else {
            state_free(s);
            qtest_fail("vtdnest %s: %s; stderr:\n%s",
                       extra_args ? extra_args : "", why, stderr_text);
        }
    }
    state_free(s);
    return NULL;
}

QTestState *qtest_init(const char *extra_args)
{
    return qtest_start(extra_args, NULL, NULL);
}

QTestState *qtest_try_init(const char *extra_args, char **err_out)
{
    g_autofree char *err = NULL;
    QTestState *s = qtest_start(extra_args, &err, NULL);

    if (err_out) {
        *err_out = g_steal_pointer(&err);
    }
    return s;
}

QTestState *qtest_try_init_with_status(const char *extra_args, char **err_out,
                                       int *exit_status)
{
    g_autofree char *err = NULL;
    QTestState *s;

    *exit_status = -1;
    s = qtest_start(extra_args, &err, exit_status);
    if (err_out) {
        *err_out = g_steal_pointer(&err);
    }
    return s;
}

char *qtest_stderr(QTestState *s)
{
    return read_stderr(s);
}

int qtest_quit_status(QTestState *s)
{
    int status;

    /* Closing the qtest stream is vtdnest's signal to exit. */
    close(s->qtest_fd);
    close(s->qmp_fd);
    s->qtest_fd = s->qmp_fd = -1;
    child_stop(s, timeout_ms());
    status = decode_status(s->status);
    if (status != 0) {
        g_autofree char *err = read_stderr(s);

        fprintf(stderr, "libqtest: vtdnest exited with status %d%s%s\n", status,
                *err ? "; stderr:\n" : "", err);
    }
    state_free(s);
    return status;
}

void qtest_quit(QTestState *s)
{
    int status;

    if (!s) {
        return;
    }
    status = qtest_quit_status(s);
    /* A crash, a sanitizer report or a hang at exit is a failed test. */
    if (status != 0) {
        qtest_fail("vtdnest did not exit cleanly (status %d)", status);
    }
}

/* ---- PCI configuration space over 0xcf8/0xcfc --------------------------- */

static void pci_cfg_select(QTestState *s, uint8_t bus, uint8_t devfn, uint8_t off)
{
    qtest_outl(s, 0xcf8, 0x80000000u | (uint32_t)bus << 16 |
                         (uint32_t)devfn << 8 | (off & 0xfcu));
}

uint32_t qtest_pci_cfg_read(QTestState *s, uint8_t bus, uint8_t devfn,
                            uint8_t off, unsigned len)
{
    uint16_t port = 0xcfc + (off & 3);

    pci_cfg_select(s, bus, devfn, off);
    switch (len) {
    case 1: return qtest_inb(s, port);
    case 2: return qtest_inw(s, port);
    default: return qtest_inl(s, port);
    }
}

void qtest_pci_cfg_write(QTestState *s, uint8_t bus, uint8_t devfn,
                         uint8_t off, uint32_t v, unsigned len)
{
    uint16_t port = 0xcfc + (off & 3);

    pci_cfg_select(s, bus, devfn, off);
    switch (len) {
    case 1: qtest_outb(s, port, (uint8_t)v); break;
    case 2: qtest_outw(s, port, (uint16_t)v); break;
    default: qtest_outl(s, port, v); break;
    }
}

int qtest_pci_find(QTestState *s, uint16_t vendor, uint16_t device,
                   uint8_t *bus_out, uint8_t *devfn_out)
{
    for (unsigned bus = 0; bus < 256; bus++) {
        for (unsigned slot = 0; slot < 32; slot++) {
            unsigned nfuncs = 1;

            for (unsigned fn = 0; fn < nfuncs; fn++) {
                uint8_t devfn = (uint8_t)(slot << 3 | fn);
                uint32_t id = qtest_pci_cfg_read(s, (uint8_t)bus, devfn, 0, 4);

                if ((id & 0xffff) == 0xffff) {
                    continue;
                }
                /* Functions 1-7 exist only behind a multi-function 0. */
                if (fn == 0 &&
                    (qtest_pci_cfg_read(s, (uint8_t)bus, devfn, 0x0e, 1) & 0x80)) {
                    nfuncs = 8;
                }
                if ((id & 0xffff) == vendor && (id >> 16) == device) {
                    if (bus_out) {
                        *bus_out = (uint8_t)bus;
                    }
                    if (devfn_out) {
                        *devfn_out = devfn;
                    }
                    return 0;
                }
            }
        }
    }
    return -1;
}

void qtest_pci_map_bar(QTestState *s, uint8_t bus, uint8_t devfn, int bar,
                       uint64_t addr)
{
    uint8_t off = (uint8_t)(0x10 + 4 * bar);
    uint32_t cur = qtest_pci_cfg_read(s, bus, devfn, off, 4);
    bool io = cur & 1;
    uint16_t cmd;

    qtest_pci_cfg_write(s, bus, devfn, off, (uint32_t)addr, 4);
    if (!io && ((cur >> 1) & 3) == 2) {           /* 64-bit memory BAR */
        qtest_pci_cfg_write(s, bus, devfn, off + 4, (uint32_t)(addr >> 32), 4);
    }
    cmd = (uint16_t)qtest_pci_cfg_read(s, bus, devfn, 0x04, 2);
    cmd |= io ? 0x1 : 0x2;                        /* I/O or memory space */
    cmd |= 0x4;                                   /* bus master */
    qtest_pci_cfg_write(s, bus, devfn, 0x04, cmd, 2);
}
