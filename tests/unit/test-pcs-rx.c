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
            for (unsigned start = 0; start < 4; start++) {
                PcsUtil u = {
                    .cpu_pct = v, .irq_pct = 100 - v,
                    .seq = (uint8_t)(v * 3 + start),
                    .has_contention = start >= 2,
                    .psi_permille = start >= 2 ? v * 10 : 0,
                    .runnable = start >= 2 ? 1023 - v : 0,
                };
                unsigned rd = rx->rd;
                size_t n = 0;

                if (start & 1) {
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
                g_assert_cmpint(s.util.has_contention, ==,
                                u.has_contention);
                g_assert_cmpuint(s.util.psi_permille, ==, u.psi_permille);
                g_assert_cmpuint(s.util.runnable, ==, u.runnable);
                g_assert_cmpint(s.form, ==, form);
            }
        }
    }
    g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
    g_assert_cmpuint(s.utils, ==, 2 * 15 * 4);
    g_free(rx);
}

/*
 * Every pressure (0..1000) and every runnable count (0..1023), with every
 * CPU and interrupt figure and sequence number along the way, in both
 * forms from both disparities; figures out of range go as the largest.
 */
static void test_util_contention_all_values(void)
{
    uint16_t cg[64];
    Sink s;
    PcsRx *rx = synced_rx(&s);
    unsigned sent = 0;

    for (unsigned i = 0; i < 1100; i++) {
        for (unsigned form = 0; form < 2; form++) {
            PcsUtil u = {
                .cpu_pct = i % 101, .irq_pct = (i * 7) % 101,
                .seq = (uint8_t)(i + form),
                .has_contention = true,
                /* 7 is prime to 1100: every pressure once */
                .psi_permille = (i * 7) % 1100, .runnable = i,
            };
            unsigned rd = rx->rd;
            size_t n = 0;

            if (i & 1) {
                /* start at RD+, as after a /T/R/ that left it so */
                cg[n++] = pcs_encode(PCS_K28_5, true, &rd);
                cg[n++] = pcs_encode(PCS_D(5, 6), false, &rd);
            }
            n += pcs_tx_util(&u, form, cg + n, &rd);
            pcs_rx_input(rx, cg, n);
            pcs_rx_gap(rx);
            sent++;
            g_assert_cmpuint(s.utils, ==, sent);
            g_assert_true(s.util.has_contention);
            g_assert_cmpuint(s.util.cpu_pct, ==, u.cpu_pct);
            g_assert_cmpuint(s.util.irq_pct, ==, u.irq_pct);
            g_assert_cmpuint(s.util.seq, ==, u.seq);
            g_assert_cmpuint(s.util.psi_permille, ==,
                             MIN((i * 7) % 1100, 1000));
            g_assert_cmpuint(s.util.runnable, ==, MIN(i, 1023));
        }
    }
    g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
    g_free(rx);
}

/*
 * A corrupted symbol fails the check value; a truncated set is an error
 * too, and neither is delivered.
 */
