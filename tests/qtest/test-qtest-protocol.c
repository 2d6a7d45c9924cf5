/*
 * The qtest text protocol as a client sees it: every command, QEMU's exact
 * reply forms, RAM and unassigned addresses, and bad input of many kinds
 * that must be answered with FAIL while the server keeps serving.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "libqtest.h"

#define RAM_BASE    UINT64_C(0x200000)      /* inside the 512M of RAM below */
#define UNASSIGNED  UINT64_C(0x800000000)   /* 32 GiB: far above RAM, no MMIO */

static QTestState *qts;

static int start_machine(void **state)
{
    qts = qtest_init("-machine q35 -m 512M");
    return qts ? 0 : -1;
}

static int stop_machine(void **state)
{
    qtest_quit(qts);
    qts = NULL;
    return 0;
}

static void G_GNUC_PRINTF(2, 3) expect_reply(const char *expected,
                                            const char *fmt, ...)
{
    va_list ap;
    g_autofree char *cmd = NULL;
    g_autofree char *r = NULL;

    va_start(ap, fmt);
    cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    r = qtest_command(qts, "%s", cmd);
    if (strcmp(r, expected) != 0) {
        print_error("'%s' -> '%s', expected '%s'\n", cmd, r, expected);
        fail();
    }
}

/* The reply must be a FAIL, and the server must still answer afterwards. */
static void expect_fail(const char *cmd)
{
    g_autofree char *r = qtest_command(qts, "%s", cmd);
    g_autofree char *alive = NULL;

    if (!g_str_has_prefix(r, "FAIL ")) {
        print_error("'%s' -> '%s', expected FAIL\n", cmd, r);
        fail();
    }
    alive = qtest_command(qts, "endianness");
    assert_string_equal(alive, "OK little");
}

static void fill_random(uint8_t *buf, size_t len, guint32 seed)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);

    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)g_rand_int_range(rand, 0, 256);
    }
}

static uint64_t le_value(const uint8_t *b, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)b[i] << (8 * i);
    }
    return v;
}

/* ---- sized accesses ----------------------------------------------------- */

static void test_sized_roundtrip(void **state)
{
    static const struct { const char *suffix; unsigned size; } w[] = {
        { "b", 1 }, { "w", 2 }, { "l", 4 }, { "q", 8 },
    };
    uint8_t bytes[8];

    fill_random(bytes, sizeof(bytes), 1);
    for (size_t i = 0; i < G_N_ELEMENTS(w); i++) {
        uint64_t addr = RAM_BASE + 0x100 * i;
        uint64_t v = le_value(bytes, w[i].size);
        g_autofree char *want = g_strdup_printf("OK 0x%016" PRIx64, v);

        expect_reply("OK", "write%s 0x%" PRIx64 " 0x%" PRIx64, w[i].suffix,
                     addr, v);
        /* QEMU prints every read width as 16 hex digits. */
        expect_reply(want, "read%s 0x%" PRIx64, w[i].suffix, addr);
    }
    /* The typed helpers agree with the raw replies. */
    qtest_writeq(qts, RAM_BASE, le_value(bytes, 8));
    assert_int_equal(qtest_readq(qts, RAM_BASE), le_value(bytes, 8));
    assert_int_equal(qtest_readl(qts, RAM_BASE), le_value(bytes, 4));
    assert_int_equal(qtest_readw(qts, RAM_BASE), le_value(bytes, 2));
    assert_int_equal(qtest_readb(qts, RAM_BASE), bytes[0]);
}

static void test_little_endian_layout(void **state)
{
    uint8_t got[4];

    expect_reply("OK little", "endianness");
    qtest_writel(qts, RAM_BASE, 0x11223344);
    qtest_memread(qts, RAM_BASE, got, sizeof(got));
    assert_int_equal(got[0], 0x44);
    assert_int_equal(got[3], 0x11);
    assert_int_equal(qtest_readw(qts, RAM_BASE + 2), 0x1122);
}

static void test_write_value_truncated(void **state)
{
    /* QEMU keeps the low bytes of a value wider than the access. */
    qtest_writel(qts, RAM_BASE, 0);
    expect_reply("OK", "writeb 0x%" PRIx64 " 0x1ab", RAM_BASE);
    assert_int_equal(qtest_readl(qts, RAM_BASE), 0xab);
    expect_reply("OK", "writew 0x%" PRIx64 " 0x123456", RAM_BASE);
    assert_int_equal(qtest_readl(qts, RAM_BASE), 0x3456);
}

