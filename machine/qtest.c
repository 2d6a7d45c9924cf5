/*
 * The qtest server: QEMU's line protocol for driving the machine from a test
 * (memory and port accesses, the virtual clock), with QEMU's reply forms so
 * that QEMU's libqtest and scripts written for it work unchanged.
 *
 * Every input line gets exactly one reply line. Where QEMU would assert on
 * bad input (missing arguments, junk numbers, zero-length read, ports above
 * 0xffff) we answer "FAIL <reason>" and keep serving. See
 * docs/qtest-protocol.md for the wire format.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/chardev.h"
#include "vtdnest/servers.h"

/* Largest read/write/b64read/b64write payload, in bytes. */
#define QTEST_MAX_XFER    (16u << 20)
/* A write line carries two hex digits per byte plus the command. */
#define QTEST_MAX_LINE    (2u * QTEST_MAX_XFER + 4096)
/* memset touches memory in chunks; this bounds one command's work. */
#define QTEST_MAX_MEMSET  (64ull << 30)
#define QTEST_MEMSET_CHUNK (1u << 20)

typedef struct QtestServer {
    Machine *m;
    Chardev *chr;
    FILE *log;
    GTimer *timer;      /* log timestamps, restarted per client */
} QtestServer;

typedef struct QtestExtra {
    QtestCommandFn fn;
    void *opaque;
} QtestExtra;

static QtestServer *qtest;
static GHashTable *qtest_extras;    /* name -> QtestExtra */

/* ---- argument parsing (QEMU's qemu_strtou64/qemu_strtoi64 rules) ------- */

/* strtoull with base 0; rejects empty, trailing junk and overflow.
 * A leading '-' wraps, as strtoull (and QEMU) does. */
static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s) {
        return false;
    }
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *end) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s) {
        return false;
    }
    errno = 0;
    v = strtoll(s, &end, 0);
    if (errno || end == s || *end) {
        return false;
    }
    *out = v;
    return true;
}

/* ---- reply helpers ----------------------------------------------------- */

typedef struct QtestCmd QtestCmd;

typedef struct QtestCall {
    const QtestCmd *cmd;
    char **words;
    int nwords;
    GString *reply;
} QtestCall;

static void G_GNUC_PRINTF(2, 3) fail(QtestCall *c, const char *fmt, ...)
{
    va_list ap;

    g_string_assign(c->reply, "FAIL ");
    va_start(ap, fmt);
    g_string_append_vprintf(c->reply, fmt, ap);
    va_end(ap);
}

static bool arg_u64(QtestCall *c, int i, const char *what, uint64_t *out)
{
    if (!parse_u64(c->words[i], out)) {
        fail(c, "%s: invalid %s '%s'", c->words[0], what, c->words[i]);
        return false;
    }
    return true;
}

static bool arg_i64(QtestCall *c, int i, const char *what, int64_t *out)
{
    if (!parse_i64(c->words[i], out)) {
        fail(c, "%s: invalid %s '%s'", c->words[0], what, c->words[i]);
        return false;
    }
    return true;
}

/* [addr, addr+len) must not wrap past the top of the address space. */
static bool check_range(QtestCall *c, uint64_t addr, uint64_t len, uint64_t max)
{
    if (len > max) {
        fail(c, "%s: size 0x%" PRIx64 " is too large (max 0x%" PRIx64 ")",
             c->words[0], len, max);
        return false;
    }
    if (len && addr > UINT64_MAX - (len - 1)) {
        fail(c, "%s: range 0x%" PRIx64 "+0x%" PRIx64
             " wraps around the address space", c->words[0], addr, len);
        return false;
    }
    return true;
}

/* Access width from the command's size letter: b, w, l or q. */
static unsigned width_of(char letter)
{
    switch (letter) {
    case 'b': return 1;
    case 'w': return 2;
    case 'l': return 4;
    default:  return 8;
    }
}

static void mem_read(uint64_t addr, void *buf, uint64_t len)
{
    /* Unassigned addresses read as zero unless the machine says otherwise;
     * like QEMU, the access itself still answers OK. */
    memset(buf, 0, len);
    machine_mem_rw(qtest->m, addr, buf, len, false);
}