static void test_util_errors(void)
{
    PcsUtil u = { .cpu_pct = 42, .irq_pct = 7, .seq = 9 };
    uint16_t cg[PCS_UTIL_MAX_CGS];
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
 * The idle form built independently of pcs_tx_util(), from the layout in
 * docs/link-layer.md: six K28.5 Dx.y sets from RD-, @marker then 30 bits
 * in five six-bit symbols, most significant first.
 */
static size_t idle_sets(uint8_t marker, uint32_t bits, uint16_t *cg)
{
    unsigned rd = PCS_RD_NEG;
    size_t n = 0;

    cg[n++] = pcs_encode(PCS_K28_5, true, &rd);
    cg[n++] = pcs_encode(marker, false, &rd);
    for (unsigned i = 0; i < 5; i++) {
        cg[n++] = pcs_encode(PCS_K28_5, true, &rd);
        cg[n++] = pcs_encode(pcs_util_alphabet[(bits >> (24 - 6 * i)) & 63],
                             false, &rd);
    }
    g_assert_cmpuint(rd, ==, PCS_RD_NEG);
    return n;
}

/* psi:10 run:10 reserved:2 check:8 */
static uint32_t ext_bits(const PcsUtil *u, unsigned reserved)
{
    return (uint32_t)u->psi_permille << 20 | (uint32_t)u->runnable << 10 |
           reserved << 8 | pcs_util_cont_check(u);
}

/* cpu:7 irq:7 seq:8 reserved:2 check:6 */
static uint32_t set_bits(const PcsUtil *u)
{
    return (uint32_t)u->cpu_pct << 23 | (uint32_t)u->irq_pct << 16 |
           (uint32_t)u->seq << 8 | (pcs_util_check(u) & 63);
}

/*
 * The contention form is its extension followed by the form without
 * contention figures, code group for code group; the extension holds no
 * start marker of that form.  So a receiver that predates the contention
 * form, which takes any other K28.5 Dx.y outside a set as an idle, gets
 * the CPU and interrupt figures from it as before.
 */
static void test_util_contention_layout(void)
{
    PcsUtil u = {
        .cpu_pct = 42, .irq_pct = 7, .seq = 5,
        .has_contention = true, .psi_permille = 250, .runnable = 3,
    };
    PcsUtil plain = { .cpu_pct = 42, .irq_pct = 7, .seq = 5 };
    uint16_t cg[PCS_UTIL_MAX_CGS], want[PCS_UTIL_MAX_CGS];
    unsigned rd = PCS_RD_NEG;
    size_t n = pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg, &rd);

    g_assert_cmpuint(n, ==, PCS_UTIL_CONT_IDLE_CGS);
    idle_sets(pcs_util_cont_marker, ext_bits(&u, 0), want);
    idle_sets(pcs_util_marker, set_bits(&u), want + 12);
    g_assert_cmpmem(cg, n * 2, want, PCS_UTIL_CONT_IDLE_CGS * 2);
    rd = PCS_RD_NEG;
    n = pcs_tx_util(&plain, PCS_UTIL_FORM_IDLE, want, &rd);
    g_assert_cmpmem(cg + 12, 24, want, n * 2);
    for (unsigned i = 1; i < 12; i += 2) {
        unsigned r = PCS_RD_POS;

        g_assert_cmpuint(pcs_decode(cg[i], &r) & 0xff, !=, pcs_util_marker);
    }
    /* the extension alone: the first twelve, after /I1/ from RD+ */
    rd = PCS_RD_NEG;
    n = pcs_tx_util_ext(&u, want, &rd);
    g_assert_cmpuint(n, ==, 12);
    g_assert_cmpuint(rd, ==, PCS_RD_NEG);
    g_assert_cmpmem(want, 24, cg, 24);
    rd = PCS_RD_POS;
    n = pcs_tx_util_ext(&u, want, &rd);
    g_assert_cmpuint(n, ==, 14);
    g_assert_cmpuint(rd, ==, PCS_RD_NEG);
    g_assert_cmpmem(want + 2, 24, cg, 24);
    g_assert_cmphex(pcs_util_cont_marker, ==, PCS_D(14, 4));
    g_assert_cmpuint(pcs_util_symbol[pcs_util_cont_marker], ==, 0xff);

    /* the expanded form: K28.2, seven octets, CRC-8 over them, K28.4 */
    rd = PCS_RD_NEG;
    n = pcs_tx_util(&u, PCS_UTIL_FORM_EXPANDED, cg, &rd);
    g_assert_cmpuint(n, ==, PCS_UTIL_CONT_EXPANDED_CGS);
    {
        static const uint8_t oct[8] = { 42, 7, 5, 0, 250, 0, 3 };
        unsigned r = PCS_RD_NEG;

        g_assert_cmphex(pcs_decode(cg[0], &r), ==, PCS_CG_K | PCS_K28_2);
        for (unsigned i = 0; i < 7; i++) {
            g_assert_cmphex(pcs_decode(cg[1 + i], &r), ==, oct[i]);
        }
        g_assert_cmphex(pcs_decode(cg[8], &r), ==, pcs_util_cont_check(&u));
        g_assert_cmphex(pcs_decode(cg[9], &r), ==, PCS_CG_K | PCS_K28_4);
    }
}

/*
 * The worked examples of docs/link-layer.md ("Contention form" and the
 * expanded form): cpu 42 %, irq 7 %, seq 5, pressure 250 permille, 3
 * runnable, from RD-.
 */
static void test_util_contention_worked_example(void)
{
    static const uint16_t want[PCS_UTIL_CONT_IDLE_CGS] = {
        0x0fa, 0x1c2,   /* K28.5 D14.4: extension marker */
        0x0fa, 0x1a4,   /* K28.5 D22.0: symbol 15 */
        0x0fa, 0x115,   /* K28.5 D29.2: symbol 40 */
        0x0fa, 0x314,   /* K28.5 D3.0: symbol 0 */
        0x0fa, 0x28c,   /* K28.5 D15.3: symbol 48 */
        0x0fa, 0x0a5,   /* K28.5 D4.2: symbol 34, the check value */
        0x0fa, 0x2c2,   /* K28.5 D13.4: start marker */
        0x0fa, 0x129,   /* K28.5 D2.1: symbol 21 */
        0x0fa, 0x294,   /* K28.5 D5.0: symbol 1 */
        0x0fa, 0x28c,   /* K28.5 D15.3: symbol 48 */
        0x0fa, 0x229,   /* K28.5 D1.1: symbol 20 */
        0x0fa, 0x09c,   /* K28.5 D27.3: symbol 52, check's low six */
    };
    static const uint16_t want_x[PCS_UTIL_CONT_EXPANDED_CGS] = {
        0x0f5, 0x159, 0x074, 0x29b, 0x18b, 0x161, 0x274, 0x31b, 0x129, 0x0f2,
    };
    PcsUtil u = {
        .cpu_pct = 42, .irq_pct = 7, .seq = 5,
        .has_contention = true, .psi_permille = 250, .runnable = 3,
    };
    uint16_t cg[PCS_UTIL_MAX_CGS];
    unsigned rd = PCS_RD_NEG;
    size_t n = pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg, &rd);

    g_assert_cmphex(pcs_util_cont_check(&u), ==, 0x22);
    g_assert_cmphex(ext_bits(&u, 0), ==, 0x0fa00c22);
    g_assert_cmpmem(cg, n * 2, want, sizeof(want));

    /* the expanded form's example: K28.2 ... K28.4, ending at RD- */
    rd = PCS_RD_NEG;
    n = pcs_tx_util(&u, PCS_UTIL_FORM_EXPANDED, cg, &rd);
    g_assert_cmpmem(cg, n * 2, want_x, sizeof(want_x));
}

/*
 * The existing worked example (idle form, cpu 42, irq 7, seq 5): the last
 * twelve code groups of the burst in docs/link-layer.md.
 */
