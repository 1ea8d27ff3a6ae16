/*
 * PCS transmit and receive: synchronization state machine, frames, FCS,
 * error counters, configuration and utilization ordered sets, and the
 * utilization set's acceptance as idle by a strict clause 36 receiver.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <string.h>

#include "fcs.h"
#include "pcs-rx.h"

typedef struct Sink {
    unsigned frames;
    uint8_t frame[ETH_MAX_FRAME];
    size_t frame_len;
    unsigned utils;
    PcsUtil util;
    PcsUtilForm form;
    unsigned configs;
    uint16_t config;
    unsigned sync_up, sync_down;
} Sink;

static void sink_frame(void *opaque, const uint8_t *f, size_t len)
{
    Sink *s = opaque;

    s->frames++;
    memcpy(s->frame, f, len);
    s->frame_len = len;
}

static void sink_util(void *opaque, const PcsUtil *u, PcsUtilForm form)
{
    Sink *s = opaque;

    s->utils++;
    s->util = *u;
    s->form = form;
}

static void sink_config(void *opaque, uint16_t reg)
{
    Sink *s = opaque;

    s->configs++;
    s->config = reg;
}

static void sink_sync(void *opaque, bool ok)
{
    Sink *s = opaque;

    if (ok) {
        s->sync_up++;
    } else {
        s->sync_down++;
    }
}

static const PcsRxOps sink_ops = {
    .frame = sink_frame, .util = sink_util, .config = sink_config,
    .sync = sink_sync,
};

static PcsRx *new_rx(Sink *s)
{
    PcsRx *rx = g_new(PcsRx, 1);

    memset(s, 0, sizeof(*s));
    pcs_rx_init(rx, &sink_ops, s);
    return rx;
}

/* An rx in sync and idle, as after a transport connection's first gap. */
static PcsRx *synced_rx(Sink *s)
{
    PcsRx *rx = new_rx(s);

    pcs_rx_gap(rx);
    g_assert_true(pcs_rx_sync_ok(rx));
    return rx;
}

static void feed_idles(PcsRx *rx, unsigned *rd, unsigned sets)
{
    for (unsigned i = 0; i < sets; i++) {
        uint16_t cg[2];

        pcs_tx_idle(cg, rd);
        pcs_rx_input(rx, cg, 2);
    }
}

static void test_sync_acquire(void)
{
    Sink s;
    PcsRx *rx = new_rx(&s);
    static const PcsSyncState want[6] = {
        PCS_SYNC_COMMA_DETECT_1, PCS_SYNC_ACQUIRE_1,
        PCS_SYNC_COMMA_DETECT_2, PCS_SYNC_ACQUIRE_2,
        PCS_SYNC_COMMA_DETECT_3, PCS_SYNC_ACQUIRED_1,
    };
    unsigned rd = PCS_RD_NEG;
    uint16_t cg[12];
    size_t n = 0;

    /* Data before any comma does not help. */
    cg[0] = pcs_encode(PCS_D(3, 1), false, &rd);
    pcs_rx_input(rx, cg, 1);
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_LOSS);
    for (unsigned i = 0; i < 3; i++) {
        n += pcs_tx_idle(cg + n, &rd);
    }
    for (unsigned i = 0; i < 6; i++) {
        pcs_rx_input(rx, cg + i, 1);
        g_assert_cmpint(rx->sync, ==, want[i]);
    }
    g_assert_cmpuint(s.sync_up, ==, 1);
    g_assert_cmpuint(rx->cnt.sync_acquired, ==, 1);
    g_free(rx);
}

/*
 * A comma followed by a special code group falls back to LOSS_OF_SYNC,
 * and a comma in an odd position during ACQUIRE_SYNC too.
 */
