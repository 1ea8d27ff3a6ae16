/*
 * 1000BASE-X PCS receive: synchronization and receive state machines.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "fcs.h"
#include "pcs-rx.h"

#define PCS_K28_5_NEG 0x0fa     /* 001111 1010 */
#define PCS_K28_5_POS 0x305     /* 110000 0101 */

enum {
    RXS_LINK_FAILED = 0,
    RXS_WAIT_FOR_K,     /* until K28.5 in an even position */
    RXS_K,              /* K28.5 seen */
    RXS_CB,             /* /C1/ or /C2/: first register octet next */
    RXS_CC,             /* second register octet next */
    /* after /C/ or the expanded utilization set: K28.5 must follow */
    RXS_EXPECT_K,
    RXS_IDLE_D,         /* K28.5 Dx.y: an idle */
    RXS_RECEIVE,        /* inside a frame */
    RXS_EPD_T,          /* /T/ seen */
    RXS_EPD_R,          /* /T/R/ seen */
    RXS_XUTIL,          /* expanded utilization set after K28.0 */
};

void pcs_rx_init(PcsRx *rx, const PcsRxOps *ops, void *opaque)
{
    memset(rx, 0, offsetof(PcsRx, buf));
    rx->ops = ops;
    rx->opaque = opaque;
    rx->rd = PCS_RD_NEG;
    rx->sync = PCS_SYNC_LOSS;
    rx->state = RXS_LINK_FAILED;
}

/*
 * A good extension waiting for its set will not get it: drop it, counted
 * (not as an error: its set may have been lost to one counted elsewhere).
 */
static void util_ext_drop(PcsRx *rx)
{
    if (rx->util_ext_pending) {
        rx->util_ext_pending = false;
        rx->cnt.util_ext_dropped++;
    }
}

/*
 * A set or extension half received: count it, forget what was collected.
 * A set cut short was most likely the one a pending extension waits for.
 */
static void util_abort(PcsRx *rx)
{
    if (rx->util_pos > 0) {
        rx->cnt.util_errors++;
        if (!rx->util_ext) {
            util_ext_drop(rx);
        }
    }
    rx->util_pos = 0;
}

static void util_deliver(PcsRx *rx, const PcsUtil *u, PcsUtilForm form)
{
    rx->cnt.util_sets++;
    if (rx->ops && rx->ops->util) {
        rx->ops->util(rx->opaque, u, form);
    }
}

/* Six collected symbols of the extension: it waits for its set. */
static void util_ext_done(PcsRx *rx, uint32_t bits)
{
    uint16_t psi = bits >> 20;

    /* reserved bits, and a pressure above 1000 permille: never trusted */
    if ((bits & 0x300) || psi > PCS_UTIL_MAX_PSI) {
        rx->cnt.util_errors++;
        return;
    }
    rx->util_ext_pending = true;
    rx->util_ext_psi = psi;
    rx->util_ext_runnable = (bits >> 10) & 1023;
    rx->util_ext_check = bits & 0xff;
}

/*
 * Six collected symbols of a set: the sample, with the contention figures
 * of the pending extension if that extension's check value matches it.
 */
static void util_set_done(PcsRx *rx, uint32_t bits)
{
    PcsUtil u = {
        .cpu_pct = bits >> 23,
        .irq_pct = (bits >> 16) & 127,
        .seq = (bits >> 8) & 255,
    };
    unsigned rd;

    if ((bits & 0xc0) || u.cpu_pct > 100 || u.irq_pct > 100 ||
        (pcs_util_check(&u) & 63) != (bits & 63)) {
        rx->cnt.util_errors++;
        util_ext_drop(rx);
        return;
    }
    if (rx->util_ext_pending) {
        PcsUtil c = u;

        c.has_contention = true;
        c.psi_permille = rx->util_ext_psi;
        c.runnable = rx->util_ext_runnable;
        if (pcs_util_cont_check(&c) == rx->util_ext_check) {
            rx->util_ext_pending = false;
            u = c;
        } else {
            /* not its set: the set goes as a sample without figures */
            util_ext_drop(rx);
        }
    }
    /* from RD+ the idle form is /I1/ and then the same as from RD- */
    rd = PCS_RD_NEG;
    rx->util_cache_len = pcs_tx_util(&u, PCS_UTIL_FORM_IDLE, rx->util_cache,
                                     &rd);
    rd = PCS_RD_POS;
    pcs_tx_idle(rx->util_cache_pos, &rd);
    memcpy(rx->util_cache_pos + 2, rx->util_cache,
           rx->util_cache_len * sizeof(rx->util_cache[0]));
    rx->util_cache_valid = true;
    rx->util_cached = u;
    util_deliver(rx, &u, PCS_UTIL_FORM_IDLE);
}

