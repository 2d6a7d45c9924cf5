/*
 * Replay driver: runs a fuzz target's LLVMFuzzerTestOneInput on files, the
 * way libFuzzer does when given inputs instead of a corpus to grow. Used by
 * the "fuzz-replay-*" tests (any compiler) to run the committed corpora,
 * and by hand to reproduce a crash: fuzz-replay-vtd-unit crash-1234...
 *
 * Arguments are files or directories (every regular file inside, in name
 * order). Fails when no input was found, so a missing corpus is noticed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned run_file(const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *buf = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &buf, &len, &err)) {
        fprintf(stderr, "replay: %s\n", err->message);
        exit(1);
    }
    /* A private copy of exactly len bytes, so overreads are caught. */
    g_autofree uint8_t *copy = g_memdup2(buf, len ? len : 1);
    LLVMFuzzerTestOneInput(copy, len);
    return 1;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static unsigned run_dir(const char *dir)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &err);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    unsigned n = 0;

    if (!d) {
        fprintf(stderr, "replay: %s\n", err->message);
        exit(1);
    }
    while ((name = g_dir_read_name(d))) {
        g_ptr_array_add(names, g_build_filename(dir, name, NULL));
    }
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        const char *path = g_ptr_array_index(names, i);

        if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
            n += run_file(path);
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    unsigned n = 0;

    if (LLVMFuzzerInitialize) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            n += run_dir(argv[i]);
        } else {
            n += run_file(argv[i]);
        }
    }
    if (!n) {
        fprintf(stderr, "replay: no inputs given\n");
        return 1;
    }
    printf("replay: %u inputs ran without a crash or invariant failure\n", n);
    return 0;
}
