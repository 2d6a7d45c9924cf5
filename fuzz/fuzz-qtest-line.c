/*
 * Fuzz target: the qtest server on a whole machine (intel-iommu with most
 * capabilities, iommu-testdev with ATS/PRI/PASID at 00:02.0, edu at
 * 00:03.0, 2 MiB of RAM). The input is protocol text: it is sent as is over
 * a unix socket to the real server (machine/qtest.c behind its chardev),
 * so line splitting, argument parsing and every command reach the devices
 * exactly as a client's would.
 *
 * The server has no entry point that takes a line and a Machine: it is
 * attached to a chardev. So the target opens a listening socket, points
 * "-qtest unix:PATH" at it once, and then pumps the GLib main context
 * itself while writing input and reading replies.
 *
 * Invariants: no crash; every input line gets exactly one reply line, and
 * each reply starts with "OK" or "FAIL".
 *
 * Between inputs the machine is reset and RAM cleared, so an input behaves
 * the same whatever ran before (only the virtual clock keeps going).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>

#include "vtdnest/machine.h"
#include "vtdnest/opts.h"
#include "vtdnest/pci.h"
#include "vtdnest/servers.h"

#define RAM_SIZE        (2ULL << 20)
/* A reply that does not come in this long is a lost reply, not slowness. */
#define REPLY_TIMEOUT_US (20 * G_USEC_PER_SEC)

static const char *const devices[] = {
    ("intel-iommu,intremap=on,device-iotlb=on,scalable-mode=on,flts=on,"
     "x-ssts=on,pasid-bits=20,x-prs=on,x-srs=on,x-nfr=4"),
    "iommu-testdev,ats=on,pri=on,pasid-cap=on,addr=2.0",
    "edu,addr=3.0",
};

static Machine *machine;
static int client = -1;

static void G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "fuzz-qtest-line: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void clear_ram(void *opaque, uint64_t gpa, uint64_t size, uint8_t *host,
                      bool readonly)
{
    memset(host, 0, size);
}

/* A listening socket in a fresh temporary directory; *path is its name. */
static int listen_tmp(char **path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vtdnest-fuzz-XXXXXX", &err);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (!dir) {
        die("temporary directory: %s", err->message);
    }
    *path = g_build_filename(dir, "qtest.sock", NULL);
    if (strlen(*path) >= sizeof(sa.sun_path)) {
        die("socket path too long: %s", *path);
    }
    strcpy(sa.sun_path, *path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 1) < 0) {
        die("listen on %s: %s", *path, g_strerror(errno));
    }
    return fd;
}

static void setup(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree char *spec = NULL;
    g_autofree char *dir = NULL;
    int lfd;

    machine = machine_new(RAM_SIZE, &err);
    if (!machine) {
        die("machine_new: %s", err->message);
    }
    machine_set_pci_root(machine, pci_root_bus_new(machine));
    for (size_t i = 0; i < G_N_ELEMENTS(devices); i++) {
        DeviceOpts *o = opts_parse(devices[i], "driver", &err);

        if (!o || !machine_create_device(machine, o, &err)) {
            die("-device %s: %s", devices[i], err->message);
        }
        opts_free(o);
    }
    machine_system_reset(machine);

    lfd = listen_tmp(&path);
    spec = g_strdup_printf("unix:%s", path);
    /* Client mode: connects now, and the backlog holds the connection. */
    if (!qtest_server_init(machine, spec, NULL, &err)) {
        die("qtest_server_init: %s", err->message);
    }
    client = accept(lfd, NULL, NULL);
    if (client < 0) {
        die("accept: %s", g_strerror(errno));
    }
    fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK);
    close(lfd);
    dir = g_path_get_dirname(path);
    unlink(path);
    rmdir(dir);
}

/* "OK" or "FAIL", alone or followed by a space. */
static bool reply_well_formed(const char *line, size_t len)
{
    return (len >= 2 && !memcmp(line, "OK", 2) && (len == 2 || line[2] == ' ')) ||
           (len >= 4 && !memcmp(line, "FAIL", 4) && (len == 4 || line[4] == ' '));
}

/* Check complete reply lines at the front of rx; drop them. */
static size_t take_replies(GString *rx)
{
    size_t n = 0, start = 0;
    const char *nl;

    while ((nl = memchr(rx->str + start, '\n', rx->len - start))) {
        size_t len = (size_t)(nl - (rx->str + start));

        if (!reply_well_formed(rx->str + start, len)) {
            die("malformed reply: '%.*s'", (int)MIN(len, 200),
                rx->str + start);
        }
        n++;
        start += len + 1;
    }
    g_string_erase(rx, 0, start);
    return n;
}

/* Read what the server sent; true if anything came. */
static bool pull(GString *rx)
{
    char buf[65536];
    bool got = false;
    ssize_t r;

    while ((r = read(client, buf, sizeof(buf))) > 0) {
        g_string_append_len(rx, buf, r);
        got = true;
    }
    if (r == 0) {
        die("the qtest server closed the connection");
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        die("read: %s", g_strerror(errno));
    }
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GString) tx = g_string_new_len((const char *)data, size);
    g_autoptr(GString) rx = g_string_new(NULL);
    size_t sent = 0, expected = 0, received = 0;
    gint64 last_progress;

    if (!machine) {
        setup();
    }
    machine_system_reset(machine);
    machine_foreach_ram(machine, clear_ram, NULL);
    machine_msi_log_clear(machine);

    /* Every line ends with '\n' so nothing is left half-sent. */
    if (!tx->len || tx->str[tx->len - 1] != '\n') {
        g_string_append_c(tx, '\n');
    }
    for (size_t i = 0; i < tx->len; i++) {
        expected += tx->str[i] == '\n';
    }

    last_progress = g_get_monotonic_time();
    while (received < expected) {
        bool progress = false;

        if (sent < tx->len) {
            ssize_t w = write(client, tx->str + sent, tx->len - sent);

            if (w > 0) {
                sent += (size_t)w;
                progress = true;
            } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR) {
                die("write: %s", g_strerror(errno));
            }
        }
        progress |= g_main_context_iteration(NULL, FALSE);
        if (pull(rx)) {
            received += take_replies(rx);
            progress = true;
        }
        if (progress) {
            last_progress = g_get_monotonic_time();
        } else if (g_get_monotonic_time() - last_progress > REPLY_TIMEOUT_US) {
            die("%zu of %zu replies after %d s without progress", received,
                expected, (int)(REPLY_TIMEOUT_US / G_USEC_PER_SEC));
        } else {
            struct pollfd p = { .fd = client,
                                .events = POLLIN | (sent < tx->len ? POLLOUT : 0) };
            poll(&p, 1, 1);
        }
    }
    if (received > expected) {
        die("%zu replies to %zu lines", received, expected);
    }
    /* Nothing more may follow: the server is idle once all is answered. */
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    if (pull(rx) || rx->len) {
        die("output beyond the %zu replies: '%.*s'", expected,
            (int)MIN(rx->len, 200), rx->str);
    }
    return 0;
}