static void test_sync_acquire_fails(void)
{
    Sink s;
    PcsRx *rx = new_rx(&s);
    unsigned rd = PCS_RD_NEG;
    uint16_t cg[3];

    cg[0] = pcs_encode(PCS_K28_5, true, &rd);
    cg[1] = pcs_encode(PCS_K28_5, true, &rd);
    pcs_rx_input(rx, cg, 2);
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_LOSS);

    rd = PCS_RD_NEG;
    cg[0] = pcs_encode(PCS_K28_5, true, &rd);
    cg[1] = pcs_encode(PCS_D(16, 2), false, &rd);
    cg[2] = pcs_encode(PCS_D(16, 2), false, &rd);
    pcs_rx_input(rx, cg, 3);
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_ACQUIRE_1);
    cg[0] = pcs_encode(PCS_K28_5, true, &rd);   /* odd position */
    pcs_rx_input(rx, cg, 1);
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_LOSS);
    g_assert_cmpuint(s.sync_up, ==, 0);
    g_free(rx);
}

/*
 * Four bad code groups lose sync; three do not; each four good code
 * groups in a row climb back one level.
 */
static void test_sync_loss_and_recovery(void)
{
    Sink s;
    PcsRx *rx = synced_rx(&s);
    unsigned rd = PCS_RD_NEG;
    uint16_t bad = 0;

    for (unsigned i = 0; i < 3; i++) {
        uint16_t d;

        pcs_rx_input(rx, &bad, 1);
        g_assert_cmpint(rx->sync, ==, PCS_SYNC_ACQUIRED_2 + i);
        /*
         * a data code group restores the alignment, then an idle: three
         * good code groups are not enough to climb
         */
        rd = rx->rd;
        d = pcs_encode(PCS_D(16, 2), false, &rd);
        pcs_rx_input(rx, &d, 1);
        feed_idles(rx, &rd, 1);
        g_assert_cmpint(rx->sync, ==, PCS_SYNC_ACQUIRED_2 + i);
    }
    g_assert_cmpuint(rx->cnt.invalid_cgs, ==, 3);
    feed_idles(rx, &rd, 2);         /* four good */
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_ACQUIRED_3);
    feed_idles(rx, &rd, 4);
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_ACQUIRED_1);
    g_assert_cmpuint(s.sync_down, ==, 0);

    for (unsigned i = 0; i < 4; i++) {
        pcs_rx_input(rx, &bad, 1);
        g_assert_cmpuint(s.sync_down, ==, i == 3);
    }
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_LOSS);
    g_assert_cmpuint(s.sync_down, ==, 1);
    g_assert_cmpuint(rx->cnt.sync_lost, ==, 1);
    /* The implied idle of a transport gap regains sync. */
    pcs_rx_gap(rx);
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_ACQUIRED_1);
    g_assert_cmpuint(s.sync_up, ==, 2);
    g_free(rx);
}

static void test_odd_comma_is_bad(void)
{
    Sink s;
    PcsRx *rx = synced_rx(&s);
    unsigned rd = rx->rd;
    uint16_t cg[3];

    cg[0] = pcs_encode(PCS_K28_5, true, &rd);
    cg[1] = pcs_encode(PCS_K28_5, true, &rd);
    pcs_rx_input(rx, cg, 2);
    g_assert_cmpuint(rx->cnt.odd_commas, ==, 1);
    g_assert_cmpint(rx->sync, ==, PCS_SYNC_ACQUIRED_2);
    g_assert_cmpuint(rx->cnt.rx_invalid, ==, 1);
    g_free(rx);
}

static size_t make_frame(uint8_t *f, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        f[i] = (uint8_t)(i * 131 + seed * 7 + 1);
    }
    return len;
}

static void test_frame_round_trip(void)
{
    static const size_t lens[] = { 0, 1, 59, 60, 61, 100, 1514, 9212 };
    static uint8_t f[ETH_MAX_FRAME];
    static uint16_t cg[PCS_FRAME_MAX_CGS(ETH_MAX_FRAME)];
    Sink s;
    PcsRx *rx = synced_rx(&s);

    for (unsigned i = 0; i < G_N_ELEMENTS(lens); i++) {
        unsigned rd = rx->rd;
        size_t len = make_frame(f, lens[i], i), n;

        n = pcs_tx_frame(f, len, cg, &rd);
        g_assert_cmpuint(n % 2, ==, 0);
        g_assert_cmpuint(n, <=, PCS_FRAME_MAX_CGS(len));
        pcs_rx_input(rx, cg, n);
        pcs_rx_gap(rx);
        g_assert_cmpuint(s.frames, ==, i + 1);
        g_assert_cmpuint(s.frame_len, ==, len < 60 ? 60 : len);
        g_assert_cmpmem(s.frame, len, f, len);
        for (size_t j = len; j < 60; j++) {
            g_assert_cmpuint(s.frame[j], ==, 0);
        }
    }
    g_assert_cmpuint(rx->cnt.fcs_errors + rx->cnt.invalid_cgs +
                     rx->cnt.disparity_errors + rx->cnt.rx_invalid, ==, 0);
    g_free(rx);
}

