/*
 * Writes the seed corpora of the fuzz targets (committed; rerun only when
 * the formats change):
 *   cc -I../../net make-seeds.c ../../net/pcs-*.c ../../net/fcs.c -lz
 *   ./a.out corpus
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>

#include "fcs.h"
#include "lane-transport.h"

static uint16_t cg[20000];
static uint8_t buf[100000];

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        perror(path);
    }
}

static size_t rec(uint8_t *p, uint8_t tag, const void *payload, size_t len)
{
    p[0] = tag;
    p[1] = 0;
    p[2] = len & 0xff;
    p[3] = len >> 8;
    memcpy(p + 4, payload, len);
    return 4 + len;
}

static size_t cg_rec(uint8_t *p, size_t n)
{
    uint8_t le[40000];

    for (size_t i = 0; i < n; i++) {
        le[2 * i] = cg[i] & 0xff;
        le[2 * i + 1] = cg[i] >> 8;
    }
    return rec(p, LANE_TAG_CG, le, 2 * n);
}

int main(int argc, char **argv)
{
    static const uint8_t hello[12] = { 'B', 'P', 'L', 'N', LANE_VERSION, 0,
                                       0, 0, 0xe8, 3, 0, 0 };
    char dir[256];
    uint8_t frame[200];
    PcsUtil u = { 42, 7, 3 };
    unsigned rd;
    size_t n, len;

    for (size_t i = 0; i < sizeof(frame); i++) {
        frame[i] = (uint8_t)(i * 29);
    }

    /* decoder: frame + utilization + idle, and a configuration burst */
    rd = PCS_RD_NEG;
    n = pcs_tx_frame(frame, 100, cg, &rd);
    n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    n += pcs_tx_util(&u, PCS_UTIL_FORM_EXPANDED, cg + n, &rd);
    n += pcs_tx_idle(cg + n, &rd);
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = cg[i] & 0xff;
        buf[2 * i + 1] = cg[i] >> 8;
    }
    snprintf(dir, sizeof(dir), "%s/pcs-decoder", argv[1]);
    put(dir, "frame-util", buf, 2 * n);
    rd = PCS_RD_NEG;
    n = 0;
    for (unsigned i = 0; i < 4; i++) {
        n += pcs_tx_config(0x41a0, i & 1, cg + n, &rd);
    }
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = cg[i] & 0xff;
        buf[2 * i + 1] = cg[i] >> 8;
    }
    put(dir, "config", buf, 2 * n);

    /* lane records: 8b10b session */
    snprintf(dir, sizeof(dir), "%s/lane-records", argv[1]);
    len = 0;
    buf[len++] = 64;    /* chunk size */
    len += rec(buf + len, LANE_TAG_HELLO, hello, sizeof(hello));
    rd = PCS_RD_NEG;
    n = 0;
    for (unsigned i = 0; i < 4; i++) {
        n += pcs_tx_config(0x41a0, i & 1, cg + n, &rd);
    }
    len += cg_rec(buf + len, n);
    rd = PCS_RD_NEG;
    n = pcs_tx_frame(frame, 100, cg, &rd);
    n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    len += cg_rec(buf + len, n);
    rd = PCS_RD_NEG;
    n = pcs_tx_util(&u, PCS_UTIL_FORM_EXPANDED, cg, &rd);
    len += cg_rec(buf + len, n);
    len += rec(buf + len, LANE_TAG_SIGNAL, "\0", 1);
    len += rec(buf + len, LANE_TAG_SIGNAL, "\1", 1);
    put(dir, "session-8b10b", buf, len);

    /* lane records: raw session */
    len = 0;
    buf[len++] = 255;
    len += rec(buf + len, LANE_TAG_HELLO, hello, sizeof(hello));
    len += rec(buf + len, LANE_TAG_CONFIG, "\xa0\x41", 2);
    len += rec(buf + len, LANE_TAG_CONFIG, "\xa0\x01", 2);
    memcpy(buf + len + 4, frame, 100);
    eth_fcs_append(buf + len + 4, 100);
    len += rec(buf + len, LANE_TAG_FRAME, buf + len + 4, 104);
    len += rec(buf + len, LANE_TAG_UTIL, "\x2a\x07\x03\x00", 4);
    len += rec(buf + len, 0x7f, "xy", 2);
    put(dir, "session-raw", buf, len);
    return 0;
}
