/*
 * 8b/10b code groups as text (see pcs-text.h and docs/link-layer.md,
 * "Symbol capture").
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pcs-text.h"
#include "pcs-rx.h"
#include "fcs.h"

/* Look-ahead for a set: the longest, a utilization set, has 12. */
#define LOOK 12

#define NOTE_MAX 200

typedef enum Unit {
    UNIT_NONE,
    UNIT_FRAME,
    UNIT_IDLE,
    UNIT_CONFIG,
    UNIT_UTIL,
    UNIT_XUTIL,
} Unit;

static void put(PcsText *t, const char *s, size_t len)
{
    t->out(t->opaque, s, len);
}

static void put_str(PcsText *t, const char *s)
{
    put(t, s, strlen(s));
}

/* snprintf() at @*k into @buf of @size, never past its end. */
static void add(char *buf, size_t size, size_t *k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(char *buf, size_t size, size_t *k, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (*k >= size - 1) {
        return;
    }
    va_start(ap, fmt);
    r = vsnprintf(buf + *k, size - *k, fmt, ap);
    va_end(ap);
    if (r > 0) {
        *k += (size_t)r < size - *k ? (size_t)r : size - *k - 1;
    }
}

static bool cg_bad(unsigned res)
{
    return res & (PCS_CG_INVALID | PCS_CG_DISPARITY);
}

static bool cg_is_k(unsigned res, uint8_t k)
{
    return !cg_bad(res) && (res & PCS_CG_K) && (res & 0xff) == k;
}

static bool cg_is_data(unsigned res)
{
    return !cg_bad(res) && !(res & PCS_CG_K);
}

size_t pcs_text_cg(uint16_t cg, unsigned *rd, unsigned flags, char *buf)
{
    char sign = *rd ? '+' : '-';
    unsigned res = pcs_decode(cg, rd);
    bool bad = cg_bad(res);
    char name[8];
    size_t k = 0;

    if (res & PCS_CG_INVALID) {
        add(buf, PCS_TEXT_CG_MAX, &k, "!?%c", sign);
    } else {
        add(buf, PCS_TEXT_CG_MAX, &k, "%s%s%c", bad ? "!" : "",
            pcs_cg_name(res & 0xff, res & PCS_CG_K, name), sign);
    }
    if (bad || (flags & PCS_TEXT_BITS)) {
        if (cg > 0x3ff) {
            /* a record can carry it, the wire cannot */
            add(buf, PCS_TEXT_CG_MAX, &k, "=0x%04x", cg);
        } else {
            buf[k++] = '=';
            for (int b = 9; b >= 0; b--) {
                buf[k++] = '0' + ((cg >> b) & 1);
            }
            buf[k] = '\0';
        }
    }
    return k;
}

/*
 * One line: @kind and @len code groups from @cgs, taken from t->rd (which
 * steps past them), then @note.  Summarised (no PCS_TEXT_FULL), only the
 * first @head and the last @tail are shown, and the code groups not valid
 * where they are, and specials if @keep_k; each run of the others as
 * "..N..".
 */
static void line(PcsText *t, const char *kind, const uint16_t *cgs,
                 size_t len, size_t head, size_t tail, bool keep_k,
                 const char *note)
{
    bool full = t->flags & PCS_TEXT_FULL;
    char tok[PCS_TEXT_CG_MAX + 1];
    char num[48];
    size_t left = 0;

    put_str(t, t->prefix);
    snprintf(num, sizeof(num), "%s %zu", kind, len);
    put_str(t, num);
    for (size_t i = 0; i < len; i++) {
        unsigned rd = t->rd;
        unsigned res = pcs_decode(cgs[i], &rd);

        if (!full && i >= head && i + tail < len && !cg_bad(res) &&
            !(keep_k && (res & PCS_CG_K))) {
            left++;
            t->rd = rd;
            continue;
        }
        if (left) {
            snprintf(num, sizeof(num), " ..%zu..", left);
            put_str(t, num);
            left = 0;
        }
        tok[0] = ' ';
        put(t, tok, 1 + pcs_text_cg(cgs[i], &t->rd, t->flags, tok + 1));
    }
    if (left) {
        snprintf(num, sizeof(num), " ..%zu..", left);
        put_str(t, num);
    }
    if (note && *note) {
        put_str(t, " # ");
        put_str(t, note);
    }
    put(t, "\n", 1);
}

/* What starts at the code groups whose decoding is @res[0..m). */
static Unit unit_at(const unsigned *res, size_t m)
{
    uint8_t d;

    if (cg_is_k(res[0], PCS_K27_7)) {
        return UNIT_FRAME;
    }
    if (cg_is_k(res[0], PCS_K28_0) || cg_is_k(res[0], PCS_K28_2)) {
        size_t nd = cg_is_k(res[0], PCS_K28_2) ? 8 : 4;

        if (m < nd + 2 || !cg_is_k(res[nd + 1], PCS_K28_4)) {
            return UNIT_NONE;
        }
        for (size_t i = 1; i <= nd; i++) {
            if (!cg_is_data(res[i])) {
                return UNIT_NONE;
            }
        }
        return UNIT_XUTIL;
    }
    if (!cg_is_k(res[0], PCS_K28_5) || m < 2 || !cg_is_data(res[1])) {
        return UNIT_NONE;
    }
    d = res[1] & 0xff;
    if (d == PCS_D(21, 5) || d == PCS_D(2, 2)) {
        return UNIT_CONFIG;
    }
    if (d == pcs_util_marker || d == pcs_util_cont_marker) {
        return UNIT_UTIL;
    }
    return UNIT_IDLE;
}

static const char *odd_note(size_t at)
{
    return at % 2 ? ", at an odd position" : "";
}

/*
 * A frame: /S/ up to /T/R/ and the second /R/ if it ends at an odd
 * position, or up to a K28.5 at an even position or the burst's end
 * (cut short).  @at: its position in the burst.
 */
static size_t frame(PcsText *t, const uint16_t *cgs, size_t n, size_t at)
{
    static const char *const cut_why[] = {
        "the end of the burst", "K28.5",
    };
    unsigned rd = t->rd, res;
    size_t i, end_data = 0, octs = 0, bad = 0, k = 0, tail;
    bool ended = false, no_r = false, pre_ok = true, data_ok = true;
    int cut = 0;
    char note[NOTE_MAX];

    pcs_decode(cgs[0], &rd);
    for (i = 1; i < n; i++) {
        unsigned r = rd;

        res = pcs_decode(cgs[i], &r);
        if (cg_is_k(res, PCS_K28_5) && (at + i) % 2 == 0) {
            cut = 1;
            break;
        }
        rd = r;
        if (cg_bad(res)) {
            bad++;
        }
        if (cg_is_k(res, PCS_K29_7)) {
            end_data = i++;
            ended = true;
            r = rd;
            if (i < n && cg_is_k(pcs_decode(cgs[i], &r), PCS_K23_7)) {
                rd = r;
                i++;
                if ((at + i) % 2 && i < n &&
                    cg_is_k(pcs_decode(cgs[i], &r), PCS_K23_7)) {
                    i++;
                }
            } else {
                no_r = true;
            }
            break;
        }
        if (i < PCS_PREAMBLE_SFD) {
            uint8_t want = i < PCS_PREAMBLE_SFD - 1 ? 0x55 : PCS_SFD;

            if (!cg_is_data(res) || (res & 0xff) != want) {
                pre_ok = false;
            }
        } else {
            if (!cg_is_data(res)) {
                data_ok = false;
            } else if (octs < sizeof(t->octets)) {
                t->octets[octs] = res & 0xff;
            }
            octs++;
        }
    }
    if (!ended) {
        end_data = i;
    }
    if (end_data < PCS_PREAMBLE_SFD) {
        pre_ok = false;
    }
    add(note, sizeof(note), &k, "%zu octets", octs);
    if (!pre_ok) {
        add(note, sizeof(note), &k, ", bad preamble");
    }
    if (data_ok && octs >= 14) {
        const uint8_t *o = t->octets;

        add(note, sizeof(note), &k,
            ", dst %02x:%02x:%02x:%02x:%02x:%02x"
            " src %02x:%02x:%02x:%02x:%02x:%02x type 0x%02x%02x",
            o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], o[8], o[9],
            o[10], o[11], o[12], o[13]);
    }
    if (octs > sizeof(t->octets)) {
        add(note, sizeof(note), &k, ", oversize");
    } else if (ended && data_ok && octs >= ETH_FCS_LEN) {
        add(note, sizeof(note), &k, ", FCS %s%s",
            eth_fcs_ok(t->octets, octs) ? "ok" : "bad",
            octs < ETH_MIN_FRAME ? ", runt" : "");
    }
    if (bad) {
        add(note, sizeof(note), &k, ", %zu bad code group%s", bad,
            bad > 1 ? "s" : "");
    }
    if (!ended) {
        add(note, sizeof(note), &k, ", cut short by %s", cut_why[cut]);
    } else if (no_r) {
        add(note, sizeof(note), &k, ", /T/ without /R/");
    }
    /* the FCS (or the last four) and the end are shown */
    tail = i - end_data + ETH_FCS_LEN;
    line(t, "frame", cgs, i, PCS_PREAMBLE_SFD, tail, true, note);
    return i;
}