/* Encode octets with /S/ and /T/R/ around them, bypassing pcs_tx_frame. */
static size_t encap(const uint8_t *octets, size_t len, uint16_t *cg,
                    unsigned *rd)
{
    static const uint8_t pre[7] = { 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
                                    0xd5 };
    size_t n = 0;

    cg[n++] = pcs_encode(PCS_K27_7, true, rd);
    pcs_encode_data(pre, 7, cg + n, rd);
    n += 7;
    pcs_encode_data(octets, len, cg + n, rd);
    n += len;
    cg[n++] = pcs_encode(PCS_K29_7, true, rd);
    cg[n++] = pcs_encode(PCS_K23_7, true, rd);
    if (n & 1) {
        cg[n++] = pcs_encode(PCS_K23_7, true, rd);
    }
    return n;
}

static void test_frame_errors(void)
{
    uint8_t f[200];
    uint16_t cg[300];
    Sink s;
    PcsRx *rx = synced_rx(&s);
    unsigned rd;
    size_t n;

    /* FCS error */
    make_frame(f, 100, 1);
    eth_fcs_append(f, 100);
    f[50] ^= 0x10;
    rd = rx->rd;
    n = encap(f, 104, cg, &rd);
    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);
    g_assert_cmpuint(rx->cnt.fcs_errors, ==, 1);

    /* runt with a good FCS */
    eth_fcs_append(f, 20);
    rd = rx->rd;
    n = encap(f, 24, cg, &rd);
    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);
    g_assert_cmpuint(rx->cnt.runts, ==, 1);

    /* /V/ inside a frame: /S/ preamble data /V/ data /T/R/ */
    make_frame(f, 100, 2);
    {
        size_t k = 0;

        rd = rx->rd;
        cg[k++] = pcs_encode(PCS_K27_7, true, &rd);
        for (unsigned i = 0; i < 6; i++) {
            cg[k++] = pcs_encode(0x55, false, &rd);
        }
        cg[k++] = pcs_encode(0xd5, false, &rd);
        for (unsigned i = 0; i < 100; i++) {
            cg[k++] = i == 40 ? pcs_encode(PCS_K30_7, true, &rd)
                              : pcs_encode(f[i], false, &rd);
        }
        cg[k++] = pcs_encode(PCS_K29_7, true, &rd);
        cg[k++] = pcs_encode(PCS_K23_7, true, &rd);
        pcs_rx_input(rx, cg, k);
        pcs_rx_gap(rx);
    }
    g_assert_cmpuint(rx->cnt.error_propagation, ==, 1);
    g_assert_cmpuint(s.frames, ==, 0);

    /* invalid code group inside a frame */
    make_frame(f, 100, 3);
    rd = rx->rd;
    n = pcs_tx_frame(f, 100, cg, &rd);
    cg[30] = 0;
    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);
    g_assert_cmpuint(rx->cnt.frame_cg_errors, ==, 1);
    g_assert_cmpuint(rx->cnt.invalid_cgs, ==, 1);
    g_assert_cmpuint(s.frames, ==, 0);

    /* frame cut short by the gap: early end, next frame fine */
    rd = rx->rd;
    n = pcs_tx_frame(f, 100, cg, &rd);
    pcs_rx_input(rx, cg, 50);
    pcs_rx_gap(rx);
    g_assert_cmpuint(rx->cnt.early_ends, ==, 1);
    rd = rx->rd;
    n = pcs_tx_frame(f, 100, cg, &rd);
    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);
    g_assert_cmpuint(s.frames, ==, 1);

    g_free(rx);
}