static void test_number_forms(void **state)
{
    /* strtoull base 0: hex, octal and decimal all address the same byte. */
    qtest_writeb(qts, RAM_BASE + 8, 0x5a);
    expect_reply("OK 0x000000000000005a", "readb %" PRIu64, RAM_BASE + 8);
    expect_reply("OK 0x000000000000005a", "readb 0%" PRIo64, RAM_BASE + 8);
    expect_reply("OK 0x000000000000005a", "readb 0X%" PRIX64, RAM_BASE + 8);
}

/* ---- bulk transfers ----------------------------------------------------- */

static void test_read_write_hex(void **state)
{
    uint8_t data[300], got[300];
    g_autofree char *hex = NULL;
    g_autofree char *reply = NULL;
    GString *cmd = g_string_new(NULL);

    fill_random(data, sizeof(data), 2);
    g_string_printf(cmd, "write 0x%" PRIx64 " %zu 0x", RAM_BASE, sizeof(data));
    for (size_t i = 0; i < sizeof(data); i++) {
        g_string_append_printf(cmd, "%02X", data[i]);  /* upper case works too */
    }
    reply = qtest_command(qts, "%s", cmd->str);
    assert_string_equal(reply, "OK");
    g_string_free(cmd, TRUE);

    qtest_memread(qts, RAM_BASE, got, sizeof(got));
    assert_memory_equal(got, data, sizeof(data));

    /* The reply form: "OK 0x" and two lower-case digits per byte. */
    hex = qtest_command(qts, "read 0x%" PRIx64 " 3", RAM_BASE);
    {
        g_autofree char *want = g_strdup_printf("OK 0x%02x%02x%02x", data[0],
                                                data[1], data[2]);
        assert_string_equal(hex, want);
    }
}

static void test_write_short_and_long_data(void **state)
{
    uint8_t got[4];

    qtest_memset(qts, RAM_BASE, 0xee, 8);
    /* Short data is zero-filled up to SIZE (QEMU's rule)... */
    expect_reply("OK", "write 0x%" PRIx64 " 4 0xaabb", RAM_BASE);
    qtest_memread(qts, RAM_BASE, got, 4);
    assert_int_equal(got[0], 0xaa);
    assert_int_equal(got[1], 0xbb);
    assert_int_equal(got[2], 0);
    assert_int_equal(got[3], 0);
    /* ...and data beyond SIZE is ignored. */
    expect_reply("OK", "write 0x%" PRIx64 " 1 0x1122334455", RAM_BASE + 4);
    assert_int_equal(qtest_readb(qts, RAM_BASE + 4), 0x11);
    assert_int_equal(qtest_readb(qts, RAM_BASE + 5), 0xee);
}

static void test_b64_roundtrip(void **state)
{
    enum { LEN = 4097 };
    g_autofree uint8_t *data = g_malloc(LEN);
    g_autofree uint8_t *got = g_malloc(LEN);
    g_autofree char *b64 = NULL;
    g_autofree char *reply = NULL;
    g_autofree char *want = NULL;

    fill_random(data, LEN, 3);
    qtest_bufwrite(qts, RAM_BASE, data, LEN);
    qtest_bufread(qts, RAM_BASE, got, LEN);
    assert_memory_equal(got, data, LEN);
    memset(got, 0, LEN);
    qtest_memread(qts, RAM_BASE, got, LEN);
    assert_memory_equal(got, data, LEN);

    /* Reply form: "OK <base64>". */
    b64 = g_base64_encode(data, 16);
    want = g_strdup_printf("OK %s", b64);
    reply = qtest_command(qts, "b64read 0x%" PRIx64 " 16", RAM_BASE);
    assert_string_equal(reply, want);
    /* Size 0 gives QEMU's "OK " with an empty payload. */
    expect_reply("OK ", "b64read 0x%" PRIx64 " 0", RAM_BASE);
}