static void test_util_worked_example(void)
{
    static const uint8_t want_oct[6] = { 0x8d, 0x22, 0x05, 0x6f, 0x21, 0x7b };
    PcsUtil u = { .cpu_pct = 42, .irq_pct = 7, .seq = 5 };
    uint16_t cg[PCS_UTIL_MAX_CGS];
    unsigned rd = PCS_RD_NEG;
    size_t n = pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg, &rd);

    g_assert_cmpuint(n, ==, 12);
    g_assert_cmphex(pcs_util_check(&u), ==, 0xb4);
    g_assert_cmphex(set_bits(&u) >> 6, ==, 0x541c14);
    for (unsigned i = 0; i < 6; i++) {
        unsigned r = PCS_RD_NEG;

        g_assert_cmphex(cg[2 * i], ==, 0x0fa);
        g_assert_cmphex(pcs_decode(cg[2 * i + 1], (r = PCS_RD_POS, &r)),
                        ==, want_oct[i]);
    }
}

/* Feed @cg to a synced receiver, then a gap; return it. */
static PcsRx *rx_after(Sink *s, const uint16_t *cg, size_t n)
{
    PcsRx *rx = synced_rx(s);

    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);
    return rx;
}

/*
 * One of each way a contention sample can be broken.  A broken set is
 * counted in util_errors and not delivered; the extension before it is
 * dropped (util_ext_dropped).  A broken extension is counted in
 * util_errors and its set goes as a sample without contention figures;
 * so does a set that a good extension does not match (the extension is
 * dropped, not an error: its own set may have been lost).
 */