static void test_bad_eop_and_false_carrier(void)
{
    uint8_t f[100];
    uint16_t cg[200];
    Sink s;
    PcsRx *rx = synced_rx(&s);
    unsigned rd = rx->rd;
    size_t k = 0;

    make_frame(f, 100, 5);
    eth_fcs_append(f, 96);
    cg[k++] = pcs_encode(PCS_K27_7, true, &rd);
    for (unsigned i = 0; i < 6; i++) {
        cg[k++] = pcs_encode(0x55, false, &rd);
    }
    cg[k++] = pcs_encode(0xd5, false, &rd);
    pcs_encode_data(f, 100, cg + k, &rd);
    k += 100;
    cg[k++] = pcs_encode(PCS_K29_7, true, &rd);
    cg[k++] = pcs_encode(PCS_K29_7, true, &rd);
    pcs_rx_input(rx, cg, k);
    pcs_rx_gap(rx);
    g_assert_cmpuint(rx->cnt.bad_eop, ==, 1);
    g_assert_cmpuint(s.frames, ==, 0);

    /* carrier (a data code group where K28.5 belongs) without /S/ */
    rd = rx->rd;
    k = pcs_tx_idle(cg, &rd);
    cg[k++] = pcs_encode(PCS_D(3, 1), false, &rd);
    cg[k++] = pcs_encode(PCS_D(3, 1), false, &rd);
    pcs_rx_input(rx, cg, k);
    pcs_rx_gap(rx);
    g_assert_cmpuint(rx->cnt.false_carriers, ==, 1);

    /* a wrong-column code group is a disparity error */
    rd = rx->rd;
    k = pcs_tx_idle(cg, &rd);
    rd ^= 1;
    cg[k++] = pcs_encode(PCS_K28_5, true, &rd);
    pcs_rx_input(rx, cg, k);
    g_assert_cmpuint(rx->cnt.disparity_errors, ==, 1);
    g_free(rx);
}

static void test_config_match(void)
{
    uint16_t cg[64];
    Sink s;
    PcsRx *rx = synced_rx(&s);
    unsigned rd = rx->rd;
    size_t n = 0;

    for (unsigned i = 0; i < 2; i++) {
        n += pcs_tx_config(0x41a0, i & 1, cg + n, &rd);
    }
    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);     /* idle between: no ability match */
    g_assert_cmpuint(s.configs, ==, 0);
    rd = rx->rd;
    n = 0;
    for (unsigned i = 0; i < 4; i++) {
        n += pcs_tx_config(0x41a0, i & 1, cg + n, &rd);
    }
    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);
    g_assert_cmpuint(s.configs, ==, 1);
    g_assert_cmphex(s.config, ==, 0x41a0);
    g_assert_cmpuint(rx->cnt.config_sets, ==, 6);
    g_free(rx);
}

static void test_util_round_trip(void)
{
    uint16_t cg[64];
    Sink s;
    PcsRx *rx = synced_rx(&s);

    for (unsigned form = 0; form < 2; form++) {
        for (unsigned v = 0; v <= 100; v += 7) {
            for (unsigned start = 0; start < 2; start++) {
                PcsUtil u = { v, 100 - v, (uint8_t)(v * 3 + start) };
                unsigned rd = rx->rd;
                size_t n = 0;

                if (start) {
                    /* leave RD+ before the set: a /T/R/ can do that */
                    cg[n++] = pcs_encode(PCS_K28_5, true, &rd);
                    cg[n++] = pcs_encode(PCS_D(5, 6), false, &rd);
                    g_assert_cmpuint(rd, ==, PCS_RD_POS);
                }
                n += pcs_tx_util(&u, form, cg + n, &rd);
                g_assert_cmpuint(n % 2, ==, 0);
                g_assert_cmpuint(rd, ==, PCS_RD_NEG);
                g_assert_cmpuint(n, <=, PCS_UTIL_MAX_CGS + 2);
                pcs_rx_input(rx, cg, n);
                pcs_rx_gap(rx);
                g_assert_cmpuint(s.util.cpu_pct, ==, u.cpu_pct);
                g_assert_cmpuint(s.util.irq_pct, ==, u.irq_pct);
                g_assert_cmpuint(s.util.seq, ==, u.seq);
                g_assert_cmpint(s.form, ==, form);
            }
        }
    }
    g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
    g_assert_cmpuint(s.utils, ==, 2 * 15 * 2);
    g_free(rx);
}