static void test_b64write_size_mismatch(void **state)
{
    static const uint8_t four[4] = { 1, 2, 3, 4 };
    g_autofree char *b64 = g_base64_encode(four, sizeof(four));

    qtest_memset(qts, RAM_BASE, 0x77, 8);
    /* More data than SIZE: truncated to SIZE. */
    expect_reply("OK", "b64write 0x%" PRIx64 " 2 %s", RAM_BASE, b64);
    assert_int_equal(qtest_readl(qts, RAM_BASE), 0x77770201);
    /* Less data than SIZE: only the decoded bytes are written. */
    expect_reply("OK", "b64write 0x%" PRIx64 " 8 %s", RAM_BASE, b64);
    assert_int_equal(qtest_readq(qts, RAM_BASE), 0x7777777704030201ull);
}

static void test_memset(void **state)
{
    uint8_t got[64];

    qtest_memset(qts, RAM_BASE, 0, sizeof(got));
    qtest_memset(qts, RAM_BASE + 8, 0xc3, 40);
    qtest_memread(qts, RAM_BASE, got, sizeof(got));
    for (size_t i = 0; i < sizeof(got); i++) {
        assert_int_equal(got[i], i >= 8 && i < 48 ? 0xc3 : 0);
    }
    /* Zero size does nothing; a wide pattern uses its low byte (QEMU). */
    expect_reply("OK", "memset 0x%" PRIx64 " 0 0x55", RAM_BASE);
    assert_int_equal(qtest_readb(qts, RAM_BASE), 0);
    expect_reply("OK", "memset 0x%" PRIx64 " 2 0x1a5", RAM_BASE);
    assert_int_equal(qtest_readw(qts, RAM_BASE), 0xa5a5);
}

static void test_large_transfer(void **state)
{
    /* Several MiB: libqtest splits it into 1 MiB commands. */
    size_t len = 3u << 20;
    g_autofree uint8_t *data = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);

    fill_random(data, len, 4);
    qtest_bufwrite(qts, RAM_BASE, data, len);
    qtest_memread(qts, RAM_BASE, got, len);
    assert_memory_equal(got, data, len);
}

/* ---- unassigned addresses ----------------------------------------------- */

static void test_unassigned_memory(void **state)
{
    uint8_t raw[8], b64[8];
    uint64_t q;

    /* Reads succeed (QEMU answers OK too) and every form agrees. */
    q = qtest_readq(qts, UNASSIGNED);
    qtest_memread(qts, UNASSIGNED, raw, sizeof(raw));
    qtest_bufread(qts, UNASSIGNED, b64, sizeof(b64));
    assert_int_equal(le_value(raw, 8), q);
    assert_memory_equal(raw, b64, sizeof(raw));
    assert_int_equal(qtest_readl(qts, UNASSIGNED + 4), q >> 32);
    assert_int_equal(qtest_readb(qts, UNASSIGNED), raw[0]);

    /* Writes are accepted and go nowhere. */
    qtest_writeq(qts, UNASSIGNED, ~q);
    qtest_memset(qts, UNASSIGNED, 0x12, 4096);
    qtest_bufwrite(qts, UNASSIGNED, raw, sizeof(raw));
    assert_int_equal(qtest_readq(qts, UNASSIGNED), q);

    /* The very top of the address space is reachable without wrapping. */
    qtest_readb(qts, UINT64_MAX);
    expect_reply("OK", "writeb 0xffffffffffffffff 1");
}

static void test_ram_edge(void **state)
{
    /* An access straddling the end of RAM reads RAM then unassigned. */
    uint64_t top = 512ull << 20;
    uint8_t got[4];
    uint8_t hole;

    qtest_memread(qts, top, &hole, 1);
    qtest_writew(qts, top - 2, 0xbeef);
    qtest_memread(qts, top - 2, got, 4);
    assert_int_equal(got[0], 0xef);
    assert_int_equal(got[1], 0xbe);
    assert_int_equal(got[2], hole);
}

/* ---- port I/O ----------------------------------------------------------- */