static void mem_write(uint64_t addr, const void *buf, uint64_t len)
{
    machine_mem_rw(qtest->m, addr, (void *)buf, len, true);
}

/* ---- commands ---------------------------------------------------------- */

typedef void (*QtestHandler)(QtestCall *c);

struct QtestCmd {
    const char *name;
    int min_args, max_args;   /* not counting the command word */
    const char *usage;
    QtestHandler fn;
};

static void cmd_read_sized(QtestCall *c)
{
    unsigned size = width_of(c->words[0][4]);
    uint8_t buf[8];
    uint64_t addr, value = 0;

    if (!arg_u64(c, 1, "address", &addr) || !check_range(c, addr, size, 8)) {
        return;
    }
    mem_read(addr, buf, size);
    for (unsigned i = 0; i < size; i++) {
        value |= (uint64_t)buf[i] << (8 * i);      /* x86: little endian */
    }
    /* QEMU prints every width as 16 hex digits. */
    g_string_printf(c->reply, "OK 0x%016" PRIx64, value);
}

static void cmd_write_sized(QtestCall *c)
{
    unsigned size = width_of(c->words[0][5]);
    uint8_t buf[8];
    uint64_t addr, value;

    if (!arg_u64(c, 1, "address", &addr) || !arg_u64(c, 2, "value", &value) ||
        !check_range(c, addr, size, 8)) {
        return;
    }
    /* Like QEMU, the value is truncated to the access width. */
    for (unsigned i = 0; i < size; i++) {
        buf[i] = (uint8_t)(value >> (8 * i));
    }
    mem_write(addr, buf, size);
    g_string_assign(c->reply, "OK");
}

static bool parse_port(QtestCall *c, uint64_t *port)
{
    if (!arg_u64(c, 1, "port", port)) {
        return false;
    }
    if (*port > 0xffff) {
        fail(c, "%s: port 0x%" PRIx64 " is above 0xffff", c->words[0], *port);
        return false;
    }
    return true;
}

static void cmd_in(QtestCall *c)
{
    uint64_t port;
    uint32_t value;
    unsigned size = width_of(c->words[0][2]);

    if (!parse_port(c, &port)) {
        return;
    }
    value = machine_pio_read(qtest->m, (uint16_t)port, size);
    if (size < 4) {
        value &= (1u << (8 * size)) - 1;
    }
    g_string_printf(c->reply, "OK 0x%04x", value);
}

static void cmd_out(QtestCall *c)
{
    uint64_t port, value;
    unsigned size = width_of(c->words[0][3]);

    if (!parse_port(c, &port) || !arg_u64(c, 2, "value", &value)) {
        return;
    }
    if (size < 4) {
        value &= (1u << (8 * size)) - 1;
    }
    machine_pio_write(qtest->m, (uint16_t)port, (uint32_t)value, size);
    g_string_assign(c->reply, "OK");
}

static void cmd_read(QtestCall *c)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t addr, len;
    g_autofree uint8_t *data = NULL;

    if (!arg_u64(c, 1, "address", &addr) || !arg_u64(c, 2, "size", &len) ||
        !check_range(c, addr, len, QTEST_MAX_XFER)) {
        return;
    }
    if (len == 0) {
        fail(c, "read: size must not be zero");
        return;
    }
    data = g_malloc(len);
    mem_read(addr, data, len);
    g_string_set_size(c->reply, 0);
    g_string_append(c->reply, "OK 0x");
    for (uint64_t i = 0; i < len; i++) {
        g_string_append_c(c->reply, hex[data[i] >> 4]);
        g_string_append_c(c->reply, hex[data[i] & 0xf]);
    }
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