/*
 * A corrupted symbol fails the check value; a truncated set is an error
 * too, and neither is delivered.
 */
static void test_util_errors(void)
{
    PcsUtil u = { 42, 7, 9 };
    uint16_t cg[32];
    Sink s;
    PcsRx *rx = synced_rx(&s);
    unsigned rd = rx->rd;
    size_t n = pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg, &rd);
    unsigned r2 = PCS_RD_NEG;
    uint8_t other = pcs_util_alphabet[(pcs_util_symbol[
                        pcs_decode(cg[5], &r2) & 0xff] + 1) & 63];

    g_assert_cmpuint(n, ==, PCS_UTIL_IDLE_CGS);
    r2 = PCS_RD_POS;    /* RD after K28.5 from RD- */
    cg[5] = pcs_encode(other, false, &r2);
    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 1);
    rd = rx->rd;
    n = pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg, &rd);
    pcs_rx_input(rx, cg, 6);
    pcs_rx_gap(rx);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 2);
    g_assert_cmpuint(s.utils, ==, 0);
    g_free(rx);
}

/*
 * The same set after every frame (what a busy link carries) is taken by
 * the receiver's repeat shortcut: same deliveries and counters as the
 * first time, whatever the disparity the frame ended with.
 */
/* Both forms straight after frames of every parity and end disparity. */
static void test_util_after_frames(gconstpointer data)
{
    PcsUtilForm form = GPOINTER_TO_INT(data);
    static uint16_t cg[PCS_FRAME_MAX_CGS(100) + PCS_UTIL_MAX_CGS];
    uint8_t f[100];
    Sink s;
    PcsRx *rx = synced_rx(&s);

    for (unsigned i = 0; i < 40; i++) {
        PcsUtil u = { i, 100 - i, i * 5 };
        unsigned rd = rx->rd;
        size_t n;

        make_frame(f, 60 + i, i);
        n = pcs_tx_frame(f, 60 + i, cg, &rd);
        n += pcs_tx_util(&u, form, cg + n, &rd);
        pcs_rx_input(rx, cg, n);
        pcs_rx_gap(rx);
        g_assert_cmpuint(s.frames, ==, i + 1);
        g_assert_cmpuint(s.utils, ==, i + 1);
        g_assert_cmpuint(s.util.cpu_pct, ==, i);
        g_assert_cmpuint(s.util.seq, ==, i * 5);
        g_assert_cmpint(s.form, ==, form);
    }
    g_assert_cmpuint(rx->cnt.util_errors + rx->cnt.rx_invalid +
                     rx->cnt.false_carriers, ==, 0);
    g_free(rx);
}

static void test_util_repeats(void)
{
    static uint16_t cg[PCS_FRAME_MAX_CGS(100) + PCS_UTIL_MAX_CGS];
    PcsUtil u = { 55, 3, 200 };
    uint8_t f[100];
    Sink s;
    PcsRx *rx = synced_rx(&s);
    uint64_t cgs_fed = rx->cnt.code_groups;

    for (unsigned i = 0; i < 40; i++) {
        unsigned rd = rx->rd;
        size_t n;

        make_frame(f, 60 + i, i);
        n = pcs_tx_frame(f, 60 + i, cg, &rd);
        n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
        pcs_rx_input(rx, cg, n);
        cgs_fed += n;
        if (i % 3 == 0) {
            pcs_rx_gap(rx);
        }
        g_assert_cmpuint(s.frames, ==, i + 1);
        g_assert_cmpuint(s.utils, ==, i + 1);
        g_assert_cmpuint(s.util.cpu_pct, ==, 55);
        g_assert_cmpuint(s.util.seq, ==, 200);
        g_assert_cmpuint(rx->rd, ==, PCS_RD_NEG);
    }
    g_assert_cmpuint(rx->cnt.code_groups, ==, cgs_fed);
    g_assert_cmpuint(rx->cnt.util_sets, ==, 40);
    g_assert_cmpuint(rx->cnt.util_errors + rx->cnt.rx_invalid, ==, 0);
    g_free(rx);
}

