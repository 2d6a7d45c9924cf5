/*
 * Character backends: stdio and unix sockets (client or one-at-a-time
 * server), line-split for the qtest and QMP frontends, on the GLib main loop.
 *
 * Input is read in bounded chunks and split into lines; a line longer than
 * the frontend's limit is dropped whole and reported once its newline shows
 * up, so the reply stays in order. Output to sockets is non-blocking with a
 * queue; while the queue is large we stop reading, so a client that never
 * reads its replies cannot make us buffer without bound.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

#include "machine/chardev.h"
#include "vtdnest/servers.h"

#define READ_CHUNK        65536
#define OUT_HIGH_WATER    (8u << 20) /* stop reading input above this */

typedef enum ChardevKind {
    CHARDEV_STDIO,
    CHARDEV_UNIX_CLIENT,
    CHARDEV_UNIX_SERVER,
} ChardevKind;

struct Chardev {
    char *id;           /* NULL for anonymous (-qtest unix:...) backends */
    char *label;        /* for messages */
    ChardevKind kind;
    char *path;         /* unix socket path */

    int listen_fd;      /* server only */
    guint listen_watch;

    int in_fd, out_fd;  /* -1 while nobody is connected */
    guint io_watch;
    GIOCondition io_cond;

    GString *in;        /* unprocessed input starts at in_head */
    size_t in_head;
    size_t scan_pos;    /* no '\n' in [in_head, scan_pos) */
    bool discarding;    /* inside an overlong line */
    size_t max_line;

    GString *out;       /* unsent output starts at out_head */
    size_t out_head;
    bool broken;        /* a write failed: disconnect at the next chance */
    bool dispatching;   /* frontend callbacks on the stack */

    const ChardevFrontend *fe;
    void *fe_opaque;
};

G_DEFINE_QUARK(vtdnest-servers-error-quark, servers_error)

static GHashTable *chardev_by_id;  /* id -> Chardev (owned) */
static GPtrArray *all_chardevs;    /* every Chardev, anonymous ones too */
static bool stdio_in_use;

static void chardev_update_watch(Chardev *c);
static void chardev_disconnect(Chardev *c);
static void chardev_free(gpointer p);

/* ---- registry and lifetime -------------------------------------------- */

static void chardev_cleanup_all(void)
{
    chardev_flush_all(1000);
    g_clear_pointer(&chardev_by_id, g_hash_table_destroy);
    g_clear_pointer(&all_chardevs, g_ptr_array_unref);
}

static void chardev_registry_init(void)
{
    if (all_chardevs) {
        return;
    }
    all_chardevs = g_ptr_array_new_with_free_func(chardev_free);
    chardev_by_id = g_hash_table_new(g_str_hash, g_str_equal);
    /* A client that hangs up must cost us an EPIPE, not the process. */
    signal(SIGPIPE, SIG_IGN);
    atexit(chardev_cleanup_all);
}

static Chardev *chardev_alloc(ChardevKind kind, const char *id,
                              const char *label)
{
    Chardev *c = g_new0(Chardev, 1);

    chardev_registry_init();
    c->kind = kind;
    c->id = g_strdup(id);
    c->label = g_strdup(label);
    c->listen_fd = c->in_fd = c->out_fd = -1;
    c->in = g_string_new(NULL);
    c->out = g_string_new(NULL);
    c->max_line = 1u << 20;
    g_ptr_array_add(all_chardevs, c);
    if (id) {
        g_hash_table_insert(chardev_by_id, c->id, c);
    }
    return c;
}

static void chardev_free(gpointer p)
{
    Chardev *c = p;

    if (c->io_watch) {
        g_source_remove(c->io_watch);
    }
    if (c->listen_watch) {
        g_source_remove(c->listen_watch);
    }
    if (c->kind != CHARDEV_STDIO && c->in_fd >= 0) {
        close(c->in_fd);
    }
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        /* Like QEMU, a server removes its socket file when it goes away. */
        unlink(c->path);
    }
    if (c->kind == CHARDEV_STDIO) {
        stdio_in_use = false;
    }
    g_string_free(c->in, TRUE);
    g_string_free(c->out, TRUE);
    g_free(c->id);
    g_free(c->label);
    g_free(c->path);
    g_free(c);
}