/* An idle ordered set: K28.5 and a data code group that starts no set. */
static bool idle_pair(unsigned r0, unsigned r1)
{
    uint8_t d = r1 & 0xff;

    return cg_is_k(r0, PCS_K28_5) && cg_is_data(r1) &&
           d != PCS_D(21, 5) && d != PCS_D(2, 2) &&
           d != pcs_util_marker && d != pcs_util_cont_marker;
}

/* A run of idle ordered sets (at least one); @what ends its note. */
static size_t idles(PcsText *t, const uint16_t *cgs, size_t n, size_t at,
                    const char *what)
{
    size_t i = 0, i1 = 0, i2 = 0, other = 0, k = 0;
    unsigned rd = t->rd;
    char note[NOTE_MAX];

    while (i + 1 < n) {
        unsigned r = rd;
        unsigned a = pcs_decode(cgs[i], &r);
        unsigned b = pcs_decode(cgs[i + 1], &r);

        if (!idle_pair(a, b)) {
            break;
        }
        rd = r;
        if ((b & 0xff) == PCS_D(5, 6)) {
            i1++;
        } else if ((b & 0xff) == PCS_D(16, 2)) {
            i2++;
        } else {
            other++;
        }
        i += 2;
    }
    if (i1) {
        add(note, sizeof(note), &k, "/I1/ x%zu", i1);
    }
    if (i2) {
        add(note, sizeof(note), &k, "%s/I2/ x%zu", k ? ", " : "", i2);
    }
    if (other) {
        add(note, sizeof(note), &k, "%sK28.5 Dx.y x%zu", k ? ", " : "",
            other);
    }
    add(note, sizeof(note), &k, "%s%s", what, odd_note(at));
    line(t, "idle", cgs, i, 2, 2, false, note);
    return i;
}