/* The data octet of an idle ordered set K28.5 Dx.y. */
static void idle_data(PcsRx *rx, uint8_t octet)
{
    rx->cfg_count = 0;
    if (octet == pcs_util_marker || octet == pcs_util_cont_marker) {
        util_abort(rx);
        if (octet == pcs_util_cont_marker) {
            util_ext_drop(rx);      /* superseded */
        }
        rx->util_ext = octet == pcs_util_cont_marker;
        rx->util_pos = 1;
    } else if (rx->util_pos > 0) {
        uint8_t sym = pcs_util_symbol[octet];

        if (sym == 0xff) {
            util_abort(rx);
            return;
        }
        rx->util_sym[rx->util_pos++] = sym;
        if (rx->util_pos == 6) {
            uint32_t bits = (uint32_t)rx->util_sym[1] << 24 |
                            (uint32_t)rx->util_sym[2] << 18 |
                            (uint32_t)rx->util_sym[3] << 12 |
                            (uint32_t)rx->util_sym[4] << 6 |
                            rx->util_sym[5];

            rx->util_pos = 0;
            if (rx->util_ext) {
                util_ext_done(rx, bits);
            } else {
                util_set_done(rx, bits);
            }
        }
    }
}

static void config_done(PcsRx *rx, uint16_t reg)
{
    rx->cnt.config_sets++;
    if (rx->cfg_count > 0 && reg == rx->cfg_reg) {
        rx->cfg_count++;
    } else {
        rx->cfg_reg = reg;
        rx->cfg_count = 1;
    }
    if (rx->cfg_count == 3 && rx->ops && rx->ops->config) {
        rx->ops->config(rx->opaque, reg);
    }
}

static void frame_done(PcsRx *rx)
{
    const uint8_t *f = rx->buf + PCS_PREAMBLE_SFD - 1;
    size_t len;

    if (rx->frame_bad) {
        return;     /* already counted where it went bad */
    }
    if (rx->frame_len > sizeof(rx->buf)) {
        rx->cnt.oversize++;
        return;
    }
    if (rx->frame_len < PCS_PREAMBLE_SFD - 1 ||
        memcmp(rx->buf, "\x55\x55\x55\x55\x55\x55\xd5", 7) != 0) {
        rx->cnt.bad_preamble++;
        return;
    }
    len = rx->frame_len - (PCS_PREAMBLE_SFD - 1);
    if (len < ETH_MIN_FRAME) {
        rx->cnt.runts++;
        return;
    }
    if (!eth_fcs_ok(f, len)) {
        rx->cnt.fcs_errors++;
        return;
    }
    rx->cnt.frames++;
    if (rx->ops && rx->ops->frame) {
        rx->ops->frame(rx->opaque, f, len - ETH_FCS_LEN);
    }
}

static void enter_loss_of_sync(PcsRx *rx)
{
    bool was_ok = pcs_rx_sync_ok(rx);

    rx->sync = PCS_SYNC_LOSS;
    if (!was_ok) {
        return;
    }
    if (rx->state == RXS_RECEIVE || rx->state == RXS_EPD_T) {
        rx->cnt.early_ends++;
    }
    util_abort(rx);
    util_ext_drop(rx);
    rx->cfg_count = 0;
    rx->state = RXS_LINK_FAILED;
    rx->cnt.sync_lost++;
    if (rx->ops && rx->ops->sync) {
        rx->ops->sync(rx->opaque, false);
    }
}

/*
 * Figure 36-9; returns false while sync is not acquired or on the code
 * group that acquires it.
 */