/* Remove a half-built chardev after a failed open. */
static void chardev_discard(Chardev *c)
{
    if (c->id) {
        g_hash_table_remove(chardev_by_id, c->id);
    }
    g_ptr_array_remove(all_chardevs, c);
}

Chardev *chardev_find(const char *id)
{
    return chardev_by_id ? g_hash_table_lookup(chardev_by_id, id) : NULL;
}

bool chardev_connected(const Chardev *c)
{
    return c->in_fd >= 0;
}

bool chardev_is_stdio(const Chardev *c)
{
    return c->kind == CHARDEV_STDIO;
}

bool chardev_accepts_reconnect(const Chardev *c)
{
    return c->kind == CHARDEV_UNIX_SERVER;
}

/* ---- output ------------------------------------------------------------ */

static size_t chardev_out_pending(const Chardev *c)
{
    return c->out->len - c->out_head;
}

/* Write as much queued output as the fd takes now. False on a hard error. */
static bool chardev_try_flush(Chardev *c)
{
    while (chardev_out_pending(c) > 0) {
        const char *p = c->out->str + c->out_head;
        size_t n = chardev_out_pending(c);
        ssize_t r;

        if (c->kind == CHARDEV_STDIO) {
            r = write(c->out_fd, p, n);
        } else {
            r = send(c->out_fd, p, n, MSG_NOSIGNAL);
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return false;
        }
        c->out_head += (size_t)r;
    }
    if (c->out_head == c->out->len) {
        g_string_truncate(c->out, 0);
        c->out_head = 0;
    } else if (c->out_head > c->out->len / 2) {
        g_string_erase(c->out, 0, c->out_head);
        c->out_head = 0;
    }
    return true;
}

void chardev_write(Chardev *c, const char *buf, size_t len)
{
    if (c->out_fd < 0 || c->broken) {
        return;
    }
    g_string_append_len(c->out, buf, len);
    if (!chardev_try_flush(c)) {
        c->broken = true;
    }
    if (!c->dispatching) {
        if (c->broken) {
            chardev_disconnect(c);
        } else {
            chardev_update_watch(c);
        }
    }
}

/* Blocking-ish flush for shutdown and EOF: poll until sent or timed out. */
static void chardev_drain(Chardev *c, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (c->out_fd >= 0 && !c->broken && chardev_out_pending(c) > 0) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        struct pollfd pfd = { .fd = c->out_fd, .events = POLLOUT };

        if (left <= 0) {
            break;
        }
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
            break;
        }
        if (!chardev_try_flush(c)) {
            c->broken = true;
        }
    }
}

void chardev_flush_all(int timeout_ms)
{
    if (!all_chardevs) {
        return;
    }
    for (guint i = 0; i < all_chardevs->len; i++) {
        chardev_drain(g_ptr_array_index(all_chardevs, i), timeout_ms);
    }
}

/* ---- input ------------------------------------------------------------- */