/* /C1/ or /C2/ and its register. */
static size_t config(PcsText *t, const uint16_t *cgs, const unsigned *res,
                     size_t m, size_t at)
{
    bool c2 = (res[1] & 0xff) == PCS_D(2, 2);
    size_t len = 2, k = 0;
    char note[NOTE_MAX];

    while (len < 4 && len < m && cg_is_data(res[len])) {
        len++;
    }
    add(note, sizeof(note), &k, "/C%d/", c2 ? 2 : 1);
    if (len == 4) {
        unsigned reg = (res[2] & 0xff) | (res[3] & 0xff) << 8;

        add(note, sizeof(note), &k, " register 0x%04x%s%s%s%s", reg,
            reg & PCS_CFG_FD ? " FD" : "", reg & PCS_CFG_HD ? " HD" : "",
            reg & PCS_CFG_PS1 ? " PS1" : "", reg & PCS_CFG_PS2 ? " PS2" : "");
        if (reg & PCS_CFG_RF_MASK) {
            add(note, sizeof(note), &k, " RF%u", (reg & PCS_CFG_RF_MASK) >> 12);
        }
        add(note, sizeof(note), &k, "%s%s", reg & PCS_CFG_ACK ? " Ack" : "",
            reg & PCS_CFG_NP ? " NP" : "");
    } else {
        add(note, sizeof(note), &k, " cut short");
    }
    add(note, sizeof(note), &k, "%s", odd_note(at));
    line(t, "config", cgs, len, len, 0, false, note);
    return len;
}