/*
 * A strict clause 36 receiver for the end of a frame and the gap after it,
 * from /T/ at cg[start]: every code group valid in the right disparity
 * column; /T/R/, then /R/ only to reach an even position; then only
 * ordered sets of K28.5 in an even position followed by a data code group
 * other than D21.5 and D2.2 (/I/).  Returns the number of /I/ ordered
 * sets, or -1 on a violation.
 */
static int strict_idle_receiver(const uint16_t *cg, size_t n, size_t start)
{
    unsigned rd = PCS_RD_NEG;
    size_t i = start;
    int sets = 0;

    for (size_t j = 0; j < start; j++) {
        if (pcs_decode(cg[j], &rd) & (PCS_CG_INVALID | PCS_CG_DISPARITY)) {
            return -1;
        }
    }
    if (i + 2 > n || pcs_decode(cg[i++], &rd) != (PCS_CG_K | PCS_K29_7) ||
        pcs_decode(cg[i++], &rd) != (PCS_CG_K | PCS_K23_7)) {
        return -1;
    }
    if (i % 2 == 1) {
        if (i >= n || pcs_decode(cg[i++], &rd) != (PCS_CG_K | PCS_K23_7)) {
            return -1;
        }
    }
    while (i < n) {
        unsigned k = pcs_decode(cg[i], &rd), d;

        if (k != (PCS_CG_K | PCS_CG_COMMA | PCS_K28_5) || i + 1 >= n) {
            return -1;
        }
        d = pcs_decode(cg[i + 1], &rd);
        if (d & (PCS_CG_INVALID | PCS_CG_DISPARITY | PCS_CG_K) ||
            d == PCS_D(21, 5) || d == PCS_D(2, 2)) {
            return -1;
        }
        sets++;
        i += 2;
    }
    return sets;
}

static void test_util_accepted_as_idle(void)
{
    static uint16_t cg[PCS_FRAME_MAX_CGS(100) + 64];
    uint8_t f[101];

    for (unsigned len = 60; len <= 101; len++) {
        for (unsigned v = 0; v <= 100; v += 25) {
            PcsUtil u = { v, v / 2, (uint8_t)(len * 7 + v) };
            unsigned rd = PCS_RD_NEG;
            size_t n, fl;
            int sets;

            make_frame(f, len, v);
            fl = pcs_tx_frame(f, len, cg, &rd);
            n = fl + pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + fl, &rd);
            n += pcs_tx_idle(cg + n, &rd);
            g_assert_cmpuint(rd, ==, PCS_RD_NEG);
            /* the gap after /T/: skip the frame, check from /T/ on */
            sets = strict_idle_receiver(cg, n, 12 + (len < 60 ? 60 : len));
            g_assert_cmpint(sets, >=, 7);

            /* The expanded form is not an idle to a strict receiver. */
            rd = PCS_RD_NEG;
            fl = pcs_tx_frame(f, len, cg, &rd);
            n = fl + pcs_tx_util(&u, PCS_UTIL_FORM_EXPANDED, cg + fl, &rd);
            g_assert_cmpint(strict_idle_receiver(cg, n,
                                                 12 + (len < 60 ? 60 : len)),
                            ==, -1);
        }
    }
}

/*
 * pcs_rx_gap() behaves exactly like receiving the six idle ordered sets it
 * stands for (its shortcuts included), after any kind of burst.
 */