/* Hand complete lines to the frontend while output is not backed up. */
static void chardev_dispatch_lines(Chardev *c)
{
    c->dispatching = true;
    while (c->fe && !c->broken && c->in_fd >= 0 &&
           chardev_out_pending(c) < OUT_HIGH_WATER) {
        char *start = c->in->str + c->in_head;
        char *scan = c->in->str + c->scan_pos;
        char *nl = memchr(scan, '\n', c->in->len - c->scan_pos);
        size_t len;

        if (!nl) {
            c->scan_pos = c->in->len;
            break;
        }
        len = (size_t)(nl - start);
        c->in_head += len + 1;
        c->scan_pos = c->in_head;
        if (c->discarding || len > c->max_line) {
            /* The tail of an overlong line: report it now, in order. */
            c->discarding = false;
            c->fe->overlong(c->fe_opaque, c->max_line);
            continue;
        }
        if (len > 0 && start[len - 1] == '\r') {
            len--;
        }
        start[len] = '\0';
        c->fe->line(c->fe_opaque, start, len);
    }
    c->dispatching = false;

    /* Compact consumed input. */
    if (c->in_head == c->in->len) {
        g_string_truncate(c->in, 0);
        c->in_head = c->scan_pos = 0;
    } else if (c->in_head > c->in->len / 2) {
        g_string_erase(c->in, 0, c->in_head);
        c->scan_pos -= c->in_head;
        c->in_head = 0;
    }
    /* A partial line already over the limit is dropped until its end.
     * scan_pos at the end means the loop saw no newline in what is left. */
    if (c->scan_pos == c->in->len && c->in->len - c->in_head > c->max_line) {
        g_string_truncate(c->in, 0);
        c->in_head = c->scan_pos = 0;
        c->discarding = true;
    }
}

/* Append freshly read bytes; while discarding, drop everything up to '\n'. */
static void chardev_take_input(Chardev *c, const char *buf, size_t n)
{
    if (c->discarding && c->in->len == c->in_head) {
        const char *nl = memchr(buf, '\n', n);

        if (!nl) {
            return;
        }
        /* Keep the newline so dispatch reports the dropped line. */
        n -= (size_t)(nl - buf);
        buf = nl;
    }
    g_string_append_len(c->in, buf, n);
}

static gboolean chardev_io_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Chardev *c = opaque;

    if (cond & G_IO_OUT) {
        if (!chardev_try_flush(c)) {
            c->broken = true;
        }
    }
    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        char buf[READ_CHUNK];
        ssize_t n;

        do {
            n = read(c->in_fd, buf, sizeof(buf));
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            chardev_take_input(c, buf, (size_t)n);
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            /* EOF: answer what is complete, then let the client go. */
            chardev_dispatch_lines(c);
            chardev_drain(c, 1000);
            c->io_watch = 0;
            chardev_disconnect(c);
            return G_SOURCE_REMOVE;
        }
    }
    chardev_dispatch_lines(c);
    if (c->broken) {
        c->io_watch = 0;
        chardev_disconnect(c);
        return G_SOURCE_REMOVE;
    }
    chardev_update_watch(c);
    return G_SOURCE_CONTINUE;
}

/*
 * Watch for input unless output is backed up, for output while some is
 * queued. Input and output are the same fd for sockets; for stdio only the
 * input side is watched (stdout writes block, as QEMU's do).
 */
static void chardev_update_watch(Chardev *c)
{
    GIOCondition want = 0;

    if (c->in_fd < 0 || !c->fe) {
        return;
    }
    if (chardev_out_pending(c) < OUT_HIGH_WATER) {
        want |= G_IO_IN;
    }
    if (chardev_out_pending(c) > 0 && c->out_fd == c->in_fd) {
        want |= G_IO_OUT;
    }
    if (c->io_watch && want == c->io_cond) {
        return;
    }
    if (c->io_watch) {
        g_source_remove(c->io_watch);
        c->io_watch = 0;
    }
    c->io_cond = want;
    if (want) {
        c->io_watch = g_unix_fd_add(c->in_fd, want, chardev_io_ready, c);
    }
}

/* ---- connection state -------------------------------------------------- */

static gboolean chardev_accept_ready(gint fd, GIOCondition cond, gpointer opaque);

static void chardev_listen_watch(Chardev *c)
{
    if (!c->listen_watch && c->listen_fd >= 0) {
        c->listen_watch = g_unix_fd_add(c->listen_fd, G_IO_IN,
                                        chardev_accept_ready, c);
    }
}

