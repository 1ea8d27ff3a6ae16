/*
 * pcap files (net/pcap.c): the file header and records as the libpcap
 * format defines them (nanosecond magic, LINKTYPE_ETHERNET, truncation at
 * the snapshot length), errors, and tshark reading a file when it is
 * installed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include "pcap.h"

#define TSHARK "/usr/bin/tshark"

typedef struct Rec {
    uint64_t time_ns;
    size_t len;
} Rec;

/* Times and lengths of the records the tests write. */
static const Rec recs[] = {
    { 0, 60 },
    { 1700000000123456789ull, 42 },
    { 1700000001000000000ull, 1514 },
    { 1700000001999999999ull, 9018 },
    { 1700000002000000001ull, PCAP_SNAPLEN },
    { 1700000003000000000ull, PCAP_SNAPLEN + 1 },
    { 1700000004500000000ull, 70000 },
    { 4294967295999999999ull, 64 },
};

static char *tmp_dir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmp_dir, name, NULL);
}

/* An Ethernet frame of @len octets whose content depends on @seed. */
static uint8_t *make_frame(size_t len, unsigned seed)
{
    uint8_t *f = g_malloc(len ? len : 1);
    size_t i;

    for (i = 0; i < len; i++) {
        f[i] = (uint8_t)(i * 7 + seed * 31 + (i >> 8));
    }
    if (len >= 14) {
        static const uint8_t dst[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        uint8_t src[6] = { 0x02, 0, 0, 0, 0, (uint8_t)seed };

        memcpy(f, dst, 6);
        memcpy(f + 6, src, 6);
        f[12] = 0x88;
        f[13] = 0xb6;
    }
    return f;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);   /* the file is in host order */
    return v;
}

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;

    memcpy(&v, p, 2);
    return v;
}

static void write_all(const char *path)
{
    PcapFile *p = pcap_open(path);
    unsigned i;

    g_assert_nonnull(p);
    for (i = 0; i < G_N_ELEMENTS(recs); i++) {
        uint8_t *f = make_frame(recs[i].len, i);

        g_assert_cmpint(pcap_write(p, recs[i].time_ns, f, recs[i].len), ==,
                        0);
        g_free(f);
    }
    g_assert_cmpint(pcap_close(p), ==, 0);
}

static void test_format(void)
{
    g_autofree char *path = tmp_path("format.pcap");
    g_autofree uint8_t *buf = NULL;
    size_t size, off;
    unsigned i;

    write_all(path);
    g_assert_true(g_file_get_contents(path, (char **)&buf, &size, NULL));
    g_assert_cmpuint(size, >=, 24);

    /* File header: nanosecond magic, version 2.4, Ethernet. */
    g_assert_cmphex(get32(buf), ==, 0xa1b23c4d);
    g_assert_cmpuint(get16(buf + 4), ==, 2);
    g_assert_cmpuint(get16(buf + 6), ==, 4);
    g_assert_cmpuint(get32(buf + 8), ==, 0);
    g_assert_cmpuint(get32(buf + 12), ==, 0);
    g_assert_cmpuint(get32(buf + 16), ==, PCAP_SNAPLEN);
    g_assert_cmpuint(get32(buf + 20), ==, 1);

    off = 24;
    for (i = 0; i < G_N_ELEMENTS(recs); i++) {
        size_t cap = MIN(recs[i].len, PCAP_SNAPLEN);
        g_autofree uint8_t *f = make_frame(recs[i].len, i);

        g_assert_cmpuint(size - off, >=, 16);
        g_assert_cmpuint(get32(buf + off), ==,
                         recs[i].time_ns / 1000000000u);
        g_assert_cmpuint(get32(buf + off + 4), ==,
                         recs[i].time_ns % 1000000000u);
        g_assert_cmpuint(get32(buf + off + 4), <, 1000000000u);
        g_assert_cmpuint(get32(buf + off + 8), ==, cap);
        g_assert_cmpuint(get32(buf + off + 12), ==, recs[i].len);
        off += 16;
        g_assert_cmpuint(size - off, >=, cap);
        g_assert_cmpmem(buf + off, cap, f, cap);
        off += cap;
    }
    g_assert_cmpuint(off, ==, size);
    g_unlink(path);
}

/* An empty capture is just the header; a zero-length record is legal. */
static void test_empty(void)
{
    g_autofree char *path = tmp_path("empty.pcap");
    g_autofree uint8_t *buf = NULL;
    PcapFile *p;
    size_t size;

    p = pcap_open(path);
    g_assert_nonnull(p);
    g_assert_cmpint(pcap_close(p), ==, 0);
    g_assert_true(g_file_get_contents(path, (char **)&buf, &size, NULL));
    g_assert_cmpuint(size, ==, 24);
    g_clear_pointer(&buf, g_free);

    /* pcap_open truncates an existing file. */
    p = pcap_open(path);
    g_assert_nonnull(p);
    g_assert_cmpint(pcap_write(p, 5, (const uint8_t *)"", 0), ==, 0);
    g_assert_cmpint(pcap_close(p), ==, 0);
    p = pcap_open(path);
    g_assert_cmpint(pcap_write(p, 7000000003ull, (const uint8_t *)"", 0),
                    ==, 0);
    g_assert_cmpint(pcap_close(p), ==, 0);
    g_assert_true(g_file_get_contents(path, (char **)&buf, &size, NULL));
    g_assert_cmpuint(size, ==, 24 + 16);
    g_assert_cmpuint(get32(buf + 24), ==, 7);
    g_assert_cmpuint(get32(buf + 28), ==, 3);
    g_assert_cmpuint(get32(buf + 32), ==, 0);
    g_assert_cmpuint(get32(buf + 36), ==, 0);
    g_assert_cmpint(pcap_close(NULL), ==, 0);
    g_unlink(path);
}