static void test_util_contention_errors(void)
{
    PcsUtil u = {
        .cpu_pct = 61, .irq_pct = 9, .seq = 77,
        .has_contention = true, .psi_permille = 640, .runnable = 12,
    };
    PcsUtil v = u, w = u;
    uint16_t cg[4 * PCS_UTIL_MAX_CGS];
    unsigned rd;
    size_t n;
    Sink s;
    PcsRx *rx;
    struct {
        const char *what;
        uint32_t ext;           /* extension bits */
        uint32_t set;           /* the set's bits */
        unsigned errors, dropped, utils;
    } idle_cases[] = {
        { "ext check wrong", ext_bits(&u, 0) ^ 1, set_bits(&u), 0, 1, 1 },
        { "ext reserved 01", ext_bits(&u, 1), set_bits(&u), 1, 0, 1 },
        { "ext reserved 10", ext_bits(&u, 2), set_bits(&u), 1, 0, 1 },
        { "set check wrong", ext_bits(&u, 0), set_bits(&u) ^ 1, 1, 1, 0 },
        { "set reserved", ext_bits(&u, 0), set_bits(&u) | 0x40, 1, 1, 0 },
        { "cpu 101", ext_bits(&u, 0), set_bits(&u) | 127u << 23, 1, 1, 0 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(idle_cases); i++) {
        n = idle_sets(pcs_util_cont_marker, idle_cases[i].ext, cg);
        n += idle_sets(pcs_util_marker, idle_cases[i].set, cg + n);
        rx = rx_after(&s, cg, n);
        g_test_message("%s", idle_cases[i].what);
        g_assert_cmpuint(rx->cnt.util_errors, ==, idle_cases[i].errors);
        g_assert_cmpuint(rx->cnt.util_ext_dropped, ==,
                         idle_cases[i].dropped);
        g_assert_cmpuint(s.utils, ==, idle_cases[i].utils);
        if (s.utils) {
            g_assert_false(s.util.has_contention);
            g_assert_cmpuint(s.util.seq, ==, 77);
        }
        g_assert_false(rx->util_ext_pending);
        g_free(rx);
    }

    /* pressure 1001 with a check value that matches it */
    v.psi_permille = 1001;
    n = idle_sets(pcs_util_cont_marker, ext_bits(&v, 0), cg);
    n += idle_sets(pcs_util_marker, set_bits(&v), cg + n);
    rx = rx_after(&s, cg, n);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 1);
    g_assert_cmpuint(s.utils, ==, 1);
    g_assert_false(s.util.has_contention);
    g_free(rx);

    /*
     * an extension and a set of different samples (seq 78, not 77): the
     * extension's set was lost; the set is a sample of its own
     */
    v = u;
    v.seq = 78;
    n = idle_sets(pcs_util_cont_marker, ext_bits(&u, 0), cg);
    n += idle_sets(pcs_util_marker, set_bits(&v), cg + n);
    rx = rx_after(&s, cg, n);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
    g_assert_cmpuint(rx->cnt.util_ext_dropped, ==, 1);
    g_assert_cmpuint(s.utils, ==, 1);
    g_assert_false(s.util.has_contention);
    g_assert_cmpuint(s.util.seq, ==, 78);
    g_free(rx);

    /* a data octet that is no symbol inside the extension */
    rd = PCS_RD_NEG;
    n = pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg, &rd);
    rd = PCS_RD_POS;
    cg[5] = pcs_encode(0x91, false, &rd);
    g_assert_cmpuint(pcs_util_symbol[0x91], ==, 0xff);
    rx = rx_after(&s, cg, n);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 1);
    g_assert_cmpuint(s.utils, ==, 1);
    g_assert_false(s.util.has_contention);
    g_free(rx);

    /* an extension cut short by the set's marker */
    n = idle_sets(pcs_util_cont_marker, ext_bits(&u, 0), cg);
    n = 8 + idle_sets(pcs_util_marker, set_bits(&u), cg + 8);
    rx = rx_after(&s, cg, n);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 1);
    g_assert_cmpuint(s.utils, ==, 1);
    g_assert_false(s.util.has_contention);
    g_free(rx);

    /* an extension with no set after it (yet): it waits, uncounted */
    n = idle_sets(pcs_util_cont_marker, ext_bits(&u, 0), cg);
    rx = rx_after(&s, cg, n);
    g_assert_cmpuint(rx->cnt.util_errors + rx->cnt.util_ext_dropped, ==, 0);
    g_assert_cmpuint(s.utils, ==, 0);
    g_assert_true(rx->util_ext_pending);
    g_free(rx);

    /* idles between the extension and its set change nothing */
    n = idle_sets(pcs_util_cont_marker, ext_bits(&u, 0), cg);
    rd = PCS_RD_NEG;
    n += pcs_tx_idle(cg + n, &rd);
    n += idle_sets(pcs_util_marker, set_bits(&u), cg + n);
    rx = rx_after(&s, cg, n);
    g_assert_cmpuint(rx->cnt.util_errors + rx->cnt.util_ext_dropped, ==, 0);
    g_assert_cmpuint(s.utils, ==, 1);
    g_assert_true(s.util.has_contention);
    g_assert_cmpuint(s.util.psi_permille, ==, 640);
    g_free(rx);

    /*
     * two extensions in a row: the first is superseded (dropped), the
     * second takes the set
     */
    w.psi_permille = 1;
    n = idle_sets(pcs_util_cont_marker, ext_bits(&w, 0), cg);
    rd = PCS_RD_NEG;
    n += pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + n, &rd);
    rx = rx_after(&s, cg, n);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
    g_assert_cmpuint(rx->cnt.util_ext_dropped, ==, 1);
    g_assert_cmpuint(s.utils, ==, 1);
    g_assert_true(s.util.has_contention);
    g_assert_cmpuint(s.util.psi_permille, ==, 640);
    g_free(rx);

    /* the expanded form: check, range, reserved bits, length */
    for (unsigned c = 0; c < 5; c++) {
        uint8_t oct[8] = { 61, 9, 77, 640 >> 8, 640 & 0xff, 0, 12 };
        unsigned len = 8;

        oct[7] = pcs_util_cont_check(&u);
        switch (c) {
        case 0:
            oct[7] ^= 0x80;
            break;
        case 1:     /* pressure 1001, the check matching it */
            v = u;
            v.psi_permille = 1001;
            oct[3] = 1001 >> 8;
            oct[4] = 1001 & 0xff;
            oct[7] = pcs_util_cont_check(&v);
            break;
        case 2:     /* runnable 1024: a reserved bit, the check matching */
            v = u;
            v.runnable = 1024;
            oct[5] = 4;
            oct[6] = 0;
            oct[7] = pcs_util_cont_check(&v);
            break;
        case 3:     /* K28.4 one octet early */
            len = 7;
            break;
        default:    /* one octet too many */
            len = 9;
            break;
        }
        rd = PCS_RD_NEG;
        n = 0;
        cg[n++] = pcs_encode(PCS_K28_2, true, &rd);
        for (unsigned i = 0; i < len; i++) {
            cg[n++] = pcs_encode(i < 8 ? oct[i] : 0, false, &rd);
        }
        cg[n++] = pcs_encode(PCS_K28_4, true, &rd);
        if (n & 1) {
            /* back to an even position, as /T/R/R/ would */
            cg[n++] = pcs_encode(PCS_K23_7, true, &rd);
        }
        if (rd == PCS_RD_POS) {
            n += pcs_tx_idle(cg + n, &rd);
        }
        rx = rx_after(&s, cg, n);
        g_test_message("expanded case %u", c);
        g_assert_cmpuint(rx->cnt.util_errors, ==, 1);
        g_assert_cmpuint(s.utils, ==, 0);
        g_free(rx);
    }
}

/*
 * A bit error anywhere in a contention set, in either form: the receiver
 * takes the sample as sent or not at all (counted), never other figures.
 * A hit that makes the extension's code groups something other than its
 * ordered sets (an invalid code group, a special, its marker changed) hides
 * the extension: the sample then comes without contention figures, as
 * from a sender that has none.
 */