static void cmd_write(QtestCall *c)
{
    const char *digits = c->words[3];
    uint64_t addr, len;
    size_t ndigits;
    g_autofree uint8_t *data = NULL;

    if (!arg_u64(c, 1, "address", &addr) || !arg_u64(c, 2, "size", &len) ||
        !check_range(c, addr, len, QTEST_MAX_XFER)) {
        return;
    }
    if (digits[0] != '0' || (digits[1] != 'x' && digits[1] != 'X')) {
        fail(c, "write: DATA must start with 0x");
        return;
    }
    digits += 2;
    ndigits = strlen(digits);
    if (ndigits == 0 || ndigits % 2) {
        fail(c, "write: DATA needs an even, non-zero number of hex digits");
        return;
    }
    for (size_t i = 0; i < ndigits; i++) {
        if (hex_digit(digits[i]) < 0) {
            fail(c, "write: invalid hex digit '%c' in DATA", digits[i]);
            return;
        }
    }
    /* QEMU semantics: short data is zero-filled, extra data ignored. */
    data = g_malloc0(len ? len : 1);
    for (uint64_t i = 0; i < len && 2 * i < ndigits; i++) {
        data[i] = (uint8_t)(hex_digit(digits[2 * i]) << 4 |
                            hex_digit(digits[2 * i + 1]));
    }
    mem_write(addr, data, len);
    g_string_assign(c->reply, "OK");
}

static void cmd_b64read(QtestCall *c)
{
    uint64_t addr, len;
    g_autofree uint8_t *data = NULL;
    g_autofree char *b64 = NULL;

    if (!arg_u64(c, 1, "address", &addr) || !arg_u64(c, 2, "size", &len) ||
        !check_range(c, addr, len, QTEST_MAX_XFER)) {
        return;
    }
    data = g_malloc(len ? len : 1);
    mem_read(addr, data, len);
    b64 = g_base64_encode(data, len);
    /* For size 0 this is "OK " with an empty payload, as QEMU sends. */
    g_string_printf(c->reply, "OK %s", b64);
}

static bool is_base64(const char *s)
{
    size_t n = strlen(s), pad = 0;

    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (ch == '=') {
            pad++;
        } else if (pad || !(g_ascii_isalnum(ch) || ch == '+' || ch == '/')) {
            return false;  /* bad character, or data after padding */
        }
    }
    return pad <= 2 && n % 4 != 1;
}

static void cmd_b64write(QtestCall *c)
{
    uint64_t addr, len;
    gsize decoded_len = 0;
    g_autofree uint8_t *decoded = NULL;

    if (!arg_u64(c, 1, "address", &addr) || !arg_u64(c, 2, "size", &len) ||
        !check_range(c, addr, len, QTEST_MAX_XFER)) {
        return;
    }
    if (!is_base64(c->words[3])) {
        fail(c, "b64write: DATA is not valid base64");
        return;
    }
    decoded = g_base64_decode(c->words[3], &decoded_len);
    /* QEMU's documented rule: on a size mismatch the data is truncated. */
    mem_write(addr, decoded, MIN(len, (uint64_t)decoded_len));
    g_string_assign(c->reply, "OK");
}

static void cmd_memset(QtestCall *c)
{
    uint64_t addr, len, pattern;
    g_autofree uint8_t *chunk = NULL;

    if (!arg_u64(c, 1, "address", &addr) || !arg_u64(c, 2, "size", &len) ||
        !arg_u64(c, 3, "pattern", &pattern) ||
        !check_range(c, addr, len, QTEST_MAX_MEMSET)) {
        return;
    }
    if (len) {
        uint64_t chunk_len = MIN(len, (uint64_t)QTEST_MEMSET_CHUNK);

        chunk = g_malloc(chunk_len);
        memset(chunk, (uint8_t)pattern, chunk_len);  /* low byte, as QEMU */
        for (uint64_t done = 0; done < len; done += chunk_len) {
            mem_write(addr + done, chunk, MIN(chunk_len, len - done));
        }
    }
    g_string_assign(c->reply, "OK");
}

static void cmd_endianness(QtestCall *c)
{
    g_string_assign(c->reply, "OK little");
}