/*
 * A utilization set in the idle form, or its contention extension:
 * K28.5 and the marker, then five K28.5 and a symbol.
 */
static size_t util(PcsText *t, const uint16_t *cgs, const unsigned *res,
                   size_t m, size_t at)
{
    bool ext = (res[1] & 0xff) == pcs_util_cont_marker;
    uint8_t sym[5];
    size_t len = 2, ns = 0, k = 0;
    char note[NOTE_MAX];

    while (ns < 5 && len + 1 < m && cg_is_k(res[len], PCS_K28_5) &&
           cg_is_data(res[len + 1]) &&
           pcs_util_symbol[res[len + 1] & 0xff] != 0xff) {
        sym[ns++] = pcs_util_symbol[res[len + 1] & 0xff];
        len += 2;
    }
    if (ns < 5) {
        add(note, sizeof(note), &k, "cut short after %zu symbols", ns);
    } else {
        uint32_t bits = (uint32_t)sym[0] << 24 | (uint32_t)sym[1] << 18 |
                        (uint32_t)sym[2] << 12 | (uint32_t)sym[3] << 6 |
                        sym[4];

        add(note, sizeof(note), &k, "symbols %u %u %u %u %u: ", sym[0],
            sym[1], sym[2], sym[3], sym[4]);
        if (ext) {
            unsigned psi = bits >> 20;

            add(note, sizeof(note), &k, "pressure=%u runnable=%u "
                "check=0x%02x (with the set that follows)%s%s", psi,
                (unsigned)(bits >> 10) & 1023, (unsigned)bits & 0xff,
                psi > PCS_UTIL_MAX_PSI ? ", pressure out of range" : "",
                bits & 0x300 ? ", reserved bits set" : "");
        } else {
            PcsUtil u = {
                .cpu_pct = bits >> 23,
                .irq_pct = (bits >> 16) & 127,
                .seq = (bits >> 8) & 255,
            };
            unsigned want = pcs_util_check(&u) & 63;

            add(note, sizeof(note), &k, "cpu=%u irq=%u seq=%u check=%u ",
                u.cpu_pct, u.irq_pct, u.seq, (unsigned)bits & 63);
            if ((bits & 63) == want) {
                add(note, sizeof(note), &k, "ok");
            } else {
                add(note, sizeof(note), &k, "bad (%u)", want);
            }
            add(note, sizeof(note), &k, "%s%s",
                u.cpu_pct > 100 || u.irq_pct > 100 ? ", out of range" : "",
                bits & 0xc0 ? ", reserved bits set" : "");
        }
    }
    add(note, sizeof(note), &k, "%s", odd_note(at));
    line(t, ext ? "util-ext" : "util", cgs, len, len, 0, false, note);
    return len;
}