/* pcap_flush makes the records visible before the file is closed. */
static void test_flush(void)
{
    g_autofree char *path = tmp_path("flush.pcap");
    g_autofree uint8_t *f = make_frame(100, 1);
    GStatBuf st;
    PcapFile *p;

    p = pcap_open(path);
    g_assert_nonnull(p);
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 24);
    g_assert_cmpint(pcap_write(p, 1, f, 100), ==, 0);
    g_assert_cmpint(pcap_flush(p), ==, 0);
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 24 + 16 + 100);
    g_assert_cmpint(pcap_close(p), ==, 0);
    g_unlink(path);
}

static void test_open_errors(void)
{
    g_autofree char *path = tmp_path("no/such/dir.pcap");

    errno = 0;
    g_assert_null(pcap_open(path));
    g_assert_cmpint(errno, ==, ENOENT);
    if (g_file_test("/dev/full", G_FILE_TEST_EXISTS)) {
        /* The header cannot be written: refused at once. */
        errno = 0;
        g_assert_null(pcap_open("/dev/full"));
        g_assert_cmpint(errno, ==, ENOSPC);
    }
}

/*
 * A write that fails (here: over the file size limit) is reported, and
 * so is every later one and the close.  In a subprocess, for the limit.
 */
static void test_write_error(void)
{
    if (g_test_subprocess()) {
        g_autofree char *path = tmp_path("limited.pcap");
        g_autofree uint8_t *f = make_frame(1000, 3);
        struct rlimit rl = { 20000, 20000 };
        PcapFile *p;
        int err = 0, i;

        signal(SIGXFSZ, SIG_IGN);
        g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &rl), ==, 0);
        p = pcap_open(path);
        g_assert_nonnull(p);
        for (i = 0; i < 200 && !err; i++) {
            err = pcap_write(p, i, f, 1000);
        }
        g_assert_cmpint(err, ==, -EFBIG);
        g_assert_cmpint(pcap_write(p, 0, f, 10), ==, -EFBIG);
        g_assert_cmpint(pcap_flush(p), ==, -EFBIG);
        g_assert_cmpint(pcap_close(p), ==, -EFBIG);
        g_unlink(path);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
}

/* tshark reads the file: every record, lengths, times, addresses. */
static void test_tshark(void)
{
    g_autofree char *path = tmp_path("tshark.pcap");
    g_autofree char *out = NULL;
    g_auto(GStrv) lines = NULL;
    GError *err = NULL;
    int status;
    unsigned i;
    const char *argv[] = {
        TSHARK, "-n", "-r", path, "-T", "fields", "-E", "separator=|",
        "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.time_epoch",
        "-e", "eth.src", NULL,
    };

    if (!g_file_test(TSHARK, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip(TSHARK " is not installed");
        return;
    }
    write_all(path);
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                               NULL, &status, &err));
    g_assert_no_error(err);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    lines = g_strsplit(g_strchomp(out), "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, G_N_ELEMENTS(recs));
    for (i = 0; i < G_N_ELEMENTS(recs); i++) {
        g_auto(GStrv) fld = g_strsplit(lines[i], "|", -1);
        g_autofree char *len = g_strdup_printf("%zu", recs[i].len);
        g_autofree char *cap = g_strdup_printf(
            "%zu", MIN(recs[i].len, (size_t)PCAP_SNAPLEN));
        g_autofree char *time = g_strdup_printf(
            "%" G_GUINT64_FORMAT ".%09" G_GUINT64_FORMAT,
            recs[i].time_ns / 1000000000u, recs[i].time_ns % 1000000000u);
        g_autofree char *src = g_strdup_printf("02:00:00:00:00:%02x", i);

        g_assert_cmpuint(g_strv_length(fld), ==, 4);
        g_assert_cmpstr(fld[0], ==, len);
        g_assert_cmpstr(fld[1], ==, cap);
        g_assert_cmpstr(fld[2], ==, time);
        g_assert_cmpstr(fld[3], ==, src);
    }
    g_unlink(path);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("test-pcap-XXXXXX", NULL);
    g_assert_nonnull(tmp_dir);
    g_test_add_func("/pcap/format", test_format);
    g_test_add_func("/pcap/empty", test_empty);
    g_test_add_func("/pcap/flush", test_flush);
    g_test_add_func("/pcap/open-errors", test_open_errors);
    g_test_add_func("/pcap/write-error", test_write_error);
    g_test_add_func("/pcap/tshark", test_tshark);
    ret = g_test_run();
    g_rmdir(tmp_dir);
    g_free(tmp_dir);
    return ret;
}