static void test_util_contention_bit_errors(void)
{
    PcsUtil u = {
        .cpu_pct = 33, .irq_pct = 4, .seq = 201,
        .has_contention = true, .psi_permille = 999, .runnable = 517,
    };
    unsigned taken = 0, dropped = 0;

    for (unsigned form = 0; form < 2; form++) {
        uint16_t clean[PCS_UTIL_MAX_CGS];
        unsigned rd = PCS_RD_NEG;
        size_t n = pcs_tx_util(&u, form, clean, &rd);

        for (size_t i = 0; i < n; i++) {
            for (unsigned bit = 0; bit < 10; bit++) {
                uint16_t cg[PCS_UTIL_MAX_CGS];
                Sink s;
                PcsRx *rx;

                memcpy(cg, clean, n * sizeof(cg[0]));
                cg[i] ^= 1u << bit;
                rx = rx_after(&s, cg, n);
                if (s.utils) {
                    g_assert_cmpuint(s.utils, ==, 1);
                    g_assert_cmpuint(s.util.cpu_pct, ==, u.cpu_pct);
                    g_assert_cmpuint(s.util.irq_pct, ==, u.irq_pct);
                    g_assert_cmpuint(s.util.seq, ==, u.seq);
                    if (!s.util.has_contention) {
                        /*
                         * the extension was hit so that it was not seen
                         * as one (or was aborted, counted): the set
                         * stands alone
                         */
                        g_assert_cmpuint(form, ==, PCS_UTIL_FORM_IDLE);
                        g_assert_cmpuint(i, <, 12);
                    } else {
                        g_assert_cmpuint(s.util.psi_permille, ==, 999);
                        g_assert_cmpuint(s.util.runnable, ==, 517);
                    }
                    taken++;
                } else {
                    g_assert_cmpuint(rx->cnt.util_errors +
                                     rx->cnt.invalid_cgs +
                                     rx->cnt.disparity_errors +
                                     rx->cnt.rx_invalid +
                                     rx->cnt.false_carriers, >, 0);
                    dropped++;
                }
                g_free(rx);
            }
        }
    }
    g_assert_cmpuint(dropped, >, 0);
    g_test_message("bit errors: %u samples still taken whole, %u dropped",
                   taken, dropped);
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
        PcsUtil u = {
            .cpu_pct = i, .irq_pct = 100 - i, .seq = i * 5,
            .has_contention = i & 1, .psi_permille = i * 25,
            .runnable = i * 20,
        };
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
        g_assert_cmpint(s.util.has_contention, ==, i & 1);
        g_assert_cmpuint(s.util.psi_permille, ==, i & 1 ? i * 25 : 0);
        g_assert_cmpuint(s.util.runnable, ==, i & 1 ? i * 20 : 0);
        g_assert_cmpint(s.form, ==, form);
    }
    g_assert_cmpuint(rx->cnt.util_errors + rx->cnt.rx_invalid +
                     rx->cnt.false_carriers, ==, 0);
    g_free(rx);
}

static void test_util_repeats(gconstpointer data)
{
    static uint16_t cg[PCS_FRAME_MAX_CGS(100) + PCS_UTIL_MAX_CGS];
    PcsUtil u = {
        .cpu_pct = 55, .irq_pct = 3, .seq = 200,
        .has_contention = GPOINTER_TO_INT(data),
        .psi_permille = GPOINTER_TO_INT(data) ? 1000 : 0,
        .runnable = GPOINTER_TO_INT(data) ? 1023 : 0,
    };
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
        g_assert_cmpint(s.util.has_contention, ==, u.has_contention);
        g_assert_cmpuint(s.util.psi_permille, ==, u.psi_permille);
        g_assert_cmpuint(s.util.runnable, ==, u.runnable);
        g_assert_cmpuint(rx->rd, ==, PCS_RD_NEG);
    }
    g_assert_cmpuint(rx->cnt.code_groups, ==, cgs_fed);
    g_assert_cmpuint(rx->cnt.util_sets, ==, 40);
    g_assert_cmpuint(rx->cnt.util_errors + rx->cnt.rx_invalid, ==, 0);
    g_free(rx);
}

/*
 * One half of a split contention sample, built from the layout of
 * docs/link-layer.md (not with pcs_tx_util_ext()): /I1/ if *rd is
 * positive, then the extension's (@ext) or the set's six sets; RD- after.
 */
static size_t half_sets(const PcsUtil *u, bool ext, uint16_t *cg,
                        unsigned *rd)
{
    size_t n = 0;

    if (*rd == PCS_RD_POS) {
        n += pcs_tx_idle(cg, rd);
    }
    n += idle_sets(ext ? pcs_util_cont_marker : pcs_util_marker,
                   ext ? ext_bits(u, 0) : set_bits(u), cg + n);
    *rd = PCS_RD_NEG;
    return n;
}

/* Sample @i of a run: every figure moves. */
static PcsUtil run_sample(unsigned i)
{
    PcsUtil u = {
        .cpu_pct = i % 101, .irq_pct = (i * 3) % 101, .seq = (uint8_t)i,
        .has_contention = true, .psi_permille = (i * 37) % 1001,
        .runnable = (i * 11) % 1024,
    };

    return u;
}

static void assert_util_eq(const PcsUtil *got, const PcsUtil *want)
{
    g_assert_cmpuint(got->cpu_pct, ==, want->cpu_pct);
    g_assert_cmpuint(got->irq_pct, ==, want->irq_pct);
    g_assert_cmpuint(got->seq, ==, want->seq);
    g_assert_cmpint(got->has_contention, ==, want->has_contention);
    if (want->has_contention) {
        g_assert_cmpuint(got->psi_permille, ==, want->psi_permille);
        g_assert_cmpuint(got->runnable, ==, want->runnable);
    }
}

/*
 * A model of the receiver that predates the contention form (bladeplane
 * before datasheet 1.1), in the gaps: K28.5 and the start marker start a
 * set, five symbols and a matching check value make a sample, any other
 * data octet in a set aborts it; every other K28.5 Dx.y is an idle.
 * Frames, /S/ to /T/, are skipped.  Every code group must be valid.
 */
typedef struct OldRx {
    unsigned pos;
    uint8_t sym[6];
    unsigned samples, errors;
    PcsUtil last;
} OldRx;