/* The expanded form: K28.0 D x 4 K28.4, or K28.2 D x 8 K28.4. */
static size_t xutil(PcsText *t, const uint16_t *cgs, const unsigned *res)
{
    bool cont = cg_is_k(res[0], PCS_K28_2);
    size_t nd = cont ? 8 : 4, k = 0;
    uint8_t b[8];
    PcsUtil u;
    bool ok;
    char note[NOTE_MAX];

    for (size_t i = 0; i < nd; i++) {
        b[i] = res[i + 1] & 0xff;
    }
    u = (PcsUtil) { .cpu_pct = b[0], .irq_pct = b[1], .seq = b[2] };
    if (cont) {
        u.has_contention = true;
        u.psi_permille = (uint16_t)(b[3] << 8 | b[4]);
        u.runnable = (uint16_t)(b[5] << 8 | b[6]);
        ok = pcs_util_cont_check(&u) == b[7];
    } else {
        ok = pcs_util_check(&u) == b[3];
    }
    add(note, sizeof(note), &k, "cpu=%u irq=%u seq=%u", u.cpu_pct,
        u.irq_pct, u.seq);
    if (cont) {
        add(note, sizeof(note), &k, " pressure=%u runnable=%u",
            u.psi_permille, u.runnable);
    }
    add(note, sizeof(note), &k, " check=0x%02x %s%s%s", b[nd - 1],
        ok ? "ok" : "bad",
        u.cpu_pct > 100 || u.irq_pct > 100 ||
        (cont && u.psi_permille > PCS_UTIL_MAX_PSI) ? ", out of range" : "",
        cont && ((b[3] | b[5]) & 0xfc) ? ", reserved bits set" : "");
    line(t, "util-expanded", cgs, nd + 2, nd + 2, 0, false, note);
    return nd + 2;
}

/* Code groups that start nothing above. */
static void other(PcsText *t, const uint16_t *cgs, size_t n)
{
    unsigned rd = t->rd;
    size_t bad = 0, k = 0;
    char note[NOTE_MAX];

    note[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (cg_bad(pcs_decode(cgs[i], &rd))) {
            bad++;
        }
    }
    if (bad) {
        add(note, sizeof(note), &k, "%zu not valid", bad);
    }
    line(t, "other", cgs, n, 8, 4, true, note);
}

void pcs_text_init(PcsText *t, unsigned flags, PcsTextOut *out,
                   void *opaque)
{
    memset(t, 0, sizeof(*t));
    t->flags = flags;
    t->rd = PCS_RD_NEG;
    t->out = out;
    t->opaque = opaque;
    t->prefix = "";
}

void pcs_text_burst(PcsText *t, const char *prefix, const uint16_t *cgs,
                    size_t n)
{
    size_t i = 0, start = 0;
    unsigned rd = t->rd;

    t->prefix = prefix;
    while (i < n) {
        unsigned res[LOOK];
        size_t m = n - i < LOOK ? n - i : LOOK;
        unsigned r = rd;
        Unit u;

        for (size_t j = 0; j < m; j++) {
            res[j] = pcs_decode(cgs[i + j], &r);
        }
        u = unit_at(res, m);
        if (u == UNIT_NONE) {
            pcs_decode(cgs[i++], &rd);
            continue;
        }
        if (start < i) {
            other(t, cgs + start, i - start);
        }
        switch (u) {
        case UNIT_FRAME:
            i += frame(t, cgs + i, n - i, i);
            break;
        case UNIT_IDLE:
            i += idles(t, cgs + i, n - i, i, "");
            break;
        case UNIT_CONFIG:
            i += config(t, cgs + i, res, m, i);
            break;
        case UNIT_UTIL:
            i += util(t, cgs + i, res, m, i);
            break;
        default:
            i += xutil(t, cgs + i, res);
            break;
        }
        start = i;
        rd = t->rd;
    }
    if (start < n) {
        other(t, cgs + start, n - start);
    }
    t->odd = n % 2;
}

void pcs_text_gap(PcsText *t, const char *prefix)
{
    uint16_t cgs[2 * PCS_GAP_IDLE_SETS];
    unsigned rd = t->rd;
    size_t n = 0;

    for (int i = 0; i < PCS_GAP_IDLE_SETS; i++) {
        n += pcs_tx_idle(cgs + n, &rd);
    }
    t->prefix = prefix;
    idles(t, cgs, n, t->odd, ", implied gap");
    t->odd = false;
}