static bool sync_fsm(PcsRx *rx, unsigned res)
{
    bool comma = res & PCS_CG_COMMA;
    bool bad = res & (PCS_CG_INVALID | PCS_CG_DISPARITY);
    bool odd_comma = comma && rx->rx_even;
    bool cgbad = bad || odd_comma;
    bool is_data = !bad && !(res & PCS_CG_K);

    switch (rx->sync) {
    case PCS_SYNC_LOSS:
        if (comma) {
            rx->sync = PCS_SYNC_COMMA_DETECT_1;
            rx->rx_even = true;
        } else {
            rx->rx_even = !rx->rx_even;
        }
        return false;
    case PCS_SYNC_COMMA_DETECT_1:
    case PCS_SYNC_COMMA_DETECT_2:
    case PCS_SYNC_COMMA_DETECT_3:
        rx->rx_even = !rx->rx_even;
        if (!is_data) {
            rx->sync = PCS_SYNC_LOSS;
            return false;
        }
        rx->sync++;
        if (rx->sync == PCS_SYNC_ACQUIRED_1) {
            rx->good_cgs = 0;
            rx->state = RXS_WAIT_FOR_K;
            rx->cnt.sync_acquired++;
            if (rx->ops && rx->ops->sync) {
                rx->ops->sync(rx->opaque, true);
            }
        }
        return false;
    case PCS_SYNC_ACQUIRE_1:
    case PCS_SYNC_ACQUIRE_2:
        if (cgbad) {
            rx->rx_even = !rx->rx_even;
            rx->sync = PCS_SYNC_LOSS;
        } else if (!rx->rx_even && comma) {
            rx->rx_even = true;
            rx->sync++;
        } else {
            rx->rx_even = !rx->rx_even;
        }
        return false;
    default:
        rx->rx_even = !rx->rx_even;
        if (cgbad) {
            if (odd_comma) {
                rx->cnt.odd_commas++;
            }
            rx->good_cgs = 0;
            if (rx->sync == PCS_SYNC_ACQUIRED_4) {
                enter_loss_of_sync(rx);
                return false;
            }
            rx->sync++;
        } else if (rx->sync > PCS_SYNC_ACQUIRED_1 && ++rx->good_cgs == 4) {
            rx->good_cgs = 0;
            rx->sync--;
        }
        return true;
    }
}

/* K28.0 (four data octets follow) or K28.2 (eight, with contention). */
static void xutil_start(PcsRx *rx, uint8_t k)
{
    util_ext_drop(rx);      /* a set of the other form: not its set */
    rx->util_pos = 0;
    rx->util_xlen = k == PCS_K28_2 ? 8 : 4;
    rx->state = RXS_XUTIL;
}

/* The expanded form's data octets, ended by K28.4. */
static void xutil_done(PcsRx *rx)
{
    const uint8_t *b = rx->util_sym;
    PcsUtil u = { .cpu_pct = b[0], .irq_pct = b[1], .seq = b[2] };
    bool ok;

    if (rx->util_xlen == 8) {
        u.has_contention = true;
        u.psi_permille = (uint16_t)(b[3] << 8 | b[4]);
        u.runnable = (uint16_t)(b[5] << 8 | b[6]);
        /* reserved bits are the high six of each figure's first octet */
        ok = !(b[3] & 0xfc) && !(b[5] & 0xfc) &&
             u.psi_permille <= PCS_UTIL_MAX_PSI &&
             pcs_util_cont_check(&u) == b[7];
    } else {
        ok = pcs_util_check(&u) == b[3];
    }
    if (!ok || u.cpu_pct > 100 || u.irq_pct > 100) {
        rx->cnt.util_errors++;
        return;
    }
    util_deliver(rx, &u, PCS_UTIL_FORM_EXPANDED);
}