static void old_rx_burst(OldRx *o, const uint16_t *cg, size_t n)
{
    unsigned rd = PCS_RD_NEG;
    bool in_frame = false;

    for (size_t i = 0; i < n; i++) {
        unsigned r = pcs_decode(cg[i], &rd);
        uint8_t d;

        g_assert_false(r & (PCS_CG_INVALID | PCS_CG_DISPARITY));
        if (in_frame || r == (PCS_CG_K | PCS_K27_7)) {
            in_frame = r != (PCS_CG_K | PCS_K29_7);
            continue;
        }
        if (r != (PCS_CG_K | PCS_CG_COMMA | PCS_K28_5)) {
            continue;       /* /R/ */
        }
        g_assert_cmpuint(++i, <, n);
        r = pcs_decode(cg[i], &rd);
        g_assert_false(r & (PCS_CG_INVALID | PCS_CG_DISPARITY | PCS_CG_K));
        d = r & 0xff;
        if (d == pcs_util_marker) {
            o->pos = 1;
        } else if (o->pos > 0 && pcs_util_symbol[d] == 0xff) {
            o->pos = 0;
            o->errors++;
        } else if (o->pos > 0) {
            o->sym[o->pos++] = pcs_util_symbol[d];
            if (o->pos == 6) {
                uint32_t bits = (uint32_t)o->sym[1] << 18 |
                                (uint32_t)o->sym[2] << 12 |
                                (uint32_t)o->sym[3] << 6 | o->sym[4];
                PcsUtil u = {
                    .cpu_pct = (bits >> 17) & 127,
                    .irq_pct = (bits >> 10) & 127,
                    .seq = (bits >> 2) & 255,
                };

                o->pos = 0;
                if ((bits & 3) || u.cpu_pct > 100 || u.irq_pct > 100 ||
                    (pcs_util_check(&u) & 63) != o->sym[5]) {
                    o->errors++;
                } else {
                    o->samples++;
                    o->last = u;
                }
            }
        }
    }
}

/*
 * Frames back to back with a new contention sample every @every frames,
 * sent as a transmitter whose gaps hold only the minimum does: the
 * extension (pcs_tx_util_ext()) in one frame's gap, the set in the next
 * one's, a newer sample waiting while a set is left.  Each gap carries six
 * ordered sets after the /I1/ a frame that ends at RD+ needs: the same
 * code groups as a set without contention figures, no more than the
 * minimum gap.  The receiver takes every sample sent, figures intact,
 * frames between the halves, nothing counted; a receiver that predates
 * the form takes the CPU and interrupt figures of each.
 */
static void test_util_split_line(gconstpointer data)
{
    unsigned every = GPOINTER_TO_UINT(data);
    static uint16_t cg[PCS_FRAME_MAX_CGS(100) + PCS_UTIL_MAX_CGS];
    PcsUtil cur = { 0 }, left = { 0 };
    bool unsent = false, have_left = false;
    unsigned delivered = 0, sampled = 0;
    OldRx old = { 0 };
    uint8_t f[100];
    Sink s;
    PcsRx *rx = synced_rx(&s);

    for (unsigned i = 0; i < 300; i++) {
        unsigned rd = rx->rd, rd_frame;
        size_t fl, n, len = 60 + i % 41;
        bool carries_set = false;

        g_assert_cmpuint(rd, ==, PCS_RD_NEG);
        if (i % every == 0) {
            cur = run_sample(sampled++);
            unsent = true;
        }
        make_frame(f, len, i);
        fl = n = pcs_tx_frame(f, len, cg, &rd);
        rd_frame = rd;
        if (have_left) {
            n += half_sets(&left, false, cg + n, &rd);
            have_left = false;
            carries_set = true;
        } else if (unsent) {
            n += pcs_tx_util_ext(&cur, cg + n, &rd);
            left = cur;
            have_left = true;
            unsent = false;
        }
        if (n > fl) {
            PcsUtil plain = cur;
            uint16_t ref[PCS_UTIL_MAX_CGS];
            unsigned r = rd_frame;

            plain.has_contention = false;
            g_assert_cmpuint(n - fl, ==,
                             pcs_tx_util(&plain, PCS_UTIL_FORM_IDLE, ref, &r));
            g_assert_cmpuint(n - fl - (rd_frame == PCS_RD_POS ? 2 : 0), ==,
                             2 * PCS_GAP_IDLE_SETS);
            g_assert_cmpuint(rd, ==, PCS_RD_NEG);
        }
        pcs_rx_input(rx, cg, n);
        pcs_rx_gap(rx);
        old_rx_burst(&old, cg, n);
        g_assert_cmpuint(s.frames, ==, i + 1);
        if (carries_set) {
            delivered++;
            assert_util_eq(&s.util, &left);
            g_assert_cmpuint(old.last.cpu_pct, ==, left.cpu_pct);
            g_assert_cmpuint(old.last.irq_pct, ==, left.irq_pct);
            g_assert_cmpuint(old.last.seq, ==, left.seq);
        }
        g_assert_cmpuint(s.utils, ==, delivered);
        g_assert_cmpuint(old.samples, ==, delivered);
    }
    g_assert_cmpuint(delivered, ==, every == 1 ? 150 : 300 / every);
    g_assert_cmpuint(rx->cnt.util_errors + rx->cnt.util_ext_dropped +
                     rx->cnt.rx_invalid + rx->cnt.false_carriers +
                     rx->cnt.fcs_errors, ==, 0);
    g_assert_cmpuint(old.errors, ==, 0);
    g_free(rx);
}

/* A frame, then in its gap one half of @u (HALF_*), damaged by @damage. */
enum { HALF_NONE, HALF_EXT, HALF_SET };
enum { DMG_NONE, DMG_SYMBOL, DMG_BIT };