static void cmd_clock_step(QtestCall *c)
{
    int64_t old_ns = machine_clock_ns(qtest->m);
    int64_t ns, new_ns;

    if (c->nwords > 1) {
        if (!arg_i64(c, 1, "nanoseconds", &ns)) {
            return;
        }
    } else {
        int64_t deadline = machine_clock_next_deadline(qtest->m);

        if (deadline < 0) {
            fail(c, "cannot advance clock to the next deadline because there "
                 "is no pending deadline");
            return;
        }
        ns = deadline > old_ns ? deadline - old_ns : 0;
    }
    if (ns > 0 && old_ns > INT64_MAX - ns) {
        fail(c, "clock_step: %" PRIi64 " ns from %" PRIi64 " overflows the "
             "clock", ns, old_ns);
        return;
    }
    if (ns < 0) {
        fail(c, "could not advance time");   /* the clock never goes back */
        return;
    }
    new_ns = machine_clock_advance_to(qtest->m, old_ns + ns);
    if (new_ns > old_ns) {
        g_string_printf(c->reply, "OK %" PRIi64, new_ns);
    } else {
        fail(c, "could not advance time");
    }
}

static void cmd_clock_set(QtestCall *c)
{
    int64_t ns, new_ns;

    if (!arg_i64(c, 1, "nanoseconds", &ns)) {
        return;
    }
    if (ns <= machine_clock_ns(qtest->m)) {
        new_ns = machine_clock_ns(qtest->m);
    } else {
        new_ns = machine_clock_advance_to(qtest->m, ns);
    }
    /* QEMU answers with the clock either way; FAIL if it is not at NS. */
    g_string_printf(c->reply, "%s %" PRIi64, new_ns == ns ? "OK" : "FAIL",
                    new_ns);
}

static const QtestCmd qtest_commands[] = {
    { "readb",  1, 1, "ADDR", cmd_read_sized },
    { "readw",  1, 1, "ADDR", cmd_read_sized },
    { "readl",  1, 1, "ADDR", cmd_read_sized },
    { "readq",  1, 1, "ADDR", cmd_read_sized },
    { "writeb", 2, 2, "ADDR VALUE", cmd_write_sized },
    { "writew", 2, 2, "ADDR VALUE", cmd_write_sized },
    { "writel", 2, 2, "ADDR VALUE", cmd_write_sized },
    { "writeq", 2, 2, "ADDR VALUE", cmd_write_sized },
    { "inb",    1, 1, "PORT", cmd_in },
    { "inw",    1, 1, "PORT", cmd_in },
    { "inl",    1, 1, "PORT", cmd_in },
    { "outb",   2, 2, "PORT VALUE", cmd_out },
    { "outw",   2, 2, "PORT VALUE", cmd_out },
    { "outl",   2, 2, "PORT VALUE", cmd_out },
    { "read",   2, 2, "ADDR SIZE", cmd_read },
    { "write",  3, 3, "ADDR SIZE 0xDATA", cmd_write },
    { "b64read", 2, 2, "ADDR SIZE", cmd_b64read },
    { "b64write", 3, 3, "ADDR SIZE B64DATA", cmd_b64write },
    { "memset", 3, 3, "ADDR SIZE PATTERN", cmd_memset },
    { "endianness", 0, 0, "", cmd_endianness },
    { "clock_step", 0, 1, "[NS]", cmd_clock_step },
    { "clock_set", 1, 1, "NS", cmd_clock_set },
};

/* ---- x-vtdnest- extensions --------------------------------------------- */

void qtest_register_command(const char *name, QtestCommandFn fn, void *opaque)
{
    QtestExtra *e;

    /* Programming errors in the caller, not reachable from input. */
    g_assert(g_str_has_prefix(name, "x-vtdnest-"));
    if (!qtest_extras) {
        qtest_extras = g_hash_table_new_full(g_str_hash, g_str_equal,
                                             g_free, g_free);
    }
    g_assert(!g_hash_table_contains(qtest_extras, name));
    e = g_new(QtestExtra, 1);
    e->fn = fn;
    e->opaque = opaque;
    g_hash_table_insert(qtest_extras, g_strdup(name), e);
}

/* "OK <count> <addr>:<data>:<sid>:<remapped> ..." oldest first; see the
 * protocol doc. */