static void test_pio_forms(void **state)
{
    static const char *const ins[] = { "inb", "inw", "inl" };
    static const char *const outs[] = { "outb", "outw", "outl" };

    for (size_t i = 0; i < 3; i++) {
        g_autofree char *r = qtest_command(qts, "%s 0x1234", ins[i]);
        unsigned v;
        char tail;

        /* QEMU's form: "OK 0x%04x" (at least four digits). */
        assert_true(g_str_has_prefix(r, "OK 0x"));
        assert_true(strlen(r) >= strlen("OK 0x") + 4);
        assert_int_equal(sscanf(r, "OK 0x%x%c", &v, &tail), 1);
        expect_reply("OK", "%s 0x1234 0x0", outs[i]);
    }
    assert_int_equal(qtest_inb(qts, 0xffff) <= 0xff, 1);
}

/* ---- clock -------------------------------------------------------------- */

static int64_t now_ns(void)
{
    /* clock_set to 0 never moves the clock and answers with its value. */
    g_autofree char *r = qtest_command(qts, "clock_set 0");
    const char *num = g_str_has_prefix(r, "FAIL ") ? r + 5 : r + 3;
    int64_t v = -1;

    assert_int_equal(sscanf(num, "%" SCNd64, &v), 1);
    return v;
}

static void test_clock(void **state)
{
    int64_t t0 = now_ns(), t1, t2;
    g_autofree char *want = NULL;
    g_autofree char *past = NULL;
    g_autofree char *r = NULL;

    t1 = qtest_clock_step(qts, 1000);
    assert_int_equal(t1, t0 + 1000);
    t2 = qtest_clock_set(qts, t1 + 5000);
    assert_int_equal(t2, t1 + 5000);

    want = g_strdup_printf("OK %" PRIi64, t2 + 7);
    expect_reply(want, "clock_step 7");
    /* Setting the past fails and reports where the clock is. */
    past = g_strdup_printf("FAIL %" PRIi64, t2 + 7);
    expect_reply(past, "clock_set %" PRIi64, t0);
    /* A step of zero or less cannot advance time. */
    expect_reply("FAIL could not advance time", "clock_step 0");
    expect_reply("FAIL could not advance time", "clock_step -5");
    /* Stepping past INT64_MAX is refused rather than wrapped. */
    expect_fail("clock_step 0x7fffffffffffffff");
    assert_int_equal(now_ns(), t2 + 7);

    /* Without an argument: to the next deadline, or FAIL with none. */
    r = qtest_command(qts, "clock_step");
    if (g_str_has_prefix(r, "FAIL")) {
        assert_string_equal(r, "FAIL cannot advance clock to the next deadline "
                               "because there is no pending deadline");
    } else {
        assert_true(g_str_has_prefix(r, "OK "));
    }
}

/* ---- errors ------------------------------------------------------------- */

static void test_unknown_command(void **state)
{
    expect_reply("FAIL Unknown command 'frobnicate'", "frobnicate 1 2");
    expect_reply("FAIL Unknown command 'x-vtdnest-nope'", "x-vtdnest-nope");
    /* QEMU commands vtdnest does not implement are unknown, not crashes. */
    expect_reply("FAIL Unknown command 'irq_intercept_in'",
                 "irq_intercept_in ioapic");
}

static void test_bad_input_keeps_serving(void **state)
{
    static const char *const bad[] = {
        "readb", "readb 1 2", "readb 0xzz", "readb 12abc", "readb 0x",
        "readb 99999999999999999999999", "readq -", "writeb 0", "writeb 0 x",
        "writel 0 1 2", "read 0 0", "read 0", "read 0 0x7fffffffffffffff",
        "read 0xffffffffffffffff 2", "write 0 4 1234", "write 0 4 0xzz12",
        "write 0 4 0x123", "write 0 4 0x", "write 0 4", "b64write 0 4 !!!!",
        "b64write 0 4 AQ=I", "memset 0 4", "memset 0 4 q",
        "memset 0xffffffffffffff00 0x200 0", "memset 0 0xffffffffffffffff 0",
        "inb", "inb 0x10000", "outb 0x10000 1", "outw 1", "inl 0x-1",
        "clock_step abc", "clock_step 1 2", "clock_set", "clock_set 1x",
        "endianness extra", "x-vtdnest-msi-log extra", "x-vtdnest-help extra", "\t \t",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        expect_fail(bad[i]);
    }
}