static void rx_one(PcsRx *rx, uint16_t cg)
{
    unsigned res = pcs_decode(cg, &rx->rd);
    bool bad = res & (PCS_CG_INVALID | PCS_CG_DISPARITY);
    bool is_k = (res & PCS_CG_K) && !bad;
    bool is_data = !(res & PCS_CG_K) && !bad;
    uint8_t octet = res & 0xff;
    bool even, k28_5;

    rx->cnt.code_groups++;
    if (res & PCS_CG_INVALID) {
        rx->cnt.invalid_cgs++;
    } else if (res & PCS_CG_DISPARITY) {
        rx->cnt.disparity_errors++;
    }
    if (!sync_fsm(rx, res)) {
        return;
    }
    even = rx->rx_even;
    k28_5 = is_k && octet == PCS_K28_5 && even;

    switch (rx->state) {
    case RXS_WAIT_FOR_K:
        if (k28_5) {
            rx->state = RXS_K;
        }
        break;
    case RXS_K:
        if (is_data && (octet == PCS_D(21, 5) || octet == PCS_D(2, 2))) {
            /* the peer negotiates: no set is coming on this link */
            util_abort(rx);
            util_ext_drop(rx);
            rx->cfg_c2 = octet == PCS_D(2, 2);
            rx->state = RXS_CB;
        } else if (is_data) {
            rx->state = RXS_IDLE_D;
            idle_data(rx, octet);
        } else {
            rx->cnt.rx_invalid++;
            util_abort(rx);
            rx->state = RXS_WAIT_FOR_K;
        }
        break;
    case RXS_CB:
    case RXS_CC:
        if (!is_data) {
            rx->cnt.rx_invalid++;
            rx->cfg_count = 0;
            rx->state = k28_5 ? RXS_K : RXS_WAIT_FOR_K;
        } else if (rx->state == RXS_CB) {
            rx->cfg_lo = octet;
            rx->state = RXS_CC;
        } else {
            config_done(rx, (uint16_t)(octet << 8 | rx->cfg_lo));
            rx->state = RXS_EXPECT_K;
        }
        break;
    case RXS_EXPECT_K:
    case RXS_EPD_R:
        if (k28_5) {
            rx->state = RXS_K;
        } else if (rx->state == RXS_EPD_R && is_k && octet == PCS_K23_7) {
            break;      /* /T/R/R/ */
        } else if (is_k && even &&
                   (octet == PCS_K28_0 || octet == PCS_K28_2)) {
            /* the expanded utilization set right after a frame */
            xutil_start(rx, octet);
        } else {
            rx->cnt.rx_invalid++;
            rx->state = RXS_WAIT_FOR_K;
        }
        break;
    case RXS_IDLE_D:
        if (k28_5) {
            rx->state = RXS_K;
        } else if (is_k && even && octet == PCS_K27_7) {
            util_abort(rx);
            rx->cfg_count = 0;
            rx->frame_len = 0;
            rx->frame_bad = false;
            rx->state = RXS_RECEIVE;
        } else if (is_k && even &&
                   (octet == PCS_K28_0 || octet == PCS_K28_2)) {
            util_abort(rx);
            xutil_start(rx, octet);
        } else {
            util_abort(rx);
            rx->cnt.false_carriers++;
            rx->state = RXS_WAIT_FOR_K;
        }
        break;
    case RXS_RECEIVE:
        if (is_data) {
            if (rx->frame_len < sizeof(rx->buf)) {
                rx->buf[rx->frame_len] = octet;
            }
            if (rx->frame_len <= sizeof(rx->buf)) {
                rx->frame_len++;
            }
        } else if (k28_5) {
            rx->cnt.early_ends++;
            rx->state = RXS_K;
        } else if (is_k && octet == PCS_K29_7) {
            rx->state = RXS_EPD_T;
        } else if (is_k && octet == PCS_K30_7) {
            if (!rx->frame_bad) {
                rx->cnt.error_propagation++;
            }
            rx->frame_bad = true;
        } else {
            if (!rx->frame_bad) {
                rx->cnt.frame_cg_errors++;
            }
            rx->frame_bad = true;
        }
        break;
    case RXS_EPD_T:
        if (is_k && octet == PCS_K23_7) {
            frame_done(rx);
            rx->state = RXS_EPD_R;
        } else {
            rx->cnt.bad_eop++;
            rx->state = k28_5 ? RXS_K : RXS_WAIT_FOR_K;
        }
        break;
    case RXS_XUTIL:
        if (rx->util_pos < rx->util_xlen && is_data) {
            rx->util_sym[rx->util_pos++] = octet;
        } else if (rx->util_pos == rx->util_xlen && is_k &&
                   octet == PCS_K28_4) {
            rx->util_pos = 0;
            rx->state = RXS_EXPECT_K;
            xutil_done(rx);
        } else {
            rx->util_pos = 0;
            rx->cnt.util_errors++;
            rx->state = k28_5 ? RXS_K : RXS_WAIT_FOR_K;
        }
        break;
    default:
        break;
    }
}

/*
 * A repeat of the last utilization set, in a place where the state
 * machines would take it as six idles and leave everything as it is but
 * RD (negative), the receive state (IDLE_D) and the delivery: do that.
 */
static size_t util_repeat(PcsRx *rx, const uint16_t *cgs, size_t n)
{
    const uint16_t *want = rx->rd ? rx->util_cache_pos : rx->util_cache;
    size_t len = rx->util_cache_len + (rx->rd ? 2 : 0);

    if (!rx->util_cache_valid || n < len ||
        rx->sync != PCS_SYNC_ACQUIRED_1 || rx->rx_even ||
        rx->util_pos != 0 || rx->util_ext_pending ||
        (rx->state != RXS_IDLE_D && rx->state != RXS_EPD_R &&
         rx->state != RXS_EXPECT_K) ||
        memcmp(cgs, want, len * sizeof(*cgs)) != 0) {
        return 0;
    }
    rx->cnt.code_groups += len;
    rx->rd = PCS_RD_NEG;
    rx->cfg_count = 0;
    rx->state = RXS_IDLE_D;
    util_deliver(rx, &rx->util_cached, PCS_UTIL_FORM_IDLE);
    return len;
}