static void chardev_connected_fd(Chardev *c, int in_fd, int out_fd)
{
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->broken = false;
    c->discarding = false;
    g_string_truncate(c->in, 0);
    g_string_truncate(c->out, 0);
    c->in_head = c->scan_pos = c->out_head = 0;
    if (c->fe) {
        c->fe->opened(c->fe_opaque);
        chardev_update_watch(c);
    }
}

static void chardev_disconnect(Chardev *c)
{
    if (c->in_fd < 0) {
        return;
    }
    if (c->io_watch) {
        g_source_remove(c->io_watch);
        c->io_watch = 0;
    }
    if (c->kind != CHARDEV_STDIO) {
        close(c->in_fd);
    }
    c->in_fd = c->out_fd = -1;
    g_string_truncate(c->in, 0);
    g_string_truncate(c->out, 0);
    c->in_head = c->scan_pos = c->out_head = 0;
    c->discarding = false;
    if (c->fe) {
        c->fe->closed(c->fe_opaque);
    }
    /* A server takes the next client; QEMU serves one at a time too. */
    chardev_listen_watch(c);
}

/* After a back-off, watch the listening socket again. */
static gboolean chardev_accept_retry(gpointer opaque)
{
    Chardev *c = opaque;

    c->listen_watch = 0;
    chardev_listen_watch(c);
    return G_SOURCE_REMOVE;
}

static gboolean chardev_accept_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    Chardev *c = opaque;
    int conn = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (conn < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
            /* Out of descriptors or memory: the pending client keeps the
             * socket readable, so polling again at once would spin. Back
             * off and retry. */
            c->listen_watch = g_timeout_add(100, chardev_accept_retry, c);
            return G_SOURCE_REMOVE;
        }
        /* EAGAIN, ECONNABORTED...: nothing to serve right now. */
        return G_SOURCE_CONTINUE;
    }
    c->listen_watch = 0;
    chardev_connected_fd(c, conn, conn);
    return G_SOURCE_REMOVE;
}

bool chardev_attach(Chardev *c, const ChardevFrontend *fe, void *opaque,
                    size_t max_line, GError **errp)
{
    if (c->fe) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "Character device '%s' is already in use", c->label);
        return false;
    }
    c->fe = fe;
    c->fe_opaque = opaque;
    c->max_line = max_line;
    if (c->in_fd >= 0) {
        fe->opened(opaque);
        chardev_update_watch(c);
    } else {
        chardev_listen_watch(c);
    }
    return true;
}

/* ---- backends ---------------------------------------------------------- */

static bool unix_addr(const char *path, struct sockaddr_un *sa, GError **errp)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (!path || !*path) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "unix socket path is empty");
        return false;
    }
    if (strlen(path) >= sizeof(sa->sun_path)) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "unix socket path '%s' is too long (max %zu bytes)",
                    path, sizeof(sa->sun_path) - 1);
        return false;
    }
    strcpy(sa->sun_path, path);
    return true;
}

static bool open_unix_client(Chardev *c, GError **errp)
{
    struct sockaddr_un sa;
    int fd;

    if (!unix_addr(c->path, &sa, errp)) {
        return false;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "socket: %s", g_strerror(errno));
        return false;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;

        close(fd);
        g_set_error(errp, SERVERS_ERROR, 0,
                    "Failed to connect to '%s': %s", c->path, g_strerror(err));
        return false;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    chardev_connected_fd(c, fd, fd);
    return true;
}

static bool open_unix_server(Chardev *c, bool wait, GError **errp)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    if (!unix_addr(c->path, &sa, errp)) {
        return false;
    }
    /* A stale socket from an earlier run would make bind fail; other
     * kinds of file are left alone. */
    if (lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(c->path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "socket: %s", g_strerror(errno));
        return false;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        int err = errno;

        close(fd);
        g_set_error(errp, SERVERS_ERROR, 0,
                    "Failed to listen on '%s': %s", c->path, g_strerror(err));
        return false;
    }
    c->listen_fd = fd;
    if (wait) {
        int conn;

        fprintf(stderr, "vtdnest: waiting for connection on unix:%s,server=on\n",
                c->path);
        do {
            conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        } while (conn < 0 && errno == EINTR);
        if (conn < 0) {
            g_set_error(errp, SERVERS_ERROR, 0,
                        "accept on '%s': %s", c->path, g_strerror(errno));
            return false;
        }
        chardev_connected_fd(c, conn, conn);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return true;
}