static void split_burst(PcsRx *rx, unsigned seed, const PcsUtil *u, int half,
                        int damage)
{
    static uint16_t cg[PCS_FRAME_MAX_CGS(80) + PCS_UTIL_MAX_CGS];
    uint8_t f[80];
    unsigned rd = PCS_RD_NEG, rd_frame;
    size_t fl, n;

    make_frame(f, sizeof(f), seed);
    fl = n = pcs_tx_frame(f, sizeof(f), cg, &rd);
    rd_frame = rd;
    if (half != HALF_NONE) {
        n += half_sets(u, half == HALF_EXT, cg + n, &rd);
    }
    if (damage == DMG_SYMBOL) {
        /* the third symbol becomes the next one: a well-formed set */
        size_t at = n - 5;
        unsigned r = PCS_RD_POS;
        uint8_t oct = pcs_decode(cg[at], &r) & 0xff;

        r = PCS_RD_POS;
        cg[at] = pcs_encode(pcs_util_alphabet[(pcs_util_symbol[oct] + 1) & 63],
                            false, &r);
    } else if (damage == DMG_BIT) {
        cg[n - 5] ^= 1u << 3;
    }
    g_assert_cmpuint(n - fl, ==, half == HALF_NONE ? 0 : PCS_UTIL_IDLE_CGS +
                                 (rd_frame == PCS_RD_POS ? 2 : 0));
    pcs_rx_input(rx, cg, n);
    pcs_rx_gap(rx);
}

/*
 * A split sample that goes wrong: either half damaged, its set lost, loss
 * of sync, link down or a renegotiation between the halves.  The figures
 * are never taken from a pair that does not match; a set the pending
 * extension does not match goes as a sample without them.
 */