static void test_gap_equals_idles(void)
{
    static uint16_t cg[PCS_FRAME_MAX_CGS(300) + 64];
    GRand *rng = g_rand_new_with_seed(99);
    Sink s1, s2;
    PcsRx *r1 = new_rx(&s1), *r2 = new_rx(&s2);
    uint64_t implied = 0;
    uint8_t f[300];

    for (unsigned step = 0; step < 3000; step++) {
        PcsUtil u = { g_rand_int_range(rng, 0, 101), 3, step & 7 };
        unsigned rd = r1->rd, kind = g_rand_int_range(rng, 0, 8);
        size_t n = 0, len = g_rand_int_range(rng, 0, 300);

        g_assert_cmpuint(r1->rd, ==, r2->rd);
        make_frame(f, len, step);
        switch (kind) {
        case 0:
        case 1:
            n = pcs_tx_frame(f, len, cg, &rd);
            if (kind == 1) {
                n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
            }
            break;
        case 2:
            for (unsigned i = 0; i < 4; i++) {
                n += pcs_tx_config(0x00a0 | (step & 1) << 14, i & 1,
                                   cg + n, &rd);
            }
            break;
        case 3:
            n = pcs_tx_util(&u, g_rand_int_range(rng, 0, 2), cg, &rd);
            break;
        case 4:     /* a frame cut anywhere */
            n = pcs_tx_frame(f, len, cg, &rd);
            n = g_rand_int_range(rng, 1, n + 1);
            break;
        case 5:     /* a frame with one bit error */
            n = pcs_tx_frame(f, len, cg, &rd);
            cg[g_rand_int_range(rng, 0, n)] ^= 1u << g_rand_int_range(rng, 0,
                                                                      10);
            break;
        default:    /* noise */
            n = g_rand_int_range(rng, 1, 8);
            for (size_t i = 0; i < n; i++) {
                cg[i] = g_rand_int_range(rng, 0, 1024);
            }
            break;
        }
        pcs_rx_input(r1, cg, n);
        pcs_rx_input(r2, cg, n);
        pcs_rx_gap(r1);
        rd = r2->rd;
        for (unsigned i = 0; i < PCS_GAP_IDLE_SETS; i++) {
            uint16_t idle[2];

            pcs_tx_idle(idle, &rd);
            pcs_rx_input(r2, idle, 2);
        }
        implied += 2 * PCS_GAP_IDLE_SETS;
        g_assert_cmpint(r1->sync, ==, r2->sync);
        g_assert_cmpint(r1->state, ==, r2->state);
        g_assert_cmpuint(r1->rd, ==, r2->rd);
        g_assert_cmpint(r1->rx_even, ==, r2->rx_even);
        g_assert_cmpuint(r1->good_cgs, ==, r2->good_cgs);
        g_assert_cmpuint(r1->cfg_count, ==, r2->cfg_count);
        g_assert_cmpuint(r1->cnt.code_groups + implied, ==,
                         r2->cnt.code_groups);
        r2->cnt.code_groups = r1->cnt.code_groups;
        g_assert_cmpmem(&r1->cnt, sizeof(r1->cnt), &r2->cnt,
                        sizeof(r2->cnt));
        r2->cnt.code_groups += implied;
        g_assert_cmpuint(s1.frames, ==, s2.frames);
        g_assert_cmpuint(s1.utils, ==, s2.utils);
        g_assert_cmpuint(s1.configs, ==, s2.configs);
    }
    g_assert_cmpuint(s1.frames, >, 100);
    g_assert_cmpuint(s1.utils, >, 100);
    g_rand_free(rng);
    g_free(r1);
    g_free(r2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pcs-rx/sync/acquire", test_sync_acquire);
    g_test_add_func("/pcs-rx/sync/acquire-fails", test_sync_acquire_fails);
    g_test_add_func("/pcs-rx/sync/loss-and-recovery",
                    test_sync_loss_and_recovery);
    g_test_add_func("/pcs-rx/sync/odd-comma", test_odd_comma_is_bad);
    g_test_add_func("/pcs-rx/frame/round-trip", test_frame_round_trip);
    g_test_add_func("/pcs-rx/frame/errors", test_frame_errors);
    g_test_add_func("/pcs-rx/frame/bad-eop-false-carrier",
                    test_bad_eop_and_false_carrier);
    g_test_add_func("/pcs-rx/config/match", test_config_match);
    g_test_add_func("/pcs-rx/util/round-trip", test_util_round_trip);
    g_test_add_func("/pcs-rx/util/errors", test_util_errors);
    g_test_add_func("/pcs-rx/util/repeats", test_util_repeats);
    g_test_add_data_func("/pcs-rx/util/after-frames/idle",
                         GINT_TO_POINTER(PCS_UTIL_FORM_IDLE),
                         test_util_after_frames);
    g_test_add_data_func("/pcs-rx/util/after-frames/expanded",
                         GINT_TO_POINTER(PCS_UTIL_FORM_EXPANDED),
                         test_util_after_frames);
    g_test_add_func("/pcs-rx/gap-equals-idles", test_gap_equals_idles);
    g_test_add_func("/pcs-rx/util/accepted-as-idle",
                    test_util_accepted_as_idle);
    return g_test_run();
}