static void test_nul_and_cr(void **state)
{
    static const char with_nul[] = "readb\0 0\n";
    g_autofree char *r = NULL;

    qtest_send_raw(qts, with_nul, sizeof(with_nul) - 1);
    r = qtest_recv_line(qts);
    assert_true(g_str_has_prefix(r, "FAIL "));
    /* A CR before the newline (telnet, socat crlf) is ignored. */
    qtest_writeb(qts, RAM_BASE, 0x42);
    qtest_send_raw(qts, "readb 0x200000\r\n", 16);
    g_free(r);
    r = qtest_recv_line(qts);
    assert_string_equal(r, "OK 0x0000000000000042");
}

static void test_partial_lines_and_pipelining(void **state)
{
    enum { N = 200 };
    GString *batch = g_string_new(NULL);
    uint8_t data[N];
    g_autofree char *r = NULL;

    /* One command split over several writes. */
    qtest_writeb(qts, RAM_BASE, 0x99);
    qtest_send_raw(qts, "rea", 3);
    qtest_send_raw(qts, "db 0x2", 6);
    qtest_send_raw(qts, "00000\n", 6);
    r = qtest_recv_line(qts);
    assert_string_equal(r, "OK 0x0000000000000099");

    /* Many commands in one write: one reply each, in order. */
    fill_random(data, N, 5);
    qtest_memwrite(qts, RAM_BASE, data, N);
    for (int i = 0; i < N; i++) {
        g_string_append_printf(batch, "readb 0x%" PRIx64 "\n", RAM_BASE + i);
    }
    qtest_send_raw(qts, batch->str, batch->len);
    g_string_free(batch, TRUE);
    for (int i = 0; i < N; i++) {
        g_autofree char *line = qtest_recv_line(qts);
        g_autofree char *want = g_strdup_printf("OK 0x%016x", data[i]);

        assert_string_equal(line, want);
    }
}

static void test_overlong_line(void **state)
{
    /* Longer than any legal command: dropped whole, answered with FAIL. */
    size_t len = 48u << 20;
    char *line = g_malloc(len + 1);
    g_autofree char *r = NULL;

    memset(line, 'a', len);
    line[len] = '\n';
    qtest_send_raw(qts, "write 0 1 0x", 12);
    qtest_send_raw(qts, line, len + 1);
    g_free(line);
    r = qtest_recv_line(qts);
    assert_true(g_str_has_prefix(r, "FAIL "));
    expect_reply("OK little", "endianness");
}

/* ---- x-vtdnest- extensions ---------------------------------------------- */

static void test_msi_log_extension(void **state)
{
    g_autofree char *help = NULL;

    expect_reply("OK", "x-vtdnest-msi-clear");
    expect_reply("OK 0", "x-vtdnest-msi-log");
    help = qtest_command(qts, "x-vtdnest-help");
    assert_true(g_str_has_prefix(help, "OK "));
    assert_non_null(strstr(help, " x-vtdnest-msi-log"));
    assert_non_null(strstr(help, " x-vtdnest-msi-clear"));
    assert_non_null(strstr(help, " readq"));
}

/* ---- other transports ---------------------------------------------------- */

static void test_qtest_log(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("vtdnest-log-XXXXXX", NULL);
    g_autofree char *log = g_build_filename(dir, "qtest.log", NULL);
    g_autofree char *args = g_strdup_printf("-m 64M -qtest-log %s", log);
    g_autofree char *text = NULL;
    QTestState *s = qtest_init(args);

    g_free(qtest_command(s, "readb 0x1000"));
    qtest_quit(s);
    assert_true(g_file_get_contents(log, &text, NULL, NULL));
    assert_non_null(strstr(text, "[R +"));
    assert_non_null(strstr(text, "readb 0x1000"));
    assert_non_null(strstr(text, "[S +"));
    assert_non_null(strstr(text, "OK 0x"));
    g_unlink(log);
    g_rmdir(dir);
}