static bool open_stdio(Chardev *c, GError **errp)
{
    if (stdio_in_use) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "cannot use stdio by multiple character devices");
        return false;
    }
    stdio_in_use = true;
    chardev_connected_fd(c, STDIN_FILENO, STDOUT_FILENO);
    return true;
}

/* ---- option parsing ---------------------------------------------------- */

typedef struct ChardevConfig {
    char *backend;  /* "socket" or "stdio" */
    char *id;
    char *path;
    int server;     /* -1 unset */
    int wait;       /* -1 unset */
} ChardevConfig;

static void chardev_config_clear(ChardevConfig *cfg)
{
    g_free(cfg->backend);
    g_free(cfg->id);
    g_free(cfg->path);
}

static bool parse_on_off(const char *key, const char *val, int *out,
                         GError **errp)
{
    static const char *const yes[] = { "on", "yes", "true", "y", NULL };
    static const char *const no[] = { "off", "no", "false", "n", NULL };

    if (!val) {                     /* bare "server" means server=on */
        *out = 1;
        return true;
    }
    if (g_strv_contains(yes, val)) {
        *out = 1;
        return true;
    }
    if (g_strv_contains(no, val)) {
        *out = 0;
        return true;
    }
    g_set_error(errp, SERVERS_ERROR, 0,
                "Parameter '%s' expects 'on' or 'off', not '%s'", key, val);
    return false;
}

/* Split "a,b=c,,d" at single commas; ",," is a literal comma. */
static GPtrArray *split_options(const char *s)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);

    for (const char *p = s; ; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',' || *p == '\0') {
            g_ptr_array_add(parts, g_string_free(cur, FALSE));
            if (*p == '\0') {
                break;
            }
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    return parts;
}

/* Apply "key[=value]" items from index first on. */
static bool parse_items(GPtrArray *parts, guint first, ChardevConfig *cfg,
                        GError **errp)
{
    for (guint i = first; i < parts->len; i++) {
        const char *item = g_ptr_array_index(parts, i);
        const char *eq = strchr(item, '=');
        g_autofree char *key = eq ? g_strndup(item, (gsize)(eq - item))
                                  : g_strdup(item);
        const char *val = eq ? eq + 1 : NULL;

        if (!*item) {
            continue; /* tolerate "a,,b"-free empty items such as a trailing ',' */
        }
        if (!strcmp(key, "server")) {
            if (!parse_on_off(key, val, &cfg->server, errp)) {
                return false;
            }
        } else if (!strcmp(key, "wait")) {
            if (!parse_on_off(key, val, &cfg->wait, errp)) {
                return false;
            }
        } else if (!strcmp(key, "nowait") && !val) {
            cfg->wait = 0;
        } else if (!strcmp(key, "id") && val) {
            g_free(cfg->id);
            cfg->id = g_strdup(val);
        } else if (!strcmp(key, "path") && val) {
            g_free(cfg->path);
            cfg->path = g_strdup(val);
        } else if (!strcmp(key, "signal") && cfg->backend &&
                   !strcmp(cfg->backend, "stdio")) {
            int ignored;

            if (!parse_on_off(key, val, &ignored, errp)) {
                return false;
            }
        } else if (!strcmp(key, "host") || !strcmp(key, "port")) {
            g_set_error(errp, SERVERS_ERROR, 0,
                        "TCP sockets are not supported; use path=PATH for a "
                        "unix socket");
            return false;
        } else {
            g_set_error(errp, SERVERS_ERROR, 0,
                        "Invalid parameter '%s'", key);
            return false;
        }
    }
    return true;
}