static void test_util_split_errors(void)
{
    PcsUtil u = run_sample(5), v = run_sample(6), plain;
    uint64_t code_errors;
    Sink s;
    PcsRx *rx;

    /* the extension's symbol changed: it no longer matches its set */
    rx = synced_rx(&s);
    split_burst(rx, 1, &u, HALF_EXT, DMG_SYMBOL);
    g_assert_true(rx->util_ext_pending);
    split_burst(rx, 2, &u, HALF_SET, DMG_NONE);
    g_assert_cmpuint(s.frames, ==, 2);
    g_assert_cmpuint(s.utils, ==, 1);
    plain = u;
    plain.has_contention = false;
    assert_util_eq(&s.util, &plain);
    g_assert_cmpuint(rx->cnt.util_ext_dropped, ==, 1);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
    g_free(rx);

    /* the extension hit by a bit error: counted, its set goes alone */
    rx = synced_rx(&s);
    split_burst(rx, 1, &u, HALF_EXT, DMG_BIT);
    g_assert_false(rx->util_ext_pending);
    code_errors = rx->cnt.invalid_cgs + rx->cnt.disparity_errors;
    g_assert_cmpuint(rx->cnt.util_errors + code_errors, >, 0);
    split_burst(rx, 2, &u, HALF_SET, DMG_NONE);
    g_assert_cmpuint(s.utils, ==, 1);
    assert_util_eq(&s.util, &plain);
    g_free(rx);

    /* the set damaged either way: neither is taken */
    for (int dmg = DMG_SYMBOL; dmg <= DMG_BIT; dmg++) {
        rx = synced_rx(&s);
        split_burst(rx, 1, &u, HALF_EXT, DMG_NONE);
        split_burst(rx, 2, &u, HALF_SET, dmg);
        g_assert_cmpuint(s.frames, >=, 1);
        g_assert_cmpuint(s.utils, ==, 0);
        g_assert_cmpuint(rx->cnt.util_errors, ==, 1);
        g_assert_cmpuint(rx->cnt.util_ext_dropped, ==, 1);
        g_assert_false(rx->util_ext_pending);
        g_free(rx);
    }

    /*
     * the set lost (a frame's gap without it), then the next sample
     * split: the stale extension is dropped, the next one taken whole
     */
    rx = synced_rx(&s);
    split_burst(rx, 1, &u, HALF_EXT, DMG_NONE);
    split_burst(rx, 2, NULL, HALF_NONE, DMG_NONE);
    split_burst(rx, 3, &v, HALF_EXT, DMG_NONE);
    split_burst(rx, 4, &v, HALF_SET, DMG_NONE);
    g_assert_cmpuint(s.frames, ==, 4);
    g_assert_cmpuint(s.utils, ==, 1);
    assert_util_eq(&s.util, &v);
    g_assert_cmpuint(rx->cnt.util_ext_dropped, ==, 1);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
    g_free(rx);

    /* the set lost, then a sample without contention figures */
    rx = synced_rx(&s);
    plain = v;
    plain.has_contention = false;
    split_burst(rx, 1, &u, HALF_EXT, DMG_NONE);
    split_burst(rx, 2, &plain, HALF_SET, DMG_NONE);
    g_assert_cmpuint(s.utils, ==, 1);
    assert_util_eq(&s.util, &plain);
    g_assert_cmpuint(rx->cnt.util_ext_dropped, ==, 1);
    g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
    g_free(rx);

    /*
     * loss of sync (signal lost, or four invalid code groups), link down,
     * or configuration sets between the halves: the extension is dropped,
     * its set goes without figures
     */
    plain = u;
    plain.has_contention = false;
    for (unsigned c = 0; c < 4; c++) {
        rx = synced_rx(&s);
        split_burst(rx, 1, &u, HALF_EXT, DMG_NONE);
        g_assert_true(rx->util_ext_pending);
        if (c == 0) {
            pcs_rx_signal_lost(rx);
        } else if (c == 1) {
            static const uint16_t bad[4] = { 0, 0, 0, 0 };

            pcs_rx_input(rx, bad, 4);
        } else if (c == 2) {
            pcs_rx_link_down(rx);
        } else {
            uint16_t cfg[16];
            unsigned rd = PCS_RD_NEG;
            size_t n = 0;

            for (unsigned i = 0; i < 4; i++) {
                n += pcs_tx_config(0x00a0, i & 1, cfg + n, &rd);
            }
            pcs_rx_input(rx, cfg, n);
        }
        g_assert_false(rx->util_ext_pending);
        g_assert_cmpuint(rx->cnt.util_ext_dropped, ==, 1);
        pcs_rx_gap(rx);
        g_assert_true(pcs_rx_sync_ok(rx));
        split_burst(rx, 2, &u, HALF_SET, DMG_NONE);
        g_test_message("case %u", c);
        g_assert_cmpuint(s.utils, ==, 1);
        assert_util_eq(&s.util, &plain);
        g_assert_cmpuint(rx->cnt.util_ext_dropped, ==, 1);
        g_assert_cmpuint(rx->cnt.util_errors, ==, 0);
        g_free(rx);
    }
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
            PcsUtil u = {
                .cpu_pct = v, .irq_pct = v / 2, .seq = (uint8_t)(len * 7 + v),
            };
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

            /* The contention form: twelve sets, all idles. */
            u.has_contention = true;
            u.psi_permille = v * 10;
            u.runnable = len * 10 + v;
            rd = PCS_RD_NEG;
            fl = pcs_tx_frame(f, len, cg, &rd);
            n = fl + pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, cg + fl, &rd);
            n += pcs_tx_idle(cg + n, &rd);
            g_assert_cmpuint(rd, ==, PCS_RD_NEG);
            sets = strict_idle_receiver(cg, n, 12 + (len < 60 ? 60 : len));
            g_assert_cmpint(sets, >=, 13);

            /* Split: the extension alone in a frame's gap. */
            rd = PCS_RD_NEG;
            fl = pcs_tx_frame(f, len, cg, &rd);
            n = fl + pcs_tx_util_ext(&u, cg + fl, &rd);
            n += pcs_tx_idle(cg + n, &rd);
            g_assert_cmpuint(rd, ==, PCS_RD_NEG);
            sets = strict_idle_receiver(cg, n, 12 + (len < 60 ? 60 : len));
            g_assert_cmpint(sets, >=, 7);
            u.has_contention = false;

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
        PcsUtil u = {
            .cpu_pct = g_rand_int_range(rng, 0, 101), .irq_pct = 3,
            .seq = step & 7, .has_contention = g_rand_boolean(rng),
            .psi_permille = g_rand_int_range(rng, 0, 1001),
            .runnable = g_rand_int_range(rng, 0, 1024),
        };
        unsigned rd = r1->rd, kind = g_rand_int_range(rng, 0, 9);
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
        case 6:     /* a set with one bit error, or cut anywhere */
            n = pcs_tx_util(&u, g_rand_int_range(rng, 0, 2), cg, &rd);
            if (g_rand_boolean(rng)) {
                cg[g_rand_int_range(rng, 0, n)] ^=
                    1u << g_rand_int_range(rng, 0, 10);
            } else {
                n = g_rand_int_range(rng, 1, n + 1);
            }
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
    g_test_add_func("/pcs-rx/util/worked-example", test_util_worked_example);
    g_test_add_func("/pcs-rx/util/contention/all-values",
                    test_util_contention_all_values);
    g_test_add_func("/pcs-rx/util/contention/layout",
                    test_util_contention_layout);
    g_test_add_func("/pcs-rx/util/contention/worked-example",
                    test_util_contention_worked_example);
    g_test_add_func("/pcs-rx/util/contention/errors",
                    test_util_contention_errors);
    g_test_add_func("/pcs-rx/util/contention/bit-errors",
                    test_util_contention_bit_errors);
    g_test_add_data_func("/pcs-rx/util/repeats", GINT_TO_POINTER(false),
                         test_util_repeats);
    g_test_add_data_func("/pcs-rx/util/contention/repeats",
                         GINT_TO_POINTER(true), test_util_repeats);
    g_test_add_data_func("/pcs-rx/util/after-frames/idle",
                         GINT_TO_POINTER(PCS_UTIL_FORM_IDLE),
                         test_util_after_frames);
    g_test_add_data_func("/pcs-rx/util/after-frames/expanded",
                         GINT_TO_POINTER(PCS_UTIL_FORM_EXPANDED),
                         test_util_after_frames);
    g_test_add_data_func("/pcs-rx/util/contention/split-line/every-frame",
                         GUINT_TO_POINTER(1), test_util_split_line);
    g_test_add_data_func("/pcs-rx/util/contention/split-line/every-3",
                         GUINT_TO_POINTER(3), test_util_split_line);
    g_test_add_func("/pcs-rx/util/contention/split-errors",
                    test_util_split_errors);
    g_test_add_func("/pcs-rx/gap-equals-idles", test_gap_equals_idles);
    g_test_add_func("/pcs-rx/util/accepted-as-idle",
                    test_util_accepted_as_idle);
    return g_test_run();
}