static void test_stdio_transport(void **state)
{
    const char *bin = g_getenv("VTDNEST_BINARY");
    const char *argv[] = { bin, "-m", "64M", "-qtest", "stdio", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;
    int status = -1;
    GError *gerr = NULL;
    GSubprocess *p;

    if (!bin) {
        skip();
    }
    p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDIN_PIPE |
                          G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                          G_SUBPROCESS_FLAGS_STDERR_PIPE, &gerr);
    assert_non_null(p);
    /* The stream ends after the last line: vtdnest must answer, then quit. */
    assert_true(g_subprocess_communicate_utf8(
        p, "writel 0x1000 0xcafe\nreadl 0x1000\nnope\n", NULL, &out, &err,
        &gerr));
    assert_true(g_subprocess_get_if_exited(p));
    status = g_subprocess_get_exit_status(p);
    g_object_unref(p);
    assert_int_equal(status, 0);
    lines = g_strsplit(out, "\n", -1);
    assert_int_equal(g_strv_length(lines), 4);
    assert_string_equal(lines[0], "OK");
    assert_string_equal(lines[1], "OK 0x000000000000cafe");
    assert_string_equal(lines[2], "FAIL Unknown command 'nope'");
    assert_string_equal(lines[3], "");
}

/* Connect to vtdnest's server socket, retrying while it is being created
 * (bounded: 60 s). */
static int connect_retry(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return fd;
        }
        close(fd);
        assert_true(errno == ENOENT || errno == ECONNREFUSED);
        assert_true(g_get_monotonic_time() < deadline);
        g_usleep(10000);
    }
}

/* One request/reply on a raw qtest socket. */
static char *raw_command(int fd, const char *cmd)
{
    GString *rx = g_string_new(NULL);
    size_t len = strlen(cmd);

    assert_int_equal(send(fd, cmd, len, MSG_NOSIGNAL), (ssize_t)len);
    while (!memchr(rx->str, '\n', rx->len)) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char buf[256];
        ssize_t n;

        assert_int_equal(poll(&pfd, 1, 60000), 1);
        n = recv(fd, buf, sizeof(buf), 0);
        assert_true(n > 0);
        g_string_append_len(rx, buf, n);
    }
    g_strchomp(rx->str);
    return g_string_free(rx, FALSE);
}

static void test_server_socket_reconnect(void **state)
{
    const char *bin = g_getenv("VTDNEST_BINARY");
    g_autofree char *dir = g_dir_make_tmp("vtdnest-srv-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "qtest.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s,server=on,wait=off", path);
    const char *argv[] = { bin, "-m", "64M", "-qtest", spec, NULL };
    GError *gerr = NULL;
    GSubprocess *p;
    int fd;

    if (!bin) {
        skip();
    }
    p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDIN_PIPE, &gerr);
    assert_non_null(p);

    fd = connect_retry(path);
    g_free(raw_command(fd, "writeb 0x3000 0x77\n"));
    close(fd);
    /* The next client finds the same machine. */
    fd = connect_retry(path);
    {
        g_autofree char *r = raw_command(fd, "readb 0x3000\n");
        assert_string_equal(r, "OK 0x0000000000000077");
    }
    close(fd);

    /* SIGTERM is a clean exit that removes the socket. */
    g_subprocess_send_signal(p, SIGTERM);
    assert_true(g_subprocess_wait(p, NULL, &gerr));
    assert_true(g_subprocess_get_if_exited(p));
    assert_int_equal(g_subprocess_get_exit_status(p), 0);
    g_object_unref(p);
    assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_sized_roundtrip),
        cmocka_unit_test(test_little_endian_layout),
        cmocka_unit_test(test_write_value_truncated),
        cmocka_unit_test(test_number_forms),
        cmocka_unit_test(test_read_write_hex),
        cmocka_unit_test(test_write_short_and_long_data),
        cmocka_unit_test(test_b64_roundtrip),
        cmocka_unit_test(test_b64write_size_mismatch),
        cmocka_unit_test(test_memset),
        cmocka_unit_test(test_large_transfer),
        cmocka_unit_test(test_unassigned_memory),
        cmocka_unit_test(test_ram_edge),
        cmocka_unit_test(test_pio_forms),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_bad_input_keeps_serving),
        cmocka_unit_test(test_nul_and_cr),
        cmocka_unit_test(test_partial_lines_and_pipelining),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_msi_log_extension),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_qtest_log),
        cmocka_unit_test(test_stdio_transport),
        cmocka_unit_test(test_server_socket_reconnect),
    };
    int failed = cmocka_run_group_tests_name("qtest protocol", shared,
                                             start_machine, stop_machine);

    failed += cmocka_run_group_tests_name("qtest transports", own, NULL, NULL);
    return failed;
}