static Chardev *chardev_open_config(const ChardevConfig *cfg, const char *label,
                                    GError **errp)
{
    Chardev *c;
    bool ok;

    if (!strcmp(cfg->backend, "stdio")) {
        if (cfg->server >= 0 || cfg->wait >= 0 || cfg->path) {
            g_set_error(errp, SERVERS_ERROR, 0,
                        "stdio takes no path, server or wait options");
            return NULL;
        }
        c = chardev_alloc(CHARDEV_STDIO, cfg->id, label);
        ok = open_stdio(c, errp);
    } else if (!strcmp(cfg->backend, "socket")) {
        bool server = cfg->server == 1;

        if (!cfg->path) {
            g_set_error(errp, SERVERS_ERROR, 0,
                        "a socket needs path=PATH (unix sockets only)");
            return NULL;
        }
        if (!server && cfg->wait >= 0) {
            g_set_error(errp, SERVERS_ERROR, 0,
                        "'wait' option is incompatible with socket in client "
                        "connect mode");
            return NULL;
        }
        c = chardev_alloc(server ? CHARDEV_UNIX_SERVER : CHARDEV_UNIX_CLIENT,
                          cfg->id, label);
        c->path = g_strdup(cfg->path);
        /* QEMU's default for a server is to wait for the first client. */
        ok = server ? open_unix_server(c, cfg->wait != 0, errp)
                    : open_unix_client(c, errp);
    } else {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "'%s' is not a valid char driver name (use socket or stdio)",
                    cfg->backend);
        return NULL;
    }
    if (!ok) {
        chardev_discard(c);
        return NULL;
    }
    return c;
}

bool chardev_create(const char *opts, GError **errp)
{
    g_autoptr(GPtrArray) parts = split_options(opts ? opts : "");
    ChardevConfig cfg = { .server = -1, .wait = -1 };
    const char *first = g_ptr_array_index(parts, 0);
    bool ok = false;

    chardev_registry_init();
    if (!*first || strchr(first, '=')) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "the backend (socket or stdio) must come first in '%s'",
                    opts ? opts : "");
        return false;
    }
    cfg.backend = g_strdup(first);
    if (!parse_items(parts, 1, &cfg, errp)) {
        goto out;
    }
    if (!cfg.id || !*cfg.id) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "Parameter 'id' is missing");
        goto out;
    }
    if (chardev_find(cfg.id)) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "Duplicate ID '%s' for chardev", cfg.id);
        goto out;
    }
    ok = chardev_open_config(&cfg, cfg.id, errp) != NULL;
out:
    chardev_config_clear(&cfg);
    return ok;
}

Chardev *chardev_open_spec(const char *spec, const char *label, GError **errp)
{
    g_autoptr(GPtrArray) parts = NULL;
    ChardevConfig cfg = { .server = -1, .wait = -1 };
    const char *first;
    Chardev *c = NULL;

    chardev_registry_init();
    if (g_str_has_prefix(spec, "chardev:")) {
        c = chardev_find(spec + strlen("chardev:"));
        if (!c) {
            g_set_error(errp, SERVERS_ERROR, 0,
                        "Cannot find character device '%s'",
                        spec + strlen("chardev:"));
        }
        return c;
    }
    parts = split_options(spec);
    first = g_ptr_array_index(parts, 0);
    if (!strcmp(first, "stdio")) {
        cfg.backend = g_strdup("stdio");
    } else if (g_str_has_prefix(first, "unix:")) {
        cfg.backend = g_strdup("socket");
        cfg.path = g_strdup(first + strlen("unix:"));
    } else {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "unsupported backend '%s' (use stdio, unix:PATH or "
                    "chardev:ID)", spec);
        return NULL;
    }
    if (parse_items(parts, 1, &cfg, errp)) {
        c = chardev_open_config(&cfg, label, errp);
    }
    chardev_config_clear(&cfg);
    return c;
}