void pcs_rx_input(PcsRx *rx, const uint16_t *cgs, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        if (rx->state == RXS_RECEIVE && rx->sync == PCS_SYNC_ACQUIRED_1 &&
            rx->frame_len < sizeof(rx->buf)) {
            /*
             * Runs of data code groups inside a frame, in bulk.  Data
             * code groups hold no comma, so they are all "good".
             */
            size_t room = sizeof(rx->buf) - rx->frame_len;
            k = pcs_decode_data(cgs + i, n - i < room ? n - i : room,
                                rx->buf + rx->frame_len, &rx->rd);
            rx->frame_len += k;
            rx->cnt.code_groups += k;
            rx->rx_even ^= k & 1;
            i += k;
            if (i == n) {
                break;
            }
        }
        if (cgs[i] == PCS_K28_5_NEG || cgs[i] == PCS_K28_5_POS) {
            k = util_repeat(rx, cgs + i, n - i);
            if (k > 0) {
                i += k;
                continue;
            }
        }
        rx_one(rx, cgs[i++]);
    }
}

bool pcs_rx_frame_octets(PcsRx *rx, unsigned rd, const uint8_t *octets,
                         size_t n)
{
    unsigned r = rd;

    /*
     * /S/ is taken in IDLE_D at an even position only.  After it every
     * code group is valid in its column (the encoder's own, from the RD
     * the receiver holds) and none is a comma, so sync stays at
     * SYNC_ACQUIRED_1 and the position parity steps once per code group
     * (an even count).  The data octets collect into the frame, /T/R/
     * ends it (frame_done()), a second /R/ leaves EPD_R as it is.
     */
    if (rx->sync != PCS_SYNC_ACQUIRED_1 || rx->rx_even ||
        rx->state != RXS_IDLE_D || rx->util_pos != 0 || rx->rd != rd ||
        n < ETH_MIN_FRAME || n > ETH_MAX_FRAME) {
        return false;
    }
    pcs_tx_frame_octets_rd(octets, n, &r);
    rx->cnt.code_groups += PCS_FRAME_OCTETS_CGS(n);
    rx->cfg_count = 0;
    rx->frame_len = PCS_PREAMBLE_SFD - 1 + n;
    rx->frame_bad = false;
    rx->rd = r;
    rx->state = RXS_EPD_R;
    if (!eth_fcs_ok(octets, n)) {
        rx->cnt.fcs_errors++;
        return true;
    }
    rx->cnt.frames++;
    if (rx->ops && rx->ops->frame) {
        rx->ops->frame(rx->opaque, octets, n - ETH_FCS_LEN);
    }
    return true;
}

void pcs_rx_gap(PcsRx *rx)
{
    unsigned rd = rx->rd;
    uint64_t counted = rx->cnt.code_groups;

    if (rx->sync == PCS_SYNC_ACQUIRED_1 && !rx->rx_even &&
        rx->util_pos == 0 &&
        (rx->state == RXS_IDLE_D || rx->state == RXS_EPD_R ||
         rx->state == RXS_EXPECT_K)) {
        /*
         * In sync, at an even position, where K28.5 is expected: idles
         * only end in IDLE_D at RD- (/I1/ and /I2/ both leave it
         * negative) and clear the configuration match; a pending
         * contention extension stays pending.
         */
        rx->rd = PCS_RD_NEG;
        rx->state = RXS_IDLE_D;
        rx->cfg_count = 0;
        return;
    }
    for (unsigned i = 0; i < PCS_GAP_IDLE_SETS; i++) {
        uint16_t idle[2];

        pcs_tx_idle(idle, &rd);
        rx_one(rx, idle[0]);
        rx_one(rx, idle[1]);
    }
    rx->cnt.code_groups = counted;
}

void pcs_rx_signal_lost(PcsRx *rx)
{
    enter_loss_of_sync(rx);
    rx->rx_even = false;
}

void pcs_rx_link_down(PcsRx *rx)
{
    util_ext_drop(rx);
}