static char *extra_msi_log(Machine *m, char **words, void *opaque)
{
    const GArray *log = machine_msi_log(m);
    GString *s = g_string_new(NULL);
    guint n = log ? log->len : 0;

    if (words[1]) {
        g_string_free(s, TRUE);
        return g_strdup("FAIL x-vtdnest-msi-log takes no arguments");
    }
    g_string_printf(s, "OK %u", n);
    for (guint i = 0; i < n; i++) {
        const MsiRecord *r = &g_array_index(log, MsiRecord, i);

        g_string_append_printf(s, " 0x%016" PRIx64 ":0x%08" PRIx32 ":0x%04x:%d",
                               r->addr, r->data, r->sid, r->remapped ? 1 : 0);
    }
    return g_string_free(s, FALSE);
}

static char *extra_msi_clear(Machine *m, char **words, void *opaque)
{
    if (words[1]) {
        return g_strdup("FAIL x-vtdnest-msi-clear takes no arguments");
    }
    machine_msi_log_clear(m);
    return g_strdup("OK");
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "OK name name ...": every command this server understands. */
static char *extra_help(Machine *m, char **words, void *opaque)
{
    GString *s;
    g_autofree gpointer *extras = NULL;
    guint n = 0;

    if (words[1]) {
        return g_strdup("FAIL x-vtdnest-help takes no arguments");
    }
    s = g_string_new("OK");

    for (size_t i = 0; i < G_N_ELEMENTS(qtest_commands); i++) {
        g_string_append_printf(s, " %s", qtest_commands[i].name);
    }
    extras = g_hash_table_get_keys_as_array(qtest_extras, &n);
    qsort(extras, n, sizeof(*extras), (int (*)(const void *, const void *))
          compare_names);
    for (guint i = 0; i < n; i++) {
        g_string_append_printf(s, " %s", (const char *)extras[i]);
    }
    return g_string_free(s, FALSE);
}

static void qtest_register_builtin_extras(void)
{
    static bool done;

    if (done) {
        return;
    }
    done = true;
    qtest_register_command("x-vtdnest-msi-log", extra_msi_log, NULL);
    qtest_register_command("x-vtdnest-msi-clear", extra_msi_clear, NULL);
    qtest_register_command("x-vtdnest-help", extra_help, NULL);
}

/* ---- dispatch ---------------------------------------------------------- */

static void qtest_log_line(char tag, const char *text)
{
    if (qtest->log) {
        fprintf(qtest->log, "[%c +%.06f] %s\n", tag,
                g_timer_elapsed(qtest->timer, NULL), text);
        fflush(qtest->log);
    }
}

static void qtest_send(const char *reply)
{
    qtest_log_line('S', reply);
    chardev_write(qtest->chr, reply, strlen(reply));
    chardev_write(qtest->chr, "\n", 1);
}

/* Split at runs of blanks (QEMU splits at single spaces and would assert
 * on the empty words that doubled spaces produce). */
static char **split_words(const char *line, int *nwords)
{
    g_auto(GStrv) raw = g_strsplit_set(line, " \t", -1);
    GPtrArray *w = g_ptr_array_new();

    for (int i = 0; raw[i]; i++) {
        if (*raw[i]) {
            g_ptr_array_add(w, g_strdup(raw[i]));
        }
    }
    *nwords = (int)w->len;
    g_ptr_array_add(w, NULL);
    return (char **)g_ptr_array_free(w, FALSE);
}

static void qtest_run_extra(QtestCall *c)
{
    QtestExtra *e = qtest_extras ? g_hash_table_lookup(qtest_extras,
                                                       c->words[0]) : NULL;
    g_autofree char *reply = NULL;

    if (!e) {
        fail(c, "Unknown command '%s'", c->words[0]);
        return;
    }
    reply = e->fn(qtest->m, c->words, e->opaque);
    if (!reply) {
        fail(c, "%s: no reply", c->words[0]);
        return;
    }
    /* One reply line per command, whatever the handler returned. */
    g_strdelimit(reply, "\r\n", ' ');
    g_string_assign(c->reply, reply);
}

static void qtest_process_line(const char *line, size_t len)
{
    QtestCall c = { .reply = g_string_new(NULL) };
    g_auto(GStrv) words = NULL;

    if (memchr(line, '\0', len)) {
        qtest_log_line('R', "<line with a NUL byte>");
        fail(&c, "NUL byte in command");
        goto out;
    }
    qtest_log_line('R', line);
    words = split_words(line, &c.nwords);
    c.words = words;
    if (c.nwords == 0) {
        fail(&c, "empty command");
        goto out;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(qtest_commands); i++) {
        if (!strcmp(words[0], qtest_commands[i].name)) {
            c.cmd = &qtest_commands[i];
            break;
        }
    }
    if (!c.cmd) {
        qtest_run_extra(&c);
        goto out;
    }
    if (c.nwords - 1 < c.cmd->min_args || c.nwords - 1 > c.cmd->max_args) {
        fail(&c, "%s: wrong number of arguments (usage: %s%s%s)", words[0],
             words[0], *c.cmd->usage ? " " : "", c.cmd->usage);
        goto out;
    }
    c.cmd->fn(&c);
out:
    qtest_send(c.reply->str);
    g_string_free(c.reply, TRUE);
    /* Between commands the machine is idle: with -icount sleep=off, virtual
     * time warps to the next deadline as QEMU's would. */
    machine_idle(qtest->m);
}

/* ---- chardev frontend -------------------------------------------------- */

static void qtest_opened(void *opaque)
{
    g_timer_start(qtest->timer);
    if (qtest->log) {
        fprintf(qtest->log, "[I +%.06f] OPENED\n", 0.0);
        fflush(qtest->log);
    }
}

static void qtest_line(void *opaque, const char *line, size_t len)
{
    qtest_process_line(line, len);
}

static void qtest_overlong(void *opaque, size_t limit)
{
    g_autofree char *msg = g_strdup_printf("FAIL command line longer than %zu "
                                           "bytes", limit);

    qtest_log_line('R', "<overlong line dropped>");
    qtest_send(msg);
}

static void qtest_closed(void *opaque)
{
    if (qtest->log) {
        fprintf(qtest->log, "[I +%.06f] CLOSED\n",
                g_timer_elapsed(qtest->timer, NULL));
        fflush(qtest->log);
    }
    /* The driver of a stdio or client-socket session is gone for good; a
     * socket server waits for the next one. */
    if (!chardev_accepts_reconnect(qtest->chr)) {
        machine_request_quit(qtest->m);
    }
}

static const ChardevFrontend qtest_frontend = {
    .opened = qtest_opened,
    .line = qtest_line,
    .overlong = qtest_overlong,
    .closed = qtest_closed,
};

static void qtest_server_cleanup(void)
{
    if (!qtest) {
        return;
    }
    if (qtest->log && qtest->log != stderr) {
        fclose(qtest->log);
    }
    g_timer_destroy(qtest->timer);
    g_clear_pointer(&qtest, g_free);
    g_clear_pointer(&qtest_extras, g_hash_table_destroy);
}

bool qtest_server_init(Machine *m, const char *spec, const char *log_path,
                       GError **errp)
{
    Chardev *chr;
    FILE *log = NULL;

    if (qtest) {
        g_set_error(errp, SERVERS_ERROR, 0,
                    "Only one instance of qtest can be created");
        return false;
    }
    if (log_path && strcmp(log_path, "none") != 0) {
        log = fopen(log_path, "w");
        if (!log) {
            g_set_error(errp, SERVERS_ERROR, 0,
                        "cannot open log file '%s': %s", log_path,
                        g_strerror(errno));
            return false;
        }
    }
    chr = chardev_open_spec(spec, "qtest", errp);
    if (!chr) {
        if (log) {
            fclose(log);
        }
        return false;
    }
    qtest_register_builtin_extras();
    qtest = g_new0(QtestServer, 1);
    qtest->m = m;
    qtest->chr = chr;
    qtest->log = log;
    qtest->timer = g_timer_new();
    /* Runs before the chardev cleanup registered earlier (atexit is LIFO). */
    atexit(qtest_server_cleanup);
    /* main.c names the option in front of any message. */
    return chardev_attach(chr, &qtest_frontend, NULL, QTEST_MAX_LINE, errp);
}
